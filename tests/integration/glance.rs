//! At a glance (issue 27), on both backends: events in people's words (the activity, the
//! profile, the CSV with its code column), verifications tied to a ticket or call reference,
//! the Overview with its chart and locked members, the alarm for impostors (its thresholds, once
//! an hour, the mail, at once from many requests), the Users page at scale (pages, search,
//! filters, bad input said plainly), and the journeys in Chromium with and without JavaScript.

use pinpanel::domain::{Kind, Reference, Role, UnlockPolicy, User};
use pinpanel::service::alarm::{LOCKS_PER_DAY, WRONG_PINS_PER_HOUR};
use pinpanel::service::{members, pins, Actor};
use secrecy::SecretString;

use crate::dual;
use crate::helpers::count;
use crate::helpers::mail::mailing_app;
use crate::helpers::{migration_statement, spawn_app, Backend, TestApp};

dual!(
    activity_reads_in_words_and_verifications_carry_their_reference,
    the_users_page_pages_searches_and_filters,
    the_users_page_counts_members_as_they_come_and_go,
);
dual!(backend:
    the_alarm_warns_administrators_once_an_hour,
    the_overview_in_chromium_with_javascript,
    the_overview_in_chromium_without_javascript,
);

/// `n` wrong verifications of `member` by `agent`, through the service.
async fn wrong(app: &TestApp, agent: &User, member: &User, n: usize) {
    let pin = app.wrong_pin_for(member).await;
    for _ in 0..n {
        pins::verify(&app.ctx, agent, member, &pin, None)
            .await
            .expect("verify");
    }
}

/// A page's text with the entities askama writes turned back into characters (once).
fn unescaped(html: &str) -> String {
    html.replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#34;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

async fn activity_reads_in_words_and_verifications_carry_their_reference(app: TestApp) {
    let acme = app.account("Acme", UnlockPolicy::SelfService).await;
    app.admin(&acme, "root").await;
    let bob = app.user(&acme, "bob").await;
    app.agent("sam").await;
    let pin = app.pin_of(&bob).await;

    // The agent gives a reference with markup: stored as text, shown escaped.
    let sam = app.logged_in("sam").await;
    let (status, _, page) = sam.get("/agent").await;
    assert_eq!(status, 200);
    assert!(page.contains("You have not verified anyone yet"), "{page}");
    let reference = "<b>48213</b>";
    let form = [
        ("account", acme.number.as_str()),
        ("username", "bob"),
        ("pin", pin.as_str()),
        ("reference", reference),
    ];
    let (status, _, page) = sam.post("/agent", &form).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("data-outcome=\"verified\""), "{page}");
    assert!(!page.contains(reference), "markup is escaped: {page}");
    assert!(unescaped(&page).contains("<b>48213</b>"), "{page}");
    assert!(
        page.contains("Your last verifications") && page.contains("Correct"),
        "{page}"
    );
    assert!(!page.contains(&pin), "never a PIN");
    let wrong_pin = app.wrong_pin_for(&bob).await;
    let form = [
        ("account", acme.number.as_str()),
        ("username", "bob"),
        ("pin", wrong_pin.as_str()),
        ("reference", "call 7"),
    ];
    let (_, _, page) = sam.post("/agent", &form).await;
    assert!(page.contains("call 7") && page.contains("Wrong"), "{page}");
    // A reference over 64 characters is refused, and nothing is counted.
    let long = "x".repeat(Reference::MAX_CHARS + 1);
    let before = count(
        app.pool(),
        "SELECT COUNT(*) FROM audit_log WHERE event LIKE 'pin.verif%'",
    )
    .await;
    let form = [
        ("account", acme.number.as_str()),
        ("username", "bob"),
        ("pin", pin.as_str()),
        ("reference", long.as_str()),
    ];
    let (status, _, page) = sam.post("/agent", &form).await;
    assert_eq!(status, 422);
    assert!(page.contains("at most 64 characters"), "{page}");
    assert_eq!(
        count(
            app.pool(),
            "SELECT COUNT(*) FROM audit_log WHERE event LIKE 'pin.verif%'"
        )
        .await,
        before
    );

    // The member reads it in their activity, in words.
    let bob_c = app.logged_in("bob").await;
    let (_, _, profile) = bob_c.get("/profile").await;
    let profile = unescaped(&profile);
    assert!(
        profile.contains("Support (agent sam) checked your PIN for ticket <b>48213</b>: correct"),
        "{profile}"
    );
    assert!(
        profile.contains(
            "Support (agent sam) checked your PIN for ticket call 7: wrong (failure 1 of 6)"
        ),
        "{profile}"
    );
    assert!(
        profile.contains("title=\"pin.verified\""),
        "the code is the row's title"
    );

    // An administrator lands on the Overview, and reads the activity in words.
    let root = app.client();
    let res = root.login("root", crate::helpers::PASSWORD).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/overview");
    let (_, _, activity) = root.get("/users/activity").await;
    assert!(
        activity.contains("You logged in from 127.0.0.1"),
        "{activity}"
    );
    assert!(
        activity.contains("Bob logged in from 127.0.0.1"),
        "{activity}"
    );
    assert!(
        unescaped(&activity)
            .contains("Support (agent sam) checked bob's PIN for ticket call 7: wrong"),
        "{activity}"
    );
    assert!(
        !activity.contains("<code>pin.verified</code>"),
        "no codes in the text"
    );

    // Filters: member, kind, dates; a range that ends before it starts is said plainly.
    let (status, _, only) = root.get("/users/activity?member=bob&kind=pin").await;
    assert_eq!(status, 200);
    assert!(!only.contains("logged in"), "{only}");
    assert!(only.contains("checked bob"), "{only}");
    let (status, _, bad) = root
        .get("/users/activity?from=2026-12-03&to=2026-11-01")
        .await;
    assert_eq!(status, 422);
    assert!(
        bad.contains("The date range ends before it starts"),
        "{bad}"
    );
    let (status, _, bad) = root.get("/users/activity?from=31/12/2026").await;
    assert_eq!(status, 422);
    assert!(bad.contains("is not a date"), "{bad}");
    let (status, _, bad) = root.get("/users/activity?member=nobody").await;
    assert_eq!(status, 422);
    assert!(bad.contains("no member named nobody"), "{bad}");
    let (_, _, empty) = root
        .get("/users/activity?from=2001-01-01&to=2001-01-02")
        .await;
    assert!(empty.contains("No event matches this filter"), "{empty}");
    let today = pinpanel::domain::time::day_of(pinpanel::service::now());
    let (_, _, dated) = root
        .get(&format!("/users/activity?from={today}&to={today}&kind=pin"))
        .await;
    assert!(dated.contains("checked bob"), "{dated}");

    // The CSV keeps the code in a column of its own beside the sentence, with the reference.
    let csv = root
        .http
        .get(root.url("/users/activity.csv?kind=pin"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "time,what,event,by,member,reference,detail"
    );
    assert!(
        csv.contains("\"Support (agent sam) checked bob's PIN for ticket <b>48213</b>: correct\",\"pin.verified\",\"sam\",\"bob\",\"<b>48213</b>\""),
        "{csv}"
    );
}

async fn the_users_page_pages_searches_and_filters(app: TestApp) {
    let acme = app.account("Acme", UnlockPolicy::SelfService).await;
    app.admin(&acme, "root").await;
    let bob = app.user(&acme, "bob").await;
    // 120 more members, written directly (the page is what is tested here).
    for i in 0..120 {
        sqlx::query(
            "INSERT INTO users (account_id, username, full_name, email, kind, role, \
             password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, 'user', 'user', '', 0, 0)",
        )
        .bind(acme.id)
        .bind(format!("m{i:03}"))
        .bind(format!("Member {i:03}"))
        .bind(format!("m{i:03}@example.org"))
        .execute(app.pool())
        .await
        .unwrap();
    }
    sqlx::query("UPDATE users SET disabled = 1 WHERE username IN ('m007', 'm008')")
        .execute(app.pool())
        .await
        .unwrap();
    app.lock(&bob).await;
    let c = app.logged_in("root").await;

    let (status, _, page) = c.get("/users").await;
    assert_eq!(status, 200);
    assert!(page.contains("122 members, page 1 of 3."), "{page}");
    assert_eq!(page.matches("<tr id=\"member-").count(), 50);
    assert!(
        page.contains("href=\"/users?page=2\" rel=\"next\""),
        "{page}"
    );
    let (_, _, last) = c.get("/users?page=3").await;
    assert_eq!(last.matches("<tr id=\"member-").count(), 22);
    assert!(last.contains("rel=\"prev\"") && !last.contains("rel=\"next\""));

    // A page past the end, or not a number: said plainly.
    let (status, _, past) = c.get("/users?page=9").await;
    assert_eq!(status, 422);
    assert!(
        past.contains("There is no page 9: the list has 3 pages."),
        "{past}"
    );
    // Past the end of a search's pages too (its count is read with the page, so a page without
    // a row is counted apart).
    let (status, _, past) = c.get("/users?q=member&page=4").await;
    assert_eq!(status, 422);
    assert!(
        past.contains("There is no page 4: the list has 3 pages."),
        "{past}"
    );
    let (status, _, nan) = c.get("/users?page=two").await;
    assert_eq!(status, 422);
    assert!(
        unescaped(&nan).contains("'two' is not a page number."),
        "{nan}"
    );

    // Search by name, username or address; wildcards are only characters.
    let (_, _, found) = c.get("/users?q=member%20011").await;
    assert!(found.contains("1 member found."), "{found}");
    assert!(found.contains("data-username=\"m011\""));
    let (_, _, found) = c.get("/users?q=M01").await;
    assert!(found.contains("10 members found."), "{found}");
    let (_, _, found) = c.get("/users?q=m099%40example").await;
    assert!(found.contains("1 member found."), "{found}");
    let (_, _, found) = c.get("/users?q=%25").await;
    assert!(found.contains("0 members found."), "{found}");
    let long = "a".repeat(101);
    let (status, _, refused) = c.get(&format!("/users?q={long}")).await;
    assert_eq!(status, 422);
    assert!(
        refused.contains("A search has at most 100 characters."),
        "{refused}"
    );

    // Filters, and a search within one; paging keeps both.
    let (_, _, locked) = c.get("/users?show=locked").await;
    assert!(
        locked.contains("1 member found.") && locked.contains("data-username=\"bob\""),
        "{locked}"
    );
    let (_, _, disabled) = c.get("/users?show=disabled").await;
    assert!(disabled.contains("2 members found."), "{disabled}");
    let (_, _, admins) = c.get("/users?show=admins").await;
    assert!(admins.contains("1 member found.") && admins.contains("data-username=\"root\""));
    let (_, _, both) = c.get("/users?q=member&show=disabled").await;
    assert!(both.contains("2 members found."), "{both}");
    let (_, _, many) = c.get("/users?q=member").await;
    assert!(
        unescaped(&many).contains("href=\"/users?q=member&page=2\""),
        "{many}"
    );

    // htmx asks for the same page; the list is in it to swap.
    let (status, _, part) = c.hx_get("/users?q=m05").await;
    assert_eq!(status, 200);
    assert!(part.contains("id=\"members-list\"") && part.contains("10 members found."));
}

/// The Users page's count is kept on the account by the database (migration 0012), and its
/// page comes back as one JSON row: members added side by side, removed and moved to another
/// account are counted right away, rows keep the database's order, and a name with markup,
/// quotes, a backslash and letters beyond ASCII reads back exactly, escaped on the page.
async fn the_users_page_counts_members_as_they_come_and_go(app: TestApp) {
    let acme = app.account("Acme", UnlockPolicy::SelfService).await;
    let other = app.account("Other", UnlockPolicy::SelfService).await;
    app.admin(&acme, "root").await;
    let adds = (0..12).map(|i| {
        let (ctx, acme) = (app.ctx.clone(), acme.clone());
        async move {
            members::create_person(
                &ctx,
                Actor::Cli,
                members::NewPerson {
                    account: Some(acme),
                    username: format!("c{i:02}"),
                    full_name: format!("Caller {}", 12 - i),
                    email: None,
                    role: Role::User,
                    kind: Kind::User,
                    password: SecretString::from("a long enough password"),
                    with_pin: true,
                },
            )
            .await
            .expect("member")
        }
    });
    let added = crate::helpers::wait::futures_join_all(adds).await;
    let mut conn = app.pool().acquire().await.unwrap();
    pinpanel::store::scim::remove_member(&mut conn, &added[0])
        .await
        .unwrap();
    sqlx::query("UPDATE users SET account_id = $1 WHERE id = $2")
        .bind(other.id)
        .bind(added[1].id)
        .execute(&mut *conn)
        .await
        .unwrap();
    let name = "Zoë \"O'Brien\" <b>&amp;</b> \\ 東京";
    sqlx::query("UPDATE users SET full_name = $1 WHERE id = $2")
        .bind(name)
        .bind(added[2].id)
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    let counted = || async {
        for (account, members) in [(&acme, 11), (&other, 1)] {
            let kept: (i64, i64) = sqlx::query_as(
                "SELECT member_count, (SELECT COUNT(*) FROM users WHERE account_id = $1) \
                 FROM accounts WHERE id = $1",
            )
            .bind(account.id)
            .fetch_one(app.pool())
            .await
            .unwrap();
            assert_eq!(kept, (members, members), "{}", account.name);
        }
    };
    counted().await;
    // The migration's backfill gives accounts made before it the same counts.
    let backfill = migration_statement(
        app.db.backend,
        "0012_member_count",
        "UPDATE accounts SET member_count",
    );
    for statement in ["UPDATE accounts SET member_count = 0", &backfill] {
        sqlx::query(statement).execute(app.pool()).await.unwrap();
    }
    counted().await;

    let c = app.logged_in("root").await;
    let (status, _, page) = c.get("/users").await;
    assert_eq!(status, 200);
    assert!(page.contains("11 members."), "{page}");
    let text = unescaped(&page);
    // (followed by the badge of a member without an e-mail address)
    assert!(text.contains(&format!(">{name} <span")), "{page}");
    assert!(!page.contains("<b>"), "{page}");
    let shown: Vec<&str> = page
        .split("data-username=\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .collect();
    let ordered: Vec<String> = sqlx::query_scalar(
        "SELECT username FROM users WHERE account_id = $1 ORDER BY full_name, username",
    )
    .bind(acme.id)
    .fetch_all(app.pool())
    .await
    .unwrap();
    assert_eq!(shown, ordered);
}

async fn the_alarm_warns_administrators_once_an_hour(backend: Backend) {
    let Some((app, smtp)) = mailing_app(backend).await else {
        return;
    };
    let acme = app.account("Acme", UnlockPolicy::SelfService).await;
    app.admin(&acme, "root").await;
    app.admin(&acme, "ada").await;
    let members: Vec<User> = vec![
        app.user(&acme, "m1").await,
        app.user(&acme, "m2").await,
        app.user(&acme, "m3").await,
        app.user(&acme, "m4").await,
    ];
    let agent = app.agent("sam").await;
    let alarms = "SELECT COUNT(*) FROM alarms";

    // One wrong PIN short of the threshold, across members (none locks): nothing.
    wrong(&app, &agent, &members[0], 4).await;
    wrong(&app, &agent, &members[1], 4).await;
    wrong(
        &app,
        &agent,
        &members[2],
        (WRONG_PINS_PER_HOUR - 9) as usize,
    )
    .await;
    assert_eq!(count(app.pool(), alarms).await, 0);
    let c = app.logged_in("root").await;
    let (_, _, overview) = c.get("/overview").await;
    assert!(!overview.contains("id=\"alarm\""), "{overview}");

    // The tenth and more, six at once (none locks a PIN): one alarm, one mail per
    // administrator.
    let mut tasks = Vec::new();
    for m in [0, 1, 2, 2, 2, 2] {
        let (ctx, agent, member) = (app.ctx.clone(), agent.clone(), members[m].clone());
        let pin = app.wrong_pin_for(&member).await;
        tasks.push(tokio::spawn(async move {
            pins::verify(&ctx, &agent, &member, &pin, None)
                .await
                .expect("verify")
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        count(app.pool(), alarms).await,
        1,
        "one alarm however many at once"
    );
    let subject = "Someone may be calling Support pretending to be Acme";
    let mails = smtp.wait_for_subject_n(subject, 2).await;
    let mail = &mails[0];
    assert!(
        mail.text
            .contains("Support was given wrong PINs for your account"),
        "{}",
        mail.text
    );
    assert!(mail
        .text
        .contains("someone may be calling pretending to be your people"));
    for m in &members {
        assert!(!mail.raw.contains(&app.pin_of(m).await), "never a PIN");
    }

    // More wrong PINs within the hour: no second alarm, no second mail.
    wrong(&app, &agent, &members[3], 1).await;
    assert_eq!(count(app.pool(), alarms).await, 1);
    // Counted where mail is queued (the outbox), not by waiting for what does not arrive.
    let queued = "SELECT COUNT(*) FROM outbox WHERE kind = 'alarm.impostor'";
    assert_eq!(
        count(app.pool(), queued).await,
        2,
        "one mail per administrator, once"
    );

    // The Overview shows it until it is acknowledged (with the form's CSRF token).
    let (_, _, overview) = c.get("/overview").await;
    assert!(overview.contains("id=\"alarm\""), "{overview}");
    assert!(overview.contains("Support was given wrong PINs for your account"));
    let id: i64 = count(app.pool(), "SELECT id FROM alarms").await;
    let ack = format!("/overview/alarm/{id}/acknowledge");
    let forged = c.http.post(c.url(&ack)).send().await.unwrap();
    assert_eq!(forged.status(), 403, "no CSRF token");
    let (status, _, page) = c.post(&ack, &[]).await;
    assert_eq!(status, 200);
    assert!(page.contains("The warning is acknowledged.") && !page.contains("id=\"alarm\""));
    let (_, _, overview) = c.get("/overview").await;
    assert!(!overview.contains("id=\"alarm\""));

    // An hour on, another wrong PIN (still ten in the last hour) raises it again.
    sqlx::query("UPDATE accounts SET alarm_at = alarm_at - 3601")
        .execute(app.pool())
        .await
        .unwrap();
    wrong(&app, &agent, &members[3], 1).await;
    assert_eq!(count(app.pool(), alarms).await, 2);

    // Two PINs locked within a day, the wrong PINs spread over more than an hour: the second
    // threshold, in another account.
    let beta = app.account("Beta", UnlockPolicy::SelfService).await;
    app.admin(&beta, "bea").await;
    let (b1, b2) = (app.user(&beta, "b1").await, app.user(&beta, "b2").await);
    app.lock(&b1).await;
    sqlx::query("UPDATE audit_log SET at = at - 7200 WHERE account_id = $1")
        .bind(beta.id)
        .execute(app.pool())
        .await
        .unwrap();
    let beta_alarms = format!("SELECT COUNT(*) FROM alarms WHERE account_id = {}", beta.id);
    assert_eq!(
        count(app.pool(), &beta_alarms).await,
        0,
        "one lock is not enough"
    );
    app.lock(&b2).await;
    assert_eq!(count(app.pool(), &beta_alarms).await, 1);
    let reason: String = sqlx::query_scalar("SELECT reason FROM alarms WHERE account_id = $1")
        .bind(beta.id)
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(reason, "locked");
    let mail = smtp
        .wait_for_subject("Someone may be calling Support pretending to be Beta")
        .await;
    assert!(
        mail.text.contains(&format!(
            "{LOCKS_PER_DAY} Support PINs of your account were locked"
        )),
        "{}",
        mail.text
    );
    // An administrator of another account cannot acknowledge it.
    let beta_id: i64 = count(
        app.pool(),
        &format!("SELECT id FROM alarms WHERE account_id = {}", beta.id),
    )
    .await;
    let (_, _, _) = c
        .post(&format!("/overview/alarm/{beta_id}/acknowledge"), &[])
        .await;
    assert_eq!(
        count(
            app.pool(),
            &format!(
                "SELECT COUNT(*) FROM alarms WHERE id = {beta_id} AND acknowledged_at IS NULL"
            )
        )
        .await,
        1
    );
}

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
    wrong(&app, &agent, &carol, 2).await;
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
