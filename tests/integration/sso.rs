//! Single sign-on (issue 24) against a real OpenID provider: the npm package `oidc-provider` 9
//! run by `tests/oidc/provider.mjs`, with a confidential client, a login form of its own and
//! `/__test` hooks that break its next ID token. Every case runs on both backends.
//!
//! Needs Node and the package in `~/.cache/pinpanel-test/oidc` (`.ci/run` installs it:
//! `npm install --prefix ~/.cache/pinpanel-test/oidc oidc-provider@9.13.3`); without them the
//! tests say so and pass, unless `PINPANEL_REQUIRE_OIDC=1` makes that a failure.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use pinpanel::domain::{Kind, Role, UnlockPolicy, User};
use pinpanel::service::mail::Delivery;
use pinpanel::service::sso::Config;
use pinpanel::startup::ServeSettings;
use secrecy::SecretString;
use sqlx::Row;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

use crate::dual;
use crate::helpers::browser::Browser;
use crate::helpers::mail::MailServer;
use crate::helpers::tools::{runs, tool_here};
use crate::helpers::wait::eventually;
use crate::helpers::{
    free_port, path_of, spawn_public_app, test_settings, Backend, Client, TestApp, PASSWORD,
};

dual!(backend:
    a_member_links_an_identity_signs_in_with_it_and_unlinks_it,
    an_identity_linked_to_nobody_opens_nothing,
    a_verified_address_links_only_when_configured,
    a_second_factor_at_the_provider_counts_only_when_it_says_so,
    single_sign_on_only_members_lose_their_password_and_are_told,
    confirming_with_the_provider_instead_of_the_password,
    every_bad_callback_is_refused_with_no_session_and_nothing_changed,
    an_unreachable_provider_is_said_plainly,
    single_sign_on_in_a_browser_with_javascript,
    single_sign_on_in_a_browser_without_javascript,
    a_provisioning_token_cannot_make_an_identity_sign_in_as_a_member_who_is_there,
    a_sign_in_is_only_as_fresh_as_the_providers_auth_time,
    linking_an_identity_needs_a_recent_password_and_mails_the_member,
    starting_sign_ins_is_throttled_per_address,
);

/// The name people see for the test provider.
const NAME: &str = "Corp ID";

fn prefix() -> PathBuf {
    match std::env::var_os("PINPANEL_TEST_OIDC_PREFIX") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
            .join(".cache/pinpanel-test/oidc"),
    }
}

fn provider_available() -> bool {
    let node = runs("node", &["--version"]);
    let package = prefix()
        .join("node_modules/oidc-provider/package.json")
        .exists();
    tool_here(
        node && package,
        "PINPANEL_REQUIRE_OIDC",
        &format!(
            "Node or oidc-provider is missing (npm install --prefix {} oidc-provider@9.13.3)",
            prefix().display()
        ),
    )
}

/// The identity provider, stopped on drop (and when this process dies: it exits when its
/// stdin closes).
pub struct Idp {
    child: Child,
    _stdin: ChildStdin,
    pub issuer: String,
    http: reqwest::Client,
}

impl Idp {
    pub async fn start() -> Option<Idp> {
        if !provider_available() {
            return None;
        }
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc/provider.mjs");
        // It answers in half a second; under a full test run a start has once stalled past a
        // minute, so a start that says nothing for 30 s is stopped and made again, once.
        let mut attempts = [Duration::from_secs(30), Duration::from_secs(60)].into_iter();
        let (child, stdin, line) = loop {
            let wait = attempts.next().expect("the provider starts within 90 s");
            let mut child = Command::new("node")
                .arg(&script)
                .env("OIDC_PREFIX", prefix())
                // Loopback redirect URIs match on any port.
                .env("OIDC_REDIRECT_URIS", "http://localhost/login/oidc/callback")
                .env("OIDC_POST_LOGOUT_REDIRECT_URIS", "http://localhost/login")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("start node");
            let stdin = child.stdin.take().expect("stdin");
            let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
            if let Ok(line) = tokio::time::timeout(wait, lines.next_line()).await {
                break (
                    child,
                    stdin,
                    line.expect("its output").expect("a LISTENING line"),
                );
            }
            let _ = child.kill().await;
        };
        let issuer = line
            .strip_prefix("LISTENING ")
            .expect("LISTENING <issuer>")
            .to_owned();
        Some(Idp {
            child,
            _stdin: stdin,
            issuer,
            http: reqwest::Client::new(),
        })
    }

    /// Breaks the next ID token the way `mode` says (`/__test/tamper`).
    pub async fn tamper(&self, mode: &str) {
        let res = self
            .http
            .post(format!("{}/__test/tamper?mode={mode}", self.issuer))
            .send()
            .await
            .expect("tamper");
        assert!(res.status().is_success(), "tamper {mode}");
    }

    /// The next authorization answers with an error instead of the login form.
    pub async fn refuse_next(&self, error: &str, description: &str) {
        let res = self
            .http
            .post(format!("{}/__test/error", self.issuer))
            .query(&[("error", error), ("error_description", description)])
            .send()
            .await
            .expect("error hook");
        assert!(res.status().is_success());
    }

    pub async fn stop(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// The single sign-on settings of a provider at `issuer`.
pub fn config(issuer: &str) -> Config {
    Config {
        issuer: issuer.to_owned(),
        client_id: "pinpanel".into(),
        client_secret: SecretString::from("pinpanel-secret"),
        name: NAME.into(),
        link_by_email: false,
        mfa_acr: None,
        subject_claim: "sub".into(),
    }
}

/// An app (at `http://localhost:PORT`) with single sign-on through the provider at `issuer`.
pub async fn sso_app(
    backend: Backend,
    issuer: &str,
    change: impl FnOnce(&mut ServeSettings),
) -> Option<TestApp> {
    let mut settings = ServeSettings {
        sso: Some(config(issuer)),
        ..test_settings()
    };
    change(&mut settings);
    spawn_public_app(backend, settings).await
}

/// Who signs in at the provider, as typed into its login form.
#[derive(Clone, Copy)]
pub struct Person<'a> {
    pub sub: &'a str,
    pub email: &'a str,
    pub verified: bool,
    /// The `amr` claim, comma-separated.
    pub amr: &'a str,
    /// The `acr` claim (`-` for none).
    pub acr: &'a str,
    /// How many seconds ago the person authenticated at the provider (its `auth_time`).
    pub auth_age: &'a str,
}

impl<'a> Person<'a> {
    pub fn new(sub: &'a str, email: &'a str) -> Person<'a> {
        Person {
            sub,
            email,
            verified: true,
            amr: "pwd",
            acr: "-",
            auth_age: "0",
        }
    }
}

fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .unwrap_or_else(|| panic!("a redirect, got {}", res.status()))
        .to_str()
        .expect("location")
        .to_owned()
}

/// Follows the app's redirect to the provider through its login form, as `who`; returns the
/// URL the provider sends the browser back to (not yet visited).
pub async fn at_the_provider(c: &Client, idp: &Idp, to_provider: &str, who: Person<'_>) -> String {
    assert!(
        to_provider.starts_with(&idp.issuer),
        "to the provider: {to_provider}"
    );
    let res = c.http.get(to_provider).send().await.expect("authorize");
    let next = location(&res);
    if next.contains("/login/oidc/callback") {
        // The provider answered at once (an error).
        return next;
    }
    let interaction = format!("{}{}", idp.issuer, next);
    let form = c.http.get(&interaction).send().await.expect("login form");
    if form.status() == 303 {
        // The provider refuses before its form (its error hook).
        let back = location(&form);
        let back = match back.strip_prefix('/') {
            Some(_) => format!("{}{back}", idp.issuer),
            None => back,
        };
        let res = c.http.get(&back).send().await.expect("resume");
        let back = location(&res);
        assert!(
            back.contains("/login/oidc/callback"),
            "back to the app: {back}"
        );
        return back;
    }
    assert_eq!(form.status(), 200, "the provider's login form");
    let verified = if who.verified { "true" } else { "false" };
    let res = c
        .http
        .post(format!("{interaction}/login"))
        .form(&[
            ("sub", who.sub),
            ("email", who.email),
            ("email_verified", verified),
            ("name", who.sub),
            ("amr", who.amr),
            ("acr", who.acr),
            ("auth_age", who.auth_age),
            ("action", "login"),
        ])
        .send()
        .await
        .expect("log in at the provider");
    let resume = location(&res);
    let res = c.http.get(&resume).send().await.expect("resume");
    let back = location(&res);
    assert!(
        back.contains("/login/oidc/callback"),
        "back to the app: {back}"
    );
    back
}

/// Starts a sign-in from the login page; returns where the app sends the browser.
pub async fn start_sign_in(c: &Client) -> String {
    let (status, _, page) = c.get("/login").await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("Sign in with {NAME}")), "{page}");
    let (status, headers, body) = c.post("/login/oidc", &[]).await;
    assert_eq!(status, 303, "{body}");
    headers["location"].to_str().expect("location").to_owned()
}

/// Visits the callback URL on the app: (status, location, body).
pub async fn back_at_the_app(c: &Client, callback: &str) -> (u16, String, String) {
    let (status, headers, body) = c.get(&path_of(callback)).await;
    let to = headers
        .get("location")
        .map(|l| l.to_str().expect("location").to_owned())
        .unwrap_or_default();
    (status, to, body)
}

/// A whole sign-in as `who` in a new browser: (status, location, body) of the callback.
pub async fn sign_in(app: &TestApp, idp: &Idp, who: Person<'_>) -> (Client, u16, String, String) {
    let c = app.public_client();
    let to = start_sign_in(&c).await;
    let back = at_the_provider(&c, idp, &to, who).await;
    let (status, to, body) = back_at_the_app(&c, &back).await;
    (c, status, to, body)
}

/// Does `c` hold a logged-in session?
async fn logged_in(c: &Client) -> bool {
    c.get("/profile").await.0 == 200
}

/// Links `who` to the logged-in `c` from the security page.
async fn link(c: &Client, idp: &Idp, who: Person<'_>) -> (u16, String, String) {
    let (status, _, page) = c.get("/profile/two-step").await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("Link {NAME} account")), "{page}");
    let (status, headers, _) = c.post("/profile/two-step/sso/link", &[]).await;
    assert_eq!(status, 303);
    let to = headers["location"].to_str().expect("location").to_owned();
    let back = at_the_provider(c, idp, &to, who).await;
    back_at_the_app(c, &back).await
}

async fn events(app: &TestApp, event: &str) -> Vec<String> {
    sqlx::query("SELECT detail FROM audit_log WHERE event = $1 ORDER BY id")
        .bind(event)
        .fetch_all(app.pool())
        .await
        .expect("audit")
        .iter()
        .map(|r| r.get::<String, _>("detail"))
        .collect()
}

async fn identities(app: &TestApp) -> i64 {
    sqlx::query("SELECT COUNT(*) AS n FROM identities")
        .fetch_one(app.pool())
        .await
        .expect("count")
        .get::<i64, _>("n")
}

/// Links `subject` at the test provider to `user` directly (as a finished link does).
async fn linked(app: &TestApp, idp: &Idp, user: &User, subject: &str) {
    let mut tx = app.ctx.db.begin().await.expect("tx");
    pinpanel::store::sso::link(&mut tx, user.id, &idp.issuer, subject, None, 1)
        .await
        .expect("link");
    tx.commit().await.expect("commit");
}

async fn a_member_links_an_identity_signs_in_with_it_and_unlinks_it(backend: Backend) {
    let Some(idp) = Idp::start().await else {
        return;
    };
    let app = sso_app(backend, &idp.issuer, |_| {}).await.expect("app");
    let account = app.account("Acme", UnlockPolicy::SelfService).await;
    app.user(&account, "alice").await;
    app.user(&account, "bob").await;

    // Alice links her identity from the security page.
    let alice = app.public_client();
    assert_eq!(alice.login("alice", PASSWORD).await.status(), 303);
    let who = Person::new("alice-at-corp", "alice@corp.test");
    let (status, to, _) = link(&alice, &idp, who).await;
    assert_eq!((status, to.as_str()), (303, "/profile/two-step?linked=1"));
    let (_, _, page) = alice.get(&to).await;
    assert!(page.contains("Two-step login and sign-in"), "{page}");
    assert!(
        page.contains(&format!("Linked to {NAME} as alice@corp.test")),
        "{page}"
    );
    assert!(page.contains("now logs you in"), "{page}");
    assert_eq!(
        events(&app, "sso.linked").await,
        [format!("{NAME} as alice@corp.test")]
    );

    // Bob cannot take the same identity.
    let bob = app.public_client();
    assert_eq!(bob.login("bob", PASSWORD).await.status(), 303);
    let (status, _, body) = link(&bob, &idp, who).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("linked to another login"), "{body}");
    assert_eq!(identities(&app).await, 1);

    // In a new browser, the identity signs Alice in and she lands on her Support PIN.
    let (c, status, to, _) = sign_in(&app, &idp, who).await;
    assert_eq!((status, to.as_str()), (303, "/profile"));
    let (status, _, page) = c.get("/profile").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Support PIN") && page.contains("alice"),
        "{page}"
    );
    assert_eq!(events(&app, "login.sso").await, [NAME.to_owned()]);

    // Logging out offers the provider's logout too.
    let (status, headers, _) = c.post("/logout", &[]).await;
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/logged-out");
    let (status, _, page) = c.get("/logged-out").await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("Sign out of {NAME} too")), "{page}");
    assert!(
        page.contains(&format!("{}/session/end?client_id=pinpanel", idp.issuer)),
        "{page}"
    );
    assert!(!logged_in(&c).await);

    // Unlinking needs the password: a wrong one changes nothing.
    let id: i64 = sqlx::query("SELECT id FROM identities")
        .fetch_one(app.pool())
        .await
        .expect("identity")
        .get("id");
    let unlink = format!("/profile/two-step/sso/{id}/unlink");
    let (status, _, page) = alice.post(&unlink, &[("password", "not it")]).await;
    assert_eq!(status, 422, "{page}");
    assert_eq!(identities(&app).await, 1);
    // Nobody else can name Alice's identity.
    let (status, _, _) = bob.post(&unlink, &[("password", PASSWORD)]).await;
    assert_eq!(status, 404);
    assert_eq!(identities(&app).await, 1);
    let (status, _, page) = alice.post(&unlink, &[("password", PASSWORD)]).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("unlinked"), "{page}");
    assert_eq!(identities(&app).await, 0);
    assert_eq!(events(&app, "sso.unlinked").await, [NAME.to_owned()]);

    // Unlinked, it opens nothing.
    let (c, status, _, body) = sign_in(&app, &idp, who).await;
    assert_eq!(status, 403, "{body}");
    assert!(!logged_in(&c).await);
}

async fn an_identity_linked_to_nobody_opens_nothing(backend: Backend) {
    let Some(idp) = Idp::start().await else {
        return;
    };
    let app = sso_app(backend, &idp.issuer, |_| {}).await.expect("app");
    let account = app.account("Acme", UnlockPolicy::SelfService).await;
    let bob = app.user(&account, "bob").await;
    let carol = app.user(&account, "carol").await;
    let dave = app.user(&account, "dave").await;

    // Unknown: a page that says so and how to link, 403, no session.
    let (c, status, _, body) = sign_in(&app, &idp, Person::new("stranger", "x@corp.test")).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("is not linked to a login here"), "{body}");
    assert!(body.contains(&format!("Link {NAME} account")), "{body}");
    assert!(!logged_in(&c).await);

    // Bob's address, verified, is not enough while linking by e-mail is off.
    let bob_email = bob.email.clone().expect("an address");
    let (c, status, _, _) = sign_in(&app, &idp, Person::new("bob-at-corp", &bob_email)).await;
    assert_eq!(status, 403);
    assert!(!logged_in(&c).await);
    assert_eq!(identities(&app).await, 0);

    // An external id written on a member who has a password opens nothing (provisioning's
    // links are `a_provisioning_token_cannot_make_an_identity_sign_in_as_a_member_who_is_there`).
    sqlx::query("UPDATE users SET external_id = $1 WHERE id = $2")
        .bind("ext-carol")
        .bind(carol.id)
        .execute(app.pool())
        .await
        .expect("external id");
    let (c, status, _, _) = sign_in(&app, &idp, Person::new("ext-carol", "c@corp.test")).await;
    assert_eq!(status, 403);
    assert!(!logged_in(&c).await);
    assert_eq!(identities(&app).await, 0);

    // A disabled member is refused as with a password.
    linked(&app, &idp, &dave, "dave-at-corp").await;
    pinpanel::service::members::set_enabled(
        &app.ctx,
        pinpanel::service::Actor::System,
        &dave,
        false,
    )
    .await
    .expect("disable");
    let (c, status, _, body) =
        sign_in(&app, &idp, Person::new("dave-at-corp", "d@corp.test")).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("disabled"), "{body}");
    assert!(!logged_in(&c).await);
    assert!(events(&app, "login.sso").await.is_empty());
}

async fn a_verified_address_links_only_when_configured(backend: Backend) {
    let Some(idp) = Idp::start().await else {
        return;
    };
    let app = sso_app(backend, &idp.issuer, |s| {
        s.sso.as_mut().expect("sso").link_by_email = true;
    })
    .await
    .expect("app");
    let account = app.account("Acme", UnlockPolicy::SelfService).await;
    let bob = app.user(&account, "bob").await;
    let email = bob.email.clone().expect("an address");

    // The provider does not vouch for the address: nothing is linked.
    let unverified = Person {
        verified: false,
        ..Person::new("bob-at-corp", &email)
    };
    let (c, status, _, _) = sign_in(&app, &idp, unverified).await;
    assert_eq!(status, 403);
    assert!(!logged_in(&c).await);
    assert_eq!(identities(&app).await, 0);

    // It does: Bob is linked on this first sign-in, and later ones need no address.
    let (c, status, to, _) = sign_in(&app, &idp, Person::new("bob-at-corp", &email)).await;
    assert_eq!((status, to.as_str()), (303, "/profile"));
    assert!(logged_in(&c).await);
    assert_eq!(identities(&app).await, 1);
    let (_, status, _, _) =
        sign_in(&app, &idp, Person::new("bob-at-corp", "other@corp.test")).await;
    assert_eq!(status, 303);

    // Agents are never linked by address.
    let agent = app.agent("desk").await;
    let agent_email = agent
        .email
        .clone()
        .unwrap_or_else(|| "desk@example.com".into());
    sqlx::query("UPDATE users SET email = $1 WHERE id = $2")
        .bind(&agent_email)
        .bind(agent.id)
        .execute(app.pool())
        .await
        .expect("agent address");
    let (_, status, _, _) = sign_in(&app, &idp, Person::new("desk-at-corp", &agent_email)).await;
    assert_eq!(status, 403);
}

async fn a_second_factor_at_the_provider_counts_only_when_it_says_so(backend: Backend) {
    let Some(idp) = Idp::start().await else {
        return;
    };
    let app = sso_app(backend, &idp.issuer, |s| {
        s.require_two_step = vec![Role::Agent];
        s.sso.as_mut().expect("sso").mfa_acr = Some("urn:pinpanel:acr:mfa".into());
    })
    .await
    .expect("app");
    let with_app = app.agent("desk1").await;
    let without = app.agent("desk2").await;
    linked(&app, &idp, &with_app, "desk1-at-corp").await;
    linked(&app, &idp, &without, "desk2-at-corp").await;

    // amr ["pwd","mfa"]: straight to the verify console.
    let mfa = Person {
        amr: "pwd,mfa",
        ..Person::new("desk2-at-corp", "desk2@corp.test")
    };
    let (c, status, to, _) = sign_in(&app, &idp, mfa).await;
    assert_eq!((status, to.as_str()), (303, "/agent"));
    let (status, _, page) = c.get("/agent").await;
    assert_eq!(status, 200, "{page}");
    assert!(events(&app, "login.sso").await[0].contains("with a second factor"));

    // The configured acr counts too.
    let acr = Person {
        acr: "urn:pinpanel:acr:mfa",
        ..Person::new("desk2-at-corp", "desk2@corp.test")
    };
    let (_, status, to, _) = sign_in(&app, &idp, acr).await;
    assert_eq!((status, to.as_str()), (303, "/agent"));

    // One factor that is not a password is still one factor (RFC 8176): an `otp` or an `sms`
    // alone, or two of one kind, is not two-step login; a password and a code are.
    for amr in ["otp", "sms", "hwk", "otp,sms"] {
        let one = Person {
            amr,
            ..Person::new("desk2-at-corp", "desk2@corp.test")
        };
        let (_, status, to, _) = sign_in(&app, &idp, one).await;
        assert_eq!((status, to.as_str()), (303, "/profile/two-step"), "{amr}");
    }
    let two = Person {
        amr: "pwd,otp",
        ..Person::new("desk2-at-corp", "desk2@corp.test")
    };
    let (_, status, to, _) = sign_in(&app, &idp, two).await;
    assert_eq!((status, to.as_str()), (303, "/agent"));

    // amr ["pwd"] without two-step login set up: sent to set it up, nothing else answers.
    let pwd = Person::new("desk2-at-corp", "desk2@corp.test");
    let (c, status, to, _) = sign_in(&app, &idp, pwd).await;
    assert_eq!((status, to.as_str()), (303, "/profile/two-step"));
    let (status, headers, _) = c.get("/agent").await;
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/profile/two-step");

    // amr ["pwd"] with an authenticator app: pinpanel's own second step.
    let setup = pinpanel::service::two_step::totp::begin_totp(
        &app.ctx,
        &with_app,
        &crate::helpers::fresh(&with_app),
    )
    .await
    .expect("begin");
    let secret = setup.secret.clone();
    pinpanel::service::two_step::totp::confirm_totp(
        &app.ctx,
        &with_app,
        &crate::helpers::fresh(&with_app),
        &crate::helpers::two_step::totp_code(&secret, crate::helpers::two_step::now()),
    )
    .await
    .expect("confirm");
    let pwd = Person::new("desk1-at-corp", "desk1@corp.test");
    let (c, status, to, _) = sign_in(&app, &idp, pwd).await;
    assert_eq!((status, to.as_str()), (303, "/login/second-step"));
    let (status, _, _) = c.get("/agent").await;
    assert_eq!(status, 303, "the second step is still due");
    let (status, _, _) = c.get("/login/second-step").await;
    assert_eq!(status, 200);
    let (status, headers, _) = c
        .post(
            "/login/second-step",
            &[(
                "code",
                &crate::helpers::two_step::totp_code(&secret, crate::helpers::two_step::now() + 30),
            )],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/agent");
}

async fn single_sign_on_only_members_lose_their_password_and_are_told(backend: Backend) {
    let Some(idp) = Idp::start().await else {
        return;
    };
    let Some(smtp) = MailServer::start().await else {
        return;
    };
    let app = sso_app(backend, &idp.issuer, |s| {
        s.delivery = Delivery::smtp(&smtp.url()).expect("an SMTP URL");
    })
    .await
    .expect("app");
    let account = app.account("Acme", UnlockPolicy::SelfService).await;
    app.admin(&account, "root").await;
    let alice = app
        .member(&account, "alice", Role::User, Kind::Contact)
        .await;
    linked(&app, &idp, &alice, "alice-at-corp").await;
    let desk = app.agent("desk").await;
    let before = app.logged_in("alice").await;

    // The administrator's Users page offers it; nobody may do it to themselves.
    let admin = app.logged_in("root").await;
    let (_, _, page) = admin.get("/users").await;
    assert!(page.contains("Single sign-on only"), "{page}");
    let root_id: i64 = sqlx::query("SELECT id FROM users WHERE username = 'root'")
        .fetch_one(app.pool())
        .await
        .expect("root")
        .get("id");
    let (status, _, _) = admin.post(&format!("/users/{root_id}/sso-only"), &[]).await;
    assert_eq!(status, 409);
    // Another account's member or an agent cannot be named.
    let (status, _, _) = admin
        .post(&format!("/users/{}/sso-only", desk.id), &[])
        .await;
    assert_eq!(status, 404);

    let (status, _, page) = admin
        .post(&format!("/users/{}/sso-only", alice.id), &[])
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("signs in only with single sign-on"), "{page}");
    let mail = smtp
        .wait_for_subject("You sign in with single sign-on only")
        .await;
    assert!(mail.to().contains(alice.email.as_deref().expect("address")));
    assert!(
        mail.text.contains("your password no longer works"),
        "{}",
        mail.text
    );

    // Her sessions ended and her password no longer works (the same refusal as a wrong one).
    assert!(!logged_in(&before).await);
    let c = app.public_client();
    let res = c.login("alice", PASSWORD).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        events(&app, "login.failed")
            .await
            .last()
            .map(String::as_str),
        Some("single sign-on only")
    );

    // Single sign-on still opens her login; her identity cannot be unlinked.
    let (c, status, _, _) = sign_in(&app, &idp, Person::new("alice-at-corp", "a@corp.test")).await;
    assert_eq!(status, 303);
    let (_, _, page) = c.get("/profile/two-step").await;
    assert!(page.contains("signs in only with Corp ID"), "{page}");
    assert!(!page.contains("to unlink"), "no unlink form: {page}");
    let id: i64 = sqlx::query("SELECT id FROM identities")
        .fetch_one(app.pool())
        .await
        .expect("identity")
        .get("id");
    let (status, _, page) = c
        .post(
            &format!("/profile/two-step/sso/{id}/unlink"),
            &[("password", PASSWORD)],
        )
        .await;
    assert_eq!(status, 409, "{page}");
    assert!(
        page.contains("stays linked") || page.contains("stay linked"),
        "{page}"
    );
    assert_eq!(identities(&app).await, 1);

    // The command line turns it off again, and she is told.
    let run = crate::helpers::process::pinpanel(
        &app.db,
        Some(&app.key_hex),
        "member set-sso-only --username alice --off",
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    smtp.wait_for_subject("Your password works again").await;
    assert_eq!(
        app.public_client().login("alice", PASSWORD).await.status(),
        303
    );
}

async fn confirming_with_the_provider_instead_of_the_password(backend: Backend) {
    let Some(idp) = Idp::start().await else {
        return;
    };
    let app = sso_app(backend, &idp.issuer, |s| s.reauth_secs = 300)
        .await
        .expect("app");
    let account = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&account, "alice").await;
    linked(&app, &idp, &alice, "alice-at-corp").await;
    let pin = app.pin_of(&alice).await;
    let who = Person::new("alice-at-corp", "a@corp.test");
    let (c, status, _, _) = sign_in(&app, &idp, who).await;
    assert_eq!(status, 303);
    let session = c.session_cookie().expect("a session");
    assert!(!session.is_empty());
    app.age_sessions("reauth_at", 3600).await;
    assert_eq!(c.get("/profile").await.0, 200);

    // Show asks who she is: the password, or the provider.
    let (status, _, section) = c.hx_post("/profile/support-pin/show", &[]).await;
    assert_eq!(status, 200);
    assert!(
        section.contains(&format!("Confirm with {NAME}")),
        "{section}"
    );
    assert!(!section.contains(&pin));

    // Someone else's identity at the provider does not confirm Alice.
    let (status, headers, _) = c.post("/profile/sso/reauth", &[]).await;
    assert_eq!(status, 303);
    let to = headers["location"].to_str().expect("location").to_owned();
    assert!(
        to.contains("max_age=0"),
        "the provider is asked to authenticate again: {to}"
    );
    let back = at_the_provider(&c, &idp, &to, Person::new("mallory", "m@corp.test")).await;
    let (status, _, body) = back_at_the_app(&c, &back).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not the one linked"), "{body}");
    let (_, _, section) = c.hx_post("/profile/support-pin/show", &[]).await;
    assert!(!section.contains(&pin), "still not confirmed");

    // Her own does.
    let (_, headers, _) = c.post("/profile/sso/reauth", &[]).await;
    let to = headers["location"].to_str().expect("location").to_owned();
    let back = at_the_provider(&c, &idp, &to, who).await;
    let (status, to, _) = back_at_the_app(&c, &back).await;
    assert_eq!((status, to.as_str()), (303, "/profile#support-pin"));
    let (_, _, section) = c.hx_post("/profile/support-pin/show", &[]).await;
    assert!(section.contains(&pin), "{section}");
}

/// The refusals of a callback: each a clear page, a 4xx, no session, nothing changed.
async fn every_bad_callback_is_refused_with_no_session_and_nothing_changed(backend: Backend) {
    let Some(idp) = Idp::start().await else {
        return;
    };
    let app = sso_app(backend, &idp.issuer, |_| {}).await.expect("app");
    let account = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&account, "alice").await;
    linked(&app, &idp, &alice, "alice-at-corp").await;
    let who = Person::new("alice-at-corp", "a@corp.test");

    async fn refused(app: &TestApp, c: &Client, callback: &str, says: &str) {
        let (status, _, body) = back_at_the_app(c, callback).await;
        assert_eq!(status, 400, "{callback}: {body}");
        assert!(
            body.contains(says),
            "{callback}: expected {says:?} in {body}"
        );
        assert!(!logged_in(c).await, "{callback} opened a session");
        assert!(events(app, "login.sso").await.is_empty(), "{callback}");
    }

    // No state, a state we never sent.
    let c = app.public_client();
    refused(
        &app,
        &c,
        "/login/oidc/callback?code=abc",
        "not started in this browser",
    )
    .await;
    refused(
        &app,
        &c,
        "/login/oidc/callback?code=abc&state=forged",
        "not started in this browser",
    )
    .await;

    // A real callback in another browser (without the binding cookie).
    let c = app.public_client();
    let to = start_sign_in(&c).await;
    let back = at_the_provider(&c, &idp, &to, who).await;
    let other = app.public_client();
    refused(&app, &other, &back, "not started in this browser").await;

    // A code the provider refuses.
    let c = app.public_client();
    let to = start_sign_in(&c).await;
    let back = at_the_provider(&c, &idp, &to, who).await;
    let mut url = url::Url::parse(&back).expect("url");
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state");
    url.query_pairs_mut()
        .clear()
        .append_pair("code", "not-a-code")
        .append_pair("state", &state);
    refused(
        &app,
        &c,
        url.as_str(),
        "provider refused the sign-in: invalid_grant",
    )
    .await;

    // The provider says no.
    idp.refuse_next(
        "access_denied",
        "the user is not assigned to this application",
    )
    .await;
    let c = app.public_client();
    let to = start_sign_in(&c).await;
    let back = at_the_provider(&c, &idp, &to, who).await;
    refused(
        &app,
        &c,
        &back,
        "provider said: access_denied (the user is not assigned to this application)",
    )
    .await;

    // ID tokens that must not be trusted.
    for mode in [
        "wrong-nonce",
        "wrong-aud",
        "expired",
        "unsigned",
        "bad-signature",
        "wrong-iss",
    ] {
        idp.tamper(mode).await;
        let c = app.public_client();
        let to = start_sign_in(&c).await;
        let back = at_the_provider(&c, &idp, &to, who).await;
        refused(&app, &c, &back, "could not be trusted").await;
    }

    // A callback after ten minutes.
    let c = app.public_client();
    let to = start_sign_in(&c).await;
    let back = at_the_provider(&c, &idp, &to, who).await;
    sqlx::query("UPDATE sso_attempts SET expires_at = $1")
        .bind(pinpanel::store::now() - 1)
        .execute(app.pool())
        .await
        .expect("age");
    refused(&app, &c, &back, "took longer than ten minutes").await;

    // A good one works once: replayed, it is refused.
    let c = app.public_client();
    let to = start_sign_in(&c).await;
    let back = at_the_provider(&c, &idp, &to, who).await;
    let binding = c
        .cookie("pinpanel-sso")
        .expect("the cookie binding the sign-in");
    let (status, _, _) = back_at_the_app(&c, &back).await;
    assert_eq!(status, 303);
    assert!(logged_in(&c).await);
    assert_eq!(c.cookie("pinpanel-sso"), None, "spent, the cookie goes");
    let replay = app.public_client();
    replay.set_cookie("pinpanel-sso", &binding);
    let (status, _, body) = back_at_the_app(&replay, &back).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("used already"), "{body}");
    assert!(!logged_in(&replay).await);

    // Eight copies of one callback at once (the binding cookie stolen too): one session.
    let c = app.public_client();
    let to = start_sign_in(&c).await;
    let back = at_the_provider(&c, &idp, &to, who).await;
    let binding = c.cookie("pinpanel-sso").expect("the binding cookie");
    let browsers: Vec<Client> = (0..8)
        .map(|_| {
            let b = app.public_client();
            b.set_cookie("pinpanel-sso", &binding);
            b
        })
        .collect();
    let answers = crate::helpers::wait::futures_join_all(browsers.into_iter().map(|b| {
        let back = back.clone();
        async move { back_at_the_app(&b, &back).await }
    }))
    .await;
    let statuses: Vec<u16> = answers.iter().map(|(s, _, _)| *s).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 303).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count(),
        7,
        "{statuses:?}"
    );

    // The provider's keys rotated: the new key is fetched and the sign-in works.
    idp.tamper("new-key").await;
    let (c, status, _, body) = sign_in(&app, &idp, who).await;
    assert_eq!(status, 303, "{body}");
    assert!(logged_in(&c).await);
    assert_eq!(events(&app, "login.sso").await.len(), 3);
}

async fn an_unreachable_provider_is_said_plainly(backend: Backend) {
    let Some(mut idp) = Idp::start().await else {
        return;
    };
    let app = sso_app(backend, &idp.issuer, |_| {}).await.expect("app");
    let account = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&account, "alice").await;
    linked(&app, &idp, &alice, "alice-at-corp").await;

    // The provider goes away between its login form and the code exchange.
    let c = app.public_client();
    let to = start_sign_in(&c).await;
    let back = at_the_provider(&c, &idp, &to, Person::new("alice-at-corp", "a@corp.test")).await;
    idp.stop().await;
    let (status, _, body) = back_at_the_app(&c, &back).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains(&format!(
            "Sign-in with {NAME} is not available right now; use your password."
        )),
        "{body}"
    );
    assert!(!logged_in(&c).await);
    // The password still works.
    assert_eq!(
        app.public_client().login("alice", PASSWORD).await.status(),
        303
    );

    // A panel that starts while the provider is down says so from the login page.
    let nobody = format!("http://127.0.0.1:{}", free_port());
    let app = sso_app(backend, &nobody, |_| {}).await.expect("app");
    let c = app.public_client();
    let (status, _, page) = c.get("/login").await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("Sign in with {NAME}")));
    let (status, _, body) = c.post("/login/oidc", &[]).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("not available right now; use your password"),
        "{body}"
    );
}

async fn single_sign_on_in_a_browser_with_javascript(backend: Backend) {
    browser_journey(backend, true).await
}

async fn single_sign_on_in_a_browser_without_javascript(backend: Backend) {
    browser_journey(backend, false).await
}

/// Types `sub` and `email` into the provider's login form and signs in there.
async fn provider_form(b: &Browser, sub: &str, email: &str) {
    eventually(
        "at the provider's form",
        Duration::from_secs(15),
        async || {
            let url = b.c.current_url().await.expect("url");
            if url.as_str().contains("/interaction/") {
                Ok(())
            } else {
                Err(format!("{url} says {}", b.text().await))
            }
        },
    )
    .await;
    b.fill("#sub", sub).await;
    b.fill("#email", email).await;
    b.click_css("#login-submit").await;
}

/// Issue 24 in Chromium, as a person does it: log in with the password, link the identity from
/// the security page, log out, sign in with the provider and land on the Support PIN, log out
/// here and at the provider. Screenshots of the login and linking pages for docs/sso.md.
async fn browser_journey(backend: Backend, javascript: bool) {
    let Some(idp) = Idp::start().await else {
        return;
    };
    let app = sso_app(backend, &idp.issuer, |_| {}).await.expect("app");
    let Some(b) = Browser::start(&app, javascript).await else {
        return;
    };
    let account = app.account("Demo Hosting", UnlockPolicy::SelfService).await;
    app.user(&account, "alice").await;
    // The accessibility check runs axe, a script: with JavaScript only.
    let check = |name: &'static str| {
        let b = &b;
        async move {
            if javascript {
                b.check_state(name).await;
            }
        }
    };

    b.login("alice").await;
    b.goto("/profile").await;
    b.click_named("Two-step login and sign-in").await;
    b.wait_text(&format!("Link {NAME} account")).await;
    check("sso-link").await;
    b.click_named(&format!("Link {NAME} account")).await;
    provider_form(&b, "alice-at-corp", "alice@corp.test").await;
    b.wait_text(&format!("Linked to {NAME} as alice@corp.test"))
        .await;
    b.wait_text("now logs you in").await;
    check("sso-linked").await;

    b.click_named("Log out").await;
    b.wait_text("Log in").await;
    check("sso-login").await;
    b.click_named(&format!("Sign in with {NAME}")).await;
    provider_form(&b, "alice-at-corp", "alice@corp.test").await;
    b.wait_text("Your Support PIN is hidden.").await;
    assert!(b.c.current_url().await.expect("url").path() == "/profile");

    // Logging out offers the provider's logout, which comes back to the login page.
    b.click_named("Log out").await;
    b.wait_text("You are logged out").await;
    check("sso-logged-out").await;
    b.click_named(&format!("Sign out of {NAME} too")).await;
    b.click_css("#logout-yes").await;
    b.wait_text("Log in").await;
    assert_eq!(b.c.current_url().await.expect("url").path(), "/login");
}

/// Mails of `kind` queued for `user`.
async fn mails_to(app: &TestApp, kind: &str, user: &User) -> i64 {
    sqlx::query("SELECT COUNT(*) AS n FROM outbox WHERE kind = $1 AND recipient_id = $2")
        .bind(kind)
        .bind(user.id)
        .fetch_one(app.pool())
        .await
        .expect("count mail")
        .get::<i64, _>("n")
}

/// Issue 36's takeover: a provisioning token set the `externalId` of a member who was there
/// already (the administrator) to its own identity's subject, and that identity's first sign-in
/// logged in as them. An external id now links only a member provisioning created with it, who
/// has no way in yet; the first account to create one with an id keeps it; the member is mailed.
async fn a_provisioning_token_cannot_make_an_identity_sign_in_as_a_member_who_is_there(
    backend: Backend,
) {
    let Some(idp) = Idp::start().await else {
        return;
    };
    let app = sso_app(backend, &idp.issuer, |_| {}).await.expect("app");
    let acme = app.account("Acme", UnlockPolicy::SelfService).await;
    let root = app.admin(&acme, "root").await;
    let pin = app.pin_of(&root).await;
    let scim = crate::helpers::scim::Scim::for_account(&app, &acme, "Okta").await;

    // The token points the administrator's external id at the attacker's identity: 200, a
    // label only. The attacker's sign-in is refused, links nothing, opens no session.
    let a = scim
        .patch(
            &format!("/Users/{}", root.id),
            serde_json::json!([{"op": "replace", "path": "externalId", "value": "mallory"}]),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (c, status, _, body) = sign_in(&app, &idp, Person::new("mallory", "m@evil.test")).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("is not linked to a login here"), "{body}");
    assert!(!logged_in(&c).await);
    assert!(!c
        .hx_post("/profile/support-pin/show", &[])
        .await
        .2
        .contains(&pin));
    assert_eq!(identities(&app).await, 0);

    // A member the token creates with an id is linked on that identity's first sign-in, and
    // told so; the activity says provisioning's id linked it, not that the member did.
    let carol_id = scim
        .create(
            "carol",
            serde_json::json!({"externalId": "ext-carol", "emails": [{"value": "carol@acme.test"}]}),
        )
        .await;
    let (c, status, to, _) = sign_in(&app, &idp, Person::new("ext-carol", "c@corp.test")).await;
    assert_eq!((status, to.as_str()), (303, "/profile"));
    let (_, _, page) = c.get("/profile").await;
    assert!(page.contains("carol"), "{page}");
    let carol = pinpanel::store::users::by_username(app.pool(), "carol")
        .await
        .expect("query")
        .expect("carol");
    assert_eq!(carol.id.to_string(), carol_id);
    assert_eq!(mails_to(&app, "sso.linked", &carol).await, 1);
    let actor: Option<i64> =
        sqlx::query_scalar("SELECT actor_id FROM audit_log WHERE event = 'sso.linked'")
            .fetch_one(app.pool())
            .await
            .expect("the link's row");
    assert_eq!(actor, None, "linked by provisioning, not by carol");

    // An id the token changes after it created the member links nothing, even while the member
    // has no way in yet.
    scim.create("dave", serde_json::json!({"externalId": "ext-dave"}))
        .await;
    let dave = pinpanel::store::users::by_username(app.pool(), "dave")
        .await
        .expect("query")
        .expect("dave");
    let a = scim
        .patch(
            &format!("/Users/{}", dave.id),
            serde_json::json!([{"op": "replace", "path": "externalId", "value": "mallory-2"}]),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, status, _, _) = sign_in(&app, &idp, Person::new("mallory-2", "m@evil.test")).await;
    assert_eq!(status, 403);

    // A member who chose a password since owns their login: provisioning's id no longer links
    // it (they link from their security page, after their password).
    scim.create("erin", serde_json::json!({"externalId": "ext-erin"}))
        .await;
    let erin = pinpanel::store::users::by_username(app.pool(), "erin")
        .await
        .expect("query")
        .expect("erin");
    pinpanel::service::password::set_password(
        &app.ctx,
        pinpanel::service::Actor::Cli,
        &erin,
        SecretString::from(PASSWORD),
    )
    .await
    .expect("a password");
    let (_, status, _, _) = sign_in(&app, &idp, Person::new("ext-erin", "e@corp.test")).await;
    assert_eq!(status, 403);

    // Another account giving the same id to a member of its own later neither takes nor blocks
    // the first member's sign-in.
    scim.create("fay", serde_json::json!({"externalId": "ext-fay"}))
        .await;
    let other = app.account("Other", UnlockPolicy::SelfService).await;
    let theirs = crate::helpers::scim::Scim::for_account(&app, &other, "Their Okta").await;
    theirs
        .create("fay-too", serde_json::json!({"externalId": "ext-fay"}))
        .await;
    let (c, status, to, _) = sign_in(&app, &idp, Person::new("ext-fay", "f@corp.test")).await;
    assert_eq!((status, to.as_str()), (303, "/profile"));
    let (_, _, page) = c.get("/profile").await;
    assert!(page.contains("Acme") && page.contains("fay"), "{page}");
    assert_eq!(identities(&app).await, 2, "carol and fay");
}

/// A sign-in at the provider is a fresh password entry ("sudo mode": Show) only as fresh as the
/// provider says the person authenticated (`auth_time`): one that reused a days-old session at
/// an unattended browser shows no PIN.
async fn a_sign_in_is_only_as_fresh_as_the_providers_auth_time(backend: Backend) {
    let Some(idp) = Idp::start().await else {
        return;
    };
    let app = sso_app(backend, &idp.issuer, |s| s.reauth_secs = 300)
        .await
        .expect("app");
    let account = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&account, "alice").await;
    linked(&app, &idp, &alice, "alice-at-corp").await;
    let pin = app.pin_of(&alice).await;

    // Authenticated at the provider three days ago: logged in, but Show asks who she is.
    let stale = Person {
        auth_age: "259200",
        ..Person::new("alice-at-corp", "a@corp.test")
    };
    let (c, status, _, _) = sign_in(&app, &idp, stale).await;
    assert_eq!(status, 303);
    assert_eq!(c.get("/profile").await.0, 200);
    let (_, _, section) = c.hx_post("/profile/support-pin/show", &[]).await;
    assert!(!section.contains(&pin), "{section}");
    assert!(
        section.contains(&format!("Confirm with {NAME}")),
        "{section}"
    );

    // An ID token that does not say when: not fresh either.
    idp.tamper("no-auth-time").await;
    let (c, status, _, _) = sign_in(&app, &idp, Person::new("alice-at-corp", "a@corp.test")).await;
    assert_eq!(status, 303);
    assert_eq!(c.get("/profile").await.0, 200);
    let (_, _, section) = c.hx_post("/profile/support-pin/show", &[]).await;
    assert!(!section.contains(&pin), "{section}");
    assert!(
        section.contains(&format!("Confirm with {NAME}")),
        "{section}"
    );

    // Authenticated just now: Show shows.
    let (c, status, _, _) = sign_in(&app, &idp, Person::new("alice-at-corp", "a@corp.test")).await;
    assert_eq!(status, 303);
    assert_eq!(c.get("/profile").await.0, 200);
    let (_, _, section) = c.hx_post("/profile/support-pin/show", &[]).await;
    assert!(section.contains(&pin), "{section}");
}

/// Linking an identity makes a lasting way in: it needs a recent password entry (a borrowed
/// session past its re-auth window cannot make one), and the member is mailed.
async fn linking_an_identity_needs_a_recent_password_and_mails_the_member(backend: Backend) {
    let Some(idp) = Idp::start().await else {
        return;
    };
    let app = sso_app(backend, &idp.issuer, |s| s.reauth_secs = 300)
        .await
        .expect("app");
    let account = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&account, "alice").await;
    let c = app.public_client();
    assert_eq!(c.login("alice", PASSWORD).await.status(), 303);
    app.age_sessions("reauth_at", 3600).await;

    let (_, _, page) = c.get("/profile/two-step").await;
    assert!(!page.contains(&format!("Link {NAME} account")), "{page}");
    assert!(page.contains("confirm your password below first"), "{page}");
    let (status, _, page) = c.post("/profile/two-step/sso/link", &[]).await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("Confirm your password"), "{page}");
    let started: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sso_attempts")
        .fetch_one(app.pool())
        .await
        .expect("count");
    assert_eq!(started, 0, "nothing started");

    let (status, _, _) = c
        .post("/profile/two-step/password", &[("password", PASSWORD)])
        .await;
    assert_eq!(status, 303);
    let who = Person::new("alice-at-corp", "alice@corp.test");
    let (status, to, _) = link(&c, &idp, who).await;
    assert_eq!((status, to.as_str()), (303, "/profile/two-step?linked=1"));
    assert_eq!(identities(&app).await, 1);
    assert_eq!(mails_to(&app, "sso.linked", &alice).await, 1);
    let (subject, body): (String, Vec<u8>) =
        sqlx::query_as("SELECT subject, text_body FROM outbox WHERE kind = 'sso.linked'")
            .fetch_one(app.pool())
            .await
            .expect("the mail");
    assert_eq!(subject, format!("A {NAME} account now signs you in"));
    let text = String::from_utf8(body).expect("text");
    assert!(
        text.contains("alice@corp.test") && text.contains("unlink it"),
        "{text}"
    );
}

/// Starting sign-ins writes a row each (kept ten minutes): they are counted per client address,
/// so an anonymous flood meets a 429, not a growing table.
async fn starting_sign_ins_is_throttled_per_address(backend: Backend) {
    let Some(idp) = Idp::start().await else {
        return;
    };
    let app = sso_app(backend, &idp.issuer, |_| {}).await.expect("app");
    let c = app.public_client();
    let (status, _, _) = c.get("/login").await;
    assert_eq!(status, 200);
    let max = app.ctx.limits.sso_per_address.max;
    for n in 0..max {
        let (status, _, body) = c.post("/login/oidc", &[]).await;
        assert_eq!(status, 303, "start {n}: {body}");
    }
    let (status, headers, body) = c.post("/login/oidc", &[]).await;
    assert_eq!(status, 429, "{body}");
    assert!(headers.contains_key("retry-after"));
    assert!(body.contains("Too many attempts"), "{body}");
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sso_attempts")
        .fetch_one(app.pool())
        .await
        .expect("count");
    assert_eq!(rows, max);
}
