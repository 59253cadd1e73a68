//! Serving: the settings of `serve`, [`App::build`] (binding the address and making the
//! instance's context once, from complete settings), and the accept loop with its timeouts and
//! graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;

use super::open::Opened;
use crate::http::client::TrustedProxies;
use crate::http::{self, AppState, Settings};
use crate::service::{self, defaults, Ctx};
use crate::web::urls;

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
    /// Verifications one agent may make per minute.
    pub verify_limit: i64,
    /// Token requests one client address may make per minute.
    pub token_limit: i64,
    /// Single sign-on (`PINPANEL_OIDC_*`), when configured.
    pub sso: Option<service::sso::Config>,
    /// How long an instance holds a browser import before another may resume it.
    pub import_lease_secs: i64,
}

impl Default for ServeSettings {
    /// The defaults of `service::defaults` and `http::defaults`, as the command line has them.
    fn default() -> Self {
        ServeSettings {
            cookie_secure: http::defaults::COOKIE_SECURE,
            reauth_secs: i64::from(defaults::REAUTH_MINUTES) * 60,
            idle_timeout_secs: i64::from(http::defaults::IDLE_TIMEOUT_MINUTES) * 60,
            absolute_timeout_secs: i64::from(http::defaults::ABSOLUTE_TIMEOUT_HOURS) * 3600,
            audit_retention_days: defaults::AUDIT_RETENTION_DAYS,
            trusted_proxies: TrustedProxies::default(),
            header_read_timeout: http::defaults::HEADER_READ_TIMEOUT,
            request_timeout: http::defaults::REQUEST_TIMEOUT,
            public_url: None,
            require_two_step: defaults::REQUIRE_TWO_STEP.to_vec(),
            hashing_queue: service::hashing::MAX_WAITING,
            delivery: service::mail::Delivery::None,
            mail_from: defaults::MAIL_FROM.into(),
            default_region: String::new(),
            metrics_addr: None,
            verify_limit: defaults::VERIFY_LIMIT,
            token_limit: defaults::TOKEN_LIMIT,
            sso: None,
            import_lease_secs: service::defaults::IMPORT_LEASE_SECS,
        }
    }
}

impl ServeSettings {
    /// The use cases' part of these settings, written once for `serve` and the commands that
    /// queue mail (`import`, `mail test`). One-time links are based at the public URL, else at
    /// `listening` (where this instance answers); with neither, no link could be followed, so
    /// no mail is sent.
    pub fn use_cases(&self, listening: Option<SocketAddr>) -> anyhow::Result<service::Settings> {
        let link_base = match (&self.public_url, listening) {
            (Some(url), _) => Some(url.clone()),
            (None, Some(at)) => Some(url::Url::parse(&format!("http://{at}/"))?),
            (None, None) => None,
        };
        Ok(service::Settings {
            require_two_step: self.require_two_step.clone(),
            reauth_secs: self.reauth_secs,
            audit_retention_days: self.audit_retention_days,
            public_url: self.public_url.clone(),
            mail_from: self.mail_from.clone(),
            mail_sends: self.delivery.sends() && link_base.is_some(),
            link_base: link_base.unwrap_or_else(|| service::Settings::default().link_base),
            link_routes: service::LinkRoutes {
                invitation: urls::INVITATION,
                password: urls::RESET_PASSWORD,
                setup: urls::SETUP,
                email_confirm: urls::EMAIL_CONFIRM_LINK,
                email_answer: urls::EMAIL_ANSWER_LINK,
            },
            import_lease_secs: self.import_lease_secs,
        })
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
    /// Binds `addr` (port 0 picks a free port) and assembles the application: the instance's
    /// context is made here, once, from `opened` and the complete `settings`.
    pub async fn build(
        opened: Opened,
        addr: SocketAddr,
        settings: &ServeSettings,
    ) -> anyhow::Result<App> {
        check_public_url(settings)?;
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let bound = listener.local_addr()?;
        let (recorder, metrics) = match settings.metrics_addr {
            Some(at) => {
                let listener = TcpListener::bind(at)
                    .await
                    .with_context(|| format!("cannot listen for metrics on {at}"))?;
                let (recorder, handle) = crate::telemetry::prometheus()?;
                (recorder, Some((listener, handle)))
            }
            None => (service::metrics::Metrics::default(), None),
        };
        let sso = match (&settings.sso, &settings.public_url) {
            (None, _) => None,
            (Some(_), None) => anyhow::bail!(
                "single sign-on (PINPANEL_OIDC_ISSUER) needs PINPANEL_PUBLIC_URL: the provider \
                 sends people back to it"
            ),
            (Some(config), Some(public)) => {
                let redirect = public.join(urls::SSO_CALLBACK)?;
                let sso = service::sso::Sso::start(config.clone(), redirect).await?;
                Some(Arc::new(sso))
            }
        };
        let ctx = opened.context(
            settings.use_cases(Some(bound))?,
            service::Instance {
                limits: service::limits::Limits::per_minute(
                    settings.verify_limit,
                    settings.token_limit,
                ),
                metrics: recorder,
                hashing_queue: settings.hashing_queue,
                sso,
            },
        )?;
        // The dummy hash for unknown usernames costs one argon2 run: compute it in the
        // background so the server answers at once (a login that needs it first just waits).
        let line = ctx.hashing.clone();
        tokio::spawn(async move {
            if let Err(e) = service::hashing::warm_up(&line).await {
                tracing::warn!(error = %e, "computing the dummy password hash failed");
            }
        });
        let state = AppState::new(
            ctx.clone(),
            Settings {
                csrf_key: opened.csrf_key,
                idle_timeout_secs: settings.idle_timeout_secs,
                absolute_timeout_secs: settings.absolute_timeout_secs,
                cookie_secure: settings.cookie_secure,
                trusted_proxies: settings.trusted_proxies.clone(),
                request_timeout: settings.request_timeout,
                default_region: settings.default_region.clone(),
            },
        );
        Ok(App {
            listener,
            router: super::router::app(state),
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
        crate::http::assets::warm();
        let cleanup = tokio::spawn(cleanup_loop(self.ctx.clone()));
        let mail = tokio::spawn(service::mail::worker::worker(
            self.ctx.clone(),
            self.delivery,
        ));
        let imports = tokio::spawn(service::import::jobs::worker(self.ctx.clone()));
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
        imports.abort();
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        Ok(())
    }
}

/// Links in mail (and passkeys) need the address people use, over HTTPS: with SMTP configured
/// there must be a public URL, and a public URL must be `https://` unless its host is this
/// machine (`localhost`, a loopback address), where plain HTTP stays on the machine.
fn check_public_url(settings: &ServeSettings) -> anyhow::Result<()> {
    match &settings.public_url {
        None if settings.delivery.sends() => anyhow::bail!(
            "mail is configured (PINPANEL_SMTP_URL) but PINPANEL_PUBLIC_URL is not: links in mail \
             would point at this server's own address over plain HTTP; set PINPANEL_PUBLIC_URL to \
             the https:// address people use"
        ),
        Some(url) if url.scheme() != "https" && !is_loopback(url) => anyhow::bail!(
            "PINPANEL_PUBLIC_URL must be https:// (plain http only for localhost or a loopback \
             address), got {url}"
        ),
        _ => Ok(()),
    }
}

/// Does `url` name this machine?
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
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
        // A response written in two parts must not wait for the client's delayed ACK (Nagle):
        // without this every static file on a kept-alive connection stalled about 40 ms.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY could not be set");
        }
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
        let started = std::time::Instant::now();
        match service::maintenance::run(&ctx).await {
            Ok(removed) => tracing::info!(
                audit_rows = removed.audit_rows,
                sessions = removed.sessions,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "housekeeping done"
            ),
            Err(e) => tracing::warn!(error = %e, "housekeeping failed"),
        }
    }
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
