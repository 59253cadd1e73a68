//! The Support PIN section: Show, Hide, Edit with the rules, sudo mode (on the page and for an
//! API token), encryption at rest, audit, isolation.

use pinpanel::domain::UnlockPolicy;
use pinpanel::startup::ServeSettings;
use serde_json::{json, Value};

use crate::dual;
use crate::helpers::{spawn_app_with, Backend, TestApp, PASSWORD};

dual!(
    show_and_hide_with_htmx,
    show_and_hide_without_javascript,
    edit_refuses_each_rule_and_saves_a_valid_pin,
    edit_without_javascript_uses_full_pages,
    no_plaintext_pin_in_the_database,
    swapped_ciphertexts_fail_to_decrypt,
    shown_and_changed_are_audited_without_the_pin,
    two_members_never_see_each_others_pin,
    the_api_shows_and_changes_the_pin_only_within_the_reauth_window,
);

fn masked(body: &str) -> bool {
    body.contains("Your Support PIN is hidden.")
}

async fn show_and_hide_with_htmx(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let pin = app.pin_of(&alice).await;
    let c = app.logged_in("alice").await;
    let (status, _, page) = c.get("/profile").await;
    assert_eq!(status, 200);
    assert!(masked(&page) && !page.contains(&pin), "masked by default");
    assert!(page.contains("We will never contact you and ask for your Support PIN. Only give it when you contact Support."));
    let (status, headers, fragment) = c.hx_post("/profile/support-pin/show", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(headers["cache-control"], "no-store");
    assert!(
        fragment.starts_with("<section id=\"support-pin\""),
        "a fragment, not a page"
    );
    assert!(fragment.contains(&format!(">{pin}</output>")));
    assert!(fragment.contains("hx-history=\"false\""));
    let (status, _, hidden) = c.hx_get("/profile/support-pin").await;
    assert_eq!(status, 200);
    assert!(masked(&hidden) && !hidden.contains(&pin));
}

async fn show_and_hide_without_javascript(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let pin = app.pin_of(&alice).await;
    let c = app.logged_in("alice").await;
    let (status, _, page) = c.post("/profile/support-pin/show", &[]).await;
    assert_eq!(status, 200);
    assert!(page.starts_with("<!doctype html>") && page.contains(&pin));
    let (_, _, page) = c.get("/profile/support-pin").await;
    assert!(page.starts_with("<!doctype html>") && masked(&page) && !page.contains(&pin));
}

async fn edit_refuses_each_rule_and_saves_a_valid_pin(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let before = app.pin_of(&alice).await;
    let c = app.logged_in("alice").await;
    let (status, _, form) = c.hx_get("/profile/support-pin/edit").await;
    assert_eq!(status, 200);
    assert!(form.contains("<label for=\"pin\">") && form.contains("inputmode=\"numeric\""));
    assert!(form.contains("autocomplete=\"off\"") && form.contains("maxlength=\"6\""));
    for (candidate, reason) in [
        ("111123", "more than three repeating numbers"),
        ("345612", "more than three sequential numbers"),
        ("12345", "exactly six digits"),
        ("١٢٣٤٥٦", "only the digits 0 to 9"),
    ] {
        let (status, _, body) = c
            .hx_post("/profile/support-pin", &[("pin", candidate)])
            .await;
        assert_eq!(status, 422, "{candidate}");
        assert!(body.contains(reason), "{candidate}: {body}");
        assert!(
            body.contains("Use six numeric digits (such as 871694)."),
            "the guidance is shown"
        );
        assert!(body.contains("role=\"alert\"") && body.contains("aria-invalid=\"true\""));
        assert!(body.contains("aria-describedby=\"pin-rules pin-errors\""));
        assert_eq!(
            app.pin_of(&alice).await,
            before,
            "nothing stored for {candidate}"
        );
    }
    let (status, _, body) = c
        .hx_post("/profile/support-pin", &[("pin", "871694")])
        .await;
    assert_eq!(status, 200);
    assert!(body.contains("Your Support PIN has been changed.") && masked(&body));
    assert!(
        !body.contains("871694"),
        "the confirmation does not echo the PIN"
    );
    assert_eq!(app.pin_of(&alice).await, "871694");
    let (_, _, shown) = c.hx_post("/profile/support-pin/show", &[]).await;
    assert!(shown.contains(">871694</output>"));
}

async fn edit_without_javascript_uses_full_pages(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let c = app.logged_in("alice").await;
    let (status, _, page) = c.get("/profile/support-pin/edit").await;
    assert_eq!(status, 200);
    assert!(page.starts_with("<!doctype html>") && page.contains("New Support PIN"));
    let (status, _, page) = c.post("/profile/support-pin", &[("pin", "111123")]).await;
    assert_eq!(status, 422);
    assert!(
        page.starts_with("<!doctype html>") && page.contains("more than three repeating numbers")
    );
    let (status, _, page) = c.post("/profile/support-pin", &[("pin", "920385")]).await;
    assert_eq!(status, 200);
    assert!(page.contains("Your Support PIN has been changed."));
    assert_eq!(app.pin_of(&alice).await, "920385");
    // Cancel is a plain link back to the masked section.
    let (_, _, page) = c.get("/profile/support-pin").await;
    assert!(masked(&page));
}

async fn no_plaintext_pin_in_the_database(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let c = app.logged_in("alice").await;
    c.hx_post("/profile/support-pin", &[("pin", "871694")])
        .await;
    c.hx_post("/profile/support-pin/show", &[]).await;
    let generated = app.pin_of(&alice).await;
    assert_eq!(generated, "871694");
    // Every text and blob the database holds, in every table.
    let tables = [
        "accounts",
        "users",
        "support_pins",
        "audit_log",
        "sessions",
        "api_tokens",
        "throttle",
        "settings",
    ];
    let mut dump = Vec::new();
    for t in tables {
        let rows = sqlx::query(&format!("SELECT * FROM {t}"))
            .fetch_all(app.pool())
            .await
            .unwrap();
        for row in rows {
            use sqlx::{Column, Row};
            for col in row.columns() {
                let i = col.ordinal();
                if let Ok(Some(s)) = row.try_get::<Option<String>, _>(i) {
                    dump.extend_from_slice(s.as_bytes());
                } else if let Ok(Some(b)) = row.try_get::<Option<Vec<u8>>, _>(i) {
                    dump.extend_from_slice(&b);
                }
                dump.push(b'\n');
            }
        }
    }
    assert!(!dump.is_empty());
    assert!(
        !dump.windows(6).any(|w| w == b"871694"),
        "a plaintext PIN is in the database"
    );
    if app.db.backend == Backend::Sqlite {
        // And not in the file itself (WAL included), whatever the query layer shows.
        let path = app.db.url.trim_start_matches("sqlite:").to_owned();
        for file in [path.clone(), format!("{path}-wal")] {
            if let Ok(bytes) = std::fs::read(&file) {
                assert!(
                    !bytes.windows(6).any(|w| w == b"871694"),
                    "plaintext PIN in {file}"
                );
            }
        }
    }
}

async fn swapped_ciphertexts_fail_to_decrypt(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let bob = app.user(&acct, "bob").await;
    let blob = |id: i64| {
        let pool = app.pool().clone();
        async move {
            sqlx::query_scalar::<_, Vec<u8>>(
                "SELECT ciphertext FROM support_pins WHERE user_id = $1",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let (a, b) = (blob(alice.id).await, blob(bob.id).await);
    for (id, bytes) in [(alice.id, &b), (bob.id, &a)] {
        sqlx::query("UPDATE support_pins SET ciphertext = $2 WHERE user_id = $1")
            .bind(id)
            .bind(bytes.clone())
            .execute(app.pool())
            .await
            .unwrap();
    }
    let err =
        pinpanel::service::pins::show(&app.ctx, &alice, &alice, &crate::helpers::fresh(&alice))
            .await
            .unwrap_err();
    assert!(
        format!("{err:#}").contains("could not be decrypted"),
        "{err:#}"
    );
    // The page says something went wrong and shows no digits.
    let c = app.logged_in("alice").await;
    let (status, _, body) = c.post("/profile/support-pin/show", &[]).await;
    assert_eq!(status, 500);
    assert!(body.contains("Request id") && !body.contains("decrypt"));
}

async fn shown_and_changed_are_audited_without_the_pin(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let c = app.logged_in("alice").await;
    c.hx_post("/profile/support-pin/show", &[]).await;
    c.hx_post("/profile/support-pin", &[("pin", "871694")])
        .await;
    let events: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT event, actor_name, detail FROM audit_log WHERE subject_id = $1 ORDER BY id",
    )
    .bind(alice.id)
    .fetch_all(app.pool())
    .await
    .unwrap();
    let names: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
    assert!(
        names.contains(&"pin.shown") && names.contains(&"pin.changed"),
        "{names:?}"
    );
    assert!(events.iter().all(|e| !e.2.contains("871694")));
    // The activity list shows them with time and actor.
    let (_, _, section) = c.hx_get("/profile/support-pin").await;
    assert!(
        section.contains("<td>You changed your Support PIN</td>"),
        "{section}"
    );
    assert!(section.contains("<td>You looked at your Support PIN</td>"));
    assert!(section.contains("Last changed <time datetime="));
}

async fn two_members_never_see_each_others_pin(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let bob = app.admin(&acct, "bob").await;
    let (pa, pb) = (app.pin_of(&alice).await, app.pin_of(&bob).await);
    let a = app.logged_in("alice").await;
    let b = app.logged_in("bob").await;
    let mut bodies_a = Vec::new();
    let mut bodies_b = Vec::new();
    for path in [
        "/profile",
        "/profile/support-pin",
        "/profile/support-pin/edit",
        "/users",
    ] {
        bodies_a.push(a.get(path).await.2);
        bodies_b.push(b.get(path).await.2);
    }
    bodies_a.push(a.hx_post("/profile/support-pin/show", &[]).await.2);
    bodies_b.push(b.hx_post("/profile/support-pin/show", &[]).await.2);
    assert!(bodies_a.iter().any(|x| x.contains(&pa)) && bodies_b.iter().any(|x| x.contains(&pb)));
    assert!(
        bodies_a.iter().all(|x| !x.contains(&pb)),
        "alice saw bob's PIN"
    );
    assert!(
        bodies_b.iter().all(|x| !x.contains(&pa)),
        "bob (an admin) saw alice's PIN"
    );
}

/// Sudo mode: with the window closed (0 minutes), Show and Edit ask for the password in place,
/// then go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_reauthentication_window_asks_for_the_password_then_continues() {
    let settings = ServeSettings {
        reauth_secs: 0,
        ..crate::helpers::test_settings()
    };
    let app = spawn_app_with(Backend::Sqlite, settings).await.unwrap();
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let pin = app.pin_of(&alice).await;
    let c = app.logged_in("alice").await;
    let (status, _, body) = c.hx_post("/profile/support-pin/show", &[]).await;
    assert_eq!(status, 200);
    assert!(body.contains("confirm your password to see") && !body.contains(&pin));
    let (status, _, body) = c
        .hx_post(
            "/profile/reauth",
            &[("password", "wrong"), ("then", "show")],
        )
        .await;
    assert_eq!(status, 422);
    assert!(body.contains("That password is not correct.") && !body.contains(&pin));
    let (status, _, body) = c
        .hx_post(
            "/profile/reauth",
            &[("password", PASSWORD), ("then", "show")],
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        body.contains(&format!(">{pin}</output>")),
        "continues to Show"
    );
    let (_, _, body) = c.hx_get("/profile/support-pin/edit").await;
    assert!(body.contains("confirm your password to change"));
    let (_, _, body) = c
        .hx_post(
            "/profile/reauth",
            &[("password", PASSWORD), ("then", "edit")],
        )
        .await;
    assert!(body.contains("New Support PIN"), "continues to Edit");
    // Saving with an expired window is refused too, and nothing is stored.
    let (_, _, body) = c
        .hx_post("/profile/support-pin", &[("pin", "871694")])
        .await;
    assert!(body.contains("confirm your password"));
    assert_eq!(app.pin_of(&alice).await, pin);
}

/// A 24-hour token shows and changes the PIN only within the re-auth window of its password
/// entry; later the GET omits the PIN and the change is 403 with a clear message.
async fn the_api_shows_and_changes_the_pin_only_within_the_reauth_window(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let pin = app.pin_of(&alice).await;
    let http = reqwest::Client::new();
    let fresh = app.token("alice").await;
    let old = app.token("alice").await;
    // The second token's password entry was 16 minutes ago (the window is 15).
    sqlx::query("UPDATE api_tokens SET created_at = created_at - 960 WHERE token_hash = $1")
        .bind(pinpanel::crypto::sha256_hex(old.as_bytes()))
        .execute(app.pool())
        .await
        .unwrap();
    let me = app.url(&format!("/v2.0/users/{}", alice.id));
    let get = |token: String| {
        let req = http.get(&me).header("X-Auth-Token", token);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    assert_eq!(
        get(fresh.clone()).await["user"]["RAX-AUTH:phonePin"],
        json!(pin)
    );
    let late = get(old.clone()).await;
    assert!(late["user"].get("RAX-AUTH:phonePin").is_none(), "{late}");
    assert_eq!(late["user"]["RAX-AUTH:phonePinState"], "ACTIVE");
    let change = |token: String, pin: &str| {
        let req = http
            .post(&me)
            .header("X-Auth-Token", token)
            .json(&json!({"user":{"RAX-AUTH:phonePin":pin}}));
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = change(old, "871694").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["forbidden"]["message"]
            .as_str()
            .unwrap()
            .contains("re-authentication window"),
        "{body}"
    );
    assert_eq!(app.pin_of(&alice).await, pin, "nothing changed");
    let (status, _) = change(fresh, "871694").await;
    assert_eq!(status, 200);
    assert_eq!(app.pin_of(&alice).await, "871694");
}
