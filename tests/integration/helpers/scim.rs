//! Talking to the SCIM face as an identity system does: a client with a provisioning token
//! that checks every error is a SCIM error.

use std::time::Duration;

use pinpanel::domain::Account;
use pinpanel::service::provisioning;
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

use super::app::TestApp;

/// The core User schema.
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The schema of a PATCH body.
pub const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A SCIM client with a provisioning token.
pub struct Scim {
    http: reqwest::Client,
    pub base: String,
    pub token: String,
}

pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn scim_type(&self) -> Option<&str> {
        self.body["scimType"].as_str()
    }
}

impl Scim {
    pub fn new(app: &TestApp, token: &str) -> Scim {
        Scim {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
            base: format!("http://{}/scim/v2", app.addr),
            token: token.to_owned(),
        }
    }

    /// A token for `account`, made as the command line makes it.
    pub async fn for_account(app: &TestApp, account: &Account, name: &str) -> Scim {
        let made =
            provisioning::create_token(&app.ctx, provisioning::TokenMaker::Cli, account, name)
                .await
                .expect("a token");
        Scim::new(app, &made.token)
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        extra: &[(&str, &str)],
    ) -> Answer {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        let res = req.send().await.expect("a SCIM request");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.expect("a body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON from {path}: {text}"))
        };
        if status >= 400 {
            assert_eq!(
                headers["content-type"], "application/scim+json",
                "{path}: an error is a SCIM error"
            );
            assert_eq!(
                body["schemas"],
                json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
            );
            assert_eq!(body["status"], json!(status.to_string()));
        }
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(reqwest::Method::GET, path, None, &[]).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(reqwest::Method::POST, path, Some(&body), &[])
            .await
    }
    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.send(reqwest::Method::PUT, path, Some(&body), &[])
            .await
    }
    pub async fn patch(&self, path: &str, ops: Value) -> Answer {
        let body = json!({"schemas": [PATCH], "Operations": ops});
        self.send(reqwest::Method::PATCH, path, Some(&body), &[])
            .await
    }
    pub async fn delete(&self, path: &str) -> Answer {
        self.send(reqwest::Method::DELETE, path, None, &[]).await
    }

    /// Creates a member with `userName`; returns their id.
    pub async fn create(&self, user_name: &str, extra: Value) -> String {
        let mut body = json!({"schemas": [USER], "userName": user_name});
        if let Value::Object(more) = extra {
            body.as_object_mut().expect("object").extend(more);
        }
        let a = self.post("/Users", body).await;
        assert_eq!(a.status, 201, "{}", a.body);
        a.body["id"].as_str().expect("an id").to_owned()
    }
}
