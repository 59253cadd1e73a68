//! Database access for both backends. The application talks to SQLite and PostgreSQL through
//! sqlx's `Any` driver with `$1` placeholders, so every query is written once; the two schemas
//! live in `migrations/sqlite` and `migrations/postgres`. Times are unix seconds, flags 0/1.
//!
//! Nothing here decides who may do what: that is `service`'s job. Functions that must be atomic
//! with others take a `&mut AnyConnection` so the caller can pass a transaction.

pub mod accounts;
pub mod alarms;
pub mod audit;
pub mod bulk;
pub mod email_changes;
pub mod imports;
pub mod links;
pub mod outbox;
pub mod pins;
pub mod rekey;
pub mod scim;
pub mod sessions;
pub mod settings;
pub mod sql;
pub mod sso;
pub mod throttle;
pub mod tokens;
pub mod two_step;
pub mod users;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};

/// Which database engine a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            anyhow::bail!(
                "DATABASE_URL must start with sqlite: or postgres:// (got something else)"
            )
        }
    }
}

/// A connection, or a transaction (which derefs to one): what functions that must be atomic
/// with others take, so the caller decides the transaction.
pub type Tx = sqlx::AnyConnection;
/// What a statement fails with.
pub type Error = sqlx::Error;
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A connection pool and the backend behind it. Only the store looks at the backend: the layers
/// above ask it what they need to know ([`Db::writes_in_parallel`]).
#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    backend: Backend,
}

/// Options for [`Db::connect`].
#[derive(Debug, Clone, Default)]
pub struct DbOptions {
    /// The pool size; `None` picks one for the backend: SQLite has one writer and readers that
    /// share the machine's cores (each connection also keeps its own page cache), PostgreSQL
    /// does the work in its own processes.
    pub max_connections: Option<u32>,
    /// How long a SQLite statement waits for the database's writer before it fails (and the
    /// request is answered "try again in a moment"); `None` is 15 seconds.
    pub busy_timeout: Option<Duration>,
}

/// The path of the SQLite file a `sqlite:` URL names, or `None` for in-memory databases.
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        None
    } else {
        Some(std::path::PathBuf::from(path))
    }
}

impl Db {
    /// Connects, creating a missing SQLite file, and sets SQLite up for many concurrent
    /// requests: WAL (readers never wait for the writer), a generous busy timeout (writers queue
    /// instead of failing with "database is locked"), foreign keys on.
    pub async fn connect(url: &str, options: &DbOptions) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        let max_connections = options.max_connections.unwrap_or(match backend {
            Backend::Sqlite => 8,
            // Measured on 2 cores with the database on the same machine: 4 to 16 connections
            // serve alike, 32 is slower (docs/PERFORMANCE.md). A database across a network
            // wants more in flight, so this grows with the cores, never below 8.
            Backend::Postgres => {
                std::thread::available_parallelism().map_or(8, |n| (4 * n.get() as u32).max(8))
            }
        });
        // No round trip to test a connection before each use (sqlx's default): a broken
        // connection fails its statement and is dropped, and the pool opens another.
        let mut pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .min_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(10));
        if backend == Backend::Sqlite {
            let busy_ms = options
                .busy_timeout
                .unwrap_or(Duration::from_secs(15))
                .as_millis();
            pool = pool.after_connect(move |conn, _meta| {
                Box::pin(async move {
                    conn.execute(
                        format!(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA busy_timeout = {busy_ms}; PRAGMA foreign_keys = ON;"
                        )
                        .as_str(),
                    )
                    .await?;
                    Ok(())
                })
            });
        }
        let pool = pool
            .connect(&url)
            .await
            .with_context(|| format!("cannot open the {backend:?} database"))?;
        Ok(Db { pool, backend })
    }

    /// Which engine this is (for the command line's backup, which differs by engine).
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Can writers run side by side (PostgreSQL's row locks), or does every write queue for the
    /// database's one writer (SQLite)? Work that writes several rows is cheaper in a few
    /// separate statements in the first case, and in one short transaction in the second.
    pub fn writes_in_parallel(&self) -> bool {
        self.backend == Backend::Postgres
    }

    /// Begins a transaction on a connection of the pool.
    pub async fn begin(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Any>> {
        match self.backend {
            // SQLite's plain BEGIN reads first and takes the writer's lock at the first write;
            // if another transaction committed in between, that write fails at once
            // (SQLITE_BUSY: a 500 under concurrent requests). IMMEDIATE takes the lock when the
            // transaction begins, waiting (busy_timeout) for the writer before it instead.
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// Applies the migrations of this backend that have not run yet.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("migrations/postgres"),
        };
        migrator
            .run(&self.pool)
            .await
            .context("cannot apply the database migrations")?;
        Ok(())
    }
}

/// A trivial round trip: is the database there?
pub async fn ping(pool: &AnyPool) -> sqlx::Result<()> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}

/// SQLite: a consistent copy of the whole database into the empty file at `path`
/// (`VACUUM INTO` reads in one transaction, so writers carry on and the copy is one moment).
pub async fn copy_sqlite_into(pool: &AnyPool, path: &str) -> sqlx::Result<()> {
    sqlx::query("VACUUM INTO $1")
        .bind(path)
        .execute(pool)
        .await?;
    Ok(())
}

/// SQLite's `PRAGMA integrity_check` of the database file at `path` (attached for the
/// check, which only reads it): `ok`, or what is wrong.
pub async fn integrity_check_of(pool: &AnyPool, path: &str) -> sqlx::Result<String> {
    let mut conn = pool.acquire().await?;
    sqlx::query("ATTACH DATABASE $1 AS copy")
        .bind(path)
        .execute(&mut *conn)
        .await?;
    let check = sqlx::query_scalar("PRAGMA copy.integrity_check")
        .fetch_one(&mut *conn)
        .await;
    sqlx::query("DETACH DATABASE copy")
        .execute(&mut *conn)
        .await?;
    check
}

/// Unix seconds now.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// True when `err` is a unique-constraint violation (a duplicate username, say).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

/// Is this the database being out of reach for a while (a restart, a network cut, every
/// connection busy past the pool's timeout, SQLite's writer held past its busy timeout), rather
/// than a statement that is wrong? The request is then worth trying again in a moment, and its
/// transaction has rolled back.
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(e) => e.code().is_some_and(|code| {
            // PostgreSQL: class 08 (connection exception), 57P01-57P03 (the server shutting
            // down or starting), 53300 (too many connections). SQLite: 5 SQLITE_BUSY, 6
            // SQLITE_LOCKED (and their extended codes, which keep the primary code's low byte).
            code.starts_with("08")
                || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
                || code.parse::<i64>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
        }),
        _ => false,
    }
}

/// Reads a text column into one of the domain's text enums.
pub(crate) fn text_col<T: FromStr<Err = String>>(row: &AnyRow, col: &str) -> sqlx::Result<T> {
    let raw: String = row.try_get(col)?;
    raw.parse().map_err(|e: String| sqlx::Error::ColumnDecode {
        index: col.to_owned(),
        source: e.into(),
    })
}

/// Reads an optional text column into one of the domain's text enums.
pub(crate) fn opt_text_col<T: FromStr<Err = String>>(
    row: &AnyRow,
    col: &str,
) -> sqlx::Result<Option<T>> {
    let raw: Option<String> = row.try_get(col)?;
    raw.map(|r| r.parse())
        .transpose()
        .map_err(|e: String| sqlx::Error::ColumnDecode {
            index: col.to_owned(),
            source: e.into(),
        })
}
