//! What an instance counts for Prometheus, named in one place. Use cases record their outcomes
//! here as they happen (a lock is counted by the verification that locked it, on the instance
//! that served it), so summing over instances gives the installation's totals; the gauges (the
//! outbox, the pool) are read when scraped.
//!
//! No label ever holds a username, an id, an address, a token or a PIN: labels are route
//! templates, methods, status codes, outcomes and limit names, all from fixed sets.
//!
//! The recorder belongs to the instance (`Metrics::new`), not to the process, so two servers in
//! one process (the tests) count apart. Without one (`Metrics::default`, metrics off) every
//! call is a no-op.

use std::sync::Arc;
use std::time::Duration;

use metrics::{counter, gauge, histogram, Recorder};

use super::Ctx;

/// Where this instance's measurements go.
#[derive(Clone, Default)]
pub struct Metrics(Option<Arc<dyn Recorder + Send + Sync>>);

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Metrics(on)"
        } else {
            "Metrics(off)"
        })
    }
}

/// Names and help texts of every metric, for the exporter to describe.
pub const DESCRIPTIONS: &[(&str, &str)] = &[
    (
        HTTP_REQUESTS,
        "HTTP requests answered, by route template, method and status.",
    ),
    (
        HTTP_DURATION,
        "Time to answer an HTTP request, by route template and method.",
    ),
    (LOGINS, "Logins (web and API) by outcome."),
    (VERIFICATIONS, "Support PIN verifications by outcome."),
    (LOCKS, "Support PINs locked by failed verifications."),
    (UNLOCKS, "Support PINs unlocked."),
    (RESETS, "Support PINs reset by an administrator."),
    (THROTTLED, "Requests refused by a rate limit, by limit."),
    (MAIL_SENT, "Messages the SMTP server accepted."),
    (
        MAIL_FAILURES,
        "Failed delivery attempts (retried later, or given up).",
    ),
    (
        MAIL_GIVEN_UP,
        "Messages given up after failing for too long.",
    ),
    (OUTBOX_DEPTH, "Messages waiting in the outbox."),
    (
        OUTBOX_FAILED,
        "Messages given up and kept in the outbox for the Users page.",
    ),
    (POOL_IN_USE, "Database connections in use."),
    (POOL_IDLE, "Database connections open and idle."),
    (BUILD_INFO, "The version of pinpanel running (always 1)."),
];

pub const HTTP_REQUESTS: &str = "pinpanel_http_requests_total";
pub const HTTP_DURATION: &str = "pinpanel_http_request_duration_seconds";
pub const LOGINS: &str = "pinpanel_logins_total";
pub const VERIFICATIONS: &str = "pinpanel_pin_verifications_total";
pub const LOCKS: &str = "pinpanel_pin_locks_total";
pub const UNLOCKS: &str = "pinpanel_pin_unlocks_total";
pub const RESETS: &str = "pinpanel_pin_resets_total";
pub const THROTTLED: &str = "pinpanel_throttled_total";
pub const MAIL_SENT: &str = "pinpanel_mail_sent_total";
pub const MAIL_FAILURES: &str = "pinpanel_mail_failures_total";
pub const MAIL_GIVEN_UP: &str = "pinpanel_mail_given_up_total";
pub const OUTBOX_DEPTH: &str = "pinpanel_mail_outbox_depth";
pub const OUTBOX_FAILED: &str = "pinpanel_mail_outbox_failed";
pub const POOL_IN_USE: &str = "pinpanel_db_connections_in_use";
pub const POOL_IDLE: &str = "pinpanel_db_connections_idle";
pub const BUILD_INFO: &str = "pinpanel_build_info";

/// The buckets of the latency histogram, in seconds.
pub const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How a step of a login ended. A login with two-step counts twice: its password, then its
/// second step.
#[derive(Debug, Clone, Copy)]
pub enum Login {
    /// The username and password were right.
    Success,
    /// A wrong username or password (not told apart, here either).
    Failure,
    /// Refused by a limit before the password was checked.
    Throttled,
    /// A right second-factor code, recovery code or passkey.
    SecondStepSuccess,
    /// A wrong second-factor code or passkey.
    SecondStepFailure,
}

impl Login {
    const ALL: [Login; 5] = [
        Login::Success,
        Login::Failure,
        Login::Throttled,
        Login::SecondStepSuccess,
        Login::SecondStepFailure,
    ];

    fn label(self) -> &'static str {
        match self {
            Login::Success => "success",
            Login::Failure => "failure",
            Login::Throttled => "throttled",
            Login::SecondStepSuccess => "second_step_success",
            Login::SecondStepFailure => "second_step_failure",
        }
    }
}

/// How a Support PIN verification ended.
#[derive(Debug, Clone, Copy)]
pub enum Verification {
    Verified,
    Incorrect,
    Locked,
    NoPin,
    Disabled,
    Throttled,
}

impl Verification {
    const ALL: [Verification; 6] = [
        Verification::Verified,
        Verification::Incorrect,
        Verification::Locked,
        Verification::NoPin,
        Verification::Disabled,
        Verification::Throttled,
    ];

    fn label(self) -> &'static str {
        match self {
            Verification::Verified => "verified",
            Verification::Incorrect => "incorrect",
            Verification::Locked => "locked",
            Verification::NoPin => "no_pin",
            Verification::Disabled => "disabled",
            Verification::Throttled => "throttled",
        }
    }
}

impl Metrics {
    pub fn new(recorder: Arc<dyn Recorder + Send + Sync>) -> Self {
        Metrics(Some(recorder))
    }

    /// Makes every counter without free labels exist at 0, so a dashboard's `rate()` has a
    /// series from the first scrape (Prometheus's advice), not from the first event.
    pub fn start_at_zero(&self) {
        self.with(|| {
            for name in [
                LOCKS,
                UNLOCKS,
                RESETS,
                MAIL_SENT,
                MAIL_FAILURES,
                MAIL_GIVEN_UP,
            ] {
                counter!(name).absolute(0);
            }
            for outcome in Verification::ALL {
                counter!(VERIFICATIONS, "outcome" => outcome.label()).absolute(0);
            }
            for outcome in Login::ALL {
                counter!(LOGINS, "outcome" => outcome.label()).absolute(0);
            }
        });
    }

    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// Runs `f` with this instance's recorder (the `metrics` macros inside it record there).
    pub fn with<T: Default>(&self, f: impl FnOnce() -> T) -> T {
        match &self.0 {
            Some(r) => metrics::with_local_recorder(r.as_ref(), f),
            None => T::default(),
        }
    }

    /// One HTTP request answered: its route template (never the path itself, which holds ids).
    pub fn http_request(&self, route: &str, method: &str, status: u16, took: Duration) {
        self.with(|| {
            let (route, method) = (route.to_owned(), method.to_owned());
            counter!(HTTP_REQUESTS, "route" => route.clone(), "method" => method.clone(),
                "status" => status.to_string())
            .increment(1);
            histogram!(HTTP_DURATION, "route" => route, "method" => method).record(took);
        });
    }

    pub fn login(&self, outcome: Login) {
        self.with(|| counter!(LOGINS, "outcome" => outcome.label()).increment(1));
    }

    pub fn verification(&self, outcome: Verification) {
        self.with(|| counter!(VERIFICATIONS, "outcome" => outcome.label()).increment(1));
    }

    pub fn lock(&self) {
        self.with(|| counter!(LOCKS).increment(1));
    }

    pub fn unlock(&self) {
        self.with(|| counter!(UNLOCKS).increment(1));
    }

    pub fn reset(&self) {
        self.with(|| counter!(RESETS).increment(1));
    }

    /// A request refused by `limit` (its name, e.g. `verify:agent`; never who was counted).
    pub fn throttled(&self, limit: &'static str) {
        self.with(|| counter!(THROTTLED, "limit" => limit).increment(1));
    }

    pub fn mail_sent(&self) {
        self.with(|| counter!(MAIL_SENT).increment(1));
    }

    /// A failed delivery attempt; `given_up` when it was the last.
    pub fn mail_failed(&self, given_up: bool) {
        self.with(|| {
            counter!(MAIL_FAILURES).increment(1);
            if given_up {
                counter!(MAIL_GIVEN_UP).increment(1);
            }
        });
    }
}

/// Reads the gauges (the outbox, the pool, the build) into the recorder; called before each
/// scrape.
pub async fn sample(ctx: &Ctx) -> super::Result<()> {
    if !ctx.metrics.is_on() {
        return Ok(());
    }
    let (waiting, failed) = crate::store::outbox::depth(&ctx.db.pool).await?;
    let pool = &ctx.db.pool;
    let (size, idle) = (pool.size(), pool.num_idle() as u32);
    ctx.metrics.with(|| {
        gauge!(OUTBOX_DEPTH).set(waiting as f64);
        gauge!(OUTBOX_FAILED).set(failed as f64);
        gauge!(POOL_IN_USE).set(size.saturating_sub(idle) as f64);
        gauge!(POOL_IDLE).set(idle as f64);
        gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    });
    Ok(())
}
