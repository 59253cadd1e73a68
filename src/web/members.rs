//! Running an account from the Users page: adding a member (with an invitation), disabling and
//! enabling, making administrators and users (each a confirmed POST), and the account's
//! activity with its CSV export. The rules (the last administrator, nobody changing themselves)
//! are the service's.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use super::error::Result;
use super::flash::Flash;
use super::session::Auth;
use super::users::Notice;
use super::users::{admin_account, page, page_with, target, AddForm, ConfirmAction, ConfirmPage};
use super::{urls, Chrome};
use crate::domain::{ActivityKind, Role};
use crate::http::time::{format_time, iso_time};
use crate::http::AppState;
use crate::service::{activity, links, members, sso, two_step, Actor, ServiceError};

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

/// The confirmed actions on a member.
#[derive(Debug, Clone, Copy)]
pub enum MemberChange {
    Disable,
    Enable,
    MakeAdmin,
    MakeUser,
    /// Codes from the member's app work again after too many wrong ones.
    AllowCodes,
    /// The member signs in only with single sign-on.
    SsoOnly,
    /// The member's password works again.
    PasswordAgain,
}

impl MemberChange {
    fn title(self) -> &'static str {
        match self {
            MemberChange::Disable => "Disable",
            MemberChange::Enable => "Enable",
            MemberChange::MakeAdmin => "Make administrator",
            MemberChange::MakeUser => "Make user",
            MemberChange::AllowCodes => "Allow app codes again",
            MemberChange::SsoOnly => "Single sign-on only",
            MemberChange::PasswordAgain => "Allow the password again",
        }
    }

    fn route(self) -> &'static str {
        match self {
            MemberChange::Disable => urls::USER_DISABLE,
            MemberChange::Enable => urls::USER_ENABLE,
            MemberChange::MakeAdmin => urls::USER_MAKE_ADMIN,
            MemberChange::MakeUser => urls::USER_MAKE_USER,
            MemberChange::AllowCodes => urls::USER_ALLOW_CODES,
            MemberChange::SsoOnly => urls::USER_SSO_ONLY,
            MemberChange::PasswordAgain => urls::USER_PASSWORD_AGAIN,
        }
    }

    fn done(self, who: &str) -> String {
        match self {
            MemberChange::Disable => {
                format!("{who} is disabled: their sessions and API tokens have ended.")
            }
            MemberChange::Enable => format!("{who} is enabled again."),
            MemberChange::MakeAdmin => format!("{who} is now an administrator."),
            MemberChange::MakeUser => format!("{who} is now a user."),
            MemberChange::AllowCodes => {
                format!("Codes from the authenticator app of {who} work again.")
            }
            MemberChange::SsoOnly => format!(
                "{who} now signs in only with single sign-on: their password no longer works, \
                 and their sessions have ended."
            ),
            MemberChange::PasswordAgain => format!("The password of {who} works again."),
        }
    }
}

/// The confirmation page of a change (without JavaScript; with it, the same form is a dialog).
async fn confirm(state: &AppState, auth: &Auth, id: i64, change: MemberChange) -> Result<Response> {
    let member = target(state, auth, id).await?;
    Ok(ConfirmPage {
        chrome: Chrome::of(auth),
        action: if matches!(change, MemberChange::Disable) {
            ConfirmAction::Danger
        } else {
            ConfirmAction::Confirm
        },
        title: format!("{}: {}", change.title(), member.full_name),
        question: format!(
            "{} {} ({})?",
            change.title(),
            member.full_name,
            member.username
        ),
        button: change.title(),
        url: urls::with_id(change.route(), id),
    }
    .into_response())
}

async fn apply(state: &AppState, auth: &Auth, id: i64, change: MemberChange) -> Result<Response> {
    let member = target(state, auth, id).await?;
    let actor = Actor::User(&auth.user);
    let ctx = &state.ctx;
    let result = match change {
        MemberChange::Disable => members::set_enabled(ctx, actor, &member, false).await,
        MemberChange::Enable => members::set_enabled(ctx, actor, &member, true).await,
        MemberChange::MakeAdmin => members::set_role(ctx, actor, &member, Role::Admin).await,
        MemberChange::MakeUser => members::set_role(ctx, actor, &member, Role::User).await,
        MemberChange::AllowCodes => two_step::allow_codes_again(ctx, &auth.user, &member).await,
        MemberChange::SsoOnly => sso::set_sso_only(ctx, actor, &member, true).await,
        MemberChange::PasswordAgain => sso::set_sso_only(ctx, actor, &member, false).await,
    };
    let who = format!("{} ({})", member.full_name, member.username);
    let account = admin_account(auth)?;
    let (status, flash) = match result {
        Ok(()) => (StatusCode::OK, Flash::done(change.done(&who))),
        Err(ServiceError::Conflict(why)) => (StatusCode::CONFLICT, Flash::problem(why)),
        Err(ServiceError::Invalid(why)) => (StatusCode::UNPROCESSABLE_ENTITY, Flash::problem(why)),
        Err(e) => return Err(e.into()),
    };
    Ok((status, page_with(state, auth, account, Some(flash)).await?).into_response())
}

macro_rules! change_handlers {
    ($($get:ident, $post:ident => $change:expr;)*) => {
        $(
            pub async fn $get(
                State(state): State<AppState>,
                auth: Auth,
                Path(id): Path<i64>,
            ) -> Result<Response> {
                confirm(&state, &auth, id, $change).await
            }

            pub async fn $post(
                State(state): State<AppState>,
                auth: Auth,
                Path(id): Path<i64>,
            ) -> Result<Response> {
                apply(&state, &auth, id, $change).await
            }
        )*
    };
}

change_handlers! {
    disable_get, disable_post => MemberChange::Disable;
    enable_get, enable_post => MemberChange::Enable;
    make_admin_get, make_admin_post => MemberChange::MakeAdmin;
    make_user_get, make_user_post => MemberChange::MakeUser;
    allow_codes_get, allow_codes_post => MemberChange::AllowCodes;
    sso_only_get, sso_only_post => MemberChange::SsoOnly;
    password_again_get, password_again_post => MemberChange::PasswordAgain;
}

/// The activity page's filters, in its query (so a filtered page is a link).
#[derive(Debug, Default, Deserialize)]
pub struct ActivityQuery {
    #[serde(default)]
    member: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    before: Option<String>,
}

impl ActivityQuery {
    fn filter(&self) -> activity::Filter {
        let number = |v: &Option<String>| v.as_deref().and_then(|s| s.trim().parse::<i64>().ok());
        activity::Filter {
            member: number(&self.member),
            kind: self.kind.as_deref().and_then(|k| k.parse().ok()),
            before: number(&self.before),
        }
    }
}

/// The query string of `filter` (for the next page and the export).
fn query_of(filter: &activity::Filter, before: Option<i64>) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    if let Some(m) = filter.member {
        q.append_pair("member", &m.to_string());
    }
    if let Some(k) = filter.kind {
        q.append_pair("kind", k.as_str());
    }
    if let Some(b) = before {
        q.append_pair("before", &b.to_string());
    }
    q.finish()
}

pub struct ActivityRow {
    pub when: String,
    pub iso: String,
    pub event: String,
    pub actor: String,
    pub subject: String,
    pub detail: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "users/activity.html")]
pub struct ActivityPage {
    chrome: Chrome,
    account_name: String,
    rows: Vec<ActivityRow>,
    /// (id, label, selected) of each member for the filter.
    members: Vec<(i64, String, bool)>,
    /// (value, label, selected) of each kind.
    kinds: Vec<(&'static str, &'static str, bool)>,
    next_page: Option<String>,
    export: String,
    filtered: bool,
}

pub async fn activity_get(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<ActivityQuery>,
) -> Result<ActivityPage> {
    let account = admin_account(&auth)?;
    let filter = q.filter();
    let (events, next) = activity::page(&state.ctx, &auth.user, account.id, &filter).await?;
    let members = members::members(&state.ctx, Actor::User(&auth.user), account.id)
        .await?
        .into_iter()
        .map(|m| {
            let selected = filter.member == Some(m.user.id);
            (
                m.user.id,
                format!("{} ({})", m.user.full_name, m.user.username),
                selected,
            )
        })
        .collect();
    let kinds = ActivityKind::ALL
        .iter()
        .map(|k| (k.as_str(), k.label(), filter.kind == Some(*k)))
        .collect();
    let rows = events
        .into_iter()
        .map(|e| ActivityRow {
            when: format_time(e.at),
            iso: iso_time(e.at),
            event: e.event,
            actor: e.actor_name,
            subject: e.subject_name.unwrap_or_default(),
            detail: e.detail,
        })
        .collect();
    let next_page = next.map(|id| format!("{}?{}", urls::ACTIVITY, query_of(&filter, Some(id))));
    let export = match query_of(&filter, None) {
        q if q.is_empty() => urls::ACTIVITY_CSV.to_owned(),
        q => format!("{}?{q}", urls::ACTIVITY_CSV),
    };
    Ok(ActivityPage {
        chrome: Chrome::of(&auth),
        account_name: account.name,
        rows,
        members,
        kinds,
        next_page,
        export,
        filtered: filter.member.is_some() || filter.kind.is_some(),
    })
}

/// A CSV field: quoted, and (against formula injection when the file is opened in a
/// spreadsheet) a leading `= + - @` neutralised.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    format!("\"{}\"", text.replace('"', "\"\""))
}

pub async fn activity_csv_get(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<ActivityQuery>,
) -> Result<Response> {
    let account = admin_account(&auth)?;
    let filter = activity::Filter {
        before: None,
        ..q.filter()
    };
    let events = activity::export(&state.ctx, &auth.user, account.id, &filter).await?;
    let mut csv = String::from("time,event,by,member,detail\r\n");
    for e in events {
        let member = e.subject_name.unwrap_or_default();
        csv.push_str(&format!(
            "{},{},{},{},{}\r\n",
            csv_field(&iso_time(e.at)),
            csv_field(&e.event),
            csv_field(&e.actor_name),
            csv_field(&member),
            csv_field(&e.detail)
        ));
    }
    let mut res = csv.into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"activity.csv\""),
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_formulas_neutralised() {
        assert_eq!(csv_field("a \"b\""), "\"a \"\"b\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "\"'=HYPERLINK(1)\"");
        assert_eq!(csv_field("plain"), "\"plain\"");
    }
}
