//! What the two faces (the panel in `web`, the JSON API in `api`) share about HTTP: the
//! application state handlers reach, the client-address and request-id extractors, the error
//! plumbing that gives every bodiless error a readable body, the health probes, time formatting
//! and the API prefix. It imports `service` and `domain`, never `web` or `api`.

pub mod assets;
pub mod client;
pub mod errors;
pub mod headers;
pub mod health;
pub mod htmx;
pub mod metrics;
pub mod request_id;
pub mod time;

/// The defaults of the faces' settings, written once: `ServeSettings::default` and the command
/// line's defaults come from these.
pub mod defaults {
    use std::time::Duration;

    /// `PINPANEL_COOKIE_SECURE`.
    pub const COOKIE_SECURE: bool = true;
    /// `PINPANEL_IDLE_TIMEOUT_MINUTES`.
    pub const IDLE_TIMEOUT_MINUTES: u32 = 30;
    /// `PINPANEL_ABSOLUTE_TIMEOUT_HOURS`.
    pub const ABSOLUTE_TIMEOUT_HOURS: u32 = 12;
    /// A request head must arrive within this time (slow clients cannot hold the server).
    pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
    /// A request must be answered within this time.
    pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
}

use std::sync::Arc;

use axum::extract::FromRef;

use crate::service::Ctx;

/// Where the JSON API is mounted; the provider's clients expect exactly this.
pub const API_PREFIX: &str = "/v2.0";

/// The largest request body either face accepts.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Settings of the HTTP faces (the use cases' own settings live in [`Ctx`]).
#[derive(Clone)]
pub struct Settings {
    /// Signs CSRF tokens (derived from the PIN key).
    pub csrf_key: [u8; 32],
    pub idle_timeout_secs: i64,
    pub absolute_timeout_secs: i64,
    /// Mark cookies `Secure` (and name the session cookie with the `__Host-` prefix).
    pub cookie_secure: bool,
    /// Whose `X-Forwarded-For` to believe.
    pub trusted_proxies: client::TrustedProxies,
    /// A request must be answered within this time.
    pub request_timeout: std::time::Duration,
    /// What the API's users carry as `RAX-AUTH:defaultRegion` (`PINPANEL_DEFAULT_REGION`).
    pub default_region: String,
}

impl std::fmt::Debug for Settings {
    // Hand-written so the key never prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("cookie_secure", &self.cookie_secure)
            .field("trusted_proxies", &self.trusted_proxies)
            .finish_non_exhaustive()
    }
}

/// What every handler can reach. A clone is one reference count (axum clones the state of
/// each middleware for every request).
#[derive(Debug, Clone)]
pub struct AppState(Arc<StateParts>);

/// What an [`AppState`] holds (reached through it: `state.ctx`, `state.settings`).
#[derive(Debug)]
pub struct StateParts {
    pub ctx: Ctx,
    pub settings: Arc<Settings>,
}

impl AppState {
    pub fn new(ctx: Ctx, settings: Settings) -> AppState {
        AppState(Arc::new(StateParts {
            ctx,
            settings: Arc::new(settings),
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = StateParts;
    fn deref(&self) -> &StateParts {
        &self.0
    }
}

impl FromRef<AppState> for Ctx {
    fn from_ref(state: &AppState) -> Ctx {
        state.ctx.clone()
    }
}
