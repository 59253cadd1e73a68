//! Errors of the web panel: a session error redirects to the login page, access denied is 403,
//! throttling 429 with `Retry-After`, anything internal 500. The message a person reads is
//! attached to the response, and [`render`] (run by `http::errors::fill_bodies` for every
//! bodiless error outside the API) gives it a full page, or for htmx a fragment swapped into the
//! page's `#flash` region. Internal details go to the log with the request id; the person sees
//! the request id and nothing internal.

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::flash::sentence;
use super::urls;
use crate::http::errors::{Bodiless, ErrorMessage};
use crate::http::htmx;
use crate::service::ServiceError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// No session, or it expired: go to the login page.
    #[error("login required")]
    LoginRequired { expired: bool },
    /// The person's role requires two-step login and they have not set it up: go there.
    #[error("two-step login must be set up first")]
    TwoStepSetUpRequired,
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// What was sent cannot be used (422), with what was wrong.
    #[error("invalid: {0}")]
    Invalid(String),
    /// A rule refused the change (409), with why.
    #[error("conflict: {0}")]
    Conflict(String),
    /// This instance cannot do it now (503), with why.
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("not found")]
    NotFound,
    /// The CSRF token is missing or wrong.
    #[error("bad CSRF token")]
    Csrf,
    /// Too many attempts; try again later.
    #[error("throttled")]
    Throttled { retry_after: i64 },
    /// The server is saturated; try again in a moment.
    #[error("busy")]
    Busy { retry_after: i64 },
    /// The database is out of reach for now; nothing was written.
    #[error("the database cannot be reached")]
    Down { retry_after: i64 },
    /// The body is over the limit.
    #[error("request body too large")]
    TooLarge,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = WebError> = std::result::Result<T, E>;

/// The handlers turn most refusals into messages on their own pages; one that reaches here is
/// a state the page did not expect (a double submit, a form sent twice), answered by kind.
impl From<ServiceError> for WebError {
    fn from(e: ServiceError) -> Self {
        let said = |e: &ServiceError| sentence(&e.to_string());
        match e {
            ServiceError::NotFound => WebError::NotFound,
            ServiceError::Forbidden(why) => WebError::Forbidden(sentence(why)),
            ServiceError::ReauthRequired | ServiceError::CodesRefused => {
                WebError::Forbidden(said(&e))
            }
            e @ (ServiceError::InvalidPin(_)
            | ServiceError::WrongCode
            | ServiceError::WrongPassword
            | ServiceError::PinRequired) => WebError::Invalid(said(&e)),
            ServiceError::Invalid(why) => WebError::Invalid(why),
            e @ (ServiceError::Locked
            | ServiceError::NotLocked
            | ServiceError::NoPin
            | ServiceError::PinExists) => WebError::Conflict(said(&e)),
            ServiceError::Conflict(why) | ServiceError::Taken(why) => WebError::Conflict(why),
            ServiceError::Stale => WebError::Conflict(said(&e)),
            ServiceError::Immutable(why) => WebError::Invalid(why),
            ServiceError::KeyRotated => {
                WebError::Unavailable(crate::service::KEY_ROTATED_MESSAGE.into())
            }
            ServiceError::Throttled { retry_after } => WebError::Throttled { retry_after },
            ServiceError::Busy { retry_after } => WebError::Busy { retry_after },
            ServiceError::Unavailable { retry_after } => WebError::Down { retry_after },
            ServiceError::Internal(e) => WebError::Internal(e),
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            WebError::LoginRequired { expired } => {
                let to = if expired {
                    urls::LOGIN_EXPIRED
                } else {
                    urls::LOGIN
                };
                let mut res = Redirect::to(to).into_response();
                // htmx follows this with a full page load instead of swapping the login page
                // into a fragment.
                htmx::redirect(res.headers_mut(), to);
                return res;
            }
            WebError::TwoStepSetUpRequired => {
                let mut res = Redirect::to(urls::TWO_STEP).into_response();
                htmx::redirect(res.headers_mut(), urls::TWO_STEP);
                return res;
            }
            WebError::Forbidden(msg) => (StatusCode::FORBIDDEN, msg),
            WebError::Invalid(msg) => (StatusCode::UNPROCESSABLE_ENTITY, msg),
            WebError::Conflict(msg) => (StatusCode::CONFLICT, msg),
            WebError::Unavailable(msg) => (StatusCode::SERVICE_UNAVAILABLE, msg),
            WebError::NotFound => (StatusCode::NOT_FOUND, "There is nothing here.".into()),
            WebError::Csrf => (
                StatusCode::FORBIDDEN,
                "This form has expired or came from another site. Reload the page and try again."
                    .into(),
            ),
            WebError::Throttled { retry_after } => {
                let message = format!(
                    "Too many attempts. Wait {} and try again.",
                    wait_for(retry_after)
                );
                return with_retry_after(StatusCode::TOO_MANY_REQUESTS, retry_after, message);
            }
            WebError::Busy { retry_after } => {
                let message = format!(
                    "The server is busy right now. Wait {} and try again.",
                    wait_for(retry_after)
                );
                return with_retry_after(StatusCode::SERVICE_UNAVAILABLE, retry_after, message);
            }
            WebError::Down { retry_after } => {
                let message = "The panel cannot reach its records right now. Nothing was \
                               changed: try again in a moment."
                    .to_owned();
                return with_retry_after(StatusCode::SERVICE_UNAVAILABLE, retry_after, message);
            }
            WebError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                default_message(StatusCode::PAYLOAD_TOO_LARGE).into(),
            ),
            WebError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side. Nothing was changed; please try again."
                        .into(),
                )
            }
        };
        let mut res = status.into_response();
        res.extensions_mut().insert(ErrorMessage(message));
        res
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
    request_id: &'a str,
}

#[derive(Template)]
#[template(path = "error_fragment.html")]
struct ErrorFragment<'a> {
    message: &'a str,
    request_id: &'a str,
}

/// "3 seconds", "2 minutes": how long to wait, for people.
pub fn wait_for(secs: i64) -> String {
    if secs < 120 {
        format!("{secs} second{}", if secs == 1 { "" } else { "s" })
    } else {
        format!("{} minutes", (secs + 59) / 60)
    }
}

/// An error status with `Retry-After` and a message for the page.
fn with_retry_after(status: StatusCode, retry_after: i64, message: String) -> Response {
    let mut res = status.into_response();
    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res.extensions_mut().insert(ErrorMessage(message));
    res
}

/// The panel's body for an error response that has none.
pub fn render(e: Bodiless) -> Response {
    let Bodiless {
        mut parts,
        status,
        message,
        request_id,
        htmx,
    } = e;
    let message = message.unwrap_or_else(|| default_message(status).to_owned());
    let title = status.canonical_reason().unwrap_or("Error");
    let body = if htmx {
        // Swap the message into the page's flash region instead of the request's target.
        htmx::to_flash(&mut parts.headers);
        ErrorFragment {
            message: &message,
            request_id: &request_id,
        }
        .render()
    } else {
        ErrorPage {
            title,
            message: &message,
            request_id: &request_id,
        }
        .render()
    };
    let body = body.unwrap_or_else(|_| message.clone());
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Response::from_parts(parts, axum::body::Body::from(body))
}

fn default_message(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => {
            "There is nothing here. Check the address, or go back to your profile."
        }
        StatusCode::METHOD_NOT_ALLOWED => "This address does not accept that kind of request.",
        StatusCode::PAYLOAD_TOO_LARGE => "What was sent is too large.",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "What was sent is not a form this page understands.",
        StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => {
            "What was sent could not be understood."
        }
        StatusCode::FORBIDDEN => "You may not do that.",
        StatusCode::TOO_MANY_REQUESTS => "Too many attempts. Wait a while and try again.",
        _ => "Something went wrong on our side. Nothing was changed; please try again.",
    }
}
