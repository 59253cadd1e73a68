//! Running an account from the Users page: adding a member (with an invitation), disabling and
//! enabling, making administrators and users (each a confirmed POST). The rules (the last
//! administrator, nobody changing themselves) are the service's.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;

use super::error::Result;
use super::flash::Flash;
use super::session::Auth;
use super::users::Notice;
use super::users::{admin_account, page, page_with, target, AddForm, ConfirmAction, ConfirmPage};
use super::{urls, Chrome};
use crate::domain::Role;
use crate::http::AppState;
use crate::service::{links, members, sso, two_step, Actor, ServiceError};

/// Add a member: a generated PIN and an invitation (mailed, or shown once to pass on).
pub async fn add_post(
    State(state): State<AppState>,
    auth: Auth,
    Form(form): Form<AddForm>,
) -> Result<Response> {
    let account = admin_account(&auth)?;
    let new = links::NewMember {
        username: form.username.clone(),
        full_name: form.name.clone(),
        email: form.email.clone(),
        kind: form.kind,
        role: form.role,
    };
    match links::invite(&state.ctx, &auth.user, &account, new).await {
        Ok(invited) => {
            let who = format!("{} ({})", invited.member.full_name, invited.member.username);
            let flash = if invited.link_to_pass_on.is_some() {
                format!("{who} was added, with a generated Support PIN.")
            } else {
                format!(
                    "{who} was added, with a generated Support PIN, and was sent an invitation \
                     to choose a password."
                )
            };
            let notice = Notice {
                flash: Some(Flash::done(flash)),
                invitation: invited.link_to_pass_on.map(|link| (who, link)),
                ..Notice::default()
            };
            Ok(page(&state, &auth, account, notice).await?.into_response())
        }
        Err(ServiceError::Invalid(why) | ServiceError::Conflict(why)) => {
            let notice = Notice {
                add: form,
                add_error: Some(why),
                ..Notice::default()
            };
            let p = page(&state, &auth, account, notice).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, p).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// The confirmed actions on a member.
#[derive(Debug, Clone, Copy)]
pub enum MemberChange {
    Disable,
    Enable,
    MakeAdmin,
    MakeUser,
    /// Codes from the member's app work again after too many wrong ones.
    AllowCodes,
    /// The member signs in only with single sign-on.
    SsoOnly,
    /// The member's password works again.
    PasswordAgain,
}

impl MemberChange {
    fn title(self) -> &'static str {
        match self {
            MemberChange::Disable => "Disable",
            MemberChange::Enable => "Enable",
            MemberChange::MakeAdmin => "Make administrator",
            MemberChange::MakeUser => "Make user",
            MemberChange::AllowCodes => "Allow app codes again",
            MemberChange::SsoOnly => "Single sign-on only",
            MemberChange::PasswordAgain => "Allow the password again",
        }
    }

    fn route(self) -> &'static str {
        match self {
            MemberChange::Disable => urls::USER_DISABLE,
            MemberChange::Enable => urls::USER_ENABLE,
            MemberChange::MakeAdmin => urls::USER_MAKE_ADMIN,
            MemberChange::MakeUser => urls::USER_MAKE_USER,
            MemberChange::AllowCodes => urls::USER_ALLOW_CODES,
            MemberChange::SsoOnly => urls::USER_SSO_ONLY,
            MemberChange::PasswordAgain => urls::USER_PASSWORD_AGAIN,
        }
    }

    fn done(self, who: &str) -> String {
        match self {
            MemberChange::Disable => {
                format!("{who} is disabled: their sessions and API tokens have ended.")
            }
            MemberChange::Enable => format!("{who} is enabled again."),
            MemberChange::MakeAdmin => format!("{who} is now an administrator."),
            MemberChange::MakeUser => format!("{who} is now a user."),
            MemberChange::AllowCodes => {
                format!("Codes from the authenticator app of {who} work again.")
            }
            MemberChange::SsoOnly => format!(
                "{who} now signs in only with single sign-on: their password no longer works, \
                 and their sessions have ended."
            ),
            MemberChange::PasswordAgain => format!("The password of {who} works again."),
        }
    }
}

/// The confirmation page of a change (without JavaScript; with it, the same form is a dialog).
async fn confirm(state: &AppState, auth: &Auth, id: i64, change: MemberChange) -> Result<Response> {
    let member = target(state, auth, id).await?;
    Ok(ConfirmPage {
        chrome: Chrome::of(auth),
        action: if matches!(change, MemberChange::Disable) {
            ConfirmAction::Danger
        } else {
            ConfirmAction::Confirm
        },
        title: format!("{}: {}", change.title(), member.full_name),
        question: format!(
            "{} {} ({})?",
            change.title(),
            member.full_name,
            member.username
        ),
        button: change.title(),
        url: urls::with_id(change.route(), id),
    }
    .into_response())
}

async fn apply(state: &AppState, auth: &Auth, id: i64, change: MemberChange) -> Result<Response> {
    let member = target(state, auth, id).await?;
    let actor = Actor::User(&auth.user);
    let ctx = &state.ctx;
    let result = match change {
        MemberChange::Disable => members::set_enabled(ctx, actor, &member, false).await,
        MemberChange::Enable => members::set_enabled(ctx, actor, &member, true).await,
        MemberChange::MakeAdmin => members::set_role(ctx, actor, &member, Role::Admin).await,
        MemberChange::MakeUser => members::set_role(ctx, actor, &member, Role::User).await,
        MemberChange::AllowCodes => two_step::allow_codes_again(ctx, &auth.user, &member).await,
        MemberChange::SsoOnly => sso::set_sso_only(ctx, actor, &member, true).await,
        MemberChange::PasswordAgain => sso::set_sso_only(ctx, actor, &member, false).await,
    };
    let who = format!("{} ({})", member.full_name, member.username);
    let account = admin_account(auth)?;
    let (status, flash) = match result {
        Ok(()) => (StatusCode::OK, Flash::done(change.done(&who))),
        Err(ServiceError::Conflict(why)) => (StatusCode::CONFLICT, Flash::problem(why)),
        Err(ServiceError::Invalid(why)) => (StatusCode::UNPROCESSABLE_ENTITY, Flash::problem(why)),
        Err(e) => return Err(e.into()),
    };
    Ok((status, page_with(state, auth, account, Some(flash)).await?).into_response())
}

macro_rules! change_handlers {
    ($($get:ident, $post:ident => $change:expr;)*) => {
        $(
            pub async fn $get(
                State(state): State<AppState>,
                auth: Auth,
                Path(id): Path<i64>,
            ) -> Result<Response> {
                confirm(&state, &auth, id, $change).await
            }

            pub async fn $post(
                State(state): State<AppState>,
                auth: Auth,
                Path(id): Path<i64>,
            ) -> Result<Response> {
                apply(&state, &auth, id, $change).await
            }
        )*
    };
}

change_handlers! {
    disable_get, disable_post => MemberChange::Disable;
    enable_get, enable_post => MemberChange::Enable;
    make_admin_get, make_admin_post => MemberChange::MakeAdmin;
    make_user_get, make_user_post => MemberChange::MakeUser;
    allow_codes_get, allow_codes_post => MemberChange::AllowCodes;
    sso_only_get, sso_only_post => MemberChange::SsoOnly;
    password_again_get, password_again_post => MemberChange::PasswordAgain;
}
