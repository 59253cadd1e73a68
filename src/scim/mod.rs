//! The third face: a SCIM 2.0 service provider for an account's members (RFC 7643, RFC 7644)
//! under `/scim/v2`, for the account's identity system (Okta, Entra ID, OneLogin …). It
//! translates SCIM's JSON to `service::provisioning` calls and back; the rules (who a token
//! reaches, the last administrator, the address a member owns) are the service's.
//!
//! Authentication is a provisioning token in `Authorization: Bearer` only: cookies are never
//! looked at, so there is no CSRF token to send (a browser cannot be made to send the header
//! cross-site).

mod discovery;
mod error;
mod patch;
mod resource;
mod users;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;

pub use error::{render as render_error, ScimError};

use crate::http::client::ClientAddr;
use crate::http::AppState;
use crate::service::provisioning::{self, Provisioner};
use error::{kind, ScimResult};

/// Where the face is served.
pub const PREFIX: &str = "/scim/v2";
/// The media type of every SCIM body.
pub const CONTENT_TYPE: &str = "application/scim+json";
/// The largest request body read.
pub const BODY_LIMIT: usize = 1024 * 1024;
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/ServiceProviderConfig",
            get(users::service_provider_config_get),
        )
        .route("/ResourceTypes", get(users::resource_types_get))
        .route("/ResourceTypes/{id}", get(users::resource_type_get))
        .route("/Schemas", get(users::schemas_get))
        .route("/Schemas/{id}", get(users::schema_get))
        .route("/Users", get(users::users_get).post(users::users_post))
        .route("/Users/.search", post(users::search_post))
        .route("/.search", post(users::search_post))
        .route(
            "/Users/{id}",
            get(users::user_get)
                .put(users::user_put)
                .patch(users::user_patch)
                .delete(users::user_delete),
        )
        .route("/Me", axum::routing::any(users::me_any))
        .fallback(not_found)
}

async fn not_found() -> ScimError {
    ScimError::not_found("There is no such resource here: this panel serves Users only.")
}

/// A SCIM answer: `status`, the body as `application/scim+json`.
pub fn answer(status: StatusCode, body: &Value) -> Response {
    let mut res = (status, body.to_string()).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The identity system behind a request's provisioning token.
pub struct Provisioned(pub Provisioner);

impl FromRequestParts<AppState> for Provisioned {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ScimResult<Self> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(ScimError::unauthorized)?
            .to_owned();
        let Ok(ClientAddr(address)) = ClientAddr::from_request_parts(parts, state).await;
        provisioning::authenticate(&state.ctx, &token, &address)
            .await?
            .map(Provisioned)
            .ok_or_else(ScimError::unauthorized)
    }
}

/// A SCIM request body: `application/scim+json` or `application/json`, at most 1 MiB, JSON.
pub struct ScimBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for ScimBody {
    type Rejection = ScimError;

    async fn from_request(req: Request, state: &S) -> ScimResult<Self> {
        let media = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
        if !matches!(
            media.as_deref(),
            Some("application/scim+json" | "application/json")
        ) {
            return Err(ScimError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Send application/scim+json (or application/json).",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e: BytesRejection| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ScimError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "The request is larger than 1 MiB.",
                    )
                } else {
                    ScimError::bad(kind::INVALID_SYNTAX, "The body could not be read.")
                }
            })?;
        serde_json::from_slice(&bytes).map(ScimBody).map_err(|e| {
            ScimError::bad(
                kind::INVALID_SYNTAX,
                format!(
                    "The body is not JSON: {}",
                    e.to_string().chars().take(120).collect::<String>()
                ),
            )
        })
    }
}
