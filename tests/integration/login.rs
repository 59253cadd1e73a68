//! Logging in and out (one password check for anyone, invited members too), sessions and the
//! API tokens beside them, CSRF, headers, isolation between members.

use pinpanel::domain::{Kind, Role, UnlockPolicy};
use pinpanel::service::links;

use crate::dual;
use crate::helpers::two_step::{now, totp_code};
use crate::helpers::{form_login_with, session_cookie_of, spawn_app, Backend, TestApp, PASSWORD};

dual!(
    wrong_password_and_unknown_user_look_the_same,
    session_cookie_changes_at_login_and_dies_at_logout,
    post_without_a_valid_csrf_token_is_refused_and_changes_nothing,
    disabled_members_cannot_log_in,
    one_members_session_never_shows_another_members_data,
    agents_land_on_the_verify_page,
    an_invited_member_costs_one_password_check_like_anyone,
);

dual!(
    backend: the_sessions_page_lists_api_tokens_and_security_changes_offer_to_end_them,
);

async fn wrong_password_and_unknown_user_look_the_same(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.user(&acct, "alice").await;
    let a = app.client();
    let wrong = a.login("alice", "not the password").await;
    let wrong_status = wrong.status();
    let wrong_body = wrong.text().await.unwrap();
    let b = app.client();
    let unknown = b.login("nobody-here", "not the password").await;
    let unknown_status = unknown.status();
    let unknown_body = unknown.text().await.unwrap();
    assert_eq!(wrong_status, 401);
    assert_eq!(unknown_status, wrong_status);
    let message = "The username or password is incorrect.";
    assert!(wrong_body.contains(message) && unknown_body.contains(message));
    // Apart from the echoed username and the CSRF token, the pages are identical.
    let strip = |body: &str, name: &str| {
        body.replace(name, "NAME")
            .lines()
            .filter(|l| !l.contains("csrf"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        strip(&wrong_body, "alice"),
        strip(&unknown_body, "nobody-here")
    );
    // Neither got a session.
    assert_eq!(a.get("/profile").await.0, 303);
}

async fn session_cookie_changes_at_login_and_dies_at_logout(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.user(&acct, "alice").await;
    // Raw requests with explicit cookies, so we see exactly what the server issues. An
    // attacker planted a session id of their choosing before the login.
    let before = "planted-by-an-attacker-0123456789";
    let login = form_login_with(&app.url(""), "alice", Some(before)).await;
    let res = login.response;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    assert_eq!(res.status(), 303);
    let after = session_cookie_of(res.headers()).expect("login sets a new session cookie");
    assert_ne!(before, after, "the session id must change at login");
    // The pre-login id is dead.
    let old = http
        .get(app.url("/profile"))
        .header("cookie", format!("pinpanel={before}"))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 303);
    let profile = http
        .get(app.url("/profile"))
        .header("cookie", format!("pinpanel={after}"))
        .send()
        .await
        .unwrap();
    assert_eq!(profile.status(), 200);
    let token = crate::helpers::csrf_in(&profile.text().await.unwrap()).unwrap();
    let out = http
        .post(app.url("/logout"))
        .header("cookie", format!("pinpanel={after}"))
        .form(&[("csrf_token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    assert!(out.headers().get("clear-site-data").is_some());
    let dead = http
        .get(app.url("/profile"))
        .header("cookie", format!("pinpanel={after}"))
        .send()
        .await
        .unwrap();
    assert_eq!(dead.status(), 303, "the cookie must be dead after logout");
    assert_eq!(dead.headers()["location"], "/login");
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE user_id IS NOT NULL")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(rows, 0, "logout deletes the session row");
}

async fn post_without_a_valid_csrf_token_is_refused_and_changes_nothing(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let c = app.logged_in("alice").await;
    let before = app.pin_of(&alice).await;
    for token in ["", "0000", "deadbeef"] {
        let res = c
            .http
            .post(c.url("/profile/support-pin"))
            .form(&[("pin", "871694"), ("csrf_token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "token {token:?}");
    }
    // A token from another session does not work either.
    let other = app.client();
    other.get("/login").await;
    let foreign = other.csrf();
    let res = c
        .http
        .post(c.url("/profile/support-pin"))
        .form(&[("pin", "871694"), ("csrf_token", &foreign)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // Cross-site POSTs are refused by the origin check even with the right token.
    let res = c
        .http
        .post(c.url("/profile/support-pin"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .form(&[("pin", "871694"), ("csrf_token", &c.csrf())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(app.pin_of(&alice).await, before, "nothing changed");
    // The same request with the right token works, so the refusals above were about the token.
    let (status, _, _) = c.post("/profile/support-pin", &[("pin", "871694")]).await;
    assert_eq!(status, 200);
    assert_eq!(app.pin_of(&alice).await, "871694");
}

async fn disabled_members_cannot_log_in(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let c = app.logged_in("alice").await;
    pinpanel::service::members::disable(&app.ctx, pinpanel::service::Actor::Cli, &alice)
        .await
        .unwrap();
    assert_eq!(c.get("/profile").await.0, 303, "disabling ends the session");
    let res = app.client().login("alice", PASSWORD).await;
    assert_eq!(res.status(), 401);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("The username or password is incorrect."));
}

async fn one_members_session_never_shows_another_members_data(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let other = app.account("Other Co", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let bob = app.user(&other, "bob").await;
    let a = app.logged_in("alice").await;
    let b = app.logged_in("bob").await;
    let (_, _, pa) = a.get("/profile").await;
    let (_, _, pb) = b.get("/profile").await;
    assert!(pa.contains("alice@example.com") && pa.contains("Acme"));
    assert!(!pa.contains("bob") && !pa.contains("Other Co"));
    assert!(pb.contains("bob@example.com") && !pb.contains("alice"));
    let (_, _, sa) = a.hx_post("/profile/support-pin/show", &[]).await;
    let (_, _, sb) = b.hx_post("/profile/support-pin/show", &[]).await;
    let pin_a = app.pin_of(&alice).await;
    let pin_b = app.pin_of(&bob).await;
    assert!(sa.contains(&pin_a) && !sa.contains(&pin_b));
    assert!(sb.contains(&pin_b) && !sb.contains(&pin_a));
}

async fn agents_land_on_the_verify_page(app: TestApp) {
    app.agent("sam").await;
    let c = app.client();
    let res = c.login("sam", PASSWORD).await;
    assert_eq!(res.headers()["location"], "/agent");
    let (status, _, body) = c.get("/agent").await;
    assert_eq!(status, 200);
    assert!(body.contains("Verify caller"));
    assert_eq!(c.get("/profile").await.1["location"], "/agent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_pages_get_a_real_404_page_and_wrong_methods_405() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite)
        .await
        .unwrap();
    let c = app.client();
    let (status, headers, body) = c.get("/nowhere").await;
    assert_eq!(status, 404);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(body.contains("There is nothing here") && body.contains("Request id"));
    let res = c.http.delete(c.url("/login")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert!(res.text().await.unwrap().contains("does not accept"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn healthz_answers_ok() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite)
        .await
        .unwrap();
    let (status, _, body) = app.client().get("/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_redirects_only_to_local_next_paths() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite)
        .await
        .unwrap();
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.admin(&acct, "ada").await;
    for (next, expected) in [
        ("/users", "/users"),
        // An administrator's home is the Overview.
        ("//evil.example/x", "/overview"),
        ("https://evil.example", "/overview"),
    ] {
        let c = app.client();
        c.get("/login").await;
        let res = c
            .http
            .post(c.url("/login"))
            .form(&[
                ("username", "ada"),
                ("password", PASSWORD),
                ("csrf_token", &c.csrf()),
                ("next", next),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["location"], expected, "next={next}");
    }
}

async fn the_sessions_page_lists_api_tokens_and_security_changes_offer_to_end_them(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.user(&acct, "alice").await;
    let web = app.logged_in("alice").await;
    let token = app.token("alice").await;
    let (_, _, page) = web.get("/profile/sessions").await;
    assert!(
        page.contains("API tokens") && page.contains("127.0.0.1"),
        "{page}"
    );
    let at = page.find("/profile/tokens/").expect("a revoke form");
    let revoke: String = page[at..].chars().take_while(|c| *c != '"').collect();
    let (status, _, page) = web.post(&revoke, &[]).await;
    assert_eq!(status, 200);
    assert!(page.contains("That API token is revoked."), "{page}");
    let res = reqwest::Client::new()
        .get(app.url("/v2.0/users"))
        .header("X-Auth-Token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // Regenerating recovery codes (and turning two-step login on) offers to end the others.
    let (secret, _) = crate::helpers::two_step::set_up_app(&web).await;
    let (_, _, page) = web
        .post(
            "/profile/two-step/recovery-codes",
            &[("password", PASSWORD)],
        )
        .await;
    assert!(
        page.contains("End every other session and API token"),
        "{page}"
    );
    let other = app
        .logged_in_two_step("alice", &totp_code(&secret, now() + 30))
        .await;
    let (_, _, page) = web.post("/profile/sessions/end-others", &[]).await;
    assert!(page.contains("ended"), "{page}");
    assert_eq!(other.get("/profile").await.0, 303);
}

async fn an_invited_member_costs_one_password_check_like_anyone(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let ada = app.admin(&acct, "ada").await;
    let new = links::NewMember {
        username: "bob".into(),
        full_name: "Bob".into(),
        email: "bob@example.com".into(),
        kind: Kind::User,
        role: Role::User,
    };
    links::invite(&app.ctx, &ada, &acct, new).await.unwrap();
    for who in ["bob", "nobody"] {
        let before = app.ctx.hashing.checks_run();
        let res = app.client().login(who, PASSWORD).await;
        assert_eq!(res.status(), 401, "{who}");
        assert_eq!(
            app.ctx.hashing.checks_run(),
            before + 1,
            "{who}: one argon2 run, as for a wrong password"
        );
    }
}
