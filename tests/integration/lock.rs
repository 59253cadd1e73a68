//! Verification by agents (never of a disabled member), the lock after six failures, unlocking
//! and its permissions (none for agents).

use pinpanel::domain::UnlockPolicy;
use pinpanel::service::pins::{self, VerifyOutcome};
use pinpanel::service::{members, Actor};
use serde_json::{json, Value};

use crate::dual;
use crate::helpers::TestApp;

dual!(
    twenty_concurrent_wrong_verifications_count_exactly_six,
    a_right_pin_resets_the_count,
    a_locked_pin_fails_even_the_right_pin_and_counts_nothing,
    the_agent_page_reports_each_outcome,
    the_owner_unlocks_under_the_self_policy,
    a_member_who_may_not_unlock_sees_the_banner_and_gets_403,
    a_locked_pin_cannot_be_shown_or_changed,
    verification_is_audited_in_the_owners_activity,
    disabled_members_are_never_verified_and_nothing_is_counted,
    agents_are_offered_no_unlock_or_reset_in_the_panel,
);

async fn twenty_concurrent_wrong_verifications_count_exactly_six(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let agent = app.agent("sam").await;
    let wrong = app.wrong_pin_for(&alice).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (ctx, agent, alice, wrong) =
            (app.ctx.clone(), agent.clone(), alice.clone(), wrong.clone());
        tasks.push(tokio::spawn(async move {
            pins::verify(&ctx, &agent, &alice, &wrong, None)
                .await
                .unwrap()
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    let counted = outcomes
        .iter()
        .filter(|o| matches!(o, VerifyOutcome::Incorrect { .. }))
        .count();
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o, VerifyOutcome::Locked))
        .count();
    assert_eq!((counted, refused), (6, 14), "{outcomes:?}");
    assert_eq!(app.pin_row(&alice).await, ("LOCKED".to_owned(), 6));
    // Each counted failure left a different "attempts left": 5, 4, 3, 2, 1, 0.
    let mut left: Vec<i64> = outcomes
        .iter()
        .filter_map(|o| match o {
            VerifyOutcome::Incorrect { attempts_left } => Some(*attempts_left),
            _ => None,
        })
        .collect();
    left.sort();
    assert_eq!(left, [0, 1, 2, 3, 4, 5]);
    let failures: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE subject_id = $1 AND event = 'pin.verify_failed' AND detail LIKE 'failure %'",
    )
    .bind(alice.id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(failures, 6);
}

async fn a_right_pin_resets_the_count(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let agent = app.agent("sam").await;
    let (right, wrong) = (app.pin_of(&alice).await, app.wrong_pin_for(&alice).await);
    for n in 1..=5 {
        let o = pins::verify(&app.ctx, &agent, &alice, &wrong, None)
            .await
            .unwrap();
        assert_eq!(
            o,
            VerifyOutcome::Incorrect {
                attempts_left: 6 - n
            }
        );
    }
    assert_eq!(
        pins::verify(&app.ctx, &agent, &alice, &right, None)
            .await
            .unwrap(),
        VerifyOutcome::Verified
    );
    assert_eq!(app.pin_row(&alice).await, ("ACTIVE".to_owned(), 0));
}

async fn a_locked_pin_fails_even_the_right_pin_and_counts_nothing(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let agent = app.agent("sam").await;
    let (right, wrong) = (app.pin_of(&alice).await, app.wrong_pin_for(&alice).await);
    for _ in 0..6 {
        pins::verify(&app.ctx, &agent, &alice, &wrong, None)
            .await
            .unwrap();
    }
    assert_eq!(
        pins::verify(&app.ctx, &agent, &alice, &right, None)
            .await
            .unwrap(),
        VerifyOutcome::Locked
    );
    assert_eq!(
        pins::verify(&app.ctx, &agent, &alice, &wrong, None)
            .await
            .unwrap(),
        VerifyOutcome::Locked
    );
    assert_eq!(app.pin_row(&alice).await, ("LOCKED".to_owned(), 6));
}

async fn the_agent_page_reports_each_outcome(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    app.agent("sam").await;
    let (right, wrong) = (app.pin_of(&alice).await, app.wrong_pin_for(&alice).await);
    let c = app.logged_in("sam").await;
    let form = |pin: &str, user: &str| {
        vec![
            ("account".to_owned(), acct.number.clone()),
            ("username".to_owned(), user.to_owned()),
            ("pin".to_owned(), pin.to_owned()),
        ]
    };
    async fn send(c: &crate::helpers::Client, f: Vec<(String, String)>) -> (u16, String) {
        let pairs: Vec<(&str, &str)> = f.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let (s, _, b) = c.post("/agent", &pairs).await;
        (s, b)
    }
    let (s, body) = send(&c, form(&right, "alice")).await;
    assert_eq!(s, 200);
    assert!(body.contains("data-outcome=\"verified\"") && body.contains(">Verified<"));
    assert!(!body.contains(&right), "the page never shows the PIN");
    let (_, body) = send(&c, form(&wrong, "alice")).await;
    assert!(body.contains("Not verified") && body.contains("5 attempts left"));
    let (_, body) = send(&c, form(&wrong, "nobody")).await;
    assert!(body.contains("No such member"));
    let (s, body) = send(&c, form("", "alice")).await;
    assert_eq!(s, 422);
    assert!(body.contains("Enter the Support PIN"));
    for _ in 0..5 {
        send(&c, form(&wrong, "alice")).await;
    }
    let (_, body) = send(&c, form(&right, "alice")).await;
    assert!(body.contains("Support PIN Locked"), "{body}");
    // Members may not use the agent page.
    let m = app.logged_in("alice").await;
    assert_eq!(m.get("/agent").await.0, 403);
}

async fn the_owner_unlocks_under_the_self_policy(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let pin = app.pin_of(&alice).await;
    app.lock(&alice).await;
    let c = app.logged_in("alice").await;
    let (_, _, page) = c.get("/profile").await;
    assert!(page.contains("Support PIN Locked"));
    assert!(
        page.contains("<dialog id=\"unlock-dialog\"")
            && page.contains("href=\"/profile/support-pin/unlock\"")
    );
    assert!(
        !page.contains("hx-post=\"/profile/support-pin/show\""),
        "no Show while locked"
    );
    assert!(
        !page.contains("href=\"/profile/support-pin/edit\""),
        "no Edit while locked"
    );
    // Without JavaScript: a confirmation page, then a form post.
    let (status, _, confirm) = c.get("/profile/support-pin/unlock").await;
    assert_eq!(status, 200);
    assert!(
        confirm.contains("Unlock Support PIN")
            && confirm.contains("action=\"/profile/support-pin/unlock\"")
    );
    let (status, _, body) = c.hx_post("/profile/support-pin/unlock", &[]).await;
    assert_eq!(status, 200);
    assert!(body.contains("Support PIN Unlocked!") && body.contains("Your Support PIN is hidden."));
    assert_eq!(app.pin_row(&alice).await, ("ACTIVE".to_owned(), 0));
    assert_eq!(app.pin_of(&alice).await, pin, "unlocking keeps the PIN");
    // A second unlock says it is not locked and changes nothing.
    let (_, _, body) = c.hx_post("/profile/support-pin/unlock", &[]).await;
    assert!(body.contains("Your Support PIN is not locked."));
}

async fn a_member_who_may_not_unlock_sees_the_banner_and_gets_403(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::Admins).await;
    let alice = app.user(&acct, "alice").await;
    app.admin(&acct, "ada").await;
    app.admin(&acct, "abe").await;
    app.lock(&alice).await;
    let c = app.logged_in("alice").await;
    let (_, _, page) = c.get("/profile").await;
    assert!(
        page.contains("Support PIN Locked")
            && page.contains("You cannot unlock your Support PIN yourself.")
    );
    assert!(page.contains("Full ada (<span class=\"username\">ada</span>)"));
    assert!(page.contains("Full abe (<span class=\"username\">abe</span>)"));
    assert!(!page.contains("unlock-dialog"), "no Unlock offered");
    let (status, _, _) = c.hx_post("/profile/support-pin/unlock", &[]).await;
    assert_eq!(status, 403);
    assert_eq!(c.get("/profile/support-pin/unlock").await.0, 403);
    assert_eq!(
        app.pin_row(&alice).await,
        ("LOCKED".to_owned(), 6),
        "nothing changed"
    );
    let denied: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE event = 'permission.denied' AND subject_id = $1",
    )
    .bind(alice.id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert!(denied >= 1);
}

async fn a_locked_pin_cannot_be_shown_or_changed(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let pin = app.pin_of(&alice).await;
    app.lock(&alice).await;
    let c = app.logged_in("alice").await;
    let (_, _, body) = c.hx_post("/profile/support-pin/show", &[]).await;
    assert!(!body.contains(&pin) && body.contains("Support PIN Locked"));
    let (_, _, body) = c.hx_get("/profile/support-pin/edit").await;
    assert!(!body.contains("New Support PIN") && body.contains("Support PIN Locked"));
    let (_, _, body) = c
        .hx_post("/profile/support-pin", &[("pin", "871694")])
        .await;
    assert!(body.contains("locked"));
    assert_eq!(app.pin_row(&alice).await.0, "LOCKED");
    assert_eq!(
        pinpanel::service::pins::show(&app.ctx, &alice, &alice, &crate::helpers::fresh(&alice))
            .await
            .unwrap_err()
            .to_string(),
        "the Support PIN is locked"
    );
}

async fn verification_is_audited_in_the_owners_activity(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let agent = app.agent("sam").await;
    let (right, wrong) = (app.pin_of(&alice).await, app.wrong_pin_for(&alice).await);
    pins::verify(&app.ctx, &agent, &alice, &right, None)
        .await
        .unwrap();
    pins::verify(&app.ctx, &agent, &alice, &wrong, None)
        .await
        .unwrap();
    let c = app.logged_in("alice").await;
    let (_, _, section) = c.hx_get("/profile/support-pin").await;
    assert!(
        section.contains("<td>Support (agent sam) checked your PIN: correct</td>"),
        "{section}"
    );
    assert!(section.contains("Support (agent sam) checked your PIN: wrong (failure 1 of 6)</td>"));
    assert!(!section.contains(&wrong));
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
