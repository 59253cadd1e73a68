//! The API's directory of people (`GET /v2.0/users`): an administrator pages through their
//! account's members, anyone else sees only themselves.

use super::{pins, policy, two_step, Actor, Ctx, Result};
use crate::domain::{MemberSummary, PinState, User, Username};
use crate::store;

/// How to list people through the API.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub username: Option<String>,
    pub email: Option<String>,
    /// The last id of the previous page.
    pub marker: Option<i64>,
    pub limit: i64,
}

/// The largest page of people one call lists.
pub const DIRECTORY_PAGE_MAX: i64 = 1000;

/// The people `actor` may list, in id order: an administrator, their account's members;
/// anyone else, themselves.
pub async fn directory(ctx: &Ctx, actor: &User, q: &Directory) -> Result<Vec<MemberSummary>> {
    let limit = q.limit.clamp(1, DIRECTORY_PAGE_MAX);
    let username = match q.username.as_deref().map(Username::parse) {
        // A name no one can have matches no one.
        Some(Err(_)) => return Ok(Vec::new()),
        Some(Ok(u)) => Some(u),
        None => None,
    };
    match actor.account_id {
        Some(account_id) if policy::may_administer(Actor::User(actor), account_id).is_ok() => {
            Ok(store::users::members_page(
                &ctx.db.pool,
                &store::users::MemberPage {
                    account_id,
                    username: username.as_ref().map(Username::as_str),
                    email: q.email.as_deref(),
                    after: q.marker,
                    limit,
                },
            )
            .await?)
        }
        _ => {
            let matches = username
                .as_ref()
                .is_none_or(|u| u.as_str() == actor.username)
                && q.email.as_deref().is_none_or(|e| {
                    actor
                        .email
                        .as_deref()
                        .is_some_and(|mine| mine.eq_ignore_ascii_case(e))
                })
                && q.marker.is_none_or(|m| actor.id > m);
            if !matches {
                return Ok(Vec::new());
            }
            let pin_state = if actor.is_agent() {
                PinState::Inactive
            } else {
                pins::status(ctx, actor, actor).await?.state
            };
            let two_step = two_step::status(ctx, actor).await?.enabled();
            Ok(vec![MemberSummary {
                user: actor.clone(),
                pin_state,
                last_pin_activity: None,
                two_step,
                second_step_failures: 0,
            }])
        }
    }
}
