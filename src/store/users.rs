//! People who log in: account members (users and contacts, each a user or an administrator)
//! and support agents.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

use super::sql::{json_rows, Statement};
use super::{Backend, Db};

use super::{opt_text_col, text_col};
use crate::domain::{Account, Kind, ListedMember, MemberSummary, Role, User};

pub(crate) const COLUMNS: &str =
    "u.id, u.account_id, u.username, u.full_name, u.email, u.kind, u.role, \
                       u.disabled, u.sso_only, u.auth_epoch, u.password_hash, u.created_at";

/// What the `password_hash` column holds for a person without a password of their own. The
/// column is `NOT NULL` (SQLite cannot drop that without rebuilding the table), and no argon2
/// hash starts with `!`, so it never verifies; only this file writes or reads it, and the rest
/// of the code sees `None`.
const NO_PASSWORD: &str = "!not set: invited";

/// The `password_hash` column of a row, `None` when the person has no password.
fn password_of(row: &AnyRow, col: &str) -> sqlx::Result<Option<String>> {
    let stored: String = row.try_get(col)?;
    Ok((stored != NO_PASSWORD).then_some(stored))
}

/// What `password_hash` stores for `hash`.
fn stored_password(hash: Option<&str>) -> &str {
    hash.unwrap_or(NO_PASSWORD)
}

pub(crate) fn from_row(row: &AnyRow) -> sqlx::Result<User> {
    Ok(User {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        username: row.try_get("username")?,
        full_name: row.try_get("full_name")?,
        email: row.try_get("email")?,
        kind: opt_text_col(row, "kind")?,
        role: text_col(row, "role")?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        sso_only: row.try_get::<i64, _>("sso_only")? != 0,
        auth_epoch: row.try_get("auth_epoch")?,
        password_hash: password_of(row, "password_hash")?,
        created_at: row.try_get("created_at")?,
    })
}

/// The number of second factors a person has (`u`), as `factors`.
const FACTORS: &str = "CAST((SELECT COUNT(*) FROM totp_secrets t WHERE t.user_id = u.id \
     AND t.confirmed = 1) + (SELECT COUNT(*) FROM passkeys k WHERE k.user_id = u.id) AS BIGINT) \
     AS factors";

/// A member with their PIN state (`pin_state`), second factors ([`FACTORS`]) and, when
/// when their PIN last saw an event (`last_pin_activity`).
fn summary_from_row(row: &AnyRow) -> sqlx::Result<MemberSummary> {
    Ok(MemberSummary {
        user: from_row(row)?,
        pin_state: text_col(row, "pin_state")?,
        last_pin_activity: row.try_get("last_pin_activity")?,
        two_step: row.try_get::<i64, _>("factors")? > 0,
        second_step_failures: row.try_get("second_step_failures")?,
    })
}

/// What is needed to create a person.
pub struct NewUser<'a> {
    pub account_id: Option<i64>,
    pub username: &'a str,
    pub full_name: &'a str,
    pub email: Option<&'a str>,
    pub kind: Option<Kind>,
    pub role: Role,
    pub password_hash: Option<&'a str>,
}

pub async fn insert(conn: &mut AnyConnection, new: &NewUser<'_>, now: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO users (account_id, username, full_name, email, kind, role, password_hash, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
    )
    .bind(new.account_id)
    .bind(new.username)
    .bind(new.full_name)
    .bind(new.email)
    .bind(new.kind.map(|k| k.as_str()))
    .bind(new.role.as_str())
    .bind(stored_password(new.password_hash))
    .bind(now)
    .fetch_one(conn)
    .await
}

pub async fn by_username(pool: &AnyPool, username: &str) -> sqlx::Result<Option<User>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM users u WHERE u.username = $1"
    ))
    .bind(username)
    .fetch_optional(pool)
    .await?
    .map(|r| from_row(&r))
    .transpose()
}

/// The columns of a person with their account, for a query joining `users u` and
/// `accounts a`.
pub(crate) const PERSON_COLUMNS: &str = "u.id, u.account_id, u.username, u.full_name, u.email, \
    u.kind, u.role, u.disabled, u.sso_only, u.auth_epoch, u.password_hash, u.created_at, \
    a.number AS a_number, a.name AS a_name, a.unlock_policy AS a_policy, \
    a.sso_only AS a_sso_only";

/// A person and their account from a row with [`PERSON_COLUMNS`]; `None` when the row's person
/// is NULL (an outer join found none).
pub(crate) fn person_from_row(row: &AnyRow) -> sqlx::Result<Option<(User, Option<Account>)>> {
    if row.try_get::<Option<i64>, _>("id")?.is_none() {
        return Ok(None);
    }
    let user = from_row(row)?;
    let account = match user.account_id {
        Some(account_id) => Some(Account {
            id: account_id,
            number: row.try_get("a_number")?,
            name: row.try_get("a_name")?,
            unlock_policy: text_col(row, "a_policy")?,
            sso_only: row.try_get::<i64, _>("a_sso_only")? != 0,
        }),
        None => None,
    };
    Ok(Some((user, account)))
}

/// A person with their account (none for agents), in one query: every authenticated request
/// needs both.
pub async fn with_account(
    pool: &AnyPool,
    id: i64,
) -> sqlx::Result<Option<(User, Option<Account>)>> {
    let row = sqlx::query(&format!(
        "SELECT {PERSON_COLUMNS} FROM users u LEFT JOIN accounts a ON a.id = u.account_id \
         WHERE u.id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    match row {
        Some(row) => person_from_row(&row),
        None => Ok(None),
    }
}

pub async fn by_id(pool: &AnyPool, id: i64) -> sqlx::Result<Option<User>> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM users u WHERE u.id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

/// A member of `account_id` looked up by username (how agents name a caller).
pub async fn in_account_by_username(
    pool: &AnyPool,
    account_id: i64,
    username: &str,
) -> sqlx::Result<Option<User>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM users u WHERE u.account_id = $1 AND u.username = $2"
    ))
    .bind(account_id)
    .bind(username)
    .fetch_optional(pool)
    .await?
    .map(|r| from_row(&r))
    .transpose()
}

/// The enabled people of an account with one of `roles`, by name; on the pool or inside a
/// transaction.
pub async fn enabled_with_roles(
    conn: &mut AnyConnection,
    account_id: i64,
    roles: &[Role],
) -> sqlx::Result<Vec<User>> {
    let mut q = Statement::new(format!(
        "SELECT {COLUMNS} FROM users u WHERE u.disabled = 0 AND u.account_id = "
    ));
    q.bind(account_id)
        .push(" AND u.role IN (")
        .bind_list(roles.iter().map(|r| r.as_str()))
        .push(") ORDER BY u.full_name, u.username");
    q.query()
        .fetch_all(conn)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// What the member lists show of each member's PIN: its state and when it last saw an event
/// (kept on the PIN's row with each event, so no list reads the audit log).
const PIN_SUMMARY: &str =
    "COALESCE(p.state, 'INACTIVE') AS pin_state, p.last_event_at AS last_pin_activity";

/// The members of an account with their PIN state, two-step login and when their PIN last saw
/// an event.
pub async fn members_of(pool: &AnyPool, account_id: i64) -> sqlx::Result<Vec<MemberSummary>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS}, u.second_step_failures, {PIN_SUMMARY}, {FACTORS} \
         FROM users u LEFT JOIN support_pins p ON p.user_id = u.id WHERE u.account_id = $1 \
         ORDER BY u.full_name, u.username"
    ))
    .bind(account_id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(summary_from_row)
    .collect()
}

/// Sets a new password hash and ends every session and token minted before (new epoch).
pub async fn set_password(conn: &mut AnyConnection, id: i64, hash: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE users SET password_hash = $2, auth_epoch = auth_epoch + 1 WHERE id = $1",
    )
    .bind(id)
    .bind(hash)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Disables or enables a person; either way their sessions and tokens end.
pub async fn set_disabled(conn: &mut AnyConnection, id: i64, disabled: bool) -> sqlx::Result<bool> {
    let done =
        sqlx::query("UPDATE users SET disabled = $2, auth_epoch = auth_epoch + 1 WHERE id = $1")
            .bind(id)
            .bind(i64::from(disabled))
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Changes a member's role; their sessions and tokens end.
pub async fn set_role(conn: &mut AnyConnection, id: i64, role: Role) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE users SET role = $2, auth_epoch = auth_epoch + 1 WHERE id = $1 AND role <> 'agent'",
    )
    .bind(id)
    .bind(role.as_str())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Takes the account's row for the rest of the transaction (a row lock on PostgreSQL, the write
/// lock on SQLite), so that checks of its administrators and changes to them happen one at a
/// time: two administrators disabling each other cannot both succeed.
pub async fn lock_account(conn: &mut AnyConnection, account_id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE accounts SET id = id WHERE id = $1")
        .bind(account_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Takes the person's row for the rest of the transaction (a row lock on PostgreSQL, the write
/// lock on SQLite), so that changes that must see each other happen one after the other.
pub async fn lock_person(conn: &mut AnyConnection, id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET id = id WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The enabled administrators of an account other than `except`.
pub async fn enabled_admins_except(
    conn: &mut AnyConnection,
    account_id: i64,
    except: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE account_id = $1 AND role = 'admin' AND disabled = 0 \
         AND id <> $2",
    )
    .bind(account_id)
    .bind(except)
    .fetch_one(conn)
    .await
}

/// Enabled people whose address is `email` (compared without case).
pub async fn by_email(pool: &AnyPool, email: &str) -> sqlx::Result<Vec<User>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM users u WHERE LOWER(u.email) = LOWER($1) AND u.disabled = 0 \
         ORDER BY u.id"
    ))
    .bind(email)
    .fetch_all(pool)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// Which of an account's members to list, in id order.
pub struct MemberPage<'a> {
    pub account_id: i64,
    /// Only the member with this username.
    pub username: Option<&'a str>,
    /// Only members with this address (without case).
    pub email: Option<&'a str>,
    /// Only members after this id (the previous page's last).
    pub after: Option<i64>,
    pub limit: i64,
}

/// A page of an account's members with their PIN state, in id order (stable for paging).
pub async fn members_page(pool: &AnyPool, p: &MemberPage<'_>) -> sqlx::Result<Vec<MemberSummary>> {
    let mut q = Statement::new(format!(
        "SELECT {COLUMNS}, u.second_step_failures, {PIN_SUMMARY}, {FACTORS} \
         FROM users u LEFT JOIN support_pins p ON p.user_id = u.id WHERE u.account_id = "
    ));
    q.bind(p.account_id);
    if let Some(u) = p.username {
        q.push(" AND u.username = ").bind(u);
    }
    if let Some(e) = p.email {
        q.push(" AND LOWER(u.email) = LOWER(").bind(e).push(")");
    }
    if let Some(a) = p.after {
        q.push(" AND u.id > ").bind(a);
    }
    q.push(" ORDER BY u.id LIMIT ").bind(p.limit);
    q.query()
        .fetch_all(pool)
        .await?
        .iter()
        .map(summary_from_row)
        .collect()
}

/// The members of an account whose Support PIN is locked, by name (at most `limit`).
pub async fn locked_members(
    pool: &AnyPool,
    account_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<User>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM support_pins p JOIN users u ON u.id = p.user_id \
         WHERE p.state = 'LOCKED' AND u.account_id = $1 ORDER BY u.full_name, u.username LIMIT $2"
    ))
    .bind(account_id)
    .bind(limit)
    .fetch_all(pool)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// Which members the Users page lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Show {
    #[default]
    Everyone,
    Locked,
    Disabled,
    Admins,
}

/// A page of the Users page: a search in name, username and address, a [`Show`], and where.
pub struct Listing<'a> {
    pub account_id: i64,
    pub search: Option<&'a str>,
    pub show: Show,
    pub offset: i64,
    pub limit: i64,
}

/// The conditions of `l`, after the tables of [`listing_from`].
fn listing_where(q: &mut Statement, l: &Listing<'_>, backend: Backend) {
    q.push(" WHERE u.account_id = ").bind(l.account_id);
    if let Some(s) = l.search {
        let pattern = format!("%{}%", super::sql::like_escaped(&s.to_lowercase()));
        // SQLite's LIKE ignores the case of ASCII letters, and its LOWER folds no others: there
        // LOWER would find the same members at the cost of a string per column and row.
        let (lower, end) = match backend {
            Backend::Sqlite => ("", ""),
            Backend::Postgres => ("LOWER(", ")"),
        };
        for (i, column) in ["u.username", "u.full_name", "u.email"]
            .into_iter()
            .enumerate()
        {
            q.push(if i == 0 { " AND (" } else { " OR " })
                .push(lower)
                .push(column)
                .push(end)
                .push(" LIKE ")
                .bind(pattern.clone())
                .push(" ESCAPE '\\'");
        }
        q.push(")");
    }
    q.push(match l.show {
        Show::Everyone => "",
        Show::Locked => " AND p.state = 'LOCKED'",
        Show::Disabled => " AND u.disabled = 1",
        Show::Admins => " AND u.role = 'admin'",
    });
}

/// What the Users page shows of a member, in the order of [`ListedRow`]'s fields.
const LISTED: &str = "u.id, u.username, u.full_name, \
     CASE WHEN u.email IS NULL THEN 0 ELSE 1 END, u.kind, u.role, u.disabled, u.sso_only, \
     COALESCE(p.state, 'INACTIVE'), p.last_event_at, u.second_step_failures";

/// A member of a page of the Users page as [`json_rows`] gives it: an array of [`LISTED`].
#[derive(serde::Deserialize)]
struct ListedRow(
    i64,
    String,
    String,
    i64,
    Option<String>,
    String,
    i64,
    i64,
    String,
    Option<i64>,
    i64,
);

impl TryFrom<ListedRow> for ListedMember {
    type Error = String;

    fn try_from(r: ListedRow) -> Result<Self, String> {
        Ok(ListedMember {
            id: r.0,
            username: r.1,
            full_name: r.2,
            has_email: r.3 != 0,
            kind: r.4.map(|k| k.parse()).transpose()?,
            role: r.5.parse()?,
            disabled: r.6 != 0,
            sso_only: r.7 != 0,
            pin_state: r.8.parse()?,
            last_pin_activity: r.9,
            second_step_failures: r.10,
        })
    }
}

/// A page of an account's members by name, and how many members match in all, in one statement
/// that returns one row: the total and the page as JSON. The account's kept count is the total
/// when nothing filters; a search or a filter counts its matches in the same reading of the
/// members as the page (`COUNT(*) OVER ()`), and only a page past the end counts apart.
pub async fn listing(db: &Db, l: &Listing<'_>) -> sqlx::Result<(Vec<ListedMember>, i64)> {
    let backend = db.backend();
    let from = listing_from(l);
    let filtered = l.search.is_some() || l.show != Show::Everyone;
    let mut q = Statement::new("SELECT ");
    if filtered {
        q.push("COALESCE(MAX(page.n), 0)");
    } else {
        q.push("(SELECT member_count FROM accounts WHERE id = ")
            .bind(l.account_id)
            .push(")");
    }
    // Usernames are unique, so (name, username) is a total order the index gives as it is.
    let order = "u.full_name, u.username";
    q.push(" AS total, ")
        .push(&json_rows(backend, LISTED, order))
        // The page's ids first (from the name index alone when nothing filters), so what each
        // row costs is paid for the 50 rows shown, not for every row an OFFSET skips.
        .push(" AS page FROM (SELECT u.id")
        .push(if filtered {
            ", COUNT(*) OVER () AS n "
        } else {
            " "
        })
        .push(from);
    listing_where(&mut q, l, backend);
    q.push(" ORDER BY ")
        .push(order)
        .push(" LIMIT ")
        .bind(l.limit)
        .push(" OFFSET ")
        .bind(l.offset)
        .push(") page JOIN users u ON u.id = page.id LEFT JOIN support_pins p ON p.user_id = u.id");
    let row = q.query().fetch_one(&db.pool).await?;
    let decode = |e: String| sqlx::Error::ColumnDecode {
        index: "page".into(),
        source: e.into(),
    };
    let rows: Vec<ListedRow> = serde_json::from_str(&row.try_get::<String, _>("page")?)
        .map_err(|e| decode(e.to_string()))?;
    let members: Vec<ListedMember> = rows
        .into_iter()
        .map(ListedMember::try_from)
        .collect::<Result<_, _>>()
        .map_err(decode)?;
    let total = match row.try_get("total")? {
        // A page past the end has no row to carry the count of the matches.
        0 if filtered && members.is_empty() && l.offset > 0 => {
            let mut count = Statement::new(format!("SELECT COUNT(*) {from}"));
            listing_where(&mut count, l, backend);
            count.query_scalar().fetch_one(&db.pool).await?
        }
        total => total,
    };
    Ok((members, total))
}

/// The tables a [`Listing`] reads: the PINs are joined only to filter by them (over 10 000
/// members the join was most of a count's cost).
fn listing_from(l: &Listing<'_>) -> &'static str {
    match l.show {
        Show::Locked => "FROM users u JOIN support_pins p ON p.user_id = u.id",
        _ => "FROM users u",
    }
}

/// Sets a person's e-mail address (`None` removes it).
pub async fn set_email(conn: &mut AnyConnection, id: i64, email: Option<&str>) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET email = $2 WHERE id = $1")
        .bind(id)
        .bind(email)
        .execute(conn)
        .await?;
    Ok(())
}
