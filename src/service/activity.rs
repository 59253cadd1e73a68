//! The account's activity page: who did what to whom, when, filtered and paged, and as CSV.

use super::{policy, Actor, Ctx, Result, ServiceError};
use crate::domain::{AccountEvent, ActivityKind, Event, User, Username};
use crate::store::{self, audit::ActivityFilter};

/// How many events a page shows.
pub const PAGE: i64 = 50;
/// How many events the CSV export reads at a time.
pub const EXPORT_BATCH: i64 = 1_000;

/// How many of their own verifications an agent's page lists.
pub const OWN_VERIFICATIONS: i64 = 20;

/// Which events to show.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only events about the member with this username.
    pub member: Option<Username>,
    pub kind: Option<ActivityKind>,
    /// Events older than this id (the next page).
    pub before: Option<i64>,
    /// Events at or after this time, and before that one (unix seconds).
    pub from: Option<i64>,
    pub until: Option<i64>,
}

/// The agent's own latest verifications (never a PIN: the events hold none).
pub async fn own_verifications(ctx: &Ctx, agent: &User) -> Result<Vec<AccountEvent>> {
    policy::may_verify(agent)?;
    let events = [Event::PinVerified, Event::PinVerifyFailed];
    Ok(store::audit::by_actor(&ctx.db.pool, agent.id, &events, OWN_VERIFICATIONS).await?)
}

/// A page of `account_id`'s events for one of its administrators, newest first, and the id to
/// ask for the next page with (when there is one).
pub async fn page(
    ctx: &Ctx,
    admin: &User,
    account_id: i64,
    filter: &Filter,
) -> Result<(Vec<AccountEvent>, Option<i64>)> {
    policy::may_administer(Actor::User(admin), account_id)?;
    let mut events = read(ctx, account_id, filter, PAGE + 1).await?;
    let more = events.len() as i64 > PAGE;
    events.truncate(PAGE as usize);
    let next = more.then(|| events.last().map(|e| e.id)).flatten();
    Ok((events, next))
}

/// Every event the filter matches, for the CSV export: read [`EXPORT_BATCH`] at a time, newest
/// first, so a year of activity exports in constant memory. The caller and the filters are
/// checked here, before the first byte.
pub async fn export(ctx: &Ctx, admin: &User, account_id: i64, filter: &Filter) -> Result<Export> {
    policy::may_administer(Actor::User(admin), account_id)?;
    let filter = resolve(ctx, account_id, filter, EXPORT_BATCH).await?;
    Ok(Export {
        ctx: ctx.clone(),
        filter,
        done: false,
    })
}

/// An export being read (see [`export`]). Each batch reads below the last id of the one before
/// (keyset, not offset): events recorded meanwhile are newer, so none is read twice or skipped.
pub struct Export {
    ctx: Ctx,
    filter: ActivityFilter,
    done: bool,
}

impl Export {
    /// The next events, newest first; empty once every one has been read.
    pub async fn next_batch(&mut self) -> Result<Vec<AccountEvent>> {
        if self.done {
            return Ok(Vec::new());
        }
        let events = store::audit::account_activity(&self.ctx.db.pool, &self.filter).await?;
        self.done = (events.len() as i64) < self.filter.limit;
        self.filter.before = events.last().map(|e| e.id);
        Ok(events)
    }
}

async fn read(ctx: &Ctx, account_id: i64, f: &Filter, limit: i64) -> Result<Vec<AccountEvent>> {
    let filter = resolve(ctx, account_id, f, limit).await?;
    Ok(store::audit::account_activity(&ctx.db.pool, &filter).await?)
}

/// The store's filter for `f`: the date range checked, the member found in the account.
async fn resolve(ctx: &Ctx, account_id: i64, f: &Filter, limit: i64) -> Result<ActivityFilter> {
    if let (Some(from), Some(until)) = (f.from, f.until) {
        if until <= from {
            return Err(ServiceError::Invalid(
                "The date range ends before it starts: choose a “to” date on or after the \
                 “from” date."
                    .into(),
            ));
        }
    }
    let member = match &f.member {
        Some(name) => Some(
            store::users::in_account_by_username(&ctx.db.pool, account_id, name.as_str())
                .await?
                .ok_or_else(|| {
                    ServiceError::Invalid(format!("This account has no member named {name}."))
                })?
                .id,
        ),
        None => None,
    };
    Ok(ActivityFilter {
        account_id,
        subject_id: member,
        kind: f.kind,
        before: f.before,
        from: f.from,
        until: f.until,
        limit,
    })
}
