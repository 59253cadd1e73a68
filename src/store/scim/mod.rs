//! What provisioning (SCIM 2.0) reads and writes: its tokens, a member with what the identity
//! system said of them (`scim_attrs`, `version`, `updated_at`), a page of an account's members
//! matching a filter (the filter turned into SQL over a fixed list of attributes, every value
//! bound), and removing a member while their activity stays.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

mod filter;

use super::sql::Statement;
use super::users::{from_row, COLUMNS};
use crate::domain::scim_filter::Filter;
use crate::domain::{Account, Kind, User};
use filter::condition;
pub use filter::Unsupported;

/// A provisioning token as its account's Users page lists it (never the token).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub account_id: i64,
    pub name: String,
    pub created_by_name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

const TOKEN_COLUMNS: &str = "id, account_id, name, created_by_name, created_at, last_used_at";

/// A token to keep: its hash, and who made it (`created_by_id` is `None` for the command line).
pub struct NewToken<'a> {
    pub account_id: i64,
    pub name: &'a str,
    pub token_hash: &'a str,
    pub created_by_id: Option<i64>,
    pub created_by_name: &'a str,
    pub now: i64,
}

pub async fn insert_token(conn: &mut AnyConnection, t: &NewToken<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO scim_tokens (account_id, name, token_hash, created_by_id, created_by_name, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(t.account_id)
    .bind(t.name)
    .bind(t.token_hash)
    .bind(t.created_by_id)
    .bind(t.created_by_name)
    .bind(t.now)
    .fetch_one(conn)
    .await
}

/// Removes the tokens a person made: (account, name) of each.
pub async fn delete_tokens_made_by(
    conn: &mut AnyConnection,
    user_id: i64,
) -> sqlx::Result<Vec<(i64, String)>> {
    sqlx::query_as("DELETE FROM scim_tokens WHERE created_by_id = $1 RETURNING account_id, name")
        .bind(user_id)
        .fetch_all(conn)
        .await
}

pub async fn tokens_of(pool: &AnyPool, account_id: i64) -> sqlx::Result<Vec<TokenRow>> {
    sqlx::query_as(&format!(
        "SELECT {TOKEN_COLUMNS} FROM scim_tokens WHERE account_id = $1 ORDER BY id"
    ))
    .bind(account_id)
    .fetch_all(pool)
    .await
}

/// Removes an account's token; `None` when it has no such token.
pub async fn delete_token(
    conn: &mut AnyConnection,
    account_id: i64,
    id: i64,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("DELETE FROM scim_tokens WHERE account_id = $1 AND id = $2 RETURNING name")
        .bind(account_id)
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The token with this hash and its account.
pub async fn token_by_hash(
    pool: &AnyPool,
    token_hash: &str,
) -> sqlx::Result<Option<(TokenRow, Account)>> {
    let Some(token) = sqlx::query_as::<_, TokenRow>(&format!(
        "SELECT {TOKEN_COLUMNS} FROM scim_tokens WHERE token_hash = $1"
    ))
    .bind(token_hash)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let account = super::accounts::by_id(pool, token.account_id).await?;
    Ok(account.map(|a| (token, a)))
}

/// Notes when a token was used (the caller writes this at most once a minute).
pub async fn touch_token(pool: &AnyPool, id: i64, now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE scim_tokens SET last_used_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}

/// A member as provisioning sees them.
#[derive(Debug, Clone)]
pub struct ScimRow {
    pub user: User,
    /// What the identity system said that has no column (JSON), if it made the member.
    pub attrs: Option<String>,
    pub external_id: Option<String>,
    pub version: i64,
    pub updated_at: i64,
}

const SCIM_COLUMNS: &str = "u.scim_attrs, u.external_id, u.version, u.updated_at";

fn scim_from_row(row: &AnyRow) -> sqlx::Result<ScimRow> {
    Ok(ScimRow {
        user: from_row(row)?,
        attrs: row.try_get("scim_attrs")?,
        external_id: row.try_get("external_id")?,
        version: row.try_get("version")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// A member of `account_id` by id (never an agent, never another account's member).
pub async fn member<'e, E>(db: E, account_id: i64, id: i64) -> sqlx::Result<Option<ScimRow>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(&format!(
        "SELECT {COLUMNS}, {SCIM_COLUMNS} FROM users u WHERE u.account_id = $1 AND u.id = $2"
    ))
    .bind(account_id)
    .bind(id)
    .fetch_optional(db)
    .await?
    .map(|r| scim_from_row(&r))
    .transpose()
}

/// A page of `account_id`'s members matching `filter`: `offset` members skipped, at most
/// `limit` returned, in the order they were created; and how many match in all.
pub async fn members_page(
    pool: &AnyPool,
    account_id: i64,
    filter: Option<&Filter>,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<ScimRow>), PageError> {
    let mut count = Statement::new("SELECT COUNT(*) FROM users u WHERE u.account_id = ");
    count.bind(account_id);
    // The page's ids first, from the (account_id, id) index alone, then only their rows: a
    // late page skips index entries, not whole rows.
    let mut page = Statement::new(format!(
        "SELECT {COLUMNS}, {SCIM_COLUMNS} FROM users u WHERE u.id IN (SELECT u.id FROM users u \
         WHERE u.account_id = "
    ));
    page.bind(account_id);
    if let Some(f) = filter {
        count.push(" AND (");
        condition(f, &mut count)?;
        count.push(")");
        page.push(" AND (");
        condition(f, &mut page)?;
        page.push(")");
    }
    let total: i64 = count.query().fetch_one(pool).await?.try_get(0)?;
    let rows = if limit > 0 && offset < total {
        page.push(" ORDER BY u.id LIMIT ")
            .bind(limit)
            .push(" OFFSET ")
            .bind(offset)
            .push(") ORDER BY u.id");
        page.query()
            .fetch_all(pool)
            .await?
            .iter()
            .map(scim_from_row)
            .collect::<sqlx::Result<Vec<_>>>()?
    } else {
        Vec::new()
    };
    Ok((total, rows))
}

/// Why a page could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("{}", .0.0)]
    Unsupported(Unsupported),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<Unsupported> for PageError {
    fn from(u: Unsupported) -> Self {
        PageError::Unsupported(u)
    }
}

/// What provisioning writes of a member (besides enabled, role and address, which have their
/// own rules).
pub struct MemberColumns<'a> {
    pub username: &'a str,
    pub full_name: &'a str,
    pub kind: Kind,
    pub external_id: Option<&'a str>,
    pub attrs: &'a str,
}

/// Writes a member's columns; a taken username is a unique violation.
pub async fn set_columns(
    conn: &mut AnyConnection,
    id: i64,
    c: &MemberColumns<'_>,
) -> sqlx::Result<()> {
    // A changed external id no longer links a first sign-in (only one given at creation does).
    sqlx::query(
        "UPDATE users SET username = $2, full_name = $3, kind = $4, \
         external_id_links = CASE WHEN external_id IS NOT DISTINCT FROM $5 \
           THEN external_id_links ELSE 0 END, \
         external_id = $5, scim_attrs = $6 WHERE id = $1",
    )
    .bind(id)
    .bind(c.username)
    .bind(c.full_name)
    .bind(c.kind.as_str())
    .bind(c.external_id)
    .bind(c.attrs)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes a member: their PIN, sessions, tokens, factors and links go with the row; their
/// activity stays, written with their username instead of the row.
pub async fn remove_member(conn: &mut AnyConnection, user: &User) -> sqlx::Result<()> {
    sqlx::query("UPDATE audit_log SET subject_name = $2, subject_id = NULL WHERE subject_id = $1")
        .bind(user.id)
        .bind(&user.username)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE audit_log SET actor_id = NULL WHERE actor_id = $1")
        .bind(user.id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(user.id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
