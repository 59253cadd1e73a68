//! What the panel answers while its database is out of reach (issue 36): PostgreSQL restarting
//! under load, and SQLite's writer held past the busy timeout. Every face answers 503 with
//! `Retry-After` (the pages say to try again in a moment), never 500; nothing is half-written,
//! and every count is exact afterwards.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pinpanel::domain::UnlockPolicy;
use pinpanel::store::DbOptions;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};

use crate::dual;
use crate::helpers::wait::eventually;
use crate::helpers::{postgres_base_url, start_on, start_with_options, test_settings};
use crate::helpers::{Backend, TestApp, TestDb};

dual!(backend: a_database_out_of_reach_is_a_503_and_nothing_is_half_written);

async fn a_database_out_of_reach_is_a_503_and_nothing_is_half_written(backend: Backend) {
    match backend {
        Backend::Postgres => postgres_restarts_under_load().await,
        Backend::Sqlite => sqlite_writer_held_past_its_timeout().await,
    }
}

/// A TCP proxy in front of PostgreSQL that can refuse new connections, as a server that is
/// restarting does.
struct Proxy {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
}

impl Proxy {
    async fn start(to: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let open = Arc::new(AtomicBool::new(true));
        let gate = open.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !gate.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(to).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Proxy { addr, open }
    }

    fn refuse(&self) {
        self.open.store(false, Ordering::SeqCst);
    }

    fn accept(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

/// What the load saw.
#[derive(Default)]
struct Seen {
    /// Verifications answered 200 (each is one audit row).
    verified: u64,
    /// Every status, with whether a 503 said when to come back, and the page's words.
    statuses: Vec<u16>,
    unavailable_without_retry_after: u64,
    pages_without_the_words: u64,
}

/// An agent verifying a member's right PIN through the API, and the member reading their
/// profile in the panel, over and over until `stop`.
async fn load(
    app: &TestApp,
    token: String,
    member_id: i64,
    pin: String,
    stop: Arc<AtomicBool>,
) -> (Vec<tokio::task::JoinHandle<()>>, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut tasks = Vec::new();
    let verify = app.url(&format!(
        "/v2.0/users/{member_id}/RAX-AUTH/phone-pin/verify"
    ));
    for _ in 0..6 {
        let (verify, token, pin, stop, seen) = (
            verify.clone(),
            token.clone(),
            pin.clone(),
            stop.clone(),
            seen.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client");
            while !stop.load(Ordering::SeqCst) {
                let Ok(res) = http
                    .post(&verify)
                    .header("X-Auth-Token", &token)
                    .json(&json!({"RAX-AUTH:phonePin": {"pin": pin}}))
                    .send()
                    .await
                else {
                    continue;
                };
                let status = res.status().as_u16();
                let retry = res.headers().contains_key("retry-after");
                let mut s = seen.lock().expect("lock");
                s.statuses.push(status);
                if status == 200 {
                    s.verified += 1;
                }
                if status == 503 && !retry {
                    s.unavailable_without_retry_after += 1;
                }
            }
        }));
    }
    let profile = app.url("/profile");
    let member = app.logged_in("alice").await;
    tasks.push(tokio::spawn({
        let (stop, seen) = (stop.clone(), seen.clone());
        async move {
            while !stop.load(Ordering::SeqCst) {
                let Ok(res) = member.http.get(&profile).send().await else {
                    continue;
                };
                let status = res.status().as_u16();
                let retry = res.headers().contains_key("retry-after");
                let body = res.text().await.unwrap_or_default();
                let mut s = seen.lock().expect("lock");
                s.statuses.push(status);
                if status == 503 {
                    if !retry {
                        s.unavailable_without_retry_after += 1;
                    }
                    if !body.contains("try again in a moment") {
                        s.pages_without_the_words += 1;
                    }
                }
            }
        }
    }));
    (tasks, seen)
}

async fn audit_count(app: &TestApp, event: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE event = $1")
        .bind(event)
        .fetch_one(app.pool())
        .await
        .expect("count")
}

async fn postgres_restarts_under_load() {
    let Some(base) = postgres_base_url() else {
        return;
    };
    let server: SocketAddr = {
        let u = url::Url::parse(&base).expect("a URL");
        let host = u
            .host_str()
            .unwrap_or("127.0.0.1")
            .replace("localhost", "127.0.0.1");
        format!("{host}:{}", u.port().unwrap_or(5432))
            .parse()
            .expect("the server's address")
    };
    let proxy = Proxy::start(server).await;
    let db = TestDb::new(Backend::Postgres)
        .await
        .expect("a database")
        .through(proxy.addr);
    let name = url::Url::parse(&db.url).expect("a URL").path()[1..].to_owned();
    let settings = pinpanel::startup::ServeSettings {
        verify_limit: 1_000_000,
        ..test_settings()
    };
    let app = start_on(db, pinpanel::crypto::PinKey::generate().to_hex(), settings).await;
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    app.agent("sam").await;
    let token = app.token("sam").await;
    let pin = app.pin_of(&alice).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (tasks, seen) = load(&app, token, alice.id, pin, stop.clone()).await;
    eventually("the load under way", Duration::from_secs(30), async || {
        seen.lock().expect("lock").verified >= 20
    })
    .await;

    // The restart: new connections refused, every connection to the database ended by the
    // server (as a shutdown does: 57P01 to each session).
    proxy.refuse();
    let mut admin = crate::helpers::connect_one(&base).await;
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(&name)
    .execute(&mut admin)
    .await
    .expect("end the sessions");
    eventually(
        "503s while the database is away",
        Duration::from_secs(60),
        async || seen.lock().expect("lock").statuses.contains(&503),
    )
    .await;
    let ready = reqwest::get(app.url("/readyz")).await.expect("readyz");
    assert_eq!(ready.status(), 503, "not ready while the database is away");

    // Back: requests succeed again.
    proxy.accept();
    let before = seen.lock().expect("lock").verified;
    eventually("verifications again", Duration::from_secs(60), async || {
        seen.lock().expect("lock").verified > before + 20
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.expect("a load task");
    }
    assert_eq!(
        reqwest::get(app.url("/readyz"))
            .await
            .expect("readyz")
            .status(),
        200
    );

    let verified = {
        let s = seen.lock().expect("lock");
        let seen_statuses = histogram(&s.statuses);
        assert!(!s.statuses.contains(&500), "no 500: {seen_statuses:?}");
        assert!(
            seen_statuses.keys().all(|c| matches!(c, 200 | 503)),
            "{seen_statuses:?}"
        );
        assert_eq!(s.unavailable_without_retry_after, 0);
        assert_eq!(s.pages_without_the_words, 0);
        s.verified as i64
    };
    // Nothing half-written: one audit row and one count of the day per verification answered.
    assert_eq!(audit_count(&app, "pin.verified").await, verified);
    let days: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM verification_days \
         WHERE event = 'pin.verified'",
    )
    .fetch_one(app.pool())
    .await
    .expect("daily counts");
    assert_eq!(days, verified);
}

async fn sqlite_writer_held_past_its_timeout() {
    let db = TestDb::new(Backend::Sqlite).await.expect("a database");
    let url = db.url.clone();
    let options = DbOptions {
        busy_timeout: Some(Duration::from_millis(500)),
        ..DbOptions::default()
    };
    let app = start_with_options(db, &options).await;
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    app.agent("sam").await;
    let token = app.token("sam").await;
    let pin = app.pin_of(&alice).await;
    let web = app.logged_in("alice").await;
    let verify = app.url(&format!(
        "/v2.0/users/{}/RAX-AUTH/phone-pin/verify",
        alice.id
    ));
    let http = reqwest::Client::new();
    let send = || {
        http.post(&verify)
            .header("X-Auth-Token", &token)
            .json(&json!({"RAX-AUTH:phonePin": {"pin": pin}}))
            .send()
    };
    assert_eq!(send().await.expect("verify").status(), 200);

    // Another process holds the database's writer.
    let mut holder = crate::helpers::connect_one(&url).await;
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .expect("hold the writer");
    let res = send().await.expect("verify");
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    let body: serde_json::Value = res.json().await.expect("JSON");
    assert_eq!(body["serviceUnavailable"]["code"], 503, "{body}");
    let (status, headers, page) = web.post("/profile/support-pin", &[("pin", "871694")]).await;
    assert_eq!(status, 503, "{page}");
    assert!(headers.contains_key("retry-after"));
    assert!(page.contains("try again in a moment"), "{page}");
    // Reading goes on (WAL).
    assert_eq!(web.get("/profile").await.0, 200);
    sqlx::query("ROLLBACK")
        .execute(&mut holder)
        .await
        .expect("let go");

    assert_eq!(send().await.expect("verify").status(), 200);
    assert_eq!(
        audit_count(&app, "pin.verified").await,
        2,
        "the refused one wrote nothing"
    );
    assert_ne!(
        app.pin_of(&alice).await,
        "871694",
        "nor did the refused change"
    );
}

fn histogram(statuses: &[u16]) -> std::collections::BTreeMap<u16, usize> {
    let mut h = std::collections::BTreeMap::new();
    for s in statuses {
        *h.entry(*s).or_default() += 1;
    }
    h
}
