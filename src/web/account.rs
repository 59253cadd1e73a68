//! A person's own login: changing their password, and their sessions (ending one, or every
//! other).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use secrecy::SecretString;
use serde::Deserialize;

use super::error::Result;
use super::flash::Flash;
use super::session::{Auth, Client};
use super::{urls, Chrome};
use crate::domain::{SessionInfo, MIN_PASSWORD_CHARS};
use crate::http::time::format_time;
use crate::http::{client::ClientAddr, AppState};
use crate::service::{password, sessions, ServiceError};

#[derive(Template, WebTemplate)]
#[template(path = "account/password.html")]
pub struct PasswordPage {
    chrome: Chrome,
    error: Option<String>,
    done: bool,
    min_chars: usize,
}

pub async fn password_get(auth: Auth) -> PasswordPage {
    PasswordPage {
        chrome: Chrome::of(&auth),
        error: None,
        done: false,
        min_chars: MIN_PASSWORD_CHARS,
    }
}

#[derive(Deserialize)]
pub struct ChangeForm {
    current: SecretString,
    new: SecretString,
    again: SecretString,
}

/// Change password: on success every other session and token of the person ends, and this
/// browser carries on in a new session.
pub async fn password_post(
    State(state): State<AppState>,
    auth: Auth,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<ChangeForm>,
) -> Result<Response> {
    let refused = |auth: &Auth, why: String| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            PasswordPage {
                chrome: Chrome::of(auth),
                error: Some(why),
                done: false,
                min_chars: MIN_PASSWORD_CHARS,
            },
        )
            .into_response()
    };
    match password::change_own_password(&state.ctx, &auth.user, form.current, form.new, form.again)
        .await
    {
        Ok(user) => {
            auth.session
                .login(&user, auth.setting_up, &Client::of(&addr, &headers))
                .await?;
            let csrf = auth.session.csrf_token(&state.settings.csrf_key).await?;
            let chrome = Chrome {
                csrf,
                ..Chrome::of(&auth)
            };
            Ok(PasswordPage {
                chrome,
                error: None,
                done: true,
                min_chars: MIN_PASSWORD_CHARS,
            }
            .into_response())
        }
        Err(ServiceError::WrongPassword) => Ok(refused(
            &auth,
            "Your current password is not correct.".into(),
        )),
        Err(ServiceError::Invalid(why)) => Ok(refused(&auth, why)),
        Err(e) => Err(e.into()),
    }
}

/// "one …" or "3 …" as a sentence starts.
fn sentence_start(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// An API token as the page lists it.
pub struct TokenRow {
    pub issued: String,
    pub expires: String,
    pub last_used: String,
    pub address: String,
    pub revoke_url: String,
}

pub struct SessionRow {
    pub started: String,
    pub last_seen: String,
    pub address: String,
    pub browser: String,
    pub current: bool,
    pub end_url: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "account/sessions.html")]
pub struct SessionsPage {
    chrome: Chrome,
    sessions: Vec<SessionRow>,
    tokens: Vec<TokenRow>,
    flash: Option<Flash>,
}

impl SessionsPage {
    fn others(&self) -> bool {
        self.sessions.iter().any(|s| !s.current)
    }
}

async fn sessions_page(
    state: &AppState,
    auth: &Auth,
    flash: Option<Flash>,
) -> Result<SessionsPage> {
    let current = auth.session.handle().unwrap_or_default();
    let list = sessions::list(&state.ctx, &auth.user, &current).await?;
    let tokens = sessions::tokens(&state.ctx, &auth.user)
        .await?
        .into_iter()
        .map(|t| TokenRow {
            issued: format_time(t.issued_at),
            expires: format_time(t.expires_at),
            last_used: t
                .last_used_at
                .map(format_time)
                .unwrap_or_else(|| "not yet".into()),
            address: t.address,
            revoke_url: urls::with_key(urls::TOKEN_REVOKE, &t.handle),
        })
        .collect();
    Ok(SessionsPage {
        chrome: Chrome::of(auth),
        tokens,
        sessions: list
            .into_iter()
            .map(|s: SessionInfo| SessionRow {
                end_url: urls::with_key(urls::SESSION_END, &s.handle),
                started: format_time(s.started_at),
                last_seen: format_time(s.last_seen_at),
                address: s.client_address,
                browser: s.browser,
                current: s.current,
            })
            .collect(),
        flash,
    })
}

pub async fn sessions_get(State(state): State<AppState>, auth: Auth) -> Result<SessionsPage> {
    sessions_page(&state, &auth, None).await
}

pub async fn session_end_post(
    State(state): State<AppState>,
    auth: Auth,
    Path(handle): Path<String>,
) -> Result<SessionsPage> {
    let current = auth.session.handle().unwrap_or_default();
    let flash = match sessions::end(&state.ctx, &auth.user, &handle, &current).await {
        Ok(()) => "That session has ended.".to_owned(),
        Err(ServiceError::NotFound) => "That session had already ended.".to_owned(),
        Err(ServiceError::Invalid(why)) => why,
        Err(e) => return Err(e.into()),
    };
    sessions_page(&state, &auth, Some(Flash::done(flash))).await
}

pub async fn token_revoke_post(
    State(state): State<AppState>,
    auth: Auth,
    Path(handle): Path<String>,
) -> Result<SessionsPage> {
    let flash = match sessions::revoke_token(&state.ctx, &auth.user, &handle).await {
        Ok(()) => "That API token is revoked.",
        Err(ServiceError::NotFound) => "That API token had already ended.",
        Err(e) => return Err(e.into()),
    };
    sessions_page(&state, &auth, Some(Flash::done(flash))).await
}

pub async fn sessions_end_others_post(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<SessionsPage> {
    let current = auth.session.handle().unwrap_or_default();
    let (sessions, tokens) = sessions::end_others(&state.ctx, &auth.user, &current).await?;
    let ended = |n: u64, one: &str, many: &str| match n {
        1 => format!("your {one} has"),
        n => format!("your {n} {many} have"),
    };
    let flash = match (sessions, tokens) {
        (0, 0) => "You had no other sessions and no API tokens.".to_owned(),
        (s, 0) => format!("{} ended.", ended(s, "other session", "other sessions")),
        (0, t) => format!("{} ended.", ended(t, "API token", "API tokens")),
        (s, t) => format!(
            "{} ended, and {} too.",
            ended(s, "other session", "other sessions"),
            ended(t, "API token", "API tokens")
        ),
    };
    let flash = sentence_start(&flash);
    sessions_page(&state, &auth, Some(Flash::done(flash))).await
}
