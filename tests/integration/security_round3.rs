//! The third round of security work (issue 23), each attack on both backends: taking an account
//! over through its e-mail address, the second step's ceiling, "Forgot password?" answering
//! without waiting on the database, invited members and the dummy hash, one-time links that die
//! with a security change, the first start's set-up, passkeys removed or removed twice at once,
//! API tokens on the sessions page, a key rotation that loses no PIN, and mail links over plain
//! HTTP.

use std::time::Duration;

use pinpanel::crypto::{KeySource, PinCipher, PinKey};
use pinpanel::domain::{Kind, Role, UnlockPolicy};
use pinpanel::service::mail::Delivery;
use pinpanel::service::{
    email, keys, links, members, password, people, pins, two_step, Actor, ServiceError,
};
use pinpanel::startup::{self, App, ServeSettings};
use pinpanel::store::DbOptions;
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::dual;
use crate::helpers::mail::{link_in, mailing_app, mails_to};
use crate::helpers::path_of;
use crate::helpers::two_step::{now, totp_code};
use crate::helpers::wait::eventually;
use crate::helpers::{
    fresh, spawn_app, spawn_app_with, test_settings, Backend, Client, TestApp, TestDb, PASSWORD,
};

dual!(
    backend: an_own_address_changes_only_when_the_new_address_opens_its_link,
    an_administrators_request_changes_nothing_until_the_member_accepts,
    forgot_password_answers_without_waiting_on_the_databases_writer,
    the_sessions_page_lists_api_tokens_and_security_changes_offer_to_end_them,
    mail_needs_a_public_url_that_is_https_or_this_machine,
    two_passkey_removals_at_once_keep_the_factor_a_role_requires,
    requests_that_read_then_write_all_succeed_at_once_beside_the_mail_worker,
);

dual!(
    twenty_wrong_second_steps_refuse_the_app_until_a_recovery_code,
    an_invited_member_costs_one_password_check_like_anyone,
    one_time_links_die_with_a_new_password_or_a_disabled_member,
    the_first_start_keeps_one_set_up_link_and_sets_up_in_one_transaction,
    a_seal_after_a_key_rotation_is_refused_and_nothing_is_lost,
);

/// `{"user":{…}}` of `GET /v2.0/users/{id}` with `token`.
async fn user_object(app: &TestApp, token: &str, id: i64) -> Value {
    let res = reqwest::Client::new()
        .get(app.url(&format!("/v2.0/users/{id}")))
        .header("X-Auth-Token", token)
        .send()
        .await
        .expect("GET user");
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.expect("JSON")["user"].clone()
}

/// `POST /v2.0/users/{id}` with `body`: (status, JSON).
async fn post_user(app: &TestApp, token: &str, id: i64, body: Value) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(app.url(&format!("/v2.0/users/{id}")))
        .header("X-Auth-Token", token)
        .json(&body)
        .send()
        .await
        .expect("POST user");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn an_own_address_changes_only_when_the_new_address_opens_its_link(backend: Backend) {
    let Some((app, smtp)) = mailing_app(backend).await else {
        return;
    };
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let web = app.logged_in("alice").await;
    let other = app.logged_in("alice").await;
    // The profile links to the page; the change needs the password again.
    let (_, _, profile) = web.get("/profile").await;
    assert!(profile.contains("E-mail address"), "{profile}");
    web.get("/profile/email").await;
    let (status, _, page) = web
        .post(
            "/profile/email",
            &[
                ("email", "alice@new.example"),
                ("password", "wrong password!"),
            ],
        )
        .await;
    assert_eq!(status, 422, "{page}");
    let (status, _, page) = web
        .post(
            "/profile/email",
            &[("email", "alice@new.example"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("A link is on its way"), "{page}");
    // The new address gets the link; the current one is told.
    let confirm = smtp
        .wait_for_subject("Confirm your new e-mail address")
        .await;
    assert_eq!(confirm.to(), "alice@new.example");
    let told = smtp
        .wait_for_subject("A change of your e-mail address was asked for")
        .await;
    assert_eq!(told.to(), "alice@example.com");
    // Until the link is opened, the old address is in force everywhere.
    let token = app.token("alice").await;
    assert_eq!(
        user_object(&app, &token, alice.id).await["email"],
        "alice@example.com"
    );
    links::request_password_link(&app.ctx, "alice@new.example", "192.0.2.9")
        .await
        .unwrap();
    assert_eq!(
        mails_to(&app, "password.link", "alice@new.example").await,
        0
    );
    // A password link sent before the change dies with it.
    links::request_password_link(&app.ctx, "alice", "192.0.2.9")
        .await
        .unwrap();
    let reset = smtp.wait_for_subject("Choose a new password").await;
    let reset_path = path_of(&link_in(&reset, "http"));
    // Opening the link shows what it does; only the form changes anything.
    let link = path_of(&link_in(&confirm, "http"));
    let anon = app.client();
    let (status, _, page) = anon.get(&link).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("alice@new.example"), "{page}");
    assert_eq!(
        user_object(&app, &token, alice.id).await["email"],
        "alice@example.com"
    );
    let (status, _, page) = anon.post(&link, &[("answer", "accept")]).await;
    assert_eq!(status, 200, "{page}");
    let now_user = people::user_by_username(&app.ctx, "alice").await.unwrap();
    assert_eq!(now_user.email.as_deref(), Some("alice@new.example"));
    // The old address is told; the link works once; sessions, tokens and links are gone.
    let changed = smtp
        .wait_for_subject("Your e-mail address was changed")
        .await;
    assert_eq!(changed.to(), "alice@example.com");
    assert_eq!(anon.post(&link, &[("answer", "accept")]).await.0, 404);
    assert_eq!(other.get("/profile").await.0, 303);
    let res = reqwest::Client::new()
        .get(app.url(&format!("/v2.0/users/{}", alice.id)))
        .header("X-Auth-Token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let (status, _, _) = anon.get(&reset_path).await;
    assert_eq!(status, 404, "the password link sent before is void");
}

async fn an_administrators_request_changes_nothing_until_the_member_accepts(backend: Backend) {
    let Some((app, smtp)) = mailing_app(backend).await else {
        return;
    };
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.admin(&acct, "ada").await;
    let alice = app.user(&acct, "alice").await;
    let bob = app.user(&acct, "bob").await;
    let t_ada = app.token("ada").await;
    // The attack: an administrator's token sets the address, then "Forgot password?".
    let (status, v) = post_user(
        &app,
        &t_ada,
        alice.id,
        json!({"user":{"email":"attacker@evil.example"}}),
    )
    .await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(v["user"]["email"], "alice@example.com");
    links::request_password_link(&app.ctx, "attacker@evil.example", "192.0.2.9")
        .await
        .unwrap();
    links::request_password_link(&app.ctx, "alice", "192.0.2.9")
        .await
        .unwrap();
    assert_eq!(
        mails_to(&app, "password.link", "attacker@evil.example").await,
        0
    );
    // The current address is told who asked, with a link to answer.
    let told = smtp
        .wait_for_subject("A change of your e-mail address was asked for")
        .await;
    assert_eq!(told.to(), "alice@example.com");
    assert!(told.text.contains("ada asked"), "{}", told.text);
    // The member sees it on their profile and declines it there.
    let web = app.logged_in("alice").await;
    let (_, _, profile) = web.get("/profile").await;
    assert!(
        profile.contains("asked to change your e-mail address to")
            && profile.contains("attacker@evil.example"),
        "{profile}"
    );
    let (status, _, _) = web
        .post("/profile/email/answer", &[("answer", "decline")])
        .await;
    assert_eq!(status, 200);
    let (status, _, _) = app.client().get(&path_of(&link_in(&told, "http"))).await;
    assert_eq!(status, 404, "a declined request's link is dead");
    assert_eq!(
        people::user_by_username(&app.ctx, "alice")
            .await
            .unwrap()
            .email
            .as_deref(),
        Some("alice@example.com")
    );
    // A second request, accepted with the link mailed to the current address.
    let (status, _) = post_user(
        &app,
        &t_ada,
        alice.id,
        json!({"user":{"email":"alice@work.example"}}),
    )
    .await;
    assert_eq!(status, 202);
    let second = eventually("the second notice", Duration::from_secs(30), async || {
        smtp.messages()
            .into_iter()
            .filter(|m| m.subject() == "A change of your e-mail address was asked for")
            .nth(1)
    })
    .await;
    let answer = path_of(&link_in(&second, "http"));
    let anon = app.client();
    let (_, _, page) = anon.get(&answer).await;
    assert!(page.contains("Your password, to accept"), "{page}");
    // Accepting takes the member's password (issue 36); without it, or with a wrong one,
    // nothing changes.
    for password in ["", "not her password"] {
        let (status, _, page) = anon
            .post(&answer, &[("answer", "accept"), ("password", password)])
            .await;
        assert_eq!(status, 422, "{page}");
    }
    let address = || async {
        people::user_by_username(&app.ctx, "alice")
            .await
            .unwrap()
            .email
            .unwrap()
    };
    assert_eq!(address().await, "alice@example.com");
    let (status, _, page) = anon
        .post(&answer, &[("answer", "accept"), ("password", PASSWORD)])
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("a link is on its way to alice@work.example"),
        "{page}"
    );
    // Still the old address until the new one opens its own link (issue 36: it never
    // confirmed).
    assert_eq!(address().await, "alice@example.com");
    let confirm = smtp
        .wait_for_subject("Confirm your new e-mail address")
        .await;
    assert_eq!(confirm.to(), "alice@work.example");
    let confirm = path_of(&link_in(&confirm, "http"));
    anon.get(&confirm).await;
    let (status, _, page) = anon.post(&confirm, &[("answer", "accept")]).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(address().await, "alice@work.example");
    assert_eq!(web.get("/profile").await.0, 303, "her sessions ended");

    // Logged in, accepting asks for the password too, and a request accepted without it did
    // not open "sudo mode" (the PIN stays hidden).
    let (status, _) = post_user(
        &app,
        &t_ada,
        alice.id,
        json!({"user":{"email":"alice@third.example"}}),
    )
    .await;
    assert_eq!(status, 202);
    let web = app.logged_in("alice").await;
    app.age_sessions("reauth_at", 3600).await;
    let (status, _, page) = web
        .post("/profile/email/answer", &[("answer", "accept")])
        .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("Enter your password to accept"), "{page}");
    let (_, _, section) = web.hx_post("/profile/support-pin/show", &[]).await;
    assert!(!section.contains(&app.pin_of(&alice).await), "{section}");
    let (status, _, page) = web
        .post(
            "/profile/email/answer",
            &[("answer", "accept"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("a link is on its way to alice@third.example"),
        "{page}"
    );
    assert_eq!(address().await, "alice@work.example");
    // A member's stolen token older than the re-auth window cannot ask for its own change, and
    // another member cannot ask for anyone's.
    let t_bob = app.token("bob").await;
    sqlx::query("UPDATE api_tokens SET created_at = created_at - 3600 WHERE user_id = $1")
        .bind(bob.id)
        .execute(app.pool())
        .await
        .unwrap();
    let (status, v) = post_user(
        &app,
        &t_bob,
        bob.id,
        json!({"user":{"email":"bob@evil.example"}}),
    )
    .await;
    assert_eq!(status, 403, "{v}");
    assert!(v.to_string().contains("re-authentication"), "{v}");
    let (status, _) = post_user(
        &app,
        &t_bob,
        alice.id,
        json!({"user":{"email":"x@evil.example"}}),
    )
    .await;
    assert_eq!(status, 404, "a member cannot even see another");
    // The service refuses an administrator's request for themselves: that is their own change.
    let ada = people::user_by_username(&app.ctx, "ada").await.unwrap();
    let err = email::request_for(&app.ctx, Actor::User(&ada), "ada", &ada, "a@b.example")
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::ReauthRequired), "{err}");
}

async fn forgot_password_answers_without_waiting_on_the_databases_writer(backend: Backend) {
    let Some((app, smtp)) = mailing_app(backend).await else {
        return;
    };
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.user(&acct, "alice").await;
    let c = app.client();
    c.get("/password/forgot").await;
    // Another connection holds the writer: on SQLite the database's write lock, on PostgreSQL
    // the throttle table (the first table the work that follows a match writes).
    let mut holder = crate::helpers::connect_one(&app.db.url).await;
    match backend {
        Backend::Sqlite => {
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut holder)
                .await
                .unwrap();
        }
        Backend::Postgres => {
            sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
            sqlx::query("LOCK TABLE throttle IN EXCLUSIVE MODE")
                .execute(&mut holder)
                .await
                .unwrap();
        }
    }
    // Both a name that exists and one that does not are answered while the writer is held:
    // the answer waits for nothing that depends on a match.
    for who in ["alice", "nobody-here"] {
        let answer = tokio::time::timeout(
            Duration::from_secs(5),
            c.post("/password/forgot", &[("who", who)]),
        )
        .await
        .unwrap_or_else(|_| panic!("the answer for {who} waited on the database"));
        assert_eq!(answer.0, 200, "{who}");
    }
    assert_eq!(
        mails_to(&app, "password.link", "alice@example.com").await,
        0
    );
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    // Then the work goes on: the link arrives.
    let mail = smtp.wait_for_subject("Choose a new password").await;
    assert_eq!(mail.to(), "alice@example.com");
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

async fn mail_needs_a_public_url_that_is_https_or_this_machine(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let key = PinKey::generate().to_hex();
    let build = |public: Option<&str>, mail: bool| {
        let url = db.url.clone();
        let key = key.clone();
        let public = public.map(|p| p.parse().expect("a URL"));
        async move {
            let keys = KeySource {
                key: Some(key),
                key_file: None,
            };
            let opened = startup::open(&url, &keys, &DbOptions::default())
                .await
                .expect("open");
            let settings = ServeSettings {
                public_url: public,
                delivery: if mail {
                    Delivery::smtp("smtp://127.0.0.1:1").expect("an SMTP URL")
                } else {
                    Delivery::None
                },
                ..test_settings()
            };
            App::build(opened, "127.0.0.1:0".parse().expect("addr"), &settings)
                .await
                .map(|_| ())
        }
    };
    let refused = build(None, true).await.unwrap_err().to_string();
    assert!(refused.contains("PINPANEL_PUBLIC_URL"), "{refused}");
    let refused = build(Some("http://panel.example.com"), false)
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("https://"), "{refused}");
    build(Some("https://panel.example.com"), true)
        .await
        .unwrap();
    build(Some("http://localhost:8080"), true).await.unwrap();
    build(Some("http://panel.localhost:8080"), false)
        .await
        .unwrap();
    build(None, false).await.unwrap();
}

async fn twenty_wrong_second_steps_refuse_the_app_until_a_recovery_code(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let setup = two_step::totp::begin_totp(&app.ctx, &alice, &fresh(&alice))
        .await
        .unwrap();
    let codes = two_step::totp::confirm_totp(
        &app.ctx,
        &alice,
        &fresh(&alice),
        &totp_code(&setup.secret, now()),
    )
    .await
    .unwrap()
    .expect("recovery codes");
    let right = |at: u64| totp_code(&setup.secret, at);
    // Each code of the app works once per time step; the test does not wait for the next step.
    let next_step = || async {
        sqlx::query("UPDATE totp_secrets SET last_step = 0")
            .execute(app.pool())
            .await
            .unwrap();
    };
    let wrong = |at: u64| {
        let r = right(at);
        if r == "000000" {
            "111111".to_owned()
        } else {
            "000000".to_owned()
        }
    };
    let alerts = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM outbox WHERE kind = 'two_step.alert'")
            .fetch_one(app.pool())
            .await
            .unwrap()
    };
    // The rate limit (10 in 15 minutes) is not what is tested here: its window passes.
    let forget_rate = || async {
        sqlx::query("DELETE FROM throttle")
            .execute(app.pool())
            .await
            .unwrap();
    };
    for n in 1..=19 {
        if n % 9 == 0 {
            forget_rate().await;
        }
        let err = two_step::check_code(&app.ctx, &alice, &wrong(now()), "192.0.2.1")
            .await
            .unwrap_err();
        assert!(matches!(err, ServiceError::WrongCode), "{n}: {err}");
        // One warning after five, then not again within the hour.
        let expected = i64::from(n >= two_step::ALERT_AFTER_FAILURES);
        assert_eq!(alerts().await, expected, "after {n} wrong codes");
    }
    // A right code by the person does not start the count again.
    forget_rate().await;
    next_step().await;
    two_step::check_code(&app.ctx, &alice, &right(now()), "192.0.2.1")
        .await
        .unwrap();
    two_step::check_code(&app.ctx, &alice, &wrong(now()), "192.0.2.1")
        .await
        .unwrap_err();
    // Twenty in a row: the app's codes are refused, the right one too.
    next_step().await;
    let err = two_step::check_code(&app.ctx, &alice, &right(now()), "192.0.2.1")
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::CodesRefused), "{err}");
    // A recovery code opens it and starts the count again.
    two_step::check_code(&app.ctx, &alice, &codes[0], "192.0.2.1")
        .await
        .unwrap();
    next_step().await;
    two_step::check_code(&app.ctx, &alice, &right(now()), "192.0.2.1")
        .await
        .unwrap();
    // An administrator can let the codes work again too.
    let ada = app.admin(&acct, "ada").await;
    sqlx::query("UPDATE users SET second_step_failures = 20 WHERE id = $1")
        .bind(alice.id)
        .execute(app.pool())
        .await
        .unwrap();
    forget_rate().await;
    next_step().await;
    assert!(matches!(
        two_step::check_code(&app.ctx, &alice, &right(now()), "192.0.2.1").await,
        Err(ServiceError::CodesRefused)
    ));
    two_step::allow_codes_again(&app.ctx, &ada, &alice)
        .await
        .unwrap();
    two_step::check_code(&app.ctx, &alice, &right(now()), "192.0.2.1")
        .await
        .unwrap();
    // A password that passed with the second step still due is not a login.
    sqlx::query("DELETE FROM throttle")
        .execute(app.pool())
        .await
        .unwrap();
    let c = app.client();
    let res = c.login("alice", PASSWORD).await;
    assert_eq!(res.headers()["location"], "/login/second-step");
    let events: Vec<String> = sqlx::query_scalar(
        "SELECT event FROM audit_log WHERE subject_id = $1 AND event LIKE 'login.%' ORDER BY id DESC",
    )
    .bind(alice.id)
    .fetch_all(app.pool())
    .await
    .unwrap();
    assert_eq!(
        events.first().map(String::as_str),
        Some("login.password_ok")
    );
    assert!(!events.iter().any(|e| e == "login.ok"), "{events:?}");
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

async fn one_time_links_die_with_a_new_password_or_a_disabled_member(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let ada = app.admin(&acct, "ada").await;
    let invite = |name: &str| links::NewMember {
        username: name.into(),
        full_name: name.into(),
        email: format!("{name}@example.com"),
        kind: Kind::User,
        role: Role::User,
    };
    let token_of = |link: Option<String>| {
        link.expect("no mail: the link is shown")
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned()
    };
    // An invitation dies when the password is set another way.
    let bob = links::invite(&app.ctx, &ada, &acct, invite("bob"))
        .await
        .unwrap();
    let token = token_of(bob.link_to_pass_on);
    assert!(links::invitation_holder(&app.ctx, &token).await.is_ok());
    password::set_password(
        &app.ctx,
        Actor::Cli,
        &bob.member,
        SecretString::from(PASSWORD),
    )
    .await
    .unwrap();
    assert!(matches!(
        links::invitation_holder(&app.ctx, &token).await,
        Err(ServiceError::NotFound)
    ));
    // And when the member is disabled.
    let carl = links::invite(&app.ctx, &ada, &acct, invite("carl"))
        .await
        .unwrap();
    let token = token_of(carl.link_to_pass_on);
    members::disable(&app.ctx, Actor::User(&ada), &carl.member)
        .await
        .unwrap();
    members::set_enabled(&app.ctx, Actor::User(&ada), &carl.member, true)
        .await
        .unwrap();
    assert!(matches!(
        links::invitation_holder(&app.ctx, &token).await,
        Err(ServiceError::NotFound)
    ));
    // A password link dies when the person changes their password.
    let alice = app.user(&acct, "alice").await;
    links::request_password_link(&app.ctx, "alice", "192.0.2.1")
        .await
        .unwrap();
    let live: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM one_time_links WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(alice.id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(live, 1);
    password::change_own_password(
        &app.ctx,
        &alice,
        SecretString::from(PASSWORD),
        SecretString::from("another good password"),
        SecretString::from("another good password"),
    )
    .await
    .unwrap();
    let live: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM one_time_links WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(alice.id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(live, 0);
}

async fn the_first_start_keeps_one_set_up_link_and_sets_up_in_one_transaction(app: TestApp) {
    let first = links::setup_token(&app.ctx).await.unwrap().unwrap();
    let second = links::setup_token(&app.ctx).await.unwrap().unwrap();
    assert!(!links::setup_is_open(&app.ctx, &first).await.unwrap());
    assert!(links::setup_is_open(&app.ctx, &second).await.unwrap());
    // A username an agent already has: nothing is created, and the link still works.
    app.agent("root").await;
    let setup = |username: &str| links::Setup {
        account_name: "Acme".into(),
        username: username.into(),
        full_name: "Ada Admin".into(),
        email: None,
        password: SecretString::from(PASSWORD),
        again: SecretString::from(PASSWORD),
    };
    let err = links::complete_setup(&app.ctx, &second, setup("root"))
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Conflict(_)), "{err}");
    let accounts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(accounts, 0);
    assert!(links::setup_is_open(&app.ctx, &second).await.unwrap());
    let ada = links::complete_setup(&app.ctx, &second, setup("ada"))
        .await
        .unwrap();
    assert!(ada.is_admin());
    assert!(!links::setup_is_open(&app.ctx, &second).await.unwrap());
}

async fn two_passkey_removals_at_once_keep_the_factor_a_role_requires(backend: Backend) {
    let settings = ServeSettings {
        require_two_step: vec![Role::Admin],
        ..test_settings()
    };
    let Some(app) = spawn_app_with(backend, settings).await else {
        return;
    };
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let ada = app.admin(&acct, "ada").await;
    let mut ids = Vec::new();
    for n in 0..2 {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO passkeys (user_id, cred_id, passkey, name, created_at) \
             VALUES ($1, $2, '{}', $3, 0) RETURNING id",
        )
        .bind(ada.id)
        .bind(format!("cred-{n}"))
        .bind(format!("Passkey {n}"))
        .fetch_one(app.pool())
        .await
        .unwrap();
        ids.push(id);
    }
    let remove = |id: i64| {
        let (ctx, ada) = (app.ctx.clone(), ada.clone());
        tokio::spawn(async move {
            two_step::passkeys::remove_passkey(&ctx, &ada, id, SecretString::from(PASSWORD)).await
        })
    };
    let (a, b) = (remove(ids[0]), remove(ids[1]));
    let results = [a.await.unwrap(), b.await.unwrap()];
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results
        .iter()
        .any(|r| matches!(r, Err(ServiceError::Forbidden(_)))));
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM passkeys WHERE user_id = $1")
        .bind(ada.id)
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(left, 1);
}

async fn a_seal_after_a_key_rotation_is_refused_and_nothing_is_lost(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let ada = app.admin(&acct, "ada").await;
    let alice = app.user(&acct, "alice").await;
    let pin = app.pin_of(&alice).await;
    let web = app.logged_in("alice").await;
    // The operator rotates the key while this instance still runs with the old one.
    let old = PinCipher::new(&PinKey::parse(&app.key_hex).unwrap());
    let new_key = PinKey::generate();
    keys::rotate(&app.ctx.db, &old, &PinCipher::new(&new_key))
        .await
        .unwrap();
    // Every seal with the old key is refused, with the rotation named, and nothing is written.
    let (status, _, page) = web.post("/profile/support-pin", &[("pin", "871694")]).await;
    assert_eq!(status, 503, "{page}");
    assert!(page.contains("new key"), "{page}");
    let err = pins::change(&app.ctx, &alice, &alice, &fresh(&alice), "871694")
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::KeyRotated), "{err}");
    assert!(err.to_string().contains("rotated"), "{err}");
    let err = pins::reset(&app.ctx, Actor::User(&ada), &alice, false)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::KeyRotated), "{err}");
    let err = members::create_person(
        &app.ctx,
        Actor::Cli,
        members::NewPerson {
            account: Some(acct.clone()),
            username: "carl".into(),
            full_name: "Carl".into(),
            email: None,
            role: Role::User,
            kind: Kind::User,
            password: SecretString::from(PASSWORD),
            with_pin: true,
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ServiceError::KeyRotated), "{err}");
    assert!(people::user_by_username(&app.ctx, "carl").await.is_err());
    // With the new key every PIN reads as it was.
    let keys = KeySource {
        key: Some(new_key.to_hex()),
        key_file: None,
    };
    let opened = startup::open(&app.db.url, &keys, &DbOptions::default())
        .await
        .unwrap();
    let shown = pins::show(&opened.ctx, &alice, &alice, &fresh(&alice))
        .await
        .unwrap();
    assert_eq!(shown.expose(), pin);

    // An instance started with the new key takes the forms and counts the throttle counters of
    // the one still running with the old key (issue 36: both were derived from the PIN key, so
    // counters split until the old one restarted).
    let newer = crate::helpers::spawn_instance_with_key(&app, new_key.to_hex()).await;
    let csrf = web.csrf();
    let res = web
        .http
        .post(format!("http://{}/profile/sessions/end-others", newer.addr))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_ne!(
        res.status(),
        403,
        "the old instance's form is taken by the new one"
    );
    let limit = app.ctx.limits.login_per_user_address.max;
    for _ in 0..limit {
        assert_eq!(
            app.client()
                .login("alice", "wrong password!")
                .await
                .status(),
            401
        );
    }
    let at_newer = Client::new(&newer, reqwest::header::HeaderMap::new());
    assert_eq!(
        at_newer.login("alice", "wrong password!").await.status(),
        429,
        "the counter the old instance spent refuses at the new one"
    );
}

/// Twenty e-mail change requests at once (each reads the member's pending change, then writes
/// its own and a mail), while the mail worker marks mail sent: on SQLite a transaction that read
/// first could not then write once another had committed (SQLITE_BUSY, a 500), unless every
/// transaction takes the writer's lock when it begins.
async fn requests_that_read_then_write_all_succeed_at_once_beside_the_mail_worker(
    backend: Backend,
) {
    let Some((app, smtp)) = mailing_app(backend).await else {
        return;
    };
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.admin(&acct, "ada").await;
    let mut members = Vec::new();
    for i in 0..20 {
        members.push(app.user(&acct, &format!("m{i:02}")).await);
    }
    let t_ada = app.token("ada").await;
    let runs: Vec<_> = members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let (url, token, id) = (
                app.url(&format!("/v2.0/users/{}", m.id)),
                t_ada.clone(),
                m.id,
            );
            tokio::spawn(async move {
                let res = reqwest::Client::new()
                    .post(url)
                    .header("X-Auth-Token", token)
                    .json(&json!({"user":{"email": format!("new{i}@example.org")}}))
                    .send()
                    .await
                    .expect("POST user");
                (id, res.status().as_u16())
            })
        })
        .collect();
    for run in runs {
        let (id, status) = run.await.unwrap();
        assert_eq!(status, 202, "member {id}");
    }
    // Every request's mail to the member's current address went out.
    smtp.wait_for_subject_n("A change of your e-mail address was asked for", 20)
        .await;
}
