//! An administrator's confirmed actions on a member (Unlock, Reset, Disable …), in words: each
//! [`MemberAction`] has one title, button, question and result, which the page's dialog (with
//! JavaScript) and the confirmation page (without) both say. One route serves them all,
//! `/users/{id}/{action}`: a GET asks, a POST takes it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{admin_account, page_with, target, ConfirmPage};
use crate::domain::{MemberAction, User};
use crate::http::AppState;
use crate::service::{member_actions, two_step, ServiceError};
use crate::web::error::Result;
use crate::web::flash::Flash;
use crate::web::session::Auth;
use crate::web::{urls, Chrome};

/// The words of an action: its title, its button, the question about `who`, what it did.
pub trait Words {
    fn title(self) -> &'static str;
    /// The label of the row's link and the confirming button.
    fn button(self) -> &'static str;
    /// The question, about `who`; `sso` is the provider's name when single sign-on is set up.
    fn question(self, who: &str, sso: Option<&str>) -> String;
    /// What the page says once it is done.
    fn done(self, who: &str) -> String;
    /// Why it was not done, when the member's PIN was not in the state the action needs.
    fn refused(self, e: &ServiceError, who: &str) -> Option<String>;
}

impl Words for MemberAction {
    fn title(self) -> &'static str {
        match self {
            MemberAction::Unlock => "Unlock Support PIN",
            MemberAction::Reset => "Reset Support PIN",
            MemberAction::AllowCodes => "Allow app codes again",
            MemberAction::Enable => "Enable",
            MemberAction::Disable => "Disable",
            MemberAction::MakeUser => "Make user",
            MemberAction::MakeAdmin => "Make administrator",
            MemberAction::SsoOnly => "Single sign-on only",
            MemberAction::PasswordAgain => "Allow the password again",
        }
    }

    fn button(self) -> &'static str {
        match self {
            MemberAction::Unlock => "Unlock",
            MemberAction::Reset => "Reset PIN",
            other => other.title(),
        }
    }

    fn question(self, who: &str, sso: Option<&str>) -> String {
        let codes = two_step::MAX_SECOND_STEP_FAILURES;
        let name = sso.unwrap_or("single sign-on");
        match self {
            MemberAction::Unlock => {
                format!("Unlock the Support PIN of {who}? The PIN itself does not change.")
            }
            MemberAction::Reset => format!(
                "Give {who} a new, generated Support PIN? Their current PIN stops working at \
                 once; they will see the new one on their profile page. You will not see it."
            ),
            MemberAction::AllowCodes => format!(
                "Allow codes from the authenticator app of {who} again? They were refused after \
                 {codes} wrong ones in a row: make sure it is {who} who asks."
            ),
            MemberAction::Enable => {
                format!("Enable {who}? They can log in again with their password.")
            }
            MemberAction::Disable => format!(
                "Disable {who}? Their sessions and API tokens end at once, they cannot log in, \
                 and Support cannot verify them."
            ),
            MemberAction::MakeUser => format!(
                "Make {who} a user? They can no longer manage this account's members; their \
                 sessions end."
            ),
            MemberAction::MakeAdmin => format!(
                "Make {who} an administrator? They can then manage this account's members, \
                 unlock and reset their Support PINs; their sessions end."
            ),
            MemberAction::SsoOnly => format!(
                "Let {who} sign in only with {name}? Their password stops working, their \
                 sessions end, and they are told by mail. Make sure they have linked their \
                 {name} account."
            ),
            MemberAction::PasswordAgain => format!(
                "Let {who} log in with their password again? Their sessions end, and they are \
                 told by mail."
            ),
        }
    }

    fn done(self, who: &str) -> String {
        match self {
            MemberAction::Unlock => format!("Support PIN of {who} unlocked."),
            MemberAction::Reset => format!("{who} has a new Support PIN."),
            MemberAction::AllowCodes => {
                format!("Codes from the authenticator app of {who} work again.")
            }
            MemberAction::Enable => format!("{who} is enabled again."),
            MemberAction::Disable => {
                format!("{who} is disabled: their sessions and API tokens have ended.")
            }
            MemberAction::MakeUser => format!("{who} is now a user."),
            MemberAction::MakeAdmin => format!("{who} is now an administrator."),
            MemberAction::SsoOnly => format!(
                "{who} now signs in only with single sign-on: their password no longer works, \
                 and their sessions have ended."
            ),
            MemberAction::PasswordAgain => format!("The password of {who} works again."),
        }
    }

    fn refused(self, e: &ServiceError, who: &str) -> Option<String> {
        match (self, e) {
            (MemberAction::Unlock, ServiceError::NotLocked) => {
                Some(format!("The Support PIN of {who} is not locked."))
            }
            (MemberAction::Reset, ServiceError::Locked) => Some(format!(
                "The Support PIN of {who} is locked: unlock it before resetting it."
            )),
            _ => None,
        }
    }
}

/// A member as an action's words name them.
fn who(member: &User) -> String {
    format!("{} ({})", member.full_name, member.username)
}

/// What the shared dialog asks for one action; `text` says `{who}` where the member's name goes
/// (the page's script fills it in from the row).
pub struct Question {
    pub action: MemberAction,
    pub title: &'static str,
    pub button: &'static str,
    pub text: String,
}

/// Every question the page's dialog may ask, once per page.
pub fn questions(sso: Option<&str>) -> Vec<Question> {
    MemberAction::ALL
        .iter()
        .map(|&action| Question {
            action,
            title: action.title(),
            button: action.button(),
            text: action.question("{who}", sso),
        })
        .collect()
}

/// The confirmation page of an action (without JavaScript; with it, the same question is asked
/// in the page's dialog).
pub async fn member_action_get(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, action)): Path<(i64, MemberAction)>,
) -> Result<Response> {
    let member = target(&state, &auth, id).await?;
    let sso = state.ctx.sso.as_ref().map(|s| s.name.as_str());
    Ok(ConfirmPage {
        chrome: Chrome::of(&auth),
        action,
        title: action.title(),
        question: action.question(&who(&member), sso),
        button: action.button(),
        url: urls::member_action(id, action),
    }
    .into_response())
}

/// Takes an action, then shows the Users page with what it did (or why not).
pub async fn member_action_post(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, action)): Path<(i64, MemberAction)>,
) -> Result<Response> {
    let member = target(&state, &auth, id).await?;
    let who = who(&member);
    let (status, flash) = match member_actions::take(&state.ctx, &auth.user, &member, action).await
    {
        Ok(()) => (StatusCode::OK, Flash::done(action.done(&who))),
        Err(e) => match action.refused(&e, &who) {
            Some(why) => (StatusCode::CONFLICT, Flash::problem(why)),
            None => match e {
                ServiceError::Conflict(why) => (StatusCode::CONFLICT, Flash::problem(why)),
                ServiceError::Invalid(why) => {
                    (StatusCode::UNPROCESSABLE_ENTITY, Flash::problem(why))
                }
                e => return Err(e.into()),
            },
        },
    };
    let account = admin_account(&auth)?;
    Ok((
        status,
        page_with(&state, &auth, account, Some(flash)).await?,
    )
        .into_response())
}
