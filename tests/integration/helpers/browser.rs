//! A real browser for the journeys: Debian's chromium driven through chromedriver with
//! fantoccini, with JavaScript on or off, read as a person reads a page (its text), with
//! axe-core and the console's CSP reports at hand.
//!
//! Needs /usr/bin/chromium and /usr/bin/chromedriver; without them the tests say so and pass,
//! unless PINPANEL_REQUIRE_BROWSER=1 makes that a failure.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use super::app::{free_port, TestApp};
use super::people::PASSWORD;
use super::tools::tool_here;
use super::wait::eventually;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A browser session with its own chromedriver, closed on drop: chromedriver runs in a process
/// group of its own, and the whole group goes, Chromium with it (killing chromedriver alone
/// left every Chromium it had started running, a few hundred MB each, until the machine ran
/// out of memory).
pub struct Browser {
    pub c: Client,
    driver: Child,
    base: String,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn browser_available() -> bool {
    let present =
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
    tool_here(
        present,
        "PINPANEL_REQUIRE_BROWSER",
        &format!(
            "{CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)"
        ),
    )
}

impl Browser {
    /// Starts chromedriver and a headless Chromium, or `None` when they are not installed.
    pub async fn start(app: &TestApp, javascript: bool) -> Option<Browser> {
        if !browser_available() {
            return None;
        }
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().unwrap();
        let mut prefs = json!({});
        if !javascript {
            prefs = json!({ "profile.managed_default_content_settings.javascript": 2 });
        }
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-extensions",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": prefs,
            },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let caps = match caps {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        let url = format!("http://127.0.0.1:{port}");
        let c = eventually(
            "chromedriver started",
            Duration::from_secs(30),
            async || {
                let mut builder =
                    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
                builder.capabilities(caps.clone());
                builder.connect(&url).await
            },
        )
        .await;
        Some(Browser {
            c,
            driver,
            // A public app is browsed at its public URL (passkeys need a host name).
            base: app
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", app.addr)),
            _profile: profile,
        })
    }

    pub async fn goto(&self, path: &str) {
        self.c
            .goto(&format!("{}{}", self.base, path))
            .await
            .expect("goto");
    }

    /// The text a person sees on the page.
    pub async fn text(&self) -> String {
        self.c
            .execute("return document.body.innerText;", vec![])
            .await
            .expect("innerText")
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until the visible text contains `needle`.
    pub async fn wait_text(&self, needle: &str) -> String {
        let what = format!("{needle:?} on the page");
        eventually(&what, Duration::from_secs(15), async || {
            let t = self.text().await;
            if t.contains(needle) {
                Ok(t)
            } else {
                Err(format!("the page says:\n{t}"))
            }
        })
        .await
    }

    /// Waits until the visible text no longer contains `needle`.
    pub async fn wait_text_gone(&self, needle: &str) -> String {
        let what = format!("{needle:?} gone from the page");
        eventually(&what, Duration::from_secs(15), async || {
            let t = self.text().await;
            if t.contains(needle) {
                Err(format!("the page says:\n{t}"))
            } else {
                Ok(t)
            }
        })
        .await
    }

    /// The element `css`, once it is on the page.
    pub async fn element(&self, css: &str) -> fantoccini::elements::Element {
        self.c
            .wait()
            .for_element(Locator::Css(css))
            .await
            .expect(css)
    }

    pub async fn click_css(&self, css: &str) {
        self.element(css).await.click().await.expect("click");
    }

    /// Clicks the link or button a person would read as `label`.
    pub async fn click_named(&self, label: &str) {
        let xpath = format!(
            "//*[self::a or self::button or self::summary][normalize-space(.)='{label}' and not(ancestor::dialog[not(@open)])]"
        );
        let what = format!("a visible {label:?} clicked");
        eventually(&what, Duration::from_secs(15), async || {
            if let Ok(el) = self.c.find(Locator::XPath(&xpath)).await {
                if el.is_displayed().await.unwrap_or(false) && el.click().await.is_ok() {
                    return Ok(());
                }
            }
            Err(format!("the page says:\n{}", self.text().await))
        })
        .await
    }

    /// Is there a visible link or button labelled `label`?
    pub async fn has_control(&self, label: &str) -> bool {
        let xpath = format!("//*[self::a or self::button][normalize-space(.)='{label}']");
        for el in self
            .c
            .find_all(Locator::XPath(&xpath))
            .await
            .unwrap_or_default()
        {
            if el.is_displayed().await.unwrap_or(false) {
                return true;
            }
        }
        false
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let el = self.element(css).await;
        el.clear().await.expect("clear");
        el.send_keys(value).await.expect("type");
    }

    pub async fn login(&self, username: &str) {
        self.password_step(username).await;
        self.wait_text("Log out").await;
    }

    /// The first step of a login: the password.
    pub async fn password_step(&self, username: &str) {
        self.goto("/login").await;
        self.fill("#username", username).await;
        self.fill("#password", PASSWORD).await;
        self.click_named("Log in").await;
    }

    /// The text of the element `css`.
    pub async fn text_of(&self, css: &str) -> String {
        self.element(css).await.text().await.expect("text")
    }

    /// Gives this browser tab Chromium's virtual authenticator (a platform authenticator that
    /// verifies its user and consents at once), through WebDriver's WebAuthn extension.
    pub async fn add_virtual_authenticator(&self) -> String {
        let id = self
            .c
            .issue_cmd(Authenticator::Add)
            .await
            .expect("add a virtual authenticator");
        id.as_str().expect("an authenticator id").to_owned()
    }

    /// The credentials the virtual authenticator holds.
    pub async fn authenticator_credentials(&self, id: &str) -> Vec<Value> {
        let creds = self
            .c
            .issue_cmd(Authenticator::Credentials(id.to_owned()))
            .await
            .expect("list credentials");
        creds.as_array().cloned().unwrap_or_default()
    }

    /// The six digits shown in the Support PIN section, if any.
    pub async fn shown_pin(&self) -> Option<String> {
        let text = self.text().await;
        let start = text.find("Support PIN")?;
        text[start..]
            .split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .map(str::to_owned)
    }
}

/// axe-core, vendored from the npm package `axe-core` (version in the file name).
const AXE: &str = include_str!("../../assets/axe-core-4.14.1.min.js");

/// The browser's console log (chromedriver's `se/log` endpoint), where CSP violations land.
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (
            axum::http::Method::POST,
            Some(r#"{"type":"browser"}"#.to_owned()),
        )
    }
}

/// chromedriver's virtual WebAuthn authenticator (W3C WebAuthn, "Automation").
#[derive(Debug)]
enum Authenticator {
    Add,
    Credentials(String),
}

impl fantoccini::wd::WebDriverCompatibleCommand for Authenticator {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let root = format!(
            "session/{}/webauthn/authenticator",
            session.unwrap_or_default()
        );
        base.join(&match self {
            Authenticator::Add => root,
            Authenticator::Credentials(id) => format!("{root}/{id}/credentials"),
        })
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        match self {
            Authenticator::Add => (
                axum::http::Method::POST,
                Some(
                    json!({
                        "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
                        "hasUserVerification": true, "isUserConsenting": true,
                        "isUserVerified": true,
                    })
                    .to_string(),
                ),
            ),
            Authenticator::Credentials(_) => (axum::http::Method::GET, None),
        }
    }
}

impl Browser {
    /// Runs axe-core on the page as it is now and returns its WCAG 2.2 A/AA violations.
    pub async fn axe_violations(&self) -> Vec<String> {
        let loaded = self
            .c
            .execute("return typeof axe !== 'undefined';", vec![])
            .await
            .unwrap();
        if loaded != json!(true) {
            self.c.execute(AXE, vec![]).await.expect("inject axe-core");
        }
        let result = self
            .c
            .execute_async(
                r#"const done = arguments[arguments.length - 1];
                axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa'] } })
                  .then(r => done(r.violations.map(v => v.id + ': ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', '))))
                  .catch(e => done(['axe failed: ' + e]));"#,
                vec![],
            )
            .await
            .expect("run axe");
        serde_json::from_value(result).unwrap_or_default()
    }

    /// Console messages about the Content Security Policy since the last call.
    pub async fn csp_violations(&self) -> Vec<String> {
        let log = self.c.issue_cmd(BrowserLog).await.unwrap_or(Value::Null);
        log.as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["message"].as_str())
            .filter(|m| m.contains("Content Security Policy") || m.contains("Refused to"))
            .map(str::to_owned)
            .collect()
    }

    /// Checks the page as it stands: no axe violations, no CSP violations; and saves a
    /// screenshot named `name` when PINPANEL_WRITE_SCREENSHOTS=1 (into docs/screenshots/).
    pub async fn check_state(&self, name: &str) {
        let violations = self.axe_violations().await;
        assert!(
            violations.is_empty(),
            "{name}: accessibility violations:\n{}",
            violations.join("\n")
        );
        let csp = self.csp_violations().await;
        assert!(
            csp.is_empty(),
            "{name}: CSP violations:\n{}",
            csp.join("\n")
        );
        if std::env::var("PINPANEL_WRITE_SCREENSHOTS").as_deref() == Ok("1") {
            let png = self.c.screenshot().await.expect("screenshot");
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/screenshots");
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(format!("{dir}/{name}.png"), png).unwrap();
        }
    }

    /// Checks the current page at a phone's width (360 px): nothing wider than the screen
    /// (wide tables scroll inside their own box), no axe violation; then back to desktop size.
    pub async fn check_narrow(&self, name: &str) {
        self.c.set_window_size(360, 780).await.expect("resize");
        let fits = self
            .c
            .execute(
                "return document.documentElement.scrollWidth <= window.innerWidth;",
                vec![],
            )
            .await
            .unwrap();
        if fits != json!(true) {
            let wide = self
                .c
                .execute(
                    "return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 8).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).join(', ');",
                    vec![],
                )
                .await
                .unwrap();
            panic!("{name}: the page is wider than 360 px: {wide}");
        }
        self.check_state(name).await;
        self.c.set_window_size(1280, 900).await.expect("resize");
    }

    /// Presses keys on whatever has focus, as a keyboard user does.
    pub async fn press(&self, keys: &str) {
        let el = self.c.active_element().await.expect("a focused element");
        el.send_keys(keys).await.expect("keys");
    }

    /// A description of the focused element: its tag and visible label.
    pub async fn focused(&self) -> String {
        self.c
            .execute(
                "const e = document.activeElement; return e ? e.tagName + ':' + (e.innerText || e.value || e.id || '').trim() : '';",
                vec![],
            )
            .await
            .unwrap()
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Tabs forward until the focused control is labelled `label` (at most 60 presses).
    pub async fn tab_to(&self, label: &str) {
        for _ in 0..60 {
            if self.focused().await.ends_with(&format!(":{label}")) {
                assert!(
                    self.focus_is_visible().await,
                    "focus on {label:?} is not visible"
                );
                return;
            }
            self.press(&fantoccini::key::Key::Tab.to_string()).await;
        }
        panic!(
            "Tab never reached {label:?}; focus is on {}",
            self.focused().await
        );
    }

    /// Does the focused element draw a focus indicator?
    pub async fn focus_is_visible(&self) -> bool {
        let v = self
            .c
            .execute(
                "const s = getComputedStyle(document.activeElement); return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;",
                vec![],
            )
            .await
            .unwrap();
        v == json!(true)
    }
}
