//! Errors in the provider's shape: `{"<kind>":{"code":<status>,"message":"…"}}`, and the
//! phone-PIN error codes `PP-000` … `PP-005`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::http::errors::Bodiless;

/// The phone-PIN error codes.
pub mod codes {
    pub const NO_PIN: &str = "PP-000";
    pub const INVALID: &str = "PP-001";
    pub const NOT_PERMITTED: &str = "PP-002";
    pub const INCORRECT: &str = "PP-003";
    pub const LOCKED: &str = "PP-004";
    pub const NOT_LOCKED: &str = "PP-005";
}

/// The message of a phone-PIN error as the provider words it.
pub fn pp_message(code: &str, text: &str) -> String {
    format!("Error code: '{code}'; {text}")
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Seconds, for 429 and 503.
    pub retry_after: Option<i64>,
    /// The body's key when the provider uses another than the status's usual one (its 409 for
    /// `only_if_missing` is a `badRequest`).
    pub kind: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            retry_after: None,
            kind: None,
        }
    }
    /// Wrong credentials, as the provider words it.
    pub fn bad_credentials() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "Error code: 'AUTH-004'; Unable to authenticate user with credentials provided.",
        )
    }
    /// Nothing the client accepts can be produced (an `Accept` of XML only).
    pub fn not_acceptable() -> Self {
        Self::new(
            StatusCode::NOT_ACCEPTABLE,
            "This API answers in JSON only: accept application/json.",
        )
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "No valid token provided. Please use the 'X-Auth-Token' header with a valid token.",
        )
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn pin(status: StatusCode, code: &str, text: &str) -> Self {
        Self::new(status, pp_message(code, text))
    }
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Service unavailable: an internal error occurred. Nothing was changed.",
        )
    }
}

/// The body key the provider uses for a status.
fn kind(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "badRequest",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "itemNotFound",
        405 => "badMethod",
        406 => "notAcceptable",
        409 => "conflict",
        413 => "requestEntityTooLarge",
        415 => "badMediaType",
        429 => "overLimit",
        503 => "serviceUnavailable",
        _ => "identityFault",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let key = self.kind.unwrap_or_else(|| kind(self.status));
        let body = json!({ key: { "code": self.status.as_u16(), "message": self.message } });
        let mut res = (self.status, Json(body)).into_response();
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        res
    }
}

impl From<crate::service::ServiceError> for ApiError {
    fn from(e: crate::service::ServiceError) -> Self {
        use crate::service::ServiceError as E;
        match e {
            E::NotFound => ApiError::not_found("User not found."),
            E::Forbidden(_) => ApiError::forbidden("Not Authorized"),
            E::Locked => ApiError::pin(
                StatusCode::FORBIDDEN,
                codes::LOCKED,
                "User's PIN is locked.",
            ),
            E::NotLocked => ApiError::pin(
                StatusCode::FORBIDDEN,
                codes::NOT_LOCKED,
                "The Phone PIN is not locked.",
            ),
            E::NoPin => ApiError::pin(
                StatusCode::FORBIDDEN,
                codes::NO_PIN,
                "The user has no Phone PIN.",
            ),
            E::PinExists => ApiError {
                kind: Some("badRequest"),
                ..ApiError::new(StatusCode::CONFLICT, "The user already has a Phone PIN.")
            },
            E::InvalidPin(err) => ApiError::pin(
                StatusCode::BAD_REQUEST,
                codes::INVALID,
                &format!("Invalid Phone PIN. {} {}", err, crate::domain::PIN_GUIDANCE),
            ),
            E::WrongCode | E::WrongPassword => ApiError::bad_credentials(),
            E::CodesRefused => ApiError::forbidden(
                "Too many wrong passcodes were given for this user: passcodes from the app are \
                 refused until a recovery code is used or an administrator allows them again.",
            ),
            E::ReauthRequired => ApiError::forbidden(
                "The Support PIN and the e-mail address can be changed only within the \
                 re-authentication window after a password entry: request a new token (POST \
                 /v2.0/tokens) and try again.",
            ),
            E::PinRequired => ApiError::pin(
                StatusCode::BAD_REQUEST,
                codes::INVALID,
                "Must supply a Phone PIN.",
            ),
            E::KeyRotated => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                crate::service::KEY_ROTATED_MESSAGE,
            ),
            E::Invalid(msg) | E::Immutable(msg) => ApiError::bad_request(msg),
            E::Conflict(msg) | E::Taken(msg) => ApiError::new(StatusCode::CONFLICT, msg),
            E::Stale => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "It was changed since that version: read it again.",
            ),
            E::Throttled { retry_after } => ApiError {
                retry_after: Some(retry_after),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many requests. Try again later.",
                )
            },
            E::Unavailable { retry_after } => ApiError {
                retry_after: Some(retry_after),
                ..ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The service cannot reach its database right now; nothing was changed. \
                     Try again in a moment.",
                )
            },
            E::Busy { retry_after } => ApiError {
                retry_after: Some(retry_after),
                ..ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The service is busy. Try again in a moment.",
                )
            },
            E::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "internal error in the API");
                ApiError::internal()
            }
        }
    }
}

/// The API's body for an error response that has none (axum's 404, 405, 413 …): the
/// provider's shape, keeping the `Allow` header of a 405.
pub fn render(e: Bodiless) -> Response {
    let message = match e.status {
        StatusCode::NOT_FOUND => "Resource not found.",
        StatusCode::METHOD_NOT_ALLOWED => "Method not allowed for this resource.",
        StatusCode::PAYLOAD_TOO_LARGE => "Request body too large (the limit is 64 KiB).",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "Content-Type must be application/json.",
        _ => "The request could not be handled.",
    };
    let mut out = ApiError::new(e.status, message).into_response();
    if let Some(allow) = e.parts.headers.get(header::ALLOW) {
        out.headers_mut().insert(header::ALLOW, allow.clone());
    }
    out
}
