//! Fixed-window counters in the database, so a limit holds across every instance. Keys arrive
//! already keyed by the service (an HMAC of who is counted), so this table never holds a
//! username or an address.

use sqlx::{AnyConnection, AnyPool, Row};

use super::sql::Statement;

/// The upsert of [`hit_on`]: `$1` the key, `$2` now, `$3` the window; returns `hits` and
/// `window_start`. Also the first half of `pins::get_counting` on PostgreSQL.
pub const HIT: &str =
    "INSERT INTO throttle (key, window_start, hits, refused) VALUES ($1, $2, 1, 0) \
     ON CONFLICT (key) DO UPDATE SET \
       hits = CASE WHEN throttle.window_start <= $2 - $3 THEN 1 ELSE throttle.hits + 1 END, \
       refused = CASE WHEN throttle.window_start <= $2 - $3 THEN 0 ELSE throttle.refused END, \
       window_start = CASE WHEN throttle.window_start <= $2 - $3 THEN $2 \
                      ELSE throttle.window_start END \
     RETURNING hits, window_start";

/// Counts one hit on `key` in the current window of `window` seconds; returns the hits in that
/// window including this one, and the window's start. One statement: concurrent hits on any
/// instance are all counted. A new window also starts a new count of refusals.
pub async fn hit_on(
    conn: &mut AnyConnection,
    key: &str,
    window: i64,
    now: i64,
) -> sqlx::Result<(i64, i64)> {
    let row = sqlx::query(HIT)
        .bind(key)
        .bind(now)
        .bind(window)
        .fetch_one(conn)
        .await?;
    Ok((row.try_get("hits")?, row.try_get("window_start")?))
}

/// [`hit_on`] in a statement of its own.
pub async fn hit(pool: &AnyPool, key: &str, window: i64, now: i64) -> sqlx::Result<(i64, i64)> {
    let mut conn = pool.acquire().await?;
    hit_on(&mut conn, key, window, now).await
}

/// One counter of a [`reserve`].
#[derive(Debug, Clone, Copy)]
pub struct Counter<'a> {
    pub key: &'a str,
    pub max: i64,
    pub window: i64,
}

/// Counts one hit on every counter, all or none: in one transaction, each counter's row is
/// incremented (and locked until the end); if any goes over its `max`, the transaction rolls
/// back and the index of that counter is returned with its window's start. Counters are always
/// taken in the order given, so concurrent reservations cannot deadlock.
pub async fn reserve(
    db: &super::Db,
    counters: &[Counter<'_>],
    now: i64,
) -> sqlx::Result<Result<(), (usize, i64)>> {
    let mut tx = db.begin().await?;
    for (i, c) in counters.iter().enumerate() {
        let (hits, start) = hit_on(&mut tx, c.key, c.window, now).await?;
        if hits > c.max {
            tx.rollback().await?;
            return Ok(Err((i, start)));
        }
    }
    tx.commit().await?;
    Ok(Ok(()))
}

/// Gives back one hit on each of `keys`, and forgets `forget` altogether (its row goes, so its
/// window starts again): at most two statements, on the caller's connection, so that in a
/// transaction they commit with the success they belong to.
pub async fn give_back_on(
    conn: &mut AnyConnection,
    forget: Option<&str>,
    keys: &[&str],
) -> sqlx::Result<()> {
    if let Some(key) = forget {
        sqlx::query("DELETE FROM throttle WHERE key = $1")
            .bind(key)
            .execute(&mut *conn)
            .await?;
    }
    if !keys.is_empty() {
        let mut q =
            Statement::new("UPDATE throttle SET hits = hits - 1 WHERE hits > 0 AND key IN (");
        q.bind_list(keys.iter().copied()).push(")");
        q.query().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Counts one refused attempt on `key`; returns the refusals in its current window (1 for the
/// first).
pub async fn refused(pool: &AnyPool, key: &str) -> sqlx::Result<i64> {
    let n: Option<i64> = sqlx::query_scalar(
        "UPDATE throttle SET refused = refused + 1 WHERE key = $1 RETURNING refused",
    )
    .bind(key)
    .fetch_optional(pool)
    .await?;
    Ok(n.unwrap_or(1))
}

pub async fn delete_stale(pool: &AnyPool, older_than: i64) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM throttle WHERE window_start < $1")
        .bind(older_than)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

/// The hits on `key` in its current window of `window` seconds and the window's start, if it
/// has one (a read only).
pub async fn peek(
    pool: &AnyPool,
    key: &str,
    window: i64,
    now: i64,
) -> sqlx::Result<Option<(i64, i64)>> {
    let row = sqlx::query(
        "SELECT hits, window_start FROM throttle WHERE key = $1 AND window_start > $2 - $3",
    )
    .bind(key)
    .bind(now)
    .bind(window)
    .fetch_optional(pool)
    .await?;
    row.map(|r| Ok((r.try_get("hits")?, r.try_get("window_start")?)))
        .transpose()
}
