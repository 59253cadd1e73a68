//! The alarm for impostors: many wrong PINs for one account in a short time is what someone
//! pretending to be its people looks like. The account's administrators get one mail (at most
//! one an hour, through the outbox) and the Overview shows the warning until one of them
//! acknowledges it.

use super::mail::messages;
use super::{policy, Ctx, Result, ServiceError};
use crate::domain::{Event, Role, User};
use crate::store::{self, alarms::Alarm};

/// Wrong verifications across an account's members within [`WRONG_PINS_WINDOW`] that raise it.
pub const WRONG_PINS_PER_HOUR: i64 = 10;
pub const WRONG_PINS_WINDOW: i64 = 3600;
/// PINs locked within [`LOCKS_WINDOW`] that raise it.
pub const LOCKS_PER_DAY: i64 = 2;
pub const LOCKS_WINDOW: i64 = 86_400;
/// At most one warning in this many seconds per account.
pub const ALARM_EVERY: i64 = 3600;

/// Why an alarm was raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// `count` wrong PINs within the last hour.
    WrongPins,
    /// `count` PINs locked within the last day.
    Locks,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::WrongPins => "wrong",
            Reason::Locks => "locked",
        }
    }

    /// The warning in words, as the mail and the Overview give it.
    pub fn words(self, count: i64) -> String {
        match self {
            Reason::WrongPins => format!(
                "Support was given wrong PINs for your account {count} times in the last hour: \
                 someone may be calling pretending to be your people."
            ),
            Reason::Locks => format!(
                "{count} Support PINs of your account were locked in the last day after wrong \
                 PINs given to Support: someone may be calling pretending to be your people."
            ),
        }
    }
}

/// After a wrong PIN for `member`: raises the account's alarm when a threshold is reached and
/// none was raised in the last hour.
pub async fn after_wrong_pin(ctx: &Ctx, member: &User) -> Result<()> {
    let Some(account_id) = member.account_id else {
        return Ok(());
    };
    let now = store::now();
    let pool = &ctx.db.pool;
    let wrong = Event::PinVerifyFailed.as_str();
    let wrong = store::alarms::count_since(pool, account_id, wrong, now - WRONG_PINS_WINDOW);
    let (reason, count) = match wrong.await? {
        n if n >= WRONG_PINS_PER_HOUR => (Reason::WrongPins, n),
        _ => {
            let locked = Event::PinLocked.as_str();
            match store::alarms::count_since(pool, account_id, locked, now - LOCKS_WINDOW).await? {
                n if n >= LOCKS_PER_DAY => (Reason::Locks, n),
                _ => return Ok(()),
            }
        }
    };
    let mut tx = ctx.db.begin().await?;
    if !store::alarms::claim(&mut tx, account_id, now, ALARM_EVERY).await? {
        return Ok(());
    }
    store::alarms::insert(&mut tx, account_id, now, reason.as_str(), count).await?;
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
    policy::may_administer(admin, account_id)?;
    Ok(store::alarms::open(&ctx.db.pool, account_id)
        .await?
        .map(|a| {
            let reason = match a.reason.as_str() {
                "locked" => Reason::Locks,
                _ => Reason::WrongPins,
            };
            let words = reason.words(a.count);
            (a, words)
        }))
}

/// An administrator has seen the warning `id`.
pub async fn acknowledge(ctx: &Ctx, admin: &User, account_id: i64, id: i64) -> Result<()> {
    policy::may_administer(admin, account_id)?;
    let by = admin.username.as_str();
    if !store::alarms::acknowledge(&ctx.db.pool, account_id, id, by, store::now()).await? {
        return Err(ServiceError::NotFound);
    }
    Ok(())
}
