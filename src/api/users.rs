//! `GET /v2.0/users` (the directory), `GET /v2.0/users/{userId}` and `POST` to it (a PIN change,
//! or an ordinary update).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::errors::ApiError;
use super::extract::{no_store, visible, ApiJson, ApiResult, ApiUser};
use super::shapes::{one_user_json, own_pin, user_json, UserFacts, UserShape};
use crate::http::AppState;
use crate::service::directory::{self, Directory};
use crate::service::{email, people, pins, policy, Actor, ServiceError};

/// The query of `GET /v2.0/users`.
#[derive(Debug, Default, Deserialize)]
pub struct UsersQuery {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    limit: Option<String>,
    #[serde(default)]
    marker: Option<String>,
}

/// `GET /v2.0/users[?name=…&email=…&limit=…&marker=…]`: an administrator lists their account's
/// members, anyone else themselves, in id order, none with a PIN. `?name=` answers one
/// `{"user":{…}}` (404 when out of reach); `limit` and `marker` (the previous page's last id)
/// page through the list.
pub async fn users_get(
    State(state): State<AppState>,
    caller: ApiUser,
    Query(q): Query<UsersQuery>,
) -> ApiResult<Response> {
    let me = caller.me();
    let number = |raw: &Option<String>, what: &str| -> ApiResult<Option<i64>> {
        raw.as_deref()
            .map(|v| {
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| ApiError::bad_request(format!("{what} must be a whole number.")))
            })
            .transpose()
    };
    let limit = number(&q.limit, "limit")?.unwrap_or(directory::DIRECTORY_PAGE_MAX);
    if limit < 1 {
        return Err(ApiError::bad_request("limit must be at least 1."));
    }
    let query = Directory {
        username: q.name.clone(),
        email: q.email.clone(),
        marker: number(&q.marker, "marker")?,
        limit,
    };
    let found = directory::directory(&state.ctx, me, &query).await?;
    let account = people::account_of(&state.ctx, me).await?;
    let render = |m: &crate::domain::MemberSummary| {
        let domain_id = if m.user.is_agent() {
            None
        } else {
            account.as_ref().map(|a| a.number.as_str())
        };
        user_json(
            &state,
            &m.user,
            UserFacts {
                domain_id,
                pin_state: m.pin_state,
                two_step: m.two_step,
                pin: None,
            },
        )
    };
    if let Some(name) = &q.name {
        let Some(one) = found.first() else {
            return Err(ApiError::not_found(format!(
                "User {} not found.",
                name.chars().take(64).collect::<String>()
            )));
        };
        return Ok(no_store(
            Json(json!({ "user": render(one) })).into_response(),
        ));
    }
    let users: Vec<UserShape> = found.iter().map(render).collect();
    Ok(no_store(Json(json!({ "users": users })).into_response()))
}

/// `GET /v2.0/users/{userId}`: the user, an administrator of the same account, or an agent;
/// anyone else 404. The PIN only for the user themselves within the re-auth window.
pub async fn user_get(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(user_id): Path<String>,
) -> ApiResult<Response> {
    let me = caller.me();
    let user = visible(&state, me, &user_id).await?;
    let pin = match &caller.recent {
        Some(recent) if user.id == me.id => own_pin(&state, me, recent).await?,
        _ => None,
    };
    let body = json!({ "user": one_user_json(&state, me, &user, pin).await? });
    Ok(no_store(Json(body).into_response()))
}

#[derive(Deserialize)]
pub struct UserUpdate {
    user: UserUpdateFields,
}

#[derive(Deserialize)]
struct UserUpdateFields {
    #[serde(rename = "RAX-AUTH:phonePin")]
    phone_pin: Option<String>,
    /// The one other field a member may change; the rest of a provider user object is
    /// accepted and ignored.
    #[serde(default)]
    email: Option<String>,
}

/// `POST /v2.0/users/{userId}`: with `{"user":{"RAX-AUTH:phonePin":"…"}}` the user changes their
/// own PIN (within the re-auth window); without a PIN it is an ordinary update (`email`, by the
/// user or an administrator of the account; other fields are ignored).
pub async fn user_post(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(user_id): Path<String>,
    ApiJson(update): ApiJson<UserUpdate>,
) -> ApiResult<Response> {
    let me = caller.me();
    let user = visible(&state, me, &user_id).await?;
    let Some(pin) = update.user.phone_pin else {
        // A new address never takes effect on this call: it waits for its link (the person's
        // own, within the re-auth window) or for the member to accept it (an administrator's
        // request). The answer is then 202, and the user object shows the address in force.
        let requested = match update.user.email.as_deref() {
            Some(new) if user.id == me.id => {
                let recent = caller.recent.ok_or(ServiceError::ReauthRequired)?;
                email::request_own(&state.ctx, me, &recent, new).await?
            }
            Some(new) => {
                let asked =
                    email::request_for(&state.ctx, Actor::User(me), &me.username, &user, new);
                match asked.await {
                    Ok(r) => r,
                    Err(ServiceError::Forbidden(_)) => {
                        return Err(ApiError::forbidden("Not Authorized"))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            None => email::Requested::Unchanged,
        };
        let status = match requested {
            email::Requested::Waiting => StatusCode::ACCEPTED,
            email::Requested::Unchanged => StatusCode::OK,
        };
        let body = json!({ "user": one_user_json(&state, me, &user, None).await? });
        return Ok(no_store((status, Json(body)).into_response()));
    };
    policy::may_use_own_pin(me, &user)?;
    let recent = caller.recent.ok_or(ServiceError::ReauthRequired)?;
    pins::change(&state.ctx, me, &user, &recent, &pin).await?;
    let body = json!({ "user": one_user_json(&state, me, &user, Some(pin)).await? });
    Ok(no_store(Json(body).into_response()))
}
