//! Accounts: a number, a name and an unlock policy.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

use super::text_col;
use crate::domain::{Account, UnlockPolicy};

fn from_row(row: &AnyRow) -> sqlx::Result<Account> {
    Ok(Account {
        id: row.try_get("id")?,
        number: row.try_get("number")?,
        name: row.try_get("name")?,
        unlock_policy: text_col(row, "unlock_policy")?,
        sso_only: row.try_get::<i64, _>("sso_only")? != 0,
    })
}

const COLUMNS: &str = "id, number, name, unlock_policy, sso_only";

/// Creates an account numbered `number`; `None` (and nothing written, the transaction still
/// usable) when the number is taken.
pub async fn insert_unless_taken(
    conn: &mut AnyConnection,
    number: &str,
    name: &str,
    policy: UnlockPolicy,
    now: i64,
) -> sqlx::Result<Option<Account>> {
    sqlx::query(&format!(
        "INSERT INTO accounts (number, name, unlock_policy, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (number) DO NOTHING RETURNING {COLUMNS}"
    ))
    .bind(number)
    .bind(name)
    .bind(policy.as_str())
    .bind(now)
    .fetch_optional(conn)
    .await?
    .map(|r| from_row(&r))
    .transpose()
}

pub async fn by_number(pool: &AnyPool, number: &str) -> sqlx::Result<Option<Account>> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM accounts WHERE number = $1"))
        .bind(number)
        .fetch_optional(pool)
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

/// An account by id, on the pool or inside a transaction.
pub async fn by_id<'e, E>(db: E, id: i64) -> sqlx::Result<Option<Account>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(&format!("SELECT {COLUMNS} FROM accounts WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

pub async fn count(pool: &AnyPool) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
        .fetch_one(pool)
        .await
}

pub async fn set_unlock_policy(
    conn: &mut AnyConnection,
    account_id: i64,
    policy: UnlockPolicy,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE accounts SET unlock_policy = $2 WHERE id = $1")
        .bind(account_id)
        .bind(policy.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether the account's members sign in only through single sign-on.
pub async fn set_sso_only(conn: &mut AnyConnection, account_id: i64, on: bool) -> sqlx::Result<()> {
    sqlx::query("UPDATE accounts SET sso_only = $2 WHERE id = $1")
        .bind(account_id)
        .bind(i64::from(on))
        .execute(conn)
        .await?;
    Ok(())
}
