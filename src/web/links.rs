//! The pages of people who are not logged in and hold a one-time link (mirroring
//! `service::links`): "Forgot password?", the password link, the invitation, the first start's
//! set-up. They keep no session (their forms carry the anonymous CSRF token).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use secrecy::SecretString;
use serde::Deserialize;

use super::email::{Answer, AnswerForm};
use super::error::{Result, WebError};
use super::login::anonymous_page;
use super::urls;
use crate::domain::{DisplayName, EmailAddress, Username, MIN_PASSWORD_CHARS};
use crate::http::time::format_time;
use crate::http::{client::ClientAddr, AppState};
use crate::service::email::{Answered, LinkAnswer};
use crate::service::{email, links, login, policy, ServiceError};

#[derive(Template, WebTemplate)]
#[template(path = "account/forgot.html")]
pub struct ForgotPage {
    csrf: String,
    sent: bool,
    error: Option<String>,
}

pub async fn forgot_get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    anonymous_page(&state, &headers, StatusCode::OK, |csrf| {
        ForgotPage {
            csrf,
            sent: false,
            error: None,
        }
        .into_response()
    })
}

#[derive(Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    who: String,
}

/// The same answer whether or not anyone matched.
pub async fn forgot_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<ForgotForm>,
) -> Result<Response> {
    if form.who.trim().is_empty() {
        return Ok(anonymous_page(
            &state,
            &headers,
            StatusCode::UNPROCESSABLE_ENTITY,
            |csrf| {
                ForgotPage {
                    csrf,
                    sent: false,
                    error: Some("Enter your username or e-mail address.".into()),
                }
                .into_response()
            },
        ));
    }
    links::ask_for_password_link(&state.ctx, &form.who, &addr).await?;
    Ok(anonymous_page(&state, &headers, StatusCode::OK, |csrf| {
        ForgotPage {
            csrf,
            sent: true,
            error: None,
        }
        .into_response()
    }))
}

/// The page where a one-time link's holder chooses a password.
#[derive(Template, WebTemplate)]
#[template(path = "account/choose_password.html")]
pub struct ChoosePasswordPage {
    csrf: String,
    title: &'static str,
    intro: String,
    action: String,
    error: Option<String>,
    min_chars: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "account/link_used.html")]
pub struct LinkUsedPage {
    title: &'static str,
    message: String,
}

fn link_is_dead(title: &'static str) -> Response {
    (
        StatusCode::NOT_FOUND,
        LinkUsedPage {
            title,
            message: "This link has been used already, has expired, or is not a link we sent. \
                      Ask for a new one."
                .into(),
        },
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct NewPasswordForm {
    new: SecretString,
    again: SecretString,
}

/// Which one-time link a page is for.
#[derive(Clone, Copy)]
enum LinkKind {
    Invitation,
    Password,
}

impl LinkKind {
    fn title(self) -> &'static str {
        match self {
            LinkKind::Invitation => "Choose your password",
            LinkKind::Password => "Choose a new password",
        }
    }

    fn route(self) -> &'static str {
        match self {
            LinkKind::Invitation => urls::INVITATION,
            LinkKind::Password => urls::RESET_PASSWORD,
        }
    }
}

async fn link_page(
    state: &AppState,
    headers: &HeaderMap,
    kind: LinkKind,
    token: &str,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response> {
    let holder = match kind {
        LinkKind::Invitation => links::invitation_holder(&state.ctx, token).await,
        LinkKind::Password => links::password_link_holder(&state.ctx, token).await,
    };
    let user = match holder {
        Ok(user) => user,
        Err(ServiceError::NotFound) => return Ok(link_is_dead(kind.title())),
        Err(e) => return Err(e.into()),
    };
    let intro = match kind {
        LinkKind::Invitation => format!(
            "Welcome, {}. Choose the password you will log in with as {}.",
            user.full_name, user.username
        ),
        LinkKind::Password => format!(
            "Choose a new password for {}. Every session of yours ends when you save it.",
            user.username
        ),
    };
    let action = kind.route().replace("{token}", token);
    Ok(anonymous_page(state, headers, status, |csrf| {
        ChoosePasswordPage {
            csrf,
            title: kind.title(),
            intro,
            action,
            error,
            min_chars: MIN_PASSWORD_CHARS,
        }
        .into_response()
    }))
}

async fn link_post(
    state: &AppState,
    headers: &HeaderMap,
    kind: LinkKind,
    token: &str,
    form: NewPasswordForm,
) -> Result<Response> {
    let result = match kind {
        LinkKind::Invitation => {
            links::accept_invitation(&state.ctx, token, form.new, form.again).await
        }
        LinkKind::Password => links::reset_password(&state.ctx, token, form.new, form.again).await,
    };
    match result {
        Ok(_) => Ok(Redirect::to(urls::LOGIN_PASSWORD_SET).into_response()),
        Err(ServiceError::NotFound) => Ok(link_is_dead(kind.title())),
        Err(ServiceError::Invalid(why)) => {
            link_page(
                state,
                headers,
                kind,
                token,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(why),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn invitation_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response> {
    link_page(
        &state,
        &headers,
        LinkKind::Invitation,
        &token,
        StatusCode::OK,
        None,
    )
    .await
}

pub async fn invitation_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<NewPasswordForm>,
) -> Result<Response> {
    link_post(&state, &headers, LinkKind::Invitation, &token, form).await
}

pub async fn reset_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response> {
    link_page(
        &state,
        &headers,
        LinkKind::Password,
        &token,
        StatusCode::OK,
        None,
    )
    .await
}

pub async fn reset_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<NewPasswordForm>,
) -> Result<Response> {
    link_post(&state, &headers, LinkKind::Password, &token, form).await
}

#[derive(Template, WebTemplate)]
#[template(path = "account/setup.html")]
pub struct SetupPage {
    csrf: String,
    action: String,
    form: SetupFields,
    error: Option<String>,
    min_chars: usize,
}

#[derive(Default, Deserialize)]
pub struct SetupFields {
    #[serde(default)]
    account: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(flatten)]
    fields: SetupFields,
    new: SecretString,
    again: SecretString,
}

fn setup_page(
    state: &AppState,
    headers: &HeaderMap,
    token: &str,
    status: StatusCode,
    form: SetupFields,
    error: Option<String>,
) -> Response {
    let action = urls::SETUP.replace("{token}", token);
    anonymous_page(state, headers, status, |csrf| {
        SetupPage {
            csrf,
            action,
            form,
            error,
            min_chars: MIN_PASSWORD_CHARS,
        }
        .into_response()
    })
}

const SETUP_TITLE: &str = "Set up pinpanel";

pub async fn setup_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response> {
    if !links::setup_is_open(&state.ctx, &token).await? {
        return Ok(link_is_dead(SETUP_TITLE));
    }
    Ok(setup_page(
        &state,
        &headers,
        &token,
        StatusCode::OK,
        SetupFields::default(),
        None,
    ))
}

/// Creates the first account and its administrator; then the link stops working.
pub async fn setup_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<SetupForm>,
) -> Result<Response> {
    let f = &form.fields;
    let setup = links::Setup {
        account_name: f.account.clone(),
        username: f.username.clone(),
        full_name: f.name.clone(),
        email: Some(f.email.clone()),
        password: form.new,
        again: form.again,
    };
    match links::complete_setup(&state.ctx, &token, setup).await {
        Ok(_) => Ok(Redirect::to(urls::LOGIN_PASSWORD_SET).into_response()),
        Err(ServiceError::NotFound) => Ok(link_is_dead(SETUP_TITLE)),
        Err(ServiceError::Invalid(why) | ServiceError::Conflict(why)) => Ok(setup_page(
            &state,
            &headers,
            &token,
            StatusCode::UNPROCESSABLE_ENTITY,
            form.fields,
            Some(why),
        )),
        Err(e) => Err(WebError::from(e)),
    }
}

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

pub async fn email_confirm_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response> {
    email_link_page(&state, &headers, urls::EMAIL_CONFIRM_LINK, &token, None).await
}

pub async fn email_confirm_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<AnswerForm>,
) -> Result<Response> {
    email_link_post(&state, &headers, urls::EMAIL_CONFIRM_LINK, &token, form).await
}

pub async fn email_answer_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response> {
    email_link_page(&state, &headers, urls::EMAIL_ANSWER_LINK, &token, None).await
}

pub async fn email_answer_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<AnswerForm>,
) -> Result<Response> {
    email_link_post(&state, &headers, urls::EMAIL_ANSWER_LINK, &token, form).await
}
