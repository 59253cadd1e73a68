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
use super::urls;
use crate::crypto;
use crate::domain::{Account, User};
use crate::http::AppState;
use crate::service::policy::{self, RecentPassword};
use crate::service::{self, login::current_user, Ctx};

/// The record key holding the logged-in person's id; the session store mirrors it into its
/// `user_id` column so that one person's sessions can be ended.
pub const USER_ID_KEY: &str = "uid";
/// The record key under which the session store hands over the logged-in person with their
/// account, read with the record (it is never stored).
pub const PERSON_KEY: &str = "__person";
const UID: &str = USER_ID_KEY;
const EPOCH: &str = "epoch";
const AUTH_AT: &str = service::sessions::keys::STARTED;
const REAUTH_AT: &str = "reauth_at";
const SEEN_AT: &str = service::sessions::keys::SEEN;
const ADDRESS: &str = service::sessions::keys::ADDRESS;
const BROWSER: &str = service::sessions::keys::BROWSER;
const CSRF: &str = "csrf";
/// Set while a person whose role requires two-step login has not set it up yet.
const MUST_SET_UP: &str = "must_set_up";
/// A half-done login: the password was right, the second step is still to come.
const PENDING_UID: &str = "pending_uid";
const PENDING_EPOCH: &str = "pending_epoch";
const PENDING_AT: &str = "pending_at";
const PENDING_NEXT: &str = "pending_next";
/// The session was opened by single sign-on (logging out offers to sign out at the provider).
const VIA_SSO: &str = "via_sso";

/// `seen_at` is written at most this often, so reading pages does not write the database on
/// every request; the idle timeout is therefore exact to within this many seconds.
const SEEN_RESOLUTION_SECS: i64 = 60;

/// Who logged in from where, for the sessions page.
pub struct Client<'a> {
    pub address: &'a str,
    pub user_agent: &'a str,
}

impl<'a> Client<'a> {
    pub fn of(address: &'a str, headers: &'a axum::http::HeaderMap) -> Client<'a> {
        Client {
            address,
            user_agent: headers
                .get(axum::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
        }
    }
}

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
    if let tower_sessions::session::Error::Store(store_error) = &e {
        if service::sessions::store_unreachable(store_error) {
            tracing::warn!(error = %e, "the session store cannot reach the database");
            return WebError::Down {
                retry_after: service::UNAVAILABLE_RETRY_SECS,
            };
        }
    }
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

    /// Has this session a CSRF secret (someone logged in, or half-way through logging in)?
    pub async fn has_csrf_secret(&self) -> Result<bool, WebError> {
        Ok(self.get::<String>(CSRF).await?.is_some())
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
    /// CSRF secret, and the login counts as a fresh password entry for sudo mode. With
    /// `must_set_up`, only the two-step set-up pages answer until it is done.
    pub async fn login(
        &self,
        user: &User,
        must_set_up: bool,
        client: &Client<'_>,
    ) -> Result<(), WebError> {
        self.start(user, must_set_up, client, service::now()).await
    }

    /// [`WebSession::login`] for a sign-in at the identity provider: it counts as a password
    /// entry only from when the provider says the person last authenticated there
    /// (`authenticated_at`, its `auth_time`). A provider that reused a days-old session of an
    /// unattended browser gives no "sudo mode"; one that says nothing gives none either.
    pub async fn login_with_sso(
        &self,
        user: &User,
        must_set_up: bool,
        client: &Client<'_>,
        authenticated_at: Option<i64>,
    ) -> Result<(), WebError> {
        let now = service::now();
        let entered = authenticated_at.map_or(0, |at| at.min(now));
        self.start(user, must_set_up, client, entered).await?;
        self.set(VIA_SSO, true).await
    }

    async fn start(
        &self,
        user: &User,
        must_set_up: bool,
        client: &Client<'_>,
        reauth_at: i64,
    ) -> Result<(), WebError> {
        self.0.cycle_id().await.map_err(session_err)?;
        self.0.clear().await;
        let now = service::now();
        // For the person's sessions page: where and in what they logged in (no secret).
        self.set(ADDRESS, client.address).await?;
        self.set(
            BROWSER,
            client.user_agent.chars().take(300).collect::<String>(),
        )
        .await?;
        self.set(UID, user.id).await?;
        self.set(EPOCH, user.auth_epoch).await?;
        self.set(AUTH_AT, now).await?;
        self.set(REAUTH_AT, reauth_at).await?;
        self.set(SEEN_AT, now).await?;
        self.set(CSRF, crypto::random_token()).await?;
        if must_set_up {
            self.set(MUST_SET_UP, true).await?;
        }
        Ok(())
    }

    /// The password was right and a second step is due: a session of its own (new id, new
    /// CSRF secret) that holds who is logging in but logs nobody in, so nothing else answers.
    pub async fn begin_second_step(&self, user: &User, next: Option<&str>) -> Result<(), WebError> {
        self.0.cycle_id().await.map_err(session_err)?;
        self.0.clear().await;
        self.set(PENDING_UID, user.id).await?;
        self.set(PENDING_EPOCH, user.auth_epoch).await?;
        self.set(PENDING_AT, service::now()).await?;
        if let Some(next) = next {
            self.set(PENDING_NEXT, next).await?;
        }
        self.set(CSRF, crypto::random_token()).await?;
        Ok(())
    }

    /// Who is half-way through logging in (id, auth epoch, where to go next), while the
    /// half-done login has not expired.
    pub async fn pending_second_step(
        &self,
    ) -> Result<Option<(i64, i64, Option<String>)>, WebError> {
        let (Some(uid), Some(epoch), Some(at)) = (
            self.get::<i64>(PENDING_UID).await?,
            self.get::<i64>(PENDING_EPOCH).await?,
            self.get::<i64>(PENDING_AT).await?,
        ) else {
            return Ok(None);
        };
        if service::now() - at > service::two_step::PENDING_SECS {
            self.logout().await?;
            return Ok(None);
        }
        Ok(Some((uid, epoch, self.get::<String>(PENDING_NEXT).await?)))
    }

    /// Was the login single sign-on's?
    pub async fn via_sso(&self) -> Result<bool, WebError> {
        Ok(self.get::<bool>(VIA_SSO).await?.unwrap_or(false))
    }

    /// Two-step login is set up: the rest of the panel answers again.
    pub async fn set_up_done(&self) -> Result<(), WebError> {
        self.0
            .remove::<bool>(MUST_SET_UP)
            .await
            .map_err(session_err)?;
        Ok(())
    }

    /// Keeps a passkey ceremony's state (a challenge, not a secret) until its answer comes.
    pub async fn put_ceremony<T: Serialize>(&self, name: &str, state: &T) -> Result<(), WebError> {
        self.set(name, (state, service::now())).await
    }

    /// Takes a passkey ceremony's state out (each serves one answer), if it has not expired.
    pub async fn take_ceremony<T: DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, WebError> {
        let state = self.0.remove::<(T, i64)>(name).await.map_err(session_err)?;
        Ok(state
            .filter(|(_, at)| service::now() - at <= service::two_step::PENDING_SECS)
            .map(|(s, _)| s))
    }

    /// The handle of this session on the sessions page (a hash of its id).
    pub fn handle(&self) -> Option<String> {
        self.0
            .id()
            .map(|id| service::sessions::handle_of(&id.to_string()))
    }

    /// Ends the session: its row is deleted, so the cookie is dead on every instance.
    pub async fn logout(&self) -> Result<(), WebError> {
        self.0.flush().await.map_err(session_err)
    }

    /// Records a successful password re-entry, under a new session id: the elevated session
    /// is not the one whose id may have been seen before. Returns the proof of it.
    pub async fn reauthenticated(&self, user: &User) -> Result<RecentPassword, WebError> {
        self.0.cycle_id().await.map_err(session_err)?;
        self.set(REAUTH_AT, service::now()).await?;
        Ok(policy::password_just_entered(user))
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
    /// When the password was last entered (the login, or a re-entry since).
    reauth_at: i64,
    /// The person must set up two-step login before anything else.
    pub setting_up: bool,
}

/// While two-step login must be set up, only its pages (and logging out) answer.
fn may_visit_while_setting_up(path: &str) -> bool {
    path == urls::LOGOUT
        || path == urls::TWO_STEP
        || path.starts_with(&format!("{}/", urls::TWO_STEP))
}

impl Auth {
    /// Proof that the password was entered recently enough to show or change the PIN, or a
    /// second factor ("sudo mode"), if it was.
    pub fn recent_password(&self, ctx: &Ctx) -> Option<RecentPassword> {
        policy::recent_password(
            &self.user,
            self.reauth_at,
            service::now(),
            ctx.settings.reauth_secs,
        )
        .ok()
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
        // The store read the person with the record; a store without that (or a record
        // whose person was read before a change) falls back to reading it now.
        let person = match session.get::<(User, Option<Account>)>(PERSON_KEY).await? {
            Some((user, account)) if user.id == uid => {
                service::login::may_still_act(&user, epoch).then_some((user, account))
            }
            _ => current_user(&state.ctx, uid, epoch).await?,
        };
        let Some((user, account)) = person else {
            session.logout().await?;
            return Err(WebError::LoginRequired { expired: true });
        };
        if now - seen_at >= SEEN_RESOLUTION_SECS {
            session.set(SEEN_AT, now).await?;
        }
        let setting_up = session.get::<bool>(MUST_SET_UP).await?.unwrap_or(false);
        if setting_up && !may_visit_while_setting_up(parts.uri.path()) {
            return Err(WebError::TwoStepSetUpRequired);
        }
        let csrf = session.csrf_token(&settings.csrf_key).await?;
        Ok(Auth {
            user,
            account,
            session,
            csrf,
            reauth_at,
            setting_up,
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
