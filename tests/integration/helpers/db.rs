//! A test's database: a fresh one per test (a SQLite temp file, or a uniquely named PostgreSQL
//! database dropped afterwards), connections outside any app, and numbers read from it.

use std::net::SocketAddr;

use super::backends::{postgres_base_url, Backend};

/// A database for one test, removed when dropped.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    pub(super) _dir: Option<tempfile::TempDir>,
    pub(super) pg: Option<(String, String)>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite:{}", dir.path().join("pinpanel.db").display());
                Some(TestDb {
                    url,
                    backend,
                    _dir: Some(dir),
                    pg: None,
                })
            }
            Backend::Postgres => {
                let base = postgres_base_url()?;
                let name = format!("pinpanel_test_{}", uuid::Uuid::new_v4().simple());
                sqlx::any::install_default_drivers();
                let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&base)
                    .await
                    .expect("connect to PINPANEL_TEST_POSTGRES_URL");
                sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str())
                    .await
                    .expect("create the test database");
                let url = replace_database(&base, &name);
                Some(TestDb {
                    url,
                    backend,
                    _dir: None,
                    pg: Some((base, name)),
                })
            }
        }
    }
}

impl TestDb {
    /// The same database reached at `addr` (a proxy in front of PostgreSQL); it still drops the
    /// database when it goes.
    pub fn through(mut self, addr: SocketAddr) -> TestDb {
        let mut url = url::Url::parse(&self.url).expect("a URL");
        url.set_host(Some(&addr.ip().to_string())).expect("a host");
        url.set_port(Some(addr.port())).expect("a port");
        self.url = url.to_string();
        self
    }
}

/// `postgres://u@h:p/db?x` with `db` replaced.
fn replace_database(base: &str, name: &str) -> String {
    let mut url = url::Url::parse(base).expect("a valid PostgreSQL URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, name)) = self.pg.take() {
            // Drop runs inside the test's runtime, which cannot block: use a thread of its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async {
                    if let Ok(mut conn) =
                        <sqlx::AnyConnection as sqlx::Connection>::connect(&base).await
                    {
                        let _ = sqlx::Executor::execute(
                            &mut conn,
                            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str(),
                        )
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

/// One connection to a test database, outside any running app (to hold a lock, say).
pub async fn connect_one(url: &str) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    <sqlx::AnyConnection as sqlx::Connection>::connect(url)
        .await
        .expect("connect to the test database")
}

/// A pool on a test database, outside any running app.
pub async fn connect(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(url)
        .await
        .expect("connect to the test database")
}

/// The statement of one of `backend`'s migrations (`name`, like `0011_history`) that begins
/// with `start`, up to its `;`: a backfill, run again by a test on rows it wrote itself.
pub fn migration_statement(backend: Backend, name: &str, start: &str) -> String {
    let folder = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let path = format!(
        "{}/migrations/{folder}/{name}.sql",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let at = text
        .find(start)
        .unwrap_or_else(|| panic!("{path} has no {start:?}"));
    let end = at + text[at..].find(';').expect("a statement ends with ;");
    text[at..end].to_owned()
}

/// The number `sql` selects (a `COUNT(*)`, a `MAX`, an id: one `BIGINT`) from `pool`.
pub async fn count(pool: &sqlx::AnyPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

impl TestDb {
    /// [`count`] on a connection of its own, closed before it returns (for a database no app
    /// holds, while commands run on it).
    pub async fn count(&self, sql: &str) -> i64 {
        let pool = connect(&self.url).await;
        let n = count(&pool, sql).await;
        pool.close().await;
        n
    }
}
