//! The audit log: security events, never a secret.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

use super::sql::Statement;
use super::text_col;

use crate::domain::{AccountEvent, ActivityKind, ActorRef, Event};

/// One event to record. `detail` is free text for people and must never hold a secret.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub event: Event,
    pub actor_id: Option<i64>,
    pub actor: &'a ActorRef,
    pub subject_id: Option<i64>,
    pub account_id: Option<i64>,
    pub detail: &'a str,
    /// The client address of a login.
    pub address: Option<&'a str>,
    /// The ticket or call reference of a verification.
    pub reference: Option<&'a str>,
}

/// The insert of one event: `$1` the time, `$2`…`$11` the event's fields and its category (see
/// [`bind`]).
const INSERT: &str = "INSERT INTO audit_log (at, event, actor_id, actor_kind, actor_name, \
                      subject_id, account_id, detail, address, reference, category)";
/// How many values [`bind`] binds: the time, the event's nine fields and its category.
const VALUES: usize = 11;

/// The activity filter `event` falls under, as the `category` column stores it (the indexes
/// the profile and the Activity page read; a PIN event's insert also keeps the PIN's
/// `last_event_at`, by a trigger of migration 0011).
fn category_of(event: Event) -> Option<&'static str> {
    event.category().map(ActivityKind::as_str)
}

/// Who did an event, from a row's `actor_kind` and `actor_name` (prefixed by `prefix`).
pub(super) fn actor_of(row: &AnyRow, prefix: &str) -> sqlx::Result<ActorRef> {
    Ok(ActorRef {
        kind: text_col(row, &format!("{prefix}actor_kind"))?,
        name: row.try_get(format!("{prefix}actor_name").as_str())?,
    })
}

/// Binds `e` and `now` to `$n`… of `q`, in the order of [`INSERT`]'s columns.
pub(super) fn bind<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    e: &NewEvent<'q>,
    now: i64,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    q.bind(now)
        .bind(e.event.as_str())
        .bind(e.actor_id)
        .bind(e.actor.kind.as_str())
        .bind(e.actor.name.as_str())
        .bind(e.subject_id)
        .bind(e.account_id)
        .bind(e.detail)
        .bind(e.address)
        .bind(e.reference)
        .bind(category_of(e.event))
}

/// `INSERT … SELECT` of one event for each row of `source`, the event's binds starting at `$first`.
pub(super) fn insert_for_each(source: &str, first: usize) -> String {
    let p: Vec<String> = (first..first + VALUES).map(|n| format!("${n}")).collect();
    format!("{INSERT} SELECT {} FROM {source}", p.join(", "))
}

pub async fn insert(conn: &mut AnyConnection, e: &NewEvent<'_>, now: i64) -> sqlx::Result<()> {
    bind(
        sqlx::query(&format!(
            "{INSERT} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        )),
        e,
        now,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// When `event` last happened, if ever.
pub async fn last_of(pool: &AnyPool, event: Event) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT MAX(at) FROM audit_log WHERE event = $1")
        .bind(event.as_str())
        .fetch_one(pool)
        .await
}

/// How many rows one statement of the retention sweep deletes: a few milliseconds of the
/// writer's time, so a verification waits for one batch at most, never for the whole sweep.
const SWEEP_BATCH: i64 = 2_000;
/// The pause between two batches, in which waiting writers take their turn.
const SWEEP_PAUSE: std::time::Duration = std::time::Duration::from_millis(5);

/// Purges events recorded before `cutoff` (unix seconds), the oldest first, [`SWEEP_BATCH`] rows
/// to a statement, each its own transaction.
pub async fn delete_older_than(pool: &AnyPool, cutoff: i64) -> sqlx::Result<u64> {
    let mut deleted = 0;
    loop {
        let done = sqlx::query(&format!(
            "DELETE FROM audit_log WHERE id IN \
             (SELECT id FROM audit_log WHERE at < $1 ORDER BY at LIMIT {SWEEP_BATCH})"
        ))
        .bind(cutoff)
        .execute(pool)
        .await?;
        deleted += done.rows_affected();
        if done.rows_affected() < SWEEP_BATCH as u64 {
            // The daily counts of those days go too (a few rows per account and day).
            sqlx::query("DELETE FROM verification_days WHERE day < $1")
                .bind(cutoff.div_euclid(86_400))
                .execute(pool)
                .await?;
            return Ok(deleted);
        }
        tokio::time::sleep(SWEEP_PAUSE).await;
    }
}

/// Which of an account's events to read.
pub struct ActivityFilter {
    pub account_id: i64,
    /// Only events about this member.
    pub subject_id: Option<i64>,
    /// Only events of this kind.
    pub kind: Option<ActivityKind>,
    /// Only events older than this id (the next page).
    pub before: Option<i64>,
    /// Only events at or after this time, and before that one (unix seconds).
    pub from: Option<i64>,
    pub until: Option<i64>,
    pub limit: i64,
}

/// An account's events, newest first.
pub async fn account_activity(
    pool: &AnyPool,
    f: &ActivityFilter,
) -> sqlx::Result<Vec<AccountEvent>> {
    let mut q = Statement::new(
        "SELECT a.id, a.at, a.event, a.actor_kind, a.actor_name, \
         COALESCE(u.username, a.subject_name) AS subject_name, a.detail, a.address, a.reference \
         FROM audit_log a LEFT JOIN users u ON u.id = a.subject_id WHERE a.account_id = ",
    );
    q.bind(f.account_id);
    if let Some(s) = f.subject_id {
        q.push(" AND a.subject_id = ").bind(s);
    }
    if let Some(kind) = f.kind {
        q.push(" AND a.category = ").bind(kind.as_str());
    }
    if let Some(b) = f.before {
        q.push(" AND a.id < ").bind(b);
    }
    if let Some(from) = f.from {
        q.push(" AND a.at >= ").bind(from);
    }
    if let Some(until) = f.until {
        q.push(" AND a.at < ").bind(until);
    }
    // The limit is written into the statement, not bound: PostgreSQL's generic plan for an
    // unknown LIMIT can read every matching row and sort them (see docs/PERFORMANCE.md).
    q.push(&format!(" ORDER BY a.id DESC LIMIT {}", f.limit));
    q.query()
        .fetch_all(pool)
        .await?
        .iter()
        .map(account_event)
        .collect()
}

/// The latest `limit` events of `events` that `actor_id` did, newest first.
pub async fn by_actor(
    pool: &AnyPool,
    actor_id: i64,
    events: &[Event],
    limit: i64,
) -> sqlx::Result<Vec<AccountEvent>> {
    let mut q = Statement::new(
        "SELECT a.id, a.at, a.event, a.actor_kind, a.actor_name, \
         COALESCE(u.username, a.subject_name) AS subject_name, a.detail, a.address, a.reference \
         FROM audit_log a LEFT JOIN users u ON u.id = a.subject_id WHERE a.actor_id = ",
    );
    q.bind(actor_id)
        .push(" AND a.event IN (")
        .bind_list(events.iter().map(|e| e.as_str()))
        .push(&format!(") ORDER BY a.id DESC LIMIT {limit}"));
    q.query()
        .fetch_all(pool)
        .await?
        .iter()
        .map(account_event)
        .collect()
}

/// The account's verifications (the events the chart shows: correct, wrong, locked) from the
/// day of `since` on, counted per day (days since the epoch, UTC) and event: `(day, event,
/// count)`.
pub async fn verifications_per_day(
    pool: &AnyPool,
    account_id: i64,
    events: &[Event],
    since: i64,
) -> sqlx::Result<Vec<(i64, Event, i64)>> {
    // Counted as they were written (the trigger of migration 0011 keeps verification_days), so
    // the read is a few rows per day however many verifications a day saw.
    let mut q = Statement::new("SELECT day, event, n FROM verification_days WHERE account_id = ");
    q.bind(account_id)
        .push(" AND event IN (")
        .bind_list(events.iter().map(|e| e.as_str()))
        .push(") AND day >= ")
        .bind(since.div_euclid(86_400));
    q.query()
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("day")?, text_col(r, "event")?, r.try_get("n")?)))
        .collect()
}

/// An event of [`account_activity`] or [`by_actor`] from its row.
fn account_event(r: &AnyRow) -> sqlx::Result<AccountEvent> {
    Ok(AccountEvent {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        event: text_col(r, "event")?,
        actor: actor_of(r, "")?,
        subject_name: r.try_get("subject_name")?,
        detail: r.try_get("detail")?,
        address: r.try_get("address")?,
        reference: r.try_get("reference")?,
    })
}
