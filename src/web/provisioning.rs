//! The Users page's Provisioning actions: a provisioning token for the account's identity
//! system (made with a name, shown once), revoking one, and whether the members it creates sign
//! in only through single sign-on. The section itself is drawn with the page (`users`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use super::error::Result;
use super::flash::Flash;
use super::session::Auth;
use super::users::{admin_account, page, Notice};
use crate::http::AppState;
use crate::service::{accounts, provisioning, Actor, ServiceError};

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
}

/// A new provisioning token: the page shows it once.
pub async fn token_post(
    State(state): State<AppState>,
    auth: Auth,
    Form(form): Form<TokenForm>,
) -> Result<Response> {
    let account = admin_account(&auth)?;
    match provisioning::create_token(&state.ctx, Actor::User(&auth.user), &account, &form.name)
        .await
    {
        Ok(made) => {
            let notice = Notice {
                new_token: Some((form.name.trim().to_owned(), made.token)),
                ..Notice::default()
            };
            Ok(page(&state, &auth, account, notice).await?.into_response())
        }
        Err(ServiceError::Invalid(why)) => {
            let notice = Notice {
                token_error: Some(why),
                ..Notice::default()
            };
            let p = page(&state, &auth, account, notice).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, p).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn token_revoke_post(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> Result<Response> {
    let account = admin_account(&auth)?;
    provisioning::revoke_token(&state.ctx, &auth.user, &account, id).await?;
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
