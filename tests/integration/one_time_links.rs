//! One-time links, on both backends: an invitation or a password link dies with a new password
//! or a disabled member, and the first start keeps one set-up link and sets up in one
//! transaction.

use pinpanel::domain::{Kind, Role, UnlockPolicy};
use pinpanel::service::{links, members, password, Actor, ServiceError};
use secrecy::SecretString;

use crate::dual;
use crate::helpers::{TestApp, PASSWORD};

dual!(
    one_time_links_die_with_a_new_password_or_a_disabled_member,
    the_first_start_keeps_one_set_up_link_and_sets_up_in_one_transaction,
);

async fn one_time_links_die_with_a_new_password_or_a_disabled_member(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let ada = app.admin(&acct, "ada").await;
    let invite = |name: &str| links::NewMember {
        username: name.into(),
        full_name: name.into(),
        email: format!("{name}@example.com"),
        kind: Kind::User,
        role: Role::User,
    };
    let token_of = |link: Option<String>| {
        link.expect("no mail: the link is shown")
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned()
    };
    // An invitation dies when the password is set another way.
    let bob = links::invite(&app.ctx, &ada, &acct, invite("bob"))
        .await
        .unwrap();
    let token = token_of(bob.link_to_pass_on);
    assert!(links::invitation_holder(&app.ctx, &token).await.is_ok());
    password::set_password(
        &app.ctx,
        Actor::Cli,
        &bob.member,
        SecretString::from(PASSWORD),
    )
    .await
    .unwrap();
    assert!(matches!(
        links::invitation_holder(&app.ctx, &token).await,
        Err(ServiceError::NotFound)
    ));
    // And when the member is disabled.
    let carl = links::invite(&app.ctx, &ada, &acct, invite("carl"))
        .await
        .unwrap();
    let token = token_of(carl.link_to_pass_on);
    members::disable(&app.ctx, Actor::User(&ada), &carl.member)
        .await
        .unwrap();
    members::set_enabled(&app.ctx, Actor::User(&ada), &carl.member, true)
        .await
        .unwrap();
    assert!(matches!(
        links::invitation_holder(&app.ctx, &token).await,
        Err(ServiceError::NotFound)
    ));
    // A password link dies when the person changes their password.
    let alice = app.user(&acct, "alice").await;
    links::request_password_link(&app.ctx, "alice", "192.0.2.1")
        .await
        .unwrap();
    let live: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM one_time_links WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(alice.id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(live, 1);
    password::change_own_password(
        &app.ctx,
        &alice,
        SecretString::from(PASSWORD),
        SecretString::from("another good password"),
        SecretString::from("another good password"),
    )
    .await
    .unwrap();
    let live: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM one_time_links WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(alice.id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(live, 0);
}

async fn the_first_start_keeps_one_set_up_link_and_sets_up_in_one_transaction(app: TestApp) {
    let first = links::setup_token(&app.ctx).await.unwrap().unwrap();
    let second = links::setup_token(&app.ctx).await.unwrap().unwrap();
    assert!(!links::setup_is_open(&app.ctx, &first).await.unwrap());
    assert!(links::setup_is_open(&app.ctx, &second).await.unwrap());
    // A username an agent already has: nothing is created, and the link still works.
    app.agent("root").await;
    let setup = |username: &str| links::Setup {
        account_name: "Acme".into(),
        username: username.into(),
        full_name: "Ada Admin".into(),
        email: None,
        password: SecretString::from(PASSWORD),
        again: SecretString::from(PASSWORD),
    };
    let err = links::complete_setup(&app.ctx, &second, setup("root"))
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Conflict(_)), "{err}");
    let accounts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(accounts, 0);
    assert!(links::setup_is_open(&app.ctx, &second).await.unwrap());
    let ada = links::complete_setup(&app.ctx, &second, setup("ada"))
        .await
        .unwrap();
    assert!(ada.is_admin());
    assert!(!links::setup_is_open(&app.ctx, &second).await.unwrap());
}
