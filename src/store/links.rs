//! One-time links (stored as a hash of their token): each works once, until it expires.

use sqlx::{AnyConnection, AnyPool};

use crate::domain::LinkPurpose;

/// Stores a new link, on the pool or inside the caller's transaction.
pub async fn insert<'e, E>(
    db: E,
    token_hash: &str,
    purpose: LinkPurpose,
    user_id: Option<i64>,
    now: i64,
    expires_at: i64,
) -> sqlx::Result<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO one_time_links (token_hash, purpose, user_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash)
    .bind(purpose.as_str())
    .bind(user_id)
    .bind(now)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Whose a live, unused link for `purpose` is (`Some(None)` for a link of no one, the set-up
/// link), without using it.
pub async fn peek(
    pool: &AnyPool,
    token_hash: &str,
    purpose: LinkPurpose,
    now: i64,
) -> sqlx::Result<Option<Option<i64>>> {
    sqlx::query_scalar(
        "SELECT user_id FROM one_time_links WHERE token_hash = $1 AND purpose = $2 \
         AND used_at IS NULL AND expires_at > $3",
    )
    .bind(token_hash)
    .bind(purpose.as_str())
    .bind(now)
    .fetch_optional(pool)
    .await
}

/// Uses a live link, once: `true` for the one caller that does.
pub async fn use_once(
    conn: &mut AnyConnection,
    token_hash: &str,
    purpose: LinkPurpose,
    now: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE one_time_links SET used_at = $3 WHERE token_hash = $1 AND purpose = $2 \
         AND used_at IS NULL AND expires_at > $3",
    )
    .bind(token_hash)
    .bind(purpose.as_str())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Voids a person's unused links of `purpose` (a new one replaces them).
pub async fn void_for(
    conn: &mut AnyConnection,
    user_id: i64,
    purpose: LinkPurpose,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE one_time_links SET used_at = $3 WHERE user_id = $1 AND purpose = $2 \
         AND used_at IS NULL",
    )
    .bind(user_id)
    .bind(purpose.as_str())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn delete_expired(pool: &AnyPool, now: i64) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM one_time_links WHERE expires_at <= $1")
        .bind(now)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

/// Voids every unused one-time link of a person, and their pending e-mail changes: their
/// password was set, their address changed, or they were disabled, so nothing sent before may
/// still open anything.
pub async fn void_all_for(conn: &mut AnyConnection, user_id: i64, now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE one_time_links SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL")
        .bind(user_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    super::email_changes::void_pending(conn, user_id, now).await
}

/// Voids every unused link of `purpose` that belongs to no one (the set-up links of earlier
/// starts).
pub async fn void_unowned(
    conn: &mut AnyConnection,
    purpose: LinkPurpose,
    now: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE one_time_links SET used_at = $2 WHERE purpose = $1 AND user_id IS NULL \
         AND used_at IS NULL",
    )
    .bind(purpose.as_str())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
