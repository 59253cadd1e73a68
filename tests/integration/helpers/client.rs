//! Talking to the panel as a browser does: a cookie-keeping client that does not follow
//! redirects and posts its forms with the page's CSRF token, a login with the cookies passed
//! by hand, and what a page or a URL says (its CSRF token, the files it links, its path).

use std::time::Duration;

use reqwest::header::HeaderMap;

use super::app::TestApp;
use super::people::PASSWORD;

/// A cookie-keeping HTTP client that does not follow redirects, with the page's CSRF token.
pub struct Client {
    pub http: reqwest::Client,
    base: String,
    pub csrf: std::sync::Mutex<String>,
    jar: std::sync::Arc<reqwest::cookie::Jar>,
}

/// Finds the CSRF token in a page.
pub fn csrf_in(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf_token\" value=\"")?;
    let rest = &html[at + "name=\"csrf_token\" value=\"".len()..];
    rest.find('"').map(|end| rest[..end].to_owned())
}

impl Client {
    /// A client sending `headers` with every request.
    pub fn new(app: &TestApp, headers: HeaderMap) -> Client {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        Client {
            jar: jar.clone(),
            http: reqwest::Client::builder()
                .default_headers(headers)
                .cookie_provider(jar)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
            base: format!("http://{}", app.addr),
            csrf: std::sync::Mutex::new(String::new()),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The session cookie this client holds now.
    pub fn session_cookie(&self) -> Option<String> {
        self.cookie("pinpanel")
    }

    /// The value of the cookie `name` this client holds now.
    pub fn cookie(&self, name: &str) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let url = self.base.parse().expect("a URL");
        let cookies = self.jar.cookies(&url)?;
        let prefix = format!("{name}=");
        cookies
            .to_str()
            .ok()?
            .split(';')
            .filter_map(|kv| kv.trim().strip_prefix(prefix.as_str()))
            .map(str::to_owned)
            .next()
    }

    /// Puts the cookie `name=value` back in this client (as an attacker who kept it would).
    pub fn set_cookie(&self, name: &str, value: &str) {
        let url = self.base.parse().expect("a URL");
        self.jar
            .add_cookie_str(&format!("{name}={value}; Path=/"), &url);
    }

    fn remember_csrf(&self, html: &str) {
        if let Some(t) = csrf_in(html) {
            *self.csrf.lock().expect("lock") = t;
        }
    }

    pub fn csrf(&self) -> String {
        self.csrf.lock().expect("lock").clone()
    }

    /// GET; returns (status, headers, body) and remembers the page's CSRF token.
    pub async fn get(&self, path: &str) -> (u16, HeaderMap, String) {
        self.get_with(path, false).await
    }

    /// GET as htmx does.
    pub async fn hx_get(&self, path: &str) -> (u16, HeaderMap, String) {
        self.get_with(path, true).await
    }

    async fn get_with(&self, path: &str, htmx: bool) -> (u16, HeaderMap, String) {
        let mut req = self.http.get(self.url(path));
        if htmx {
            req = req.header("HX-Request", "true");
        }
        let res = req.send().await.expect("GET");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.text().await.expect("body");
        self.remember_csrf(&body);
        (status, headers, body)
    }

    /// POST a form with this client's CSRF token added.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, HeaderMap, String) {
        self.post_with(path, form, false).await
    }

    /// POST as htmx does (with `HX-Request` and the token in `X-CSRF-Token`).
    pub async fn hx_post(&self, path: &str, form: &[(&str, &str)]) -> (u16, HeaderMap, String) {
        self.post_with(path, form, true).await
    }

    async fn post_with(
        &self,
        path: &str,
        form: &[(&str, &str)],
        htmx: bool,
    ) -> (u16, HeaderMap, String) {
        let token = self.csrf();
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        let mut req = self.http.post(self.url(path));
        if htmx {
            req = req
                .header("HX-Request", "true")
                .header("X-CSRF-Token", token.clone());
        } else {
            fields.push(("csrf_token", &token));
        }
        let res = req.form(&fields).send().await.expect("POST");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.text().await.expect("body");
        self.remember_csrf(&body);
        (status, headers, body)
    }

    /// Logs in through the login form.
    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        let (status, _, _) = self.get("/login").await;
        assert!(status == 200 || status == 303, "login page: {status}");
        let token = self.csrf();
        let res = self
            .http
            .post(self.url("/login"))
            .form(&[
                ("username", username),
                ("password", password),
                ("csrf_token", &token),
            ])
            .send()
            .await
            .expect("login POST");
        if res.status() == 303 {
            // Land where the login sends us and pick up the new session's token.
            let to = res.headers()["location"]
                .to_str()
                .expect("location")
                .to_owned();
            self.get(&to).await;
        }
        res
    }
}

impl TestApp {
    /// A browser-like client with no one logged in.
    pub fn client(&self) -> Client {
        Client::new(self, HeaderMap::new())
    }

    /// A client whose requests arrive through a proxy that says they came from `address`
    /// (`X-Forwarded-For`); believed only by an app started [`behind_a_proxy`].
    pub fn client_from(&self, address: &str) -> Client {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", address.parse().expect("an address"));
        Client::new(self, headers)
    }

    /// A client that talks to the app at its public URL (`http://localhost:PORT`), as a browser
    /// that followed a mail link or came back from an identity provider does.
    pub fn public_client(&self) -> Client {
        let mut c = Client::new(self, HeaderMap::new());
        c.base = self
            .public_url
            .clone()
            .expect("an app started with spawn_public_app");
        c
    }

    /// A client that says it is the browser `user_agent`.
    pub fn client_with_agent(&self, user_agent: &str) -> Client {
        let mut headers = HeaderMap::new();
        headers.insert("user-agent", user_agent.parse().expect("a header value"));
        Client::new(self, headers)
    }

    /// A client logged in as `username` (password [`PASSWORD`]).
    pub async fn logged_in(&self, username: &str) -> Client {
        let c = self.client();
        let res = c.login(username, PASSWORD).await;
        assert_eq!(res.status(), 303, "login of {username} should redirect");
        c
    }

    /// A client logged in as `username` through both steps, with `code` at the second.
    pub async fn logged_in_two_step(&self, username: &str, code: &str) -> Client {
        let c = self.client();
        let res = c.login(username, PASSWORD).await;
        assert_eq!(res.headers()["location"], "/login/second-step");
        let (status, headers, _) = c.post("/login/second-step", &[("code", code)]).await;
        assert_eq!(status, 303, "the second step of {username}");
        // Land where the login sends us and pick up the new session's token.
        c.get(headers["location"].to_str().expect("location")).await;
        c
    }
}

/// The value of the `pinpanel` session cookie a response sets, if it sets one.
pub fn session_cookie_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("pinpanel="))
        .and_then(|c| c.split(';').next())
        .map(|kv| kv.trim_start_matches("pinpanel=").to_owned())
        .filter(|v| !v.is_empty())
}

/// The value of cookie `name` that a response sets, if it sets one.
pub fn cookie_of(headers: &HeaderMap, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&prefix))
        .and_then(|c| c.split(';').next())
        .map(|kv| kv[prefix.len()..].to_owned())
        .filter(|v| !v.is_empty())
}

/// What a login through the form returned, with the cookies passed by hand (no cookie jar), so
/// a test sees exactly what the server issues.
pub struct FormLogin {
    /// The anonymous form cookie the login page set (its CSRF token is signed against it).
    pub form_cookie: String,
    /// The login page's CSRF token.
    pub page_csrf: String,
    /// The answer to POST /login.
    pub response: reqwest::Response,
}

/// GET /login, then POST /login as `username` (password [`PASSWORD`]) at `base` (`http://…`),
/// also sending the session cookie `planted` when given (as an attacker who planted one would).
pub async fn form_login_with(base: &str, username: &str, planted: Option<&str>) -> FormLogin {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = http
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("GET /login");
    assert!(
        session_cookie_of(page.headers()).is_none(),
        "the login page starts no session"
    );
    let form_cookie =
        cookie_of(page.headers(), "pinpanel-form").expect("the login page sets its form cookie");
    let page_csrf = csrf_in(&page.text().await.expect("body")).expect("a CSRF token");
    let mut cookies = format!("pinpanel-form={form_cookie}");
    if let Some(planted) = planted {
        cookies.push_str(&format!("; pinpanel={planted}"));
    }
    let response = http
        .post(format!("{base}/login"))
        .header("cookie", cookies)
        .form(&[
            ("username", username),
            ("password", PASSWORD),
            ("csrf_token", &page_csrf),
        ])
        .send()
        .await
        .expect("POST /login");
    FormLogin {
        form_cookie,
        page_csrf,
        response,
    }
}

/// [`form_login_with`] without a planted session cookie.
pub async fn form_login(base: &str, username: &str) -> FormLogin {
    form_login_with(base, username, None).await
}

/// The path and query of a URL on the app (an absolute one, or a path already).
pub fn path_of(url: &str) -> String {
    if url.starts_with('/') {
        return url.to_owned();
    }
    let u = url::Url::parse(url).expect("a URL");
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_owned(),
    }
}

/// The `/static/…` URLs a page links to.
pub fn linked_assets(page: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attr in ["href=\"", "src=\""] {
        for part in page.split(attr).skip(1) {
            let url: String = part.chars().take_while(|c| *c != '"').collect();
            if url.starts_with("/static/") {
                found.push(url);
            }
        }
    }
    found
}

/// The text between `start` and the next `end` in `html`.
pub fn between<'a>(html: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let at = html.find(start)? + start.len();
    html[at..].find(end).map(|e| &html[at..at + e])
}

/// A page's text with the entities askama writes turned back into characters (once).
pub fn unescaped(html: &str) -> String {
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
