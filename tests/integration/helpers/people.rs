//! The people and accounts a test starts from, made through the use cases as an operator
//! would, and their PINs read or locked the way it happens in life.

use pinpanel::domain::{Account, Kind, Role, UnlockPolicy, User};
use pinpanel::service::policy::{self, RecentPassword};
use pinpanel::service::{accounts, members, people, Actor};
use secrecy::SecretString;

use super::app::TestApp;

/// The password every test person gets.
pub const PASSWORD: &str = "correct horse battery";

/// Proof that `user` has just entered their password (as a login or a re-entry gives), for the
/// use cases that need one.
pub fn fresh(user: &User) -> RecentPassword {
    policy::password_just_entered(user)
}

impl TestApp {
    pub async fn account(&self, name: &str, policy: UnlockPolicy) -> Account {
        accounts::create_account(&self.ctx, Actor::Cli, name, None, policy)
            .await
            .expect("account")
    }

    /// An account with the number `number`.
    pub async fn account_numbered(&self, name: &str, number: &str) -> Account {
        accounts::create_account(
            &self.ctx,
            Actor::Cli,
            name,
            Some(number),
            UnlockPolicy::SelfService,
        )
        .await
        .expect("account")
    }

    pub async fn member(&self, account: &Account, username: &str, role: Role, kind: Kind) -> User {
        let email = format!("{username}@example.com");
        self.new_member(account, username, role, kind, true, Some(email))
            .await
    }

    /// A user of `account` created without a PIN (state INACTIVE), as a bulk import does.
    pub async fn member_without_pin(&self, account: &Account, username: &str) -> User {
        let email = format!("{username}@example.com");
        self.new_member(
            account,
            username,
            Role::User,
            Kind::User,
            false,
            Some(email),
        )
        .await
    }

    /// A user of `account` without an e-mail address (who gets no mail).
    pub async fn member_without_email(&self, account: &Account, username: &str) -> User {
        self.new_member(account, username, Role::User, Kind::User, true, None)
            .await
    }

    async fn new_member(
        &self,
        account: &Account,
        username: &str,
        role: Role,
        kind: Kind,
        with_pin: bool,
        email: Option<String>,
    ) -> User {
        let person = members::NewPerson {
            account: Some(account.clone()),
            username: username.into(),
            full_name: format!("Full {username}"),
            email,
            role,
            kind,
            password: SecretString::from(PASSWORD),
            with_pin,
        };
        self.new_person(person).await
    }

    async fn new_person(&self, person: members::NewPerson) -> User {
        members::create_person(&self.ctx, Actor::Cli, person)
            .await
            .expect("a person")
    }

    pub async fn user(&self, account: &Account, username: &str) -> User {
        self.member(account, username, Role::User, Kind::User).await
    }

    pub async fn admin(&self, account: &Account, username: &str) -> User {
        self.member(account, username, Role::Admin, Kind::User)
            .await
    }

    pub async fn agent(&self, username: &str) -> User {
        self.new_person(members::NewPerson {
            account: None,
            username: username.into(),
            full_name: format!("Agent {username}"),
            email: None,
            role: Role::Agent,
            kind: Kind::User,
            password: SecretString::from(PASSWORD),
            with_pin: false,
        })
        .await
    }

    /// The member's current PIN, read the way the owner would (and recorded as shown).
    pub async fn pin_of(&self, user: &User) -> String {
        pinpanel::service::pins::show(&self.ctx, user, user, &crate::helpers::fresh(user))
            .await
            .expect("show PIN")
            .expose()
            .to_owned()
    }

    /// A wrong PIN for `user` (valid under the rules, so only the comparison fails).
    pub async fn wrong_pin_for(&self, user: &User) -> String {
        let right = self.pin_of(user).await;
        ["871694", "920385"]
            .into_iter()
            .find(|p| *p != right)
            .expect("one differs")
            .to_owned()
    }

    /// Locks `who`'s PIN the way it happens in life: six wrong verifications by an agent (one
    /// agent per member, so no agent's verification limit is ever in the way).
    pub async fn lock(&self, who: &User) {
        let name = format!("lock-agent-{}", who.id);
        let agent = match people::user_by_username(&self.ctx, &name).await {
            Ok(agent) => agent,
            Err(_) => self.agent(&name).await,
        };
        let wrong = self.wrong_pin_for(who).await;
        for _ in 0..pinpanel::domain::MAX_PIN_FAILURES {
            pinpanel::service::pins::verify(&self.ctx, &agent, who, &wrong, None)
                .await
                .expect("verify");
        }
        assert_eq!(self.pin_row(who).await.0, "LOCKED");
    }

    /// Sets the account's unlock policy as an operator would.
    pub async fn set_unlock_policy(&self, account: &Account, policy: UnlockPolicy) {
        accounts::set_unlock_policy(&self.ctx, Actor::Cli, account.id, policy)
            .await
            .expect("set the unlock policy");
    }

    /// Moves the time `key` of every session that holds it `seconds_ago` into the past, as
    /// time passing would.
    pub async fn age_sessions(&self, key: &str, seconds_ago: i64) {
        let rows: Vec<(String, Vec<u8>)> = sqlx::query_as("SELECT id_hash, data FROM sessions")
            .fetch_all(self.pool())
            .await
            .expect("sessions");
        let mut aged = 0;
        for (id, data) in rows {
            let mut v: serde_json::Value = serde_json::from_slice(&data).expect("JSON");
            if v.get(key).is_none() {
                continue;
            }
            v[key] = serde_json::json!(pinpanel::store::now() - seconds_ago);
            sqlx::query("UPDATE sessions SET data = $2 WHERE id_hash = $1")
                .bind(id)
                .bind(serde_json::to_vec(&v).expect("JSON"))
                .execute(self.pool())
                .await
                .expect("update a session");
            aged += 1;
        }
        assert!(aged > 0, "no session holds {key}");
    }

    /// (state, failures) straight from the table.
    pub async fn pin_row(&self, user: &User) -> (String, i64) {
        let row: (String, i64) =
            sqlx::query_as("SELECT state, failures FROM support_pins WHERE user_id = $1")
                .bind(user.id)
                .fetch_one(self.pool())
                .await
                .expect("pin row");
        row
    }

    /// `n` wrong verifications of `member` by `agent`, through the service.
    pub async fn wrong_verifications(&self, agent: &User, member: &User, n: usize) {
        let pin = self.wrong_pin_for(member).await;
        for _ in 0..n {
            pinpanel::service::pins::verify(&self.ctx, agent, member, &pin, None)
                .await
                .expect("verify");
        }
    }
}
