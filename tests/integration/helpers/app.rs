//! `spawn_app()` and friends: the real server, in this process, on port 0 (or a free port
//! known beforehand) with a fresh database, stopped when its [`TestApp`] goes.

use std::net::SocketAddr;

use pinpanel::crypto::{KeySource, PinKey};
use pinpanel::service::Ctx;
use pinpanel::startup::{self, App, ServeSettings};
use pinpanel::store::DbOptions;
use tokio::sync::oneshot;

use super::backends::Backend;
use super::db::TestDb;

/// A running application.
pub struct TestApp {
    pub addr: SocketAddr,
    pub ctx: Ctx,
    pub db: TestDb,
    /// The PIN key, for starting more instances on the same database.
    pub key_hex: String,
    /// `http://localhost:PORT` for an app started with [`spawn_public_app`].
    pub public_url: Option<String>,
    /// Where its metrics are served, when its settings turned them on.
    pub metrics_addr: Option<SocketAddr>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// The settings tests run with: plain http cookies, no role required to set up two-step login
/// (the two-step tests turn that on themselves), and a hashing queue long enough for every
/// test of this process at once (its bound is per process; the flood test has a server
/// process of its own).
pub fn test_settings() -> ServeSettings {
    ServeSettings {
        cookie_secure: false,
        require_two_step: Vec::new(),
        hashing_queue: 10_000,
        ..ServeSettings::default()
    }
}

pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, test_settings()).await
}

/// Settings of an app behind a TLS proxy on this machine: `X-Forwarded-For` from 127.0.0.1 is
/// believed.
pub fn behind_a_proxy() -> ServeSettings {
    ServeSettings {
        trusted_proxies: "127.0.0.1".parse().expect("a CIDR"),
        ..test_settings()
    }
}

pub async fn spawn_app_with(backend: Backend, settings: ServeSettings) -> Option<TestApp> {
    let db = TestDb::new(backend).await?;
    Some(start_on(db, PinKey::generate().to_hex(), settings).await)
}

/// The PIN key given as hex (as `--key` gives it).
pub fn key_source(hex: &str) -> KeySource {
    KeySource {
        key: Some(hex.to_owned()),
        key_file: None,
    }
}

/// A free TCP port on 127.0.0.1, for a server that must be told its port before it starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// An app that knows where people reach it, `http://localhost:PORT` (`PINPANEL_PUBLIC_URL`):
/// passkeys are offered (browsers allow WebAuthn on localhost over http, never on an IP
/// address) and mail links point at it.
pub async fn spawn_public_app(backend: Backend, settings: ServeSettings) -> Option<TestApp> {
    let db = TestDb::new(backend).await?;
    // A free port, known before the app binds it, so the public URL can name it.
    let port = free_port();
    let public = format!("http://localhost:{port}");
    let settings = ServeSettings {
        public_url: Some(public.parse().expect("a URL")),
        ..settings
    };
    let mut app = start_on_addr(
        db,
        PinKey::generate().to_hex(),
        settings,
        format!("127.0.0.1:{port}").parse().expect("addr"),
    )
    .await;
    app.public_url = Some(public);
    Some(app)
}

/// Another instance on the same database and key (it does not own the database).
pub async fn spawn_second_instance(app: &TestApp) -> TestApp {
    spawn_instance_with_key(app, app.key_hex.clone()).await
}

/// Another instance on the same database, started with `key_hex` (the key after a rotation).
pub async fn spawn_instance_with_key(app: &TestApp, key_hex: String) -> TestApp {
    let db = TestDb {
        url: app.db.url.clone(),
        backend: app.db.backend,
        _dir: None,
        pg: None,
    };
    start_on(db, key_hex, test_settings()).await
}

pub async fn start_on(db: TestDb, key_hex: String, settings: ServeSettings) -> TestApp {
    start_on_addr(db, key_hex, settings, "127.0.0.1:0".parse().expect("addr")).await
}

async fn start_on_addr(
    db: TestDb,
    key_hex: String,
    settings: ServeSettings,
    addr: SocketAddr,
) -> TestApp {
    start_with(db, key_hex, settings, addr, &DbOptions::default()).await
}

/// An app on `db` whose pool has `options` (a short SQLite busy timeout, say).
pub async fn start_with_options(db: TestDb, options: &DbOptions) -> TestApp {
    let addr = "127.0.0.1:0".parse().expect("addr");
    start_with(
        db,
        PinKey::generate().to_hex(),
        test_settings(),
        addr,
        options,
    )
    .await
}

async fn start_with(
    db: TestDb,
    key_hex: String,
    settings: ServeSettings,
    addr: SocketAddr,
    options: &DbOptions,
) -> TestApp {
    let opened = startup::open(&db.url, &key_source(&key_hex), options)
        .await
        .expect("open the store");
    let app = App::build(opened, addr, &settings)
        .await
        .expect("build the app");
    let ctx = app.ctx().clone();
    let addr = app.local_addr().expect("bound");
    let metrics_addr = app.metrics_addr();
    let (tx, rx) = oneshot::channel();
    let server = tokio::spawn(async move {
        app.run_until(async {
            let _ = rx.await;
        })
        .await
        .expect("server ran");
    });
    TestApp {
        addr,
        ctx,
        db,
        key_hex,
        public_url: None,
        metrics_addr,
        shutdown: Some(tx),
        server: Some(server),
    }
}

impl TestApp {
    /// Stops the server and hands over its database, which lives on (for commands that want
    /// no server running).
    pub async fn stop(mut self) -> TestDb {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        let backend = self.db.backend;
        std::mem::replace(
            &mut self.db,
            TestDb {
                url: String::new(),
                backend,
                _dir: None,
                pg: None,
            },
        )
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn pool(&self) -> &sqlx::AnyPool {
        &self.ctx.db.pool
    }

    /// The server's end of the connection whose client end is `peer`, found among this
    /// process's file descriptors (the app runs in this process): a duplicate of the socket the
    /// server accepted, to read its options.
    pub fn accepted_socket(&self, peer: SocketAddr) -> std::net::TcpStream {
        use std::os::fd::{BorrowedFd, RawFd};
        let fds = std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd");
        for entry in fds.flatten() {
            let Some(fd) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<RawFd>().ok())
            else {
                continue;
            };
            let is_socket = std::fs::read_link(entry.path())
                .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
            if !is_socket {
                continue;
            }
            // SAFETY: `fd` was open a moment ago and is only duplicated here (F_DUPFD_CLOEXEC),
            // never read, written or closed: if another test's thread closed it meanwhile, the
            // duplicate fails (EBADF) or is another descriptor, whose addresses do not match.
            let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
            let Ok(owned) = borrowed.try_clone_to_owned() else {
                continue;
            };
            let socket = std::net::TcpStream::from(owned);
            if socket.local_addr().ok() == Some(self.addr) && socket.peer_addr().ok() == Some(peer)
            {
                return socket;
            }
        }
        panic!("no socket of this process is the server's end of {peer}");
    }
}
