//! The audit log: security events, never a secret.

use sqlx::{AnyConnection, AnyPool, Row};

use crate::domain::AccountEvent;

/// One event to record. `detail` is free text for people and must never hold a secret.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub event: &'a str,
    pub actor_id: Option<i64>,
    pub actor_name: &'a str,
    pub subject_id: Option<i64>,
    pub account_id: Option<i64>,
    pub detail: &'a str,
}

/// The insert of one event: `$1` the time, `$2`…`$7` the event's fields (see [`bind`]).
const INSERT: &str =
    "INSERT INTO audit_log (at, event, actor_id, actor_name, subject_id, account_id, detail)";

/// Binds `e` and `now` to `$n`… of `q`, in the order of [`INSERT`]'s columns.
pub(super) fn bind<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    e: &NewEvent<'q>,
    now: i64,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    q.bind(now)
        .bind(e.event)
        .bind(e.actor_id)
        .bind(e.actor_name)
        .bind(e.subject_id)
        .bind(e.account_id)
        .bind(e.detail)
}

/// `INSERT … SELECT` of one event for each row of `source`, the event's binds starting at `$first`.
pub(super) fn insert_for_each(source: &str, first: usize) -> String {
    let p: Vec<String> = (first..first + 7).map(|n| format!("${n}")).collect();
    format!("{INSERT} SELECT {} FROM {source}", p.join(", "))
}

pub async fn insert(conn: &mut AnyConnection, e: &NewEvent<'_>, now: i64) -> sqlx::Result<()> {
    bind(
        sqlx::query(&format!("{INSERT} VALUES ($1, $2, $3, $4, $5, $6, $7)")),
        e,
        now,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// When `event` last happened, if ever.
pub async fn last_of(pool: &AnyPool, event: &str) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT MAX(at) FROM audit_log WHERE event = $1")
        .bind(event)
        .fetch_one(pool)
        .await
}

/// Purges events recorded before `cutoff` (unix seconds).
pub async fn delete_older_than(pool: &AnyPool, cutoff: i64) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM audit_log WHERE at < $1")
        .bind(cutoff)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

/// Which of an account's events to read.
pub struct ActivityFilter<'a> {
    pub account_id: i64,
    /// Only events about this member.
    pub subject_id: Option<i64>,
    /// Only events whose name starts with one of these.
    pub prefixes: &'a [&'a str],
    /// Only events older than this id (the next page).
    pub before: Option<i64>,
    pub limit: i64,
}

/// An account's events, newest first.
pub async fn account_activity(
    pool: &AnyPool,
    f: &ActivityFilter<'_>,
) -> sqlx::Result<Vec<AccountEvent>> {
    let mut sql = String::from(
        "SELECT a.id, a.at, a.event, a.actor_name, u.username AS subject_name, a.detail \
         FROM audit_log a LEFT JOIN users u ON u.id = a.subject_id WHERE a.account_id = $1",
    );
    let mut n = 1;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    if f.subject_id.is_some() {
        sql.push_str(&format!(" AND a.subject_id = {}", next()));
    }
    if !f.prefixes.is_empty() {
        let likes: Vec<String> = f
            .prefixes
            .iter()
            .map(|_| format!("a.event LIKE {}", next()))
            .collect();
        sql.push_str(&format!(" AND ({})", likes.join(" OR ")));
    }
    if f.before.is_some() {
        sql.push_str(&format!(" AND a.id < {}", next()));
    }
    sql.push_str(&format!(" ORDER BY a.id DESC LIMIT {}", next()));
    let mut q = sqlx::query(&sql).bind(f.account_id);
    if let Some(s) = f.subject_id {
        q = q.bind(s);
    }
    for p in f.prefixes {
        q = q.bind(format!("{p}%"));
    }
    if let Some(b) = f.before {
        q = q.bind(b);
    }
    q.bind(f.limit)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            Ok(AccountEvent {
                id: r.try_get("id")?,
                at: r.try_get("at")?,
                event: r.try_get("event")?,
                actor_name: r.try_get("actor_name")?,
                subject_name: r.try_get("subject_name")?,
                detail: r.try_get("detail")?,
            })
        })
        .collect()
}
