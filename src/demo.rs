//! `serve --demo`: on an empty database, an account "Demo Hosting" with an administrator, a
//! user, a contact and an agent, each with a random one-time password printed once.

use secrecy::SecretString;

use crate::domain::{Kind, Role, UnlockPolicy};
use crate::service::{accounts, members, Actor, Ctx};

pub struct DemoLogin {
    pub username: &'static str,
    pub what: &'static str,
    pub password: String,
}

pub struct DemoLogins {
    pub account_number: String,
    pub logins: Vec<DemoLogin>,
}

/// Seeds the demo data if the database has no account yet.
pub async fn seed(ctx: &Ctx) -> anyhow::Result<Option<DemoLogins>> {
    if !accounts::none_yet(ctx).await? {
        return Ok(None);
    }
    let account = accounts::create_account(
        ctx,
        Actor::Cli,
        "Demo Hosting",
        None,
        UnlockPolicy::SelfService,
    )
    .await
    .map_err(anyhow::Error::from)?;
    let people: [(&str, &str, &str, Role, Kind, bool); 4] = [
        (
            "admin",
            "Ada Admin",
            "account administrator",
            Role::Admin,
            Kind::User,
            true,
        ),
        (
            "user",
            "Uma User",
            "account user",
            Role::User,
            Kind::User,
            true,
        ),
        (
            "contact",
            "Cole Contact",
            "account contact",
            Role::User,
            Kind::Contact,
            true,
        ),
        (
            "agent",
            "Sam Agent",
            "support agent",
            Role::Agent,
            Kind::User,
            false,
        ),
    ];
    let mut logins = Vec::new();
    for (username, name, what, role, kind, member) in people {
        // 12 characters of URL-safe base64: about 72 bits, easy to copy.
        let password: String = crate::crypto::random_token().chars().take(12).collect();
        members::create_person(
            ctx,
            Actor::Cli,
            members::NewPerson {
                account: member.then(|| account.clone()),
                username: username.into(),
                full_name: name.into(),
                email: member.then(|| format!("{username}@demo.example")),
                role,
                kind,
                password: SecretString::from(password.clone()),
                with_pin: member,
            },
        )
        .await
        .map_err(anyhow::Error::from)?;
        logins.push(DemoLogin {
            username,
            what,
            password,
        });
    }
    Ok(Some(DemoLogins {
        account_number: account.number,
        logins,
    }))
}

pub fn print(demo: &DemoLogins, two_step_required: bool) {
    println!(
        "demo account 'Demo Hosting', number {}",
        demo.account_number
    );
    println!("one-time logins (shown only now):");
    for l in &demo.logins {
        println!("  {:<8} {:<14} ({})", l.username, l.password, l.what);
    }
    if two_step_required {
        println!(
            "the administrator and the agent set up two-step login (an authenticator app) at \
             their first login, as PINPANEL_REQUIRE_TWO_STEP asks (set it to none to skip that)"
        );
    }
}
