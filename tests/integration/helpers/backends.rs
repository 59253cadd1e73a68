//! Which database a case runs on: `dual!`, the one way a case runs on SQLite and, when it is
//! configured, on PostgreSQL; a run without PostgreSQL says at its end how many halves it
//! skipped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

use super::tools::tool_here;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The one way a case runs on both backends: on SQLite, and on PostgreSQL when it is
/// configured (see [`postgres_base_url`]).
///
/// - `dual!(name, …)` turns `async fn name(app: TestApp)` into `name::sqlite` and
///   `name::postgres`, each with a fresh app;
/// - `dual!(backend: name, …)` does the same for `async fn name(backend: Backend)`, for cases
///   that start their own servers, processes or browsers.
#[macro_export]
macro_rules! dual {
    (backend: $($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    if $crate::helpers::postgres_base_url().is_some() {
                        super::$name($crate::helpers::Backend::Postgres).await
                    }
                }
            }
        )*
    };
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    let app = $crate::helpers::spawn_app($crate::helpers::Backend::Sqlite)
                        .await
                        .expect("SQLite is always available");
                    super::$name(app).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    if let Some(app) = $crate::helpers::spawn_app($crate::helpers::Backend::Postgres).await {
                        super::$name(app).await
                    }
                }
            }
        )*
    };
}

/// The base URL of the PostgreSQL server for tests, or `None` when tests should skip it: each
/// `None` is one PostgreSQL half skipped (ask once per test), counted for the run's last line.
/// With `PINPANEL_REQUIRE_POSTGRES=1` a missing server is a failure.
pub fn postgres_base_url() -> Option<String> {
    match std::env::var("PINPANEL_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            tool_here(
                false,
                "PINPANEL_REQUIRE_POSTGRES",
                "PINPANEL_TEST_POSTGRES_URL is not set",
            );
            skipped_a_postgres_half();
            None
        }
    }
}

/// PostgreSQL halves skipped in this run (each one a test that passed without running).
static SKIPPED: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" {
    /// The C library's: `callback` runs when the process exits, after libtest's summary.
    fn atexit(callback: extern "C" fn()) -> std::ffi::c_int;
}

/// Counts a skipped half; the first one arranges for the count to be said at exit (a skipped
/// test's own output is captured, and libtest has no hook for the end of a run).
fn skipped_a_postgres_half() {
    static AT_EXIT: Once = Once::new();
    SKIPPED.fetch_add(1, Ordering::SeqCst);
    AT_EXIT.call_once(|| {
        // SAFETY: `say_what_was_skipped` is a plain function that lives as long as the process.
        let registered = unsafe { atexit(say_what_was_skipped) };
        assert_eq!(registered, 0, "atexit");
    });
}

/// Says how many PostgreSQL halves the run skipped, so that a green run without PostgreSQL
/// does not read as every test having run.
extern "C" fn say_what_was_skipped() {
    let n = SKIPPED.load(Ordering::SeqCst);
    eprintln!(
        "\nskipped {n} PostgreSQL {} (counted as passed above): set \
         PINPANEL_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run them",
        if n == 1 { "half" } else { "halves" }
    );
}
