//! Journeys in a real browser: Debian's chromium driven through chromedriver with fantoccini,
//! with JavaScript on (htmx fragments, dialogs) and off (full pages, form posts). Assertions are
//! about what a person sees (the page's text), not about markup.
//!
//! Needs /usr/bin/chromium and /usr/bin/chromedriver; without them the tests say so and pass,
//! unless PINPANEL_REQUIRE_BROWSER=1 makes that a failure.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use pinpanel::domain::UnlockPolicy;
use serde_json::{json, Value};

use crate::dual;
use crate::helpers::{spawn_app, Backend, TestApp, PASSWORD};

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
    static SAID: AtomicBool = AtomicBool::new(false);
    let present =
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
    if !present {
        if std::env::var("PINPANEL_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("PINPANEL_REQUIRE_BROWSER=1 but {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)");
        }
        if !SAID.swap(true, Ordering::Relaxed) {
            eprintln!("skipping the browser tests: install Debian's chromium and chromium-driver to run them");
        }
    }
    present
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let c = loop {
            let mut builder =
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
            builder.capabilities(caps.clone());
            match builder.connect(&url).await {
                Ok(c) => break c,
                Err(e) => {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "chromedriver did not start: {e}"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
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
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let t = self.text().await;
            if t.contains(needle) {
                return t;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "never saw {needle:?}; the page says:\n{t}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the visible text no longer contains `needle`.
    pub async fn wait_text_gone(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let t = self.text().await;
            if !t.contains(needle) {
                return t;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{needle:?} never went away; the page says:\n{t}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn click_css(&self, css: &str) {
        self.c
            .wait()
            .for_element(Locator::Css(css))
            .await
            .expect(css)
            .click()
            .await
            .expect("click");
    }

    /// Clicks the link or button a person would read as `label`.
    pub async fn click_named(&self, label: &str) {
        let xpath = format!(
            "//*[self::a or self::button or self::summary][normalize-space(.)='{label}' and not(ancestor::dialog[not(@open)])]"
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(el) = self.c.find(Locator::XPath(&xpath)).await {
                if el.is_displayed().await.unwrap_or(false) && el.click().await.is_ok() {
                    return;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no visible {label:?} to click; the page says:\n{}",
                self.text().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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
        let el = self
            .c
            .wait()
            .for_element(Locator::Css(css))
            .await
            .expect(css);
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
        self.c
            .wait()
            .for_element(Locator::Css(css))
            .await
            .expect(css)
            .text()
            .await
            .expect("text")
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

/// The member journey of issue 3: log in → Support → Support PIN → Show → Hide → Edit with
/// refused PINs → a valid PIN saved → Show shows it → log out.
async fn member_journey(backend: Backend, javascript: bool) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let Some(b) = Browser::start(&app, javascript).await else {
        return;
    };
    let acct = app.account("Demo Hosting", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let original = app.pin_of(&alice).await;

    b.login("alice").await;
    let text = b.text().await;
    assert!(
        text.contains("Demo Hosting") && text.contains("alice"),
        "header: {text}"
    );
    b.click_named("Support").await;
    b.click_named("Support PIN").await;
    let text = b.wait_text("Support PIN").await;
    assert!(text.contains("We will never contact you and ask for your Support PIN."));
    assert!(!text.contains(&original), "masked by default");

    b.click_named("Show").await;
    b.wait_text(&original).await;
    assert_eq!(b.shown_pin().await.as_deref(), Some(original.as_str()));
    b.click_named("Hide").await;
    b.wait_text_gone(&original).await;

    b.click_named("Edit").await;
    b.wait_text("New Support PIN").await;
    // Each reason differs from the one before, so waiting for it waits for this answer.
    for (candidate, reason) in [
        (
            "111123",
            "It has more than three repeating numbers in a row.",
        ),
        (
            "345612",
            "It has more than three sequential numbers in a row.",
        ),
        ("12345", "It must be exactly six digits long."),
        ("١٢٣٤٥٦", "It may contain only the digits 0 to 9."),
    ] {
        b.fill("#pin", candidate).await;
        b.click_named("Save").await;
        let text = b.wait_text(reason).await;
        assert!(text.contains("That PIN cannot be used"), "{candidate}");
        assert_eq!(
            app.pin_of(&alice).await,
            original,
            "nothing stored for {candidate}"
        );
    }
    b.fill("#pin", "871694").await;
    b.click_named("Save").await;
    b.wait_text("Your Support PIN has been changed.").await;
    assert_eq!(app.pin_of(&alice).await, "871694");
    b.click_named("Show").await;
    b.wait_text("871694").await;
    let text = b.text().await;
    assert!(
        text.contains("You changed your Support PIN"),
        "the activity lists the change: {text}"
    );

    b.click_named("Log out").await;
    b.wait_text("Log in").await;
    b.goto("/profile").await;
    b.wait_text("Log in").await;
}

/// Issue 4's journey: an agent locks a PIN with six wrong tries; the member sees Support PIN
/// Locked, unlocks it (dialog with JavaScript, confirmation page without) and sees Support PIN
/// Unlocked!; under the `admins` policy the member sees the banner naming the administrator,
/// who unlocks from the Users page.
async fn lock_and_unlock_journey(backend: Backend, javascript: bool) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let Some(b) = Browser::start(&app, javascript).await else {
        return;
    };
    let acct = app.account("Demo Hosting", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    app.admin(&acct, "ada").await;
    app.agent("sam").await;
    let (right, wrong) = (app.pin_of(&alice).await, app.wrong_pin_for(&alice).await);

    agent_locks(&b, &acct.number, &right, &wrong).await;
    assert_eq!(app.pin_row(&alice).await.0, "LOCKED");

    b.login("alice").await;
    b.goto("/profile").await;
    b.wait_text("Support PIN Locked").await;
    assert!(
        !b.has_control("Show").await && !b.has_control("Edit").await,
        "no Show or Edit while locked"
    );
    b.click_named("Unlock").await;
    if javascript {
        // A real modal dialog: it is open, and focus is inside it.
        let open: Value =
            b.c.execute("return !!document.querySelector('dialog[open]');", vec![])
                .await
                .unwrap();
        assert_eq!(open, json!(true));
        let inside: Value =
            b.c.execute(
                "return !!document.activeElement.closest('dialog[open]');",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(inside, json!(true), "focus moves into the dialog");
    } else {
        b.wait_text("Unlock your Support PIN so Support can verify you with it again?")
            .await;
    }
    b.click_css("dialog[open] button[type=submit], main form[action='/profile/support-pin/unlock'] button[type=submit]").await;
    b.wait_text("Support PIN Unlocked!").await;
    assert_eq!(app.pin_row(&alice).await, ("ACTIVE".to_owned(), 0));
    b.click_named("Log out").await;
    b.wait_text("Log in").await;

    // Policy admins: the banner names the administrator, who unlocks from the Users page.
    app.set_unlock_policy(&acct, UnlockPolicy::Admins).await;
    agent_locks(&b, &acct.number, &right, &wrong).await;
    b.login("alice").await;
    b.goto("/profile").await;
    let text = b
        .wait_text("You cannot unlock your Support PIN yourself.")
        .await;
    assert!(
        text.contains("Full ada (ada)"),
        "the banner names the administrator: {text}"
    );
    b.click_named("Log out").await;
    b.wait_text("Log in").await;

    b.login("ada").await;
    b.click_named("Users").await;
    b.wait_text("Members").await;
    b.click_css(&format!("#member-{} a[href$='/unlock']", alice.id))
        .await;
    b.click_css(
        "dialog[open] button[type=submit], main form[action$='/unlock'] button[type=submit]",
    )
    .await;
    b.wait_text("Support PIN of Full alice unlocked.").await;
    assert_eq!(app.pin_row(&alice).await.0, "ACTIVE");
    // And resets it: the member then sees a different PIN.
    b.click_css(&format!("#member-{} a[href$='/reset']", alice.id))
        .await;
    b.click_css(
        "dialog[open] button[type=submit], main form[action$='/reset'] button[type=submit]",
    )
    .await;
    b.wait_text("Full alice has a new Support PIN.").await;
    let new_pin = app.pin_of(&alice).await;
    assert_ne!(new_pin, right);
    assert!(
        !b.text().await.contains(&new_pin),
        "the administrator never sees it"
    );
    b.click_named("Log out").await;
    b.wait_text("Log in").await;
    // The member then sees a different PIN.
    b.login("alice").await;
    b.goto("/profile").await;
    b.click_named("Show").await;
    b.wait_text(&new_pin).await;
    assert_eq!(b.shown_pin().await.as_deref(), Some(new_pin.as_str()));
}

/// An agent verifies the right PIN, then six wrong ones: the PIN locks.
async fn agent_locks(b: &Browser, number: &str, right: &str, wrong: &str) {
    b.login("sam").await;
    b.goto("/agent").await;
    b.fill("#account", number).await;
    b.fill("#username", "alice").await;
    b.fill("#pin", right).await;
    b.click_named("Verify").await;
    b.wait_text("The caller gave the right Support PIN").await;
    for n in (0..6).rev() {
        b.fill("#pin", wrong).await;
        b.click_named("Verify").await;
        if n > 0 {
            b.wait_text(&format!("{n} attempt")).await;
        }
    }
    b.wait_text("is now locked").await;
    b.click_named("Log out").await;
    b.wait_text("Log in").await;
}

/// axe-core, vendored from the npm package `axe-core` (version in the file name).
const AXE: &str = include_str!("../assets/axe-core-4.14.1.min.js");

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

dual!(
    backend: member_journey_with_javascript,
    member_journey_without_javascript,
    lock_and_unlock_journey_with_javascript,
    lock_and_unlock_journey_without_javascript,
    every_state_is_accessible,
    keyboard_only_journey,
    two_step_with_passkeys_and_an_app,
    two_step_without_javascript,
    running_an_account_from_the_browser,
);

async fn member_journey_with_javascript(backend: Backend) {
    member_journey(backend, true).await
}

async fn member_journey_without_javascript(backend: Backend) {
    member_journey(backend, false).await
}

async fn lock_and_unlock_journey_with_javascript(backend: Backend) {
    lock_and_unlock_journey(backend, true).await
}

async fn lock_and_unlock_journey_without_javascript(backend: Backend) {
    lock_and_unlock_journey(backend, false).await
}

async fn every_state_is_accessible(backend: Backend) {
    every_state_is_accessible_and_keeps_to_the_csp(backend).await
}

async fn keyboard_only_journey(backend: Backend) {
    a_keyboard_only_journey_completes_show_edit_save_and_unlock(backend).await
}

/// Every main state of every role, with JavaScript on: zero axe violations at WCAG 2.2 A/AA,
/// no CSP violation in the console; screenshots for the README on request.
async fn every_state_is_accessible_and_keeps_to_the_csp(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let Some(b) = Browser::start(&app, true).await else {
        return;
    };
    let acct = app.account("Demo Hosting", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    app.admin(&acct, "ada").await;
    app.member(
        &acct,
        "carl",
        pinpanel::domain::Role::User,
        pinpanel::domain::Kind::Contact,
    )
    .await;
    app.agent("sam").await;

    b.goto("/login").await;
    b.wait_text("Log in").await;
    b.check_state("login").await;
    b.login("alice").await;
    b.goto("/profile").await;
    b.wait_text("Your Support PIN is hidden.").await;
    b.check_state("profile-masked").await;
    b.check_narrow("phone-profile").await;
    b.click_named("Support").await;
    b.check_state("support-menu").await;
    b.press(&fantoccini::key::Key::Escape.to_string()).await;
    b.click_named("Show").await;
    b.wait_text("Hide").await;
    b.check_state("pin-shown").await;
    b.click_named("Edit").await;
    b.fill("#pin", "111123").await;
    b.click_named("Save").await;
    b.wait_text("That PIN cannot be used").await;
    b.check_state("edit-error").await;
    b.click_named("Cancel").await;
    b.wait_text("Your Support PIN is hidden.").await;

    app.lock(&alice).await;
    b.goto("/profile").await;
    b.wait_text("Support PIN Locked").await;
    b.check_state("locked").await;
    b.click_named("Unlock").await;
    b.wait_text("The PIN itself does not change.").await;
    b.check_state("unlock-dialog").await;
    b.click_css("dialog[open] button[type=submit]").await;
    b.wait_text("Support PIN Unlocked!").await;
    b.check_state("unlocked").await;

    app.set_unlock_policy(&acct, UnlockPolicy::Admins).await;
    app.lock(&alice).await;
    b.goto("/profile").await;
    b.wait_text("You cannot unlock your Support PIN yourself.")
        .await;
    b.check_state("banner").await;
    b.click_named("Log out").await;
    b.wait_text("Log in").await;

    b.login("ada").await;
    b.goto("/users").await;
    b.wait_text("Members").await;
    b.check_state("users").await;
    b.check_narrow("phone-users").await;
    b.click_css(&format!("#member-{} a[href$='/unlock']", alice.id))
        .await;
    b.wait_text("Unlock the Support PIN of Full alice").await;
    b.check_state("users-unlock-dialog").await;
    b.press(&fantoccini::key::Key::Escape.to_string()).await;
    b.click_named("Log out").await;
    b.wait_text("Log in").await;

    b.login("sam").await;
    b.goto("/agent").await;
    b.fill("#account", &acct.number).await;
    b.fill("#username", "carl").await;
    b.fill("#pin", "871694").await;
    b.click_named("Verify").await;
    b.wait_text("Not verified").await;
    b.check_state("agent").await;
    b.fill("#username", "alice").await;
    b.fill("#pin", "871694").await;
    b.click_named("Verify").await;
    b.wait_text("Support PIN Locked").await;
    b.check_state("agent-locked").await;

    b.goto("/no/such/page").await;
    b.wait_text("There is nothing here").await;
    b.check_state("not-found").await;
}

/// Keyboard only (Tab, Enter, Space, Escape; no mouse): Show, Edit, Save and Unlock, with
/// visible focus, and focus back on Unlock after Escape closes the dialog.
async fn a_keyboard_only_journey_completes_show_edit_save_and_unlock(backend: Backend) {
    use fantoccini::key::Key;
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let Some(b) = Browser::start(&app, true).await else {
        return;
    };
    let acct = app.account("Demo Hosting", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let pin = app.pin_of(&alice).await;

    b.goto("/login").await;
    b.wait_text("Log in").await;
    // The username field has focus on arrival.
    assert!(
        b.focused().await.starts_with("INPUT"),
        "focus starts in the form"
    );
    b.press("alice").await;
    b.press(&Key::Tab.to_string()).await;
    b.press(PASSWORD).await;
    b.press(&Key::Enter.to_string()).await;
    b.wait_text("Log out").await;

    b.tab_to("Show").await;
    b.press(&Key::Enter.to_string()).await;
    b.wait_text(&pin).await;
    // Hide is a button: Space answers it as Enter does.
    b.tab_to("Hide").await;
    b.press(&Key::Space.to_string()).await;
    b.wait_text("Your Support PIN is hidden.").await;
    assert!(
        !b.text().await.contains(&pin),
        "Space on Hide masks the PIN"
    );
    b.tab_to("Show").await;
    b.press(&Key::Space.to_string()).await;
    b.wait_text(&pin).await;
    b.tab_to("Edit").await;
    b.press(&Key::Enter.to_string()).await;
    b.wait_text("New Support PIN").await;
    assert!(
        b.focused().await.starts_with("INPUT:pin"),
        "focus moves to the PIN field: {}",
        b.focused().await
    );
    b.press("871694").await;
    b.press(&Key::Enter.to_string()).await;
    b.wait_text("Your Support PIN has been changed.").await;
    assert_eq!(app.pin_of(&alice).await, "871694");

    app.lock(&alice).await;
    b.goto("/profile").await;
    b.wait_text("Support PIN Locked").await;
    b.tab_to("Unlock").await;
    b.press(&Key::Enter.to_string()).await;
    b.wait_text("The PIN itself does not change.").await;
    assert!(
        b.c.execute(
            "return !!document.activeElement.closest('dialog[open]');",
            vec![]
        )
        .await
        .unwrap()
            == json!(true),
        "focus is inside the dialog"
    );
    b.press(&Key::Escape.to_string()).await;
    b.wait_text_gone("The PIN itself does not change.").await;
    assert_eq!(b.focused().await, "A:Unlock", "focus returns to Unlock");
    b.press(&Key::Enter.to_string()).await;
    b.wait_text("The PIN itself does not change.").await;
    // Space activates the focused Unlock button in the dialog.
    assert_eq!(b.focused().await, "BUTTON:Unlock");
    b.press(" ").await;
    b.wait_text("Support PIN Unlocked!").await;
    assert_eq!(app.pin_row(&alice).await.0, "ACTIVE");
}

/// The checks above can fail: axe reports a deliberately broken element and the console shows
/// a deliberate CSP violation.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_accessibility_and_csp_checks_catch_violations() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let Some(b) = Browser::start(&app, true).await else {
        return;
    };
    b.goto("/login").await;
    b.wait_text("Log in").await;
    assert!(b.axe_violations().await.is_empty());
    b.c.execute(
        "document.querySelector('main').insertAdjacentHTML('beforeend', '<img src=\"/static/favicon.svg\"><div style=\"color: red\">x</div>');",
        vec![],
    )
    .await
    .unwrap();
    let violations = b.axe_violations().await;
    assert!(
        violations.iter().any(|v| v.starts_with("image-alt")),
        "{violations:?}"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if !b.csp_violations().await.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the inline style was not reported as a CSP violation"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Issue 13 with JavaScript: a passkey added through Chromium's virtual authenticator (first
/// factor: the recovery codes are shown), renamed, used at the second step; then an
/// authenticator app added beside it with a code computed from the secret the page shows.
async fn two_step_with_passkeys_and_an_app(backend: Backend) {
    let Some(app) =
        crate::helpers::spawn_public_app(backend, crate::helpers::test_settings()).await
    else {
        return;
    };
    let Some(b) = Browser::start(&app, true).await else {
        return;
    };
    let acct = app.account("Demo Hosting", UnlockPolicy::SelfService).await;
    app.user(&acct, "alice").await;
    let authenticator = b.add_virtual_authenticator().await;
    b.login("alice").await;
    b.goto("/profile").await;
    b.click_named("Two-step login").await;
    b.wait_text("A passkey lets your device").await;
    b.check_state("two-step").await;
    b.click_named("Add a passkey").await;
    b.wait_text("save your recovery codes").await;
    assert_eq!(b.authenticator_credentials(&authenticator).await.len(), 1);
    let codes = b.text_of("#passkey-recovery-list").await;
    assert_eq!(
        codes.lines().filter(|l| l.len() == 11).count(),
        10,
        "{codes}"
    );
    b.check_state("passkey-recovery-codes").await;
    b.click_named("I have saved them").await;
    b.wait_text("Passkey added.").await;
    b.fill("input[name=name]", "Work laptop").await;
    b.click_named("Rename").await;
    b.wait_text("Passkey renamed.").await;
    b.wait_text("Work laptop").await;
    b.click_named("Log out").await;
    b.wait_text("Log in").await;

    b.password_step("alice").await;
    b.wait_text("Your password was right.").await;
    b.check_state("second-step").await;
    b.click_named("Use a passkey").await;
    b.wait_text("Your Support PIN is hidden.").await;

    // An authenticator app beside the passkey.
    b.goto("/profile/two-step").await;
    b.click_named("Add an authenticator app").await;
    b.wait_text("Scan this QR code").await;
    b.check_state("two-step-setup").await;
    let secret = b.text_of("#totp-secret").await;
    let code = crate::two_step::totp_code(&secret, crate::two_step::now());
    b.fill("#code", &code).await;
    b.click_named("Turn on").await;
    b.wait_text("Authenticator app added.").await;
    b.wait_text("10 unused recovery codes left").await;
    b.fill("#codes-password", PASSWORD).await;
    b.click_named("Make new recovery codes").await;
    b.wait_text("They will not be shown again.").await;
    assert!(
        b.has_control("Print").await && b.has_control("Copy").await,
        "print and copy, with JavaScript"
    );
    b.check_state("recovery-codes").await;

    // A passkey removed while a login waits for it opens nothing (issue 23). The page's own
    // steps, one at a time: the ceremony starts (the server copies the passkeys it allows),
    // the passkey is removed (from another session, say), then the browser answers with it.
    b.goto("/profile").await;
    b.click_named("Log out").await;
    b.wait_text("Log in").await;
    b.password_step("alice").await;
    b.wait_text("Your password was right.").await;
    let started = b
        .c
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            const button = document.querySelector('button[data-passkey]');
            fetch(button.getAttribute('data-options-url'), { method: 'POST', credentials: 'same-origin',
                headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': button.getAttribute('data-csrf') },
                body: '{}' })
              .then(r => r.json()).then(o => { window.__options = o; done(r_ok(o)); })
              .catch(e => done('failed: ' + e));
            function r_ok(o) { return o.publicKey ? 'started' : JSON.stringify(o); }"#,
            vec![],
        )
        .await
        .expect("start the passkey ceremony");
    assert_eq!(started, json!("started"));
    sqlx::query("DELETE FROM passkeys")
        .execute(app.pool())
        .await
        .expect("remove the passkey");
    let finished = b
        .c
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            const b64 = t => { t = t.replace(/-/g, '+').replace(/_/g, '/'); while (t.length % 4) t += '=';
              return Uint8Array.from(atob(t), c => c.charCodeAt(0)).buffer; };
            const url = b => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
            const o = window.__options.publicKey;
            o.challenge = b64(o.challenge);
            (o.allowCredentials || []).forEach(c => { c.id = b64(c.id); });
            const button = document.querySelector('button[data-passkey]');
            navigator.credentials.get({ publicKey: o }).then(cred => fetch(button.getAttribute('data-finish-url'), {
                method: 'POST', credentials: 'same-origin',
                headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': button.getAttribute('data-csrf') },
                body: JSON.stringify({ id: cred.id, rawId: url(cred.rawId), type: cred.type,
                  response: { authenticatorData: url(cred.response.authenticatorData),
                    clientDataJSON: url(cred.response.clientDataJSON), signature: url(cred.response.signature),
                    userHandle: cred.response.userHandle ? url(cred.response.userHandle) : null },
                  extensions: {} }) }))
              .then(r => done(r.status)).catch(e => done('failed: ' + e));"#,
            vec![],
        )
        .await
        .expect("answer the passkey ceremony");
    assert_eq!(finished, json!(401), "the removed passkey opened nothing");
    b.goto("/profile").await;
    b.wait_text("Log in").await;
}

/// Issue 13 without JavaScript: an authenticator app and recovery codes as plain form posts;
/// without a public URL passkeys are not offered, and the page says why.
async fn two_step_without_javascript(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let Some(b) = Browser::start(&app, false).await else {
        return;
    };
    let acct = app.account("Demo Hosting", UnlockPolicy::SelfService).await;
    app.user(&acct, "alice").await;
    b.login("alice").await;
    b.goto("/profile").await;
    b.click_named("Two-step login").await;
    b.wait_text("Passkeys are not offered here").await;
    b.click_named("Add an authenticator app").await;
    b.wait_text("Scan this QR code").await;
    let secret = b.text_of("#totp-secret").await;
    b.fill("#code", "000000").await;
    b.click_named("Turn on").await;
    b.wait_text("That code is not correct.").await;
    let code = crate::two_step::totp_code(&secret, crate::two_step::now());
    b.fill("#code", &code).await;
    b.click_named("Turn on").await;
    b.wait_text("They will not be shown again.").await;
    let codes = b.text_of("#recovery-codes").await;
    let recovery = codes.lines().next().expect("a code").trim().to_owned();
    b.click_named("I have saved them").await;
    b.wait_text("A password alone opens nothing").await;
    b.click_named("Log out").await;
    b.wait_text("Log in").await;
    b.password_step("alice").await;
    b.wait_text("Your password was right.").await;
    b.fill("#code", &recovery).await;
    b.click_named("Continue").await;
    b.wait_text("Your Support PIN is hidden.").await;
}

/// The link in a received mail's text that leads into the panel.
fn panel_link(mail: &crate::mail_server::Mail) -> String {
    let at = mail.text.find("http://localhost:").expect("a link");
    let url: String = mail.text[at..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    url::Url::parse(&url).unwrap().path().to_owned()
}

/// Issue 15's journey: an administrator adds a member, who follows the mailed invitation (a
/// real SMTP server) and logs in; the member is disabled and enabled again; a forgotten password
/// is reset from the mail; the administrator ends another session, exports the activity and
/// changes their password; and a fresh installation is set up from its first-start link.
async fn running_an_account_from_the_browser(backend: Backend) {
    let Some(smtp) = crate::mail_server::MailServer::start().await else {
        return;
    };
    let settings = pinpanel::startup::ServeSettings {
        delivery: pinpanel::service::mail::Delivery::smtp(&smtp.url()).unwrap(),
        ..crate::helpers::test_settings()
    };
    let Some(app) = crate::helpers::spawn_public_app(backend, settings).await else {
        return;
    };
    let Some(b) = Browser::start(&app, true).await else {
        return;
    };
    let acct = app.account("Demo Hosting", UnlockPolicy::SelfService).await;
    app.admin(&acct, "ada").await;

    // Add a member; the invitation arrives by mail.
    b.login("ada").await;
    b.goto("/users").await;
    b.wait_text("Add a member").await;
    b.fill("#add-username", "bob").await;
    b.fill("#add-name", "Bob Builder").await;
    b.fill("#add-email", "bob@example.com").await;
    b.click_named("Add member").await;
    b.wait_text("was sent an invitation").await;
    b.check_state("users-add").await;
    b.click_named("Log out").await;
    b.wait_text("Log in").await;
    let invitation = smtp.wait_for(1).await;
    b.goto(&panel_link(&invitation[0])).await;
    b.wait_text("Welcome, Bob Builder").await;
    b.check_state("invitation").await;
    b.fill("#new", PASSWORD).await;
    b.fill("#again", PASSWORD).await;
    b.click_named("Save password").await;
    b.wait_text("Your password is set").await;
    b.login("bob").await;
    b.wait_text("Your Support PIN is hidden.").await;
    b.click_named("Log out").await;
    b.wait_text("Log in").await;

    // Disabled and enabled again, through the confirmation dialog.
    b.login("ada").await;
    b.goto("/users").await;
    b.click_named("Disable Bob Builder").await;
    // The question names the member of the row (its data-who, read by app.js).
    b.wait_text("Disable Bob Builder (bob)? Their sessions and API tokens end at once")
        .await;
    b.click_css("dialog[open] button[type=submit]").await;
    b.wait_text("is disabled").await;
    assert_eq!(app.client().login("bob", PASSWORD).await.status(), 401);
    b.click_named("Enable Bob Builder").await;
    b.click_css("dialog[open] button[type=submit]").await;
    b.wait_text("is enabled again").await;

    // Another session of ada's, ended from her sessions page.
    let elsewhere = app.client_with_agent("Mozilla/5.0 (Windows NT 10.0) Firefox/133.0");
    assert_eq!(elsewhere.login("ada", PASSWORD).await.status(), 303);
    b.goto("/profile").await;
    b.click_named("Sessions").await;
    b.wait_text("Firefox 133 on Windows").await;
    b.check_state("sessions").await;
    b.click_css("form[action$='/end'] button").await;
    b.wait_text("That session has ended.").await;
    assert_eq!(elsewhere.get("/profile").await.0, 303);

    // The account's activity, with its export.
    b.goto("/users").await;
    b.click_named("Activity").await;
    b.wait_text("Events, newest first").await;
    b.wait_text("You invited bob").await;
    assert!(b.has_control("Export CSV").await);
    b.check_state("activity").await;

    // A new password for ada.
    b.goto("/profile").await;
    b.click_named("Change password").await;
    b.fill("#current", PASSWORD).await;
    b.fill("#new", "an even longer passphrase").await;
    b.fill("#again", "an even longer passphrase").await;
    b.check_state("password").await;
    b.click_named("Change password").await;
    b.wait_text("Your password has been changed.").await;
    b.click_named("Log out").await;
    b.wait_text("Log in").await;

    // Bob forgot his password.
    b.click_named("Forgot password?").await;
    b.wait_text("Enter your username or e-mail address.").await;
    b.check_state("forgot").await;
    b.fill("#who", "bob@example.com").await;
    b.click_named("Send the link").await;
    b.wait_text("a link to choose a new password is on its way")
        .await;
    let reset = smtp.wait_for_subject("Choose a new password").await;
    b.goto(&panel_link(&reset)).await;
    b.fill("#new", "bob has a new passphrase").await;
    b.fill("#again", "bob has a new passphrase").await;
    b.click_named("Save password").await;
    b.wait_text("Your password is set").await;
    b.fill("#username", "bob").await;
    b.fill("#password", "bob has a new passphrase").await;
    b.click_named("Log in").await;
    b.wait_text("Log out").await;
    b.click_named("Log out").await;
    b.wait_text("Log in").await;

    // The first start of another installation.
    let Some(fresh) =
        crate::helpers::spawn_public_app(backend, crate::helpers::test_settings()).await
    else {
        return;
    };
    let token = pinpanel::service::links::setup_token(&fresh.ctx)
        .await
        .unwrap()
        .expect("an empty database gets a set-up link");
    drop(b);
    let Some(b) = Browser::start(&fresh, true).await else {
        return;
    };
    b.goto(&format!("/setup/{token}")).await;
    b.wait_text("Create the first account").await;
    b.check_state("setup").await;
    b.fill("#account", "First Hosting").await;
    b.fill("#username", "first").await;
    b.fill("#name", "First Admin").await;
    b.fill("#email", "first@example.com").await;
    b.fill("#new", PASSWORD).await;
    b.fill("#again", PASSWORD).await;
    b.click_named("Create the account").await;
    b.wait_text("Your password is set").await;
    b.login("first").await;
    b.wait_text("First Hosting").await;
}
