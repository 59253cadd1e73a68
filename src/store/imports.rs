//! What an import reads and writes besides the members themselves: the people the file's
//! usernames already name, and the browser's imports (`imports`), claimed by one instance at a
//! time with a lease.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

use super::sql::Statement;
use super::users::{from_row, COLUMNS};
use crate::domain::User;

/// A person a username already names, with their account's number and external id.
pub struct Existing {
    pub user: User,
    pub account_number: Option<String>,
    pub external_id: Option<String>,
}

/// The people these (lower-cased) usernames name.
pub async fn existing(pool: &AnyPool, usernames: &[&str]) -> sqlx::Result<Vec<Existing>> {
    let mut out = Vec::new();
    for chunk in usernames.chunks(500) {
        let mut q = Statement::new(format!(
            "SELECT {COLUMNS}, a.number AS a_number, u.external_id FROM users u \
             LEFT JOIN accounts a ON a.id = u.account_id WHERE u.username IN ("
        ));
        q.bind_list(chunk.iter().map(|u| (*u).to_owned())).push(")");
        for row in q.query().fetch_all(pool).await? {
            out.push(Existing {
                user: from_row(&row)?,
                account_number: row.try_get("a_number")?,
                external_id: row.try_get("external_id")?,
            });
        }
    }
    Ok(out)
}

/// An import from the browser.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub account_id: i64,
    pub created_by_id: Option<i64>,
    pub created_by_name: String,
    pub state: String,
    pub invite: bool,
    pub rows: i64,
    pub skipped: i64,
    pub created: i64,
    pub invitations: i64,
    pub error: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

const JOB_COLUMNS: &str = "id, account_id, created_by_id, created_by_name, state, invite, rows, \
     skipped, created, invitations, error, created_at, started_at, finished_at";

fn job_from_row(row: &AnyRow) -> sqlx::Result<Job> {
    Ok(Job {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        created_by_id: row.try_get("created_by_id")?,
        created_by_name: row.try_get("created_by_name")?,
        state: row.try_get("state")?,
        invite: row.try_get::<i64, _>("invite")? != 0,
        rows: row.try_get("rows")?,
        skipped: row.try_get("skipped")?,
        created: row.try_get("created")?,
        invitations: row.try_get("invitations")?,
        error: row.try_get("error")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

/// A new import, waiting for its administrator to start it.
pub struct NewJob<'a> {
    pub account_id: i64,
    pub created_by_id: i64,
    pub created_by_name: &'a str,
    pub invite: bool,
    pub file: &'a [u8],
    pub rows: i64,
    pub skipped: i64,
    pub now: i64,
}

/// Keeps a previewed file as the account's one waiting preview: any earlier preview of the
/// account goes (its file with it), so an account holds at most one file that nobody started.
/// The new row is written first, so it never takes the id of the one it replaces (SQLite hands
/// out the highest id again once its row is gone): a start button of the old preview's page
/// must not start the new file.
pub async fn insert_preview(conn: &mut AnyConnection, j: &NewJob<'_>) -> sqlx::Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO imports (account_id, created_by_id, created_by_name, state, invite, file, \
         rows, skipped, created_at) VALUES ($1, $2, $3, 'preview', $4, $5, $6, $7, $8) \
         RETURNING id",
    )
    .bind(j.account_id)
    .bind(j.created_by_id)
    .bind(j.created_by_name)
    .bind(i64::from(j.invite))
    .bind(j.file)
    .bind(j.rows)
    .bind(j.skipped)
    .bind(j.now)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM imports WHERE account_id = $1 AND state = 'preview' AND id <> $2")
        .bind(j.account_id)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(id)
}

/// An account's import.
pub async fn job<'e, E>(db: E, account_id: i64, id: i64) -> sqlx::Result<Option<Job>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(&format!(
        "SELECT {JOB_COLUMNS} FROM imports WHERE account_id = $1 AND id = $2"
    ))
    .bind(account_id)
    .bind(id)
    .fetch_optional(db)
    .await?
    .map(|r| job_from_row(&r))
    .transpose()
}

/// The account's import that is queued or running, if any.
pub async fn active<'e, E>(db: E, account_id: i64) -> sqlx::Result<Option<Job>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(&format!(
        "SELECT {JOB_COLUMNS} FROM imports WHERE account_id = $1 \
         AND state IN ('queued', 'running') ORDER BY id LIMIT 1"
    ))
    .bind(account_id)
    .fetch_optional(db)
    .await?
    .map(|r| job_from_row(&r))
    .transpose()
}

/// Queues a previewed import; `false` when it is not waiting to start.
pub async fn queue(conn: &mut AnyConnection, account_id: i64, id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE imports SET state = 'queued' WHERE account_id = $1 AND id = $2 \
         AND state = 'preview'",
    )
    .bind(account_id)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Takes the oldest import that is queued, or running under a lease that ran out (its instance
/// stopped), for `lease` seconds: the job and its sealed file.
pub async fn claim(pool: &AnyPool, now: i64, lease: i64) -> sqlx::Result<Option<(Job, Vec<u8>)>> {
    let row = sqlx::query(&format!(
        "UPDATE imports SET state = 'running', lease_until = $2, \
         started_at = COALESCE(started_at, $1) \
         WHERE id = (SELECT id FROM imports WHERE state = 'queued' \
                     OR (state = 'running' AND lease_until < $1) ORDER BY id LIMIT 1) \
         AND (state = 'queued' OR (state = 'running' AND lease_until < $1)) \
         RETURNING {JOB_COLUMNS}, file"
    ))
    .bind(now)
    .bind(now + lease)
    .fetch_optional(pool)
    .await?;
    match row {
        Some(r) => {
            let file: Option<Vec<u8>> = r.try_get("file")?;
            Ok(Some((job_from_row(&r)?, file.unwrap_or_default())))
        }
        None => Ok(None),
    }
}

/// Counts a batch written (in the batch's transaction) and renews the lease.
pub async fn progress(
    conn: &mut AnyConnection,
    id: i64,
    created: i64,
    invitations: i64,
    lease_until: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE imports SET created = created + $2, invitations = invitations + $3, \
         lease_until = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(created)
    .bind(invitations)
    .bind(lease_until)
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends an import (`done` or `failed` with why); its file goes.
pub async fn finish(
    conn: &mut AnyConnection,
    id: i64,
    state: &str,
    error: Option<&str>,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE imports SET state = $2, error = $3, finished_at = $4, file = NULL, \
         lease_until = NULL WHERE id = $1",
    )
    .bind(id)
    .bind(state)
    .bind(error)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Previews never started, after `before`: their files go.
pub async fn delete_stale_previews(pool: &AnyPool, before: i64) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM imports WHERE state = 'preview' AND created_at < $1")
        .bind(before)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}
