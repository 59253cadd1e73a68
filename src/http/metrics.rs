//! Counting and timing every request for the metrics (`service::metrics`), by route template:
//! `/v2.0/users/{user_id}/RAX-AUTH/phone-pin/verify`, never the path with the id in it.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;

/// The label of a request's route: its template, or `unmatched` for a path no route knows (so
/// a scanner cannot add label values).
fn route_of(req: &Request) -> String {
    match req.extensions().get::<MatchedPath>() {
        Some(p) => p.as_str().to_owned(),
        None => "unmatched".to_owned(),
    }
}

/// The label of a request's method: one of the methods the routes answer, else `other`.
fn method_of(req: &Request) -> &'static str {
    match *req.method() {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware: one count and one latency sample per request (the router adds it when metrics
/// are on).
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let metrics = &state.ctx.metrics;
    let (route, method) = (route_of(&req), method_of(&req));
    let started = Instant::now();
    let response = next.run(req).await;
    metrics.http_request(
        &route,
        method,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}
