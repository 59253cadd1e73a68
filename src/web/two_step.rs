//! Changing a person's second factors from the security page (`web::security`): an authenticator app with its QR
//! code, passkeys, recovery codes, turning it off. Adding a factor needs a recent password
//! entry. Everything but passkeys works as plain forms; passkeys need the browser's WebAuthn API
//! (`static/passkey.js`).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use serde::Deserialize;
use serde_json::json;
use webauthn_rs::prelude::{PasskeyRegistration, RegisterPublicKeyCredential};

use super::error::{Result, WebError};
use super::flash::Flash;
use super::second_step::{json_error, CodeForm};
use super::security::{page, with_password, PasswordForm};
use super::session::Auth;
use super::{urls, Chrome};
use crate::domain::second_factor::SecondFactorCode;
use crate::http::AppState;
use crate::service::policy::RecentPassword;
use crate::service::two_step::{self, passkeys, totp, TotpSetup};
use crate::service::ServiceError;

const REGISTRATION: &str = "passkey_registration";

#[derive(Template, WebTemplate)]
#[template(path = "two_step/app_setup.html")]
pub struct AppSetupPage {
    chrome: Chrome,
    setup: TotpSetup,
    error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "two_step/recovery_codes.html")]
pub struct RecoveryCodesPage {
    chrome: Chrome,
    codes: Vec<String>,
    headline: &'static str,
}

/// After a change: leave the set-up phase once two-step login is on.
async fn settle(auth: &Auth, state: &AppState) -> Result<()> {
    if auth.setting_up && two_step::status(&state.ctx, &auth.user).await?.enabled() {
        auth.session.set_up_done().await?;
    }
    Ok(())
}

/// The password again before adding a factor, when the last entry is not recent.
pub async fn confirm_password_post(
    State(state): State<AppState>,
    auth: Auth,
    Form(form): Form<PasswordForm>,
) -> Result<Response> {
    if crate::service::login::reauthenticate(&state.ctx, &auth.user, form.password).await? {
        auth.session.reauthenticated(&auth.user).await?;
        return Ok(Redirect::to(urls::TWO_STEP).into_response());
    }
    let p = page(
        &state,
        &auth,
        None,
        Some(Flash::problem("That password is not correct.")),
    )
    .await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, p).into_response())
}

/// Proof of a recent password entry, which adding a factor needs; else 403 with what to do.
fn recent_or_forbidden(state: &AppState, auth: &Auth) -> Result<RecentPassword> {
    auth.recent_password(&state.ctx).ok_or_else(|| {
        WebError::Forbidden("Confirm your password on the two-step login page first.".into())
    })
}

/// Start setting up an authenticator app: a new secret, shown as a QR code and as text.
pub async fn app_post(State(state): State<AppState>, auth: Auth) -> Result<Response> {
    let recent = recent_or_forbidden(&state, &auth)?;
    match totp::begin_totp(&state.ctx, &auth.user, &recent).await {
        Ok(setup) => Ok(AppSetupPage {
            chrome: Chrome::of(&auth),
            setup,
            error: None,
        }
        .into_response()),
        Err(ServiceError::Conflict(message)) => Ok((
            StatusCode::CONFLICT,
            page(&state, &auth, None, Some(Flash::problem(message))).await?,
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

/// The first code from the app: two-step login is on, and the recovery codes are shown once.
pub async fn app_confirm_post(
    State(state): State<AppState>,
    auth: Auth,
    Form(form): Form<CodeForm>,
) -> Result<Response> {
    let recent = recent_or_forbidden(&state, &auth)?;
    match totp::confirm_totp(&state.ctx, &auth.user, &recent, &form.code).await {
        Ok(codes) => {
            settle(&auth, &state).await?;
            match codes {
                Some(codes) => Ok(RecoveryCodesPage {
                    chrome: Chrome::of(&auth),
                    codes,
                    headline: "Two-step login is on",
                }
                .into_response()),
                None => {
                    let flash = Flash::done("Authenticator app added.");
                    Ok(page(&state, &auth, None, Some(flash))
                        .await?
                        .into_response())
                }
            }
        }
        Err(ServiceError::WrongCode) => {
            let Some(setup) = totp::pending_totp(&state.ctx, &auth.user).await? else {
                return Ok(Redirect::to(urls::TWO_STEP).into_response());
            };
            let page = AppSetupPage {
                chrome: Chrome::of(&auth),
                setup,
                error: Some(
                    "That code is not correct. Enter the six digits the app shows now.".into(),
                ),
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(ServiceError::Conflict(message)) => Ok((
            StatusCode::CONFLICT,
            page(&state, &auth, None, Some(Flash::problem(message))).await?,
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

pub async fn recovery_codes_post(
    State(state): State<AppState>,
    auth: Auth,
    Form(form): Form<PasswordForm>,
) -> Result<Response> {
    let result =
        two_step::recovery::regenerate_recovery_codes(&state.ctx, &auth.user, form.password).await;
    let chrome = Chrome::of(&auth);
    with_password(&state, &auth, result, |codes| {
        Ok(RecoveryCodesPage {
            chrome,
            codes,
            headline: "New recovery codes",
        }
        .into_response())
    })
    .await
}

pub async fn off_post(
    State(state): State<AppState>,
    auth: Auth,
    Form(form): Form<PasswordForm>,
) -> Result<Response> {
    let result = two_step::turn_off(&state.ctx, &auth.user, form.password).await;
    match result {
        Ok(()) => {
            let flash = Flash::done("Two-step login is off: your password alone logs you in.");
            Ok(page(&state, &auth, None, Some(flash))
                .await?
                .into_response())
        }
        other => {
            with_password(
                &state,
                &auth,
                other,
                |()| Ok(StatusCode::OK.into_response()),
            )
            .await
        }
    }
}

/// The options for the browser's prompt to create a passkey.
pub async fn passkey_options_post(State(state): State<AppState>, auth: Auth) -> Result<Response> {
    let Some(recent) = auth.recent_password(&state.ctx) else {
        return Ok(json_error(
            StatusCode::FORBIDDEN,
            "Confirm your password on this page first.",
        ));
    };
    let (options, ceremony) =
        passkeys::start_passkey_registration(&state.ctx, &auth.user, &recent).await?;
    auth.session.put_ceremony(REGISTRATION, &ceremony).await?;
    Ok(Json(options).into_response())
}

/// The browser's new passkey.
pub async fn passkeys_post(
    State(state): State<AppState>,
    auth: Auth,
    Json(credential): Json<RegisterPublicKeyCredential>,
) -> Result<Response> {
    let Some(ceremony) = auth
        .session
        .take_ceremony::<PasskeyRegistration>(REGISTRATION)
        .await?
    else {
        return Ok(json_error(
            StatusCode::BAD_REQUEST,
            "Start again: use the Add a passkey button.",
        ));
    };
    match passkeys::finish_passkey_registration(&state.ctx, &auth.user, &credential, &ceremony)
        .await
    {
        Ok((id, codes)) => {
            settle(&auth, &state).await?;
            let to = format!("{}?added={id}", urls::TWO_STEP);
            // New recovery codes (the first factor) travel in this answer only, for the page's
            // script to show once: never in the session or a URL.
            Ok(Json(json!({ "redirect": to, "recovery_codes": codes })).into_response())
        }
        Err(ServiceError::Invalid(message) | ServiceError::Conflict(message)) => {
            Ok(json_error(StatusCode::BAD_REQUEST, &message))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct NameForm {
    #[serde(default)]
    name: String,
}

pub async fn passkey_name_post(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Form(form): Form<NameForm>,
) -> Result<Response> {
    let result = passkeys::rename_passkey(&state.ctx, &auth.user, id, &form.name).await;
    match result {
        Ok(()) => {
            let flash = Flash::done("Passkey renamed.");
            Ok(page(&state, &auth, None, Some(flash))
                .await?
                .into_response())
        }
        Err(ServiceError::Invalid(message)) => {
            let p = page(&state, &auth, None, Some(Flash::problem(message))).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, p).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn passkey_remove_post(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Form(form): Form<PasswordForm>,
) -> Result<Response> {
    let result = passkeys::remove_passkey(&state.ctx, &auth.user, id, form.password).await;
    match result {
        Ok(()) => {
            let flash = Flash::done("Passkey removed.");
            Ok(page(&state, &auth, None, Some(flash))
                .await?
                .into_response())
        }
        other => {
            with_password(
                &state,
                &auth,
                other,
                |()| Ok(StatusCode::OK.into_response()),
            )
            .await
        }
    }
}
