//! API tokens (`X-Auth-Token`), stored as SHA-256 of the token so the table holds nothing usable.

use sqlx::{AnyConnection, AnyPool, Row};

use crate::domain::{Account, User};

/// A token to store.
pub struct NewToken<'a> {
    pub token_hash: &'a str,
    pub user_id: i64,
    pub auth_epoch: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub second_factor: bool,
}

pub async fn insert(conn: &mut sqlx::AnyConnection, t: &NewToken<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO api_tokens (token_hash, user_id, auth_epoch, created_at, expires_at, \
         second_factor) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(t.token_hash)
    .bind(t.user_id)
    .bind(t.auth_epoch)
    .bind(t.created_at)
    .bind(t.expires_at)
    .bind(i64::from(t.second_factor))
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
           t.second_factor, {} \
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
