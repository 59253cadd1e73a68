//! The alarm for impostors: many wrong PINs for one account in a short time is what someone
//! pretending to be its people looks like. The account's administrators get one mail (at most
//! one an hour, through the outbox) and the Overview shows the warning until one of them
//! acknowledges it.

use super::mail::messages;
use super::{policy, Actor, Ctx, Result, ServiceError};
use crate::domain::{AlarmReason, Event, Role, User};
use crate::store::{self, alarms::Alarm};

/// Wrong verifications across an account's members within [`WRONG_PINS_WINDOW`] that raise it.
pub const WRONG_PINS_PER_HOUR: i64 = 10;
pub const WRONG_PINS_WINDOW: i64 = 3600;
/// PINs locked within [`LOCKS_WINDOW`] that raise it.
pub const LOCKS_PER_DAY: i64 = 2;
pub const LOCKS_WINDOW: i64 = 86_400;
/// At most one warning in this many seconds per account.
pub const ALARM_EVERY: i64 = 3600;

/// After a wrong PIN for `member`: raises the account's alarm when a threshold is reached and
/// none was raised in the last hour.
pub async fn after_wrong_pin(ctx: &Ctx, member: &User) -> Result<()> {
    let Some(account_id) = member.account_id else {
        return Ok(());
    };
    let now = store::now();
    let pool = &ctx.db.pool;
    let wrong = Event::PinVerifyFailed;
    let wrong = store::alarms::count_since(pool, account_id, wrong, now - WRONG_PINS_WINDOW);
    let (reason, count) = match wrong.await? {
        n if n >= WRONG_PINS_PER_HOUR => (AlarmReason::WrongPins, n),
        _ => {
            let locked = Event::PinLocked;
            match store::alarms::count_since(pool, account_id, locked, now - LOCKS_WINDOW).await? {
                n if n >= LOCKS_PER_DAY => (AlarmReason::Locks, n),
                _ => return Ok(()),
            }
        }
    };
    let mut tx = ctx.db.begin().await?;
    if !store::alarms::claim(&mut tx, account_id, now, ALARM_EVERY).await? {
        return Ok(());
    }
    store::alarms::insert(&mut tx, account_id, now, reason, count).await?;
    let account = store::accounts::by_id(&mut *tx, account_id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    let admins = store::users::enabled_with_roles(&mut tx, account_id, &[Role::Admin]).await?;
    for admin in &admins {
        messages::impostor_alarm(ctx, &mut tx, admin, &account, reason.words(count)).await?;
    }
    tx.commit().await?;
    tracing::warn!(account = %account.number, reason = reason.as_str(), count, "impostor alarm");
    Ok(())
}

/// The account's warning nobody has acknowledged yet, in words.
pub async fn open(ctx: &Ctx, admin: &User, account_id: i64) -> Result<Option<(Alarm, String)>> {
    policy::may_administer(Actor::User(admin), account_id)?;
    Ok(store::alarms::open(&ctx.db.pool, account_id)
        .await?
        .map(|a| {
            let words = a.reason.words(a.count);
            (a, words)
        }))
}

/// An administrator has seen the warning `id`.
pub async fn acknowledge(ctx: &Ctx, admin: &User, account_id: i64, id: i64) -> Result<()> {
    policy::may_administer(Actor::User(admin), account_id)?;
    let by = admin.username.as_str();
    if !store::alarms::acknowledge(&ctx.db.pool, account_id, id, by, store::now()).await? {
        return Err(ServiceError::NotFound);
    }
    Ok(())
}
