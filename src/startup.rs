//! Opening the store, assembling the application and serving it until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::crypto::{KeyOrigin, KeySource, PinCipher, KEY_CHECK_NAME};
use crate::http::client::TrustedProxies;
use crate::http::request_id::RequestId;
use crate::http::{errors::fill_bodies, AppState, Settings, API_PREFIX, BODY_LIMIT};
use crate::service::{self, Ctx};
use crate::store::{self, sessions::DbSessionStore, Db, DbOptions};
use crate::web;

/// An opened installation: the use-case context and the key that signs CSRF tokens.
pub struct Opened {
    pub ctx: Ctx,
    pub csrf_key: [u8; 32],
}

/// Opens the database, applies migrations, loads the PIN key and checks it against the
/// database. Everything the CLI and the server share.
pub async fn open(
    database_url: &str,
    keys: &KeySource,
    options: &DbOptions,
) -> anyhow::Result<Opened> {
    let db = Db::connect(database_url, options).await?;
    db.migrate().await?;
    let may_create = store::settings::get(&db.pool, KEY_CHECK_NAME)
        .await
        .context("cannot read the settings table")?
        .is_none();
    let sqlite_file = store::sqlite_path(database_url);
    let (key, origin) = keys.load(sqlite_file.as_deref(), may_create)?;
    match &origin {
        KeyOrigin::Created(path) => {
            tracing::info!(path = %path.display(), "created a new PIN key file (mode 0600): back it up")
        }
        KeyOrigin::File(path) => tracing::debug!(path = %path.display(), "PIN key from file"),
        KeyOrigin::Environment => tracing::debug!("PIN key from PINPANEL_KEY"),
    }
    let cipher = PinCipher::new(&key);
    // The first start stores the key check; every later one must be able to open it.
    let stored = store::settings::get_or_insert(&db.pool, KEY_CHECK_NAME, &cipher.seal_key_check())
        .await
        .context("cannot read the key check from the database")?;
    if !cipher.opens_key_check(&stored) {
        if let Some(at) = store::audit::last_of(&db.pool, service::events::KEY_ROTATED).await? {
            anyhow::bail!(
                "the PIN key is not this database's key: the key was rotated ({}); start \
                 with the new key (PINPANEL_KEY / PINPANEL_KEY_FILE)",
                crate::domain::time::format_time(at)
            );
        }
        anyhow::bail!(
            "the PIN key does not match the key this database was set up with \
             (check PINPANEL_KEY / PINPANEL_KEY_FILE)"
        );
    }
    let recovery_key = sealed_key(&db, &cipher, RECOVERY_KEY_NAME).await?;
    Ok(Opened {
        ctx: Ctx {
            db,
            cipher: Arc::new(cipher),
            limits: Default::default(),
            settings: Arc::new(service::Settings::new(key.derive("throttle"), recovery_key)),
            passkeys: None,
            metrics: Default::default(),
            mail_worker: Default::default(),
        },
        csrf_key: key.derive("csrf"),
    })
}

/// The settings row of the key that HMACs recovery codes.
pub const RECOVERY_KEY_NAME: &str = "recovery_key";

/// A random key kept in the settings table sealed with the PIN key, made on first use (two
/// instances starting at once agree on one).
async fn sealed_key(db: &Db, cipher: &PinCipher, name: &str) -> anyhow::Result<[u8; 32]> {
    let sealed = cipher.seal_setting(name, &crate::crypto::random_key());
    let stored = store::settings::get_or_insert(&db.pool, name, &sealed)
        .await
        .with_context(|| format!("cannot read the {name} from the database"))?;
    let opened = cipher.open_setting(name, &stored).map_err(|_| {
        anyhow::anyhow!("the {name} in the database does not open with the PIN key")
    })?;
    <[u8; 32]>::try_from(opened.as_slice())
        .map_err(|_| anyhow::anyhow!("the {name} in the database is not 32 bytes"))
}

/// How `serve` runs: the settings of the faces, the use cases and the connections.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    pub cookie_secure: bool,
    pub reauth_secs: i64,
    pub idle_timeout_secs: i64,
    pub absolute_timeout_secs: i64,
    pub audit_retention_days: i64,
    /// Peers whose `X-Forwarded-For` is believed (`PINPANEL_TRUSTED_PROXIES`).
    pub trusted_proxies: TrustedProxies,
    /// A request head must arrive within this time, or the connection closes.
    pub header_read_timeout: Duration,
    /// A request (its body included) must be answered within this time, or it gets 503.
    pub request_timeout: Duration,
    /// Where people reach the panel (`PINPANEL_PUBLIC_URL`): the origin of passkeys, the base
    /// of links in mail.
    pub public_url: Option<url::Url>,
    /// The roles that must set up two-step login.
    pub require_two_step: Vec<crate::domain::Role>,
    /// Password checks that may wait per hashing permit before a check is refused with 503
    /// (one bound per process).
    pub hashing_queue: usize,
    /// How mail goes out (the worker of this process delivers the outbox).
    pub delivery: service::mail::Delivery,
    /// The sender of mail.
    pub mail_from: String,
    /// The API users' `RAX-AUTH:defaultRegion`.
    pub default_region: String,
    /// Where Prometheus metrics are served (`PINPANEL_METRICS_ADDR`); `None`: no metrics.
    pub metrics_addr: Option<SocketAddr>,
}

impl Default for ServeSettings {
    fn default() -> Self {
        ServeSettings {
            cookie_secure: true,
            reauth_secs: 15 * 60,
            idle_timeout_secs: 30 * 60,
            absolute_timeout_secs: 12 * 60 * 60,
            audit_retention_days: 400,
            trusted_proxies: TrustedProxies::default(),
            header_read_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
            public_url: None,
            require_two_step: vec![crate::domain::Role::Agent, crate::domain::Role::Admin],
            hashing_queue: service::password::MAX_WAITING,
            delivery: service::mail::Delivery::None,
            mail_from: "pinpanel <pinpanel@localhost>".into(),
            default_region: String::new(),
            metrics_addr: None,
        }
    }
}

/// A bound, ready-to-run application.
pub struct App {
    listener: TcpListener,
    router: Router,
    ctx: Ctx,
    header_read_timeout: Duration,
    delivery: service::mail::Delivery,
    /// The metrics listener and what it renders, when metrics are on.
    metrics: Option<(TcpListener, metrics_exporter_prometheus::PrometheusHandle)>,
}

impl App {
    /// Binds `addr` (port 0 picks a free port) and assembles the application; the use cases'
    /// share of `settings` goes into the context.
    pub async fn build(
        mut ctx: Ctx,
        csrf_key: [u8; 32],
        addr: SocketAddr,
        settings: &ServeSettings,
    ) -> anyhow::Result<App> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        {
            let service = Arc::make_mut(&mut ctx.settings);
            service.reauth_secs = settings.reauth_secs;
            service.audit_retention_days = settings.audit_retention_days;
            service.require_two_step = settings.require_two_step.clone();
            service.public_url = settings.public_url.clone();
            service.mail_from = settings.mail_from.clone();
            service.mail_sends = settings.delivery.sends();
            let bound = listener.local_addr()?;
            service.link_base = match &settings.public_url {
                Some(url) => url.clone(),
                None => url::Url::parse(&format!("http://{bound}/"))?,
            };
        }
        service::password::set_max_waiting(settings.hashing_queue);
        let metrics = match settings.metrics_addr {
            Some(at) => {
                let listener = TcpListener::bind(at)
                    .await
                    .with_context(|| format!("cannot listen for metrics on {at}"))?;
                let (recorder, handle) = crate::telemetry::prometheus()?;
                ctx.metrics = recorder;
                Some((listener, handle))
            }
            None => None,
        };
        ctx.passkeys = match &settings.public_url {
            Some(url) => Some(service::two_step::relying_party(url)?),
            None => None,
        };
        // The dummy hash for unknown usernames costs one argon2 run: compute it in the
        // background so the server answers at once (a login that needs it first just waits).
        tokio::spawn(async {
            if let Err(e) = crate::service::password::warm_up().await {
                tracing::warn!(error = %e, "computing the dummy password hash failed");
            }
        });
        let state = AppState {
            ctx: ctx.clone(),
            settings: Arc::new(Settings {
                csrf_key,
                idle_timeout_secs: settings.idle_timeout_secs,
                absolute_timeout_secs: settings.absolute_timeout_secs,
                cookie_secure: settings.cookie_secure,
                trusted_proxies: settings.trusted_proxies.clone(),
                request_timeout: settings.request_timeout,
                default_region: settings.default_region.clone(),
            }),
        };
        Ok(App {
            listener,
            router: app(state),
            ctx,
            header_read_timeout: settings.header_read_timeout,
            delivery: settings.delivery.clone(),
            metrics,
        })
    }

    /// Where metrics are served, when they are on.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics
            .as_ref()
            .and_then(|(listener, _)| listener.local_addr().ok())
    }

    /// The use cases' context the application runs with.
    pub fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves until `shutdown` resolves, then finishes the requests in flight.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let cleanup = tokio::spawn(cleanup_loop(self.ctx.clone()));
        let mail = tokio::spawn(service::mail::worker(self.ctx.clone(), self.delivery));
        let metrics = self.metrics.map(|(listener, handle)| {
            tokio::spawn(crate::telemetry::serve_metrics(
                listener,
                self.ctx.clone(),
                handle,
            ))
        });
        serve_connections(
            self.listener,
            self.router,
            self.header_read_timeout,
            shutdown,
        )
        .await;
        cleanup.abort();
        mail.abort();
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        Ok(())
    }
}

/// How long a graceful shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// The accept loop. `axum::serve` gives hyper no timer, so hyper's header-read timeout is off and
/// a client that sends its request head a byte a minute holds a connection for ever; here every
/// connection is HTTP/1 with a timer and `header_read_timeout` (which also bounds the idle wait
/// between keep-alive requests). Each connection is its own task, so hundreds of half-sent
/// requests cost a few kilobytes each and never stop others being served.
async fn serve_connections(
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    use axum::extract::ConnectInfo;
    use hyper::server::conn::http1;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;
    use tower::ServiceExt as _;

    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors, usually: back off instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.as_mut() => break,
        };
        let service = router.clone().map_request(
            move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            },
        );
        let conn = graceful
            .watch(http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {},
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("requests still in flight after the shutdown grace period");
        },
    }
}

/// Runs the housekeeping of `service::maintenance` now and then.
async fn cleanup_loop(ctx: Ctx) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tick.tick().await;
        if let Err(e) = service::maintenance::run(&ctx).await {
            tracing::warn!(error = %e, "housekeeping failed");
        }
    }
}

/// Where the static files are: `PINPANEL_STATIC_DIR`, else the `static/` folder of the source
/// tree this binary was built from.
fn static_dir() -> std::path::PathBuf {
    std::env::var_os("PINPANEL_STATIC_DIR")
        .map(Into::into)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/static").into())
}

/// The whole application: the panel, the API, health, static files, and the layers every
/// response passes through.
pub fn app(state: AppState) -> Router {
    let settings = &state.settings;
    let secure = settings.cookie_secure;
    let store = DbSessionStore::new(
        state.ctx.db.pool.clone(),
        web::session::USER_ID_KEY,
        web::session::PERSON_KEY,
    );
    let sessions = SessionManagerLayer::new(store)
        .with_name(web::session_cookie_name(secure))
        .with_secure(secure)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(time::Duration::seconds(
            settings.idle_timeout_secs,
        )));
    let statics = Router::new()
        .fallback_service(ServeDir::new(static_dir()).precompressed_gzip())
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ));
    let mut router = Router::new()
        .merge(web::router(state.clone(), sessions))
        .nest(API_PREFIX, crate::api::router())
        .route(web::urls::HEALTHZ, get(healthz))
        .route(web::urls::READYZ, get(readyz))
        .nest(web::urls::STATIC, statics)
        .fallback(not_found)
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::http::client::resolve,
        ))
        // A request that takes longer (a body sent a byte at a time, say) gets 503.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            settings.request_timeout,
        ))
        .layer(middleware::from_fn(readable_errors))
        // Counted and timed by route template, with the status the client gets.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::http::metrics::track,
        ))
        // Responses are personal and may carry secrets: nothing is cached unless it says so
        // (static files do).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .with_state(state);
    if secure {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        ));
    }
    with_security_headers(router)
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let RequestId(id) = RequestId::of(req.headers());
            let theirs = req
                .extensions()
                .get::<ClientRequestId>()
                .map_or("", |c| c.0.as_str());
            // The path only: no query string, no headers (cookies, tokens) in the logs.
            tracing::info_span!(
                "request",
                method = %req.method(),
                path = %loggable_path(req.uri().path()),
                request_id = %id,
                client_request_id = %theirs,
            )
        }))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(middleware::from_fn(set_aside_client_request_id))
        .layer(CatchPanicLayer::new())
}

/// A request id the client sent, kept apart from ours (and only in a safe, short form).
#[derive(Debug, Clone)]
struct ClientRequestId(String);

/// The request id is always our own: a client's `X-Request-Id` is removed before ours is set
/// (so it cannot forge or collide with the ids in our logs), and logged beside ours.
async fn set_aside_client_request_id(mut req: Request, next: Next) -> Response {
    if let Some(theirs) = req.headers_mut().remove(crate::http::request_id::HEADER) {
        let safe: String = String::from_utf8_lossy(theirs.as_bytes())
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .take(64)
            .collect();
        req.extensions_mut().insert(ClientRequestId(safe));
    }
    next.run(req).await
}

/// The headers every response carries: a strict CSP (no inline scripts or styles, no eval, no
/// framing), no MIME sniffing, no referrer, no opener, no powerful features.
fn with_security_headers(mut router: Router) -> Router {
    let headers: [(HeaderName, &'static str); 6] = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; object-src 'none'; base-uri 'none'; \
             frame-ancestors 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=(), payment=()",
        ),
    ];
    for (name, value) in headers {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ));
    }
    router
}

/// The request path as it may be logged: some paths carry a secret (`/v2.0/tokens/{token}`, as
/// the provider's API has it; the one-time links of invitations, password links and the first
/// start), which must not reach a log line.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    let tokens = format!("{API_PREFIX}/tokens/");
    let secret_routes = [
        tokens.as_str(),
        web::urls::INVITATION.trim_end_matches("{token}"),
        web::urls::RESET_PASSWORD.trim_end_matches("{token}"),
        web::urls::SETUP.trim_end_matches("{token}"),
    ];
    for prefix in secret_routes {
        if let Some(rest) = path.strip_prefix(prefix) {
            if !rest.is_empty() {
                return format!("{prefix}<redacted>").into();
            }
        }
    }
    path.into()
}

async fn healthz(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    match crate::service::health::database(&state.ctx).await {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response()
        }
    }
}

/// Readiness for load balancers: the database answers and the mail worker runs (or mail is
/// not configured). One line per check, `503` when one fails.
async fn readyz(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    use crate::service::health::Worker;
    let r = crate::service::health::readiness(&state.ctx).await;
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

async fn not_found() -> StatusCode {
    StatusCode::NOT_FOUND
}

/// Gives bodiless errors the panel's error pages, or the API's JSON shape under its prefix.
async fn readable_errors(req: Request, next: Next) -> Response {
    let render = if req.uri().path().starts_with(API_PREFIX) {
        crate::api::render_error
    } else {
        web::error::render
    };
    fill_bodies(req, next, render).await
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn paths_with_a_secret_are_logged_without_it() {
        assert_eq!(loggable_path("/v2.0/tokens/abc"), "/v2.0/tokens/<redacted>");
        assert_eq!(loggable_path("/invitation/abc"), "/invitation/<redacted>");
        assert_eq!(
            loggable_path("/password/reset/abc"),
            "/password/reset/<redacted>"
        );
        assert_eq!(loggable_path("/setup/abc"), "/setup/<redacted>");
        assert_eq!(loggable_path("/v2.0/tokens"), "/v2.0/tokens");
        assert_eq!(loggable_path("/profile"), "/profile");
    }
}
