//! Two-step login in the panel: the second step of a login (a code, or a passkey), and the
//! set-up page every person reaches from their profile (an authenticator app with its QR code,
//! passkeys, recovery codes, turning it off). Everything but passkeys works as plain forms;
//! passkeys need the browser's WebAuthn API (`static/passkey.js`).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use webauthn_rs::prelude::{
    PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
};

use super::error::{Result, WebError};
use super::login::home_of;
use super::session::{Auth, Client, WebSession};
use super::{urls, Chrome};
use crate::domain::TwoStepStatus;
use crate::http::time::format_time;
use crate::http::{client::ClientAddr, AppState};
use crate::service::two_step::{self, PasskeyInfo, TotpSetup, Used};
use crate::service::{login::current_user, ServiceError};

const REGISTRATION: &str = "passkey_registration";
const AUTHENTICATION: &str = "passkey_authentication";

#[derive(Template, WebTemplate)]
#[template(path = "second_step.html")]
pub struct SecondStepPage {
    csrf: String,
    passkey: bool,
    error: Option<String>,
}

/// The person half-way through logging in, or the login page.
async fn pending(
    state: &AppState,
    session: &WebSession,
) -> Result<(crate::domain::User, Option<String>)> {
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
    user: &crate::domain::User,
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
    code: String,
}

/// Completes the login: a new session id, the person logged in, where they were going.
async fn complete_login(
    session: &WebSession,
    user: &crate::domain::User,
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
    match two_step::check_code(&state.ctx, &user, &form.code).await {
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
        Err(e) => Err(e.into()),
    }
}

/// The options for the browser's passkey prompt at the second step.
pub async fn second_step_passkey_options_post(
    State(state): State<AppState>,
    session: WebSession,
) -> Result<Response> {
    let (user, _) = pending(&state, &session).await?;
    let (options, ceremony) = two_step::start_passkey_login(&state.ctx, &user).await?;
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
    match two_step::finish_passkey_login(&state.ctx, &user, &credential, &ceremony).await {
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

fn json_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// One passkey as the page lists it.
pub struct PasskeyRow {
    pub id: i64,
    pub name: String,
    pub added: String,
    pub last_used: String,
    pub name_url: String,
    pub remove_url: String,
    /// Just added: the page says so and offers the name field first.
    pub new: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "two_step/page.html")]
pub struct TwoStepPage {
    chrome: Chrome,
    status: TwoStepStatus,
    required: bool,
    recent: bool,
    passkeys_available: bool,
    passkeys: Vec<PasskeyRow>,
    flash: Option<(String, bool)>,
}

impl TwoStepPage {
    fn enabled(&self) -> bool {
        self.status.enabled()
    }
}

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

#[derive(Deserialize, Default)]
pub struct PageQuery {
    #[serde(default)]
    added: Option<i64>,
}

async fn page(
    state: &AppState,
    auth: &Auth,
    added: Option<i64>,
    flash: Option<(String, bool)>,
) -> Result<TwoStepPage> {
    let ctx = &state.ctx;
    let status = two_step::status(ctx, &auth.user).await?;
    let passkeys = two_step::passkeys(ctx, &auth.user)
        .await?
        .into_iter()
        .map(|p: PasskeyInfo| PasskeyRow {
            name_url: urls::with_id(urls::PASSKEY_NAME, p.id),
            remove_url: urls::with_id(urls::PASSKEY_REMOVE, p.id),
            new: added == Some(p.id),
            id: p.id,
            name: p.name,
            added: format_time(p.created_at),
            last_used: p
                .last_used_at
                .map(format_time)
                .unwrap_or_else(|| "never".into()),
        })
        .collect();
    let flash = flash.or_else(|| added.map(|_| ("Passkey added.".to_owned(), false)));
    Ok(TwoStepPage {
        chrome: Chrome::of(auth),
        status,
        required: two_step::required_for(ctx, auth.user.role),
        recent: auth.recently_authenticated(),
        passkeys_available: two_step::passkeys_available(ctx),
        passkeys,
        flash,
    })
}

/// After a change: leave the set-up phase once two-step login is on.
async fn settle(auth: &Auth, state: &AppState) -> Result<()> {
    if auth.setting_up && two_step::status(&state.ctx, &auth.user).await?.enabled() {
        auth.session.set_up_done().await?;
    }
    Ok(())
}

pub async fn two_step_get(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<PageQuery>,
) -> Result<TwoStepPage> {
    page(&state, &auth, q.added, None).await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    password: SecretString,
}

/// The password again before adding a factor, when the last entry is not recent.
pub async fn confirm_password_post(
    State(state): State<AppState>,
    auth: Auth,
    Form(form): Form<PasswordForm>,
) -> Result<Response> {
    if crate::service::login::reauthenticate(&state.ctx, &auth.user, form.password).await? {
        auth.session.reauthenticated().await?;
        return Ok(Redirect::to(urls::TWO_STEP).into_response());
    }
    let p = page(
        &state,
        &auth,
        None,
        Some(("That password is not correct.".into(), true)),
    )
    .await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, p).into_response())
}

fn recent_or_forbidden(auth: &Auth) -> Result<()> {
    if auth.recently_authenticated() {
        Ok(())
    } else {
        Err(WebError::Forbidden(
            "Confirm your password on the two-step login page first.".into(),
        ))
    }
}

/// Start setting up an authenticator app: a new secret, shown as a QR code and as text.
pub async fn app_post(State(state): State<AppState>, auth: Auth) -> Result<Response> {
    recent_or_forbidden(&auth)?;
    match two_step::begin_totp(&state.ctx, &auth.user).await {
        Ok(setup) => Ok(AppSetupPage {
            chrome: Chrome::of(&auth),
            setup,
            error: None,
        }
        .into_response()),
        Err(ServiceError::Conflict(message)) => Ok((
            StatusCode::CONFLICT,
            page(&state, &auth, None, Some((message, true))).await?,
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
    recent_or_forbidden(&auth)?;
    match two_step::confirm_totp(&state.ctx, &auth.user, &form.code).await {
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
                    let flash = ("Authenticator app added.".to_owned(), false);
                    Ok(page(&state, &auth, None, Some(flash))
                        .await?
                        .into_response())
                }
            }
        }
        Err(ServiceError::WrongCode) => {
            let Some(setup) = two_step::pending_totp(&state.ctx, &auth.user).await? else {
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
            page(&state, &auth, None, Some((message, true))).await?,
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

/// A change that needs the password again; a wrong one re-renders the page with the reason.
async fn with_password<T>(
    state: &AppState,
    auth: &Auth,
    result: crate::service::Result<T>,
    on_ok: impl FnOnce(T) -> Result<Response>,
) -> Result<Response> {
    match result {
        Ok(v) => on_ok(v),
        Err(ServiceError::WrongPassword) => {
            let p = page(
                state,
                auth,
                None,
                Some(("That password is not correct.".into(), true)),
            )
            .await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, p).into_response())
        }
        Err(ServiceError::Forbidden(why)) => {
            let p = page(state, auth, None, Some((capitalised(why), true))).await?;
            Ok((StatusCode::FORBIDDEN, p).into_response())
        }
        Err(ServiceError::Conflict(message)) => {
            let p = page(state, auth, None, Some((message, true))).await?;
            Ok((StatusCode::CONFLICT, p).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn recovery_codes_post(
    State(state): State<AppState>,
    auth: Auth,
    Form(form): Form<PasswordForm>,
) -> Result<Response> {
    let result = two_step::regenerate_recovery_codes(&state.ctx, &auth.user, form.password).await;
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
            let flash = (
                "Two-step login is off: your password alone logs you in.".into(),
                false,
            );
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
    if !auth.recently_authenticated() {
        return Ok(json_error(
            StatusCode::FORBIDDEN,
            "Confirm your password on this page first.",
        ));
    }
    let (options, ceremony) = two_step::start_passkey_registration(&state.ctx, &auth.user).await?;
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
    match two_step::finish_passkey_registration(&state.ctx, &auth.user, &credential, &ceremony)
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
    let result = two_step::rename_passkey(&state.ctx, &auth.user, id, &form.name).await;
    match result {
        Ok(()) => {
            let flash = ("Passkey renamed.".to_owned(), false);
            Ok(page(&state, &auth, None, Some(flash))
                .await?
                .into_response())
        }
        Err(ServiceError::Invalid(message)) => {
            let p = page(&state, &auth, None, Some((message, true))).await?;
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
    let result = two_step::remove_passkey(&state.ctx, &auth.user, id, form.password).await;
    match result {
        Ok(()) => {
            let flash = ("Passkey removed.".to_owned(), false);
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

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => format!("{}{}.", f.to_uppercase(), c.as_str().trim_end_matches('.')),
        None => String::new(),
    }
}
