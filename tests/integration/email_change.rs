//! Changing an e-mail address, on both backends: a person's own change takes effect only when
//! the new address opens its link; anyone else's request changes nothing until the member
//! accepts it; many requests at once beside the mail worker all succeed.

use std::time::Duration;

use pinpanel::domain::UnlockPolicy;
use pinpanel::service::{email, links, people, Actor, ServiceError};
use serde_json::{json, Value};

use crate::dual;
use crate::helpers::mail::{link_in, mailing_app, mails_to};
use crate::helpers::wait::eventually;
use crate::helpers::{path_of, Backend, TestApp, PASSWORD};

dual!(
    backend: an_own_address_changes_only_when_the_new_address_opens_its_link,
    an_administrators_request_changes_nothing_until_the_member_accepts,
    requests_that_read_then_write_all_succeed_at_once_beside_the_mail_worker,
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
