//! The server-rendered panel: one router, handlers by area named `<page>_<method>`, askama
//! templates in `templates/` mirroring these modules. A URL serves both a full page and, when
//! the request carries `HX-Request`, the fragment htmx swaps in; without JavaScript every step is
//! a plain form post and a full page.

pub mod account;
pub mod activity;
pub mod agent;
mod chrome;
pub mod cookies;
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
mod security;
pub mod session;
pub mod setup;
pub mod sso;
pub mod two_step;
pub mod urls;
pub mod users;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::middleware;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::csrf::CsrfLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_sessions::{SessionManagerLayer, SessionStore};

pub use crate::http::htmx::Htmx;
pub use chrome::Chrome;

use crate::http::{AppState, BODY_LIMIT};
use session::Auth;

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
        .route(urls::TWO_STEP, get(security::two_step_get))
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
            get(email::email_link_confirm_get).post(email::email_link_confirm_post),
        )
        .route(
            urls::EMAIL_ANSWER_LINK,
            get(email::email_link_answer_get).post(email::email_link_answer_post),
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
        .route(urls::SETUP, get(setup::setup_get).post(setup::setup_post))
        .route(urls::SSO_START, post(sso::sso_start_post))
        .route(urls::SSO_CALLBACK, get(sso::sso_callback_get))
        .route(urls::SSO_LINK, post(sso::sso_link_post))
        .route(urls::SSO_UNLINK, post(sso::sso_unlink_post))
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
            csrf::require_csrf_token,
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
