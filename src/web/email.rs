//! A person's e-mail address: the page where they ask to change it (with their password again),
//! see a change that waits, cancel it, and answer someone else's request to change it; and the
//! pages the change's mailed links open (the new address confirms, the current one answers).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::error::Result;
use super::flash::Flash;
use super::links::{link_is_dead, LinkUsedPage};
use super::login::anonymous_page;
use super::session::Auth;
use super::{urls, Chrome};
use crate::http::time::format_time;
use crate::http::AppState;
use crate::service::email::{self, Answered, LinkAnswer, PendingChange, Requested};
use crate::service::{login, policy, ServiceError};

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
    let flash = match email::answer(&state.ctx, &auth.user, None).await {
        Ok(_) => Flash::done("The change of your address is cancelled."),
        Err(ServiceError::NotFound) => Flash::done("No change of your address was waiting."),
        Err(e) => return Err(e.into()),
    };
    page(&state, &auth, String::new(), None, Some(flash)).await
}

#[derive(Deserialize)]
pub struct AnswerForm {
    #[serde(default)]
    pub(super) answer: Answer,
    /// Accepting needs it.
    #[serde(default)]
    password: Option<SecretString>,
}

impl AnswerForm {
    /// The password typed, if any (an empty field is none).
    pub(super) fn password(&self) -> Option<SecretString> {
        self.password
            .clone()
            .filter(|p| !p.expose_secret().is_empty())
    }
}

/// The button a change's form was sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Answer {
    Accept,
    #[default]
    Decline,
}

/// The member accepts (with their password) or declines someone else's request to change their
/// address. An accepted one waits for the link mailed to the new address.
pub async fn email_answer_post(
    State(state): State<AppState>,
    auth: Auth,
    Form(form): Form<AnswerForm>,
) -> Result<Response> {
    let ctx = &state.ctx;
    let recent = match form.answer {
        Answer::Decline => None,
        Answer::Accept => {
            let entered = match form.password() {
                Some(password) => login::reauthenticate(ctx, &auth.user, password)
                    .await?
                    .then_some(())
                    .ok_or("That password is not correct."),
                None => Err("Enter your password to accept the change."),
            };
            if let Err(why) = entered {
                let p = page(
                    &state,
                    &auth,
                    String::new(),
                    None,
                    Some(Flash::problem(why)),
                )
                .await?;
                return Ok((StatusCode::UNPROCESSABLE_ENTITY, p).into_response());
            }
            Some(auth.session.reauthenticated(&auth.user).await?)
        }
    };
    let flash = match email::answer(ctx, &auth.user, recent.as_ref()).await {
        Ok(Answered::WaitsForTheNewAddress(new)) => Flash::done(format!(
            "Accepted: a link is on its way to {new}. Your address changes when it is opened \
             (within 24 hours); until then your current address stays in force."
        )),
        Ok(_) => Flash::done("You declined the change: your address stays as it is."),
        Err(ServiceError::NotFound) => Flash::done("No change of your address was waiting."),
        Err(ServiceError::Invalid(why)) => Flash::problem(why),
        Err(e) => return Err(e.into()),
    };
    let csrf = auth.session.csrf_token(&state.settings.csrf_key).await?;
    let mut p = page(&state, &auth, String::new(), None, Some(flash)).await?;
    p.chrome.csrf = csrf;
    Ok(p.into_response())
}

// The pages of the links a change mails.

#[derive(Template, WebTemplate)]
#[template(path = "account/email_link.html")]
pub struct EmailLinkPage {
    csrf: String,
    action: String,
    own: bool,
    username: String,
    new_email: String,
    asked_by: String,
    asked_at: String,
    error: Option<String>,
}

const EMAIL_TITLE: &str = "E-mail address";

/// The page a change's link opens: the new address confirms a person's own change, the current
/// address answers someone else's request. Nothing changes until its form is sent (mail
/// scanners open links too).
async fn email_link_page(
    state: &AppState,
    headers: &HeaderMap,
    route: &str,
    token: &str,
    error: Option<String>,
) -> Result<Response> {
    let (user, change) = match email::by_link(&state.ctx, token).await {
        Ok(found) => found,
        Err(ServiceError::NotFound) => return Ok(link_is_dead(EMAIL_TITLE)),
        Err(e) => return Err(e.into()),
    };
    let action = route.replace("{token}", token);
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(anonymous_page(state, headers, status, |csrf| {
        EmailLinkPage {
            csrf,
            action,
            own: change.own,
            username: user.username,
            new_email: change.new_email,
            asked_by: change.asked_by,
            asked_at: format_time(change.asked_at),
            error,
        }
        .into_response()
    }))
}

async fn email_link_post(
    state: &AppState,
    headers: &HeaderMap,
    route: &str,
    token: &str,
    form: AnswerForm,
) -> Result<Response> {
    let ctx = &state.ctx;
    // Accepting someone else's request takes the member's password (checked and throttled as a
    // re-entry); confirming one's own change from the new address takes the link alone.
    let recent = match (form.answer, form.password()) {
        (Answer::Accept, Some(password)) => {
            let user = match email::person_of_link(ctx, token).await {
                Ok(user) => user,
                Err(ServiceError::NotFound) => return Ok(link_is_dead(EMAIL_TITLE)),
                Err(e) => return Err(e.into()),
            };
            if !login::reauthenticate(ctx, &user, password).await? {
                let why = "That password is not correct.".to_owned();
                return email_link_page(state, headers, route, token, Some(why)).await;
            }
            Some(policy::password_just_entered(&user))
        }
        _ => None,
    };
    let answer = match (form.answer, &recent) {
        (Answer::Decline, _) => LinkAnswer::Decline,
        (Answer::Accept, Some(recent)) => LinkAnswer::AcceptWithPassword(recent),
        (Answer::Accept, None) => LinkAnswer::Accept,
    };
    let message = match email::answer_by_link(ctx, token, answer).await {
        Ok(Answered::Changed(user)) => format!(
            "The e-mail address of {} is now {}. Every session has ended: log in again.",
            user.username,
            user.email.unwrap_or_default()
        ),
        Ok(Answered::WaitsForTheNewAddress(new)) => format!(
            "Accepted: a link is on its way to {new}. The address changes when it is opened \
             (within 24 hours)."
        ),
        Ok(Answered::Declined) => "Nothing changed: the address stays as it was.".to_owned(),
        Err(ServiceError::ReauthRequired) => {
            let why = "Enter your password to accept the change.".to_owned();
            return email_link_page(state, headers, route, token, Some(why)).await;
        }
        Err(ServiceError::Invalid(why)) => {
            return email_link_page(state, headers, route, token, Some(why)).await
        }
        Err(ServiceError::NotFound) => return Ok(link_is_dead(EMAIL_TITLE)),
        Err(e) => return Err(e.into()),
    };
    Ok((
        StatusCode::OK,
        LinkUsedPage {
            title: EMAIL_TITLE,
            message,
        },
    )
        .into_response())
}

pub async fn email_link_confirm_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response> {
    email_link_page(&state, &headers, urls::EMAIL_CONFIRM_LINK, &token, None).await
}

pub async fn email_link_confirm_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<AnswerForm>,
) -> Result<Response> {
    email_link_post(&state, &headers, urls::EMAIL_CONFIRM_LINK, &token, form).await
}

pub async fn email_link_answer_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response> {
    email_link_page(&state, &headers, urls::EMAIL_ANSWER_LINK, &token, None).await
}

pub async fn email_link_answer_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<AnswerForm>,
) -> Result<Response> {
    email_link_post(&state, &headers, urls::EMAIL_ANSWER_LINK, &token, form).await
}
