//! The API's fidelity to the provider's identity service (issue 16): it answers as the provider
//! does, so a client written for the provider reads pinpanel unchanged. One test per point, on
//! both backends.

use pinpanel::domain::UnlockPolicy;
use serde_json::{json, Value};

use crate::dual;
use crate::helpers::{Api, TestApp};

dual!(
    the_token_answer_carries_the_providers_fields,
    bad_credentials_are_auth_004,
    a_token_is_validated_by_its_holder_and_ended_without_its_id,
    every_user_object_has_the_same_fields,
    denials_are_404_and_members_list_themselves,
    users_are_filtered_by_name_and_email_and_paged_with_a_marker,
    phone_pin_errors_read_as_the_providers,
    json_only_an_xml_only_accept_is_406,
);

fn rfc3339(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
    })
}

async fn the_token_answer_carries_the_providers_fields(app: TestApp) {
    let acct = app.account("Acme Hosting", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    app.agent("sam").await;
    let api = Api::new(&app);
    let (status, v) = api.authenticate("alice").await;
    assert_eq!(status, 200, "{v}");
    let token = &v["access"]["token"];
    assert!(token["id"].is_string());
    assert!(
        rfc3339(&token["expires"]) && rfc3339(&token["RAX-AUTH:issued"]),
        "{token}"
    );
    assert_eq!(
        token["tenant"],
        json!({"id": acct.number, "name": "Acme Hosting"})
    );
    assert_eq!(token["RAX-AUTH:authenticatedBy"], json!(["PASSWORD"]));
    assert_eq!(v["access"]["serviceCatalog"], json!([]));
    let user = &v["access"]["user"];
    assert_eq!(user["id"], alice.id.to_string());
    assert_eq!(user["name"], "alice");
    assert_eq!(user["RAX-AUTH:defaultRegion"], "");
    let roles = user["roles"].as_array().unwrap();
    assert_eq!(roles[0]["name"], "user");
    assert!(roles[0]["id"].is_string() && roles[0]["description"].is_string());
    assert_eq!(user["RAX-AUTH:phonePin"], app.pin_of(&alice).await);
    // An agent has no tenant.
    let (_, v) = api.authenticate("sam").await;
    assert_eq!(v["access"]["token"]["tenant"], Value::Null);
    assert_eq!(v["access"]["user"]["roles"][0]["name"], "agent");
}

async fn bad_credentials_are_auth_004(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.user(&acct, "alice").await;
    let api = Api::new(&app);
    for username in ["alice", "nobody"] {
        let (status, v) = api
            .send(
                "POST",
                "/v2.0/tokens",
                None,
                Some(json!({"auth":{"passwordCredentials":{"username":username,"password":"wrong password!"}}})),
            )
            .await;
        assert_eq!(status, 401);
        assert_eq!(v["unauthorized"]["code"], 401);
        assert!(
            v["unauthorized"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Error code: 'AUTH-004'; "),
            "{v}"
        );
    }
}

async fn a_token_is_validated_by_its_holder_and_ended_without_its_id(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    app.user(&acct, "bob").await;
    let api = Api::new(&app);
    let (_, first) = api.authenticate("alice").await;
    let token = first["access"]["token"]["id"].as_str().unwrap().to_owned();
    let bobs = app.token("bob").await;
    let (status, v) = api
        .send("GET", &format!("/v2.0/tokens/{token}"), Some(&token), None)
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["access"]["token"]["id"], token);
    assert_eq!(
        v["access"]["token"]["expires"],
        first["access"]["token"]["expires"]
    );
    assert_eq!(
        v["access"]["user"]["RAX-AUTH:phonePin"],
        app.pin_of(&alice).await
    );
    // Anyone else (bob, or a token that is not the caller's): 404.
    let (status, v) = api
        .send("GET", &format!("/v2.0/tokens/{token}"), Some(&bobs), None)
        .await;
    assert_eq!(status, 404, "{v}");
    assert_eq!(v["itemNotFound"]["code"], 404);
    // Past the re-auth window the validation omits the PIN.
    sqlx::query("UPDATE api_tokens SET created_at = created_at - 3600 WHERE token_hash = $1")
        .bind(pinpanel::crypto::sha256_hex(token.as_bytes()))
        .execute(app.pool())
        .await
        .unwrap();
    let (_, v) = api
        .send("GET", &format!("/v2.0/tokens/{token}"), Some(&token), None)
        .await;
    assert!(
        v["access"]["user"].get("RAX-AUTH:phonePin").is_none(),
        "{v}"
    );
    // DELETE /v2.0/tokens ends the caller's own token, and only it.
    let (status, _) = api.send("DELETE", "/v2.0/tokens", Some(&token), None).await;
    assert_eq!(status, 204);
    let (status, _) = api
        .send(
            "GET",
            &format!("/v2.0/users/{}", alice.id),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = api.send("GET", "/v2.0/users", Some(&bobs), None).await;
    assert_eq!(status, 200, "bob's token lives on");
}

const USER_FIELDS: [&str; 9] = [
    "id",
    "username",
    "email",
    "enabled",
    "RAX-AUTH:domainId",
    "RAX-AUTH:defaultRegion",
    "created",
    "RAX-AUTH:multiFactorEnabled",
    "RAX-AUTH:phonePinState",
];

fn has_every_field(u: &Value) {
    for f in USER_FIELDS {
        assert!(u.get(f).is_some(), "{f} in {u}");
    }
    assert!(rfc3339(&u["created"]), "{u}");
}

async fn every_user_object_has_the_same_fields(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let ada = app.admin(&acct, "ada").await;
    app.user(&acct, "alice").await;
    app.agent("sam").await;
    let api = Api::new(&app);
    let t_ada = app.token("ada").await;
    let t_sam = app.token("sam").await;
    let (_, v) = api.authenticate("ada").await;
    has_every_field(&v["access"]["user"]);
    let (_, v) = api
        .send(
            "GET",
            &format!("/v2.0/users/{}", ada.id),
            Some(&t_ada),
            None,
        )
        .await;
    has_every_field(&v["user"]);
    assert_eq!(v["user"]["RAX-AUTH:domainId"], acct.number);
    assert_eq!(v["user"]["RAX-AUTH:multiFactorEnabled"], false);
    let (_, v) = api.send("GET", "/v2.0/users", Some(&t_ada), None).await;
    for u in v["users"].as_array().unwrap() {
        has_every_field(u);
    }
    let (_, v) = api.send("GET", "/v2.0/users", Some(&t_sam), None).await;
    has_every_field(&v["users"][0]);
}

async fn denials_are_404_and_members_list_themselves(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let other = app.account("Other", UnlockPolicy::SelfService).await;
    app.user(&acct, "alice").await;
    let bob = app.user(&acct, "bob").await;
    let olga = app.user(&other, "olga").await;
    let api = Api::new(&app);
    let t = app.token("alice").await;
    for id in [bob.id, olga.id] {
        let (status, v) = api
            .send("GET", &format!("/v2.0/users/{id}"), Some(&t), None)
            .await;
        assert_eq!(status, 404, "{v}");
        assert!(v.get("itemNotFound").is_some());
        let (status, _) = api
            .send(
                "POST",
                &format!("/v2.0/users/{id}"),
                Some(&t),
                Some(json!({"user":{"email":"x@example.com"}})),
            )
            .await;
        assert_eq!(status, 404);
    }
    let (status, v) = api.send("GET", "/v2.0/users", Some(&t), None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = v["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice"]);
}

async fn users_are_filtered_by_name_and_email_and_paged_with_a_marker(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let other = app.account("Other", UnlockPolicy::SelfService).await;
    app.admin(&acct, "ada").await;
    for n in 0..7 {
        app.user(&acct, &format!("m{n}")).await;
    }
    app.user(&other, "olga").await;
    let api = Api::new(&app);
    let t = app.token("ada").await;
    let (status, v) = api.send("GET", "/v2.0/users?name=m3", Some(&t), None).await;
    assert_eq!(status, 200);
    assert_eq!(v["user"]["username"], "m3", "{v}");
    assert!(v.get("users").is_none());
    let (status, v) = api
        .send("GET", "/v2.0/users?name=olga", Some(&t), None)
        .await;
    assert_eq!(status, 404, "another account's member is out of reach: {v}");
    let (status, v) = api
        .send("GET", "/v2.0/users?email=M5@EXAMPLE.COM", Some(&t), None)
        .await;
    assert_eq!(status, 200);
    let found = v["users"].as_array().unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["username"], "m5");
    // Paging: three at a time in a stable order, the marker being the last id seen.
    let mut seen: Vec<String> = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let path = match &marker {
            Some(m) => format!("/v2.0/users?limit=3&marker={m}"),
            None => "/v2.0/users?limit=3".to_owned(),
        };
        let (status, v) = api.send("GET", &path, Some(&t), None).await;
        assert_eq!(status, 200);
        let page = v["users"].as_array().unwrap().clone();
        assert!(page.len() <= 3);
        if page.is_empty() {
            break;
        }
        marker = page.last().map(|u| u["id"].as_str().unwrap().to_owned());
        seen.extend(
            page.iter()
                .map(|u| u["username"].as_str().unwrap().to_owned()),
        );
    }
    assert_eq!(seen.len(), 8, "{seen:?}");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 8, "nothing twice: {seen:?}");
    let (status, _) = api.send("GET", "/v2.0/users?limit=x", Some(&t), None).await;
    assert_eq!(status, 400);
}

async fn phone_pin_errors_read_as_the_providers(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.admin(&acct, "ada").await;
    let alice = app.user(&acct, "alice").await;
    let nopin = app.member_without_pin(&acct, "nopin").await;
    let api = Api::new(&app);
    let t_ada = app.token("ada").await;
    let t_alice = app.token("alice").await;
    let unlock = |id: i64| format!("/v2.0/users/{id}/RAX-AUTH/phone-pin/unlock");
    let (status, v) = api.send("PUT", &unlock(nopin.id), Some(&t_ada), None).await;
    assert_eq!(status, 403);
    assert!(
        v["forbidden"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Error code: 'PP-000';"),
        "{v}"
    );
    let (status, v) = api.send("PUT", &unlock(alice.id), Some(&t_ada), None).await;
    assert_eq!(status, 403);
    assert_eq!(
        v["forbidden"]["message"],
        "Error code: 'PP-005'; The Phone PIN is not locked."
    );
    // only_if_missing with a PIN: 409 in the provider's badRequest shape.
    let reset = format!("/v2.0/users/{}/RAX-AUTH/phone-pin/reset", alice.id);
    let before = app.pin_of(&alice).await;
    let (status, v) = api
        .send(
            "POST",
            &format!("{reset}?only_if_missing=true"),
            Some(&t_ada),
            None,
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(v["badRequest"]["code"], 409, "{v}");
    assert_eq!(app.pin_of(&alice).await, before);
    // An unreadable only_if_missing counts as false: the reset happens.
    let (status, _) = api
        .send(
            "POST",
            &format!("{reset}?only_if_missing=maybe"),
            Some(&t_ada),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_ne!(app.pin_of(&alice).await, before);
    // A body without a PIN is an ordinary update: other fields are ignored, and an address
    // never changes on this call. An administrator's request waits for the member (202, the
    // address in force shown); one's own needs its link mailed, and this panel has no mail.
    let me = format!("/v2.0/users/{}", alice.id);
    let (status, v) = api
        .send("POST", &me, Some(&t_ada), Some(json!({"user":{"email":"alice@new.example","displayName":"ignored","enabled":false}})))
        .await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(v["user"]["email"], "alice@example.com");
    assert_eq!(v["user"]["enabled"], true);
    assert_eq!(v["user"]["displayName"], "Full alice");
    let (status, v) = api
        .send(
            "POST",
            &me,
            Some(&t_alice),
            Some(json!({"user":{"email":"alice@new.example"}})),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(v.to_string().contains("mail is not set up"), "{v}");
    let (status, _) = api
        .send(
            "POST",
            &me,
            Some(&t_alice),
            Some(json!({"user":{"email":"not an address"}})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, v) = api
        .send("POST", &me, Some(&t_alice), Some(json!({"user":{}})))
        .await;
    assert_eq!(status, 200, "{v}");
}

async fn json_only_an_xml_only_accept_is_406(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let t = app.token("alice").await;
    let http = reqwest::Client::new();
    let me = app.url(&format!("/v2.0/users/{}", alice.id));
    let res = http
        .get(&me)
        .header("X-Auth-Token", &t)
        .header("Accept", "application/xml")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 406);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["notAcceptable"]["code"], 406, "{v}");
    for accept in [
        "application/json",
        "*/*",
        "application/xml;q=0.9, application/json",
        "",
    ] {
        let mut req = http.get(&me).header("X-Auth-Token", &t);
        if !accept.is_empty() {
            req = req.header("Accept", accept);
        }
        assert_eq!(req.send().await.unwrap().status(), 200, "{accept}");
    }
    let res = http
        .get(&me)
        .header("X-Auth-Token", &t)
        .header("Accept", "application/json;q=0, application/xml")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 406);
}
