//! The JSON API, compatible with the provider's identity API v2.0 phone-PIN operations (SPEC
//! "The JSON API"). It only translates the provider's JSON shapes to `service` calls and back:
//! the rules, the lock counter, the permissions and the audit log are the panel's own.
//!
//! Authentication is the `X-Auth-Token` header only; cookies are never looked at, so no CSRF
//! token is needed (a browser cannot be made to send the header cross-site).

mod errors;
mod extract;
mod phone_pin;
mod shapes;
mod tokens;
mod users;

use axum::routing::{get, post, put};
use axum::Router;

pub use errors::{render as render_error, ApiError};

use crate::http::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/tokens",
            post(tokens::tokens_post).delete(tokens::tokens_delete),
        )
        .route(
            "/tokens/{token}",
            get(tokens::token_get).delete(tokens::token_delete),
        )
        .route("/users", get(users::users_get))
        .route(
            "/users/{user_id}",
            get(users::user_get).post(users::user_post),
        )
        .route(
            "/users/{user_id}/RAX-AUTH/phone-pin/verify",
            post(phone_pin::verify_post),
        )
        .route(
            "/users/{user_id}/RAX-AUTH/phone-pin/unlock",
            put(phone_pin::unlock_put),
        )
        .route(
            "/users/{user_id}/RAX-AUTH/phone-pin/reset",
            post(phone_pin::reset_post),
        )
        .fallback(not_found)
        .layer(axum::middleware::from_fn(json_only))
}

async fn not_found() -> ApiError {
    ApiError::not_found("Resource not found.")
}

/// JSON only: a request whose `Accept` allows no JSON (XML only, say) gets 406 in the
/// provider's shape, never JSON labelled as something else.
async fn json_only(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let accepts_json = req
        .headers()
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (media, refused)
        })
        .collect::<Vec<_>>();
    let ok = accepts_json.is_empty()
        || accepts_json.iter().any(|(media, refused)| {
            !refused
                && matches!(
                    media.as_str(),
                    "application/json" | "application/*" | "*/*" | "*"
                )
        });
    if ok {
        next.run(req).await
    } else {
        ApiError::not_acceptable().into_response()
    }
}
