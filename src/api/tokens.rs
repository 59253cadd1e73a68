//! `POST /v2.0/tokens` (a password, or the provider's multi-factor passcode), validating and
//! revoking tokens.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use secrecy::SecretString;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::errors::ApiError;
use super::extract::{no_store, ApiJson, ApiResult, ApiUser};
use super::shapes::{access_json, Issued};
use crate::domain::User;
use crate::http::{client::ClientAddr, AppState};
use crate::service::tokens::{self, IssuedToken, Refused, Requested};
use crate::service::ServiceError;

#[derive(Deserialize)]
pub struct TokenRequest {
    auth: TokenAuth,
}

#[derive(Deserialize)]
struct TokenAuth {
    #[serde(rename = "passwordCredentials")]
    password_credentials: Option<PasswordCredentials>,
    #[serde(rename = "RAX-AUTH:passcodeCredentials")]
    passcode_credentials: Option<PasscodeCredentials>,
}

#[derive(Deserialize)]
struct PasswordCredentials {
    username: String,
    password: SecretString,
}

#[derive(Deserialize)]
struct PasscodeCredentials {
    passcode: String,
}

/// The header that carries the multi-factor session id of the provider's flow.
const SESSION_ID_HEADER: &str = "X-SessionId";

/// `POST /v2.0/tokens`: password credentials, or (the provider's multi-factor flow) a passcode
/// with the `X-SessionId` a password answer gave.
pub async fn tokens_post(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: axum::http::HeaderMap,
    ApiJson(req): ApiJson<TokenRequest>,
) -> ApiResult<Response> {
    let ctx = &state.ctx;
    let creds = match (req.auth.password_credentials, req.auth.passcode_credentials) {
        (Some(creds), None) => creds,
        (None, Some(passcode)) => {
            let session = headers
                .get(SESSION_ID_HEADER)
                .and_then(|v| v.to_str().ok())
                .filter(|s| !s.is_empty() && s.len() <= 256)
                .ok_or_else(|| {
                    ApiError::bad_request("Passcode credentials need the X-SessionId header.")
                })?;
            return match tokens::request_with_passcode(ctx, session, &passcode.passcode, &addr)
                .await
            {
                Ok((user, token)) => token_answer(&state, &user, &token).await,
                Err(ServiceError::NotFound) => Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "The multi-factor session is unknown or has expired: authenticate with the \
                     password again.",
                )),
                Err(e) => Err(e.into()),
            };
        }
        _ => {
            return Err(ApiError::bad_request(
                "Give either passwordCredentials or RAX-AUTH:passcodeCredentials.",
            ))
        }
    };
    match tokens::request_with_password(ctx, &creds.username, creds.password, &addr).await? {
        Ok(Requested::Token(user, token)) => token_answer(&state, &user, &token).await,
        Ok(Requested::SecondStep(session)) => {
            // The provider's multi-factor answer: 401 with a one-use session for the passcode.
            let mut res = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "Additional authentication credentials required.",
            )
            .into_response();
            if let Ok(v) =
                HeaderValue::from_str(&format!("OS-MF sessionId='{session}', factor='PASSCODE'"))
            {
                res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            Ok(res)
        }
        Err(Refused::BadCredentials) => Err(ApiError::bad_credentials()),
        Err(Refused::Throttled { retry_after }) => {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed authentication attempts. Try again later.",
            );
            e.retry_after = Some(retry_after);
            Err(e)
        }
        Err(Refused::TwoStepNotSetUp) => Err(ApiError::forbidden(
            "Two-step login is required for this user and is not set up: set it up in the \
             panel first.",
        )),
    }
}

/// The answer to a token just issued to `user`, as the provider gives it.
async fn token_answer(state: &AppState, user: &User, token: &IssuedToken) -> ApiResult<Response> {
    let access = access_json(
        state,
        user,
        Issued {
            id: &token.token,
            issued_at: token.issued_at,
            expires_at: token.expires_at,
            second_factor: token.second_factor,
            // Without a second factor, the request has just seen that two-step login is off.
            two_step: (!token.second_factor).then_some(false),
        },
        Some(&token.recent),
    )
    .await?;
    Ok(no_store(Json(access).into_response()))
}

/// `GET /v2.0/tokens/{tokenId}`: validates a token, for its own holder only (the same answer as
/// at authentication, the PIN within the re-auth window); anyone else gets 404.
pub async fn token_get(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    let same = caller.token.as_bytes().ct_eq(token.as_bytes());
    if !bool::from(same) {
        return Err(ApiError::not_found("Token not found."));
    }
    let h = &caller.holder;
    let access = access_json(
        &state,
        &h.user,
        Issued {
            id: &caller.token,
            issued_at: h.issued_at,
            expires_at: h.expires_at,
            second_factor: h.second_factor,
            two_step: None,
        },
        caller.recent.as_ref(),
    )
    .await?;
    Ok(no_store(Json(access).into_response()))
}

/// `DELETE /v2.0/tokens`: ends the caller's own token.
pub async fn tokens_delete(
    State(state): State<AppState>,
    caller: ApiUser,
) -> ApiResult<StatusCode> {
    tokens::revoke_token(&state.ctx, caller.me(), &caller.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v2.0/tokens/{token}`: revokes one of the caller's own tokens.
pub async fn token_delete(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(token): Path<String>,
) -> ApiResult<StatusCode> {
    let me = caller.me();
    let owner = tokens::token_user(&state.ctx, &token).await?;
    if owner.as_ref().map(|h| h.user.id) != Some(me.id)
        || !tokens::revoke_token(&state.ctx, me, &token).await?
    {
        return Err(ApiError::not_found("Token not found."));
    }
    Ok(StatusCode::NO_CONTENT)
}
