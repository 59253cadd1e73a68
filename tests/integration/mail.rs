//! Mail through a real SMTP server (aiosmtpd): each event's message with both parts and no
//! secret, the right recipients, an SMTP outage survived across `kill -9`, two instances
//! sending each message once, `pinpanel mail test`, and the public URL mail links need
//! (`https://`, or this machine).

use std::time::Duration;

use pinpanel::crypto::{KeySource, PinKey};
use pinpanel::domain::UnlockPolicy;
use pinpanel::service::{mail::Delivery, pins, Actor};
use pinpanel::startup::{self, App, ServeSettings};
use pinpanel::store::DbOptions;

use crate::dual;
use crate::helpers::mail::{Mail, MailServer};
use crate::helpers::process::Server;
use crate::helpers::wait::eventually;
use crate::helpers::{
    free_port, spawn_public_app, test_settings, Backend, TestApp, TestDb, PASSWORD,
};

dual!(
    backend: each_event_mails_the_right_people_with_both_parts_and_no_secret,
    mail_written_while_smtp_is_down_goes_out_once_across_kill_9_and_restart,
    mail_test_reports_the_smtp_answer,
    mail_needs_a_public_url_that_is_https_or_this_machine,
);

/// An app on `backend` whose mail goes to `smtp`.
async fn app_mailing_to(backend: Backend, smtp: &MailServer) -> Option<TestApp> {
    let settings = ServeSettings {
        delivery: Delivery::smtp(&smtp.url()).expect("an SMTP URL"),
        mail_from: "Support PINs <pins@example.com>".into(),
        ..test_settings()
    };
    spawn_public_app(backend, settings).await
}

/// What no message may contain, and what every one must.
fn check_message(m: &Mail, secrets: &[&str]) {
    for header in ["message-id", "date", "from", "subject"] {
        assert!(!m.header(header).is_empty(), "{header} in {}", m.raw);
    }
    assert!(
        m.header("content-type")
            .starts_with("multipart/alternative"),
        "{}",
        m.raw
    );
    assert!(
        !m.text.is_empty() && m.html.contains("<html"),
        "both parts: {}",
        m.raw
    );
    for part in [&m.text, &m.html] {
        assert!(
            part.contains("We will never contact you and ask for your Support PIN."),
            "the anti-phishing line: {part}"
        );
        assert!(
            part.contains("http://localhost:"),
            "a link to the panel: {part}"
        );
    }
    for secret in secrets {
        assert!(
            !m.raw.contains(secret) && !m.text.contains(secret) && !m.html.contains(secret),
            "a secret ({secret}) in {}",
            m.subject()
        );
    }
}

async fn each_event_mails_the_right_people_with_both_parts_and_no_secret(backend: Backend) {
    let Some(smtp) = MailServer::start().await else {
        return;
    };
    let Some(app) = app_mailing_to(backend, &smtp).await else {
        return;
    };
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let ada = app.admin(&acct, "ada").await;
    let nomail = app.member_without_email(&acct, "nomail").await;
    let first_pin = app.pin_of(&alice).await;

    // A lock: the member and the account's administrators.
    app.lock(&alice).await;
    let got = smtp.wait_for(2).await;
    let to_alice = got
        .iter()
        .find(|m| m.to() == "alice@example.com")
        .expect("to alice");
    assert_eq!(to_alice.subject(), "Your Support PIN is locked");
    assert!(
        to_alice
            .text
            .contains("log in to the panel, open Support PIN and choose Unlock"),
        "{}",
        to_alice.text
    );
    let to_ada = got
        .iter()
        .find(|m| m.to() == "ada@example.com")
        .expect("to ada");
    assert_eq!(to_ada.subject(), "The Support PIN of Full alice is locked");
    assert!(to_ada.text.contains("Users page"));

    // Unlocked, changed, reset: the member only.
    pins::unlock(&app.ctx, &alice, &alice).await.unwrap();
    pins::change(
        &app.ctx,
        &alice,
        &alice,
        &crate::helpers::fresh(&alice),
        "871694",
    )
    .await
    .unwrap();
    pins::reset(&app.ctx, Actor::User(&ada), &alice, false)
        .await
        .unwrap();
    let got = smtp.wait_for(5).await;
    let later: Vec<&Mail> = got
        .iter()
        .filter(|m| !m.subject().ends_with("is locked"))
        .collect();
    let mut subjects: Vec<String> = later.iter().map(|m| m.subject()).collect();
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "Your Support PIN was changed",
            "Your Support PIN was reset",
            "Your Support PIN was unlocked",
        ]
    );
    assert!(later.iter().all(|m| m.to() == "alice@example.com"));
    let reset = later
        .iter()
        .find(|m| m.subject().ends_with("reset"))
        .unwrap();
    assert!(
        reset.text.contains("by Full ada (ada)"),
        "who did it: {}",
        reset.text
    );
    let reset_pin = app.pin_of(&alice).await;
    for m in &got {
        check_message(m, &[&first_pin, "871694", &reset_pin, PASSWORD]);
    }
    // Message-IDs are unique; the audit log says each was queued and sent.
    let mut ids: Vec<String> = got.iter().map(|m| m.header("message-id")).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    let sent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE event = 'mail.sent'")
        .fetch_one(app.pool())
        .await
        .unwrap();
    let queued: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE event = 'mail.queued'")
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert_eq!((queued, sent), (5, 5));

    // Under the admins policy the lock mail names who may unlock; a member without an address
    // is skipped, and the Users page shows it.
    app.set_unlock_policy(&acct, UnlockPolicy::Admins).await;
    app.lock(&nomail).await;
    app.lock(&alice).await;
    // Two lock notices for ada, one for alice, and the account's alarm for impostors (two PINs
    // locked within a day), to ada.
    let got = smtp.wait_for(9).await;
    assert!(got
        .iter()
        .any(|m| m.subject() == "Someone may be calling Support pretending to be Acme"));
    let locked = got
        .iter()
        .find(|m| m.to() == "alice@example.com" && m.text.contains("only an administrator"))
        .expect("the second lock notice to alice");
    assert!(
        locked.text.contains("ask Full ada (ada)"),
        "{}",
        locked.text
    );
    assert!(got.iter().all(|m| !m.to().contains("nomail")));
    let (_, _, page) = app.logged_in("ada").await.get("/users").await;
    assert!(
        page.contains("No e-mail"),
        "the Users page shows who gets no mail"
    );
}

async fn mail_written_while_smtp_is_down_goes_out_once_across_kill_9_and_restart(backend: Backend) {
    let Some(app) = crate::helpers::spawn_app(backend).await else {
        return;
    };
    // Nothing listens on the SMTP port yet.
    let port = free_port();
    let smtp_url = format!("smtp://127.0.0.1:{port}");
    // Mail needs the address people use (here this machine, where plain http stays local).
    let env = [
        ("PINPANEL_SMTP_URL", smtp_url.as_str()),
        ("PINPANEL_PUBLIC_URL", "http://localhost:8080"),
    ];
    let mut server = Server::start_with(&app.db.url, &app.key_hex, "info", &env).await;
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    app.lock(&alice).await;
    // The server tries, fails, and keeps the message for a retry.
    eventually(
        "a failed delivery attempt",
        Duration::from_secs(30),
        async || {
            let (attempts, error): (i64, Option<String>) =
                sqlx::query_as("SELECT attempts, last_error FROM outbox")
                    .fetch_one(app.pool())
                    .await
                    .unwrap();
            attempts > 0 && error.is_some()
        },
    )
    .await;
    server.kill9().await;
    let Some(smtp) = MailServer::start_on(port).await else {
        return;
    };
    let server = Server::start_with(&app.db.url, &app.key_hex, "info", &env).await;
    let got = smtp.wait_for(1).await;
    assert_eq!(got[0].subject(), "Your Support PIN is locked");
    // Exactly once: the message is marked sent, and nothing more arrives.
    eventually(
        "the message marked sent",
        Duration::from_secs(30),
        async || {
            let state: String = sqlx::query_scalar("SELECT state FROM outbox")
                .fetch_one(app.pool())
                .await
                .unwrap();
            state == "sent"
        },
    )
    .await;
    // Another instance on the same database has nothing left to send either.
    let other = Server::start_with(&app.db.url, &app.key_hex, "info", &env).await;
    let token = other.token("alice").await;
    assert!(!token.is_empty());
    assert_eq!(smtp.messages().len(), 1, "sent once");
    drop(server);
}

async fn mail_test_reports_the_smtp_answer(backend: Backend) {
    if backend == Backend::Postgres {
        // Nothing here depends on the database; once is enough.
        return;
    }
    let Some(smtp) = MailServer::start().await else {
        return;
    };
    let Some(db) = crate::helpers::TestDb::new(backend).await else {
        return;
    };
    let key = pinpanel::crypto::PinKey::generate().to_hex();
    let run = |smtp_url: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pinpanel"));
        cmd.args(["mail", "test", "--to", "someone@example.com"])
            .env("DATABASE_URL", &db.url)
            .env("PINPANEL_KEY", &key)
            .env_remove("PINPANEL_SMTP_URL");
        if let Some(url) = smtp_url {
            cmd.env("PINPANEL_SMTP_URL", url);
        }
        cmd.output().unwrap()
    };
    let out = run(Some(&smtp.url()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("answered: 250"), "{stdout}");
    let got = smtp.wait_for(1).await;
    assert_eq!(got[0].to(), "someone@example.com");
    let out = run(None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("PINPANEL_SMTP_URL"));
}

/// Two `serve` processes on one PostgreSQL deliver each message once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_send_each_mail_once() {
    let Some(app) = crate::helpers::spawn_app(Backend::Postgres).await else {
        return;
    };
    let Some(smtp) = MailServer::start().await else {
        return;
    };
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.admin(&acct, "ada").await;
    let mut members = Vec::new();
    for n in 0..15 {
        members.push(app.user(&acct, &format!("m{n}")).await);
    }
    // 31 messages queued before anyone sends: each lock mails the member and ada, and the
    // locks raise the account's alarm for impostors once (to ada).
    for m in &members {
        app.lock(m).await;
    }
    let env = [
        ("PINPANEL_SMTP_URL", smtp.url()),
        ("PINPANEL_PUBLIC_URL", "http://localhost:8080".to_owned()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = Server::start_with(&app.db.url, &app.key_hex, "info", &env).await;
    let b = Server::start_with(&app.db.url, &app.key_hex, "info", &env).await;
    let got = smtp.wait_for(31).await;
    eventually(
        "every message marked sent",
        Duration::from_secs(30),
        async || {
            let pending: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state <> 'sent'")
                    .fetch_one(app.pool())
                    .await
                    .unwrap();
            if pending == 0 {
                Ok(())
            } else {
                Err(format!("{pending} not sent"))
            }
        },
    )
    .await;
    let mut ids: Vec<String> = smtp
        .messages()
        .iter()
        .map(|m| m.header("message-id"))
        .collect();
    assert_eq!(ids.len(), 31, "{} messages for 31", got.len());
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 31, "no message twice");
    drop((a, b));
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
