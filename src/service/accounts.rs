//! Accounts: creating one (a number drawn when none is given) and its unlock policy. Each use
//! case is one transaction, so bad input writes nothing.

use rand::Rng;

use super::{policy, Actor, AuditRecord, Ctx, Result, ServiceError};
use crate::domain::{Account, AccountNumber, DisplayName, Event, UnlockPolicy};
use crate::store::{self, Tx};

/// Has the installation no account yet (a first start, or a demo to seed)?
pub async fn none_yet(ctx: &Ctx) -> Result<bool> {
    Ok(store::accounts::count(&ctx.db.pool).await? == 0)
}

/// Creates an account; without a number, a random unused seven-digit one is drawn.
pub async fn create_account(
    ctx: &Ctx,
    actor: Actor<'_>,
    name: &str,
    number: Option<&str>,
    policy: UnlockPolicy,
) -> Result<Account> {
    let name = DisplayName::parse_account_name(name).map_err(ServiceError::Invalid)?;
    let number = number
        .map(AccountNumber::parse)
        .transpose()
        .map_err(ServiceError::Invalid)?;
    for _ in 0..20 {
        let mut tx = ctx.db.begin().await?;
        match insert_account(&mut tx, actor, &name, number.as_ref(), policy).await? {
            Some(account) => {
                tx.commit().await?;
                return Ok(account);
            }
            None if number.is_none() => continue,
            None => {
                return Err(ServiceError::Conflict(format!(
                    "An account numbered {} already exists.",
                    number.as_ref().map_or("", |n| n.as_str())
                )))
            }
        }
    }
    Err(ServiceError::Internal(anyhow::anyhow!(
        "no free account number found"
    )))
}

/// Writes an account inside the caller's transaction with its audit row: `number`, or a random
/// seven-digit one. `None` when that number is taken (nothing written then).
pub(super) async fn insert_account(
    conn: &mut Tx,
    actor: Actor<'_>,
    name: &DisplayName,
    number: Option<&AccountNumber>,
    policy: UnlockPolicy,
) -> Result<Option<Account>> {
    let candidate = match number {
        Some(n) => n.as_str().to_owned(),
        None => rand::rngs::OsRng
            .gen_range(1_000_000..10_000_000u32)
            .to_string(),
    };
    let Some(account) =
        store::accounts::insert_unless_taken(conn, &candidate, name.as_str(), policy, store::now())
            .await?
    else {
        return Ok(None);
    };
    let detail = format!("account {}", account.number);
    AuditRecord::new(Event::AccountCreated, actor)
        .detail(&detail)
        .write(conn)
        .await?;
    Ok(Some(account))
}

/// Sets the account's unlock policy.
pub async fn set_unlock_policy(
    ctx: &Ctx,
    actor: Actor<'_>,
    account_id: i64,
    unlock_policy: UnlockPolicy,
) -> Result<()> {
    policy::may_administer(actor, account_id)?;
    let mut tx = ctx.db.begin().await?;
    store::accounts::set_unlock_policy(&mut tx, account_id, unlock_policy).await?;
    AuditRecord::new(Event::PolicyChanged, actor)
        .of_account(account_id)
        .detail(unlock_policy.as_str())
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Whether the members the account's identity system creates sign in only through single
/// sign-on (no invitation, no password): its administrators or the command line.
pub async fn set_sso_only(ctx: &Ctx, actor: Actor<'_>, account_id: i64, on: bool) -> Result<()> {
    policy::may_administer(actor, account_id)?;
    let mut tx = ctx.db.begin().await?;
    store::accounts::set_sso_only(&mut tx, account_id, on).await?;
    let detail = if on {
        "single sign-on only"
    } else {
        "invited, with a password"
    };
    AuditRecord::new(Event::AccountSsoOnlyChanged, actor)
        .of_account(account_id)
        .detail(detail)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
