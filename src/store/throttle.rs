//! Fixed-window counters in the database, so a limit holds across every instance.

use sqlx::{AnyPool, Row};

/// Counts one hit on `key` in the current window of `window` seconds and returns the hits in
/// that window including this one, with the window's start. One statement: concurrent hits on
/// any instance are all counted.
pub async fn hit(pool: &AnyPool, key: &str, window: i64, now: i64) -> sqlx::Result<(i64, i64)> {
    let row = sqlx::query(
        "INSERT INTO throttle (key, window_start, hits) VALUES ($1, $2, 1) \
         ON CONFLICT (key) DO UPDATE SET \
           hits = CASE WHEN throttle.window_start <= $2 - $3 THEN 1 ELSE throttle.hits + 1 END, \
           window_start = CASE WHEN throttle.window_start <= $2 - $3 THEN $2 \
                          ELSE throttle.window_start END \
         RETURNING hits, window_start",
    )
    .bind(key)
    .bind(now)
    .bind(window)
    .fetch_one(pool)
    .await?;
    Ok((row.try_get("hits")?, row.try_get("window_start")?))
}

/// The hits on `key` in the current window, without counting one.
pub async fn peek(pool: &AnyPool, key: &str, window: i64, now: i64) -> sqlx::Result<(i64, i64)> {
    let row = sqlx::query("SELECT hits, window_start FROM throttle WHERE key = $1")
        .bind(key)
        .fetch_optional(pool)
        .await?;
    match row {
        Some(r) => {
            let start: i64 = r.try_get("window_start")?;
            if start <= now - window {
                Ok((0, now))
            } else {
                Ok((r.try_get("hits")?, start))
            }
        }
        None => Ok((0, now)),
    }
}

pub async fn clear(pool: &AnyPool, key: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM throttle WHERE key = $1")
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn delete_stale(pool: &AnyPool, older_than: i64) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM throttle WHERE window_start < $1")
        .bind(older_than)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}
