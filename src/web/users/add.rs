//! Adding a member from the Users page: a generated PIN and an invitation (mailed, or a link
//! shown once to pass on).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use super::{admin_account, page, Notice};
use crate::domain::{Kind, Role};
use crate::http::AppState;
use crate::service::{links, ServiceError};
use crate::web::error::Result;
use crate::web::flash::Flash;
use crate::web::session::Auth;

/// The add-member form as it was sent (to show it again with what was wrong).
#[derive(Deserialize)]
pub struct AddForm {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default = "default_kind")]
    pub kind: Kind,
    #[serde(default = "default_role")]
    pub role: Role,
}

fn default_kind() -> Kind {
    Kind::User
}

fn default_role() -> Role {
    Role::User
}

impl Default for AddForm {
    fn default() -> Self {
        AddForm {
            username: String::new(),
            name: String::new(),
            email: String::new(),
            kind: default_kind(),
            role: default_role(),
        }
    }
}

impl AddForm {
    pub fn is_contact(&self) -> bool {
        self.kind == Kind::Contact
    }
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// Add a member: a generated PIN and an invitation (mailed, or shown once to pass on).
pub async fn add_post(
    State(state): State<AppState>,
    auth: Auth,
    Form(form): Form<AddForm>,
) -> Result<Response> {
    let account = admin_account(&auth)?;
    let new = links::NewMember {
        username: form.username.clone(),
        full_name: form.name.clone(),
        email: form.email.clone(),
        kind: form.kind,
        role: form.role,
    };
    match links::invite(&state.ctx, &auth.user, &account, new).await {
        Ok(invited) => {
            let who = format!("{} ({})", invited.member.full_name, invited.member.username);
            let flash = if invited.link_to_pass_on.is_some() {
                format!("{who} was added, with a generated Support PIN.")
            } else {
                format!(
                    "{who} was added, with a generated Support PIN, and was sent an invitation \
                     to choose a password."
                )
            };
            let notice = Notice {
                flash: Some(Flash::done(flash)),
                invitation: invited.link_to_pass_on.map(|link| (who, link)),
                ..Notice::default()
            };
            Ok(page(&state, &auth, account, notice).await?.into_response())
        }
        Err(ServiceError::Invalid(why) | ServiceError::Conflict(why)) => {
            let notice = Notice {
                add: form,
                add_error: Some(why),
                ..Notice::default()
            };
            let p = page(&state, &auth, account, notice).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, p).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
