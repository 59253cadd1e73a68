//! Single sign-on's rows: the identities members sign in with (`identities`), the sign-ins on
//! their way through the provider (`sso_attempts`), and the members' `sso_only` and
//! `external_id`.

use sqlx::{AnyConnection, AnyPool, Row};

use super::users::{from_row, COLUMNS};
use crate::domain::{SignInPurpose, User};

/// A linked identity.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Identity {
    pub id: i64,
    pub user_id: i64,
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

const IDENTITY: &str = "id, user_id, issuer, subject, email, created_at, last_used_at";

/// The member an identity belongs to.
pub async fn owner_of(
    pool: &AnyPool,
    issuer: &str,
    subject: &str,
) -> sqlx::Result<Option<(Identity, User)>> {
    let row = sqlx::query(&format!(
        "SELECT i.id AS i_id, i.email AS i_email, i.created_at AS i_created, \
           i.last_used_at AS i_used, {COLUMNS} \
         FROM identities i JOIN users u ON u.id = i.user_id \
         WHERE i.issuer = $1 AND i.subject = $2"
    ))
    .bind(issuer)
    .bind(subject)
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let user = from_row(&r)?;
    let identity = Identity {
        id: r.try_get("i_id")?,
        user_id: user.id,
        issuer: issuer.to_owned(),
        subject: subject.to_owned(),
        email: r.try_get("i_email")?,
        created_at: r.try_get("i_created")?,
        last_used_at: r.try_get("i_used")?,
    };
    Ok(Some((identity, user)))
}

/// Links an identity to a member; `false` (nothing written) when it is someone's already.
pub async fn link(
    conn: &mut AnyConnection,
    user_id: i64,
    issuer: &str,
    subject: &str,
    email: Option<&str>,
    now: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO identities (user_id, issuer, subject, email, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (issuer, subject) DO NOTHING",
    )
    .bind(user_id)
    .bind(issuer)
    .bind(subject)
    .bind(email)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a sign-in with an identity.
pub async fn used(pool: &AnyPool, id: i64, now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE identities SET last_used_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}

/// The identities of a member.
pub async fn of_user(pool: &AnyPool, user_id: i64) -> sqlx::Result<Vec<Identity>> {
    sqlx::query_as(&format!(
        "SELECT {IDENTITY} FROM identities WHERE user_id = $1 ORDER BY id"
    ))
    .bind(user_id)
    .fetch_all(pool)
    .await
}

/// Removes one of a member's identities; `false` when it was not theirs.
pub async fn unlink(conn: &mut AnyConnection, user_id: i64, id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM identities WHERE user_id = $1 AND id = $2")
        .bind(user_id)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The member whose identity-system id `external_id` may link a first sign-in: of the members
/// provisioning created with that id (unchanged since), the first created, enabled or not. One
/// account that gives the same id to a member of its own later neither takes nor blocks it.
pub async fn first_provisioned_with(
    pool: &AnyPool,
    external_id: &str,
) -> sqlx::Result<Option<User>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM users u WHERE u.external_id = $1 AND u.external_id_links = 1 \
         ORDER BY u.id LIMIT 1"
    ))
    .bind(external_id)
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// Gives a member provisioning is creating (in this transaction) its identity-system id, which
/// may then link the member's first sign-in.
pub async fn give_external_id(
    conn: &mut AnyConnection,
    id: i64,
    external_id: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET external_id = $2, external_id_links = 1 WHERE id = $1")
        .bind(id)
        .bind(external_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Has the member any identity linked?
pub async fn has_identity(conn: &mut AnyConnection, user_id: i64) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM identities WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(conn)
        .await?;
    Ok(n > 0)
}

/// Marks a member as signing in only through single sign-on (or not); their sessions and tokens
/// end either way (a new auth epoch).
pub async fn set_sso_only(conn: &mut AnyConnection, user_id: i64, on: bool) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE users SET sso_only = $2, auth_epoch = auth_epoch + 1 WHERE id = $1 \
         AND role <> 'agent'",
    )
    .bind(user_id)
    .bind(i64::from(on))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A sign-in on its way.
pub struct NewAttempt<'a> {
    pub state_hash: &'a str,
    pub browser_hash: &'a str,
    pub purpose: SignInPurpose,
    pub user_id: Option<i64>,
    pub secrets: Vec<u8>,
    pub next: Option<&'a str>,
    pub created_at: i64,
    pub expires_at: i64,
}

pub async fn insert_attempt(pool: &AnyPool, a: NewAttempt<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sso_attempts (state_hash, browser_hash, purpose, user_id, secrets, next, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(a.state_hash)
    .bind(a.browser_hash)
    .bind(a.purpose.as_str())
    .bind(a.user_id)
    .bind(a.secrets)
    .bind(a.next)
    .bind(a.created_at)
    .bind(a.expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// A sign-in's row as its callback finds it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Attempt {
    pub browser_hash: String,
    #[sqlx(try_from = "String")]
    pub purpose: SignInPurpose,
    pub user_id: Option<i64>,
    pub secrets: Vec<u8>,
    pub next: Option<String>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// The attempt of a state, used or not, expired or not (the callback says which).
pub async fn attempt(pool: &AnyPool, state_hash: &str) -> sqlx::Result<Option<Attempt>> {
    sqlx::query_as(
        "SELECT browser_hash, purpose, user_id, secrets, next, expires_at, used_at \
         FROM sso_attempts WHERE state_hash = $1",
    )
    .bind(state_hash)
    .fetch_optional(pool)
    .await
}

/// Uses an attempt once: `true` for the one caller that does, while it is live.
pub async fn use_attempt(pool: &AnyPool, state_hash: &str, now: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE sso_attempts SET used_at = $2 WHERE state_hash = $1 AND used_at IS NULL \
         AND expires_at > $2",
    )
    .bind(state_hash)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Attempts that ended a day ago go.
pub async fn delete_old_attempts(pool: &AnyPool, before: i64) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM sso_attempts WHERE expires_at < $1")
        .bind(before)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}
