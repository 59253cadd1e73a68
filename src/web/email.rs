//! A person's own e-mail address: the page where they ask to change it (with their password
//! again), see a change that waits, cancel it, and answer someone else's request to change it.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use secrecy::SecretString;
use serde::Deserialize;

use super::error::Result;
use super::flash::Flash;
use super::session::{Auth, Client};
use super::{urls, Chrome};
use crate::http::time::format_time;
use crate::http::{client::ClientAddr, AppState};
use crate::service::email::{self, PendingChange, Requested};
use crate::service::{login, ServiceError};

/// A change that waits, as the pages say it.
pub struct Waiting {
    pub new_email: String,
    pub own: bool,
    pub asked_by: String,
    pub asked_at: String,
    pub until: String,
}

impl From<PendingChange> for Waiting {
    fn from(p: PendingChange) -> Self {
        Waiting {
            new_email: p.new_email,
            own: p.own,
            asked_by: p.asked_by,
            asked_at: format_time(p.asked_at),
            until: format_time(p.expires_at),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "account/email.html")]
pub struct EmailPage {
    chrome: Chrome,
    current: Option<String>,
    waiting: Option<Waiting>,
    new_email: String,
    error: Option<String>,
    flash: Option<Flash>,
}

async fn page(
    state: &AppState,
    auth: &Auth,
    new_email: String,
    error: Option<String>,
    flash: Option<Flash>,
) -> Result<EmailPage> {
    let waiting = email::pending(&state.ctx, &auth.user)
        .await?
        .map(Waiting::from);
    Ok(EmailPage {
        chrome: Chrome::of(auth),
        current: auth.user.email.clone(),
        waiting,
        new_email,
        error,
        flash,
    })
}

#[derive(Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    changed: Option<String>,
}

pub async fn email_get(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<PageQuery>,
) -> Result<EmailPage> {
    let flash = q.changed.map(|_| {
        Flash::done(
            "Your address is changed. Your other sessions and API tokens have ended; this one \
             carries on.",
        )
    });
    page(&state, &auth, String::new(), None, flash).await
}

#[derive(Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    email: String,
    password: SecretString,
}

/// The person asks for a new address: their password again, then a link to the new address.
pub async fn email_post(
    State(state): State<AppState>,
    auth: Auth,
    Form(form): Form<ChangeForm>,
) -> Result<Response> {
    let refused = |why: String| async {
        let p = page(&state, &auth, form.email.clone(), Some(why), None).await?;
        Ok((StatusCode::UNPROCESSABLE_ENTITY, p).into_response())
    };
    if !login::reauthenticate(&state.ctx, &auth.user, form.password).await? {
        return refused("That password is not correct.".into()).await;
    }
    let recent = auth.session.reauthenticated(&auth.user).await?;
    let flash = match email::request_own(&state.ctx, &auth.user, &recent, &form.email).await {
        Ok(Requested::Waiting) => Flash::done(format!(
            "A link is on its way to {}: your address changes when it is opened (within 24 \
             hours). Until then your current address stays in force.",
            form.email.trim()
        )),
        Ok(Requested::Unchanged) => Flash::done("That is your address already."),
        Err(ServiceError::Invalid(why)) => return refused(why).await,
        Err(e) => return Err(e.into()),
    };
    let csrf = auth.session.csrf_token(&state.settings.csrf_key).await?;
    let mut p = page(&state, &auth, String::new(), None, Some(flash)).await?;
    p.chrome.csrf = csrf;
    Ok(p.into_response())
}

/// The person cancels their own waiting change.
pub async fn email_cancel_post(State(state): State<AppState>, auth: Auth) -> Result<EmailPage> {
    let flash = match email::answer(&state.ctx, &auth.user, false).await {
        Ok(_) => Flash::done("The change of your address is cancelled."),
        Err(ServiceError::NotFound) => Flash::done("No change of your address was waiting."),
        Err(e) => return Err(e.into()),
    };
    page(&state, &auth, String::new(), None, Some(flash)).await
}

#[derive(Deserialize)]
pub struct AnswerForm {
    #[serde(default)]
    answer: String,
}

/// The member accepts or declines someone else's request to change their address. Accepting
/// ends every session (the address decides where password links go); this browser carries on
/// in a new one.
pub async fn email_answer_post(
    State(state): State<AppState>,
    auth: Auth,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<AnswerForm>,
) -> Result<Response> {
    let accept = form.answer == "accept";
    let flash = match email::answer(&state.ctx, &auth.user, accept).await {
        Ok(user) if accept => {
            auth.session
                .login(&user, auth.setting_up, &Client::of(&addr, &headers))
                .await?;
            return Ok(Redirect::to(urls::EMAIL_CHANGED).into_response());
        }
        Ok(_) => Flash::done("You declined the change: your address stays as it is."),
        Err(ServiceError::NotFound) => Flash::done("No change of your address was waiting."),
        Err(ServiceError::Invalid(why)) => Flash::problem(why),
        Err(e) => return Err(e.into()),
    };
    Ok(page(&state, &auth, String::new(), None, Some(flash))
        .await?
        .into_response())
}
