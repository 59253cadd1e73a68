//! Throttling, tried as an attacker would, on both backends: failed logins per username, per
//! address and per username from anywhere (reserved before the password is checked, given back
//! by a success), behind a proxy, password re-entries, verifications per agent, refusals
//! counted rather than logged, what is typed as a username kept nowhere, and a login flood
//! refused fast while pages stay up.

use pinpanel::domain::UnlockPolicy;
use pinpanel::service::{pins, ServiceError};
use serde_json::{json, Value};

use crate::dual;
use crate::helpers::process::Server;
use crate::helpers::wait::futures_join_all;
use crate::helpers::{behind_a_proxy, count, csrf_in, spawn_app_with, Backend, TestApp, PASSWORD};

dual!(
    parallel_wrong_passwords_are_checked_at_most_the_limit,
    a_successful_login_gives_back_its_reserved_hits,
    password_reentry_is_throttled_and_renews_the_session_id,
    anonymous_visitors_write_no_session_rows_and_refusals_are_counted_not_logged,
    failed_logins_are_throttled_per_username_without_revealing_it,
    failed_logins_are_throttled_per_address,
    verifications_are_throttled_per_agent,
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

async fn failed_logins_are_throttled_per_username_without_revealing_it(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.user(&acct, "alice").await;
    for name in ["alice", "nobody-at-all"] {
        for _ in 0..10 {
            assert_eq!(
                app.client().login(name, "wrong password").await.status(),
                401
            );
        }
        let res = app.client().login(name, PASSWORD).await;
        assert_eq!(
            res.status(),
            429,
            "{name}: the 11th try is refused, even with the right password"
        );
        let retry: i64 = res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry > 0 && retry <= 15 * 60);
        let body = res.text().await.unwrap();
        assert!(body.contains("Too many failed attempts."), "{body}");
    }
    // Another username is unaffected, and the limit is in the database: a second instance on
    // the same database refuses alice too.
    app.user(&acct, "bob").await;
    assert_eq!(app.client().login("bob", PASSWORD).await.status(), 303);
    let other = crate::helpers::spawn_second_instance(&app).await;
    assert_eq!(other.client().login("alice", PASSWORD).await.status(), 429);
}

async fn failed_logins_are_throttled_per_address(app: TestApp) {
    for n in 0..50 {
        assert_eq!(
            app.client()
                .login(&format!("user{n}"), "wrong password")
                .await
                .status(),
            401
        );
    }
    assert_eq!(
        app.client()
            .login("someone-else", "wrong password")
            .await
            .status(),
        429
    );
}

async fn verifications_are_throttled_per_agent(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let mut members = Vec::new();
    for n in 0..12 {
        members.push(app.user(&acct, &format!("m{n}")).await);
    }
    let agent = app.agent("sam").await;
    let other_agent = app.agent("sue").await;
    // 60 verifications (five per member, so none locks) go through...
    for m in &members {
        let wrong = app.wrong_pin_for(m).await;
        for _ in 0..5 {
            pins::verify(&app.ctx, &agent, m, &wrong, None)
                .await
                .unwrap();
        }
    }
    // ...the 61st within the minute is refused and counts nothing.
    let right = app.pin_of(&members[0]).await;
    let err = pins::verify(&app.ctx, &agent, &members[0], &right, None)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Throttled { .. }), "{err}");
    assert_eq!(app.pin_row(&members[0]).await, ("ACTIVE".to_owned(), 5));
    // Other agents are not affected.
    assert_eq!(
        pins::verify(&app.ctx, &other_agent, &members[0], &right, None)
            .await
            .unwrap(),
        pins::VerifyOutcome::Verified
    );
}
