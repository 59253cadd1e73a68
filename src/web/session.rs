//! The typed web session. Handlers never touch session keys directly: they call `login`,
//! `logout`, `csrf_token` and friends here, and get the logged-in person from the [`Auth`]
//! extractor, which also enforces the idle and absolute timeouts on every request, reads too.
//!
//! What a session holds: the person's id and auth epoch, when they logged in, last re-entered
//! their password and were last seen, and a random CSRF secret. Never a PIN or a password; the
//! CSRF token itself is an HMAC of the secret, so the table does not hold it either.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use serde::{de::DeserializeOwned, Serialize};
use subtle::ConstantTimeEq;
use tower_sessions::Session;

use super::error::WebError;
use crate::crypto;
use crate::domain::{Account, User};
use crate::http::AppState;
use crate::service::{self, login::current_user, login::within_reauth_window};

/// The record key holding the logged-in person's id; the session store mirrors it into its
/// `user_id` column so that one person's sessions can be ended.
pub const USER_ID_KEY: &str = "uid";
const UID: &str = USER_ID_KEY;
const EPOCH: &str = "epoch";
const AUTH_AT: &str = "auth_at";
const REAUTH_AT: &str = "reauth_at";
const SEEN_AT: &str = "seen_at";
const CSRF: &str = "csrf";

/// `seen_at` is written at most this often, so reading pages does not write the database on
/// every request; the idle timeout is therefore exact to within this many seconds.
const SEEN_RESOLUTION_SECS: i64 = 60;

/// The session of the current request.
#[derive(Clone)]
pub struct WebSession(pub Session);

impl<S: Send + Sync> FromRequestParts<S> for WebSession {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Session>()
            .cloned()
            .map(WebSession)
            .ok_or_else(|| WebError::Internal(anyhow::anyhow!("the session layer is missing")))
    }
}

fn session_err(e: tower_sessions::session::Error) -> WebError {
    WebError::Internal(anyhow::Error::new(e).context("session store"))
}

impl WebSession {
    async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, WebError> {
        self.0.get(key).await.map_err(session_err)
    }

    async fn set<T: Serialize>(&self, key: &str, value: T) -> Result<(), WebError> {
        self.0.insert(key, value).await.map_err(session_err)
    }

    /// The CSRF token for forms of this session, creating the session's secret if needed.
    pub async fn csrf_token(&self, key: &[u8; 32]) -> Result<String, WebError> {
        let secret = match self.get::<String>(CSRF).await? {
            Some(s) => s,
            None => {
                let s = crypto::random_token();
                self.set(CSRF, &s).await?;
                s
            }
        };
        Ok(crypto::hmac_hex(key, secret.as_bytes()))
    }

    /// Does `given` match this session's CSRF token? `None` when there is no session secret
    /// (nobody is logged in): then the anonymous form token applies (`web::csrf`).
    pub async fn check_csrf(&self, key: &[u8; 32], given: &str) -> Result<Option<bool>, WebError> {
        let Some(secret) = self.get::<String>(CSRF).await? else {
            return Ok(None);
        };
        let expected = crypto::hmac_hex(key, secret.as_bytes());
        Ok(Some(bool::from(
            expected.as_bytes().ct_eq(given.as_bytes()),
        )))
    }

    /// Starts an authenticated session: a new session id (so a planted id is worthless), a new
    /// CSRF secret, and the login counts as a fresh password entry for sudo mode.
    pub async fn login(&self, user: &User) -> Result<(), WebError> {
        self.0.cycle_id().await.map_err(session_err)?;
        self.0.clear().await;
        let now = service::now();
        self.set(UID, user.id).await?;
        self.set(EPOCH, user.auth_epoch).await?;
        self.set(AUTH_AT, now).await?;
        self.set(REAUTH_AT, now).await?;
        self.set(SEEN_AT, now).await?;
        self.set(CSRF, crypto::random_token()).await?;
        Ok(())
    }

    /// Ends the session: its row is deleted, so the cookie is dead on every instance.
    pub async fn logout(&self) -> Result<(), WebError> {
        self.0.flush().await.map_err(session_err)
    }

    /// Records a successful password re-entry, under a new session id: the elevated session
    /// is not the one whose id may have been seen before.
    pub async fn reauthenticated(&self) -> Result<(), WebError> {
        self.0.cycle_id().await.map_err(session_err)?;
        self.set(REAUTH_AT, service::now()).await
    }
}

/// The logged-in person of a request. Extracting it enforces the session timeouts and checks
/// that the person is still enabled and their auth epoch current; otherwise the session ends
/// and the request is answered with the login page.
pub struct Auth {
    pub user: User,
    /// The person's account; `None` for agents.
    pub account: Option<Account>,
    pub session: WebSession,
    pub csrf: String,
    /// A password entry is recent enough to show or change the PIN ("sudo mode").
    recent: bool,
}

impl Auth {
    /// Is a password entry recent enough to show or change the PIN ("sudo mode")?
    pub fn recently_authenticated(&self) -> bool {
        self.recent
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = WebSession::from_request_parts(parts, state).await?;
        let Some(uid) = session.get::<i64>(UID).await? else {
            return Err(WebError::LoginRequired { expired: false });
        };
        let epoch = session.get::<i64>(EPOCH).await?.unwrap_or(-1);
        let auth_at = session.get::<i64>(AUTH_AT).await?.unwrap_or(0);
        let seen_at = session.get::<i64>(SEEN_AT).await?.unwrap_or(0);
        let reauth_at = session.get::<i64>(REAUTH_AT).await?.unwrap_or(0);
        let now = service::now();
        let settings = &state.settings;
        if now - seen_at > settings.idle_timeout_secs
            || now - auth_at > settings.absolute_timeout_secs
        {
            session.logout().await?;
            return Err(WebError::LoginRequired { expired: true });
        }
        let Some((user, account)) = current_user(&state.ctx, uid, epoch).await? else {
            session.logout().await?;
            return Err(WebError::LoginRequired { expired: true });
        };
        if now - seen_at >= SEEN_RESOLUTION_SECS {
            session.set(SEEN_AT, now).await?;
        }
        let csrf = session.csrf_token(&settings.csrf_key).await?;
        Ok(Auth {
            user,
            account,
            session,
            csrf,
            recent: within_reauth_window(&state.ctx, reauth_at),
        })
    }
}

/// `Option<Auth>`: `None` when nobody is logged in (or the session has ended).
impl OptionalFromRequestParts<AppState> for Auth {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        match <Auth as FromRequestParts<AppState>>::from_request_parts(parts, state).await {
            Ok(auth) => Ok(Some(auth)),
            Err(WebError::LoginRequired { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
