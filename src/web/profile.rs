//! The profile page and its Support PIN section (SPEC web panel steps 2, 3, 4, 5 and 8).
//!
//! Every URL here answers an htmx request with the section fragment and a plain request with the
//! whole profile page showing the same state, so each step works without JavaScript. No URL
//! names a member: the section is always the logged-in person's own.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use secrecy::SecretString;
use serde::Deserialize;

use super::email::Waiting;
use super::error::{Result, WebError};
use super::flash::Flash;
use super::session::Auth;
use super::{urls, Chrome, Htmx};
use crate::domain::{sentence, PinState, Said, MAX_PIN_FAILURES, PIN_GUIDANCE, PIN_LEN};
use crate::http::time::{format_time, iso_time};
use crate::http::AppState;
use crate::service::policy::{self, RecentPassword};
use crate::service::{email, login::reauthenticate, people, pins, sso, ServiceError};

/// How many activity entries the section lists.
const ACTIVITY_LIMIT: i64 = 10;

/// One line of the PIN activity list.
pub struct ActivityRow {
    pub when: String,
    pub iso: String,
    pub what: String,
    /// The stored code, as the row's title.
    pub code: &'static str,
}

/// What a password re-entry in the section leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReauthFor {
    Show,
    Edit,
}

impl std::fmt::Display for ReauthFor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReauthFor::Show => "show",
            ReauthFor::Edit => "edit",
        })
    }
}

/// What the section shows besides the state.
#[derive(Default)]
pub struct View {
    /// The PIN, when the owner asked to see it.
    pub shown_pin: Option<String>,
    /// The edit form is open.
    pub editing: bool,
    /// Why the last candidate PIN was refused.
    pub errors: Vec<&'static str>,
    /// The password is needed before showing or editing can go on.
    pub reauth_for: Option<ReauthFor>,
    pub reauth_error: bool,
    /// A confirmation or notice to announce.
    pub flash: Option<Flash>,
}

#[derive(Template, WebTemplate)]
#[template(path = "profile/support_pin.html")]
pub struct SupportPinPartial {
    view: View,
    state: PinState,
    changed_at: Option<(String, String)>,
    attempts_left: i64,
    may_unlock: bool,
    /// Who may unlock, when the owner may not: (name, username).
    unlockers: Vec<(String, String)>,
    activity: Vec<ActivityRow>,
    csrf: String,
    guidance: &'static str,
    pin_len: usize,
    max_failures: i64,
    /// The member's password works (not single sign-on only).
    password_works: bool,
    /// Confirming with single sign-on instead, when the member has linked an identity: the
    /// provider's name.
    sso_confirm: Option<String>,
}

impl SupportPinPartial {
    fn locked(&self) -> bool {
        self.state == PinState::Locked
    }

    fn reauth_is_edit(&self) -> bool {
        self.view.reauth_for == Some(ReauthFor::Edit)
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "profile/page.html")]
pub struct ProfilePage {
    chrome: Chrome,
    full_name: String,
    username: String,
    email: String,
    kind: &'static str,
    role: &'static str,
    /// Someone else's request to change the address, waiting for the member's answer.
    email_request: Option<Waiting>,
    section: SupportPinPartial,
    /// The panel has single sign-on (the security page's name says so).
    sso: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "profile/unlock_confirm.html")]
pub struct UnlockConfirmPage {
    chrome: Chrome,
}

/// May the logged-in member unlock their own PIN under their account's policy?
fn may_unlock_own(auth: &Auth) -> Result<bool> {
    let account = auth.account.as_ref().ok_or(WebError::NotFound)?;
    Ok(policy::may_unlock(&auth.user, &auth.user, account.unlock_policy).is_ok())
}

/// Builds the section for the logged-in member as it stands now.
async fn section(state: &AppState, auth: &Auth, view: View) -> Result<SupportPinPartial> {
    let ctx = &state.ctx;
    let me = &auth.user;
    if me.is_agent() {
        return Err(WebError::NotFound);
    }
    let (status, events) = pins::overview(ctx, me, me, ACTIVITY_LIMIT).await?;
    let may_unlock = may_unlock_own(auth)?;
    let unlockers = match (&auth.account, may_unlock) {
        (Some(account), false) => people::unlockers(ctx, me, account)
            .await?
            .into_iter()
            .map(|u| (u.full_name, u.username))
            .collect(),
        _ => Vec::new(),
    };
    let activity = events
        .into_iter()
        .map(|e| ActivityRow {
            when: format_time(e.at),
            iso: iso_time(e.at),
            what: sentence(&Said {
                event: e.event,
                actor: &e.actor,
                subject: Some(&me.username),
                detail: &e.detail,
                address: None,
                reference: e.reference.as_deref(),
                reader: Some(&me.username),
            }),
            code: e.event.as_str(),
        })
        .collect();
    let sso_confirm = match (&view.reauth_for, state.ctx.sso.as_ref()) {
        (Some(_), Some(sso)) if !sso::identities(ctx, me).await?.is_empty() => {
            Some(sso.name.clone())
        }
        _ => None,
    };
    Ok(SupportPinPartial {
        password_works: !me.sso_only,
        sso_confirm,
        view,
        state: status.state,
        changed_at: status.changed_at.map(|t| (format_time(t), iso_time(t))),
        attempts_left: status.attempts_left(),
        may_unlock,
        unlockers,
        activity,
        csrf: auth.csrf.clone(),
        guidance: PIN_GUIDANCE,
        pin_len: PIN_LEN,
        max_failures: MAX_PIN_FAILURES,
    })
}

/// The fragment for htmx, the whole page otherwise.
async fn respond(
    state: &AppState,
    auth: &Auth,
    htmx: Htmx,
    status: StatusCode,
    view: View,
) -> Result<Response> {
    let section = section(state, auth, view).await?;
    if htmx.0 {
        return Ok((status, section).into_response());
    }
    let me = &auth.user;
    let email_request = email::pending(&state.ctx, me)
        .await?
        .filter(|w| !w.own)
        .map(Waiting::from);
    let page = ProfilePage {
        chrome: Chrome::of(auth),
        full_name: me.full_name.clone(),
        username: me.username.clone(),
        email: me.email.clone().unwrap_or_default(),
        kind: me.kind.map_or("", |k| k.label()),
        role: me.role.label(),
        email_request,
        section,
        sso: state.ctx.sso.is_some(),
    };
    Ok((status, page).into_response())
}

/// The profile page is always a whole page (links and boosted navigation land here).
pub async fn profile_get(State(state): State<AppState>, auth: Auth) -> Result<Response> {
    if auth.user.is_agent() {
        return Ok(Redirect::to(urls::AGENT).into_response());
    }
    respond(&state, &auth, Htmx(false), StatusCode::OK, View::default()).await
}

/// The masked section: Hide and Cancel come here.
pub async fn support_pin_get(
    State(state): State<AppState>,
    auth: Auth,
    htmx: Htmx,
) -> Result<Response> {
    respond(&state, &auth, htmx, StatusCode::OK, View::default()).await
}

/// Showing and changing the PIN need a recent password entry ("sudo mode"): the proof of one,
/// or the section asking for the password before `then` goes on.
fn password_first(state: &AppState, auth: &Auth, then: ReauthFor) -> Result<RecentPassword, View> {
    auth.recent_password(&state.ctx).ok_or_else(|| View {
        reauth_for: Some(then),
        ..View::default()
    })
}

/// Show: POST, because it reveals a secret and is recorded; it never lands in a URL, a cache or
/// a prefetch.
pub async fn support_pin_show_post(
    State(state): State<AppState>,
    auth: Auth,
    htmx: Htmx,
) -> Result<Response> {
    match password_first(&state, &auth, ReauthFor::Show) {
        Ok(recent) => show(&state, &auth, htmx, &recent).await,
        Err(view) => respond(&state, &auth, htmx, StatusCode::OK, view).await,
    }
}

async fn show(
    state: &AppState,
    auth: &Auth,
    htmx: Htmx,
    recent: &RecentPassword,
) -> Result<Response> {
    let view = match pins::show(&state.ctx, &auth.user, &auth.user, recent).await {
        Ok(pin) => View {
            shown_pin: Some(pin.expose().to_owned()),
            ..View::default()
        },
        Err(ServiceError::Locked) | Err(ServiceError::NoPin) => View::default(),
        Err(e) => return Err(e.into()),
    };
    respond(state, auth, htmx, StatusCode::OK, view).await
}

pub async fn support_pin_edit_get(
    State(state): State<AppState>,
    auth: Auth,
    htmx: Htmx,
) -> Result<Response> {
    match password_first(&state, &auth, ReauthFor::Edit) {
        Ok(_) => edit_form(&state, &auth, htmx).await,
        Err(view) => respond(&state, &auth, htmx, StatusCode::OK, view).await,
    }
}

async fn edit_form(state: &AppState, auth: &Auth, htmx: Htmx) -> Result<Response> {
    let view = View {
        editing: true,
        ..View::default()
    };
    respond(state, auth, htmx, StatusCode::OK, view).await
}

#[derive(Deserialize)]
pub struct PinForm {
    #[serde(default)]
    pin: String,
}

/// Save.
pub async fn support_pin_post(
    State(state): State<AppState>,
    auth: Auth,
    htmx: Htmx,
    Form(form): Form<PinForm>,
) -> Result<Response> {
    let recent = match password_first(&state, &auth, ReauthFor::Edit) {
        Ok(recent) => recent,
        Err(view) => return respond(&state, &auth, htmx, StatusCode::OK, view).await,
    };
    let view = match pins::change(&state.ctx, &auth.user, &auth.user, &recent, &form.pin).await {
        Ok(()) => View {
            flash: Some(Flash::done("Your Support PIN has been changed.")),
            ..View::default()
        },
        Err(ServiceError::InvalidPin(e)) => {
            let view = View {
                editing: true,
                errors: e.messages(),
                ..View::default()
            };
            return respond(&state, &auth, htmx, StatusCode::UNPROCESSABLE_ENTITY, view).await;
        }
        Err(ServiceError::Locked) => View {
            flash: Some(Flash::done(
                "Your Support PIN is locked, so it cannot be changed.",
            )),
            ..View::default()
        },
        Err(e) => return Err(e.into()),
    };
    respond(&state, &auth, htmx, StatusCode::OK, view).await
}

#[derive(Deserialize)]
pub struct ReauthForm {
    password: SecretString,
    #[serde(default = "show_first")]
    then: ReauthFor,
}

fn show_first() -> ReauthFor {
    ReauthFor::Show
}

/// Password re-entry in the section; on success the step that asked for it goes on.
pub async fn reauth_post(
    State(state): State<AppState>,
    auth: Auth,
    htmx: Htmx,
    Form(form): Form<ReauthForm>,
) -> Result<Response> {
    let then = form.then;
    if !reauthenticate(&state.ctx, &auth.user, form.password).await? {
        let view = View {
            reauth_for: Some(then),
            reauth_error: true,
            ..View::default()
        };
        return respond(&state, &auth, htmx, StatusCode::UNPROCESSABLE_ENTITY, view).await;
    }
    let recent = auth.session.reauthenticated(&auth.user).await?;
    match then {
        ReauthFor::Edit => edit_form(&state, &auth, htmx).await,
        ReauthFor::Show => show(&state, &auth, htmx, &recent).await,
    }
}

/// The Unlock confirmation without JavaScript (with it, the same form sits in a dialog).
pub async fn support_pin_unlock_get(State(state): State<AppState>, auth: Auth) -> Result<Response> {
    let me = &auth.user;
    if me.is_agent() {
        return Err(WebError::NotFound);
    }
    if !may_unlock_own(&auth)? {
        return Err(WebError::Forbidden(
            "Only an administrator of your account may unlock your Support PIN.".into(),
        ));
    }
    if pins::status(&state.ctx, me, me).await?.state != PinState::Locked {
        return Ok(Redirect::to(urls::PROFILE).into_response());
    }
    Ok(UnlockConfirmPage {
        chrome: Chrome::of(&auth),
    }
    .into_response())
}

pub async fn support_pin_unlock_post(
    State(state): State<AppState>,
    auth: Auth,
    htmx: Htmx,
) -> Result<Response> {
    let flash = match pins::unlock(&state.ctx, &auth.user, &auth.user).await {
        Ok(()) => "Support PIN Unlocked!",
        Err(ServiceError::NotLocked) => "Your Support PIN is not locked.",
        Err(ServiceError::Forbidden(_)) => {
            return Err(WebError::Forbidden(
                "Only an administrator of your account may unlock your Support PIN.".into(),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let view = View {
        flash: Some(Flash::done(flash)),
        ..View::default()
    };
    respond(&state, &auth, htmx, StatusCode::OK, view).await
}
