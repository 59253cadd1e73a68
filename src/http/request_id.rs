//! The id of the current request, as set by the request-id layer in `startup`; error pages show
//! it so a person can quote it, and the log carries it on every line of the request.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;

/// The header the request id travels in.
pub const HEADER: &str = "x-request-id";

/// The request id, or an empty string when there is none.
pub struct RequestId(pub String);

impl RequestId {
    pub fn of(headers: &HeaderMap) -> RequestId {
        RequestId(
            headers
                .get(HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned(),
        )
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestId::of(&parts.headers))
    }
}
