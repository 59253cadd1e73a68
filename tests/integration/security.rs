//! Security and reliability controls (SECURITY.md names the test for each): session timeouts
//! and endings, throttling across instances, several instances on one database, crash safety,
//! hostile input, secrets kept out of logs and tables.

use std::time::Duration;

use pinpanel::domain::{Role, UnlockPolicy};
use pinpanel::service::{members, Actor};
use pinpanel::startup::ServeSettings;
use serde_json::{json, Value};

use crate::dual;
use crate::helpers::process::Server;
use crate::helpers::wait::eventually;
use crate::helpers::{
    connect, form_login, session_cookie_of, spawn_app_with, Backend, Client, TestApp, PASSWORD,
};

dual!(
    idle_sessions_end_even_when_requests_only_read,
    sessions_end_at_the_absolute_timeout,
    password_role_and_disable_changes_end_sessions_and_tokens,
    a_deleted_session_is_never_written_back,
    only_agents_can_make_a_pin_fail,
    hostile_form_input_never_breaks_anything,
    names_that_look_like_sql_or_html_are_stored_intact_and_shown_escaped,
    no_secret_reaches_the_logs_the_audit_table_or_the_sessions_table,
);

dual!(backend: kill_9_during_a_verification_storm);

async fn idle_sessions_end_even_when_requests_only_read(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.user(&acct, "alice").await;
    let c = app.logged_in("alice").await;
    app.age_sessions("seen_at", 29 * 60).await;
    assert_eq!(c.get("/profile").await.0, 200, "29 idle minutes are fine");
    app.age_sessions("seen_at", 31 * 60).await;
    let (status, headers, _) = c.get("/profile").await;
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/login?expired=1");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE user_id IS NOT NULL")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(left, 0, "the expired session's row is gone");
    assert!(c
        .get("/login?expired=1")
        .await
        .2
        .contains("Your session has ended."));
}

async fn sessions_end_at_the_absolute_timeout(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.user(&acct, "alice").await;
    let c = app.logged_in("alice").await;
    app.age_sessions("auth_at", 11 * 3600 + 59 * 60).await;
    assert_eq!(c.get("/profile").await.0, 200);
    app.age_sessions("auth_at", 12 * 3600 + 60).await;
    assert_eq!(
        c.get("/profile").await.0,
        303,
        "however active, 12 hours end it"
    );
}

async fn password_role_and_disable_changes_end_sessions_and_tokens(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.admin(&acct, "alice").await;
    // The account keeps an enabled administrator when alice is demoted and disabled.
    app.admin(&acct, "bob").await;
    let api = reqwest::Client::new();
    let me = app.url(&format!("/v2.0/users/{}", alice.id));
    for what in ["password", "role", "disable"] {
        let web = app.logged_in("alice").await;
        let t = app.token("alice").await;
        assert_eq!(
            api.get(&me)
                .header("X-Auth-Token", &t)
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        let user = pinpanel::store::users::by_id(app.pool(), alice.id)
            .await
            .unwrap()
            .unwrap();
        match what {
            "password" => pinpanel::service::password::set_password(
                &app.ctx,
                Actor::Cli,
                &user,
                secrecy::SecretString::from(PASSWORD),
            )
            .await
            .unwrap(),
            "role" => members::set_role(&app.ctx, Actor::Cli, &user, Role::User)
                .await
                .unwrap(),
            _ => members::disable(&app.ctx, Actor::Cli, &user).await.unwrap(),
        }
        assert_eq!(
            web.get("/profile").await.0,
            303,
            "{what}: the web session ended"
        );
        assert_eq!(
            api.get(&me)
                .header("X-Auth-Token", &t)
                .send()
                .await
                .unwrap()
                .status(),
            401,
            "{what}: the token ended"
        );
    }
    assert_eq!(
        app.client().login("alice", PASSWORD).await.status(),
        401,
        "disabled"
    );
}

async fn a_deleted_session_is_never_written_back(app: TestApp) {
    use tower_sessions::session::{Id, Record};
    use tower_sessions::SessionStore;
    let store = pinpanel::store::sessions::DbSessionStore::new(
        app.pool().clone(),
        pinpanel::web::session::USER_ID_KEY,
        pinpanel::web::session::PERSON_KEY,
    );
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let mut record = Record {
        id: Id::default(),
        data: Default::default(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
    };
    record.data.insert("uid".into(), json!(alice.id));
    store.create(&mut record).await.unwrap();
    assert!(store.load(&record.id).await.unwrap().is_some());
    // A logout deletes it while a slow request still holds the record...
    store.delete(&record.id).await.unwrap();
    // ...which then saves its changes: nothing comes back.
    record.data.insert("seen_at".into(), json!(123));
    store.save(&record).await.unwrap();
    assert!(store.load(&record.id).await.unwrap().is_none());
    // The table keys rows by a hash: the id itself is nowhere in it.
    let rows: Vec<(String, Vec<u8>)> = sqlx::query_as("SELECT id_hash, data FROM sessions")
        .fetch_all(app.pool())
        .await
        .unwrap();
    let id = record.id.to_string();
    assert!(rows
        .iter()
        .all(|(h, d)| !h.contains(&id) && !String::from_utf8_lossy(d).contains(&id)));

    // Over HTTP: a request that finishes after a logout does not revive the session.
    let c = app.logged_in("alice").await;
    app.age_sessions("seen_at", 120).await; // the next read will write seen_at
    let http = c.http.clone();
    let url = c.url("/profile");
    let token = c.csrf();
    let (read, out) = tokio::join!(
        http.get(&url).send(),
        c.http
            .post(c.url("/logout"))
            .form(&[("csrf_token", token)])
            .send()
    );
    assert!(read.is_ok() && out.unwrap().status() == 303);
    assert_eq!(
        c.get("/profile").await.0,
        303,
        "logged out stays logged out"
    );
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE user_id IS NOT NULL")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(rows, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_session_cookie_is_host_prefixed_and_secure_when_secure() {
    let secure = ServeSettings {
        cookie_secure: true,
        ..crate::helpers::test_settings()
    };
    let app = spawn_app_with(Backend::Sqlite, secure).await.unwrap();
    let app_user = app.account("Acme", UnlockPolicy::SelfService).await;
    app.user(&app_user, "alice").await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = http.get(app.url("/login")).send().await.unwrap();
    let form_cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        form_cookie.starts_with("__Host-pinpanel-form="),
        "{form_cookie}"
    );
    let csrf = crate::helpers::csrf_in(&res.text().await.unwrap()).unwrap();
    let res = http
        .post(app.url("/login"))
        .header("cookie", form_cookie.split(';').next().unwrap())
        .form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("__Host-pinpanel="))
        .expect("the session cookie");
    for c in [&form_cookie, &cookie] {
        for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(c.contains(attr), "{attr} in {c}");
        }
        assert!(!c.contains("Domain"));
    }
    assert!(!cookie.contains("Domain"));
    assert!(res.headers()["strict-transport-security"]
        .to_str()
        .unwrap()
        .contains("max-age="));
}

/// "Can an attacker lock a victim's PIN at will?" Only agents can make a verification fail; a
/// member, an administrator or an anonymous client cannot count a single failure.
async fn only_agents_can_make_a_pin_fail(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let victim = app.user(&acct, "victim").await;
    app.admin(&acct, "ada").await;
    app.user(&acct, "mallory").await;
    let wrong = app.wrong_pin_for(&victim).await;
    let http = reqwest::Client::new();
    let verify = app.url(&format!(
        "/v2.0/users/{}/RAX-AUTH/phone-pin/verify",
        victim.id
    ));
    let body = json!({"RAX-AUTH:phonePin":{"pin": wrong}});
    assert_eq!(
        http.post(&verify)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    for who in ["mallory", "ada", "victim"] {
        let t = &app.token(who).await;
        for _ in 0..6 {
            assert_eq!(
                http.post(&verify)
                    .header("X-Auth-Token", t)
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .status(),
                403,
                "{who}"
            );
        }
        let web = app.logged_in(who).await;
        assert_eq!(
            web.post(
                "/agent",
                &[
                    ("account", &acct.number),
                    ("username", "victim"),
                    ("pin", &wrong)
                ]
            )
            .await
            .0,
            403
        );
    }
    assert_eq!(app.pin_row(&victim).await, ("ACTIVE".to_owned(), 0));
}

async fn hostile_form_input_never_breaks_anything(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.admin(&acct, "alice").await;
    app.agent("sam").await;
    let before = app.pin_of(&alice).await;
    let long = "9".repeat(10 * 1024);
    let nasty = [
        "\u{0}\u{1}\u{7f}\r\n",
        long.as_str(),
        "' OR 1=1 --",
        "<script>alert(1)</script>",
        "%00",
        "١٢٣٤٥٦",
    ];
    let member = app.logged_in("alice").await;
    let agent = app.logged_in("sam").await;
    let routes: [(&Client, &str, &[&str]); 6] = [
        (&member, "/profile/support-pin", &["pin"]),
        (&member, "/profile/reauth", &["password", "then"]),
        (&member, "/users/policy", &["unlock_policy"]),
        (&agent, "/agent", &["account", "username", "pin"]),
        (&member, "/profile/support-pin/show", &[]),
        (&member, "/profile/support-pin/unlock", &[]),
    ];
    for (client, path, fields) in routes {
        for value in nasty {
            let form: Vec<(&str, &str)> = fields.iter().map(|f| (*f, value)).collect();
            let (status, _, body) = client.post(path, &form).await;
            assert!(
                status < 500,
                "{path} with {:?}: {status}",
                &value[..value.len().min(20)]
            );
            assert!(
                !body.contains("<script>alert(1)</script>"),
                "{path} echoed markup unescaped"
            );
        }
    }
    // Invalid UTF-8 and a malformed body: a clear 4xx.
    let raw = member
        .http
        .post(member.url("/profile/support-pin"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-csrf-token", member.csrf())
        .body(vec![b'p', b'i', b'n', b'=', 0xff, 0xfe])
        .send()
        .await
        .unwrap();
    assert!(raw.status().is_client_error(), "{}", raw.status());
    let big = member
        .http
        .post(member.url("/profile/support-pin"))
        .header("x-csrf-token", member.csrf())
        .form(&[("pin", "1".repeat(70 * 1024))])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);
    // Logins with hostile usernames.
    for value in nasty {
        let res = app.client().login(value, value).await;
        assert!(
            res.status() == 401 || res.status() == 429,
            "{}",
            res.status()
        );
    }
    assert_eq!(app.pin_of(&alice).await, before, "nothing changed");
}

async fn names_that_look_like_sql_or_html_are_stored_intact_and_shown_escaped(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.admin(&acct, "ada").await;
    let name = "Robert'); DROP TABLE users;-- <img src=x onerror=alert(1)> & \"co\"";
    members::create_person(
        &app.ctx,
        Actor::Cli,
        members::NewPerson {
            account: Some(acct.clone()),
            username: "bobby".into(),
            full_name: name.into(),
            email: None,
            role: Role::User,
            kind: pinpanel::domain::Kind::Contact,
            password: secrecy::SecretString::from(PASSWORD),
            with_pin: true,
        },
    )
    .await
    .unwrap();
    let stored: String = sqlx::query_scalar("SELECT full_name FROM users WHERE username = 'bobby'")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(stored, name, "stored intact");
    let c = app.logged_in("ada").await;
    let (_, _, page) = c.get("/users").await;
    assert!(!page.contains("<img src=x"), "rendered escaped");
    assert!(
        page.contains("Robert&#39;); DROP TABLE users;-- &#60;img src=x onerror=alert(1)&#62; &#38; &#34;co&#34;"),
        "{page}"
    );
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(users, 2);
}

/// A whole journey with tracing at TRACE in a real server process: no PIN, password, session
/// id, CSRF token or API token in its log, the audit table or the sessions table.
async fn no_secret_reaches_the_logs_the_audit_table_or_the_sessions_table(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.admin(&acct, "alice").await;
    let bob = app.user(&acct, "bob").await;
    app.agent("sam").await;
    let server = Server::start(&app.db.url, &app.key_hex, "trace").await;
    let login = form_login(&server.url(""), "alice").await;
    let csrf1 = login.page_csrf;
    let form_cookie = login.form_cookie;
    let cookie = session_cookie_of(login.response.headers()).expect("a session after login");
    let http = reqwest::Client::new();
    let with_cookie = format!("pinpanel={cookie}");
    let profile = http
        .get(server.url("/profile"))
        .header("cookie", &with_cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf2 = crate::helpers::csrf_in(&profile).unwrap();
    let post = |path: &str, form: Vec<(&str, &str)>| {
        let mut form = form;
        form.push(("csrf_token", &csrf2));
        http.post(server.url(path))
            .header("cookie", &with_cookie)
            .form(&form)
            .send()
    };
    post("/profile/support-pin/show", vec![]).await.unwrap();
    post("/profile/support-pin", vec![("pin", "871694")])
        .await
        .unwrap();
    post("/profile/support-pin", vec![("pin", "111123")])
        .await
        .unwrap();
    post(
        "/profile/reauth",
        vec![("password", "a wrong password"), ("then", "show")],
    )
    .await
    .unwrap();
    let api_token = server.token("sam").await;
    let bob_pin = app.pin_of(&bob).await;
    let api = reqwest::Client::new();
    for pin in [bob_pin.as_str(), "920385"] {
        api.post(server.url(&format!("/v2.0/users/{}/RAX-AUTH/phone-pin/verify", bob.id)))
            .header("X-Auth-Token", &api_token)
            .json(&json!({"RAX-AUTH:phonePin":{"pin":pin}}))
            .send()
            .await
            .unwrap();
    }
    let alice_token = server.token("alice").await;
    api.get(server.url(&format!("/v2.0/users/{}", alice.id)))
        .header("X-Auth-Token", &alice_token)
        .send()
        .await
        .unwrap();
    // Revoking a token names it in the path.
    let revoked = server.token("alice").await;
    let res = api
        .delete(server.url(&format!("/v2.0/tokens/{revoked}")))
        .header("X-Auth-Token", &revoked)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    post("/logout", vec![]).await.unwrap();

    let log = server.log_text();
    assert!(
        log.contains("pin.changed") && log.contains("TRACE"),
        "the log was captured at TRACE"
    );
    let mut tables = String::new();
    for q in [
        "SELECT event || ' ' || actor_name || ' ' || detail FROM audit_log",
        "SELECT id_hash FROM sessions",
    ] {
        for row in sqlx::query_scalar::<_, String>(q)
            .fetch_all(app.pool())
            .await
            .unwrap()
        {
            tables.push_str(&row);
            tables.push('\n');
        }
    }
    let pool = connect(&app.db.url).await;
    for data in sqlx::query_scalar::<_, Vec<u8>>("SELECT data FROM sessions")
        .fetch_all(&pool)
        .await
        .unwrap()
    {
        tables.push_str(&String::from_utf8_lossy(&data));
    }
    for (what, secret) in [
        ("the new PIN", "871694"),
        ("a refused PIN", "111123"),
        ("bob's PIN", bob_pin.as_str()),
        ("a wrong PIN", "920385"),
        ("the password", PASSWORD),
        ("a wrong password", "a wrong password"),
        ("the session id", cookie.as_str()),
        ("the login CSRF token", csrf1.as_str()),
        ("the login form's cookie", form_cookie.as_str()),
        ("the CSRF token", csrf2.as_str()),
        ("an API token", api_token.as_str()),
        ("another API token", alice_token.as_str()),
        ("a revoked API token", revoked.as_str()),
    ] {
        assert!(!log.contains(secret), "{what} is in the server log");
        assert!(
            !tables.contains(secret),
            "{what} is in the audit or sessions table"
        );
    }
}

/// Two `pinpanel serve` processes on one PostgreSQL: 40 concurrent wrong verifications split
/// across both count exactly 6; a session made on one works on the other; logging out on one
/// ends it on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_counters_and_sessions() {
    let Some(app) = crate::helpers::spawn_app(Backend::Postgres).await else {
        return;
    };
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    app.agent("sam").await;
    let wrong = app.wrong_pin_for(&alice).await;
    let a = Server::start(&app.db.url, &app.key_hex, "warn").await;
    let b = Server::start(&app.db.url, &app.key_hex, "warn").await;
    let ta = a.token("sam").await;
    let tb = b.token("sam").await;
    let http = reqwest::Client::new();
    let mut tasks = Vec::new();
    for n in 0..40 {
        let (server, token) = if n % 2 == 0 { (&a, &ta) } else { (&b, &tb) };
        let req = http
            .post(server.url(&format!(
                "/v2.0/users/{}/RAX-AUTH/phone-pin/verify",
                alice.id
            )))
            .header("X-Auth-Token", token.clone())
            .json(&json!({"RAX-AUTH:phonePin":{"pin": wrong}}));
        tasks.push(tokio::spawn(async move {
            let v: Value = req.send().await.unwrap().json().await.unwrap();
            v["RAX-AUTH:verifyPhonePinResult"]["failureCode"]
                .as_str()
                .unwrap()
                .to_owned()
        }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    assert_eq!(
        codes.iter().filter(|c| *c == "PP-003").count(),
        6,
        "{codes:?}"
    );
    assert_eq!(codes.iter().filter(|c| *c == "PP-004").count(), 34);
    assert_eq!(app.pin_row(&alice).await, ("LOCKED".to_owned(), 6));

    // A session made on A is valid on B; a logout on B ends it on A.
    let res = form_login(&a.url(""), "alice").await.response;
    assert_eq!(res.status(), 303);
    // Cookies are per host:port; carry the session cookie over to B by hand.
    let cookie = format!(
        "pinpanel={}",
        session_cookie_of(res.headers()).expect("a session after login")
    );
    let web = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let on_b = web
        .get(b.url("/profile"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(on_b.status(), 200, "the session made on A works on B");
    let csrf = crate::helpers::csrf_in(&on_b.text().await.unwrap()).unwrap();
    let out = web
        .post(b.url("/logout"))
        .header("cookie", &cookie)
        .form(&[("csrf_token", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    let on_a = web
        .get(a.url("/profile"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(on_a.status(), 303, "logging out on B ends the session on A");
}

/// `kill -9` of the server in the middle of a storm of verifications leaves a consistent count
/// and state; a locked PIN is still locked after the restart.
async fn kill_9_during_a_verification_storm(backend: Backend) {
    let Some(app) = crate::helpers::spawn_app(backend).await else {
        return;
    };
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let mut members = Vec::new();
    for n in 0..8 {
        members.push(app.user(&acct, &format!("m{n}")).await);
    }
    for n in 0..4 {
        app.agent(&format!("agent{n}")).await;
    }
    let first_pin = app.pin_of(&members[0]).await;
    let mut server = Server::start(&app.db.url, &app.key_hex, "warn").await;
    let mut tokens = Vec::new();
    for n in 0..4 {
        tokens.push(server.token(&format!("agent{n}")).await);
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..160 {
        let m = &members[i % members.len()];
        let req = http
            .post(server.url(&format!("/v2.0/users/{}/RAX-AUTH/phone-pin/verify", m.id)))
            .header("X-Auth-Token", tokens[i % tokens.len()].clone())
            .json(&json!({"RAX-AUTH:phonePin":{"pin": "920385"}}));
        tasks.push(tokio::spawn(async move {
            req.send().await.map(|r| r.status().as_u16())
        }));
    }
    // Kill as soon as the storm has visibly started.
    let pool = app.pool().clone();
    eventually("the storm started", Duration::from_secs(20), async || {
        let counted: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(failures), 0) AS BIGINT) FROM support_pins",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        counted > 0
    })
    .await;
    server.kill9().await;
    for t in tasks {
        let _ = t.await.unwrap();
    }
    let check = |pool: sqlx::AnyPool, members: Vec<pinpanel::domain::User>| async move {
        for m in &members {
            let (state, failures): (String, i64) =
                sqlx::query_as("SELECT state, failures FROM support_pins WHERE user_id = $1")
                    .bind(m.id)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            let counted: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM audit_log WHERE subject_id = $1 AND event = 'pin.verify_failed' AND detail LIKE 'failure %'",
            )
            .bind(m.id)
            .fetch_one(&pool)
            .await
            .unwrap();
            assert!(failures <= 6, "{} counted {failures}", m.username);
            assert_eq!(
                state == "LOCKED",
                failures == 6,
                "{}: {state} with {failures} failures",
                m.username
            );
            assert_eq!(
                counted, failures,
                "{}: the audit log and the counter agree",
                m.username
            );
        }
    };
    check(pool.clone(), members.clone()).await;
    // Lock one for sure, crash again, restart: still locked.
    let server = Server::start(&app.db.url, &app.key_hex, "warn").await;
    let t = server.token("agent0").await;
    for _ in 0..6 {
        http.post(server.url(&format!(
            "/v2.0/users/{}/RAX-AUTH/phone-pin/verify",
            members[0].id
        )))
        .header("X-Auth-Token", &t)
        .json(&json!({"RAX-AUTH:phonePin":{"pin": "920385"}}))
        .send()
        .await
        .unwrap();
    }
    let mut server = server;
    server.kill9().await;
    let server = Server::start(&app.db.url, &app.key_hex, "warn").await;
    let t = server.token("agent1").await;
    let v: Value = http
        .post(server.url(&format!(
            "/v2.0/users/{}/RAX-AUTH/phone-pin/verify",
            members[0].id
        )))
        .header("X-Auth-Token", &t)
        .json(&json!({"RAX-AUTH:phonePin":{"pin": first_pin}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["RAX-AUTH:verifyPhonePinResult"]["failureCode"], "PP-004",
        "still locked after the restart"
    );
    check(pool, members).await;
}

/// 200 concurrent requests that write (verifications) and read (pages) on SQLite: none fails
/// with "database is locked" or any other error.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_serves_200_concurrent_requests_without_database_is_locked() {
    let app = crate::helpers::spawn_app(Backend::Sqlite).await.unwrap();
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let mut members = Vec::new();
    for n in 0..40 {
        members.push(app.user(&acct, &format!("m{n}")).await);
    }
    let mut tokens = Vec::new();
    for n in 0..4 {
        app.agent(&format!("agent{n}")).await;
        tokens.push(app.token(&format!("agent{n}")).await);
    }
    let web = app.logged_in("m0").await;
    let http = reqwest::Client::new();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let fut = if i % 4 == 3 {
            web.http.get(web.url("/profile")).send()
        } else {
            http.post(app.url(&format!(
                "/v2.0/users/{}/RAX-AUTH/phone-pin/verify",
                members[i % 40].id
            )))
            .header("X-Auth-Token", tokens[i % 4].clone())
            .json(&json!({"RAX-AUTH:phonePin":{"pin": "920385"}}))
            .send()
        };
        tasks.push(tokio::spawn(fut));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap().unwrap().status().as_u16());
    }
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let counted: i64 = sqlx::query_scalar("SELECT CAST(SUM(failures) AS BIGINT) FROM support_pins")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(counted, 150, "every verification was counted once");
}

/// The server stops gracefully on SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_shuts_the_server_down_cleanly() {
    let app = crate::helpers::spawn_app(Backend::Sqlite).await.unwrap();
    let mut server = Server::start(&app.db.url, &app.key_hex, "info").await;
    assert_eq!(
        reqwest::get(server.url("/healthz")).await.unwrap().status(),
        200
    );
    let status = server.stop().await;
    assert!(status.success(), "{status:?}");
    assert!(server.log_text().contains("shutting down"));
}

/// Every route of the panel and the API, with every status it gave, carries the security
/// headers: a strict CSP, nosniff, a referrer policy, no-store (static files aside), and no
/// server banner.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_route_answers_with_the_security_headers() {
    let app = crate::helpers::spawn_app(Backend::Sqlite).await.unwrap();
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let ada = app.admin(&acct, "ada").await;
    let alice = app.user(&acct, "alice").await;
    app.agent("sam").await;
    let anon = app.client();
    let ada_c = app.logged_in("ada").await;
    let sam_c = app.logged_in("sam").await;
    let http = reqwest::Client::new();
    let (ada_t, sam_t) = (app.token("ada").await, app.token("sam").await);
    let a = alice.id;
    let mut checked = Vec::new();
    let mut check =
        |label: String, status: u16, headers: reqwest::header::HeaderMap, expected: u16| {
            assert_eq!(status, expected, "{label}");
            let csp = headers
                .get("content-security-policy")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            for part in [
                "default-src 'self'",
                "frame-ancestors 'none'",
                "object-src 'none'",
                "base-uri 'none'",
            ] {
                assert!(csp.contains(part), "{label}: CSP without {part}");
            }
            assert!(
                !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
                "{label}"
            );
            assert_eq!(headers["x-content-type-options"], "nosniff", "{label}");
            assert_eq!(headers["referrer-policy"], "no-referrer", "{label}");
            assert_eq!(headers["x-frame-options"], "DENY", "{label}");
            assert!(
                !headers.contains_key("server") && !headers.contains_key("x-powered-by"),
                "{label}"
            );
            if !label.contains("/static/") {
                assert_eq!(headers["cache-control"], "no-store", "{label}");
            }
            checked.push(label);
        };
    for (client, path, expected) in [
        (&ada_c, "/".to_owned(), 303),
        (&anon, "/login".to_owned(), 200),
        (&ada_c, "/profile".to_owned(), 200),
        (&ada_c, "/profile/support-pin".to_owned(), 200),
        (&ada_c, "/profile/support-pin/edit".to_owned(), 200),
        (&ada_c, "/profile/support-pin/unlock".to_owned(), 303),
        (&ada_c, "/users".to_owned(), 200),
        (&ada_c, format!("/users/{a}/unlock"), 200),
        (&ada_c, format!("/users/{a}/reset"), 200),
        (&sam_c, "/agent".to_owned(), 200),
        (&anon, "/healthz".to_owned(), 200),
        (&anon, "/static/app.css".to_owned(), 200),
        (&anon, "/static/htmx-2.0.11.min.js".to_owned(), 200),
        (&anon, "/nowhere".to_owned(), 404),
    ] {
        let (status, headers, _) = client.get(&path).await;
        check(format!("GET {path}"), status, headers, expected);
    }
    for (client, path, form, expected) in [
        (&ada_c, "/profile/support-pin/show".to_owned(), vec![], 200),
        (
            &ada_c,
            "/profile/support-pin".to_owned(),
            vec![("pin", "871694")],
            200,
        ),
        (
            &ada_c,
            "/profile/support-pin/unlock".to_owned(),
            vec![],
            200,
        ),
        (
            &ada_c,
            "/profile/reauth".to_owned(),
            vec![("password", "wrong"), ("then", "show")],
            422,
        ),
        (
            &ada_c,
            "/users/policy".to_owned(),
            vec![("unlock_policy", "admins")],
            200,
        ),
        (&ada_c, format!("/users/{a}/unlock"), vec![], 409),
        (&ada_c, format!("/users/{a}/reset"), vec![], 200),
        (
            &sam_c,
            "/agent".to_owned(),
            vec![
                ("account", acct.number.as_str()),
                ("username", "alice"),
                ("pin", "920385"),
            ],
            200,
        ),
        (&ada_c, "/logout".to_owned(), vec![], 303),
    ] {
        let (status, headers, _) = client.post(&path, &form).await;
        check(format!("POST {path}"), status, headers, expected);
    }
    let login = anon
        .http
        .post(anon.url("/login"))
        .form(&[
            ("username", "x"),
            ("password", "y"),
            ("csrf_token", &anon.csrf()),
        ])
        .send()
        .await
        .unwrap();
    check(
        "POST /login".into(),
        login.status().as_u16(),
        login.headers().clone(),
        401,
    );
    let wrong_method = anon.http.delete(anon.url("/login")).send().await.unwrap();
    check(
        "DELETE /login".into(),
        wrong_method.status().as_u16(),
        wrong_method.headers().clone(),
        405,
    );
    let u = |p: &str| app.url(p);
    for (method, path, token, body, expected) in [
        (
            "POST",
            u("/v2.0/tokens"),
            None,
            Some(json!({"auth":{"passwordCredentials":{"username":"ada","password":PASSWORD}}})),
            200,
        ),
        (
            "DELETE",
            u("/v2.0/tokens/not-mine"),
            Some(&ada_t),
            None,
            404,
        ),
        ("GET", u("/v2.0/users"), Some(&ada_t), None, 200),
        (
            "GET",
            u(&format!("/v2.0/users/{}", ada.id)),
            Some(&ada_t),
            None,
            200,
        ),
        (
            "POST",
            u(&format!("/v2.0/users/{}", ada.id)),
            Some(&ada_t),
            Some(json!({"user":{"RAX-AUTH:phonePin":"136983"}})),
            200,
        ),
        (
            "POST",
            u(&format!("/v2.0/users/{a}/RAX-AUTH/phone-pin/verify")),
            Some(&sam_t),
            Some(json!({"RAX-AUTH:phonePin":{"pin":"920385"}})),
            200,
        ),
        (
            "PUT",
            u(&format!("/v2.0/users/{a}/RAX-AUTH/phone-pin/unlock")),
            Some(&sam_t),
            None,
            403,
        ),
        (
            "POST",
            u(&format!("/v2.0/users/{a}/RAX-AUTH/phone-pin/reset")),
            Some(&ada_t),
            None,
            204,
        ),
        ("GET", u("/v2.0/users"), None, None, 401),
        ("GET", u("/v2.0/nothing"), Some(&ada_t), None, 404),
    ] {
        let mut req = http.request(method.parse().unwrap(), &path);
        if let Some(t) = token {
            req = req.header("X-Auth-Token", t.as_str());
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        check(
            format!("{method} {path}"),
            res.status().as_u16(),
            res.headers().clone(),
            expected,
        );
    }
    assert_eq!(checked.len(), 35);
}

/// Property test over the form and JSON decoders: whatever bytes arrive at a route that takes
/// a body, the answer is never a server error.
#[test]
fn random_bodies_never_cause_a_server_error() {
    use proptest::prelude::*;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (app, member, agent, token, alice_id) = rt.block_on(async {
        let app = crate::helpers::spawn_app(Backend::Sqlite).await.unwrap();
        let acct = app.account("Acme", UnlockPolicy::SelfService).await;
        let alice = app.admin(&acct, "alice").await;
        app.agent("sam").await;
        let member = app.logged_in("alice").await;
        let agent = app.logged_in("sam").await;
        let token = app.token("sam").await;
        (app, member, agent, token, alice.id)
    });
    let form_routes = [
        "/profile/support-pin",
        "/profile/reauth",
        "/users/policy",
        "/agent",
        "/login",
        "/profile/support-pin/unlock",
    ];
    let json_routes = [
        "/v2.0/tokens".to_owned(),
        format!("/v2.0/users/{alice_id}"),
        format!("/v2.0/users/{alice_id}/RAX-AUTH/phone-pin/verify"),
    ];
    let form_text = "([a-z_]{1,12}=[^&]{0,24}&?){0,5}";
    let json_text = r#"\{"(auth|user|RAX-AUTH:phonePin)":\{"(pin|RAX-AUTH:phonePin|passwordCredentials|x)":("[^"]{0,12}"|[0-9]{1,9}|null|true|\{\}|\[\])\}\}"#;
    let bodies = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        form_text.prop_map(String::into_bytes),
        json_text.prop_map(String::into_bytes),
    ];
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 200,
        ..ProptestConfig::default()
    });
    runner
        .run(&(0usize..9, bodies), |(route, body)| {
            let status = rt.block_on(async {
                if route < form_routes.len() {
                    let path = form_routes[route];
                    let client = if path == "/agent" { &agent } else { &member };
                    client
                        .http
                        .post(client.url(path))
                        .header("content-type", "application/x-www-form-urlencoded")
                        .header("x-csrf-token", client.csrf())
                        .body(body.clone())
                        .send()
                        .await
                        .unwrap()
                        .status()
                        .as_u16()
                } else {
                    reqwest::Client::new()
                        .post(app.url(&json_routes[route - form_routes.len()]))
                        .header("content-type", "application/json")
                        .header("X-Auth-Token", token.as_str())
                        .body(body.clone())
                        .send()
                        .await
                        .unwrap()
                        .status()
                        .as_u16()
                }
            });
            prop_assert!(
                status < 500,
                "route {route} answered {status} to {:?}",
                String::from_utf8_lossy(&body)
            );
            Ok(())
        })
        .unwrap();
    drop(app);
}
