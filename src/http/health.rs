//! The probes: `/healthz` (liveness: the database answers) and `/readyz` (readiness: the
//! database answers and the mail worker runs), plain text, for load balancers and orchestrators.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::service::health::{self, Worker};

pub async fn healthz(State(state): State<AppState>) -> Response {
    match health::database(&state.ctx).await {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response()
        }
    }
}

/// Readiness for load balancers: the database answers and the mail worker runs (or mail is
/// not configured). One line per check, `503` when one fails.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let r = health::readiness(&state.ctx).await;
    let database = match &r.database {
        Ok(()) => "ok".to_owned(),
        Err(e) => {
            tracing::error!(error = %e, "readiness: database unreachable");
            "unreachable".to_owned()
        }
    };
    let mail = match r.mail {
        Worker::Running => "running".to_owned(),
        Worker::NotConfigured => "not configured".to_owned(),
        Worker::NotStarted => "not started".to_owned(),
        Worker::Stalled { secs } => format!("stalled (no sign of life for {secs} s)"),
    };
    let status = if r.ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, format!("database: {database}\nmail: {mail}\n")).into_response()
}
