//! The phone-PIN calls: an agent verifies a caller's PIN; whoever may unlocks it; an
//! administrator resets it.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::errors::{codes, pp_message, ApiError};
use super::extract::{no_store, target, ApiJson, ApiResult, ApiUser};
use crate::http::AppState;
use crate::service::pins::{self, VerifyOutcome};
use crate::service::{policy, Actor, ServiceError};

#[derive(Deserialize)]
pub struct VerifyRequest {
    #[serde(rename = "RAX-AUTH:phonePin")]
    phone_pin: VerifyPin,
}

#[derive(Deserialize)]
struct VerifyPin {
    #[serde(default)]
    pin: Option<String>,
}

/// `POST …/phone-pin/verify`: an agent checks a caller's PIN. Always 200 with the result.
pub async fn verify_post(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(user_id): Path<String>,
    ApiJson(req): ApiJson<VerifyRequest>,
) -> ApiResult<Response> {
    let me = caller.me();
    policy::may_verify(me)?;
    let user = target(&state, me, &user_id).await?;
    let pin = req.phone_pin.pin.unwrap_or_default();
    let result = match pins::verify(&state.ctx, me, &user, &pin, None).await? {
        VerifyOutcome::Verified => json!({ "authenticated": true }),
        VerifyOutcome::Incorrect { .. } => failure(codes::INCORRECT, "Incorrect Phone PIN."),
        VerifyOutcome::Locked => failure(codes::LOCKED, "User's PIN is locked."),
        VerifyOutcome::NoPin => failure(codes::NO_PIN, "The user has not set a Phone PIN."),
        VerifyOutcome::Disabled => failure(codes::NOT_PERMITTED, "The user is disabled."),
    };
    Ok(no_store(
        Json(json!({ "RAX-AUTH:verifyPhonePinResult": result })).into_response(),
    ))
}

fn failure(code: &str, message: &str) -> Value {
    json!({ "authenticated": false, "failureCode": code, "failureMessage": message })
}

/// `PUT …/phone-pin/unlock`: whoever may unlock it in the panel (never an agent).
pub async fn unlock_put(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(user_id): Path<String>,
) -> ApiResult<StatusCode> {
    let me = caller.me();
    let user = target(&state, me, &user_id).await?;
    match pins::unlock(&state.ctx, me, &user).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(ServiceError::Forbidden(_)) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            pp_message(
                codes::NOT_PERMITTED,
                "Not authorized to unlock this user's PIN.",
            ),
        )),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct ResetQuery {
    #[serde(default)]
    only_if_missing: Option<String>,
}

/// `POST …/phone-pin/reset[?only_if_missing=true]`: an administrator of the same account, never
/// on oneself, never an agent. The new PIN is not returned.
pub async fn reset_post(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(user_id): Path<String>,
    Query(q): Query<ResetQuery>,
) -> ApiResult<StatusCode> {
    let me = caller.me();
    // As the provider reads it: anything but a true value counts as false.
    let only_if_missing = q
        .only_if_missing
        .as_deref()
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let user = target(&state, me, &user_id).await?;
    pins::reset(&state.ctx, Actor::User(me), &user, only_if_missing).await?;
    Ok(StatusCode::NO_CONTENT)
}
