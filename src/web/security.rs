//! The security page, *Two-step login and sign-in*: what it shows of a person's second factors
//! and of the identities they linked, and how it is shown again with what a change did. The
//! changes themselves are `web::two_step`'s (factors) and `web::sso`'s (identities).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde::Deserialize;

use super::error::Result;
use super::flash::{sentence, Flash};
use super::session::Auth;
use super::{urls, Chrome};
use crate::domain::TwoStepStatus;
use crate::http::time::format_time;
use crate::http::AppState;
use crate::service::sso;
use crate::service::two_step::{self, passkeys, PasskeyInfo};
use crate::service::ServiceError;

/// One passkey as the page lists it.
pub struct PasskeyRow {
    pub id: i64,
    pub name: String,
    pub added: String,
    pub last_used: String,
    pub name_url: String,
    pub remove_url: String,
    /// Just added: the page says so and offers the name field first.
    pub new: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "two_step/page.html")]
pub struct TwoStepPage {
    chrome: Chrome,
    status: TwoStepStatus,
    required: bool,
    recent: bool,
    passkeys_available: bool,
    passkeys: Vec<PasskeyRow>,
    /// Single sign-on, when the panel has it: the identities linked.
    sso: Option<Section>,
    flash: Option<Flash>,
}

impl TwoStepPage {
    fn enabled(&self) -> bool {
        self.status.enabled()
    }
}

/// One linked identity as the security page lists it.
pub struct IdentityRow {
    pub id: i64,
    pub email: String,
    pub linked: String,
    pub last_used: String,
    pub unlink_url: String,
}

/// The single sign-on part of the security page.
pub struct Section {
    pub name: String,
    pub identities: Vec<IdentityRow>,
    /// The member signs in only through single sign-on.
    pub sso_only: bool,
}

impl Section {
    /// Unlinking is offered to members who have a password here.
    pub fn may_unlink(&self) -> bool {
        !self.sso_only
    }
}

/// The section, when single sign-on is set up.
async fn section(state: &AppState, auth: &Auth) -> Result<Option<Section>> {
    let Some(sso) = state.ctx.sso.as_ref() else {
        return Ok(None);
    };
    let identities = sso::identities(&state.ctx, &auth.user)
        .await?
        .into_iter()
        .map(|i| IdentityRow {
            unlink_url: urls::with_id(urls::SSO_UNLINK, i.id),
            id: i.id,
            email: i
                .email
                .unwrap_or_else(|| "an account without an e-mail address".into()),
            linked: format_time(i.linked_at),
            last_used: i
                .last_used_at
                .map(format_time)
                .unwrap_or_else(|| "never".into()),
        })
        .collect();
    Ok(Some(Section {
        name: sso.name.clone(),
        identities,
        sso_only: auth.user.sso_only,
    }))
}

/// What the flash says after linking.
fn linked_sentence(name: &str) -> String {
    format!("Your {name} account is linked: Sign in with {name} now logs you in.")
}

#[derive(Deserialize, Default)]
pub struct PageQuery {
    #[serde(default)]
    added: Option<i64>,
    /// Back from linking an identity at the provider.
    #[serde(default)]
    linked: Option<u8>,
}

/// The page, with `flash` (and a passkey just `added` named first).
pub(super) async fn page(
    state: &AppState,
    auth: &Auth,
    added: Option<i64>,
    flash: Option<Flash>,
) -> Result<TwoStepPage> {
    let ctx = &state.ctx;
    let status = two_step::status(ctx, &auth.user).await?;
    let passkeys = passkeys::passkeys(ctx, &auth.user)
        .await?
        .into_iter()
        .map(|p: PasskeyInfo| PasskeyRow {
            name_url: urls::with_id(urls::PASSKEY_NAME, p.id),
            remove_url: urls::with_id(urls::PASSKEY_REMOVE, p.id),
            new: added == Some(p.id),
            id: p.id,
            name: p.name,
            added: format_time(p.created_at),
            last_used: p
                .last_used_at
                .map(format_time)
                .unwrap_or_else(|| "never".into()),
        })
        .collect();
    let flash = flash.or_else(|| added.map(|_| Flash::done("Passkey added.")));
    let sso = section(state, auth).await?;
    Ok(TwoStepPage {
        chrome: Chrome::of(auth),
        status,
        required: two_step::required_for(ctx, auth.user.role),
        recent: auth.recent_password(ctx).is_some(),
        passkeys_available: two_step::passkeys_available(ctx),
        passkeys,
        sso,
        flash,
    })
}

pub async fn two_step_get(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<PageQuery>,
) -> Result<TwoStepPage> {
    let linked = q
        .linked
        .and(state.ctx.sso.as_ref())
        .map(|sso| Flash::done(linked_sentence(&sso.name)));
    page(&state, &auth, q.added, linked).await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    pub(super) password: SecretString,
}

/// A change that needs the password again; a wrong one re-renders the page with the reason.
pub(super) async fn with_password<T>(
    state: &AppState,
    auth: &Auth,
    result: crate::service::Result<T>,
    on_ok: impl FnOnce(T) -> Result<Response>,
) -> Result<Response> {
    match result {
        Ok(v) => on_ok(v),
        Err(ServiceError::WrongPassword) => {
            let p = page(
                state,
                auth,
                None,
                Some(Flash::problem("That password is not correct.")),
            )
            .await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, p).into_response())
        }
        Err(ServiceError::Forbidden(why)) => {
            let p = page(state, auth, None, Some(Flash::problem(sentence(why)))).await?;
            Ok((StatusCode::FORBIDDEN, p).into_response())
        }
        Err(ServiceError::Conflict(message)) => {
            let p = page(state, auth, None, Some(Flash::problem(message))).await?;
            Ok((StatusCode::CONFLICT, p).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
