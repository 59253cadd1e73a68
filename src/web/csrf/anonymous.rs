//! CSRF tokens for visitors who are not logged in (the login form, and later the forgotten
//! password and invitation forms), without a session row: a signed double-submit cookie. The
//! cookie holds a random secret; the form carries an HMAC of it under the CSRF key. A cross-site
//! page can neither read the cookie nor compute the HMAC, and with `Secure` the `__Host-` prefix
//! stops a sibling subdomain from planting one. So anonymous traffic writes nothing to the
//! database, however much of it there is.
//!
//! Logged-in sessions use the synchronizer token in `session.rs` instead.

use axum::http::{HeaderMap, HeaderValue};
use subtle::ConstantTimeEq;

use crate::crypto;
use crate::http::Settings;
use crate::web::cookies::PanelCookie;

fn token_for(settings: &Settings, secret: &str) -> String {
    crypto::hmac_hex(
        &settings.csrf_key,
        format!("anonymous form:{secret}").as_bytes(),
    )
}

/// A secret looks like one we issued (so a planted 10 KB cookie is not signed).
fn plausible(secret: &str) -> bool {
    secret.len() == 43
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The token for an anonymous form, and the cookie to set when the visitor has none yet.
pub struct AnonymousToken {
    pub token: String,
    pub set_cookie: Option<HeaderValue>,
}

/// The form token of this visitor, issuing a cookie secret if needed.
pub fn token(settings: &Settings, headers: &HeaderMap) -> AnonymousToken {
    let secure = settings.cookie_secure;
    if let Some(secret) = PanelCookie::Form
        .read(headers, secure)
        .filter(|s| plausible(s))
    {
        return AnonymousToken {
            token: token_for(settings, &secret),
            set_cookie: None,
        };
    }
    let secret = crypto::random_token();
    AnonymousToken {
        token: token_for(settings, &secret),
        set_cookie: PanelCookie::Form.set(secure, &secret, None),
    }
}

/// Does `given` match the token of this visitor's cookie? No cookie matches nothing.
pub fn check(settings: &Settings, headers: &HeaderMap, given: &str) -> bool {
    match PanelCookie::Form
        .read(headers, settings.cookie_secure)
        .filter(|s| plausible(s))
    {
        Some(secret) => bool::from(
            token_for(settings, &secret)
                .as_bytes()
                .ct_eq(given.as_bytes()),
        ),
        None => false,
    }
}
