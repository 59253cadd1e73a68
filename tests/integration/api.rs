//! The JSON API: every call and every error code of SPEC, sharing state with the panel.

use pinpanel::domain::UnlockPolicy;
use serde_json::{json, Value};

use crate::dual;
use crate::helpers::{Api, TestApp, PASSWORD};

dual!(
    tokens_are_issued_revoked_and_refuse_bad_credentials_alike,
    users_are_read_with_the_pin_only_for_themselves,
    members_change_their_own_pin,
    agents_verify_and_six_wrong_verifies_lock_the_web_page_too,
    unlock_is_204_then_403_pp005_and_pp002_when_not_permitted,
    reset_by_an_admin_changes_the_pin_and_respects_its_rules,
    members_of_other_accounts_are_404,
    malformed_requests_get_clear_4xx_and_change_nothing,
    a_recited_pin_is_the_same_pin_with_stray_spaces_on_both_faces,
);

fn pin_body(pin: &str) -> Value {
    json!({"RAX-AUTH:phonePin":{"pin":pin}})
}

async fn tokens_are_issued_revoked_and_refuse_bad_credentials_alike(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    app.agent("sam").await;
    let api = Api::new(&app);
    let (status, body) = api
        .send(
            "POST",
            "/v2.0/tokens",
            None,
            Some(json!({"auth":{"passwordCredentials":{"username":"alice","password":PASSWORD}}})),
        )
        .await;
    assert_eq!(status, 200);
    let user = &body["access"]["user"];
    assert_eq!(user["id"], alice.id.to_string());
    assert_eq!(user["name"], "alice");
    assert_eq!(user["RAX-AUTH:phonePin"], app.pin_of(&alice).await);
    assert_eq!(user["RAX-AUTH:phonePinState"], "ACTIVE");
    assert!(body["access"]["token"]["expires"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    let token = body["access"]["token"]["id"].as_str().unwrap().to_owned();
    // Stored hashed.
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens WHERE token_hash = $1")
        .bind(&token)
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(stored, 0);
    // Agents get a token and no PIN.
    let (_, body) = api
        .send(
            "POST",
            "/v2.0/tokens",
            None,
            Some(json!({"auth":{"passwordCredentials":{"username":"sam","password":PASSWORD}}})),
        )
        .await;
    assert!(body["access"]["user"].get("RAX-AUTH:phonePin").is_none());
    // Wrong password and unknown user: the same 401.
    let (s1, b1) = api
        .send(
            "POST",
            "/v2.0/tokens",
            None,
            Some(
                json!({"auth":{"passwordCredentials":{"username":"alice","password":"nope-nope"}}}),
            ),
        )
        .await;
    let (s2, b2) = api
        .send(
            "POST",
            "/v2.0/tokens",
            None,
            Some(
                json!({"auth":{"passwordCredentials":{"username":"ghost","password":"nope-nope"}}}),
            ),
        )
        .await;
    assert_eq!((s1, s2), (401, 401));
    assert_eq!(b1, b2);
    assert_eq!(b1["unauthorized"]["code"], 401);
    // Revocation.
    let me = format!("/v2.0/users/{}", alice.id);
    assert_eq!(api.send("GET", &me, Some(&token), None).await.0, 200);
    assert_eq!(
        api.send(
            "DELETE",
            &format!("/v2.0/tokens/{token}"),
            Some(&token),
            None
        )
        .await
        .0,
        204
    );
    let (status, body) = api.send("GET", &me, Some(&token), None).await;
    assert_eq!(status, 401);
    assert_eq!(body["unauthorized"]["code"], 401);
    // No token, or a cookie instead of a token: 401.
    assert_eq!(api.send("GET", &me, None, None).await.0, 401);
    let web = app.logged_in("alice").await;
    let res = web.http.get(web.url(&me)).send().await.unwrap();
    assert_eq!(res.status(), 401, "cookies are never API authentication");
}

async fn users_are_read_with_the_pin_only_for_themselves(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let ada = app.admin(&acct, "ada").await;
    let alice = app.user(&acct, "alice").await;
    let bob = app.user(&acct, "bob").await;
    let api = Api::new(&app);
    let t_alice = api.token("alice").await;
    let t_ada = api.token("ada").await;
    let (status, body) = api
        .send(
            "GET",
            &format!("/v2.0/users/{}", alice.id),
            Some(&t_alice),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let u = &body["user"];
    assert_eq!(
        (
            u["username"].clone(),
            u["email"].clone(),
            u["enabled"].clone()
        ),
        (json!("alice"), json!("alice@example.com"), json!(true))
    );
    assert_eq!(u["RAX-AUTH:phonePinState"], "ACTIVE");
    assert_eq!(u["RAX-AUTH:phonePin"], app.pin_of(&alice).await);
    // An admin sees the state, never the PIN.
    let (status, body) = api
        .send(
            "GET",
            &format!("/v2.0/users/{}", alice.id),
            Some(&t_ada),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(body["user"].get("RAX-AUTH:phonePin").is_none());
    assert_eq!(body["user"]["RAX-AUTH:phonePinState"], "ACTIVE");
    // A plain member may not read another member: 404, as the provider answers every denial.
    let (status, body) = api
        .send(
            "GET",
            &format!("/v2.0/users/{}", bob.id),
            Some(&t_alice),
            None,
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["itemNotFound"]["code"], 404);
    // GET /v2.0/users: admins only, no PINs.
    let (status, body) = api.send("GET", "/v2.0/users", Some(&t_ada), None).await;
    assert_eq!(status, 200);
    let users = body["users"].as_array().unwrap();
    assert_eq!(users.len(), 3);
    assert!(users
        .iter()
        .all(|u| u.get("RAX-AUTH:phonePin").is_none() && u["RAX-AUTH:phonePinState"] == "ACTIVE"));
    let text = body.to_string();
    for who in [&ada, &alice, &bob] {
        assert!(!text.contains(&app.pin_of(who).await));
    }
    // A plain member lists only themselves.
    let (status, body) = api.send("GET", "/v2.0/users", Some(&t_alice), None).await;
    assert_eq!(status, 200);
    let users = body["users"].as_array().unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["username"], "alice");
    assert!(users[0].get("RAX-AUTH:phonePin").is_none());
}

async fn members_change_their_own_pin(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let ada = app.admin(&acct, "ada").await;
    let alice = app.user(&acct, "alice").await;
    let api = Api::new(&app);
    let t = api.token("alice").await;
    let me = format!("/v2.0/users/{}", alice.id);
    let (status, body) = api
        .send(
            "POST",
            &me,
            Some(&t),
            Some(json!({"user":{"RAX-AUTH:phonePin":"136983"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["RAX-AUTH:phonePinState"], "ACTIVE");
    assert_eq!(app.pin_of(&alice).await, "136983");
    for bad in ["111123", "345612", "12345", "abcdef", ""] {
        let (status, body) = api
            .send(
                "POST",
                &me,
                Some(&t),
                Some(json!({"user":{"RAX-AUTH:phonePin":bad}})),
            )
            .await;
        assert_eq!(status, 400, "{bad}");
        assert!(
            body["badRequest"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Error code: 'PP-001';"),
            "{body}"
        );
    }
    assert_eq!(app.pin_of(&alice).await, "136983");
    // Not someone else's, even as their admin.
    let t_ada = api.token("ada").await;
    let (status, _) = api
        .send(
            "POST",
            &me,
            Some(&t_ada),
            Some(json!({"user":{"RAX-AUTH:phonePin":"871694"}})),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(app.pin_of(&alice).await, "136983");
    let _ = ada;
}

async fn agents_verify_and_six_wrong_verifies_lock_the_web_page_too(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    app.agent("sam").await;
    let api = Api::new(&app);
    let t = api.token("sam").await;
    let verify = format!("/v2.0/users/{}/RAX-AUTH/phone-pin/verify", alice.id);
    let (right, wrong) = (app.pin_of(&alice).await, app.wrong_pin_for(&alice).await);
    let (status, body) = api
        .send("POST", &verify, Some(&t), Some(pin_body(&right)))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"RAX-AUTH:verifyPhonePinResult":{"authenticated":true}})
    );
    for _ in 0..6 {
        let (status, body) = api
            .send("POST", &verify, Some(&t), Some(pin_body(&wrong)))
            .await;
        assert_eq!(status, 200);
        assert_eq!(
            body["RAX-AUTH:verifyPhonePinResult"]["authenticated"],
            false
        );
        assert_eq!(
            body["RAX-AUTH:verifyPhonePinResult"]["failureCode"],
            "PP-003"
        );
    }
    let (_, body) = api
        .send("POST", &verify, Some(&t), Some(pin_body(&right)))
        .await;
    assert_eq!(
        body["RAX-AUTH:verifyPhonePinResult"]["failureCode"],
        "PP-004"
    );
    assert!(body["RAX-AUTH:verifyPhonePinResult"]["failureMessage"].is_string());
    let web = app.logged_in("alice").await;
    assert!(web.get("/profile").await.2.contains("Support PIN Locked"));
    // Missing or blank pin: 400 PP-001; no wrapper: 400.
    for body in [
        json!({"RAX-AUTH:phonePin":{}}),
        json!({"RAX-AUTH:phonePin":{"pin":"  "}}),
    ] {
        let (status, b) = api.send("POST", &verify, Some(&t), Some(body)).await;
        assert_eq!(status, 400);
        assert_eq!(
            b["badRequest"]["message"],
            "Error code: 'PP-001'; Must supply a Phone PIN."
        );
    }
    let (status, b) = api
        .send("POST", &verify, Some(&t), Some(json!({"pin":"123456"})))
        .await;
    assert_eq!(status, 400);
    assert_eq!(b["badRequest"]["code"], 400);
    // Only agents verify.
    let t_alice = api.token("alice").await;
    let (status, _) = api
        .send("POST", &verify, Some(&t_alice), Some(pin_body(&right)))
        .await;
    assert_eq!(status, 403);
    // A member without a PIN: PP-000.
    let nopin = app.member_without_pin(&acct, "nopin").await;
    let (_, body) = api
        .send(
            "POST",
            &format!("/v2.0/users/{}/RAX-AUTH/phone-pin/verify", nopin.id),
            Some(&t),
            Some(pin_body("871694")),
        )
        .await;
    assert_eq!(
        body["RAX-AUTH:verifyPhonePinResult"]["failureCode"],
        "PP-000"
    );
}

async fn unlock_is_204_then_403_pp005_and_pp002_when_not_permitted(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    app.admin(&acct, "ada").await;
    app.agent("sam").await;
    let api = Api::new(&app);
    let t_sam = api.token("sam").await;
    let t_ada = api.token("ada").await;
    let t_alice = api.token("alice").await;
    let verify = format!("/v2.0/users/{}/RAX-AUTH/phone-pin/verify", alice.id);
    let unlock = format!("/v2.0/users/{}/RAX-AUTH/phone-pin/unlock", alice.id);
    let right = app.pin_of(&alice).await;
    let wrong = app.wrong_pin_for(&alice).await;
    let lock = || async {
        for _ in 0..6 {
            api.send("POST", &verify, Some(&t_sam), Some(pin_body(&wrong)))
                .await;
        }
    };
    lock().await;
    assert_eq!(api.send("PUT", &unlock, Some(&t_alice), None).await.0, 204);
    let (status, body) = api.send("PUT", &unlock, Some(&t_alice), None).await;
    assert_eq!(status, 403);
    assert_eq!(
        body["forbidden"]["message"],
        "Error code: 'PP-005'; The Phone PIN is not locked."
    );
    // Policy admins: the owner may not.
    app.set_unlock_policy(&acct, UnlockPolicy::Admins).await;
    lock().await;
    let (status, body) = api.send("PUT", &unlock, Some(&t_alice), None).await;
    assert_eq!(status, 403);
    assert!(body["forbidden"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Error code: 'PP-002';"));
    assert_eq!(app.pin_row(&alice).await.0, "LOCKED");
    // An agent may not (verify-and-unlock loops would let an agent guess any PIN); the locked
    // PIN still refuses the right PIN with PP-004.
    let (status, body) = api.send("PUT", &unlock, Some(&t_sam), None).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(app.pin_row(&alice).await.0, "LOCKED");
    let (_, body) = api
        .send("POST", &verify, Some(&t_sam), Some(pin_body(&right)))
        .await;
    assert_eq!(
        body["RAX-AUTH:verifyPhonePinResult"]["failureCode"],
        "PP-004"
    );
    // An administrator of the account may.
    assert_eq!(api.send("PUT", &unlock, Some(&t_ada), None).await.0, 204);
    assert_eq!(app.pin_row(&alice).await, ("ACTIVE".to_owned(), 0));
}

async fn reset_by_an_admin_changes_the_pin_and_respects_its_rules(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let ada = app.admin(&acct, "ada").await;
    let alice = app.user(&acct, "alice").await;
    app.agent("sam").await;
    let api = Api::new(&app);
    let t_ada = api.token("ada").await;
    let t_alice = api.token("alice").await;
    let reset = format!("/v2.0/users/{}/RAX-AUTH/phone-pin/reset", alice.id);
    let before = app.pin_of(&alice).await;
    let (status, body) = api.send("POST", &reset, Some(&t_ada), None).await;
    assert_eq!(
        (status, body),
        (204, Value::Null),
        "the new PIN is not returned"
    );
    let after = app.pin_of(&alice).await;
    assert_ne!(before, after);
    let web = app.logged_in("alice").await;
    assert!(web
        .hx_post("/profile/support-pin/show", &[])
        .await
        .2
        .contains(&after));
    // only_if_missing with a PIN: 409.
    let (status, body) = api
        .send(
            "POST",
            &format!("{reset}?only_if_missing=true"),
            Some(&t_ada),
            None,
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(app.pin_of(&alice).await, after);
    // Never on oneself; never by a plain member.
    assert_eq!(
        api.send(
            "POST",
            &format!("/v2.0/users/{}/RAX-AUTH/phone-pin/reset", ada.id),
            Some(&t_ada),
            None
        )
        .await
        .0,
        403
    );
    assert_eq!(api.send("POST", &reset, Some(&t_alice), None).await.0, 403);
    // Locked: 403 PP-004.
    let t_sam = api.token("sam").await;
    let wrong = app.wrong_pin_for(&alice).await;
    for _ in 0..6 {
        api.send(
            "POST",
            &format!("/v2.0/users/{}/RAX-AUTH/phone-pin/verify", alice.id),
            Some(&t_sam),
            Some(pin_body(&wrong)),
        )
        .await;
    }
    let (status, body) = api.send("POST", &reset, Some(&t_ada), None).await;
    assert_eq!(status, 403);
    assert_eq!(
        body["forbidden"]["message"],
        "Error code: 'PP-004'; User's PIN is locked."
    );
    // A member without a PIN gets one with only_if_missing=true, from an administrator; an
    // agent may not reset at all.
    let nina = app.member_without_pin(&acct, "nina").await;
    let first = format!(
        "/v2.0/users/{}/RAX-AUTH/phone-pin/reset?only_if_missing=true",
        nina.id
    );
    assert_eq!(api.send("POST", &first, Some(&t_sam), None).await.0, 403);
    assert_eq!(app.pin_row(&nina).await.0, "INACTIVE");
    let (status, _) = api.send("POST", &first, Some(&t_ada), None).await;
    assert_eq!(status, 204);
    assert_eq!(app.pin_row(&nina).await.0, "ACTIVE");
}

async fn members_of_other_accounts_are_404(app: TestApp) {
    let acme = app.account("Acme", UnlockPolicy::SelfService).await;
    let other = app.account("Other", UnlockPolicy::SelfService).await;
    let alice = app.user(&acme, "alice").await;
    app.admin(&other, "oscar").await;
    let api = Api::new(&app);
    let t = api.token("oscar").await;
    let base = format!("/v2.0/users/{}", alice.id);
    for (method, path, body) in [
        ("GET", base.clone(), None),
        (
            "POST",
            base.clone(),
            Some(json!({"user":{"RAX-AUTH:phonePin":"871694"}})),
        ),
        ("PUT", format!("{base}/RAX-AUTH/phone-pin/unlock"), None),
        ("POST", format!("{base}/RAX-AUTH/phone-pin/reset"), None),
        ("GET", "/v2.0/users/999999".to_owned(), None),
        ("GET", "/v2.0/users/not-a-number".to_owned(), None),
    ] {
        let (status, b) = api.send(method, &path, Some(&t), body).await;
        assert_eq!(status, 404, "{method} {path}");
        assert_eq!(b["itemNotFound"]["code"], 404);
    }
    let (_, body) = api.send("GET", "/v2.0/users", Some(&t), None).await;
    assert!(!body.to_string().contains("alice"));
}

async fn malformed_requests_get_clear_4xx_and_change_nothing(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let api = Api::new(&app);
    let t = api.token("alice").await;
    let me = app.url(&format!("/v2.0/users/{}", alice.id));
    let before = app.pin_of(&alice).await;
    let http = reqwest::Client::new();
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("application/json", b"{not json".to_vec(), 400, "badRequest"),
        (
            "text/plain",
            br#"{"user":{"RAX-AUTH:phonePin":"871694"}}"#.to_vec(),
            415,
            "badMediaType",
        ),
        (
            "application/json",
            br#"{"user":{"RAX-AUTH:phonePin":871694}}"#.to_vec(),
            400,
            "badRequest",
        ),
        (
            "application/json",
            br#"{"RAX-AUTH:phonePin":"871694"}"#.to_vec(),
            400,
            "badRequest",
        ),
        (
            "application/json",
            vec![0xff, 0xfe, 0x00],
            400,
            "badRequest",
        ),
        (
            "application/json",
            format!(
                r#"{{"user":{{"RAX-AUTH:phonePin":"{}"}}}}"#,
                "9".repeat(70_000)
            )
            .into_bytes(),
            413,
            "requestEntityTooLarge",
        ),
    ];
    for (ctype, body, status, key) in cases {
        let res = http
            .post(&me)
            .header("X-Auth-Token", &t)
            .header("content-type", ctype)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), status, "{ctype}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v[key]["code"], status, "{v}");
    }
    assert_eq!(app.pin_of(&alice).await, before, "nothing changed");
    // Unknown routes and methods answer in the same shape.
    let (status, body) = api.send("GET", "/v2.0/nothing", Some(&t), None).await;
    assert_eq!(
        (status, body["itemNotFound"]["code"].clone()),
        (404, json!(404))
    );
    let (status, body) = api
        .send(
            "DELETE",
            &format!("/v2.0/users/{}", alice.id),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(status, 405);
    assert_eq!(body["badMethod"]["code"], 405);
}

/// Token requests are limited per client address (120 a minute by default), whatever their
/// outcome; the 121st is 429 with Retry-After in the provider's shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn token_requests_are_throttled_per_address() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite)
        .await
        .unwrap();
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.user(&acct, "alice").await;
    let api = Api::new(&app);
    let creds = json!({"auth":{"passwordCredentials":{"username":"alice","password":PASSWORD}}});
    for n in 0..120 {
        let (status, _) = api
            .send("POST", "/v2.0/tokens", None, Some(creds.clone()))
            .await;
        assert_eq!(status, 200, "request {n}");
    }
    let res = api
        .http
        .post(app.url("/v2.0/tokens"))
        .json(&creds)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert!(
        res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
            > 0
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["overLimit"]["code"], 429);
}

/// The service normalises what a caller recites, once for both faces: " 871694 " is the PIN
/// 871694 through the API as on the agent page, and counts nothing toward the lock.
async fn a_recited_pin_is_the_same_pin_with_stray_spaces_on_both_faces(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    app.agent("sam").await;
    let api = Api::new(&app);
    let t = api.token("sam").await;
    let verify = format!("/v2.0/users/{}/RAX-AUTH/phone-pin/verify", alice.id);
    let right = app.pin_of(&alice).await;
    let (status, body) = api
        .send(
            "POST",
            &verify,
            Some(&t),
            Some(pin_body(&format!(" {right} "))),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["RAX-AUTH:verifyPhonePinResult"]["authenticated"], true,
        "{body}"
    );
    let agent = app.logged_in("sam").await;
    let (status, _, page) = agent
        .post(
            "/agent",
            &[
                ("account", &acct.number),
                ("username", "alice"),
                ("pin", &format!("\t{right} ")),
            ],
        )
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("data-outcome=\"verified\""), "{page}");
    assert_eq!(app.pin_row(&alice).await, ("ACTIVE".to_owned(), 0));
    // Nothing recited is a clear 400 PP-001 that counts nothing.
    let (status, body) = api
        .send("POST", &verify, Some(&t), Some(pin_body("   ")))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .contains("PP-001"));
    assert_eq!(app.pin_row(&alice).await, ("ACTIVE".to_owned(), 0));
}
