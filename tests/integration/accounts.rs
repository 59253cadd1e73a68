//! Running an account from the browser (over HTTP here; the browser journey is in browser.rs):
//! invitations, member changes and the last administrator, passwords, sessions, forgotten
//! passwords, activity, and the first start. Mail goes to a real SMTP server.

use std::time::Duration;

use pinpanel::domain::{Role, UnlockPolicy};
use pinpanel::service::{members, people, Actor};

use crate::dual;
use crate::helpers::mail::{link_in, mailing_app, mails_to};
use crate::helpers::process::Server;
use crate::helpers::{path_of, Backend, Client, TestApp, PASSWORD};

dual!(
    without_mail_the_invitation_link_is_shown_once_and_works_once,
    members_are_disabled_enabled_promoted_and_an_administrator_always_stays,
    a_password_change_checks_the_rules_and_ends_the_other_sessions,
    people_see_and_end_their_sessions,
    the_activity_page_is_for_the_accounts_administrators_filtered_and_exported,
);

dual!(
    backend: an_invitation_mail_leads_to_a_password_and_a_login,
    a_forgotten_password_is_reset_from_the_mail_once,
    the_first_start_prints_a_set_up_link_that_works_once,
    forgot_password_answers_without_waiting_on_the_databases_writer,
);

/// Sets a password through a one-time link page as a person would: GET, then POST.
async fn choose_password(app: &TestApp, path: &str, password: &str) -> (u16, String) {
    let c = app.client();
    let (status, _, page) = c.get(path).await;
    if status != 200 {
        return (status, page);
    }
    let (status, headers, body) = c
        .post(path, &[("new", password), ("again", password)])
        .await;
    if status == 303 {
        return (status, headers["location"].to_str().unwrap().to_owned());
    }
    (status, body)
}

async fn add_member(c: &Client, username: &str) -> (u16, String) {
    let (status, _, page) = c
        .post(
            "/users/add",
            &[
                ("username", username),
                ("name", &format!("Full {username}")),
                ("email", &format!("{username}@example.com")),
                ("kind", "user"),
                ("role", "user"),
            ],
        )
        .await;
    (status, page)
}

async fn an_invitation_mail_leads_to_a_password_and_a_login(backend: Backend) {
    let Some((app, smtp)) = mailing_app(backend).await else {
        return;
    };
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.admin(&acct, "ada").await;
    let ada = app.logged_in("ada").await;
    let (status, page) = add_member(&ada, "bob").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("was sent an invitation"), "{page}");
    assert!(
        !page.contains("/invitation/"),
        "no link on the page when mail goes out"
    );
    let got = smtp.wait_for(1).await;
    assert_eq!(got[0].to(), "bob@example.com");
    assert!(got[0].subject().contains("invited"), "{}", got[0].subject());
    let link = link_in(&got[0], "http://localhost:");
    assert!(link.contains("/invitation/"), "{link}");
    // The link waited in the outbox sealed, and is gone from it once sent.
    let token = link.rsplit('/').next().unwrap();
    let bodies: Vec<Vec<u8>> = sqlx::query_scalar("SELECT text_body FROM outbox")
        .fetch_all(app.pool())
        .await
        .unwrap();
    assert!(bodies
        .iter()
        .all(|b| !String::from_utf8_lossy(b).contains(token)));
    // Before the password is set, bob cannot log in.
    assert_eq!(app.client().login("bob", PASSWORD).await.status(), 401);
    let (status, to) = choose_password(&app, &path_of(&link), PASSWORD).await;
    assert_eq!((status, to.as_str()), (303, "/login?password=set"));
    let bob = app.logged_in("bob").await;
    let (_, _, profile) = bob.get("/profile").await;
    assert!(profile.contains("Full bob"));
    // bob has a generated PIN.
    assert_eq!(
        app.pin_row(&people::user_by_username(&app.ctx, "bob").await.unwrap())
            .await
            .0,
        "ACTIVE"
    );
    // The link works once.
    let (status, page) = choose_password(&app, &path_of(&link), "another fine password").await;
    assert_eq!(status, 404);
    assert!(page.contains("has been used already"), "{page}");
}

async fn without_mail_the_invitation_link_is_shown_once_and_works_once(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.admin(&acct, "ada").await;
    let ada = app.logged_in("ada").await;
    let (status, page) = add_member(&ada, "bob").await;
    assert_eq!(status, 200);
    assert!(page.contains("Mail is not configured, so the invitation was not sent."));
    let at = page.find("/invitation/").expect("the link is shown");
    let path: String = page[at..].chars().take_while(|c| *c != '<').collect();
    assert!(
        !ada.get("/users").await.2.contains("/invitation/"),
        "shown once"
    );
    // Refusals: a taken username, a bad address; nothing is created.
    let (status, page) = add_member(&ada, "bob").await;
    assert_eq!(status, 422);
    assert!(page.contains("is taken"), "{page}");
    let (status, _, page) = ada
        .post(
            "/users/add",
            &[
                ("username", "carl"),
                ("name", "Carl"),
                ("email", "not an address"),
                ("kind", "user"),
                ("role", "user"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("is not an e-mail address"), "{page}");
    assert!(people::user_by_username(&app.ctx, "carl").await.is_err());
    // A common password is refused with the reason; a good one works, once.
    let (status, page) = choose_password(&app, &path, "password12345").await;
    assert_eq!(status, 422);
    assert!(page.contains("commonly used passwords"), "{page}");
    let (status, _) = choose_password(&app, &path, "too short").await;
    assert_eq!(status, 422);
    let (status, _) = choose_password(&app, &path, PASSWORD).await;
    assert_eq!(status, 303);
    assert_eq!(app.client().login("bob", PASSWORD).await.status(), 303);
    let (status, _) = choose_password(&app, &path, PASSWORD).await;
    assert_eq!(status, 404, "a link works once");
}

async fn members_are_disabled_enabled_promoted_and_an_administrator_always_stays(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let ada = app.admin(&acct, "ada").await;
    let bob = app.user(&acct, "bob").await;
    let admin = app.logged_in("ada").await;
    let bobs = app.logged_in("bob").await;
    // The confirmation page without JavaScript, then the POST.
    let (status, _, confirm) = admin.get(&format!("/users/{}/disable", bob.id)).await;
    assert_eq!(status, 200);
    assert!(confirm.contains("Disable Full bob (bob)?"), "{confirm}");
    // The page without JavaScript says what the dialog says: the sessions and tokens end.
    assert!(
        confirm.contains("Their sessions and API tokens end at once"),
        "{confirm}"
    );
    let (status, _, page) = admin.post(&format!("/users/{}/disable", bob.id), &[]).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("is disabled"));
    assert_eq!(
        bobs.get("/profile").await.0,
        303,
        "disabling ends their sessions"
    );
    assert_eq!(app.client().login("bob", PASSWORD).await.status(), 401);
    let (status, _, _) = admin.post(&format!("/users/{}/enable", bob.id), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(app.client().login("bob", PASSWORD).await.status(), 303);
    let (_, _, page) = admin
        .post(&format!("/users/{}/make-admin", bob.id), &[])
        .await;
    assert!(page.contains("is now an administrator"), "{page}");
    // Nobody disables or demotes themselves.
    for action in ["disable", "make-user"] {
        let (status, _, page) = admin
            .post(&format!("/users/{}/{action}", ada.id), &[])
            .await;
        assert_eq!(status, 409, "{action}: {page}");
        assert!(
            page.contains("themselves") || page.contains("own role"),
            "{page}"
        );
    }
    let (_, _, page) = admin
        .post(&format!("/users/{}/make-user", bob.id), &[])
        .await;
    assert!(page.contains("is now a user"), "{page}");
    // The last administrator stays, even from the command line.
    let err = members::disable(&app.ctx, Actor::Cli, &ada)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("enabled administrator"), "{err}");
    let err = members::set_role(&app.ctx, Actor::Cli, &ada, Role::User)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("enabled administrator"), "{err}");
    // Two administrators disabling each other at once: one of them stays.
    let carl = app.admin(&acct, "carl").await;
    let (ctx1, ctx2) = (app.ctx.clone(), app.ctx.clone());
    let (a, c) = (ada.clone(), carl.clone());
    let one = tokio::spawn(async move { members::disable(&ctx1, Actor::User(&a), &c).await });
    let (a, c) = (ada.clone(), carl.clone());
    let two = tokio::spawn(async move { members::disable(&ctx2, Actor::User(&c), &a).await });
    let results = [one.await.unwrap(), two.await.unwrap()];
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    let enabled_admins: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0 AND account_id = $1",
    )
    .bind(acct.id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(enabled_admins, 1);
    // A plain member may do none of it.
    let plain = app.logged_in("bob").await;
    let (status, _, _) = plain.post(&format!("/users/{}/disable", ada.id), &[]).await;
    assert_eq!(status, 403);
}

async fn a_password_change_checks_the_rules_and_ends_the_other_sessions(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let here = app.logged_in("alice").await;
    let there = app.logged_in("alice").await;
    let token = app.token("alice").await;
    let change = |current: &str, new: &str, again: &str| {
        let form = [
            ("current", current.to_owned()),
            ("new", new.to_owned()),
            ("again", again.to_owned()),
        ];
        let here = &here;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            here.post("/profile/password", &form).await
        }
    };
    let new = "a brand new passphrase";
    for (current, n, again, says) in [
        (
            "wrong password!!",
            new,
            new,
            "current password is not correct",
        ),
        (PASSWORD, "short", "short", "at least 12 characters"),
        (
            PASSWORD,
            "password12345",
            "password12345",
            "commonly used passwords",
        ),
        (PASSWORD, new, "a different one!", "not the same"),
    ] {
        let (status, _, page) = change(current, n, again).await;
        assert_eq!(status, 422, "{says}");
        assert!(page.contains(says), "{says}: {page}");
    }
    assert_eq!(there.get("/profile").await.0, 200, "nothing changed yet");
    let (status, _, page) = change(PASSWORD, new, new).await;
    assert_eq!(status, 200);
    assert!(page.contains("Your password has been changed."));
    assert_eq!(here.get("/profile").await.0, 200, "this session carries on");
    assert_eq!(
        there.get("/profile").await.0,
        303,
        "the other session ended"
    );
    let api = reqwest::Client::new()
        .get(app.url(&format!("/v2.0/users/{}", alice.id)))
        .header("X-Auth-Token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401, "API tokens ended");
    assert_eq!(app.client().login("alice", PASSWORD).await.status(), 401);
    assert_eq!(app.client().login("alice", new).await.status(), 303);
    let queued: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE kind = 'password.changed'")
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert_eq!(queued, 1, "a mail says so");
}

async fn people_see_and_end_their_sessions(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.user(&acct, "alice").await;
    app.user(&acct, "bob").await;
    let mine = app.logged_in("alice").await;
    let phone = app.client_with_agent(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1",
    );
    assert_eq!(phone.login("alice", PASSWORD).await.status(), 303);
    let laptop = app.logged_in("alice").await;
    let bobs = app.logged_in("bob").await;
    let (status, _, page) = mine.get("/profile/sessions").await;
    assert_eq!(status, 200);
    assert!(page.contains("This session"));
    assert!(page.contains("Safari 18 on iOS"), "{page}");
    assert!(page.contains("127.0.0.1"));
    assert_eq!(
        page.matches("class=\"session\"").count(),
        3,
        "alice's three, not bob's"
    );
    // End one.
    let at = page.find("/profile/sessions/").unwrap();
    let end: String = page[at..].chars().take_while(|c| *c != '"').collect();
    assert!(end.ends_with("/end"), "{end}");
    let (status, _, _) = mine.post(&end, &[]).await;
    assert_eq!(status, 200);
    let alive = [
        phone.get("/profile").await.0,
        laptop.get("/profile").await.0,
    ];
    assert_eq!(alive.iter().filter(|s| **s == 303).count(), 1, "{alive:?}");
    // End all others.
    let (_, _, page) = mine.post("/profile/sessions/end-others", &[]).await;
    assert!(page.contains("other session has ended"), "{page}");
    assert_eq!(phone.get("/profile").await.0, 303);
    assert_eq!(laptop.get("/profile").await.0, 303);
    assert_eq!(mine.get("/profile").await.0, 200);
    assert_eq!(bobs.get("/profile").await.0, 200, "nobody else's");
    // Someone else's session cannot be named.
    let (_, _, bob_page) = bobs.get("/profile/sessions").await;
    let at = bob_page.find("/profile/sessions/").map(|_| ());
    assert!(at.is_none(), "bob has only this session");
}

async fn a_forgotten_password_is_reset_from_the_mail_once(backend: Backend) {
    let Some((app, smtp)) = mailing_app(backend).await else {
        return;
    };
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.user(&acct, "alice").await;
    let signed_in = app.logged_in("alice").await;
    let ask = |who: &'static str| {
        let c = app.client();
        async move {
            c.get("/password/forgot").await;
            let (status, _, page) = c.post("/password/forgot", &[("who", who)]).await;
            (status, page)
        }
    };
    let (status, known) = ask("alice").await;
    assert_eq!(status, 200);
    let (_, unknown) = ask("nobody-like-that").await;
    let (_, by_mail) = ask("alice@example.com").await;
    let answer = |page: &str| page[page.find("<main").unwrap()..].to_owned();
    assert_eq!(
        answer(&known),
        answer(&unknown),
        "the same answer either way"
    );
    assert_eq!(answer(&known), answer(&by_mail));
    let got = smtp.wait_for(2).await;
    assert!(got.iter().all(|m| m.to() == "alice@example.com"));
    let link = link_in(&got[0], "http://localhost:");
    assert!(link.contains("/password/reset/"), "{link}");
    // Asking again voided the first link; the second works, once, and ends every session.
    let second = link_in(&got[1], "http://localhost:");
    let new = "remembered at last";
    let results = [
        choose_password(&app, &path_of(&link), new).await.0,
        choose_password(&app, &path_of(&second), new).await.0,
    ];
    assert_eq!(
        results.iter().filter(|s| **s == 303).count(),
        1,
        "{results:?}"
    );
    assert_eq!(
        signed_in.get("/profile").await.0,
        303,
        "every session ended"
    );
    assert_eq!(app.client().login("alice", new).await.status(), 303);
    for l in [&link, &second] {
        assert_eq!(
            choose_password(&app, &path_of(l), "yet another passphrase")
                .await
                .0,
            404
        );
    }
    let changed = smtp.wait_for(3).await;
    assert!(changed
        .iter()
        .any(|m| m.subject() == "Your password was changed"));
    // Throttled per address. The answer only reads the counter (the hit is counted with the
    // work, in the background), so the refusal comes within a few requests of the limit.
    let c = app.client();
    c.get("/password/forgot").await;
    let mut answers = Vec::new();
    while answers.len() < 40 && answers.last() != Some(&429) {
        answers.push(c.post("/password/forgot", &[("who", "x")]).await.0);
    }
    assert_eq!(answers.last(), Some(&429), "{answers:?}");
}

async fn the_activity_page_is_for_the_accounts_administrators_filtered_and_exported(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let other = app.account("Other", UnlockPolicy::SelfService).await;
    app.admin(&acct, "ada").await;
    let alice = app.user(&acct, "alice").await;
    app.admin(&other, "oscar").await;
    app.user(&other, "olga").await;
    app.lock(&alice).await;
    app.logged_in("alice").await;
    let ada = app.logged_in("ada").await;
    let (status, _, page) = ada.get("/users/activity").await;
    assert_eq!(status, 200);
    for seen in [
        "pin.locked",
        "login.ok",
        "member.created",
        "Support PIN was locked after six wrong PINs given to Support",
    ] {
        assert!(page.contains(seen), "{seen}");
    }
    assert!(
        !page.contains("olga") && !page.contains("oscar"),
        "another account's events"
    );
    let (_, _, pins_only) = ada.get("/users/activity?kind=pin&member=alice").await;
    assert!(
        pins_only.contains("pin.locked") && !pins_only.contains("login.ok"),
        "{pins_only}"
    );
    // The export: CSV with a header row and the same filters.
    let res = ada
        .http
        .get(app.url("/users/activity.csv?kind=pin"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = res.text().await.unwrap();
    assert!(
        csv.starts_with("time,what,event,by,member,reference,detail\r\n"),
        "{csv}"
    );
    assert!(
        csv.contains("\"pin.locked\"") && !csv.contains("login.ok"),
        "{csv}"
    );
    // Paged: 50 a page, then "Older events".
    for _ in 0..45 {
        app.logged_in("alice").await;
    }
    let (_, _, first) = ada.get("/users/activity").await;
    assert_eq!(
        first.matches("<li title=").count(),
        50,
        "a page holds fifty"
    );
    let at = first.find("/users/activity?before=").expect("Older events");
    let older: String = first[at..].chars().take_while(|c| *c != '"').collect();
    let (_, _, second) = ada.get(&older.replace("&amp;", "&")).await;
    assert!(
        second.contains("<li title="),
        "the next page has the older events"
    );
    // Members who are not administrators cannot open it; nor the API.
    let alice_web = app.logged_in("alice").await;
    assert_eq!(alice_web.get("/users/activity").await.0, 403);
    assert_eq!(alice_web.get("/users/activity.csv").await.0, 403);
    let oscar = app.logged_in("oscar").await;
    let (_, _, theirs) = oscar.get("/users/activity").await;
    assert!(
        !theirs.contains("Full alice"),
        "oscar sees only his account"
    );
}

async fn the_first_start_prints_a_set_up_link_that_works_once(backend: Backend) {
    let Some(db) = crate::helpers::TestDb::new(backend).await else {
        return;
    };
    let key = pinpanel::crypto::PinKey::generate().to_hex();
    let server = Server::start(&db.url, &key, "info").await;
    let line = server
        .banner
        .iter()
        .find(|l| l.contains("/setup/"))
        .expect("the first start prints a set-up link")
        .to_owned();
    let link = line
        .split_whitespace()
        .find(|w| w.contains("/setup/"))
        .unwrap()
        .to_owned();
    let path = path_of(&link);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let page = http
        .get(server.url(&path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Set up pinpanel"), "{page}");
    let csrf = crate::helpers::csrf_in(&page).unwrap();
    let mut form = vec![
        ("account", "First Hosting"),
        ("username", "root-admin"),
        ("name", "Root Admin"),
        ("email", "root@example.com"),
        ("new", PASSWORD),
        ("again", "not the same one"),
        ("csrf_token", csrf.as_str()),
    ];
    let res = http
        .post(server.url(&path))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422, "a mistake does not spend the link");
    form[5] = ("again", PASSWORD);
    let res = http
        .post(server.url(&path))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let login = crate::helpers::form_login(&server.url(""), "root-admin").await;
    assert_eq!(login.response.status(), 303, "the administrator logs in");
    let res = http
        .post(server.url(&path))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "then the link stops working");
    // A second start prints no link: the database has an account.
    let again = Server::start(&db.url, &key, "info").await;
    assert!(again.banner.iter().all(|l| !l.contains("/setup/")));
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
