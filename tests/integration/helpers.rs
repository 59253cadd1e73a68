//! `spawn_app()` and friends: a real server on port 0 with a fresh database (a SQLite temp file,
//! or a uniquely named PostgreSQL database dropped afterwards), and a cookie-keeping client that
//! does not follow redirects.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pinpanel::crypto::{KeySource, PinKey};
use pinpanel::domain::{Account, User};
use pinpanel::domain::{Kind, Role, UnlockPolicy};
use pinpanel::service::policy::{self, RecentPassword};
use pinpanel::service::{accounts, members, people, Actor, Ctx};
use pinpanel::startup::{self, App, ServeSettings};
use pinpanel::store::DbOptions;
use reqwest::header::HeaderMap;
use secrecy::SecretString;
use tokio::sync::oneshot;

/// The password every test person gets.
pub const PASSWORD: &str = "correct horse battery";

/// Proof that `user` has just entered their password (as a login or a re-entry gives), for the
/// use cases that need one.
pub fn fresh(user: &User) -> RecentPassword {
    policy::password_just_entered(user)
}

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

/// A database for one test, removed when dropped.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
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

/// An app that knows where people reach it, `http://localhost:PORT` (`PINPANEL_PUBLIC_URL`):
/// passkeys are offered (browsers allow WebAuthn on localhost over http, never on an IP
/// address) and mail links point at it.
pub async fn spawn_public_app(backend: Backend, settings: ServeSettings) -> Option<TestApp> {
    let db = TestDb::new(backend).await?;
    // A free port, known before the app binds it, so the public URL can name it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
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
    let keys = KeySource {
        key: Some(key_hex.clone()),
        key_file: None,
    };
    let opened = startup::open(&db.url, &keys, options)
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

    pub async fn account(&self, name: &str, policy: UnlockPolicy) -> Account {
        accounts::create_account(&self.ctx, Actor::Cli, name, None, policy)
            .await
            .expect("account")
    }

    /// An account with the number `number`.
    pub async fn account_numbered(&self, name: &str, number: &str) -> Account {
        accounts::create_account(
            &self.ctx,
            Actor::Cli,
            name,
            Some(number),
            UnlockPolicy::SelfService,
        )
        .await
        .expect("account")
    }

    pub async fn member(&self, account: &Account, username: &str, role: Role, kind: Kind) -> User {
        self.create_member(account, username, role, kind, true)
            .await
    }

    /// A user of `account` created without a PIN (state INACTIVE), as a bulk import does.
    pub async fn member_without_pin(&self, account: &Account, username: &str) -> User {
        self.create_member(account, username, Role::User, Kind::User, false)
            .await
    }

    /// A user of `account` without an e-mail address (who gets no mail).
    pub async fn member_without_email(&self, account: &Account, username: &str) -> User {
        self.new_member(account, username, Role::User, Kind::User, true, None)
            .await
    }

    async fn create_member(
        &self,
        account: &Account,
        username: &str,
        role: Role,
        kind: Kind,
        with_pin: bool,
    ) -> User {
        let email = format!("{username}@example.com");
        self.new_member(account, username, role, kind, with_pin, Some(email))
            .await
    }

    async fn new_member(
        &self,
        account: &Account,
        username: &str,
        role: Role,
        kind: Kind,
        with_pin: bool,
        email: Option<String>,
    ) -> User {
        members::create_person(
            &self.ctx,
            Actor::Cli,
            members::NewPerson {
                account: Some(account.clone()),
                username: username.into(),
                full_name: format!("Full {username}"),
                email,
                role,
                kind,
                password: SecretString::from(PASSWORD),
                with_pin,
            },
        )
        .await
        .expect("member")
    }

    pub async fn user(&self, account: &Account, username: &str) -> User {
        self.member(account, username, Role::User, Kind::User).await
    }

    pub async fn admin(&self, account: &Account, username: &str) -> User {
        self.member(account, username, Role::Admin, Kind::User)
            .await
    }

    pub async fn agent(&self, username: &str) -> User {
        members::create_person(
            &self.ctx,
            Actor::Cli,
            members::NewPerson {
                account: None,
                username: username.into(),
                full_name: format!("Agent {username}"),
                email: None,
                role: Role::Agent,
                kind: Kind::User,
                password: SecretString::from(PASSWORD),
                with_pin: false,
            },
        )
        .await
        .expect("agent")
    }

    /// The member's current PIN, read the way the owner would (and recorded as shown).
    pub async fn pin_of(&self, user: &User) -> String {
        pinpanel::service::pins::show(&self.ctx, user, user, &crate::helpers::fresh(user))
            .await
            .expect("show PIN")
            .expose()
            .to_owned()
    }

    /// A wrong PIN for `user` (valid under the rules, so only the comparison fails).
    pub async fn wrong_pin_for(&self, user: &User) -> String {
        let right = self.pin_of(user).await;
        ["871694", "920385"]
            .into_iter()
            .find(|p| *p != right)
            .expect("one differs")
            .to_owned()
    }

    /// Locks `who`'s PIN the way it happens in life: six wrong verifications by an agent (one
    /// agent per member, so no agent's verification limit is ever in the way).
    pub async fn lock(&self, who: &User) {
        let name = format!("lock-agent-{}", who.id);
        let agent = match people::user_by_username(&self.ctx, &name).await {
            Ok(agent) => agent,
            Err(_) => self.agent(&name).await,
        };
        let wrong = self.wrong_pin_for(who).await;
        for _ in 0..pinpanel::domain::MAX_PIN_FAILURES {
            pinpanel::service::pins::verify(&self.ctx, &agent, who, &wrong, None)
                .await
                .expect("verify");
        }
        assert_eq!(self.pin_row(who).await.0, "LOCKED");
    }

    /// Sets the account's unlock policy as an operator would.
    pub async fn set_unlock_policy(&self, account: &Account, policy: UnlockPolicy) {
        accounts::set_unlock_policy(&self.ctx, Actor::Cli, account.id, policy)
            .await
            .expect("set the unlock policy");
    }

    /// Moves the time `key` of every session that holds it `seconds_ago` into the past, as
    /// time passing would.
    pub async fn age_sessions(&self, key: &str, seconds_ago: i64) {
        let rows: Vec<(String, Vec<u8>)> = sqlx::query_as("SELECT id_hash, data FROM sessions")
            .fetch_all(self.pool())
            .await
            .expect("sessions");
        let mut aged = 0;
        for (id, data) in rows {
            let mut v: serde_json::Value = serde_json::from_slice(&data).expect("JSON");
            if v.get(key).is_none() {
                continue;
            }
            v[key] = serde_json::json!(pinpanel::store::now() - seconds_ago);
            sqlx::query("UPDATE sessions SET data = $2 WHERE id_hash = $1")
                .bind(id)
                .bind(serde_json::to_vec(&v).expect("JSON"))
                .execute(self.pool())
                .await
                .expect("update a session");
            aged += 1;
        }
        assert!(aged > 0, "no session holds {key}");
    }

    /// A client logged in as `username` through both steps, with `code` at the second.
    pub async fn logged_in_two_step(&self, username: &str, code: &str) -> Client {
        let c = self.client();
        let res = c.login(username, PASSWORD).await;
        assert_eq!(res.headers()["location"], "/login/second-step");
        let (status, headers, _) = c.post("/login/second-step", &[("code", code)]).await;
        assert_eq!(status, 303, "the second step of {username}");
        // Land where the login sends us and pick up the new session's token.
        c.get(headers["location"].to_str().expect("location")).await;
        c
    }

    /// (state, failures) straight from the table.
    pub async fn pin_row(&self, user: &User) -> (String, i64) {
        let row: (String, i64) =
            sqlx::query_as("SELECT state, failures FROM support_pins WHERE user_id = $1")
                .bind(user.id)
                .fetch_one(self.pool())
                .await
                .expect("pin row");
        row
    }

    /// A browser-like client with no one logged in.
    pub fn client(&self) -> Client {
        Client::new(self, HeaderMap::new())
    }

    /// A client whose requests arrive through a proxy that says they came from `address`
    /// (`X-Forwarded-For`); believed only by an app started [`behind_a_proxy`].
    pub fn client_from(&self, address: &str) -> Client {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", address.parse().expect("an address"));
        Client::new(self, headers)
    }

    /// A client that talks to the app at its public URL (`http://localhost:PORT`), as a browser
    /// that followed a mail link or came back from an identity provider does.
    pub fn public_client(&self) -> Client {
        let mut c = Client::new(self, HeaderMap::new());
        c.base = self
            .public_url
            .clone()
            .expect("an app started with spawn_public_app");
        c
    }

    /// A client that says it is the browser `user_agent`.
    pub fn client_with_agent(&self, user_agent: &str) -> Client {
        let mut headers = HeaderMap::new();
        headers.insert("user-agent", user_agent.parse().expect("a header value"));
        Client::new(self, headers)
    }

    /// A client logged in as `username` (password [`PASSWORD`]).
    pub async fn logged_in(&self, username: &str) -> Client {
        let c = self.client();
        let res = c.login(username, PASSWORD).await;
        assert_eq!(res.status(), 303, "login of {username} should redirect");
        c
    }
}

/// A cookie-keeping HTTP client that does not follow redirects, with the page's CSRF token.
pub struct Client {
    pub http: reqwest::Client,
    base: String,
    pub csrf: std::sync::Mutex<String>,
    jar: std::sync::Arc<reqwest::cookie::Jar>,
}

/// Finds the CSRF token in a page.
pub fn csrf_in(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf_token\" value=\"")?;
    let rest = &html[at + "name=\"csrf_token\" value=\"".len()..];
    rest.find('"').map(|end| rest[..end].to_owned())
}

impl Client {
    /// A client sending `headers` with every request.
    pub fn new(app: &TestApp, headers: HeaderMap) -> Client {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        Client {
            jar: jar.clone(),
            http: reqwest::Client::builder()
                .default_headers(headers)
                .cookie_provider(jar)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
            base: format!("http://{}", app.addr),
            csrf: std::sync::Mutex::new(String::new()),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The session cookie this client holds now.
    pub fn session_cookie(&self) -> Option<String> {
        self.cookie("pinpanel")
    }

    /// The value of the cookie `name` this client holds now.
    pub fn cookie(&self, name: &str) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let url = self.base.parse().expect("a URL");
        let cookies = self.jar.cookies(&url)?;
        let prefix = format!("{name}=");
        cookies
            .to_str()
            .ok()?
            .split(';')
            .filter_map(|kv| kv.trim().strip_prefix(prefix.as_str()))
            .map(str::to_owned)
            .next()
    }

    /// Puts the cookie `name=value` back in this client (as an attacker who kept it would).
    pub fn set_cookie(&self, name: &str, value: &str) {
        let url = self.base.parse().expect("a URL");
        self.jar
            .add_cookie_str(&format!("{name}={value}; Path=/"), &url);
    }

    fn remember_csrf(&self, html: &str) {
        if let Some(t) = csrf_in(html) {
            *self.csrf.lock().expect("lock") = t;
        }
    }

    pub fn csrf(&self) -> String {
        self.csrf.lock().expect("lock").clone()
    }

    /// GET; returns (status, headers, body) and remembers the page's CSRF token.
    pub async fn get(&self, path: &str) -> (u16, HeaderMap, String) {
        self.get_with(path, false).await
    }

    /// GET as htmx does.
    pub async fn hx_get(&self, path: &str) -> (u16, HeaderMap, String) {
        self.get_with(path, true).await
    }

    async fn get_with(&self, path: &str, htmx: bool) -> (u16, HeaderMap, String) {
        let mut req = self.http.get(self.url(path));
        if htmx {
            req = req.header("HX-Request", "true");
        }
        let res = req.send().await.expect("GET");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.text().await.expect("body");
        self.remember_csrf(&body);
        (status, headers, body)
    }

    /// POST a form with this client's CSRF token added.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, HeaderMap, String) {
        self.post_with(path, form, false).await
    }

    /// POST as htmx does (with `HX-Request` and the token in `X-CSRF-Token`).
    pub async fn hx_post(&self, path: &str, form: &[(&str, &str)]) -> (u16, HeaderMap, String) {
        self.post_with(path, form, true).await
    }

    async fn post_with(
        &self,
        path: &str,
        form: &[(&str, &str)],
        htmx: bool,
    ) -> (u16, HeaderMap, String) {
        let token = self.csrf();
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        let mut req = self.http.post(self.url(path));
        if htmx {
            req = req
                .header("HX-Request", "true")
                .header("X-CSRF-Token", token.clone());
        } else {
            fields.push(("csrf_token", &token));
        }
        let res = req.form(&fields).send().await.expect("POST");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.text().await.expect("body");
        self.remember_csrf(&body);
        (status, headers, body)
    }

    /// Logs in through the login form.
    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        let (status, _, _) = self.get("/login").await;
        assert!(status == 200 || status == 303, "login page: {status}");
        let token = self.csrf();
        let res = self
            .http
            .post(self.url("/login"))
            .form(&[
                ("username", username),
                ("password", password),
                ("csrf_token", &token),
            ])
            .send()
            .await
            .expect("login POST");
        if res.status() == 303 {
            // Land where the login sends us and pick up the new session's token.
            let to = res.headers()["location"]
                .to_str()
                .expect("location")
                .to_owned();
            self.get(&to).await;
        }
        res
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

/// An API token for `username` (password [`PASSWORD`]) from the server at `base` (`http://…`).
pub async fn api_token(base: &str, username: &str) -> String {
    let res = reqwest::Client::new()
        .post(format!("{base}/v2.0/tokens"))
        .json(&serde_json::json!({"auth":{"passwordCredentials":{"username":username,"password":PASSWORD}}}))
        .send()
        .await
        .expect("POST /v2.0/tokens");
    assert_eq!(res.status(), 200, "a token for {username}");
    let v: serde_json::Value = res.json().await.expect("JSON");
    v["access"]["token"]["id"]
        .as_str()
        .expect("a token id")
        .to_owned()
}

impl TestApp {
    /// An API token for `username` from this app.
    pub async fn token(&self, username: &str) -> String {
        api_token(&format!("http://{}", self.addr), username).await
    }
}

/// The value of the `pinpanel` session cookie a response sets, if it sets one.
pub fn session_cookie_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("pinpanel="))
        .and_then(|c| c.split(';').next())
        .map(|kv| kv.trim_start_matches("pinpanel=").to_owned())
        .filter(|v| !v.is_empty())
}

/// The value of cookie `name` that a response sets, if it sets one.
pub fn cookie_of(headers: &HeaderMap, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&prefix))
        .and_then(|c| c.split(';').next())
        .map(|kv| kv[prefix.len()..].to_owned())
        .filter(|v| !v.is_empty())
}

/// What a login through the form returned, with the cookies passed by hand (no cookie jar), so
/// a test sees exactly what the server issues.
pub struct FormLogin {
    /// The anonymous form cookie the login page set (its CSRF token is signed against it).
    pub form_cookie: String,
    /// The login page's CSRF token.
    pub page_csrf: String,
    /// The answer to POST /login.
    pub response: reqwest::Response,
}

/// GET /login, then POST /login as `username` (password [`PASSWORD`]) at `base` (`http://…`),
/// also sending the session cookie `planted` when given (as an attacker who planted one would).
pub async fn form_login_with(base: &str, username: &str, planted: Option<&str>) -> FormLogin {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = http
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("GET /login");
    assert!(
        session_cookie_of(page.headers()).is_none(),
        "the login page starts no session"
    );
    let form_cookie =
        cookie_of(page.headers(), "pinpanel-form").expect("the login page sets its form cookie");
    let page_csrf = csrf_in(&page.text().await.expect("body")).expect("a CSRF token");
    let mut cookies = format!("pinpanel-form={form_cookie}");
    if let Some(planted) = planted {
        cookies.push_str(&format!("; pinpanel={planted}"));
    }
    let response = http
        .post(format!("{base}/login"))
        .header("cookie", cookies)
        .form(&[
            ("username", username),
            ("password", PASSWORD),
            ("csrf_token", &page_csrf),
        ])
        .send()
        .await
        .expect("POST /login");
    FormLogin {
        form_cookie,
        page_csrf,
        response,
    }
}

/// [`form_login_with`] without a planted session cookie.
pub async fn form_login(base: &str, username: &str) -> FormLogin {
    form_login_with(base, username, None).await
}
