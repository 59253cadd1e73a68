//! Support PIN rows. Every change to the failure counter or the state is one guarded UPDATE
//! (`... WHERE state = ... AND version = ... RETURNING ...`), so concurrent verifications on any
//! number of instances count exactly the failures that happened, on SQLite and PostgreSQL alike.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

use super::sql::Statement;

use super::text_col;
use crate::domain::{ActivityKind, AuditEvent, PinState, MAX_PIN_FAILURES};

#[derive(Debug, Clone)]
pub struct PinRecord {
    pub user_id: i64,
    /// nonce || AEAD ciphertext; `None` when the state is INACTIVE.
    pub ciphertext: Option<Vec<u8>>,
    pub state: PinState,
    pub failures: i64,
    pub version: i64,
    pub changed_at: Option<i64>,
    pub locked_at: Option<i64>,
}

fn from_row(row: &AnyRow) -> sqlx::Result<PinRecord> {
    Ok(PinRecord {
        user_id: row.try_get("user_id")?,
        ciphertext: row.try_get("ciphertext")?,
        state: text_col(row, "state")?,
        failures: row.try_get("failures")?,
        version: row.try_get("version")?,
        changed_at: row.try_get("changed_at")?,
        locked_at: row.try_get("locked_at")?,
    })
}

const COLUMNS: &str =
    "p.user_id, p.ciphertext, p.state, p.failures, p.version, p.changed_at, p.locked_at";

/// Creates the PIN row of a new member: ACTIVE with `ciphertext`, or INACTIVE without.
pub async fn insert(
    conn: &mut AnyConnection,
    user_id: i64,
    ciphertext: Option<Vec<u8>>,
    now: i64,
) -> sqlx::Result<()> {
    let state = if ciphertext.is_some() {
        PinState::Active
    } else {
        PinState::Inactive
    };
    sqlx::query(
        "INSERT INTO support_pins (user_id, ciphertext, state, failures, version, changed_at) \
         VALUES ($1, $2, $3, 0, 0, $4)",
    )
    .bind(user_id)
    .bind(ciphertext)
    .bind(state.as_str())
    .bind(ciphertext_time(state, now))
    .execute(conn)
    .await?;
    Ok(())
}

fn ciphertext_time(state: PinState, now: i64) -> Option<i64> {
    (state != PinState::Inactive).then_some(now)
}

/// A member's PIN row, on the pool or inside a transaction.
pub async fn get<'e, E>(db: E, user_id: i64) -> sqlx::Result<Option<PinRecord>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM support_pins p WHERE p.user_id = $1"
    ))
    .bind(user_id)
    .fetch_optional(db)
    .await?
    .map(|r| from_row(&r))
    .transpose()
}

/// PostgreSQL: [`super::throttle::hit_on`] on `key` and [`get`] in one statement (a
/// data-modifying CTE): the hits in the window, its start, and the PIN row.
pub async fn get_counting(
    pool: &AnyPool,
    user_id: i64,
    key: &str,
    window: i64,
    now: i64,
) -> sqlx::Result<(i64, i64, Option<PinRecord>)> {
    let row = sqlx::query(&format!(
        "WITH hit AS ({}) SELECT hit.hits, hit.window_start, {COLUMNS} \
         FROM hit LEFT JOIN support_pins p ON p.user_id = $4",
        super::throttle::HIT
    ))
    .bind(key)
    .bind(now)
    .bind(window)
    .bind(user_id)
    .fetch_one(pool)
    .await?;
    let pin = match row.try_get::<Option<i64>, _>("user_id")? {
        Some(_) => Some(from_row(&row)?),
        None => None,
    };
    Ok((row.try_get("hits")?, row.try_get("window_start")?, pin))
}

/// PostgreSQL: sets the failure count of PIN `version` from `seen` to `failures`, and records
/// `event`, in one statement (a data-modifying CTE); `false`, with nothing written, when the PIN
/// is no longer that ACTIVE version with `seen` failures. Never the failure that locks: that
/// one goes through [`record_failure`] in a transaction with its mail.
pub async fn set_failures_audited(
    pool: &AnyPool,
    user_id: i64,
    version: i64,
    seen: i64,
    failures: i64,
    event: &super::audit::NewEvent<'_>,
    now: i64,
) -> sqlx::Result<bool> {
    debug_assert!(failures < MAX_PIN_FAILURES);
    let sql = format!(
        "WITH done AS (UPDATE support_pins SET failures = $4 \
           WHERE user_id = $1 AND version = $2 AND state = 'ACTIVE' AND failures = $3 \
           RETURNING user_id) {}",
        super::audit::insert_for_each("done", 5)
    );
    let q = sqlx::query(&sql)
        .bind(user_id)
        .bind(version)
        .bind(seen)
        .bind(failures);
    let done = super::audit::bind(q, event, now).execute(pool).await?;
    Ok(done.rows_affected() == 1)
}

/// Counts one failed verification against the PIN `version` that was compared. Returns the new
/// count and state, or `None` when the PIN is no longer that ACTIVE version (locked or changed
/// meanwhile), in which case nothing was counted. The sixth failure locks it in the same
/// statement.
pub async fn record_failure(
    conn: &mut AnyConnection,
    user_id: i64,
    version: i64,
    now: i64,
) -> sqlx::Result<Option<(i64, PinState)>> {
    let row = sqlx::query(
        "UPDATE support_pins SET failures = failures + 1, \
           state = CASE WHEN failures + 1 >= $3 THEN 'LOCKED' ELSE state END, \
           locked_at = CASE WHEN failures + 1 >= $3 THEN $4 ELSE locked_at END \
         WHERE user_id = $1 AND version = $2 AND state = 'ACTIVE' \
         RETURNING failures, state",
    )
    .bind(user_id)
    .bind(version)
    .bind(MAX_PIN_FAILURES)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    row.map(|r| Ok((r.try_get("failures")?, text_col(&r, "state")?)))
        .transpose()
}

/// Records a successful verification of PIN `version`: the failure count goes back to zero.
/// `false` when the PIN is no longer that ACTIVE version.
pub async fn record_success(
    conn: &mut AnyConnection,
    user_id: i64,
    version: i64,
) -> sqlx::Result<bool> {
    let row = sqlx::query(
        "UPDATE support_pins SET failures = 0 \
         WHERE user_id = $1 AND version = $2 AND state = 'ACTIVE' RETURNING user_id",
    )
    .bind(user_id)
    .bind(version)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

/// Which existing states a new PIN may replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplaceWhen {
    /// ACTIVE or INACTIVE: a change by the owner, a reset by an administrator.
    NotLocked,
    /// INACTIVE only: `reset?only_if_missing=true`.
    Missing,
}

/// Stores a new PIN (already encrypted), making it ACTIVE with no failures. Returns `false`
/// when the current state does not allow it; the row is untouched then.
pub async fn replace(
    conn: &mut AnyConnection,
    user_id: i64,
    ciphertext: Vec<u8>,
    when: ReplaceWhen,
    now: i64,
) -> sqlx::Result<bool> {
    let guard = match when {
        ReplaceWhen::NotLocked => "state <> 'LOCKED'",
        ReplaceWhen::Missing => "state = 'INACTIVE'",
    };
    let row = sqlx::query(&format!(
        "UPDATE support_pins SET ciphertext = $2, state = 'ACTIVE', failures = 0, \
           version = version + 1, changed_at = $3, locked_at = NULL \
         WHERE user_id = $1 AND {guard} RETURNING user_id"
    ))
    .bind(user_id)
    .bind(ciphertext)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

/// Unlocks a LOCKED PIN (failures back to zero). `false` when it was not locked.
pub async fn unlock(conn: &mut AnyConnection, user_id: i64) -> sqlx::Result<bool> {
    let row = sqlx::query(
        "UPDATE support_pins SET state = 'ACTIVE', failures = 0, locked_at = NULL \
         WHERE user_id = $1 AND state = 'LOCKED' RETURNING user_id",
    )
    .bind(user_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

/// A member's PIN row with the latest `limit` events about them of `kind` (the PIN's events),
/// in one statement (the profile page shows both).
pub async fn with_activity(
    pool: &AnyPool,
    user_id: i64,
    kind: ActivityKind,
    limit: i64,
) -> sqlx::Result<Option<(PinRecord, Vec<AuditEvent>)>> {
    let mut q = Statement::new(format!(
        "SELECT {COLUMNS}, e.at AS e_at, e.event AS e_event, e.actor_id AS e_actor_id, \
           e.actor_kind AS e_actor_kind, e.actor_name AS e_actor_name, e.detail AS e_detail, \
           e.reference AS e_reference \
         FROM support_pins p LEFT JOIN ( \
           SELECT id, at, event, actor_id, actor_kind, actor_name, detail, reference \
           FROM audit_log \
           WHERE subject_id = "
    ));
    // One range of the (subject_id, category, id) index, newest first, cut at the limit: the
    // limit is written into the statement (a bound one let PostgreSQL's generic plan read the
    // member's whole history and sort it; docs/PERFORMANCE.md has the plans).
    q.bind(user_id)
        .push(" AND category = ")
        .bind(kind.as_str())
        .push(&format!(
            " ORDER BY id DESC LIMIT {limit}) e ON 1 = 1 WHERE p.user_id = "
        ))
        .bind(user_id)
        .push(" ORDER BY e.id DESC");
    let rows = q.query().fetch_all(pool).await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let record = from_row(first)?;
    let mut found = Vec::new();
    for r in &rows {
        if let Some(at) = r.try_get::<Option<i64>, _>("e_at")? {
            found.push(AuditEvent {
                at,
                event: text_col(r, "e_event")?,
                actor_id: r.try_get("e_actor_id")?,
                actor: super::audit::actor_of(r, "e_")?,
                detail: r.try_get("e_detail")?,
                reference: r.try_get("e_reference")?,
            });
        }
    }
    Ok(Some((record, found)))
}
