//! The Overview in Chromium, with and without JavaScript: an administrator's morning (the chart,
//! locked members, latest events, the alarm and its acknowledgement, Unlock from the Overview),
//! and the agent's page with a reference and their last verifications.

use pinpanel::domain::UnlockPolicy;
use pinpanel::service::pins;

use crate::dual;
use crate::helpers::{migration_statement, spawn_app, Backend};

dual!(
    backend: the_overview_in_chromium_with_javascript,
    the_overview_in_chromium_without_javascript,
);

async fn the_overview_in_chromium_with_javascript(backend: Backend) {
    overview_journey(backend, true).await
}

async fn the_overview_in_chromium_without_javascript(backend: Backend) {
    overview_journey(backend, false).await
}

/// An administrator's morning: the Overview (chart, locked members, latest events), the alarm
/// and its acknowledgement, Unlock from the Overview, the activity in words with a filter, the
/// Users page searched; and the agent's page with a reference and their last verifications.
async fn overview_journey(backend: Backend, javascript: bool) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let Some(b) = crate::helpers::browser::Browser::start(&app, javascript).await else {
        return;
    };
    let acme = app.account("Demo Hosting", UnlockPolicy::Admins).await;
    app.admin(&acme, "root").await;
    let bob = app.user(&acme, "bob").await;
    let carol = app.user(&acme, "carol").await;
    for i in 0..30 {
        app.user(&acme, &format!("member{i:02}")).await;
    }
    let agent = app.agent("sam").await;
    // A month of verifications, spread over the days.
    let right = app.pin_of(&carol).await;
    for _ in 0..3 {
        pins::verify(&app.ctx, &agent, &carol, &right, None)
            .await
            .unwrap();
    }
    app.wrong_verifications(&agent, &carol, 2).await;
    sqlx::query("UPDATE audit_log SET at = at - 86400 * (id % 20) WHERE event LIKE 'pin.verif%'")
        .execute(app.pool())
        .await
        .unwrap();
    // The daily counts were kept as the events were written: counted again for the new days,
    // by the migration's own backfill.
    let backfill = migration_statement(
        backend,
        "0011_history",
        "INSERT INTO verification_days (account_id, day, event, n)\nSELECT",
    );
    for sql in ["DELETE FROM verification_days", &backfill] {
        sqlx::query(sql).execute(app.pool()).await.unwrap();
    }
    app.lock(&bob).await;
    let check = |name: &'static str| {
        let b = &b;
        async move {
            if javascript {
                b.check_state(name).await;
            }
        }
    };

    b.login("root").await;
    let text = b.wait_text("Verifications by Support, last 30 days").await;
    assert!(
        text.contains("Locked now") && text.contains("bob"),
        "{text}"
    );
    assert!(!text.contains("Someone may be pretending"), "{text}");
    check("overview").await;

    // An alarm (two locks in a day), then acknowledged.
    app.lock(&carol).await;
    b.goto("/overview").await;
    b.wait_text("Someone may be pretending to be your people")
        .await;
    check("overview-alarm").await;
    b.click_named("Acknowledge").await;
    b.wait_text("The warning is acknowledged.").await;

    // Unlock from the Overview.
    b.click_css("#locked-bob a").await;
    if javascript {
        b.c.wait()
            .for_element(fantoccini::Locator::Css(
                "#locked-bob dialog[open] button.button-primary",
            ))
            .await
            .expect("the dialog")
            .click()
            .await
            .expect("unlock");
    } else {
        b.click_named("Unlock").await;
    }
    b.wait_text("unlocked").await;

    // The activity in words, filtered to one member.
    b.goto("/users/activity").await;
    b.wait_text("Support (agent sam) checked carol's PIN").await;
    b.fill("#filter-member", "bob").await;
    b.click_named("Show").await;
    // The unfiltered page says the same of bob: the filtered one is the one without carol.
    b.wait_text_gone("checked carol's PIN").await;
    let text = b
        .wait_text("Bob's Support PIN was locked after six wrong PINs given to Support")
        .await;
    assert!(!text.contains("carol's PIN"), "{text}");
    check("activity-words").await;

    // The Users page, searched (live with JavaScript, by the form without).
    b.goto("/users").await;
    b.wait_text("33 members").await;
    b.fill("#members-q", "member1").await;
    if !javascript {
        b.click_named("Search").await;
    }
    b.wait_text("10 members found.").await;
    check("users-search").await;

    // The agent: a reference, and their own last verifications.
    b.click_named("Log out").await;
    b.login("sam").await;
    b.wait_text("Verify caller").await;
    b.fill("#account", &acme.number).await;
    b.fill("#username", "carol").await;
    b.fill("#pin", &right).await;
    b.fill("#reference", "48213").await;
    b.click_named("Verify").await;
    let text = b.wait_text("48213").await;
    assert!(text.contains("Your last verifications"), "{text}");
    check("agent-verifications").await;
}
