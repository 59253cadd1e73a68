//! Issue 12, tried as an attacker would: parallel guessing, an insider agent, a proxy in front,
//! disabled members, sudo mode, old API tokens, slow clients, anonymous writes, what people type
//! as a username, and forged request ids. Each test fails on the build before the fix.

use std::time::Duration;

use pinpanel::domain::UnlockPolicy;
use pinpanel::service::{maintenance, members, Actor};
use pinpanel::startup::ServeSettings;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::dual;
use crate::helpers::count;
use crate::helpers::process::Server;
use crate::helpers::wait::futures_join_all;
use crate::helpers::{behind_a_proxy, csrf_in, spawn_app_with, Backend, TestApp, PASSWORD};

dual!(
    parallel_wrong_passwords_are_checked_at_most_the_limit,
    disabled_members_are_never_verified_and_nothing_is_counted,
    password_reentry_is_throttled_and_renews_the_session_id,
    the_api_shows_and_changes_the_pin_only_within_the_reauth_window,
    anonymous_visitors_write_no_session_rows_and_refusals_are_counted_not_logged,
    old_audit_rows_are_purged,
    agents_are_offered_no_unlock_or_reset_in_the_panel,
    a_successful_login_gives_back_its_reserved_hits,
);

dual!(
    backend: behind_a_proxy_one_address_never_locks_out_another,
    what_is_typed_as_a_username_is_never_kept,
);

fn creds(username: &str, password: &str) -> Value {
    json!({"auth":{"passwordCredentials":{"username":username,"password":password}}})
}

/// 40 wrong passwords at once for one username: exactly the limit (10) is checked, through the
/// API and through the login form; the rest are 429 with `Retry-After`, and the page says when.
async fn parallel_wrong_passwords_are_checked_at_most_the_limit(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.user(&acct, "alice").await;
    app.user(&acct, "bob").await;
    let http = reqwest::Client::new();
    let url = app.url("/v2.0/tokens");
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let req = http.post(&url).json(&creds("alice", "a wrong password"));
            tokio::spawn(async move {
                let res = req.send().await.unwrap();
                (
                    res.status().as_u16(),
                    res.headers().contains_key("retry-after"),
                )
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let checked = answers.iter().filter(|(s, _)| *s == 401).count();
    let refused = answers.iter().filter(|(s, r)| *s == 429 && *r).count();
    assert_eq!((checked, refused), (10, 30), "API: {answers:?}");

    // The form: every client has its login page (and form cookie) first, then all post at once.
    let mut clients = Vec::new();
    for _ in 0..40 {
        let c = app.client();
        c.get("/login").await;
        clients.push(c);
    }
    let posts = clients.iter().map(|c| {
        c.http
            .post(c.url("/login"))
            .form(&[
                ("username", "bob"),
                ("password", "a wrong password"),
                ("csrf_token", &c.csrf()),
            ])
            .send()
    });
    let mut statuses = Vec::new();
    for res in futures_join_all(posts).await {
        let res = res.unwrap();
        let status = res.status().as_u16();
        let retry = res.headers().contains_key("retry-after");
        let body = res.text().await.unwrap();
        if status == 429 {
            assert!(retry, "429 carries Retry-After");
            assert!(body.contains("Try again in"), "the page says when: {body}");
        }
        statuses.push(status);
    }
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((checked, refused), (10, 30), "form: {statuses:?}");
    // Ten failures were recorded for each, no more.
    let failed: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE event = 'login.failed'")
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert_eq!(failed, 20);
}

/// A successful login gives its reservation back in the commit of its audit row: the narrowest
/// counter (this username from this address) starts again, the per-address and per-username
/// counters keep only the failures. The token limit per address counts every request.
async fn a_successful_login_gives_back_its_reserved_hits(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.user(&acct, "alice").await;
    let http = reqwest::Client::new();
    let url = app.url("/v2.0/tokens");
    for _ in 0..3 {
        let res = http.post(&url).json(&creds("alice", "a wrong password"));
        assert_eq!(res.send().await.unwrap().status(), 401);
    }
    let res = http.post(&url).json(&creds("alice", PASSWORD));
    assert_eq!(res.send().await.unwrap().status(), 200);
    let mut hits: Vec<i64> = sqlx::query_scalar("SELECT hits FROM throttle")
        .fetch_all(app.pool())
        .await
        .unwrap();
    hits.sort_unstable();
    // Per address 3, per username 3, tokens per address 4; (alice, address) is gone.
    assert_eq!(hits, vec![3, 3, 4]);
    let logins_ok = count(
        app.pool(),
        "SELECT COUNT(*) FROM audit_log WHERE event = 'login.ok'",
    )
    .await;
    assert_eq!(logins_ok, 1);
}

/// Behind a trusted proxy, failures count per (username, address) and per address: a guesser
/// locks out only themselves; the per-username ceiling (100) stops guessing spread over many
/// addresses. Without the setting, `X-Forwarded-For` is ignored.
async fn behind_a_proxy_one_address_never_locks_out_another(backend: Backend) {
    let Some(app) = spawn_app_with(backend, behind_a_proxy()).await else {
        return;
    };
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.user(&acct, "alice").await;
    app.user(&acct, "bob").await;
    app.user(&acct, "carol").await;
    let guesser = "198.51.100.66";
    for _ in 0..10 {
        let res = app.client_from(guesser).login("alice", "a guess").await;
        assert_eq!(res.status(), 401);
    }
    let res = app.client_from(guesser).login("alice", PASSWORD).await;
    assert_eq!(res.status(), 429, "the guessing address is refused");
    assert!(res.headers().contains_key("retry-after"));
    // Alice, from her own address, logs in.
    let res = app
        .client_from("203.0.113.10")
        .login("alice", PASSWORD)
        .await;
    assert_eq!(res.status(), 303, "alice is not locked out from elsewhere");

    // 50 failures from one address over many names block that address only.
    let sprayer = "198.51.100.77";
    for n in 0..50 {
        let res = app
            .client_from(sprayer)
            .login(&format!("name{n}"), "x")
            .await;
        assert_eq!(res.status(), 401);
    }
    let res = app.client_from(sprayer).login("bob", PASSWORD).await;
    assert_eq!(res.status(), 429);
    let res = app.client_from("203.0.113.11").login("bob", PASSWORD).await;
    assert_eq!(res.status(), 303, "anyone else still logs in");

    // Guessing carol's password from ten addresses, ten each: the ceiling of 100 per username.
    for a in 0..10 {
        let from = format!("192.0.2.{a}");
        for _ in 0..10 {
            let res = app.client_from(&from).login("carol", "a guess").await;
            assert_eq!(res.status(), 401);
        }
    }
    let res = app
        .client_from("203.0.113.12")
        .login("carol", PASSWORD)
        .await;
    assert_eq!(
        res.status(),
        429,
        "the per-username ceiling holds across addresses"
    );

    // Without trusted proxies the header is ignored: the same claims share the peer's count.
    let Some(plain) = spawn_app_with(backend, crate::helpers::test_settings()).await else {
        return;
    };
    let acct = plain.account("Acme", UnlockPolicy::SelfService).await;
    plain.user(&acct, "alice").await;
    for n in 0..10 {
        let from = format!("198.51.100.{n}");
        let res = plain.client_from(&from).login("alice", "a guess").await;
        assert_eq!(res.status(), 401);
    }
    let res = plain
        .client_from("203.0.113.10")
        .login("alice", PASSWORD)
        .await;
    assert_eq!(
        res.status(),
        429,
        "a claimed address is not believed from an untrusted peer"
    );
}

/// A disabled member is never "verified", on either face, and nothing counts toward the lock.
async fn disabled_members_are_never_verified_and_nothing_is_counted(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    app.agent("sam").await;
    let right = app.pin_of(&alice).await;
    members::disable(&app.ctx, Actor::Cli, &alice)
        .await
        .unwrap();
    let token = app.token("sam").await;
    let verify = app.url(&format!(
        "/v2.0/users/{}/RAX-AUTH/phone-pin/verify",
        alice.id
    ));
    let http = reqwest::Client::new();
    for pin in [right.as_str(), "920385", "871694"] {
        let v: Value = http
            .post(&verify)
            .header("X-Auth-Token", &token)
            .json(&json!({"RAX-AUTH:phonePin":{"pin":pin}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let result = &v["RAX-AUTH:verifyPhonePinResult"];
        assert_eq!(result["authenticated"], false, "{v}");
        assert_eq!(result["failureCode"], "PP-002", "{v}");
    }
    let agent = app.logged_in("sam").await;
    let (status, _, page) = agent
        .post(
            "/agent",
            &[
                ("account", &acct.number),
                ("username", "alice"),
                ("pin", &right),
            ],
        )
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("data-outcome=\"disabled\""), "{page}");
    assert!(!page.contains("data-outcome=\"verified\""));
    assert_eq!(app.pin_row(&alice).await, ("ACTIVE".to_owned(), 0));
}

/// Sudo mode: wrong re-entries are throttled like logins (the 11th is refused even with the
/// right password), and a successful re-entry issues a new session id.
async fn password_reentry_is_throttled_and_renews_the_session_id(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.user(&acct, "alice").await;
    app.user(&acct, "bob").await;
    // A new session id after a successful re-entry; the old one is dead.
    let bob = app.logged_in("bob").await;
    let before = bob.session_cookie().expect("a session cookie");
    let (status, headers, _) = bob
        .post(
            "/profile/reauth",
            &[("password", PASSWORD), ("then", "show")],
        )
        .await;
    assert_eq!(status, 200);
    let after = crate::helpers::session_cookie_of(&headers).expect("a new session cookie");
    assert_ne!(before, after, "the elevated session has a new id");
    let old = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/profile"))
        .header("cookie", format!("pinpanel={before}"))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 303, "the pre-elevation id is dead");
    assert_eq!(bob.get("/profile").await.0, 200, "the new id works");

    let alice = app.logged_in("alice").await;
    for _ in 0..10 {
        let (status, _, _) = alice
            .post(
                "/profile/reauth",
                &[("password", "a wrong password"), ("then", "show")],
            )
            .await;
        assert_eq!(status, 422);
    }
    let (status, headers, body) = alice
        .post(
            "/profile/reauth",
            &[("password", PASSWORD), ("then", "show")],
        )
        .await;
    assert_eq!(status, 429, "{body}");
    assert!(headers.contains_key("retry-after"));
    assert!(body.contains("Too many attempts"), "{body}");
}

/// A 24-hour token shows and changes the PIN only within the re-auth window of its password
/// entry; later the GET omits the PIN and the change is 403 with a clear message.
async fn the_api_shows_and_changes_the_pin_only_within_the_reauth_window(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let pin = app.pin_of(&alice).await;
    let http = reqwest::Client::new();
    let fresh = app.token("alice").await;
    let old = app.token("alice").await;
    // The second token's password entry was 16 minutes ago (the window is 15).
    sqlx::query("UPDATE api_tokens SET created_at = created_at - 960 WHERE token_hash = $1")
        .bind(pinpanel::crypto::sha256_hex(old.as_bytes()))
        .execute(app.pool())
        .await
        .unwrap();
    let me = app.url(&format!("/v2.0/users/{}", alice.id));
    let get = |token: String| {
        let req = http.get(&me).header("X-Auth-Token", token);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    assert_eq!(
        get(fresh.clone()).await["user"]["RAX-AUTH:phonePin"],
        json!(pin)
    );
    let late = get(old.clone()).await;
    assert!(late["user"].get("RAX-AUTH:phonePin").is_none(), "{late}");
    assert_eq!(late["user"]["RAX-AUTH:phonePinState"], "ACTIVE");
    let change = |token: String, pin: &str| {
        let req = http
            .post(&me)
            .header("X-Auth-Token", token)
            .json(&json!({"user":{"RAX-AUTH:phonePin":pin}}));
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = change(old, "871694").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["forbidden"]["message"]
            .as_str()
            .unwrap()
            .contains("re-authentication window"),
        "{body}"
    );
    assert_eq!(app.pin_of(&alice).await, pin, "nothing changed");
    let (status, _) = change(fresh, "871694").await;
    assert_eq!(status, 200);
    assert_eq!(app.pin_of(&alice).await, "871694");
}

/// Visitors who are not logged in write no session row (the login form is protected by a
/// signed double-submit cookie instead), and throttled attempts are counted on the throttle,
/// with one audit row per window rather than one per attempt.
async fn anonymous_visitors_write_no_session_rows_and_refusals_are_counted_not_logged(
    app: TestApp,
) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.user(&acct, "alice").await;
    for _ in 0..20 {
        let res = reqwest::get(app.url("/login")).await.unwrap();
        assert_eq!(res.status(), 200);
    }
    for _ in 0..15 {
        app.client().login("alice", "a wrong password").await;
    }
    assert_eq!(count(app.pool(), "SELECT COUNT(*) FROM sessions").await, 0);
    assert_eq!(
        count(
            app.pool(),
            "SELECT COUNT(*) FROM audit_log WHERE event = 'login.failed'"
        )
        .await,
        10
    );
    assert_eq!(
        count(
            app.pool(),
            "SELECT COUNT(*) FROM audit_log WHERE event = 'login.throttled'"
        )
        .await,
        1,
        "five refusals, one audit row"
    );
    let refused = count(
        app.pool(),
        "SELECT CAST(MAX(refused) AS BIGINT) FROM throttle",
    )
    .await;
    assert_eq!(refused, 5, "each refusal is counted");
    // The form still works and still needs its token: without the cookie the token is void.
    let page = reqwest::get(app.url("/login"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = csrf_in(&page).unwrap();
    let res = reqwest::Client::new()
        .post(app.url("/login"))
        .form(&[
            ("username", "bob"),
            ("password", "x"),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "a token without its cookie is refused");
    app.user(&acct, "bob").await;
    assert_eq!(app.client().login("bob", PASSWORD).await.status(), 303);
    assert_eq!(count(app.pool(), "SELECT COUNT(*) FROM sessions").await, 1);
}

/// Audit rows older than the retention period are purged by the housekeeping every instance
/// runs; newer ones stay.
async fn old_audit_rows_are_purged(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.user(&acct, "alice").await;
    let now = pinpanel::store::now();
    for (days, event) in [(401, "old.event"), (399, "recent.event")] {
        sqlx::query(
            "INSERT INTO audit_log (at, event, actor_name, detail) VALUES ($1, $2, 'test', '')",
        )
        .bind(now - days * 24 * 3600)
        .bind(event)
        .execute(app.pool())
        .await
        .unwrap();
    }
    let removed = maintenance::run(&app.ctx).await.unwrap();
    assert_eq!(removed.audit_rows, 1);
    assert_eq!(
        count(
            app.pool(),
            "SELECT COUNT(*) FROM audit_log WHERE event = 'old.event'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            app.pool(),
            "SELECT COUNT(*) FROM audit_log WHERE event = 'recent.event'"
        )
        .await,
        1
    );
    assert!(
        count(
            app.pool(),
            "SELECT COUNT(*) FROM audit_log WHERE event = 'member.created'"
        )
        .await
            > 0
    );
}

/// Agents verify only: the panel offers them no unlock or reset, and the routes refuse them.
async fn agents_are_offered_no_unlock_or_reset_in_the_panel(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    app.agent("sam").await;
    app.lock(&alice).await;
    let sam = app.logged_in("sam").await;
    let (status, _, page) = sam
        .post(
            "/agent",
            &[
                ("account", &acct.number),
                ("username", "alice"),
                ("pin", "871694"),
            ],
        )
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("data-outcome=\"locked\""), "{page}");
    for word in ["/unlock", "/reset", ">Unlock<", "Reset PIN"] {
        assert!(!page.contains(word), "the agent page offers {word}");
    }
    for action in ["unlock", "reset"] {
        let (status, _, _) = sam
            .post(&format!("/users/{}/{action}", alice.id), &[])
            .await;
        assert_eq!(status, 403, "{action}");
    }
    assert_eq!(app.pin_row(&alice).await.0, "LOCKED");
}

/// What someone types as a username (an unknown one, a throttled one) is kept nowhere: not in
/// the throttle table, the audit log or the log, not even as a plain hash.
async fn what_is_typed_as_a_username_is_never_kept(backend: Backend) {
    let Some(app) = crate::helpers::spawn_app(backend).await else {
        return;
    };
    let server = Server::start(&app.db.url, &app.key_hex, "debug").await;
    let typed = "My-Secret-Passphrase";
    let http = reqwest::Client::new();
    for _ in 0..12 {
        http.post(server.url("/v2.0/tokens"))
            .json(&creds(typed, "whatever"))
            .send()
            .await
            .unwrap();
    }
    let lowered = typed.to_lowercase();
    let hash = pinpanel::crypto::sha256_hex(lowered.as_bytes());
    let mut stored = String::new();
    for q in [
        "SELECT key FROM throttle",
        "SELECT event || ' ' || actor_name || ' ' || detail FROM audit_log",
    ] {
        for row in sqlx::query_scalar::<_, String>(q)
            .fetch_all(app.pool())
            .await
            .unwrap()
        {
            stored.push_str(&row);
            stored.push('\n');
        }
    }
    assert!(stored.contains("login.throttled"), "{stored}");
    let log = server.log_text();
    assert!(log.contains("tokens"), "the log was captured");
    for (what, text) in [("as typed", typed), ("lowercased", lowered.as_str())] {
        assert!(
            !stored.to_lowercase().contains(&text.to_lowercase()),
            "{what} in the tables"
        );
        assert!(
            !log.to_lowercase().contains(&text.to_lowercase()),
            "{what} in the log"
        );
    }
    for n in [12, 16, 32] {
        assert!(
            !stored.contains(&hash[..n]),
            "a plain hash of it in the tables"
        );
    }
}

/// Slow clients cannot hold the server: a request head must arrive within the header timeout
/// (30 s by default; 1 s here), hundreds of half-sent requests do not stop others being served,
/// and a request whose body never finishes gets 503 when the request timeout passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_and_half_sent_requests_are_cut_off() {
    let app = spawn_app_with(
        Backend::Sqlite,
        ServeSettings {
            header_read_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(2),
            ..crate::helpers::test_settings()
        },
    )
    .await
    .unwrap();
    let mut half_sent = Vec::new();
    for _ in 0..300 {
        let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        s.write_all(b"GET /login HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        half_sent.push(s);
    }
    // Others are served meanwhile.
    let res = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(res.status(), 200);
    // Every half-sent connection is closed by the server (EOF), within a deadline.
    for s in half_sent.iter_mut().take(20) {
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("the server closes a half-sent request")
            .unwrap_or(0);
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(n == 0 || text.starts_with("HTTP/1.1 408"), "{text}");
    }
    // A body that never finishes: 503 at the request timeout.
    let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    s.write_all(
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 100\r\n\r\nusername=a",
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("an answer at the request timeout")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
}

/// A client's `X-Request-Id` is not trusted: every request gets our own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_id_is_always_our_own() {
    let app = crate::helpers::spawn_app(Backend::Sqlite).await.unwrap();
    let res = reqwest::Client::new()
        .get(app.url("/no/such/page"))
        .header("x-request-id", "forged-id")
        .send()
        .await
        .unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(id, "forged-id");
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let body = res.text().await.unwrap();
    assert!(body.contains(&id) && !body.contains("forged-id"), "{body}");
}

/// A flood of logins from many addresses is refused fast with 503 and `Retry-After` once the
/// hashing queue is full, instead of an ever-longer wait; logged-in pages are served meanwhile.
/// (A server process of its own: the hashing queue is per process.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_flood_gets_fast_503s_and_pages_stay_up() {
    let app = crate::helpers::spawn_app(Backend::Sqlite).await.unwrap();
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.user(&acct, "alice").await;
    let server = Server::start_with(
        &app.db.url,
        &app.key_hex,
        "warn",
        &[("PINPANEL_TRUSTED_PROXIES", "127.0.0.1")],
    )
    .await;
    let token = server.token("alice").await;
    let http = reqwest::Client::new();
    let url = server.url("/v2.0/tokens");
    let flood: Vec<_> = (0..300)
        .map(|n| {
            let req = http
                .post(&url)
                .header("x-forwarded-for", format!("10.9.{}.{}", n / 200, n % 200))
                .json(&creds(&format!("flood{n}"), "x"));
            tokio::spawn(async move {
                let res = req.send().await.unwrap();
                (
                    res.status().as_u16(),
                    res.headers().get("retry-after").is_some(),
                )
            })
        })
        .collect();
    let me = http
        .get(server.url("/v2.0/users"))
        .header("X-Auth-Token", &token)
        .send()
        .await
        .unwrap();
    assert!(
        me.status().as_u16() < 500,
        "pages are served during the flood"
    );
    let mut answers = Vec::new();
    for t in flood {
        answers.push(t.await.unwrap());
    }
    let busy = answers.iter().filter(|(s, r)| *s == 503 && *r).count();
    let checked = answers.iter().filter(|(s, _)| *s == 401).count();
    assert!(busy > 0, "the queue is bounded: {answers:?}");
    assert!(checked > 0, "and real checks still happen");
    assert_eq!(busy + checked, 300, "{answers:?}");
}

/// `--key` warns in `--help` that it shows in the process list.
#[test]
fn the_key_flag_warns_about_the_process_list() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pinpanel"))
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("process list"), "{text}");
    assert!(text.contains("PINPANEL_KEY_FILE"), "{text}");
}
