//! Logging in and out.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use secrecy::SecretString;
use serde::Deserialize;

use super::error::{wait_for, Result};
use super::session::{Auth, Client, WebSession};
use super::{csrf, urls};
use crate::domain::User;
use crate::http::{client::ClientAddr, AppState};
use crate::service::login::{authenticate, LoginFailure, NextStep};
use crate::service::sessions;

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
pub struct LoginPage {
    csrf: String,
    /// "Sign in with …", when single sign-on is set up.
    sso_name: Option<String>,
    username: String,
    next: String,
    error: Option<String>,
    notice: Option<&'static str>,
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    expired: Option<String>,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// Only a path on this site may follow a login: `/users`, never `//evil.example` or
/// `https://evil.example`.
pub fn safe_next(next: Option<&str>) -> Option<String> {
    let next = next?.trim();
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
        && next.len() <= 512;
    local.then(|| next.to_owned())
}

/// A page for a visitor who is not logged in, with the anonymous form token (and its cookie
/// when the visitor has none yet): no session row is written.
pub fn anonymous_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    page: impl FnOnce(String) -> Response,
) -> Response {
    let form = csrf::anonymous::token(&state.settings, headers);
    let mut res = page(form.token);
    *res.status_mut() = status;
    if let Some(cookie) = form.set_cookie {
        res.headers_mut().append(header::SET_COOKIE, cookie);
    }
    res
}

pub async fn login_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    auth: Option<Auth>,
    Query(q): Query<LoginQuery>,
) -> Result<Response> {
    if auth.is_some() {
        return Ok(Redirect::to(urls::HOME).into_response());
    }
    Ok(anonymous_page(&state, &headers, StatusCode::OK, |csrf| {
        LoginPage {
            csrf,
            sso_name: sso_name(&state),
            username: String::new(),
            next: safe_next(q.next.as_deref()).unwrap_or_default(),
            error: None,
            notice: if q.expired.is_some() {
                Some("Your session has ended. Please log in again.")
            } else if q.password.is_some() {
                Some("Your password is set: log in with it.")
            } else {
                None
            },
        }
        .into_response()
    }))
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    password: SecretString,
    #[serde(default)]
    next: Option<String>,
}

pub async fn login_post(
    State(state): State<AppState>,
    session: WebSession,
    headers: HeaderMap,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<LoginForm>,
) -> Result<Response> {
    let next = safe_next(form.next.as_deref());
    let client = Client::of(&addr, &headers);
    let browser = crate::domain::browser_label(client.user_agent);
    match authenticate(&state.ctx, &form.username, form.password, &addr, &browser).await? {
        Ok(found) => {
            let user = found.user;
            let to = match found.next {
                NextStep::SecondStep => {
                    session.begin_second_step(&user, next.as_deref()).await?;
                    return Ok(Redirect::to(urls::SECOND_STEP).into_response());
                }
                NextStep::SetUpTwoStep => {
                    session.login(&user, true, &client).await?;
                    urls::TWO_STEP
                }
                NextStep::LoggedIn => {
                    session.login(&user, false, &client).await?;
                    next.as_deref().unwrap_or(home_of(&user))
                }
            };
            tracing::info!(user = %user.username, "logged in");
            Ok(Redirect::to(to).into_response())
        }
        Err(failure) => {
            let (status, message, retry) = match failure {
                LoginFailure::BadCredentials => (
                    StatusCode::UNAUTHORIZED,
                    "The username or password is incorrect.".to_owned(),
                    None,
                ),
                LoginFailure::Throttled { retry_after } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "Too many failed attempts. Try again in {}.",
                        wait_for(retry_after)
                    ),
                    Some(retry_after),
                ),
            };
            let username = form.username.chars().take(64).collect();
            let mut res = anonymous_page(&state, &headers, status, |csrf| {
                LoginPage {
                    csrf,
                    sso_name: sso_name(&state),
                    username,
                    next: next.unwrap_or_default(),
                    error: Some(message),
                    notice: None,
                }
                .into_response()
            });
            if let Some(secs) = retry {
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            Ok(res)
        }
    }
}

fn sso_name(state: &AppState) -> Option<String> {
    state.ctx.sso.as_ref().map(|s| s.name.clone())
}

/// Where a person lands after logging in.
pub fn home_of(user: &User) -> &'static str {
    if user.is_agent() {
        urls::AGENT
    } else if user.is_admin() {
        urls::OVERVIEW
    } else {
        urls::PROFILE
    }
}

pub async fn logout_post(
    State(state): State<AppState>,
    session: WebSession,
    auth: Option<Auth>,
) -> Result<Response> {
    if let Some(auth) = &auth {
        sessions::logged_out(&state.ctx, &auth.user).await?;
    }
    // A session single sign-on opened: offer to sign out at the provider too.
    let offer = state
        .ctx
        .sso
        .as_ref()
        .is_some_and(|s| s.provider.end_session().is_some())
        && session.via_sso().await?;
    session.logout().await?;
    let to = if offer { urls::LOGGED_OUT } else { urls::LOGIN };
    let mut res = Redirect::to(to).into_response();
    res.headers_mut().insert(
        "Clear-Site-Data",
        HeaderValue::from_static("\"cookies\", \"storage\""),
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_may_follow_a_login() {
        assert_eq!(safe_next(Some("/users")).as_deref(), Some("/users"));
        assert_eq!(safe_next(Some("//evil.example/x")), None);
        assert_eq!(safe_next(Some("https://evil.example")), None);
        assert_eq!(safe_next(Some("/\\evil.example")), None);
        assert_eq!(safe_next(Some("users")), None);
        assert_eq!(safe_next(None), None);
    }
}
