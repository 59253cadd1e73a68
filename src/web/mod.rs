//! The server-rendered panel: one router, handlers by area named `<page>_<method>`, askama
//! templates in `templates/` mirroring these modules. A URL serves both a full page and, when
//! the request carries `HX-Request`, the fragment htmx swaps in; without JavaScript every step is
//! a plain form post and a full page.

pub mod account;
pub mod activity;
pub mod agent;
pub mod csrf;
pub mod email;
pub mod error;
pub mod flash;
pub mod import;
pub mod links;
pub mod login;
pub mod overview;
pub mod profile;
pub mod second_step;
pub mod session;
pub mod sso;
pub mod two_step;
pub mod urls;
pub mod users;

use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::csrf::CsrfLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_sessions::{SessionManagerLayer, SessionStore};

use crate::http::{AppState, BODY_LIMIT};
use error::WebError;
use session::{Auth, WebSession};

/// The name of the session cookie.
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-pinpanel"
    } else {
        "pinpanel"
    }
}

/// The panel's routes with their CSRF and caching layers, behind `sessions` (built by
/// `startup` on the session store).
pub fn router<S: SessionStore + Clone>(
    state: AppState,
    sessions: SessionManagerLayer<S>,
) -> Router<AppState> {
    Router::new()
        .route(urls::HOME, get(home_get))
        .route(urls::LOGIN, get(login::login_get).post(login::login_post))
        .route(urls::LOGOUT, post(login::logout_post))
        .route(urls::PROFILE, get(profile::profile_get))
        .route(
            urls::SUPPORT_PIN,
            get(profile::support_pin_get).post(profile::support_pin_post),
        )
        .route(urls::SUPPORT_PIN_SHOW, post(profile::support_pin_show_post))
        .route(urls::SUPPORT_PIN_EDIT, get(profile::support_pin_edit_get))
        .route(
            urls::SUPPORT_PIN_UNLOCK,
            get(profile::support_pin_unlock_get).post(profile::support_pin_unlock_post),
        )
        .route(urls::REAUTH, post(profile::reauth_post))
        .route(urls::USERS, get(users::users_get))
        .route(urls::USERS_POLICY, post(users::policy_post))
        .route(urls::AGENT, get(agent::agent_get).post(agent::agent_post))
        .route(
            urls::SECOND_STEP,
            get(second_step::second_step_get).post(second_step::second_step_post),
        )
        .route(
            urls::SECOND_STEP_PASSKEY_OPTIONS,
            post(second_step::second_step_passkey_options_post),
        )
        .route(
            urls::SECOND_STEP_PASSKEY,
            post(second_step::second_step_passkey_post),
        )
        .route(urls::TWO_STEP, get(two_step::two_step_get))
        .route(
            urls::TWO_STEP_CONFIRM_PASSWORD,
            post(two_step::confirm_password_post),
        )
        .route(urls::TWO_STEP_APP, post(two_step::app_post))
        .route(urls::TWO_STEP_APP_CONFIRM, post(two_step::app_confirm_post))
        .route(
            urls::TWO_STEP_RECOVERY_CODES,
            post(two_step::recovery_codes_post),
        )
        .route(urls::TWO_STEP_OFF, post(two_step::off_post))
        .route(urls::PASSKEY_OPTIONS, post(two_step::passkey_options_post))
        .route(urls::PASSKEYS, post(two_step::passkeys_post))
        .route(urls::PASSKEY_NAME, post(two_step::passkey_name_post))
        .route(urls::PASSKEY_REMOVE, post(two_step::passkey_remove_post))
        .route(urls::USERS_ADD, post(users::add::add_post))
        .route(urls::USERS_TOKENS, post(users::provisioning::token_post))
        .route(
            urls::USERS_TOKEN_REVOKE,
            post(users::provisioning::token_revoke_post),
        )
        .route(urls::USERS_SIGN_IN, post(users::provisioning::sign_in_post))
        .route(urls::USERS_IMPORT_START, post(import::import_start_post))
        .route(urls::USERS_IMPORT_STATUS, get(import::import_status_get))
        .route(
            urls::MEMBER_ACTION,
            get(users::actions::member_action_get).post(users::actions::member_action_post),
        )
        .route(urls::ACTIVITY, get(activity::activity_get))
        .route(urls::ACTIVITY_CSV, get(activity::activity_csv_get))
        .route(urls::OVERVIEW, get(overview::overview_get))
        .route(urls::OVERVIEW_ACKNOWLEDGE, post(overview::acknowledge_post))
        .route(
            urls::PASSWORD,
            get(account::password_get).post(account::password_post),
        )
        .route(urls::SESSIONS, get(account::sessions_get))
        .route(urls::SESSION_END, post(account::session_end_post))
        .route(
            urls::SESSIONS_END_OTHERS,
            post(account::sessions_end_others_post),
        )
        .route(urls::TOKEN_REVOKE, post(account::token_revoke_post))
        .route(urls::EMAIL, get(email::email_get).post(email::email_post))
        .route(urls::EMAIL_CANCEL, post(email::email_cancel_post))
        .route(urls::EMAIL_ANSWER, post(email::email_answer_post))
        .route(
            urls::EMAIL_CONFIRM_LINK,
            get(links::email_confirm_get).post(links::email_confirm_post),
        )
        .route(
            urls::EMAIL_ANSWER_LINK,
            get(links::email_answer_get).post(links::email_answer_post),
        )
        .route(
            urls::FORGOT_PASSWORD,
            get(links::forgot_get).post(links::forgot_post),
        )
        .route(
            urls::RESET_PASSWORD,
            get(links::reset_get).post(links::reset_post),
        )
        .route(
            urls::INVITATION,
            get(links::invitation_get).post(links::invitation_post),
        )
        .route(urls::SETUP, get(links::setup_get).post(links::setup_post))
        .route(urls::SSO_START, post(sso::sso_start_post))
        .route(urls::SSO_CALLBACK, get(sso::sso_callback_get))
        .route(urls::SSO_LINK, post(sso::sso_link_post))
        .route(urls::SSO_UNLINK, post(two_step::sso_unlink_post))
        .route(urls::SSO_REAUTH, post(sso::sso_reauth_post))
        .route(urls::LOGGED_OUT, get(sso::logged_out_get))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        // The one route that takes a file.
        .merge(
            Router::new()
                .route(
                    urls::USERS_IMPORT,
                    get(import::import_get).post(import::import_post),
                )
                .layer(RequestBodyLimitLayer::new(import::UPLOAD_LIMIT))
                // axum's own 2 MiB default for `Multipart` would cut the file short first.
                .layer(DefaultBodyLimit::max(import::UPLOAD_LIMIT)),
        )
        .layer(middleware::from_fn_with_state(
            state.clone(),
            require_csrf_token,
        ))
        .layer(CsrfLayer::new())
        .layer(sessions)
        // One URL serves a page or, to htmx, a fragment.
        .layer(SetResponseHeaderLayer::overriding(
            header::VARY,
            HeaderValue::from_static("HX-Request, Cookie"),
        ))
}

/// `/`: people land where their work is.
async fn home_get(auth: Auth) -> Response {
    Redirect::to(login::home_of(&auth.user)).into_response()
}

/// Is this an htmx request (so the answer is a fragment, not a page)?
#[derive(Debug, Clone, Copy)]
pub struct Htmx(pub bool);

impl<S: Send + Sync> FromRequestParts<S> for Htmx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // A history restore asks for the whole page even though it comes from htmx.
        let htmx = parts.headers.contains_key("HX-Request")
            && !parts.headers.contains_key("HX-History-Restore-Request");
        Ok(Htmx(htmx))
    }
}

/// The synchronizer-token half of CSRF protection (tower-http's `CsrfLayer` checks the origin):
/// every state-changing request must carry this session's token, in the `X-CSRF-Token` header
/// (htmx) or the `csrf_token` field of the form. Checked here, before any handler, so no route
/// can forget it.
async fn require_csrf_token(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, WebError> {
    // The panel changes state only with POST; other methods reach no handler and get 405.
    if req.method() != Method::POST {
        return Ok(next.run(req).await);
    }
    let (mut parts, body) = req.into_parts();
    let session = WebSession::from_request_parts(&mut parts, &state).await?;
    let header_token = parts
        .headers
        .get("X-CSRF-Token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let multipart = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.starts_with("multipart/form-data"))
        .map(str::to_owned);
    let (token, body) = match (header_token, multipart) {
        (Some(t), _) => (Some(t), body),
        // A file upload: only the import takes one, only from someone logged in, and its token
        // is read from the form's first part before the file is (nothing is read for anyone
        // else, so no anonymous client makes the server hold a large body).
        (None, Some(content_type)) => {
            if parts.uri.path() != urls::USERS_IMPORT {
                return Err(WebError::Invalid("This form takes no file.".into()));
            }
            if !session.has_csrf_secret().await? {
                return Err(WebError::Csrf);
            }
            first_part_token(&content_type, body).await?
        }
        (None, None) => {
            let bytes = axum::body::to_bytes(body, BODY_LIMIT)
                .await
                .map_err(|_| WebError::TooLarge)?;
            let token = url::form_urlencoded::parse(&bytes)
                .find(|(k, _)| k == "csrf_token")
                .map(|(_, v)| v.into_owned());
            (token, axum::body::Body::from(bytes))
        }
    };
    let Some(token) = token else {
        return Err(WebError::Csrf);
    };
    let valid = match session.check_csrf(&state.settings.csrf_key, &token).await? {
        Some(valid) => valid,
        None => csrf::check_anonymous(&state.settings, &parts.headers, &token),
    };
    if !valid {
        return Err(WebError::Csrf);
    }
    Ok(next.run(Request::from_parts(parts, body)).await)
}

/// The most a multipart form's first part (its `csrf_token`) may take before the token is found.
const FIRST_PART_LIMIT: usize = 16 * 1024;

/// The `csrf_token` field of a multipart form, which the panel's forms put first: read from the
/// body's first part only (at most [`FIRST_PART_LIMIT`]), and the whole body to pass on, the part
/// read put back in front of the rest.
async fn first_part_token(
    content_type: &str,
    body: axum::body::Body,
) -> Result<(Option<String>, axum::body::Body), WebError> {
    use futures_util::StreamExt;

    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| WebError::Invalid("The upload could not be read: send it again.".into()))?;
    let delimiter = format!("--{boundary}");
    let mut stream = body.into_data_stream();
    let mut head: Vec<u8> = Vec::new();
    // The first part is complete once the delimiter after it has arrived.
    while occurrences(&head, delimiter.as_bytes()) < 2 && head.len() <= FIRST_PART_LIMIT {
        match stream.next().await {
            Some(Ok(chunk)) => head.extend_from_slice(&chunk),
            Some(Err(_)) => return Err(WebError::TooLarge),
            None => break,
        }
    }
    let head = axum::body::Bytes::from(head);
    let first = head.clone();
    let mut form = multer::Multipart::new(
        futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(first) }),
        boundary,
    );
    let token = match form.next_field().await {
        Ok(Some(field)) if field.name() == Some("csrf_token") => field.text().await.ok(),
        _ => None,
    };
    let whole = futures_util::stream::once(async move { Ok::<_, axum::Error>(head) }).chain(stream);
    Ok((token, axum::body::Body::from_stream(whole)))
}

/// How many times `needle` occurs in `haystack` (without overlaps).
fn occurrences(haystack: &[u8], needle: &[u8]) -> usize {
    let mut count = 0;
    let mut at = 0;
    while let Some(i) = haystack[at..]
        .windows(needle.len())
        .position(|w| w == needle)
    {
        count += 1;
        at += i + needle.len();
    }
    count
}

/// The header every page shows (SPEC step 2): the account, the Support menu, the person.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub username: String,
    pub full_name: String,
    pub account_name: Option<String>,
    pub is_admin: bool,
    pub is_agent: bool,
    pub csrf: String,
    /// Two-step login must be set up before anything else: the menus stay hidden.
    pub setting_up: bool,
}

impl Chrome {
    pub fn of(auth: &Auth) -> Chrome {
        Chrome {
            username: auth.user.username.clone(),
            full_name: auth.user.full_name.clone(),
            account_name: auth.account.as_ref().map(|a| a.name.clone()),
            is_admin: auth.user.is_admin(),
            is_agent: auth.user.is_agent(),
            csrf: auth.csrf.clone(),
            setting_up: auth.setting_up,
        }
    }
}
