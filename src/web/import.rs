//! Importing members from a file, from the Users page: an administrator uploads a CSV for their
//! own account (5 MiB at most), sees a preview (the first rows, every problem with its line),
//! starts it, and follows its progress (htmx polls it; without JavaScript the page reloads
//! itself) to a summary. The import runs in the background (`service::import::jobs`).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::error::Result;
use super::session::Auth;
use super::users::admin_account;
use super::{urls, Chrome, Htmx};
use crate::domain::time::format_time;
use crate::http::AppState;
use crate::service::import::jobs::{self, MAX_FILE};
use crate::service::import::Problems;
use crate::service::ServiceError;

/// The largest request the upload route reads: the file and the form around it.
pub const UPLOAD_LIMIT: usize = MAX_FILE + 64 * 1024;
/// How many of the file's rows the preview shows.
const PREVIEW_ROWS: usize = 20;

/// A row as the preview shows it (the browser's import generates every PIN).
pub struct PreviewRow {
    pub line: u64,
    pub username: String,
    pub name: String,
    pub email: String,
    pub kind: &'static str,
    pub role: &'static str,
    pub external_id: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "users/import.html")]
pub struct ImportPage {
    chrome: Chrome,
    account_number: String,
    /// An import of the account already queued or running.
    running: Option<String>,
    /// The preview of the file just sent.
    preview: Option<Preview>,
    error: Option<String>,
    mail_sends: bool,
}

pub struct Preview {
    pub rows: Vec<PreviewRow>,
    pub more: usize,
    pub problems: Problems,
    pub to_create: usize,
    pub skipped: usize,
    pub start_url: Option<String>,
}

async fn page(
    state: &AppState,
    auth: &Auth,
    preview: Option<Preview>,
    error: Option<String>,
) -> Result<ImportPage> {
    let account = admin_account(auth)?;
    let running = jobs::active(&state.ctx, &auth.user, &account)
        .await?
        .map(|j| urls::with_id(urls::USERS_IMPORT_STATUS, j.id));
    Ok(ImportPage {
        chrome: Chrome::of(auth),
        account_number: account.number,
        running,
        preview,
        error,
        mail_sends: state.ctx.settings.mail_sends,
    })
}

pub async fn import_get(State(state): State<AppState>, auth: Auth) -> Result<ImportPage> {
    page(&state, &auth, None, None).await
}

/// The upload: the file checked, and shown.
pub async fn import_post(
    State(state): State<AppState>,
    auth: Auth,
    mut form: Multipart,
) -> Result<Response> {
    let account = admin_account(&auth)?;
    let mut bytes = None;
    let mut invite = false;
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return upload_refused(&state, &auth, e.status()).await,
        };
        match field.name() {
            Some("file") => match field.bytes().await {
                Ok(data) => bytes = Some(data),
                Err(e) => return upload_refused(&state, &auth, e.status()).await,
            },
            Some("invite") => invite = true,
            _ => {}
        }
    }
    let Some(bytes) = bytes.filter(|b| !b.is_empty()) else {
        let p = page(
            &state,
            &auth,
            None,
            Some("Choose a CSV file to import.".into()),
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, p).into_response());
    };
    let preview = match jobs::preview(&state.ctx, &auth.user, &account, &bytes, invite).await {
        Ok(p) => p,
        Err(ServiceError::Invalid(why)) => {
            let p = page(&state, &auth, None, Some(why)).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, p).into_response());
        }
        Err(e) => return Err(e.into()),
    };
    let plan = preview.plan;
    let status = if plan.is_clean() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let rows = plan
        .rows
        .iter()
        .take(PREVIEW_ROWS)
        .map(|r| PreviewRow {
            line: r.line,
            username: r.username.as_str().to_owned(),
            name: r.full_name.as_str().to_owned(),
            email: r
                .email
                .as_ref()
                .map(|e| e.as_str().to_owned())
                .unwrap_or_default(),
            kind: r.kind.label(),
            role: r.role.label(),
            external_id: r.external_id.clone().unwrap_or_default(),
        })
        .collect();
    let shown = Preview {
        rows,
        more: plan.rows.len().saturating_sub(PREVIEW_ROWS),
        to_create: plan.rows.len(),
        skipped: plan.skipped.len(),
        start_url: preview
            .job
            .map(|id| urls::with_id(urls::USERS_IMPORT_START, id)),
        problems: plan.problems,
    };
    Ok((status, page(&state, &auth, Some(shown), None).await?).into_response())
}

/// The page again when the upload could not be read: too large (413, saying the limit), or
/// broken on its way.
async fn upload_refused(state: &AppState, auth: &Auth, status: StatusCode) -> Result<Response> {
    let (status, why) = if status == StatusCode::PAYLOAD_TOO_LARGE {
        (status, jobs::TOO_LARGE)
    } else {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "The upload could not be read: send the file again.",
        )
    };
    let p = page(state, auth, None, Some(why.into())).await?;
    Ok((status, p).into_response())
}

/// Starts a previewed import, then shows its progress.
pub async fn import_start_post(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> Result<Response> {
    let account = admin_account(&auth)?;
    match jobs::start(&state.ctx, &auth.user, &account, id).await {
        Ok(()) => Ok(Redirect::to(&urls::with_id(urls::USERS_IMPORT_STATUS, id)).into_response()),
        Err(ServiceError::Conflict(why)) => {
            let p = page(&state, &auth, None, Some(why)).await?;
            Ok((StatusCode::CONFLICT, p).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "users/import_status.html")]
pub struct StatusPage {
    chrome: Chrome,
    status: Status,
}

/// The part htmx refreshes.
#[derive(Template, WebTemplate)]
#[template(path = "users/import_status_part.html")]
pub struct Status {
    url: String,
    state: String,
    rows: i64,
    done: i64,
    created: i64,
    skipped: i64,
    invitations: i64,
    started: String,
    took: String,
    error: Option<String>,
}

impl Status {
    fn running(&self) -> bool {
        matches!(self.state.as_str(), "queued" | "running")
    }
    fn percent(&self) -> i64 {
        (self.done * 100).checked_div(self.rows).unwrap_or(100)
    }
}

/// An import's progress: the whole page, or (to htmx's polling) the part that changes.
pub async fn import_status_get(
    State(state): State<AppState>,
    auth: Auth,
    htmx: Htmx,
    Path(id): Path<i64>,
) -> Result<Response> {
    let account = admin_account(&auth)?;
    let job = jobs::status(&state.ctx, &auth.user, &account, id).await?;
    let took = match (job.started_at, job.finished_at) {
        (Some(s), Some(f)) => format!("{} s", f - s),
        _ => String::new(),
    };
    let status = Status {
        url: urls::with_id(urls::USERS_IMPORT_STATUS, id),
        done: job.skipped + job.created,
        state: job.state,
        rows: job.rows,
        created: job.created,
        skipped: job.skipped,
        invitations: job.invitations,
        started: job.started_at.map(format_time).unwrap_or_default(),
        took,
        error: job.error,
    };
    if htmx.0 {
        return Ok(status.into_response());
    }
    Ok(StatusPage {
        chrome: Chrome::of(&auth),
        status,
    }
    .into_response())
}
