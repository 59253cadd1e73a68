//! The whole application's router: the panel, the API, the probes and the static files, behind
//! the layers every response passes through (security headers, request ids, timeouts, limits,
//! compression, the readable error bodies).

use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use tower::util::MapRequestLayer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::http::headers::DefaultHeadersLayer;
use crate::http::request_id::RequestId;
use crate::http::{errors::fill_bodies, health, AppState, API_PREFIX, BODY_LIMIT};
use crate::store::sessions::DbSessionStore;
use crate::web;

/// The whole application: the panel, the API, health, static files, and the layers every
/// response passes through.
pub fn app(state: AppState) -> Router {
    let form_targets = state
        .ctx
        .sso
        .as_ref()
        .map(|s| s.provider.form_origins())
        .unwrap_or_default();
    let settings = &state.settings;
    let secure = settings.cookie_secure;
    let store = DbSessionStore::new(
        state.ctx.db.pool.clone(),
        web::session::USER_ID_KEY,
        web::session::PERSON_KEY,
    );
    let sessions = SessionManagerLayer::new(store)
        .with_name(web::cookies::PanelCookie::Session.name(secure))
        .with_secure(secure)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(time::Duration::seconds(
            settings.idle_timeout_secs,
        )));
    // The API reads small bodies (the panel sets its own limits: one of its forms takes a
    // file); an identity system's may be larger.
    let small_bodies = Router::new()
        .nest(API_PREFIX, crate::api::router())
        .route(web::urls::HEALTHZ, get(health::healthz))
        .route(web::urls::READYZ, get(health::readyz))
        .route(web::urls::STATIC_FILE, get(crate::http::assets::serve))
        .fallback(not_found)
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT));
    let provisioning = Router::new()
        .nest(crate::scim::PREFIX, crate::scim::router())
        .layer(RequestBodyLimitLayer::new(crate::scim::BODY_LIMIT));
    let mut router = Router::new()
        .merge(web::router(state.clone(), sessions))
        .merge(small_bodies)
        .merge(provisioning)
        .layer(MapRequestLayer::new({
            let state = state.clone();
            move |req: Request| crate::http::client::resolve(&state, req)
        }))
        // A request that takes longer (a body sent a byte at a time, say) gets 503.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            settings.request_timeout,
        ))
        .layer(middleware::from_fn(readable_errors));
    // Counted and timed by route template, with the status the client gets, when metrics are on
    // (a layer only then: every middleware is work on every request).
    if state.ctx.metrics.is_on() {
        router = router.layer(middleware::from_fn_with_state(
            state.clone(),
            crate::http::metrics::track,
        ));
    }
    router
        .with_state(state)
        .layer(DefaultHeadersLayer::new(default_headers(
            secure,
            &form_targets,
        )))
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
        .layer(MapRequestLayer::new(set_aside_client_request_id))
        .layer(CatchPanicLayer::new())
}

/// A request id the client sent, kept apart from ours (and only in a safe, short form).
#[derive(Debug, Clone)]
struct ClientRequestId(String);

/// The request id is always our own: a client's `X-Request-Id` is removed before ours is set
/// (so it cannot forge or collide with the ids in our logs), and logged beside ours.
fn set_aside_client_request_id(mut req: Request) -> Request {
    if let Some(theirs) = req.headers_mut().remove(crate::http::request_id::HEADER) {
        let safe: String = String::from_utf8_lossy(theirs.as_bytes())
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .take(64)
            .collect();
        req.extensions_mut().insert(ClientRequestId(safe));
    }
    req
}

/// The headers every response carries unless it set its own: responses are personal and may
/// carry secrets, so nothing is cached unless it says so (static files do); a strict CSP (no
/// inline scripts or styles, no eval, no framing; forms post here, or redirect to
/// `form_targets`, the single sign-on provider's origins), no MIME sniffing, no referrer, no
/// opener, no powerful features; HSTS when cookies are marked secure (served over HTTPS).
fn default_headers(secure: bool, form_targets: &[String]) -> Vec<(HeaderName, HeaderValue)> {
    let csp = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self'{}; object-src 'none'; base-uri 'none'; \
         frame-ancestors 'none'",
        form_targets
            .iter()
            .map(|o| format!(" {o}"))
            .collect::<String>()
    );
    // Origins are ASCII; were one not, the policy would go without it, never without a policy.
    let csp = HeaderValue::from_str(&csp).unwrap_or_else(|_| {
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; object-src 'none'; base-uri 'none'; \
             frame-ancestors 'none'",
        )
    });
    let mut headers = vec![
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::CONTENT_SECURITY_POLICY, csp),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
        (
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
        ),
    ];
    if secure {
        headers.push((
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        ));
    }
    headers
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
        web::urls::EMAIL_CONFIRM_LINK.trim_end_matches("{token}"),
        web::urls::EMAIL_ANSWER_LINK.trim_end_matches("{token}"),
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

async fn not_found() -> StatusCode {
    StatusCode::NOT_FOUND
}

/// Gives bodiless errors the panel's error pages, or the API's JSON shape under its prefix.
async fn readable_errors(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let render = if path.starts_with(API_PREFIX) {
        crate::api::render_error
    } else if path
        .strip_prefix(crate::scim::PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    {
        crate::scim::render_error
    } else {
        web::error::render
    };
    fill_bodies(req, next, render).await
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
