//! The administrators' Users page (SPEC web panel step 6), assembled: the member list
//! ([`listing`]), each member's confirmed actions ([`actions`]), adding a member ([`add`]), the
//! Provisioning section ([`provisioning`]) and the account's unlock policy. Only members of the
//! administrator's own account can be named; any other id is 404.

pub mod actions;
pub mod add;
pub mod listing;
pub mod provisioning;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use super::error::{Result, WebError};
use super::flash::Flash;
use super::session::Auth;
use super::{urls, Chrome};
use crate::domain::{
    Account, DisplayName, EmailAddress, MemberAction, UnlockPolicy, User, Username,
};
use crate::http::AppState;
use crate::service::{accounts, people, policy, Actor};
use actions::Question;
use add::AddForm;
use listing::{ListQuery, ListView, MemberRow};
use provisioning::Section;

/// What the Users page says above the list.
#[derive(Default)]
pub struct Notice {
    pub flash: Option<Flash>,
    /// An invitation link to pass on by hand (mail is not configured), shown once.
    pub invitation: Option<(String, String)>,
    /// The add-member form, with the reason it was refused.
    pub add: AddForm,
    pub add_error: Option<String>,
    /// A provisioning token just made: (its name, the token), shown once.
    pub new_token: Option<(String, String)>,
    /// The token form, with the reason it was refused.
    pub token_error: Option<String>,
    /// Which members to list (the search, the filter, the page).
    pub listing: ListQuery,
}

#[derive(Template, WebTemplate)]
#[template(path = "users/page.html")]
pub struct UsersPage {
    chrome: Chrome,
    account_name: String,
    account_number: String,
    policy: UnlockPolicy,
    members: Vec<MemberRow>,
    list: ListView,
    /// What the shared confirmation dialog may ask.
    questions: Vec<Question>,
    flash: Option<Flash>,
    invitation: Option<(String, String)>,
    add: AddForm,
    add_error: Option<String>,
    mail_sends: bool,
    provisioning: Section,
}

#[derive(Template, WebTemplate)]
#[template(path = "users/confirm.html")]
pub struct ConfirmPage {
    pub chrome: Chrome,
    pub action: MemberAction,
    pub title: &'static str,
    pub question: String,
    pub button: &'static str,
    pub url: String,
}

/// The administrator's account, or 403 for anyone else.
pub(crate) fn admin_account(auth: &Auth) -> Result<Account> {
    let refused =
        || WebError::Forbidden("Only administrators of an account may manage its users.".into());
    let account = auth.account.as_ref().ok_or_else(refused)?;
    policy::may_administer(Actor::User(&auth.user), account.id).map_err(|_| refused())?;
    Ok(account.clone())
}

pub(crate) async fn page(
    state: &AppState,
    auth: &Auth,
    account: Account,
    notice: Notice,
) -> Result<UsersPage> {
    let sso_name = state.ctx.sso.as_ref().map(|s| s.name.as_str());
    let (list, members) = listing::list(state, auth, &account, &notice.listing).await?;
    Ok(UsersPage {
        chrome: Chrome::of(auth),
        members,
        list,
        questions: actions::questions(sso_name),
        flash: notice.flash,
        invitation: notice.invitation,
        provisioning: provisioning::section(
            state,
            auth,
            &account,
            notice.new_token,
            notice.token_error,
        )
        .await?,
        account_name: account.name,
        account_number: account.number,
        policy: account.unlock_policy,
        add: notice.add,
        add_error: notice.add_error,
        mail_sends: state.ctx.settings.mail_sends,
    })
}

/// [`page`] with only a message.
pub(crate) async fn page_with(
    state: &AppState,
    auth: &Auth,
    account: Account,
    flash: Option<Flash>,
) -> Result<UsersPage> {
    page(
        state,
        auth,
        account,
        Notice {
            flash,
            ..Notice::default()
        },
    )
    .await
}

pub async fn users_get(
    State(state): State<AppState>,
    auth: Auth,
    Query(listing): Query<ListQuery>,
) -> Result<Response> {
    let account = admin_account(&auth)?;
    let notice = Notice {
        listing,
        ..Notice::default()
    };
    let page = page(&state, &auth, account, notice).await?;
    let status = if page.list.problem.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, page).into_response())
}

#[derive(Deserialize)]
pub struct PolicyForm {
    #[serde(default)]
    unlock_policy: String,
}

pub async fn policy_post(
    State(state): State<AppState>,
    auth: Auth,
    Form(form): Form<PolicyForm>,
) -> Result<Response> {
    let mut account = admin_account(&auth)?;
    let Ok(policy) = form.unlock_policy.parse::<UnlockPolicy>() else {
        let flash = Some(Flash::problem("Choose who may unlock PINs."));
        let p = page_with(&state, &auth, account, flash).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, p).into_response());
    };
    accounts::set_unlock_policy(&state.ctx, Actor::User(&auth.user), account.id, policy).await?;
    account.unlock_policy = policy;
    let message = match policy {
        UnlockPolicy::SelfService => "Members may now unlock their own Support PIN.",
        UnlockPolicy::Admins => "Only administrators may now unlock Support PINs.",
    };
    Ok(
        page_with(&state, &auth, account, Some(Flash::done(message)))
            .await?
            .into_response(),
    )
}

/// The member `id` if the administrator may name them (same account), else 404.
pub(crate) async fn target(state: &AppState, auth: &Auth, id: i64) -> Result<User> {
    admin_account(auth)?;
    Ok(people::member(&state.ctx, &auth.user, id).await?)
}
