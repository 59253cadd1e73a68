//! The administrators' Overview: the account's verifications per day for the last 30 days, the
//! members whose PIN is locked now, the last events, and the alarm for impostors.

use super::{alarm, policy, Actor, Ctx, Result};
use crate::domain::{AccountEvent, Event, User};
use crate::store::{self, alarms::Alarm, audit::ActivityFilter};

/// How many days the chart shows, today included.
pub const DAYS: i64 = 30;
/// How many of the latest events it lists.
pub const RECENT: i64 = 10;
/// How many locked members it lists (the Users page filters to all of them).
pub const LOCKED_SHOWN: i64 = 50;

/// One day's verifications of the account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Day {
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    pub correct: i64,
    pub wrong: i64,
    pub locked: i64,
}

impl Day {
    pub fn total(&self) -> i64 {
        self.correct + self.wrong + self.locked
    }
}

pub struct Overview {
    /// [`DAYS`] days, the oldest first.
    pub days: Vec<Day>,
    pub locked: Vec<User>,
    pub recent: Vec<AccountEvent>,
    /// The warning nobody has acknowledged, with its words.
    pub alarm: Option<(Alarm, String)>,
}

pub async fn overview(ctx: &Ctx, admin: &User, account_id: i64) -> Result<Overview> {
    policy::may_administer(Actor::User(admin), account_id)?;
    let pool = &ctx.db.pool;
    let today = store::now().div_euclid(86_400);
    let first = today - (DAYS - 1);
    let events = [Event::PinVerified, Event::PinVerifyFailed, Event::PinLocked];
    let counted =
        store::audit::verifications_per_day(pool, account_id, &events, first * 86_400).await?;
    let mut days: Vec<Day> = (first..=today)
        .map(|day| Day {
            day,
            ..Day::default()
        })
        .collect();
    for (day, event, n) in counted {
        let Some(d) = usize::try_from(day - first)
            .ok()
            .and_then(|i| days.get_mut(i))
        else {
            continue;
        };
        match event {
            Event::PinVerified => d.correct += n,
            Event::PinVerifyFailed => d.wrong += n,
            Event::PinLocked => d.locked += n,
            // Only the three asked for are counted.
            _ => {}
        }
    }
    // The attempt that locks a PIN is recorded as a failure and as the lock: drawn once, as
    // the lock.
    for d in &mut days {
        d.wrong = (d.wrong - d.locked).max(0);
    }
    let locked = store::users::locked_members(pool, account_id, LOCKED_SHOWN).await?;
    let recent = store::audit::account_activity(
        pool,
        &ActivityFilter {
            account_id,
            subject_id: None,
            kind: None,
            before: None,
            from: None,
            until: None,
            limit: RECENT,
        },
    )
    .await?;
    let alarm = alarm::open(ctx, admin, account_id).await?;
    Ok(Overview {
        days,
        locked,
        recent,
        alarm,
    })
}
