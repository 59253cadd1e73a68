//! E-mail address changes waiting to take effect (`email_changes`): one pending change per
//! person at most, reached by the hash of its link's token or by its id.

use sqlx::{AnyConnection, AnyPool};

/// A change as it waits.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Pending {
    pub id: i64,
    pub user_id: i64,
    pub new_email: String,
    /// The person's own change (the new address confirms it), or someone else's request (the
    /// member accepts it).
    #[sqlx(try_from = "i64")]
    pub own: Flag,
    /// Who asked, when a person.
    pub requested_by: Option<i64>,
    pub requested_by_name: String,
    pub created_at: i64,
    pub expires_at: i64,
}

const COLUMNS: &str =
    "id, user_id, new_email, own, requested_by, requested_by_name, created_at, expires_at";

/// A 0/1 column (the `Any` driver reads SQLite's booleans as integers only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl From<i64> for Flag {
    fn from(v: i64) -> Self {
        Flag(v != 0)
    }
}

/// A new change to wait for.
pub struct NewChange<'a> {
    pub user_id: i64,
    pub new_email: &'a str,
    pub own: bool,
    pub requested_by: Option<i64>,
    pub requested_by_name: &'a str,
    pub token_hash: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Stores a change, voiding the person's earlier pending one (a newer request replaces it).
pub async fn insert(conn: &mut AnyConnection, c: &NewChange<'_>) -> sqlx::Result<i64> {
    void_pending(&mut *conn, c.user_id, c.created_at).await?;
    sqlx::query_scalar(
        "INSERT INTO email_changes (user_id, new_email, own, requested_by, requested_by_name, \
         token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(c.user_id)
    .bind(c.new_email)
    .bind(i64::from(c.own))
    .bind(c.requested_by)
    .bind(c.requested_by_name)
    .bind(c.token_hash)
    .bind(c.created_at)
    .bind(c.expires_at)
    .fetch_one(conn)
    .await
}

/// The person's pending change that has not expired.
pub async fn pending_for<'e, E>(db: E, user_id: i64, now: i64) -> sqlx::Result<Option<Pending>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM email_changes WHERE user_id = $1 AND state = 'pending' \
         AND expires_at > $2 ORDER BY id DESC LIMIT 1"
    ))
    .bind(user_id)
    .bind(now)
    .fetch_optional(db)
    .await
}

/// The pending change a link's token opens, if it has not expired.
pub async fn by_token(pool: &AnyPool, token_hash: &str, now: i64) -> sqlx::Result<Option<Pending>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM email_changes WHERE token_hash = $1 AND state = 'pending' \
         AND expires_at > $2"
    ))
    .bind(token_hash)
    .bind(now)
    .fetch_optional(pool)
    .await
}

/// Decides a pending change once: `true` for the one caller that does.
pub async fn decide(
    conn: &mut AnyConnection,
    id: i64,
    state: &str,
    now: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE email_changes SET state = $2, decided_at = $3 \
         WHERE id = $1 AND state = 'pending' AND expires_at > $3",
    )
    .bind(id)
    .bind(state)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The member accepted someone else's request: from now on it waits, as the person's own change
/// does, for the link mailed to the new address (`token_hash`, until `expires_at`). `true` for
/// the one caller that turns it.
pub async fn accepted(
    conn: &mut AnyConnection,
    id: i64,
    token_hash: &str,
    now: i64,
    expires_at: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE email_changes SET own = 1, token_hash = $2, expires_at = $4 \
         WHERE id = $1 AND state = 'pending' AND own = 0 AND expires_at > $3",
    )
    .bind(id)
    .bind(token_hash)
    .bind(now)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Voids the person's pending changes.
pub async fn void_pending(conn: &mut AnyConnection, user_id: i64, now: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE email_changes SET state = 'voided', decided_at = $2 \
         WHERE user_id = $1 AND state = 'pending'",
    )
    .bind(user_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
