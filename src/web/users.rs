//! The administrators' Users page (SPEC web panel step 6): members with kind, role, PIN state
//! and last PIN activity; Unlock and Reset PIN; the account's unlock policy. Only members of
//! the administrator's own account can be named; any other id is 404.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use super::error::{Result, WebError};
use super::session::Auth;
use super::{urls, Chrome};
use crate::domain::{Account, PinState, UnlockPolicy, User};
use crate::http::time::format_time;
use crate::http::AppState;
use crate::service::{accounts, pins, policy, Actor, ServiceError};

pub struct MemberRow {
    pub id: i64,
    pub full_name: String,
    pub username: String,
    pub kind: &'static str,
    pub role: &'static str,
    pub state: PinState,
    pub state_label: &'static str,
    pub last_activity: String,
    pub disabled: bool,
    /// Has no e-mail address, so gets no mail.
    pub no_email: bool,
    pub is_me: bool,
    pub unlock_url: String,
    pub reset_url: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "users/page.html")]
pub struct UsersPage {
    chrome: Chrome,
    account_name: String,
    account_number: String,
    policy: UnlockPolicy,
    members: Vec<MemberRow>,
    flash: Option<String>,
    flash_is_error: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "users/confirm.html")]
pub struct ConfirmPage {
    chrome: Chrome,
    action: &'static str,
    title: String,
    question: String,
    button: &'static str,
    url: String,
}

/// The administrator's account, or 403 for anyone else.
fn admin_account(auth: &Auth) -> Result<Account> {
    let refused =
        || WebError::Forbidden("Only administrators of an account may manage its users.".into());
    let account = auth.account.as_ref().ok_or_else(refused)?;
    policy::may_administer(&auth.user, account.id).map_err(|_| refused())?;
    Ok(account.clone())
}

async fn page(
    state: &AppState,
    auth: &Auth,
    account: Account,
    flash: Option<(String, bool)>,
) -> Result<UsersPage> {
    let members = accounts::members(&state.ctx, Actor::User(&auth.user), account.id)
        .await?
        .into_iter()
        .map(|m| MemberRow {
            id: m.user.id,
            unlock_url: urls::with_id(urls::USER_UNLOCK, m.user.id),
            reset_url: urls::with_id(urls::USER_RESET, m.user.id),
            is_me: m.user.id == auth.user.id,
            full_name: m.user.full_name,
            username: m.user.username,
            kind: m.user.kind.map_or("", |k| k.label()),
            role: m.user.role.label(),
            state: m.pin_state,
            state_label: m.pin_state.label(),
            last_activity: m.last_pin_activity.map(format_time).unwrap_or_default(),
            disabled: m.user.disabled,
            no_email: m.user.email.is_none(),
        })
        .collect();
    let (flash, flash_is_error) = match flash {
        Some((f, e)) => (Some(f), e),
        None => (None, false),
    };
    Ok(UsersPage {
        chrome: Chrome::of(auth),
        account_name: account.name,
        account_number: account.number,
        policy: account.unlock_policy,
        members,
        flash,
        flash_is_error,
    })
}

pub async fn users_get(State(state): State<AppState>, auth: Auth) -> Result<UsersPage> {
    page(&state, &auth, admin_account(&auth)?, None).await
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
        let flash = Some(("Choose who may unlock PINs.".into(), true));
        let p = page(&state, &auth, account, flash).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, p).into_response());
    };
    accounts::set_unlock_policy(&state.ctx, Actor::User(&auth.user), account.id, policy).await?;
    account.unlock_policy = policy;
    let message = match policy {
        UnlockPolicy::SelfService => "Members may now unlock their own Support PIN.",
        UnlockPolicy::Admins => "Only administrators may now unlock Support PINs.",
    };
    Ok(page(&state, &auth, account, Some((message.into(), false)))
        .await?
        .into_response())
}

/// The member `id` if the administrator may name them (same account), else 404.
async fn target(state: &AppState, auth: &Auth, id: i64) -> Result<User> {
    admin_account(auth)?;
    Ok(pins::member(&state.ctx, &auth.user, id).await?)
}

pub async fn unlock_get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> Result<Response> {
    let member = target(&state, &auth, id).await?;
    Ok(ConfirmPage {
        chrome: Chrome::of(&auth),
        action: "unlock",
        title: "Unlock Support PIN".into(),
        question: format!(
            "Unlock the Support PIN of {} ({})?",
            member.full_name, member.username
        ),
        button: "Unlock",
        url: urls::with_id(urls::USER_UNLOCK, id),
    }
    .into_response())
}

pub async fn unlock_post(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> Result<Response> {
    let member = target(&state, &auth, id).await?;
    let (status, flash) = match pins::unlock(&state.ctx, &auth.user, &member).await {
        Ok(()) => (
            StatusCode::OK,
            (
                format!("Support PIN of {} unlocked.", member.full_name),
                false,
            ),
        ),
        Err(ServiceError::NotLocked) => (
            StatusCode::CONFLICT,
            (
                format!("The Support PIN of {} is not locked.", member.full_name),
                true,
            ),
        ),
        Err(e) => return Err(e.into()),
    };
    let account = admin_account(&auth)?;
    Ok((status, page(&state, &auth, account, Some(flash)).await?).into_response())
}

pub async fn reset_get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> Result<Response> {
    let member = target(&state, &auth, id).await?;
    Ok(ConfirmPage {
        chrome: Chrome::of(&auth),
        action: "reset",
        title: "Reset Support PIN".into(),
        question: format!(
            "Give {} ({}) a new, generated Support PIN? Their current PIN stops working at once; \
             they will see the new one on their profile page.",
            member.full_name, member.username
        ),
        button: "Reset PIN",
        url: urls::with_id(urls::USER_RESET, id),
    }
    .into_response())
}

pub async fn reset_post(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> Result<Response> {
    let member = target(&state, &auth, id).await?;
    let (status, flash) =
        match pins::reset(&state.ctx, Actor::User(&auth.user), &member, false).await {
            Ok(()) => (
                StatusCode::OK,
                (
                    format!("{} has a new Support PIN.", member.full_name),
                    false,
                ),
            ),
            Err(ServiceError::Locked) => (
                StatusCode::CONFLICT,
                (
                    format!(
                        "The Support PIN of {} is locked: unlock it before resetting it.",
                        member.full_name
                    ),
                    true,
                ),
            ),
            Err(e) => return Err(e.into()),
        };
    let account = admin_account(&auth)?;
    Ok((status, page(&state, &auth, account, Some(flash)).await?).into_response())
}
