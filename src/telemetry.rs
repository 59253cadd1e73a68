//! Logging and metrics. Logs: `tracing` to stderr, filtered by `RUST_LOG`, as text for eyes or
//! one JSON object per line for a log pipeline (`PINPANEL_LOG_FORMAT`). Secrets never reach
//! them: handlers log ids and outcomes, request spans carry the path without its query, and
//! secret-bearing types (`SupportPin`, `SecretString`, `PinKey`, `User`) print masked.
//!
//! Metrics: a Prometheus recorder per server (`service::metrics` names what is counted),
//! served on an address of its own (`PINPANEL_METRICS_ADDR`), never on the public one.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::service::{self, metrics::Metrics, Ctx};

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line: timestamp, level, target, message and fields, and the
    /// request's span (its method, path and request id).
    Json,
}

/// Installs the global subscriber; `default` applies when `RUST_LOG` is unset.
pub fn init(default: &str, format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

/// A recorder for one server, and the handle that renders what it recorded.
pub fn prometheus() -> anyhow::Result<(Metrics, PrometheusHandle)> {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(service::metrics::HTTP_DURATION.to_owned()),
            service::metrics::DURATION_BUCKETS,
        )?
        .build_recorder();
    let handle = recorder.handle();
    let metrics = Metrics::new(Arc::new(recorder));
    metrics.with(|| {
        for (name, help) in service::metrics::DESCRIPTIONS {
            if *name == service::metrics::HTTP_DURATION {
                metrics::describe_histogram!(*name, metrics::Unit::Seconds, *help);
            } else if name.ends_with("_total") {
                metrics::describe_counter!(*name, *help);
            } else {
                metrics::describe_gauge!(*name, *help);
            }
        }
    });
    metrics.start_at_zero();
    Ok((metrics, handle))
}

#[derive(Clone)]
struct Exporter {
    ctx: Ctx,
    handle: PrometheusHandle,
}

/// Serves `GET /metrics` on `listener` until the task is dropped, and keeps the histograms
/// trimmed between scrapes.
pub async fn serve_metrics(listener: TcpListener, ctx: Ctx, handle: PrometheusHandle) {
    let upkeep = handle.clone();
    let trim = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    let router = Router::new()
        .route("/metrics", get(scrape))
        .with_state(Exporter { ctx, handle });
    if let Err(e) = axum::serve(listener, router).await {
        tracing::error!(error = %e, "the metrics listener failed");
    }
    trim.abort();
}

async fn scrape(State(exporter): State<Exporter>) -> Response {
    if let Err(e) = service::metrics::sample(&exporter.ctx).await {
        tracing::warn!(error = %e, "reading the gauges for a scrape failed");
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        exporter.handle.render(),
    )
        .into_response()
}
