//! API tokens (`X-Auth-Token`), stored as SHA-256 of the token so the table holds nothing usable.

use sqlx::{AnyConnection, AnyPool, Row};

use crate::domain::{Account, User};

/// A token to store.
pub struct NewToken<'a> {
    pub token_hash: &'a str,
    /// What the sessions page names it by (random, not derived from the token).
    pub handle: &'a str,
    /// Where it was asked for.
    pub address: &'a str,
    pub user_id: i64,
    pub auth_epoch: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub second_factor: bool,
}

pub async fn insert(conn: &mut sqlx::AnyConnection, t: &NewToken<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO api_tokens (token_hash, user_id, auth_epoch, created_at, expires_at, \
         second_factor, handle, address) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(t.token_hash)
    .bind(t.user_id)
    .bind(t.auth_epoch)
    .bind(t.created_at)
    .bind(t.expires_at)
    .bind(i64::from(t.second_factor))
    .bind(t.handle)
    .bind(t.address)
    .execute(conn)
    .await?;
    Ok(())
}

/// A live token: whose it is, the epoch it was minted under, when it was issued.
pub struct TokenRow {
    pub user_id: i64,
    pub auth_epoch: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub second_factor: bool,
    pub last_used_at: Option<i64>,
}

/// A live token with its holder (and the holder's account), in one statement: every API call
/// needs both.
pub async fn lookup(
    pool: &AnyPool,
    token_hash: &str,
    now: i64,
) -> sqlx::Result<Option<(TokenRow, User, Option<Account>)>> {
    let row = sqlx::query(&format!(
        "SELECT t.user_id, t.auth_epoch AS t_epoch, t.created_at AS t_created, t.expires_at, \
           t.second_factor, t.last_used_at AS t_used, {} \
         FROM api_tokens t JOIN users u ON u.id = t.user_id \
           LEFT JOIN accounts a ON a.id = u.account_id \
         WHERE t.token_hash = $1 AND t.expires_at > $2",
        super::users::PERSON_COLUMNS
    ))
    .bind(token_hash)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let token = TokenRow {
        user_id: r.try_get("user_id")?,
        auth_epoch: r.try_get("t_epoch")?,
        created_at: r.try_get("t_created")?,
        expires_at: r.try_get("expires_at")?,
        second_factor: r.try_get::<i64, _>("second_factor")? != 0,
        last_used_at: r.try_get("t_used")?,
    };
    Ok(super::users::person_from_row(&r)?.map(|(user, account)| (token, user, account)))
}

pub async fn delete(pool: &AnyPool, token_hash: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM api_tokens WHERE token_hash = $1")
        .bind(token_hash)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete_for_user(conn: &mut AnyConnection, user_id: i64) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM api_tokens WHERE user_id = $1")
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

pub async fn delete_expired(pool: &AnyPool, now: i64) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM api_tokens WHERE expires_at <= $1")
        .bind(now)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

/// Records that a token was used at `now`.
pub async fn touch(pool: &AnyPool, token_hash: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE token_hash = $1")
        .bind(token_hash)
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}

/// A live token as its holder's sessions page lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Listed {
    pub handle: String,
    pub address: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
}

/// The live tokens of `user_id`, newest first.
pub async fn for_user(pool: &AnyPool, user_id: i64, now: i64) -> sqlx::Result<Vec<Listed>> {
    sqlx::query_as(
        "SELECT handle, address, created_at, expires_at, last_used_at FROM api_tokens \
         WHERE user_id = $1 AND expires_at > $2 AND handle IS NOT NULL \
         ORDER BY created_at DESC, handle",
    )
    .bind(user_id)
    .bind(now)
    .fetch_all(pool)
    .await
}

/// Revokes one token of `user_id` by its handle; `false` when it was not theirs or is gone.
pub async fn delete_by_handle(pool: &AnyPool, user_id: i64, handle: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM api_tokens WHERE user_id = $1 AND handle = $2")
        .bind(user_id)
        .bind(handle)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}
