//! Which database a case runs on: `dual!`, the one way a case runs on SQLite and, when it is
//! configured, on PostgreSQL.

use std::sync::atomic::{AtomicBool, Ordering};

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

/// The base URL of the PostgreSQL server for tests, or `None` (after saying why) when tests
/// should skip it. With `PINPANEL_REQUIRE_POSTGRES=1` a missing server is a failure.
pub fn postgres_base_url() -> Option<String> {
    static SAID: AtomicBool = AtomicBool::new(false);
    match std::env::var("PINPANEL_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("PINPANEL_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("PINPANEL_REQUIRE_POSTGRES=1 but PINPANEL_TEST_POSTGRES_URL is not set");
            }
            if !SAID.swap(true, Ordering::Relaxed) {
                eprintln!(
                    "skipping the PostgreSQL runs: set PINPANEL_TEST_POSTGRES_URL \
                     (e.g. postgres://postgres@127.0.0.1:5432/test) to run them"
                );
            }
            None
        }
    }
}
