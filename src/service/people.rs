//! Looking people up: a member by id or by username, an account and its number, who may unlock
//! a member's PIN. The use cases above call these; these call only the store and the policy.

use super::{policy, Ctx, Result, ServiceError};
use crate::domain::{Account, AccountNumber, User, Username};
use crate::store::{self, Tx};

/// Loads the member `target_id` if `actor` may name them; `NotFound` otherwise.
pub async fn member(ctx: &Ctx, actor: &User, target_id: i64) -> Result<User> {
    let target = store::users::by_id(&ctx.db.pool, target_id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    policy::may_name(actor, &target)?;
    Ok(target)
}

/// The member of account `number` with `username`, as an agent names a caller; `None` when
/// there is no such member (agents may name any member, so this says so plainly).
pub async fn member_by_username(
    ctx: &Ctx,
    agent: &User,
    number: &AccountNumber,
    username: &Username,
) -> Result<Option<User>> {
    policy::may_verify(agent)?;
    let pool = &ctx.db.pool;
    Ok(
        match store::accounts::by_number(pool, number.as_str()).await? {
            Some(account) => {
                store::users::in_account_by_username(pool, account.id, username.as_str()).await?
            }
            None => None,
        },
    )
}

/// A person by username, for the command line.
pub async fn user_by_username(ctx: &Ctx, username: &str) -> Result<User> {
    let username = Username::parse(username).map_err(ServiceError::Invalid)?;
    store::users::by_username(&ctx.db.pool, username.as_str())
        .await?
        .ok_or_else(|| ServiceError::Invalid(format!("There is no user '{username}'.")))
}

/// The account a member belongs to; `None` for agents.
pub async fn account_of(ctx: &Ctx, user: &User) -> Result<Option<Account>> {
    match user.account_id {
        Some(id) => Ok(store::accounts::by_id(&ctx.db.pool, id).await?),
        None => Ok(None),
    }
}

/// The account numbered `number`.
pub async fn account_by_number(ctx: &Ctx, number: &str) -> Result<Account> {
    let number = AccountNumber::parse(number).map_err(ServiceError::Invalid)?;
    store::accounts::by_number(&ctx.db.pool, number.as_str())
        .await?
        .ok_or_else(|| ServiceError::Invalid(format!("There is no account numbered {number}.")))
}

/// Who may unlock `member`'s PIN besides the member: the enabled people of the account whose
/// role lets them unlock another's PIN ([`policy::roles_that_unlock_others`]), each checked
/// with [`policy::may_unlock`] itself, so the banner, the lock mail and the rule cannot drift.
pub async fn unlockers(ctx: &Ctx, member: &User, account: &Account) -> Result<Vec<User>> {
    let mut conn = ctx.db.pool.acquire().await?;
    unlockers_on(&mut conn, member, account).await
}

/// [`unlockers`] on the connection given: inside a transaction, a lock reads them while it
/// holds its write transaction (a second connection there could wait for ever behind that
/// writer).
pub async fn unlockers_on(conn: &mut Tx, member: &User, account: &Account) -> Result<Vec<User>> {
    let roles = policy::roles_that_unlock_others();
    let found = store::users::enabled_with_roles(conn, account.id, roles).await?;
    Ok(found
        .into_iter()
        .filter(|u| {
            u.id != member.id && policy::may_unlock(u, member, account.unlock_policy).is_ok()
        })
        .collect())
}
