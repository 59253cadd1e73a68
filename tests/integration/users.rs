//! The administrators' Users page: list, unlock, reset, unlock policy, account boundaries.

use pinpanel::domain::UnlockPolicy;

use crate::dual;
use crate::helpers::TestApp;

dual!(
    the_users_page_lists_members_with_state_and_never_a_pin,
    an_administrator_unlocks_and_resets_from_the_users_page,
    reset_while_locked_is_refused,
    an_administrator_of_another_account_gets_404,
    plain_members_may_not_use_the_users_page,
    the_unlock_policy_can_be_changed,
);

async fn the_users_page_lists_members_with_state_and_never_a_pin(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let ada = app.admin(&acct, "ada").await;
    let alice = app.user(&acct, "alice").await;
    let carl = app
        .member(
            &acct,
            "carl",
            pinpanel::domain::Role::User,
            pinpanel::domain::Kind::Contact,
        )
        .await;
    app.lock(&alice).await;
    let pins_now = [app.pin_of(&ada).await, app.pin_of(&carl).await];
    let c = app.logged_in("ada").await;
    let (status, _, page) = c.get("/users").await;
    assert_eq!(status, 200);
    for name in ["Full ada", "Full alice", "Full carl"] {
        assert!(page.contains(name), "{name}");
    }
    assert!(page.contains("Contact") && page.contains("Administrator"));
    assert!(page.contains("badge-locked\">Locked") && page.contains("badge-active\">Active"));
    for p in pins_now {
        assert!(!page.contains(&p), "a PIN on the Users page");
    }
    // Unlock is offered for alice, reset for carl, neither for ada's own reset.
    assert!(page.contains(&format!("href=\"/users/{}/unlock\"", alice.id)));
    assert!(page.contains(&format!("href=\"/users/{}/reset\"", carl.id)));
    assert!(!page.contains(&format!("href=\"/users/{}/reset\"", ada.id)));
}

async fn an_administrator_unlocks_and_resets_from_the_users_page(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::Admins).await;
    app.admin(&acct, "ada").await;
    let alice = app.user(&acct, "alice").await;
    let before = app.pin_of(&alice).await;
    app.lock(&alice).await;
    let c = app.logged_in("ada").await;
    let (status, _, confirm) = c.get(&format!("/users/{}/unlock", alice.id)).await;
    assert_eq!(status, 200);
    assert!(confirm.contains("Unlock the Support PIN of Full alice (alice)?"));
    let (status, _, page) = c.post(&format!("/users/{}/unlock", alice.id), &[]).await;
    assert_eq!(status, 200);
    assert!(page.contains("Support PIN of Full alice (alice) unlocked."));
    assert_eq!(app.pin_row(&alice).await, ("ACTIVE".to_owned(), 0));
    // Without JavaScript the confirmation page asks what the dialog asks, word for word
    // (issue 37: it had drifted, leaving "You will not see it" out).
    let (status, _, confirm) = c.get(&format!("/users/{}/reset", alice.id)).await;
    assert_eq!(status, 200);
    assert!(
        confirm.contains("Give Full alice (alice) a new, generated Support PIN?")
            && confirm.contains("You will not see it."),
        "{confirm}"
    );
    let (_, _, users) = c.get("/users").await;
    assert!(
        users.contains("You will not see it."),
        "the dialog's question"
    );
    let (status, _, page) = c.hx_post(&format!("/users/{}/reset", alice.id), &[]).await;
    assert_eq!(status, 200);
    assert!(page.contains("Full alice (alice) has a new Support PIN."));
    let after = app.pin_of(&alice).await;
    assert_ne!(before, after, "reset gives a new PIN");
    assert!(!page.contains(&after), "the admin never sees it");
    // Resetting oneself is refused.
    let ada = pinpanel::store::users::by_username(app.pool(), "ada")
        .await
        .unwrap()
        .unwrap();
    let (status, _, _) = c.post(&format!("/users/{}/reset", ada.id), &[]).await;
    assert_eq!(status, 403);
}

async fn reset_while_locked_is_refused(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.admin(&acct, "ada").await;
    let alice = app.user(&acct, "alice").await;
    app.lock(&alice).await;
    let c = app.logged_in("ada").await;
    let (status, _, page) = c.post(&format!("/users/{}/reset", alice.id), &[]).await;
    assert_eq!(status, 409);
    assert!(page.contains("is locked: unlock it before resetting it"));
    assert_eq!(app.pin_row(&alice).await, ("LOCKED".to_owned(), 6));
}

async fn an_administrator_of_another_account_gets_404(app: TestApp) {
    let acme = app.account("Acme", UnlockPolicy::SelfService).await;
    let other = app.account("Other", UnlockPolicy::SelfService).await;
    let alice = app.user(&acme, "alice").await;
    app.admin(&other, "oscar").await;
    app.lock(&alice).await;
    let c = app.logged_in("oscar").await;
    for path in [
        format!("/users/{}/unlock", alice.id),
        format!("/users/{}/reset", alice.id),
    ] {
        assert_eq!(c.get(&path).await.0, 404, "GET {path}");
        assert_eq!(c.post(&path, &[]).await.0, 404, "POST {path}");
    }
    assert_eq!(c.post("/users/999999/unlock", &[]).await.0, 404);
    assert_eq!(app.pin_row(&alice).await, ("LOCKED".to_owned(), 6));
    let (_, _, page) = c.get("/users").await;
    assert!(!page.contains("alice"));
}

async fn plain_members_may_not_use_the_users_page(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let bob = app.user(&acct, "bob").await;
    let alice = app.user(&acct, "alice").await;
    app.lock(&alice).await;
    let c = app.logged_in("bob").await;
    assert_eq!(c.get("/users").await.0, 403);
    assert_eq!(
        c.post(&format!("/users/{}/unlock", alice.id), &[]).await.0,
        403
    );
    assert_eq!(
        c.post(&format!("/users/{}/reset", bob.id), &[]).await.0,
        403
    );
    assert_eq!(app.pin_row(&alice).await.0, "LOCKED");
    let (_, _, page) = c.get("/profile").await;
    assert!(
        !page.contains("href=\"/users\""),
        "no Users link for plain members"
    );
}

async fn the_unlock_policy_can_be_changed(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    app.admin(&acct, "ada").await;
    let alice = app.user(&acct, "alice").await;
    app.lock(&alice).await;
    let c = app.logged_in("ada").await;
    let (status, _, page) = c
        .post("/users/policy", &[("unlock_policy", "admins")])
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("Only administrators may now unlock Support PINs."));
    assert!(
        page.contains("value=\"admins\" checked"),
        "the form shows the new policy"
    );
    let m = app.logged_in("alice").await;
    assert_eq!(m.hx_post("/profile/support-pin/unlock", &[]).await.0, 403);
    c.post("/users/policy", &[("unlock_policy", "self")]).await;
    assert_eq!(m.hx_post("/profile/support-pin/unlock", &[]).await.0, 200);
    let (status, _, _) = c
        .post("/users/policy", &[("unlock_policy", "everyone")])
        .await;
    assert_eq!(status, 422);
}
