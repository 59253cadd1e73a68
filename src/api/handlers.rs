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
use subtle::ConstantTimeEq;

use super::errors::{codes, pp_message, ApiError};
use crate::domain::{Account, PinState, Role, User};
use crate::http::{client::ClientAddr, time::iso_time, AppState};
use crate::service::login::{
    authenticate, issue_token, revoke_token, token_user, LoginFailure, TokenHolder,
};
use crate::service::pins::{self, VerifyOutcome};
use crate::service::{accounts, policy, two_step, Actor, ServiceError};

type ApiResult<T> = Result<T, ApiError>;

/// Why a PIN change with an old token is refused.
const REAUTH_NEEDED: &str = "The Support PIN can be changed only within the re-authentication \
window after a password entry: request a new token (POST /v2.0/tokens) and try again.";

/// The person behind the `X-Auth-Token` header: the token's holder (when it was issued, how)
/// and the token itself. Cookies are never consulted.
pub struct ApiUser {
    pub holder: TokenHolder,
    pub token: String,
    /// The token is within the re-auth window of its password entry: it may show and change
    /// the holder's PIN.
    pub recent: bool,
}

impl ApiUser {
    fn me(&self) -> &User {
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
        let recent = holder.recently_authenticated(&state.ctx);
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

/// The user `{userId}` if `actor` may see them, else 404: the provider answers every denial of
/// these calls so, and ids of other accounts must not leak.
async fn visible(state: &AppState, actor: &User, raw: &str) -> ApiResult<User> {
    let id = parse_user_id(raw)?;
    let not_found = || ApiError::not_found(format!("User {id} not found."));
    let user = pins::member(&state.ctx, actor, id)
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
async fn target(state: &AppState, actor: &User, raw: &str) -> ApiResult<User> {
    let id = parse_user_id(raw)?;
    pins::member(&state.ctx, actor, id)
        .await
        .map_err(|e| match e {
            ServiceError::NotFound => ApiError::not_found(format!("User {id} not found.")),
            other => other.into(),
        })
}

/// What a user object says besides the person: their account number, PIN state and two-step
/// login, and (for the person themselves, within the re-auth window) the PIN.
struct UserFacts<'a> {
    domain_id: Option<&'a str>,
    pin_state: PinState,
    two_step: bool,
    pin: Option<String>,
}

/// A user as the provider shows one. Every object has the same fields; the PIN only when
/// `facts.pin` holds it.
fn user_json(state: &AppState, user: &User, facts: UserFacts<'_>) -> Value {
    let mut u = Map::new();
    u.insert("id".into(), json!(user.id.to_string()));
    u.insert("username".into(), json!(user.username));
    u.insert("displayName".into(), json!(user.full_name));
    u.insert("email".into(), json!(user.email));
    u.insert("enabled".into(), json!(!user.disabled));
    u.insert("RAX-AUTH:domainId".into(), json!(facts.domain_id));
    u.insert(
        "RAX-AUTH:defaultRegion".into(),
        json!(state.settings.default_region),
    );
    u.insert("created".into(), json!(iso_time(user.created_at)));
    u.insert("RAX-AUTH:multiFactorEnabled".into(), json!(facts.two_step));
    u.insert(
        "RAX-AUTH:phonePinState".into(),
        json!(facts.pin_state.as_str()),
    );
    if let Some(kind) = user.kind {
        u.insert("RAX-AUTH:contactType".into(), json!(kind.as_str()));
    }
    u.insert("roles".into(), roles_json(user));
    if let Some(pin) = facts.pin {
        u.insert("RAX-AUTH:phonePin".into(), json!(pin));
    }
    Value::Object(u)
}

/// The roles as the provider lists them: objects with an id, a name and a description.
fn roles_json(user: &User) -> Value {
    let description = match user.role {
        Role::User => "A member of the account: their own Support PIN",
        Role::Admin => "An administrator of the account: its members and their PIN states",
        Role::Agent => "A support agent: verifies callers' Support PINs",
    };
    json!([{ "id": user.role.as_str(), "name": user.role.as_str(), "description": description }])
}

/// One user as `actor` may see them, their facts looked up through the services.
async fn one_user_json(
    state: &AppState,
    actor: &User,
    user: &User,
    pin: Option<String>,
) -> ApiResult<Value> {
    let two_step = two_step::status(&state.ctx, user).await?.enabled();
    let account = match user.is_agent() {
        true => None,
        false => accounts::account_of(&state.ctx, user).await?,
    };
    user_json_with(state, actor, user, pin, account.as_ref(), two_step).await
}

/// [`one_user_json`] from the user's account and two-step state, when the caller has them.
async fn user_json_with(
    state: &AppState,
    actor: &User,
    user: &User,
    pin: Option<String>,
    account: Option<&Account>,
    two_step: bool,
) -> ApiResult<Value> {
    if user.is_agent() {
        let facts = UserFacts {
            domain_id: None,
            pin_state: PinState::Inactive,
            two_step,
            pin: None,
        };
        return Ok(user_json(state, user, facts));
    }
    let pin_state = pins::status(&state.ctx, actor, user).await?.state;
    let facts = UserFacts {
        domain_id: account.map(|a| a.number.as_str()),
        pin_state,
        two_step,
        pin,
    };
    Ok(user_json(state, user, facts))
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
        Err(LoginFailure::BadCredentials) => return Err(ApiError::bad_credentials()),
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
    let access = access_json(
        state,
        user,
        Issued {
            id: &token.token,
            issued_at: token.issued_at,
            expires_at: token.expires_at,
            second_factor,
            // Without a second factor, tokens_post has just seen that two-step login is off.
            two_step: (!second_factor).then_some(false),
        },
        true,
    )
    .await?;
    Ok(no_store(Json(access).into_response()))
}

/// A token as its answer names it.
struct Issued<'a> {
    id: &'a str,
    issued_at: i64,
    expires_at: i64,
    second_factor: bool,
    /// Whether the holder has two-step login, when the caller already knows.
    two_step: Option<bool>,
}

/// The provider's `{"access":{…}}`: the token (with the tenant and how its holder
/// authenticated), an empty service catalogue, and the user (with their own PIN when
/// `with_pin` and they have one to show).
async fn access_json(
    state: &AppState,
    user: &User,
    token: Issued<'_>,
    with_pin: bool,
) -> ApiResult<Value> {
    let pin = if with_pin {
        own_pin(state, user).await?
    } else {
        None
    };
    let two_step = match token.two_step {
        Some(known) => known,
        None => two_step::status(&state.ctx, user).await?.enabled(),
    };
    let account = accounts::account_of(&state.ctx, user).await?;
    let mut user_value = user_json_with(state, user, user, pin, account.as_ref(), two_step).await?;
    if let Value::Object(m) = &mut user_value {
        m.insert("name".into(), json!(user.username));
    }
    let tenant = account.map(|a| json!({ "id": a.number, "name": a.name }));
    let authenticated_by = if token.second_factor {
        json!(["PASSWORD", "PASSCODE"])
    } else {
        json!(["PASSWORD"])
    };
    Ok(json!({
        "access": {
            "token": {
                "id": token.id,
                "expires": iso_time(token.expires_at),
                "RAX-AUTH:issued": iso_time(token.issued_at),
                "RAX-AUTH:authenticatedBy": authenticated_by,
                "tenant": tenant,
            },
            "serviceCatalog": [],
            "user": user_value,
        }
    }))
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
        caller.recent,
    )
    .await?;
    Ok(no_store(Json(access).into_response()))
}

/// `DELETE /v2.0/tokens`: ends the caller's own token.
pub async fn tokens_delete(
    State(state): State<AppState>,
    caller: ApiUser,
) -> ApiResult<StatusCode> {
    revoke_token(&state.ctx, caller.me(), &caller.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v2.0/tokens/{token}`: revokes one of the caller's own tokens.
pub async fn token_delete(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(token): Path<String>,
) -> ApiResult<StatusCode> {
    let me = caller.me();
    let owner = token_user(&state.ctx, &token).await?;
    if owner.as_ref().map(|h| h.user.id) != Some(me.id)
        || !revoke_token(&state.ctx, me, &token).await?
    {
        return Err(ApiError::not_found("Token not found."));
    }
    Ok(StatusCode::NO_CONTENT)
}

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
    let limit = number(&q.limit, "limit")?.unwrap_or(accounts::DIRECTORY_PAGE_MAX);
    if limit < 1 {
        return Err(ApiError::bad_request("limit must be at least 1."));
    }
    let directory = accounts::Directory {
        username: q.name.clone(),
        email: q.email.clone(),
        marker: number(&q.marker, "marker")?,
        limit,
    };
    let found = accounts::directory(&state.ctx, me, &directory).await?;
    let account = accounts::account_of(&state.ctx, me).await?;
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
    let users: Vec<Value> = found.iter().map(render).collect();
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
    let pin = if user.id == me.id && caller.recent {
        own_pin(&state, me).await?
    } else {
        None
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
        let user = match update.user.email.as_deref() {
            Some(email) => match accounts::set_email(&state.ctx, me, &user, Some(email)).await {
                Ok(user) => user,
                Err(ServiceError::Forbidden(_)) => {
                    return Err(ApiError::forbidden("Not Authorized"))
                }
                Err(e) => return Err(e.into()),
            },
            None => user,
        };
        let body = json!({ "user": one_user_json(&state, me, &user, None).await? });
        return Ok(no_store(Json(body).into_response()));
    };
    if user.id == me.id && !caller.recent {
        return Err(ApiError::forbidden(REAUTH_NEEDED));
    }
    pins::change(&state.ctx, me, &user, &pin).await?;
    let body = json!({ "user": one_user_json(&state, me, &user, Some(pin)).await? });
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
    caller: ApiUser,
    Path(user_id): Path<String>,
    ApiJson(req): ApiJson<VerifyRequest>,
) -> ApiResult<Response> {
    let me = caller.me();
    policy::may_verify(me)?;
    let user = target(&state, me, &user_id).await?;
    let pin = req.phone_pin.pin.unwrap_or_default();
    let result = match pins::verify(&state.ctx, me, &user, &pin).await? {
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

/// `POST …/phone-pin/reset[?only_if_missing=true]`: an administrator of the same account or an
/// agent, never on oneself. The new PIN is not returned.
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

pub async fn not_found() -> ApiError {
    ApiError::not_found("Resource not found.")
}
