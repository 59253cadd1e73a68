//! Single sign-on in the panel: "Sign in with …" on the login page, the provider's callback,
//! linking and unlinking an identity from the security page, confirming who one is with it,
//! and the offer to sign out at the provider too. Every step is a plain form or link: it works
//! without JavaScript.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::cookies::PanelCookie;
use super::error::{Result, WebError};
use super::flash::{sentence, Flash};
use super::login::{home_of, safe_next};
use super::security::{page, with_password, PasswordForm};
use super::session::{Auth, Client, WebSession};
use super::urls;
use crate::http::{client::ClientAddr, AppState};
use crate::service::login::{self, NextStep};
use crate::service::sso::{self, Callback, Finished, Purpose, SsoError};
use crate::service::ServiceError;

/// The answer that sends the browser to the provider, with the cookie that binds the sign-in
/// to this browser.
fn to_provider(state: &AppState, started: sso::Started) -> Response {
    let mut res = Redirect::to(started.redirect.as_str()).into_response();
    let secure = state.settings.cookie_secure;
    let max_age = Some(sso::ATTEMPT_SECS);
    if let Some(v) = PanelCookie::SignIn.set(secure, &started.browser, max_age) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// Clears the binding cookie (the attempt is spent either way).
fn clear_cookie(state: &AppState, res: &mut Response) {
    if let Some(v) = PanelCookie::SignIn.clear(state.settings.cookie_secure) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "sso/refused.html")]
pub struct RefusedPage {
    title: String,
    message: String,
    /// The identity was linked to nobody: how to link it.
    not_linked: bool,
    name: String,
}

/// A refusal as a page (no session is made): what happened and what to do.
fn refused(state: &AppState, e: SsoError) -> Result<Response> {
    let name = state
        .ctx
        .sso
        .as_ref()
        .map_or("single sign-on".to_owned(), |s| s.name.clone());
    let not_linked = matches!(e, SsoError::NotLinked { .. });
    let (status, title, message) = match e {
        SsoError::Off => (
            StatusCode::NOT_FOUND,
            "Not available",
            sentence(&e.to_string()),
        ),
        SsoError::Unavailable(why) => {
            tracing::warn!(error = %why, "single sign-on: the provider is unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "Not available right now",
                format!("Sign-in with {name} is not available right now; use your password."),
            )
        }
        SsoError::NotLinked { email } => (
            StatusCode::FORBIDDEN,
            "Not linked",
            format!(
                "Your {name} account{} is not linked to a login here.",
                email
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            ),
        ),
        SsoError::Disabled => (
            StatusCode::FORBIDDEN,
            "Login disabled",
            "This login is disabled: ask your account's administrator.".to_owned(),
        ),
        SsoError::TakenIdentity => (
            StatusCode::CONFLICT,
            "Already linked",
            format!("That {name} account is linked to another login here."),
        ),
        SsoError::UnknownAttempt
        | SsoError::Replayed
        | SsoError::Expired
        | SsoError::ProviderSaid(_)
        | SsoError::Refused(_) => (
            StatusCode::BAD_REQUEST,
            "Sign-in refused",
            format!(
                "{} Start again from the login page.",
                sentence(&e.to_string())
            ),
        ),
        SsoError::Service(se) => match se {
            // Not about this sign-in: answered as every page answers them (429, 503, 500, the
            // password again).
            ServiceError::Throttled { .. }
            | ServiceError::Busy { .. }
            | ServiceError::Unavailable { .. }
            | ServiceError::KeyRotated
            | ServiceError::ReauthRequired
            | ServiceError::Internal(_) => return Err(se.into()),
            ServiceError::NotFound
            | ServiceError::Forbidden(_)
            | ServiceError::Locked
            | ServiceError::NotLocked
            | ServiceError::NoPin
            | ServiceError::PinExists
            | ServiceError::InvalidPin(_)
            | ServiceError::WrongCode
            | ServiceError::CodesRefused
            | ServiceError::WrongPassword
            | ServiceError::PinRequired
            | ServiceError::Invalid(_)
            | ServiceError::Conflict(_)
            | ServiceError::Taken(_)
            | ServiceError::Stale
            | ServiceError::Immutable(_) => (
                StatusCode::BAD_REQUEST,
                "Sign-in refused",
                format!(
                    "{} Start again from the login page.",
                    sentence(&se.to_string())
                ),
            ),
        },
    };
    let mut res = (
        status,
        RefusedPage {
            title: title.to_owned(),
            message,
            not_linked,
            name,
        },
    )
        .into_response();
    clear_cookie(state, &mut res);
    Ok(res)
}

#[derive(Deserialize)]
pub struct StartForm {
    #[serde(default)]
    next: Option<String>,
}

/// "Sign in with …": to the provider.
pub async fn sso_start_post(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<StartForm>,
) -> Result<Response> {
    let next = safe_next(form.next.as_deref());
    match sso::begin(
        &state.ctx,
        Purpose::Login {
            next: next.as_deref(),
        },
        &addr,
    )
    .await
    {
        Ok(started) => Ok(to_provider(&state, started)),
        Err(e) => refused(&state, e),
    }
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// The provider sends the browser back here.
pub async fn sso_callback_get(
    State(state): State<AppState>,
    session: WebSession,
    auth: Option<Auth>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Result<Response> {
    let browser = PanelCookie::SignIn.read(&headers, state.settings.cookie_secure);
    let callback = Callback {
        code: q.code,
        state: q.state,
        error: q.error,
        error_description: q.error_description,
    };
    let finished = match sso::finish(&state.ctx, callback, browser.as_deref()).await {
        Ok(finished) => finished,
        Err(e) => return refused(&state, e),
    };
    let mut res = match finished {
        Finished::SignedIn {
            user,
            second_factor,
            authenticated_at,
            next,
        } => {
            let client = Client::of(&addr, &headers);
            // As after a password, unless the provider said a second factor was used.
            match login::next_step(&state.ctx, &user, second_factor).await? {
                NextStep::SecondStep => {
                    session.begin_second_step(&user, next.as_deref()).await?;
                    Redirect::to(urls::SECOND_STEP).into_response()
                }
                NextStep::SetUpTwoStep => {
                    session
                        .login_with_sso(&user, true, &client, authenticated_at)
                        .await?;
                    Redirect::to(urls::TWO_STEP).into_response()
                }
                NextStep::LoggedIn => {
                    session
                        .login_with_sso(&user, false, &client, authenticated_at)
                        .await?;
                    let to = next.unwrap_or_else(|| home_of(&user).to_owned());
                    Redirect::to(&to).into_response()
                }
            }
        }
        // Both answer only the member who started them, in the session that started them.
        Finished::Linked { user, .. } => match auth.as_ref().filter(|a| a.user.id == user.id) {
            Some(_) => Redirect::to(urls::TWO_STEP_LINKED).into_response(),
            None => Redirect::to(urls::LOGIN).into_response(),
        },
        Finished::Reauthenticated { user } => {
            match auth.as_ref().filter(|a| a.user.id == user.id) {
                Some(a) => {
                    a.session.reauthenticated(&user).await?;
                    Redirect::to(urls::PROFILE_SUPPORT_PIN).into_response()
                }
                None => Redirect::to(urls::LOGIN).into_response(),
            }
        }
    };
    clear_cookie(&state, &mut res);
    Ok(res)
}

/// A logged-in person links an identity: to the provider, after a recent password entry (a
/// link is a lasting way in, so a borrowed session must not be able to make one).
pub async fn sso_link_post(
    State(state): State<AppState>,
    auth: Auth,
    ClientAddr(addr): ClientAddr,
) -> Result<Response> {
    let Some(recent) = auth.recent_password(&state.ctx) else {
        return Err(WebError::Forbidden(
            "Confirm your password on the two-step login page first.".into(),
        ));
    };
    let purpose = Purpose::Link {
        user: &auth.user,
        recent: &recent,
    };
    match sso::begin(&state.ctx, purpose, &addr).await {
        Ok(started) => Ok(to_provider(&state, started)),
        Err(e) => refused(&state, e),
    }
}

/// A logged-in person confirms who they are with their identity (instead of their password).
pub async fn sso_reauth_post(
    State(state): State<AppState>,
    auth: Auth,
    ClientAddr(addr): ClientAddr,
) -> Result<Response> {
    match sso::begin(&state.ctx, Purpose::Reauth { user: &auth.user }, &addr).await {
        Ok(started) => Ok(to_provider(&state, started)),
        Err(e) => refused(&state, e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "sso/logged_out.html")]
pub struct LoggedOutPage {
    name: String,
    provider_logout: Option<String>,
}

/// After logging out of a session that single sign-on opened: the offer to sign out at the
/// provider too (its RP-initiated logout), and the way back to the login page.
pub async fn logged_out_get(State(state): State<AppState>) -> Result<LoggedOutPage> {
    let sso = state.ctx.sso.as_ref().ok_or(WebError::NotFound)?;
    let back = state
        .ctx
        .settings
        .public_url
        .as_ref()
        .and_then(|u| u.join(urls::LOGIN).ok());
    Ok(LoggedOutPage {
        name: sso.name.clone(),
        provider_logout: back
            .and_then(|b| sso.provider.logout_url(&b))
            .map(|u| u.to_string()),
    })
}

/// Unlinks a single sign-on identity, after the password again.
pub async fn sso_unlink_post(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Form(form): Form<PasswordForm>,
) -> Result<Response> {
    match sso::unlink(&state.ctx, &auth.user, id, form.password).await {
        Ok(()) => {
            let flash = Flash::done("The identity is unlinked: it no longer signs you in.");
            Ok(page(&state, &auth, None, Some(flash))
                .await?
                .into_response())
        }
        Err(ServiceError::NotFound) => Err(WebError::NotFound),
        refused @ Err(_) => {
            with_password(&state, &auth, refused, |()| {
                Ok(StatusCode::OK.into_response())
            })
            .await
        }
    }
}
