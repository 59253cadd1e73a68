//! Talking to the JSON API as the provider's clients do: a token for a person, and a small
//! client that answers every call as (status, JSON).

use serde_json::{json, Value};

use super::app::TestApp;
use super::people::PASSWORD;

/// An API token for `username` (password [`PASSWORD`]) from the server at `base` (`http://…`).
pub async fn api_token(base: &str, username: &str) -> String {
    let res = reqwest::Client::new()
        .post(format!("{base}/v2.0/tokens"))
        .json(&serde_json::json!({"auth":{"passwordCredentials":{"username":username,"password":PASSWORD}}}))
        .send()
        .await
        .expect("POST /v2.0/tokens");
    assert_eq!(res.status(), 200, "a token for {username}");
    let v: serde_json::Value = res.json().await.expect("JSON");
    v["access"]["token"]["id"]
        .as_str()
        .expect("a token id")
        .to_owned()
}

impl TestApp {
    /// An API token for `username` from this app.
    pub async fn token(&self, username: &str) -> String {
        api_token(&format!("http://{}", self.addr), username).await
    }
}

/// A small client for the API's tests: every answer as (status, JSON); an empty body is
/// `Null`, a body that is not JSON a string.
pub struct Api<'a> {
    app: &'a TestApp,
    pub http: reqwest::Client,
}

impl<'a> Api<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Api {
            app,
            http: reqwest::Client::new(),
        }
    }

    /// `POST /v2.0/tokens` as `username` (password [`PASSWORD`]).
    pub async fn authenticate(&self, username: &str) -> (u16, Value) {
        self.send(
            "POST",
            "/v2.0/tokens",
            None,
            Some(json!({"auth":{"passwordCredentials":{"username":username,"password":PASSWORD}}})),
        )
        .await
    }

    /// A token for `username`.
    pub async fn token(&self, username: &str) -> String {
        let (status, body) = self.authenticate(username).await;
        assert_eq!(status, 200, "{body}");
        body["access"]["token"]["id"]
            .as_str()
            .expect("a token id")
            .to_owned()
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().expect("a method"), self.app.url(path));
        if let Some(t) = token {
            req = req.header("X-Auth-Token", t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("an API request");
        let status = res.status().as_u16();
        let text = res.text().await.expect("a body");
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            },
        )
    }
}
