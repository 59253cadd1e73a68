//! The first start's set-up page (the one-time link `pinpanel serve` prints on an empty
//! database): the first account and its administrator, in one step, once.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use secrecy::SecretString;
use serde::Deserialize;

use super::error::{Result, WebError};
use super::links::link_is_dead;
use super::login::anonymous_page;
use super::urls;
use crate::domain::{DisplayName, EmailAddress, Username, MIN_PASSWORD_CHARS};
use crate::http::AppState;
use crate::service::{links, ServiceError};

#[derive(Template, WebTemplate)]
#[template(path = "account/setup.html")]
pub struct SetupPage {
    csrf: String,
    action: String,
    form: SetupFields,
    error: Option<String>,
    min_chars: usize,
}

#[derive(Default, Deserialize)]
pub struct SetupFields {
    #[serde(default)]
    account: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(flatten)]
    fields: SetupFields,
    new: SecretString,
    again: SecretString,
}

fn setup_page(
    state: &AppState,
    headers: &HeaderMap,
    token: &str,
    status: StatusCode,
    form: SetupFields,
    error: Option<String>,
) -> Response {
    let action = urls::SETUP.replace("{token}", token);
    anonymous_page(state, headers, status, |csrf| {
        SetupPage {
            csrf,
            action,
            form,
            error,
            min_chars: MIN_PASSWORD_CHARS,
        }
        .into_response()
    })
}

const SETUP_TITLE: &str = "Set up pinpanel";

pub async fn setup_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response> {
    if !links::setup_is_open(&state.ctx, &token).await? {
        return Ok(link_is_dead(SETUP_TITLE));
    }
    Ok(setup_page(
        &state,
        &headers,
        &token,
        StatusCode::OK,
        SetupFields::default(),
        None,
    ))
}

/// Creates the first account and its administrator; then the link stops working.
pub async fn setup_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<SetupForm>,
) -> Result<Response> {
    let f = &form.fields;
    let setup = links::Setup {
        account_name: f.account.clone(),
        username: f.username.clone(),
        full_name: f.name.clone(),
        email: Some(f.email.clone()),
        password: form.new,
        again: form.again,
    };
    match links::complete_setup(&state.ctx, &token, setup).await {
        Ok(_) => Ok(Redirect::to(urls::LOGIN_PASSWORD_SET).into_response()),
        Err(ServiceError::NotFound) => Ok(link_is_dead(SETUP_TITLE)),
        Err(ServiceError::Invalid(why) | ServiceError::Conflict(why)) => Ok(setup_page(
            &state,
            &headers,
            &token,
            StatusCode::UNPROCESSABLE_ENTITY,
            form.fields,
            Some(why),
        )),
        Err(e) => Err(WebError::from(e)),
    }
}
