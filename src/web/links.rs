//! The pages of people who are not logged in and hold a one-time link for a password (mirroring
//! `service::links`): "Forgot password?", the password link, the invitation. They keep no
//! session (their forms carry the anonymous CSRF token). The first start's set-up link is
//! `web::setup`'s, the address links `web::email`'s.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use secrecy::SecretString;
use serde::Deserialize;

use super::error::Result;
use super::login::anonymous_page;
use super::urls;
use crate::domain::{EmailAddress, MIN_PASSWORD_CHARS};
use crate::http::{client::ClientAddr, AppState};
use crate::service::{links, ServiceError};

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
pub(super) struct LinkUsedPage {
    pub(super) title: &'static str,
    pub(super) message: String,
}

pub(super) fn link_is_dead(title: &'static str) -> Response {
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
