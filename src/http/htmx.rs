//! htmx's headers, typed: whether a request came from htmx (so the answer is a fragment), and
//! the headers that steer what htmx does with an answer (follow a redirect with a full page
//! load, swap a message into the flash region instead of the request's target).

use axum::extract::FromRequestParts;
use axum::http::header::HeaderName;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};

/// Sent by htmx with every request it makes.
pub const REQUEST: HeaderName = HeaderName::from_static("hx-request");
/// Sent when htmx restores a page from its history: it wants the whole page.
pub const HISTORY_RESTORE_REQUEST: HeaderName =
    HeaderName::from_static("hx-history-restore-request");
/// Tells htmx to load this address as a full page.
pub const REDIRECT: HeaderName = HeaderName::from_static("hx-redirect");
/// Tells htmx to swap the answer into another element.
pub const RETARGET: HeaderName = HeaderName::from_static("hx-retarget");
/// Tells htmx how to swap the answer.
pub const RESWAP: HeaderName = HeaderName::from_static("hx-reswap");

/// Did htmx make this request for a fragment (not a history restore, which wants the page)?
pub fn wants_fragment(headers: &HeaderMap) -> bool {
    headers.contains_key(REQUEST) && !headers.contains_key(HISTORY_RESTORE_REQUEST)
}

/// Did htmx make this request at all (its errors then go to the flash region)?
pub fn is_request(headers: &HeaderMap) -> bool {
    headers.contains_key(REQUEST)
}

/// htmx follows `to` with a full page load (instead of swapping a login page into a fragment).
pub fn redirect(headers: &mut HeaderMap, to: &'static str) {
    headers.insert(REDIRECT, HeaderValue::from_static(to));
}

/// htmx swaps the answer into the page's flash region, whatever the request's target was.
pub fn to_flash(headers: &mut HeaderMap) {
    headers.insert(RETARGET, HeaderValue::from_static("#flash"));
    headers.insert(RESWAP, HeaderValue::from_static("innerHTML"));
}

/// Is this an htmx request (so the answer is a fragment, not a page)?
#[derive(Debug, Clone, Copy)]
pub struct Htmx(pub bool);

impl<S: Send + Sync> FromRequestParts<S> for Htmx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Htmx(wants_fragment(&parts.headers)))
    }
}
