//! The API calls. Each one: authenticate the token, decode the provider's JSON, call `service`,
//! encode the answer.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::errors::{codes, pp_message, ApiError};
use crate::domain::{PinState, User};
use crate::http::{client::ClientAddr, time::iso_time, AppState};
use crate::service::login::{authenticate, issue_token, revoke_token, token_user, LoginFailure};
use crate::service::pins::{self, VerifyOutcome};
use crate::service::{accounts, policy, two_step, Actor, ServiceError};

type ApiResult<T> = Result<T, ApiError>;

/// Why a PIN change with an old token is refused.
const REAUTH_NEEDED: &str = "The Support PIN can be changed only within the re-authentication \
window after a password entry: request a new token (POST /v2.0/tokens) and try again.";

/// The person behind the `X-Auth-Token` header, and whether the token is recent enough to show
/// or change their PIN (the re-auth window counts from the token's password entry). Cookies
/// are never consulted.
pub struct ApiUser(pub User, pub Recent);

/// The token was issued within the re-auth window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recent(pub bool);

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let token = parts
            .headers
            .get("X-Auth-Token")
            .and_then(|v| v.to_str().ok())
            .filter(|t| !t.is_empty() && t.len() <= 256)
            .ok_or_else(ApiError::unauthorized)?;
        let holder = token_user(&state.ctx, token)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        let recent = Recent(holder.recently_authenticated(&state.ctx));
        Ok(ApiUser(holder.user, recent))
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
fn data_error_text(text: &str) -> String {
    let text = text
        .strip_prefix("Failed to deserialize the JSON body into the target type: ")
        .unwrap_or(text);
    text.chars().take(200).collect()
}

fn no_store(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `{userId}` as our id; anything else names nobody.
fn parse_user_id(raw: &str) -> ApiResult<i64> {
    raw.parse::<i64>().map_err(|_| {
        ApiError::not_found(format!(
            "User {} not found.",
            raw.chars().take(40).collect::<String>()
        ))
    })
}

/// The member `{userId}` if `actor` may name them, else 404 (never 403, so ids do not leak).
async fn target(state: &AppState, actor: &User, raw: &str) -> ApiResult<User> {
    let id = parse_user_id(raw)?;
    pins::member(&state.ctx, actor, id)
        .await
        .map_err(|e| match e {
            ServiceError::NotFound => ApiError::not_found(format!("User {id} not found.")),
            other => other.into(),
        })
}

/// A user as the provider shows one: `account_number` and `pin_state` for members (agents
/// have neither), the PIN only when `with_pin` holds it.
fn user_json(
    user: &User,
    account_number: Option<&str>,
    pin_state: Option<PinState>,
    two_step: bool,
    with_pin: Option<String>,
) -> Value {
    let mut u = Map::new();
    u.insert("id".into(), json!(user.id.to_string()));
    u.insert("username".into(), json!(user.username));
    u.insert("displayName".into(), json!(user.full_name));
    u.insert("email".into(), json!(user.email));
    u.insert("enabled".into(), json!(!user.disabled));
    u.insert("RAX-AUTH:multiFactorEnabled".into(), json!(two_step));
    if let Some(number) = account_number {
        u.insert("RAX-AUTH:domainId".into(), json!(number));
    }
    if let Some(state) = pin_state {
        u.insert("RAX-AUTH:phonePinState".into(), json!(state.as_str()));
    }
    if let Some(kind) = user.kind {
        u.insert("RAX-AUTH:contactType".into(), json!(kind.as_str()));
    }
    u.insert("roles".into(), json!([{ "name": user.role.as_str() }]));
    if let Some(pin) = with_pin {
        u.insert("RAX-AUTH:phonePin".into(), json!(pin));
    }
    Value::Object(u)
}

/// One user as `actor` may see them: their account number and PIN state looked up through the
/// services (agents have neither).
async fn one_user_json(
    state: &AppState,
    actor: &User,
    user: &User,
    with_pin: Option<String>,
) -> ApiResult<Value> {
    let two_step = two_step::status(&state.ctx, user).await?.enabled();
    if user.is_agent() {
        return Ok(user_json(user, None, None, two_step, None));
    }
    let account = accounts::account_of(&state.ctx, user).await?;
    let pin_state = pins::status(&state.ctx, actor, user).await?.state;
    Ok(user_json(
        user,
        account.as_ref().map(|a| a.number.as_str()),
        Some(pin_state),
        two_step,
        with_pin,
    ))
}

/// The member's own PIN for their own eyes (recorded as shown); none when locked or missing.
async fn own_pin(state: &AppState, user: &User) -> ApiResult<Option<String>> {
    if user.is_agent() {
        return Ok(None);
    }
    match pins::show(&state.ctx, user, user).await {
        Ok(pin) => Ok(Some(pin.expose().to_owned())),
        Err(ServiceError::Locked | ServiceError::NoPin) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

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
    crate::service::limits::hit(&state.ctx, state.ctx.limits.tokens_per_address, &addr).await?;
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
            let user =
                match two_step::finish_api_second_step(&state.ctx, session, &passcode.passcode)
                    .await
                {
                    Ok(user) => user,
                    Err(ServiceError::NotFound) => return Err(ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "The multi-factor session is unknown or has expired: authenticate with \
                         the password again.",
                    )),
                    Err(e) => return Err(e.into()),
                };
            return token_answer(&state, &user, true).await;
        }
        _ => {
            return Err(ApiError::bad_request(
                "Give either passwordCredentials or RAX-AUTH:passcodeCredentials.",
            ))
        }
    };
    let user = match authenticate(&state.ctx, &creds.username, creds.password, &addr).await? {
        Ok(user) => user,
        Err(LoginFailure::BadCredentials) => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "Unable to authenticate user with credentials provided.",
            ))
        }
        Err(LoginFailure::Throttled { retry_after }) => {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed authentication attempts. Try again later.",
            );
            e.retry_after = Some(retry_after);
            return Err(e);
        }
    };
    if two_step::status(&state.ctx, &user).await?.enabled() {
        // The provider's multi-factor answer: 401 with a one-use session for the passcode.
        let session = two_step::begin_api_second_step(&state.ctx, &user).await?;
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
        return Ok(res);
    }
    if two_step::required_for(&state.ctx, user.role) {
        return Err(ApiError::forbidden(
            "Two-step login is required for this user and is not set up: set it up in the \
             panel first.",
        ));
    }
    token_answer(&state, &user, false).await
}

/// Issues a token to `user` and answers with it, as the provider does.
async fn token_answer(state: &AppState, user: &User, second_factor: bool) -> ApiResult<Response> {
    let token = issue_token(&state.ctx, user, second_factor).await?;
    let pin = own_pin(state, user).await?;
    let mut user_value = one_user_json(state, user, user, pin).await?;
    if let Value::Object(m) = &mut user_value {
        m.insert("name".into(), json!(user.username));
    }
    let body = json!({
        "access": {
            "token": { "id": token.token, "expires": iso_time(token.expires_at) },
            "user": user_value,
        }
    });
    Ok(no_store(Json(body).into_response()))
}

/// `DELETE /v2.0/tokens/{token}`: revokes one of the caller's own tokens.
pub async fn token_delete(
    State(state): State<AppState>,
    ApiUser(me, _): ApiUser,
    Path(token): Path<String>,
) -> ApiResult<StatusCode> {
    let owner = token_user(&state.ctx, &token).await?;
    if owner.as_ref().map(|h| h.user.id) != Some(me.id)
        || !revoke_token(&state.ctx, &me, &token).await?
    {
        return Err(ApiError::not_found("Token not found."));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v2.0/users`: an administrator's account members, none with a PIN.
pub async fn users_get(
    State(state): State<AppState>,
    ApiUser(me, _): ApiUser,
) -> ApiResult<Response> {
    let account_id = me
        .account_id
        .ok_or_else(|| ApiError::forbidden("Not Authorized"))?;
    policy::may_administer(&me, account_id)?;
    let members = accounts::members(&state.ctx, Actor::User(&me), account_id).await?;
    let account = accounts::account_of(&state.ctx, &me).await?;
    let number = account.as_ref().map(|a| a.number.as_str());
    let users: Vec<Value> = members
        .iter()
        .map(|m| user_json(&m.user, number, Some(m.pin_state), m.two_step, None))
        .collect();
    Ok(no_store(Json(json!({ "users": users })).into_response()))
}

/// `GET /v2.0/users/{userId}`: the user, or an administrator of the same account (or an agent);
/// the PIN only for the user themselves.
pub async fn user_get(
    State(state): State<AppState>,
    ApiUser(me, recent): ApiUser,
    Path(user_id): Path<String>,
) -> ApiResult<Response> {
    let user = target(&state, &me, &user_id).await?;
    policy::may_view(&me, &user)?;
    // The PIN only for its owner, and only within the re-auth window of the token.
    let pin = if user.id == me.id && recent.0 {
        own_pin(&state, &me).await?
    } else {
        None
    };
    let body = json!({ "user": one_user_json(&state, &me, &user, pin).await? });
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
}

/// `POST /v2.0/users/{userId}` with `{"user":{"RAX-AUTH:phonePin":"…"}}`: the user changes
/// their own PIN.
pub async fn user_post(
    State(state): State<AppState>,
    ApiUser(me, recent): ApiUser,
    Path(user_id): Path<String>,
    ApiJson(update): ApiJson<UserUpdate>,
) -> ApiResult<Response> {
    let user = target(&state, &me, &user_id).await?;
    let Some(pin) = update.user.phone_pin else {
        return Err(ApiError::bad_request(
            "Nothing to update: only RAX-AUTH:phonePin may be changed here.",
        ));
    };
    if !recent.0 {
        return Err(ApiError::forbidden(REAUTH_NEEDED));
    }
    pins::change(&state.ctx, &me, &user, &pin).await?;
    let body = json!({ "user": one_user_json(&state, &me, &user, Some(pin)).await? });
    Ok(no_store(Json(body).into_response()))
}

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
    ApiUser(me, _): ApiUser,
    Path(user_id): Path<String>,
    ApiJson(req): ApiJson<VerifyRequest>,
) -> ApiResult<Response> {
    policy::may_verify(&me)?;
    let user = target(&state, &me, &user_id).await?;
    let pin = req.phone_pin.pin.unwrap_or_default();
    let result = match pins::verify(&state.ctx, &me, &user, &pin).await? {
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

/// `PUT …/phone-pin/unlock`: whoever may unlock it (as in the panel) or an agent.
pub async fn unlock_put(
    State(state): State<AppState>,
    ApiUser(me, _): ApiUser,
    Path(user_id): Path<String>,
) -> ApiResult<StatusCode> {
    let user = target(&state, &me, &user_id).await?;
    match pins::unlock(&state.ctx, &me, &user).await {
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

/// `POST …/phone-pin/reset[?only_if_missing=true]`: an administrator of the same account or an
/// agent, never on oneself. The new PIN is not returned.
pub async fn reset_post(
    State(state): State<AppState>,
    ApiUser(me, _): ApiUser,
    Path(user_id): Path<String>,
    Query(q): Query<ResetQuery>,
) -> ApiResult<StatusCode> {
    let only_if_missing = match q.only_if_missing.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                "only_if_missing must be true or false.",
            ))
        }
    };
    let user = target(&state, &me, &user_id).await?;
    pins::reset(&state.ctx, Actor::User(&me), &user, only_if_missing).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("Resource not found.")
}
