//! Pages that cost the same on day 400 as on day 1 (issue 29), on both backends: the PIN's last
//! event kept on its row by the event's own insert (many at once too), each event's category
//! written with it and backfilled the same way by the migration, the profile's latest PIN
//! events found past newer events of other kinds, the CSV export streamed in batches with every
//! event once, the Overview's daily counts, and the retention sweep (in batches) removing
//! exactly the rows past the retention (the audit log's too). The timings themselves are
//! bench/history.sh's.

use pinpanel::domain::time::format_time;
use pinpanel::domain::{ActivityKind, Event, UnlockPolicy};
use pinpanel::service::{activity, maintenance, overview, pins};

use crate::dual;
use crate::helpers::{count, migration_statement, TestApp};

dual!(
    the_users_page_tells_when_each_pin_last_saw_an_event,
    the_migration_gives_old_events_the_category_new_ones_get,
    the_profile_finds_its_pin_events_past_newer_events_of_other_kinds,
    the_csv_export_streams_every_event_once_in_batches,
    the_retention_sweep_removes_every_old_row_across_its_batches,
    the_overview_counts_each_verification_on_its_own_day,
    old_audit_rows_are_purged,
);

async fn scalar(app: &TestApp, sql: &str, id: i64) -> Option<i64> {
    sqlx::query_scalar::<_, Option<i64>>(sql)
        .bind(id)
        .fetch_one(app.pool())
        .await
        .unwrap()
}

/// The PIN's latest event time as its row keeps it, and as the log has it.
async fn last_pin_event(app: &TestApp, user_id: i64) -> (Option<i64>, Option<i64>) {
    (
        scalar(
            app,
            "SELECT last_event_at FROM support_pins WHERE user_id = $1",
            user_id,
        )
        .await,
        scalar(
            app,
            "SELECT MAX(at) FROM audit_log WHERE subject_id = $1 AND event LIKE 'pin.%'",
            user_id,
        )
        .await,
    )
}

async fn the_users_page_tells_when_each_pin_last_saw_an_event(app: TestApp) {
    let acme = app.account("Acme", UnlockPolicy::SelfService).await;
    app.admin(&acme, "root").await;
    let bob = app.user(&acme, "bob").await;
    let carol = app.user(&acme, "carol").await;
    let sam = app.agent("sam").await;
    // Created with a PIN: that is the PIN's first event, on both members' rows.
    let (kept, logged) = last_pin_event(&app, bob.id).await;
    assert!(kept.is_some() && kept == logged, "{kept:?} {logged:?}");

    // Twenty verifications at once: the row ends at the latest of them, as the log does.
    let pin = app.pin_of(&bob).await;
    let runs: Vec<_> = (0..20)
        .map(|_| {
            let (ctx, sam, bob, pin) = (app.ctx.clone(), sam.clone(), bob.clone(), pin.clone());
            tokio::spawn(async move { pins::verify(&ctx, &sam, &bob, &pin, None).await })
        })
        .collect();
    for run in runs {
        run.await.unwrap().expect("verify");
    }
    let (kept, logged) = last_pin_event(&app, bob.id).await;
    assert_eq!(kept, logged);

    // An older PIN event written late does not move it back; a login is not a PIN event.
    let latest = kept.unwrap();
    sqlx::query(
        "INSERT INTO audit_log (at, event, actor_name, subject_id, account_id, detail, category) \
         VALUES ($1, 'pin.shown', 'bob', $2, $3, '', 'pin')",
    )
    .bind(latest - 3600)
    .bind(bob.id)
    .bind(acme.id)
    .execute(app.pool())
    .await
    .unwrap();
    sqlx::query("UPDATE support_pins SET last_event_at = 1000 WHERE user_id = $1")
        .bind(carol.id)
        .execute(app.pool())
        .await
        .unwrap();
    app.logged_in("carol").await;
    assert_eq!(last_pin_event(&app, bob.id).await.0, Some(latest));
    assert_eq!(last_pin_event(&app, carol.id).await.0, Some(1000));

    // The page shows what the row keeps.
    let root = app.logged_in("root").await;
    let (status, _, page) = root.get("/users").await;
    assert_eq!(status, 200);
    let row = |name: &str| {
        let at = page.find(&format!("data-username=\"{name}\"")).unwrap();
        page[at..at + page[at..].find("</tr>").unwrap()].to_owned()
    };
    assert!(row("bob").contains(&format_time(latest)), "{}", row("bob"));
    assert!(
        row("carol").contains(&format_time(1000)),
        "{}",
        row("carol")
    );
}

/// Migration 0011's backfill, run on rows of every event the log can hold, gives each the
/// category a new row of that event is written with.
async fn the_migration_gives_old_events_the_category_new_ones_get(app: TestApp) {
    let backfill = &migration_statement(
        app.db.backend,
        "0011_history",
        "UPDATE audit_log SET category",
    );
    sqlx::query("DELETE FROM audit_log")
        .execute(app.pool())
        .await
        .unwrap();
    // Recent (the housekeeping that runs at start would purge rows older than the retention).
    for e in Event::ALL {
        sqlx::query(
            "INSERT INTO audit_log (at, event, actor_name, detail) VALUES ($1, $2, 'test', '')",
        )
        .bind(pinpanel::store::now())
        .bind(e.as_str())
        .execute(app.pool())
        .await
        .unwrap();
    }
    sqlx::query(backfill).execute(app.pool()).await.unwrap();
    let rows: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT event, category FROM audit_log ORDER BY id")
            .fetch_all(app.pool())
            .await
            .unwrap();
    assert_eq!(rows.len(), Event::ALL.len());
    for (event, category) in rows {
        let e: Event = event.parse().unwrap();
        assert_eq!(
            category.as_deref(),
            e.category().map(ActivityKind::as_str),
            "{event}"
        );
    }
}

async fn the_profile_finds_its_pin_events_past_newer_events_of_other_kinds(app: TestApp) {
    let acme = app.account("Acme", UnlockPolicy::SelfService).await;
    let bob = app.user(&acme, "bob").await;
    let sam = app.agent("sam").await;
    let pin = app.pin_of(&bob).await;
    pins::verify(&app.ctx, &sam, &bob, &pin, None)
        .await
        .expect("verify");
    // 300 newer events about bob of another kind (logins), past any limit a page reads.
    for _ in 0..300 {
        pinpanel::store::audit::insert(
            &mut app.pool().acquire().await.unwrap(),
            &pinpanel::store::audit::NewEvent {
                event: Event::LoginOk,
                actor_id: Some(bob.id),
                actor: &pinpanel::domain::ActorRef::member("bob"),
                subject_id: Some(bob.id),
                account_id: Some(acme.id),
                detail: "",
                address: None,
                reference: None,
            },
            pinpanel::store::now(),
        )
        .await
        .unwrap();
    }
    let (_, events) = pins::overview(&app.ctx, &bob, &bob, 20).await.unwrap();
    // Its PIN events, newest first: the verification down to the creation (app.pin_of showed
    // the PIN on the way), none of the logins.
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        names,
        [
            Event::PinVerified.as_str(),
            Event::PinShown.as_str(),
            Event::PinCreated.as_str()
        ]
    );
    let c = app.logged_in("bob").await;
    let (status, _, page) = c.get("/profile").await;
    assert_eq!(status, 200);
    assert!(page.contains("checked your PIN"), "{page}");
}

async fn the_csv_export_streams_every_event_once_in_batches(app: TestApp) {
    let acme = app.account("Acme", UnlockPolicy::SelfService).await;
    let other = app.account("Other", UnlockPolicy::SelfService).await;
    app.admin(&acme, "root").await;
    let bob = app.user(&acme, "bob").await;
    // Two and a half batches of numbered events in the account, a few in another one.
    let n = activity::EXPORT_BATCH * 5 / 2;
    let rows = |account: i64, from: i64, count: i64| {
        (from..from + count)
            .map(|i| {
                format!(
                    "({i}, 'pin.shown', 'bob', {}, {account}, 'n{i}', 'pin')",
                    bob.id
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (account, from, count) in [(acme.id, 1_000, n), (other.id, 100_000, 5)] {
        sqlx::query(&format!(
            "INSERT INTO audit_log (at, event, actor_name, subject_id, account_id, detail, \
             category) VALUES {}",
            rows(account, from, count)
        ))
        .execute(app.pool())
        .await
        .unwrap();
    }
    let root = app.logged_in("root").await;
    let res = root
        .http
        .get(root.url("/users/activity.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("content-length").is_none(), "streamed");
    let csv = res.text().await.unwrap();
    let numbered: Vec<i64> = csv
        .lines()
        .filter_map(|l| l.rsplit(',').next())
        .filter_map(|d| d.trim_matches('"').strip_prefix('n')?.parse().ok())
        .collect();
    // Every one, once, newest first; none of the other account's.
    let expected: Vec<i64> = (1_000..1_000 + n).rev().collect();
    assert_eq!(numbered, expected);
    assert!(csv.starts_with("time,what,event,by,member,reference,detail\r\n"));
    assert!(
        csv.contains("\"member.created\""),
        "the account's own events too"
    );
}

async fn the_retention_sweep_removes_every_old_row_across_its_batches(app: TestApp) {
    let acme = app.account("Acme", UnlockPolicy::SelfService).await;
    let bob = app.user(&acme, "bob").await;
    let kept_before = last_pin_event(&app, bob.id).await.0;
    let now = pinpanel::store::now();
    // 5 000 rows past the retention (three batches and a part), oldest first, and 10 within.
    let old: Vec<String> = (0..5_000)
        .map(|i| {
            format!(
                "({}, 'pin.shown', 'bob', {}, '', 'pin')",
                now - 500 * 86400 + i,
                bob.id
            )
        })
        .collect();
    let recent: Vec<String> = (0..10)
        .map(|i| {
            format!(
                "({}, 'login.ok', 'bob', {}, '', 'logins')",
                now - 10 - i,
                bob.id
            )
        })
        .collect();
    for values in [old, recent] {
        sqlx::query(&format!(
            "INSERT INTO audit_log (at, event, actor_name, subject_id, detail, category) VALUES {}",
            values.join(", ")
        ))
        .execute(app.pool())
        .await
        .unwrap();
    }
    let removed = maintenance::run(&app.ctx).await.unwrap();
    assert_eq!(removed.audit_rows, 5_000);
    let left = |sql: &'static str| scalar(&app, sql, bob.id);
    assert_eq!(
        left("SELECT COUNT(*) FROM audit_log WHERE subject_id = $1 AND event = 'pin.shown'").await,
        Some(0)
    );
    assert_eq!(
        left("SELECT COUNT(*) FROM audit_log WHERE subject_id = $1 AND event = 'login.ok'").await,
        Some(10)
    );
    // The PIN's last event stays what it was: purging old rows does not rewrite it.
    assert_eq!(last_pin_event(&app, bob.id).await.0, kept_before);
}

async fn the_overview_counts_each_verification_on_its_own_day(app: TestApp) {
    let acme = app.account("Acme", UnlockPolicy::SelfService).await;
    let root = app.admin(&acme, "root").await;
    let bob = app.user(&acme, "bob").await;
    let sam = app.agent("sam").await;
    // Twelve verifications at once, three of them wrong, today.
    let right = app.pin_of(&bob).await;
    let wrong = app.wrong_pin_for(&bob).await;
    let runs: Vec<_> = (0..12)
        .map(|i| {
            let (ctx, sam, bob) = (app.ctx.clone(), sam.clone(), bob.clone());
            let pin = if i < 3 { wrong.clone() } else { right.clone() };
            tokio::spawn(async move { pins::verify(&ctx, &sam, &bob, &pin, None).await })
        })
        .collect();
    for run in runs {
        run.await.unwrap().expect("verify");
    }
    // Two written with the times of 3 and 40 days ago: counted on their day (the second is
    // older than the chart), and not on today's.
    let now = pinpanel::store::now();
    for days in [3, 40] {
        sqlx::query(
            "INSERT INTO audit_log (at, event, actor_name, subject_id, account_id, detail, \
             category) VALUES ($1, 'pin.verified', 'sam', $2, $3, '', 'pin')",
        )
        .bind(now - days * 86_400)
        .bind(bob.id)
        .bind(acme.id)
        .execute(app.pool())
        .await
        .unwrap();
    }
    let o = overview::overview(&app.ctx, &root, acme.id).await.unwrap();
    assert_eq!(o.days.len() as i64, overview::DAYS);
    let today = o.days.last().unwrap();
    assert_eq!((today.correct, today.wrong, today.locked), (9, 3, 0));
    let three_ago = &o.days[o.days.len() - 4];
    assert_eq!((three_ago.correct, three_ago.wrong), (1, 0));
    let all: i64 = o.days.iter().map(|d| d.total()).sum();
    assert_eq!(all, 13);
}

/// Audit rows older than the retention period are purged by the housekeeping every instance
/// runs; newer ones stay.
async fn old_audit_rows_are_purged(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.user(&acct, "alice").await;
    let now = pinpanel::store::now();
    for (days, event) in [(401, "old.event"), (399, "recent.event")] {
        sqlx::query(
            "INSERT INTO audit_log (at, event, actor_name, detail) VALUES ($1, $2, 'test', '')",
        )
        .bind(now - days * 24 * 3600)
        .bind(event)
        .execute(app.pool())
        .await
        .unwrap();
    }
    let removed = maintenance::run(&app.ctx).await.unwrap();
    assert_eq!(removed.audit_rows, 1);
    assert_eq!(
        count(
            app.pool(),
            "SELECT COUNT(*) FROM audit_log WHERE event = 'old.event'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            app.pool(),
            "SELECT COUNT(*) FROM audit_log WHERE event = 'recent.event'"
        )
        .await,
        1
    );
    assert!(
        count(
            app.pool(),
            "SELECT COUNT(*) FROM audit_log WHERE event = 'member.created'"
        )
        .await
            > 0
    );
}
