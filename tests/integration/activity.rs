//! Events in people's words, on both backends: the activity, the profile and the CSV with its
//! code column, and verifications tied to a ticket or call reference.

use pinpanel::domain::{Reference, UnlockPolicy};

use crate::dual;
use crate::helpers::{count, unescaped, TestApp};

dual!(activity_reads_in_words_and_verifications_carry_their_reference);

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
