//! The Users page's Provisioning section: provisioning tokens for the account's identity system
//! (made with a name and a recent password, shown once), revoking one, and whether the members
//! it creates sign in only through single sign-on.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{admin_account, page, Notice};
use crate::domain::Account;
use crate::http::time::format_time;
use crate::http::AppState;
use crate::service::provisioning::{self as tokens, TokenMaker};
use crate::service::{accounts, login, Actor, ServiceError};
use crate::web::error::Result;
use crate::web::flash::Flash;
use crate::web::session::Auth;
use crate::web::urls;

/// The longest name of a token, for the form's field.
pub use crate::service::provisioning::MAX_NAME_CHARS;

/// A token as the section lists it.
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub created: String,
    pub created_by: String,
    pub last_used: String,
    pub revoke_url: String,
}

/// What the section shows.
pub struct Section {
    pub scim_url: String,
    pub tokens: Vec<TokenRow>,
    pub new_token: Option<(String, String)>,
    pub error: Option<String>,
    /// Single sign-on is set up, so the account may make its members sign in only that way.
    pub sso_name: Option<String>,
    pub sso_only: bool,
    /// A new token needs the password again (the last entry is not recent).
    pub needs_password: bool,
}

pub(super) async fn section(
    state: &AppState,
    auth: &Auth,
    account: &Account,
    new_token: Option<(String, String)>,
    error: Option<String>,
) -> Result<Section> {
    let tokens = tokens::tokens(&state.ctx, &auth.user, account)
        .await?
        .into_iter()
        .map(|t| TokenRow {
            revoke_url: urls::with_id(urls::USERS_TOKEN_REVOKE, t.id),
            id: t.id,
            name: t.name,
            created: format_time(t.created_at),
            created_by: t.created_by,
            last_used: t
                .last_used_at
                .map(format_time)
                .unwrap_or_else(|| "never".into()),
        })
        .collect();
    let base = state.ctx.settings.link_base.as_str().trim_end_matches('/');
    Ok(Section {
        scim_url: format!("{base}{}", urls::SCIM),
        tokens,
        new_token,
        error,
        sso_name: state.ctx.sso.as_ref().map(|s| s.name.clone()),
        sso_only: account.sso_only,
        needs_password: auth.recent_password(&state.ctx).is_none(),
    })
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
    /// Needed when the last password entry is not recent.
    #[serde(default)]
    password: Option<SecretString>,
}

/// A new provisioning token: the page shows it once. It needs a recent password entry: the one
/// in this form, or one within the re-auth window.
pub async fn token_post(
    State(state): State<AppState>,
    auth: Auth,
    Form(form): Form<TokenForm>,
) -> Result<Response> {
    let account = admin_account(&auth)?;
    let recent = match auth.recent_password(&state.ctx) {
        Some(recent) => Some(recent),
        None => match form.password.filter(|p| !p.expose_secret().is_empty()) {
            Some(password) => {
                match login::reauthenticate(&state.ctx, &auth.user, password).await? {
                    true => Some(auth.session.reauthenticated(&auth.user).await?),
                    false => {
                        let why = "That password is not correct.";
                        return token_refused(&state, &auth, account, why.into()).await;
                    }
                }
            }
            None => None,
        },
    };
    let Some(recent) = recent else {
        let why = "Enter your password to create a token.";
        return token_refused(&state, &auth, account, why.into()).await;
    };
    let maker = TokenMaker::Admin(&auth.user, &recent);
    match tokens::create_token(&state.ctx, maker, &account, &form.name).await {
        Ok(made) => {
            let notice = Notice {
                new_token: Some((form.name.trim().to_owned(), made.token)),
                ..Notice::default()
            };
            Ok(page(&state, &auth, account, notice).await?.into_response())
        }
        Err(ServiceError::Invalid(why)) => token_refused(&state, &auth, account, why).await,
        Err(e) => Err(e.into()),
    }
}

/// The page again with why no token was made (nothing was).
async fn token_refused(
    state: &AppState,
    auth: &Auth,
    account: Account,
    why: String,
) -> Result<Response> {
    let notice = Notice {
        token_error: Some(why),
        ..Notice::default()
    };
    let p = page(state, auth, account, notice).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, p).into_response())
}

pub async fn token_revoke_post(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> Result<Response> {
    let account = admin_account(&auth)?;
    tokens::revoke_token(&state.ctx, &auth.user, &account, id).await?;
    let notice = Notice {
        flash: Some(Flash::done(
            "The token is revoked: the identity system that used it is refused from now on.",
        )),
        ..Notice::default()
    };
    Ok(page(&state, &auth, account, notice).await?.into_response())
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    sso_only: Option<String>,
}

/// Whether members the identity system creates sign in only through single sign-on.
pub async fn sign_in_post(
    State(state): State<AppState>,
    auth: Auth,
    Form(form): Form<SignInForm>,
) -> Result<Response> {
    let mut account = admin_account(&auth)?;
    let on = form.sso_only.is_some();
    accounts::set_sso_only(&state.ctx, Actor::User(&auth.user), account.id, on).await?;
    account.sso_only = on;
    let message = if on {
        "Members your identity system creates now sign in only with single sign-on."
    } else {
        "Members your identity system creates are now invited to choose a password."
    };
    let notice = Notice {
        flash: Some(Flash::done(message)),
        ..Notice::default()
    };
    Ok(page(&state, &auth, account, notice).await?.into_response())
}
