//! The second step of a login in the panel (nobody is logged in yet: a half-done login's own
//! session): a code from an authenticator app or a recovery code as a plain form, or a passkey
//! through the browser's WebAuthn API (`static/passkey.js`).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use serde::Deserialize;
use serde_json::json;
use webauthn_rs::prelude::{PasskeyAuthentication, PublicKeyCredential};

use super::error::{Result, WebError};
use super::login::home_of;
use super::session::{Client, WebSession};
use super::urls;
use crate::domain::second_factor::SecondFactorCode;
use crate::domain::User;
use crate::http::{client::ClientAddr, AppState};
use crate::service::two_step::{self, Used};
use crate::service::{login::current_user, ServiceError};

const AUTHENTICATION: &str = "passkey_authentication";

#[derive(Template, WebTemplate)]
#[template(path = "second_step.html")]
pub struct SecondStepPage {
    csrf: String,
    passkey: bool,
    error: Option<String>,
}

/// The person half-way through logging in, or the login page.
async fn pending(state: &AppState, session: &WebSession) -> Result<(User, Option<String>)> {
    let Some((uid, epoch, next)) = session.pending_second_step().await? else {
        return Err(WebError::LoginRequired { expired: true });
    };
    match current_user(&state.ctx, uid, epoch).await? {
        Some((user, _)) => Ok((user, next)),
        None => {
            session.logout().await?;
            Err(WebError::LoginRequired { expired: true })
        }
    }
}

async fn second_step_page(
    state: &AppState,
    session: &WebSession,
    user: &User,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response> {
    let passkey = two_step::passkeys_available(&state.ctx)
        && two_step::status(&state.ctx, user).await?.has_passkeys();
    let page = SecondStepPage {
        csrf: session.csrf_token(&state.settings.csrf_key).await?,
        passkey,
        error,
    };
    Ok((status, page).into_response())
}

pub async fn second_step_get(
    State(state): State<AppState>,
    session: WebSession,
) -> Result<Response> {
    let (user, _) = pending(&state, &session).await?;
    second_step_page(&state, &session, &user, StatusCode::OK, None).await
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    pub code: String,
}

/// Completes the login: a new session id, the person logged in, where they were going.
async fn complete_login(
    session: &WebSession,
    user: &User,
    next: Option<String>,
    client: &Client<'_>,
) -> Result<String> {
    session.login(user, false, client).await?;
    tracing::info!(user = %user.username, "logged in with two steps");
    Ok(next.unwrap_or_else(|| home_of(user).to_owned()))
}

pub async fn second_step_post(
    State(state): State<AppState>,
    session: WebSession,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Result<Response> {
    let (user, next) = pending(&state, &session).await?;
    match two_step::check_code(&state.ctx, &user, &form.code, &addr).await {
        Ok(_) => {
            let to = complete_login(&session, &user, next, &Client::of(&addr, &headers)).await?;
            Ok(Redirect::to(&to).into_response())
        }
        Err(ServiceError::WrongCode) => {
            let error = "That code is not correct. Enter the six digits your app shows now, or \
                         one of your recovery codes."
                .to_owned();
            second_step_page(
                &state,
                &session,
                &user,
                StatusCode::UNAUTHORIZED,
                Some(error),
            )
            .await
        }
        Err(e @ ServiceError::CodesRefused) => {
            let error = super::flash::sentence(&e.to_string());
            second_step_page(&state, &session, &user, StatusCode::FORBIDDEN, Some(error)).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The options for the browser's passkey prompt at the second step.
pub async fn second_step_passkey_options_post(
    State(state): State<AppState>,
    session: WebSession,
) -> Result<Response> {
    let (user, _) = pending(&state, &session).await?;
    let (options, ceremony) = two_step::passkeys::start_passkey_login(&state.ctx, &user).await?;
    session.put_ceremony(AUTHENTICATION, &ceremony).await?;
    Ok(Json(options).into_response())
}

/// The browser's passkey answer at the second step.
pub async fn second_step_passkey_post(
    State(state): State<AppState>,
    session: WebSession,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Json(credential): Json<PublicKeyCredential>,
) -> Result<Response> {
    let (user, next) = pending(&state, &session).await?;
    let Some(ceremony) = session
        .take_ceremony::<PasskeyAuthentication>(AUTHENTICATION)
        .await?
    else {
        return Ok(json_error(
            StatusCode::BAD_REQUEST,
            "Start again: use the passkey button.",
        ));
    };
    match two_step::passkeys::finish_passkey_login(&state.ctx, &user, &credential, &ceremony, &addr)
        .await
    {
        Ok(Used::Passkey) | Ok(_) => {
            let to = complete_login(&session, &user, next, &Client::of(&addr, &headers)).await?;
            Ok(Json(json!({ "redirect": to })).into_response())
        }
        Err(ServiceError::WrongCode) => Ok(json_error(
            StatusCode::UNAUTHORIZED,
            "That passkey did not work. Try again, or enter a code.",
        )),
        Err(e) => Err(e.into()),
    }
}

pub(super) fn json_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}
