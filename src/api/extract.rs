//! What every API call reads first: the caller behind `X-Auth-Token` (cookies are never
//! consulted), a JSON body with the provider's error answers, and the user a path names, as far
//! as the caller may know them.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::de::DeserializeOwned;

use super::errors::ApiError;
use crate::domain::User;
use crate::http::AppState;
use crate::service::policy::{self, RecentPassword};
use crate::service::tokens::{token_user, TokenHolder};
use crate::service::{people, ServiceError};

pub type ApiResult<T> = Result<T, ApiError>;

/// The person behind the `X-Auth-Token` header: the token's holder (when it was issued, how)
/// and the token itself. Cookies are never consulted.
pub struct ApiUser {
    pub holder: TokenHolder,
    pub token: String,
    /// Proof that the token is within the re-auth window of its password entry: it may show
    /// and change the holder's PIN.
    pub recent: Option<RecentPassword>,
}

impl ApiUser {
    pub fn me(&self) -> &User {
        &self.holder.user
    }
}

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let token = parts
            .headers
            .get("X-Auth-Token")
            .and_then(|v| v.to_str().ok())
            .filter(|t| !t.is_empty() && t.len() <= 256)
            .ok_or_else(ApiError::unauthorized)?
            .to_owned();
        let holder = token_user(&state.ctx, &token)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        let recent = holder.recent_password(&state.ctx);
        Ok(ApiUser {
            holder,
            token,
            recent,
        })
    }
}

/// A JSON body: `application/json` or 415, well-formed or 400, within the size limit or 413.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> ApiResult<Self> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type must be application/json.",
            )),
            Err(JsonRejection::JsonSyntaxError(_)) => Err(ApiError::bad_request(
                "Invalid JSON request body: it is not well-formed JSON.",
            )),
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::bad_request(format!(
                "Invalid JSON request body: {}",
                data_error_text(&e.body_text())
            ))),
            Err(JsonRejection::BytesRejection(_)) => Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request body too large (the limit is 64 KiB).",
            )),
            Err(_) => Err(ApiError::bad_request("Invalid JSON request body.")),
        }
    }
}

/// serde's message, without the prefix axum adds and bounded in length (it may quote input).
pub(super) fn data_error_text(text: &str) -> String {
    let text = text
        .strip_prefix("Failed to deserialize the JSON body into the target type: ")
        .unwrap_or(text);
    text.chars().take(200).collect()
}

pub(super) fn no_store(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `{userId}` as our id; anything else names nobody.
pub(super) fn parse_user_id(raw: &str) -> ApiResult<i64> {
    raw.parse::<i64>().map_err(|_| {
        ApiError::not_found(format!(
            "User {} not found.",
            raw.chars().take(40).collect::<String>()
        ))
    })
}

/// The user `{userId}` if `actor` may see them, else 404: the provider answers every denial of
/// these calls so, and ids of other accounts must not leak.
pub(super) async fn visible(state: &AppState, actor: &User, raw: &str) -> ApiResult<User> {
    let id = parse_user_id(raw)?;
    let not_found = || ApiError::not_found(format!("User {id} not found."));
    let user = people::member(&state.ctx, actor, id)
        .await
        .map_err(|e| match e {
            ServiceError::NotFound => not_found(),
            other => other.into(),
        })?;
    policy::may_view(actor, &user).map_err(|_| not_found())?;
    Ok(user)
}

/// The member `{userId}` if `actor` may name them (the phone-PIN calls, which answer 403 for
/// what is not permitted), else 404.
pub(super) async fn target(state: &AppState, actor: &User, raw: &str) -> ApiResult<User> {
    let id = parse_user_id(raw)?;
    people::member(&state.ctx, actor, id)
        .await
        .map_err(|e| match e {
            ServiceError::NotFound => ApiError::not_found(format!("User {id} not found.")),
            other => other.into(),
        })
}
