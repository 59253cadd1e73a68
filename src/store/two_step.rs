//! Second factors: authenticator-app secrets (encrypted), recovery codes (HMACs), passkeys
//! (public credentials) and the API's one-use multi-factor sessions. Every "use once" is one
//! guarded statement, so two instances cannot both accept the same code.

use sqlx::{AnyConnection, AnyPool, Row};

use crate::domain::TwoStepStatus;

/// A person's authenticator-app row.
pub struct TotpRow {
    pub ciphertext: Vec<u8>,
    pub confirmed: bool,
}

pub async fn totp(pool: &AnyPool, user_id: i64) -> sqlx::Result<Option<TotpRow>> {
    let row = sqlx::query("SELECT ciphertext, confirmed FROM totp_secrets WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(pool)
        .await?;
    row.map(|r| {
        Ok(TotpRow {
            ciphertext: r.try_get("ciphertext")?,
            confirmed: r.try_get::<i64, _>("confirmed")? != 0,
        })
    })
    .transpose()
}

/// Stores a new unconfirmed secret, replacing an unconfirmed one; `false` (and nothing written)
/// when a confirmed secret exists.
pub async fn put_pending_totp(
    conn: &mut AnyConnection,
    user_id: i64,
    ciphertext: Vec<u8>,
    now: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO totp_secrets (user_id, ciphertext, confirmed, last_step, created_at) \
         VALUES ($1, $2, 0, 0, $3) \
         ON CONFLICT (user_id) DO UPDATE SET ciphertext = $2, created_at = $3 \
         WHERE totp_secrets.confirmed = 0",
    )
    .bind(user_id)
    .bind(ciphertext)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Confirms the pending secret with the step its first code was in; `false` when there is no
/// pending secret (confirmed meanwhile, or none).
pub async fn confirm_totp(conn: &mut AnyConnection, user_id: i64, step: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE totp_secrets SET confirmed = 1, last_step = $2 WHERE user_id = $1 AND confirmed = 0",
    )
    .bind(user_id)
    .bind(step)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Accepts a code of time step `step` once: `false` when that step (or a later one) was used.
pub async fn accept_step(pool: &AnyPool, user_id: i64, step: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE totp_secrets SET last_step = $2 \
         WHERE user_id = $1 AND confirmed = 1 AND last_step < $2",
    )
    .bind(user_id)
    .bind(step)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces a person's recovery codes with `hashes` (all unused).
pub async fn replace_recovery_codes(
    conn: &mut AnyConnection,
    user_id: i64,
    hashes: &[String],
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    for hash in hashes {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(user_id)
            .bind(hash)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Uses the unused recovery code with `hash`: `true` exactly once.
pub async fn use_recovery_code(
    pool: &AnyPool,
    user_id: i64,
    hash: &str,
    now: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE recovery_codes SET used_at = $3 \
         WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
    )
    .bind(user_id)
    .bind(hash)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// What a person has set up, in one query; on the pool or inside a transaction.
pub async fn status<'e, E>(db: E, user_id: i64) -> sqlx::Result<TwoStepStatus>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query(
        "SELECT \
           CAST((SELECT COUNT(*) FROM totp_secrets WHERE user_id = $1 AND confirmed = 1) AS BIGINT) \
             AS totp, \
           CAST((SELECT COUNT(*) FROM passkeys WHERE user_id = $1) AS BIGINT) AS passkeys, \
           CAST((SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL) \
             AS BIGINT) AS codes",
    )
    .bind(user_id)
    .fetch_one(db)
    .await?;
    Ok(TwoStepStatus {
        authenticator_app: row.try_get::<i64, _>("totp")? > 0,
        passkeys: row.try_get("passkeys")?,
        recovery_codes_left: row.try_get("codes")?,
    })
}

/// Removes every second factor of a person (turning two-step login off).
pub async fn delete_all(conn: &mut AnyConnection, user_id: i64) -> sqlx::Result<()> {
    for table in ["totp_secrets", "recovery_codes", "passkeys", "mfa_sessions"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
            .bind(user_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// A stored passkey.
#[derive(sqlx::FromRow)]
pub struct PasskeyRow {
    pub id: i64,
    /// webauthn-rs's serialised `Passkey`.
    pub passkey: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

pub async fn passkeys(pool: &AnyPool, user_id: i64) -> sqlx::Result<Vec<PasskeyRow>> {
    sqlx::query_as(
        "SELECT id, passkey, name, created_at, last_used_at FROM passkeys \
         WHERE user_id = $1 ORDER BY id",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await
}

/// Stores a new passkey; a unique-constraint error when the credential id is anyone's already.
pub async fn insert_passkey(
    conn: &mut AnyConnection,
    user_id: i64,
    cred_id: &str,
    passkey: &str,
    name: &str,
    now: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO passkeys (user_id, cred_id, passkey, name, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(user_id)
    .bind(cred_id)
    .bind(passkey)
    .bind(name)
    .bind(now)
    .fetch_one(conn)
    .await
}

/// Records a passkey's use (its new counter, when it changed).
pub async fn passkey_used(
    pool: &AnyPool,
    user_id: i64,
    id: i64,
    passkey: Option<&str>,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE passkeys SET passkey = COALESCE($3, passkey), last_used_at = $4 \
         WHERE user_id = $1 AND id = $2",
    )
    .bind(user_id)
    .bind(id)
    .bind(passkey)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn rename_passkey(
    pool: &AnyPool,
    user_id: i64,
    id: i64,
    name: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE passkeys SET name = $3 WHERE user_id = $1 AND id = $2")
        .bind(user_id)
        .bind(id)
        .bind(name)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete_passkey(conn: &mut AnyConnection, user_id: i64, id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM passkeys WHERE user_id = $1 AND id = $2")
        .bind(user_id)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The person's WebAuthn user handle, set to `candidate` when they have none yet.
pub async fn webauthn_id(pool: &AnyPool, user_id: i64, candidate: &str) -> sqlx::Result<String> {
    sqlx::query("UPDATE users SET webauthn_id = $2 WHERE id = $1 AND webauthn_id IS NULL")
        .bind(user_id)
        .bind(candidate)
        .execute(pool)
        .await?;
    sqlx::query_scalar("SELECT webauthn_id FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(pool)
        .await
}

/// Opens an API multi-factor session (its id stored hashed).
pub async fn insert_mfa_session(
    pool: &AnyPool,
    id_hash: &str,
    user_id: i64,
    auth_epoch: i64,
    expires_at: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO mfa_sessions (id_hash, user_id, auth_epoch, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id_hash)
    .bind(user_id)
    .bind(auth_epoch)
    .bind(expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// The live multi-factor session with `id_hash`: (user id, auth epoch).
pub async fn mfa_session(
    pool: &AnyPool,
    id_hash: &str,
    now: i64,
) -> sqlx::Result<Option<(i64, i64)>> {
    let row = sqlx::query(
        "SELECT user_id, auth_epoch FROM mfa_sessions WHERE id_hash = $1 AND expires_at > $2",
    )
    .bind(id_hash)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    row.map(|r| Ok((r.try_get("user_id")?, r.try_get("auth_epoch")?)))
        .transpose()
}

/// Ends a multi-factor session: `true` for the one caller that ends it.
pub async fn end_mfa_session(pool: &AnyPool, id_hash: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM mfa_sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete_expired_mfa_sessions(pool: &AnyPool, now: i64) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM mfa_sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

/// Wrong second steps counted for a person since the count last started again.
pub async fn second_step_failures(pool: &AnyPool, user_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT second_step_failures FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(pool)
        .await
        .map(|n| n.unwrap_or(0))
}

/// Counts one wrong second step for a person, in one statement: the count now.
pub async fn count_second_step_failure(
    conn: &mut AnyConnection,
    user_id: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "UPDATE users SET second_step_failures = second_step_failures + 1 WHERE id = $1 \
         RETURNING second_step_failures",
    )
    .bind(user_id)
    .fetch_one(conn)
    .await
}

/// Claims the person's warning about wrong second steps for `now`, once per `every` seconds:
/// `true` for the one caller that may send it.
pub async fn claim_second_step_alert(
    conn: &mut AnyConnection,
    user_id: i64,
    now: i64,
    every: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE users SET second_step_alerted_at = $2 WHERE id = $1 \
         AND (second_step_alerted_at IS NULL OR second_step_alerted_at <= $3)",
    )
    .bind(user_id)
    .bind(now)
    .bind(now - every)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Starts the person's count of wrong second steps again; `true` when there were some.
pub async fn clear_second_step_failures(
    conn: &mut AnyConnection,
    user_id: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE users SET second_step_failures = 0 WHERE id = $1 AND second_step_failures > 0",
    )
    .bind(user_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
