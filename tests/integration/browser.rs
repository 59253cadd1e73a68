//! Journeys in a real browser (`helpers::browser`): with JavaScript on (htmx fragments,
//! dialogs) and off (full pages, form posts). Assertions are about what a person sees (the
//! page's text), not about markup.
//!
//! Needs /usr/bin/chromium and /usr/bin/chromedriver; without them the tests say so and pass,
//! unless PINPANEL_REQUIRE_BROWSER=1 makes that a failure.

use std::time::Duration;

use pinpanel::domain::UnlockPolicy;
use serde_json::{json, Value};

use crate::dual;
use crate::helpers::browser::Browser;
use crate::helpers::mail::{link_in, MailServer};
use crate::helpers::two_step::{now, totp_code};
use crate::helpers::wait::eventually;
use crate::helpers::{path_of, spawn_app, Backend, PASSWORD};

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
    b.wait_text("Support PIN of Full alice (alice) unlocked.")
        .await;
    assert_eq!(app.pin_row(&alice).await.0, "ACTIVE");
    // And resets it: the member then sees a different PIN.
    b.click_css(&format!("#member-{} a[href$='/reset']", alice.id))
        .await;
    b.click_css(
        "dialog[open] button[type=submit], main form[action$='/reset'] button[type=submit]",
    )
    .await;
    b.wait_text("Full alice (alice) has a new Support PIN.")
        .await;
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
    eventually(
        "the inline style reported as a CSP violation",
        Duration::from_secs(10),
        async || !b.csp_violations().await.is_empty(),
    )
    .await;
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
    let code = totp_code(&secret, now());
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
    let code = totp_code(&secret, now());
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

/// Issue 15's journey: an administrator adds a member, who follows the mailed invitation (a
/// real SMTP server) and logs in; the member is disabled and enabled again; a forgotten password
/// is reset from the mail; the administrator ends another session, exports the activity and
/// changes their password; and a fresh installation is set up from its first-start link.
async fn running_an_account_from_the_browser(backend: Backend) {
    let Some(smtp) = MailServer::start().await else {
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
    b.goto(&path_of(&link_in(&invitation[0], "http://localhost:")))
        .await;
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
    b.goto(&path_of(&link_in(&reset, "http://localhost:")))
        .await;
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
