//! The alarm for impostors, on both backends: its thresholds, once an hour, the mail to the
//! administrators, one alarm from many requests at once, acknowledged only by its own account.

use pinpanel::domain::{UnlockPolicy, User};
use pinpanel::service::alarm::{LOCKS_PER_DAY, WRONG_PINS_PER_HOUR};
use pinpanel::service::pins;

use crate::dual;
use crate::helpers::mail::mailing_app;
use crate::helpers::{count, Backend};

dual!(
    backend: the_alarm_warns_administrators_once_an_hour,
);

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
    app.wrong_verifications(&agent, &members[0], 4).await;
    app.wrong_verifications(&agent, &members[1], 4).await;
    app.wrong_verifications(&agent, &members[2], (WRONG_PINS_PER_HOUR - 9) as usize)
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
    app.wrong_verifications(&agent, &members[3], 1).await;
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
    app.wrong_verifications(&agent, &members[3], 1).await;
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
