//! An administrator's actions on a member's Support PIN from the Users page: Unlock and Reset,
//! each a confirmed POST (a page without JavaScript, a dialog with it). Who may is the service's.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::error::Result;
use super::flash::Flash;
use super::session::Auth;
use super::users::{admin_account, page_with, target, ConfirmAction, ConfirmPage};
use super::{urls, Chrome};
use crate::http::AppState;
use crate::service::{pins, Actor, ServiceError};

pub async fn unlock_get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> Result<Response> {
    let member = target(&state, &auth, id).await?;
    Ok(ConfirmPage {
        chrome: Chrome::of(&auth),
        action: ConfirmAction::Unlock,
        title: "Unlock Support PIN".into(),
        question: format!(
            "Unlock the Support PIN of {} ({})?",
            member.full_name, member.username
        ),
        button: "Unlock",
        url: urls::with_id(urls::USER_UNLOCK, id),
    }
    .into_response())
}

pub async fn unlock_post(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> Result<Response> {
    let member = target(&state, &auth, id).await?;
    let (status, flash) = match pins::unlock(&state.ctx, &auth.user, &member).await {
        Ok(()) => (
            StatusCode::OK,
            Flash::done(format!("Support PIN of {} unlocked.", member.full_name)),
        ),
        Err(ServiceError::NotLocked) => (
            StatusCode::CONFLICT,
            Flash::problem(format!(
                "The Support PIN of {} is not locked.",
                member.full_name
            )),
        ),
        Err(e) => return Err(e.into()),
    };
    let account = admin_account(&auth)?;
    Ok((
        status,
        page_with(&state, &auth, account, Some(flash)).await?,
    )
        .into_response())
}

pub async fn reset_get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> Result<Response> {
    let member = target(&state, &auth, id).await?;
    Ok(ConfirmPage {
        chrome: Chrome::of(&auth),
        action: ConfirmAction::Danger,
        title: "Reset Support PIN".into(),
        question: format!(
            "Give {} ({}) a new, generated Support PIN? Their current PIN stops working at once; \
             they will see the new one on their profile page.",
            member.full_name, member.username
        ),
        button: "Reset PIN",
        url: urls::with_id(urls::USER_RESET, id),
    }
    .into_response())
}

pub async fn reset_post(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> Result<Response> {
    let member = target(&state, &auth, id).await?;
    let (status, flash) =
        match pins::reset(&state.ctx, Actor::User(&auth.user), &member, false).await {
            Ok(()) => (
                StatusCode::OK,
                Flash::done(format!("{} has a new Support PIN.", member.full_name)),
            ),
            Err(ServiceError::Locked) => (
                StatusCode::CONFLICT,
                Flash::problem(format!(
                    "The Support PIN of {} is locked: unlock it before resetting it.",
                    member.full_name
                )),
            ),
            Err(e) => return Err(e.into()),
        };
    let account = admin_account(&auth)?;
    Ok((
        status,
        page_with(&state, &auth, account, Some(flash)).await?,
    )
        .into_response())
}
