//! The administrators' Users page: list, unlock, reset, unlock policy, account boundaries, and
//! the page at scale (pages, search, filters, the count as members come and go).

use pinpanel::domain::{Kind, Role, UnlockPolicy};
use pinpanel::service::{members, Actor};
use secrecy::SecretString;

use crate::dual;
use crate::helpers::{migration_statement, unescaped, TestApp};

dual!(
    the_users_page_lists_members_with_state_and_never_a_pin,
    an_administrator_unlocks_and_resets_from_the_users_page,
    reset_while_locked_is_refused,
    an_administrator_of_another_account_gets_404,
    plain_members_may_not_use_the_users_page,
    the_unlock_policy_can_be_changed,
    the_users_page_pages_searches_and_filters,
    the_users_page_counts_members_as_they_come_and_go,
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

async fn the_users_page_pages_searches_and_filters(app: TestApp) {
    let acme = app.account("Acme", UnlockPolicy::SelfService).await;
    app.admin(&acme, "root").await;
    let bob = app.user(&acme, "bob").await;
    // 120 more members, written directly (the page is what is tested here).
    for i in 0..120 {
        sqlx::query(
            "INSERT INTO users (account_id, username, full_name, email, kind, role, \
             password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, 'user', 'user', '', 0, 0)",
        )
        .bind(acme.id)
        .bind(format!("m{i:03}"))
        .bind(format!("Member {i:03}"))
        .bind(format!("m{i:03}@example.org"))
        .execute(app.pool())
        .await
        .unwrap();
    }
    sqlx::query("UPDATE users SET disabled = 1 WHERE username IN ('m007', 'm008')")
        .execute(app.pool())
        .await
        .unwrap();
    app.lock(&bob).await;
    let c = app.logged_in("root").await;

    let (status, _, page) = c.get("/users").await;
    assert_eq!(status, 200);
    assert!(page.contains("122 members, page 1 of 3."), "{page}");
    assert_eq!(page.matches("<tr id=\"member-").count(), 50);
    assert!(
        page.contains("href=\"/users?page=2\" rel=\"next\""),
        "{page}"
    );
    let (_, _, last) = c.get("/users?page=3").await;
    assert_eq!(last.matches("<tr id=\"member-").count(), 22);
    assert!(last.contains("rel=\"prev\"") && !last.contains("rel=\"next\""));

    // A page past the end, or not a number: said plainly.
    let (status, _, past) = c.get("/users?page=9").await;
    assert_eq!(status, 422);
    assert!(
        past.contains("There is no page 9: the list has 3 pages."),
        "{past}"
    );
    // Past the end of a search's pages too (its count is read with the page, so a page without
    // a row is counted apart).
    let (status, _, past) = c.get("/users?q=member&page=4").await;
    assert_eq!(status, 422);
    assert!(
        past.contains("There is no page 4: the list has 3 pages."),
        "{past}"
    );
    let (status, _, nan) = c.get("/users?page=two").await;
    assert_eq!(status, 422);
    assert!(
        unescaped(&nan).contains("'two' is not a page number."),
        "{nan}"
    );

    // Search by name, username or address; wildcards are only characters.
    let (_, _, found) = c.get("/users?q=member%20011").await;
    assert!(found.contains("1 member found."), "{found}");
    assert!(found.contains("data-username=\"m011\""));
    let (_, _, found) = c.get("/users?q=M01").await;
    assert!(found.contains("10 members found."), "{found}");
    let (_, _, found) = c.get("/users?q=m099%40example").await;
    assert!(found.contains("1 member found."), "{found}");
    let (_, _, found) = c.get("/users?q=%25").await;
    assert!(found.contains("0 members found."), "{found}");
    let long = "a".repeat(101);
    let (status, _, refused) = c.get(&format!("/users?q={long}")).await;
    assert_eq!(status, 422);
    assert!(
        refused.contains("A search has at most 100 characters."),
        "{refused}"
    );

    // Filters, and a search within one; paging keeps both.
    let (_, _, locked) = c.get("/users?show=locked").await;
    assert!(
        locked.contains("1 member found.") && locked.contains("data-username=\"bob\""),
        "{locked}"
    );
    let (_, _, disabled) = c.get("/users?show=disabled").await;
    assert!(disabled.contains("2 members found."), "{disabled}");
    let (_, _, admins) = c.get("/users?show=admins").await;
    assert!(admins.contains("1 member found.") && admins.contains("data-username=\"root\""));
    let (_, _, both) = c.get("/users?q=member&show=disabled").await;
    assert!(both.contains("2 members found."), "{both}");
    let (_, _, many) = c.get("/users?q=member").await;
    assert!(
        unescaped(&many).contains("href=\"/users?q=member&page=2\""),
        "{many}"
    );

    // htmx asks for the same page; the list is in it to swap.
    let (status, _, part) = c.hx_get("/users?q=m05").await;
    assert_eq!(status, 200);
    assert!(part.contains("id=\"members-list\"") && part.contains("10 members found."));
}

/// The Users page's count is kept on the account by the database (migration 0012), and its
/// page comes back as one JSON row: members added side by side, removed and moved to another
/// account are counted right away, rows keep the database's order, and a name with markup,
/// quotes, a backslash and letters beyond ASCII reads back exactly, escaped on the page.
async fn the_users_page_counts_members_as_they_come_and_go(app: TestApp) {
    let acme = app.account("Acme", UnlockPolicy::SelfService).await;
    let other = app.account("Other", UnlockPolicy::SelfService).await;
    app.admin(&acme, "root").await;
    let adds = (0..12).map(|i| {
        let (ctx, acme) = (app.ctx.clone(), acme.clone());
        async move {
            members::create_person(
                &ctx,
                Actor::Cli,
                members::NewPerson {
                    account: Some(acme),
                    username: format!("c{i:02}"),
                    full_name: format!("Caller {}", 12 - i),
                    email: None,
                    role: Role::User,
                    kind: Kind::User,
                    password: SecretString::from("a long enough password"),
                    with_pin: true,
                },
            )
            .await
            .expect("member")
        }
    });
    let added = crate::helpers::wait::futures_join_all(adds).await;
    let mut conn = app.pool().acquire().await.unwrap();
    pinpanel::store::scim::remove_member(&mut conn, &added[0])
        .await
        .unwrap();
    sqlx::query("UPDATE users SET account_id = $1 WHERE id = $2")
        .bind(other.id)
        .bind(added[1].id)
        .execute(&mut *conn)
        .await
        .unwrap();
    let name = "Zoë \"O'Brien\" <b>&amp;</b> \\ 東京";
    sqlx::query("UPDATE users SET full_name = $1 WHERE id = $2")
        .bind(name)
        .bind(added[2].id)
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    let counted = || async {
        for (account, members) in [(&acme, 11), (&other, 1)] {
            let kept: (i64, i64) = sqlx::query_as(
                "SELECT member_count, (SELECT COUNT(*) FROM users WHERE account_id = $1) \
                 FROM accounts WHERE id = $1",
            )
            .bind(account.id)
            .fetch_one(app.pool())
            .await
            .unwrap();
            assert_eq!(kept, (members, members), "{}", account.name);
        }
    };
    counted().await;
    // The migration's backfill gives accounts made before it the same counts.
    let backfill = migration_statement(
        app.db.backend,
        "0012_member_count",
        "UPDATE accounts SET member_count",
    );
    for statement in ["UPDATE accounts SET member_count = 0", &backfill] {
        sqlx::query(statement).execute(app.pool()).await.unwrap();
    }
    counted().await;

    let c = app.logged_in("root").await;
    let (status, _, page) = c.get("/users").await;
    assert_eq!(status, 200);
    assert!(page.contains("11 members."), "{page}");
    let text = unescaped(&page);
    // (followed by the badge of a member without an e-mail address)
    assert!(text.contains(&format!(">{name} <span")), "{page}");
    assert!(!page.contains("<b>"), "{page}");
    let shown: Vec<&str> = page
        .split("data-username=\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .collect();
    let ordered: Vec<String> = sqlx::query_scalar(
        "SELECT username FROM users WHERE account_id = $1 ORDER BY full_name, username",
    )
    .bind(acme.id)
    .fetch_all(app.pool())
    .await
    .unwrap();
    assert_eq!(shown, ordered);
}
