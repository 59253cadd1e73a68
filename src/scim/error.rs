//! SCIM errors (RFC 7644 §3.12): `{"schemas":[Error],"status":"409","scimType":"uniqueness",
//! "detail":"…"}` with `application/scim+json`, for every refusal under `/scim/v2`, the
//! framework's own (404, 405, 413, 415) included.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::CONTENT_TYPE;
use crate::http::errors::Bodiless;
use crate::service::ServiceError;

pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// RFC 7644's `scimType` values pinpanel answers with.
pub mod kind {
    pub const INVALID_FILTER: &str = "invalidFilter";
    pub const INVALID_SYNTAX: &str = "invalidSyntax";
    pub const INVALID_PATH: &str = "invalidPath";
    pub const INVALID_VALUE: &str = "invalidValue";
    pub const MUTABILITY: &str = "mutability";
    pub const NO_TARGET: &str = "noTarget";
    pub const UNIQUENESS: &str = "uniqueness";
    pub const TOO_MANY: &str = "tooMany";
}

#[derive(Debug)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
    /// Seconds, for 429 and 503.
    pub retry_after: Option<i64>,
}

pub type ScimResult<T> = Result<T, ScimError>;

impl ScimError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        ScimError {
            status,
            scim_type: None,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// A 400 with its `scimType`.
    pub fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        ScimError {
            scim_type: Some(scim_type),
            ..Self::new(StatusCode::BAD_REQUEST, detail)
        }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "Send a provisioning token of this panel: Authorization: Bearer <token>.",
        )
    }

    /// The same error about a filter (the query's, not a value's).
    pub fn in_filter(self) -> Self {
        match self.scim_type {
            Some(kind::INVALID_VALUE) | None if self.status == StatusCode::BAD_REQUEST => {
                ScimError::bad(kind::INVALID_FILTER, self.detail)
            }
            _ => self,
        }
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t);
        }
        let mut res = (self.status, body.to_string()).into_response();
        let headers = res.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"pinpanel SCIM\""),
            );
        }
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                headers.insert(header::RETRY_AFTER, v);
            }
        }
        res
    }
}

impl From<ServiceError> for ScimError {
    fn from(e: ServiceError) -> Self {
        use ServiceError as E;
        match e {
            E::NotFound => ScimError::not_found("No such member."),
            E::Invalid(why) => ScimError::bad(kind::INVALID_VALUE, why),
            E::Immutable(why) => ScimError::bad(kind::MUTABILITY, why),
            E::Taken(why) => ScimError {
                scim_type: Some(kind::UNIQUENESS),
                ..ScimError::new(StatusCode::CONFLICT, why)
            },
            E::Conflict(why) => ScimError::new(StatusCode::CONFLICT, why),
            E::Stale => ScimError::new(
                StatusCode::PRECONDITION_FAILED,
                "The member was changed since that version (If-Match): read it again.",
            ),
            E::Forbidden(why) => ScimError::new(StatusCode::FORBIDDEN, why),
            E::Throttled { retry_after } => ScimError {
                retry_after: Some(retry_after),
                ..ScimError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many wrong tokens from this address: try again later.",
                )
            },
            E::Unavailable { retry_after } => ScimError {
                retry_after: Some(retry_after),
                ..ScimError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The panel cannot reach its database right now; nothing was changed: try \
                     again in a moment.",
                )
            },
            E::Busy { retry_after } => ScimError {
                retry_after: Some(retry_after),
                ..ScimError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The panel is busy: try again in a moment.",
                )
            },
            E::KeyRotated => ScimError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                crate::service::KEY_ROTATED_MESSAGE,
            ),
            E::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "internal error in SCIM");
                ScimError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "An internal error occurred. Nothing was changed.",
                )
            }
            // PIN and second-step refusals: SCIM changes neither, so these reach here only if
            // a shared step refuses; said as a bad value, in the service's words.
            e @ (E::Locked
            | E::NotLocked
            | E::NoPin
            | E::PinExists
            | E::InvalidPin(_)
            | E::WrongCode
            | E::CodesRefused
            | E::WrongPassword
            | E::ReauthRequired
            | E::PinRequired) => ScimError::bad(kind::INVALID_VALUE, e.to_string()),
        }
    }
}

/// The SCIM body of an error response that has none (the framework's 404, 405, 413, 415 …).
pub fn render(e: Bodiless) -> Response {
    let detail = e.message.unwrap_or_else(|| {
        match e.status {
            StatusCode::NOT_FOUND => "There is no such resource here.",
            StatusCode::METHOD_NOT_ALLOWED => "That method is not allowed on this resource.",
            StatusCode::PAYLOAD_TOO_LARGE => "The request is larger than 1 MiB.",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                "Send application/scim+json (or application/json)."
            }
            StatusCode::SERVICE_UNAVAILABLE => "The request took too long; nothing was changed.",
            _ => "The request could not be served.",
        }
        .to_owned()
    });
    let mut res = ScimError::new(e.status, detail).into_response();
    // Keep what the framework said besides the body (the `Allow` of a 405).
    for (name, value) in e.parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            res.headers_mut()
                .entry(name.clone())
                .or_insert(value.clone());
        }
    }
    res
}
