//! The alarm for impostors: how many wrong PINs and locks an account saw, when its administrators
//! were last warned, and the warnings the Overview shows until one of them acknowledges it.

use sqlx::{AnyConnection, AnyPool, Row};

use super::text_col;
use crate::domain::{AlarmReason, Event};

/// A warning raised for an account.
#[derive(Debug, Clone)]
pub struct Alarm {
    pub id: i64,
    pub raised_at: i64,
    pub reason: AlarmReason,
    pub count: i64,
}

/// How many `event`s the account has seen since `since` (unix seconds).
pub async fn count_since(
    pool: &AnyPool,
    account_id: i64,
    event: Event,
    since: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE account_id = $1 AND event = $2 AND at >= $3",
    )
    .bind(account_id)
    .bind(event.as_str())
    .bind(since)
    .fetch_one(pool)
    .await
}

/// Claims the account's next warning in one compare-and-set: `true` when none was raised in the
/// `every` seconds before `now` (so of two verifications at once, one raises it).
pub async fn claim(
    conn: &mut AnyConnection,
    account_id: i64,
    now: i64,
    every: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE accounts SET alarm_at = $2 WHERE id = $1 AND (alarm_at IS NULL OR alarm_at <= $3)",
    )
    .bind(account_id)
    .bind(now)
    .bind(now - every)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn insert(
    conn: &mut AnyConnection,
    account_id: i64,
    now: i64,
    reason: AlarmReason,
    count: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO alarms (account_id, raised_at, reason, count) VALUES ($1, $2, $3, $4) \
         RETURNING id",
    )
    .bind(account_id)
    .bind(now)
    .bind(reason.as_str())
    .bind(count)
    .fetch_one(conn)
    .await
}

/// The account's latest warning that nobody has acknowledged.
pub async fn open(pool: &AnyPool, account_id: i64) -> sqlx::Result<Option<Alarm>> {
    let row = sqlx::query(
        "SELECT id, raised_at, reason, count FROM alarms \
         WHERE account_id = $1 AND acknowledged_at IS NULL ORDER BY id DESC LIMIT 1",
    )
    .bind(account_id)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(Alarm {
            id: r.try_get("id")?,
            raised_at: r.try_get("raised_at")?,
            reason: text_col(&r, "reason")?,
            count: r.try_get("count")?,
        })
    })
    .transpose()
}

/// Acknowledges every open warning of the account up to `id`; `false` when there was none.
pub async fn acknowledge(
    pool: &AnyPool,
    account_id: i64,
    id: i64,
    by: &str,
    now: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE alarms SET acknowledged_at = $4, acknowledged_by = $3 \
         WHERE account_id = $1 AND id <= $2 AND acknowledged_at IS NULL",
    )
    .bind(account_id)
    .bind(id)
    .bind(by)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() > 0)
}
