//! The things the product keeps: accounts, the people in them (and the agents outside them), and
//! the audit events about them. `store` reads rows into these; every layer above speaks them.

use super::{ActorRef, Event, Kind, PinState, Role, UnlockPolicy};

/// An account: a number, a name and an unlock policy.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Account {
    pub id: i64,
    pub number: String,
    pub name: String,
    pub unlock_policy: UnlockPolicy,
    /// Its members sign in only through single sign-on: members its identity system creates
    /// get no invitation and no password.
    pub sso_only: bool,
}

/// A person who logs in: an account member (a user or contact, each a user or an
/// administrator) or a support agent (no account, no kind).
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct User {
    pub id: i64,
    pub account_id: Option<i64>,
    pub username: String,
    pub full_name: String,
    pub email: Option<String>,
    pub kind: Option<Kind>,
    pub role: Role,
    pub disabled: bool,
    /// Signs in only through single sign-on: the password does not work.
    pub sso_only: bool,
    pub auth_epoch: i64,
    /// The argon2id hash of the person's password; `None` while they have none of their own (an
    /// invitation not yet taken, a member made by provisioning or the import).
    pub password_hash: Option<String>,
    /// When the person was created (unix seconds).
    pub created_at: i64,
}

impl std::fmt::Debug for User {
    // Hand-written so the password hash never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl User {
    pub fn is_agent(&self) -> bool {
        self.role == Role::Agent
    }
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// A row of `member list` and of the API's members.
#[derive(Debug, Clone)]
pub struct MemberSummary {
    pub user: User,
    pub pin_state: PinState,
    /// When something last happened to the member's PIN (unix seconds).
    pub last_pin_activity: Option<i64>,
    /// Two-step login is on.
    pub two_step: bool,
    /// Wrong second steps in a row since the count last started again.
    pub second_step_failures: i64,
}

/// A row of the administrators' Users page: what it shows of a member and what decides the
/// actions it offers (no password hash, no second factors).
#[derive(Debug, Clone)]
pub struct ListedMember {
    pub id: i64,
    pub username: String,
    pub full_name: String,
    pub has_email: bool,
    pub kind: Option<Kind>,
    pub role: Role,
    pub disabled: bool,
    /// Signs in only through single sign-on.
    pub sso_only: bool,
    pub pin_state: PinState,
    /// When something last happened to the member's PIN (unix seconds).
    pub last_pin_activity: Option<i64>,
    /// Wrong second steps in a row since the count last started again.
    pub second_step_failures: i64,
}

/// A recorded audit event as the activity lists show it.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub at: i64,
    pub event: Event,
    pub actor_id: Option<i64>,
    pub actor: ActorRef,
    pub detail: String,
    /// The ticket or call reference of a verification.
    pub reference: Option<String>,
}

/// What a person has set up for two-step login.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TwoStepStatus {
    /// A confirmed authenticator app.
    pub authenticator_app: bool,
    pub passkeys: i64,
    pub recovery_codes_left: i64,
}

impl TwoStepStatus {
    /// A password alone opens nothing: the login asks for a second factor.
    pub fn enabled(&self) -> bool {
        self.authenticator_app || self.has_passkeys()
    }

    pub fn has_passkeys(&self) -> bool {
        self.passkeys > 0
    }
}

/// An event of an account's activity page: who did what to whom, when.
#[derive(Debug, Clone)]
pub struct AccountEvent {
    pub id: i64,
    pub at: i64,
    pub event: Event,
    pub actor: ActorRef,
    /// The member it was about, if any.
    pub subject_name: Option<String>,
    pub detail: String,
    pub address: Option<String>,
    pub reference: Option<String>,
}

/// An API token of a person, as their sessions page lists it (never the token).
#[derive(Debug, Clone)]
pub struct TokenInfo {
    /// A handle for revoking it (random, not derived from the token).
    pub handle: String,
    pub address: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
}

/// A web session of a person, as their sessions page lists it.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    /// A handle for ending it (a hash of the session id; never the id).
    pub handle: String,
    pub started_at: i64,
    pub last_seen_at: i64,
    pub client_address: String,
    pub browser: String,
    pub current: bool,
}
