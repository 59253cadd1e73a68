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

use super::error::{Result, WebError};
use super::session::Auth;
use super::{urls, Chrome, Htmx};
use crate::domain::{PinState, MAX_PIN_FAILURES, PIN_GUIDANCE, PIN_LEN};
use crate::http::time::{format_time, iso_time};
use crate::http::AppState;
use crate::service::{self, events, login::reauthenticate, pins, policy, ServiceError};

/// How many activity entries the section lists.
const ACTIVITY_LIMIT: i64 = 10;

/// One line of the PIN activity list.
pub struct ActivityRow {
    pub when: String,
    pub iso: String,
    pub what: String,
    pub by: String,
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
    /// The password is needed before `show` or `edit` can go on.
    pub reauth_for: Option<&'static str>,
    pub reauth_error: bool,
    /// A confirmation or notice to announce.
    pub flash: Option<String>,
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
}

impl SupportPinPartial {
    fn locked(&self) -> bool {
        self.state == PinState::Locked
    }

    fn reauth_is_edit(&self) -> bool {
        self.view.reauth_for == Some("edit")
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
    section: SupportPinPartial,
}

#[derive(Template, WebTemplate)]
#[template(path = "profile/unlock_confirm.html")]
pub struct UnlockConfirmPage {
    chrome: Chrome,
}

fn describe(event: &str, detail: &str) -> String {
    let what = match event {
        events::PIN_CREATED => "Support PIN created",
        events::PIN_SHOWN => "Shown",
        events::PIN_CHANGED => "Changed",
        events::PIN_VERIFIED => "Verified by Support",
        events::PIN_VERIFY_FAILED => "Failed verification by Support",
        events::PIN_LOCKED => "Locked",
        events::PIN_UNLOCKED => "Unlocked",
        events::PIN_RESET => "Reset to a new PIN",
        other => other,
    };
    if detail.is_empty() || event == events::PIN_CREATED {
        what.to_owned()
    } else {
        format!("{what} ({detail})")
    }
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
    let unlockers = if may_unlock {
        Vec::new()
    } else {
        pins::unlockers(ctx, me)
            .await?
            .into_iter()
            .map(|u| (u.full_name, u.username))
            .collect()
    };
    let activity = events
        .into_iter()
        .map(|e| ActivityRow {
            when: format_time(e.at),
            iso: iso_time(e.at),
            what: describe(&e.event, &e.detail),
            by: if e.actor_id == Some(me.id) {
                "you".to_owned()
            } else {
                e.actor_name
            },
        })
        .collect();
    Ok(SupportPinPartial {
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
    let page = ProfilePage {
        chrome: Chrome::of(auth),
        full_name: me.full_name.clone(),
        username: me.username.clone(),
        email: me.email.clone().unwrap_or_default(),
        kind: me.kind.map_or("", |k| k.label()),
        role: me.role.label(),
        section,
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

/// Showing and changing the PIN need a recent password entry ("sudo mode"): `None` within the
/// window, else the section asking for the password before `then` (`show` or `edit`) goes on.
fn password_first(auth: &Auth, then: &'static str) -> Option<View> {
    (!auth.recently_authenticated()).then(|| View {
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
    if let Some(view) = password_first(&auth, "show") {
        return respond(&state, &auth, htmx, StatusCode::OK, view).await;
    }
    show(&state, &auth, htmx).await
}

async fn show(state: &AppState, auth: &Auth, htmx: Htmx) -> Result<Response> {
    let view = match pins::show(&state.ctx, &auth.user, &auth.user).await {
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
    if let Some(view) = password_first(&auth, "edit") {
        return respond(&state, &auth, htmx, StatusCode::OK, view).await;
    }
    edit_form(&state, &auth, htmx).await
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
    if let Some(view) = password_first(&auth, "edit") {
        return respond(&state, &auth, htmx, StatusCode::OK, view).await;
    }
    let view = match service::pins::change(&state.ctx, &auth.user, &auth.user, &form.pin).await {
        Ok(()) => View {
            flash: Some("Your Support PIN has been changed.".into()),
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
            flash: Some("Your Support PIN is locked, so it cannot be changed.".into()),
            ..View::default()
        },
        Err(e) => return Err(e.into()),
    };
    respond(&state, &auth, htmx, StatusCode::OK, view).await
}

#[derive(Deserialize)]
pub struct ReauthForm {
    password: SecretString,
    #[serde(default)]
    then: String,
}

/// Password re-entry in the section; on success the step that asked for it goes on.
pub async fn reauth_post(
    State(state): State<AppState>,
    auth: Auth,
    htmx: Htmx,
    Form(form): Form<ReauthForm>,
) -> Result<Response> {
    let then = if form.then == "edit" { "edit" } else { "show" };
    if !reauthenticate(&state.ctx, &auth.user, form.password).await? {
        let view = View {
            reauth_for: Some(then),
            reauth_error: true,
            ..View::default()
        };
        return respond(&state, &auth, htmx, StatusCode::UNPROCESSABLE_ENTITY, view).await;
    }
    auth.session.reauthenticated().await?;
    if then == "edit" {
        edit_form(&state, &auth, htmx).await
    } else {
        show(&state, &auth, htmx).await
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
        flash: Some(flash.into()),
        ..View::default()
    };
    respond(&state, &auth, htmx, StatusCode::OK, view).await
}
