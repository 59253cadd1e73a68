//! The account's activity page: who did what to whom, when, filtered and paged, and as CSV.

use super::{policy, Ctx, Result};
use crate::domain::{AccountEvent, ActivityKind, Event, User};
use crate::store::{self, audit::ActivityFilter};

/// How many events a page shows.
pub const PAGE: i64 = 50;
/// The most events one CSV export holds.
pub const EXPORT_LIMIT: i64 = 100_000;

/// Which events to show.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub member: Option<i64>,
    pub kind: Option<ActivityKind>,
    /// Events older than this id (the next page).
    pub before: Option<i64>,
}

/// A page of `account_id`'s events for one of its administrators, newest first, and the id to
/// ask for the next page with (when there is one).
pub async fn page(
    ctx: &Ctx,
    admin: &User,
    account_id: i64,
    filter: &Filter,
) -> Result<(Vec<AccountEvent>, Option<i64>)> {
    policy::may_administer(admin, account_id)?;
    let mut events = read(ctx, account_id, filter, PAGE + 1).await?;
    let more = events.len() as i64 > PAGE;
    events.truncate(PAGE as usize);
    let next = more.then(|| events.last().map(|e| e.id)).flatten();
    Ok((events, next))
}

/// Every event the filter matches (up to [`EXPORT_LIMIT`]), for the CSV export.
pub async fn export(
    ctx: &Ctx,
    admin: &User,
    account_id: i64,
    filter: &Filter,
) -> Result<Vec<AccountEvent>> {
    policy::may_administer(admin, account_id)?;
    read(ctx, account_id, filter, EXPORT_LIMIT).await
}

async fn read(ctx: &Ctx, account_id: i64, f: &Filter, limit: i64) -> Result<Vec<AccountEvent>> {
    let events: Vec<&str> = f
        .kind
        .map(|k| k.events().map(Event::as_str).collect())
        .unwrap_or_default();
    Ok(store::audit::account_activity(
        &ctx.db.pool,
        &ActivityFilter {
            account_id,
            subject_id: f.member,
            events: &events,
            before: f.before,
            limit,
        },
    )
    .await?)
}
