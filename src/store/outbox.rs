//! The mail outbox. Messages are inserted inside the transaction of the event that causes them;
//! workers claim due messages with a lease (on PostgreSQL `FOR UPDATE SKIP LOCKED`, so several
//! instances share the work and never claim the same message), and only the lease's owner may
//! mark a message sent or failed.

use sqlx::{AnyConnection, AnyPool, Row};

use super::{Backend, Db};

/// A message to queue.
pub struct NewMessage<'a> {
    pub kind: &'a str,
    pub recipient: &'a str,
    pub recipient_id: Option<i64>,
    pub message_id: &'a str,
    pub subject: &'a str,
    pub sealed: bool,
    pub text_body: Vec<u8>,
    pub html_body: Vec<u8>,
}

pub async fn insert(conn: &mut AnyConnection, m: &NewMessage<'_>, now: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO outbox (created_at, kind, recipient, recipient_id, message_id, subject, \
         sealed, text_body, html_body, state, attempts, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', 0, $1) RETURNING id",
    )
    .bind(now)
    .bind(m.kind)
    .bind(m.recipient)
    .bind(m.recipient_id)
    .bind(m.message_id)
    .bind(m.subject)
    .bind(i64::from(m.sealed))
    .bind(m.text_body.clone())
    .bind(m.html_body.clone())
    .fetch_one(conn)
    .await
}

/// A claimed message.
pub struct Claimed {
    pub id: i64,
    pub created_at: i64,
    pub kind: String,
    pub recipient: String,
    pub recipient_id: Option<i64>,
    pub message_id: String,
    pub subject: String,
    pub sealed: bool,
    pub text_body: Vec<u8>,
    pub html_body: Vec<u8>,
    /// Including this one.
    pub attempts: i64,
}

/// Claims up to `limit` due messages for `owner` until `lease_until`: pending, due, and not
/// leased by a live worker (a dead worker's lease has run out).
pub async fn claim(
    db: &Db,
    owner: &str,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> sqlx::Result<Vec<Claimed>> {
    // SQLite has one writer, so the UPDATE's own read is already exclusive; PostgreSQL needs
    // the row locks, skipping rows another instance is claiming right now.
    let lock = match db.backend() {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    sqlx::query(&format!(
        "UPDATE outbox SET lease_owner = $1, lease_until = $3, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= $2 \
           AND (lease_until IS NULL OR lease_until < $2) ORDER BY id LIMIT $4 {lock}) \
         RETURNING id, created_at, kind, recipient, recipient_id, message_id, subject, sealed, \
           text_body, html_body, attempts"
    ))
    .bind(owner)
    .bind(now)
    .bind(lease_until)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|r| {
        Ok(Claimed {
            id: r.try_get("id")?,
            created_at: r.try_get("created_at")?,
            kind: r.try_get("kind")?,
            recipient: r.try_get("recipient")?,
            recipient_id: r.try_get("recipient_id")?,
            message_id: r.try_get("message_id")?,
            subject: r.try_get("subject")?,
            sealed: r.try_get::<i64, _>("sealed")? != 0,
            text_body: r.try_get("text_body")?,
            html_body: r.try_get("html_body")?,
            attempts: r.try_get("attempts")?,
        })
    })
    .collect()
}

/// Marks a claimed message sent (a sealed one's bodies are emptied); `false` when the lease
/// was lost meanwhile.
pub async fn mark_sent(
    conn: &mut AnyConnection,
    id: i64,
    owner: &str,
    now: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE outbox SET state = 'sent', sent_at = $3, lease_owner = NULL, lease_until = NULL, \
           last_error = NULL, \
           text_body = CASE WHEN sealed = 1 THEN $4 ELSE text_body END, \
           html_body = CASE WHEN sealed = 1 THEN $4 ELSE html_body END \
         WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
    )
    .bind(id)
    .bind(owner)
    .bind(now)
    .bind(Vec::<u8>::new())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives a claimed message back for a later attempt at `next_attempt_at`, or (with `give_up`)
/// marks it failed; `why` is kept for the operator.
pub async fn mark_failed(
    conn: &mut AnyConnection,
    id: i64,
    owner: &str,
    next_attempt_at: i64,
    give_up: bool,
    why: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE outbox SET state = CASE WHEN $4 = 1 THEN 'failed' ELSE 'pending' END, \
           next_attempt_at = $3, lease_owner = NULL, lease_until = NULL, last_error = $5 \
         WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
    )
    .bind(id)
    .bind(owner)
    .bind(next_attempt_at)
    .bind(i64::from(give_up))
    .bind(why)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How many messages wait to go out, and how many have failed for good.
pub async fn depth(pool: &AnyPool) -> sqlx::Result<(i64, i64)> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END), 0) AS BIGINT) \
           AS pending, \
         CAST(COALESCE(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END), 0) AS BIGINT) AS failed \
         FROM outbox",
    )
    .fetch_one(pool)
    .await?;
    Ok((row.try_get("pending")?, row.try_get("failed")?))
}

/// Sent messages older than `cutoff` go (the audit log keeps that they were sent).
pub async fn delete_sent_before(pool: &AnyPool, cutoff: i64) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM outbox WHERE state = 'sent' AND sent_at < $1")
        .bind(cutoff)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}
