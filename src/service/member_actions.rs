//! An administrator's confirmed actions on a member (the Users page's catalogue,
//! [`MemberAction`]), each taken by the one use case that exists for it, so the page takes the
//! same path as the API, provisioning and the command line. Which actions a member is offered
//! is [`super::policy::actions_on`]'s.

use super::{members, pins, sso, two_step, Actor, Ctx, Result};
use crate::domain::{MemberAction, Role, User};

/// `admin` takes `action` on `member`; each use case checks who may.
pub async fn take(ctx: &Ctx, admin: &User, member: &User, action: MemberAction) -> Result<()> {
    let actor = Actor::User(admin);
    match action {
        MemberAction::Unlock => pins::unlock(ctx, admin, member).await,
        MemberAction::Reset => pins::reset(ctx, actor, member, false).await,
        MemberAction::AllowCodes => two_step::allow_codes_again(ctx, admin, member).await,
        MemberAction::Enable => members::set_enabled(ctx, actor, member, true).await,
        MemberAction::Disable => members::set_enabled(ctx, actor, member, false).await,
        MemberAction::MakeUser => members::set_role(ctx, actor, member, Role::User).await,
        MemberAction::MakeAdmin => members::set_role(ctx, actor, member, Role::Admin).await,
        MemberAction::SsoOnly => sso::set_sso_only(ctx, actor, member, true).await,
        MemberAction::PasswordAgain => sso::set_sso_only(ctx, actor, member, false).await,
    }
}
