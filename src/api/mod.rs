//! The JSON API, compatible with the provider's identity API v2.0 phone-PIN operations (SPEC
//! "The JSON API"). It only translates the provider's JSON shapes to `service` calls and back:
//! the rules, the lock counter, the permissions and the audit log are the panel's own.
//!
//! Authentication is the `X-Auth-Token` header only; cookies are never looked at, so no CSRF
//! token is needed (a browser cannot be made to send the header cross-site).

mod errors;
mod handlers;

use axum::routing::{delete, get, post, put};
use axum::Router;

pub use errors::{render as render_error, ApiError};

use crate::http::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tokens", post(handlers::tokens_post))
        .route("/tokens/{token}", delete(handlers::token_delete))
        .route("/users", get(handlers::users_get))
        .route(
            "/users/{user_id}",
            get(handlers::user_get).post(handlers::user_post),
        )
        .route(
            "/users/{user_id}/RAX-AUTH/phone-pin/verify",
            post(handlers::verify_post),
        )
        .route(
            "/users/{user_id}/RAX-AUTH/phone-pin/unlock",
            put(handlers::unlock_put),
        )
        .route(
            "/users/{user_id}/RAX-AUTH/phone-pin/reset",
            post(handlers::reset_post),
        )
        .fallback(handlers::not_found)
}
