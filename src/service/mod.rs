//! The use cases, with every rule about who may do what. The web panel, the JSON API and the CLI
//! all call these and nothing below them, so a rule exists once.

pub mod accounts;
pub mod activity;
pub mod health;
pub mod keys;
pub mod limits;
pub mod links;
pub mod login;
pub mod mail;
pub mod maintenance;
pub mod metrics;
pub mod password;
pub mod pins;
pub mod policy;
pub mod sessions;
pub mod two_step;

use std::sync::Arc;

use crate::crypto::PinCipher;
use crate::domain::PinError;
use crate::domain::User;
use crate::store::{self, audit::NewEvent, Db};

/// Unix seconds now: the one clock every layer reads.
pub use crate::store::now;

/// What every use case needs: the database, the PIN cipher, the limits and the settings.
#[derive(Clone)]
pub struct Ctx {
    pub db: Db,
    pub cipher: Arc<PinCipher>,
    pub limits: limits::Limits,
    pub settings: Arc<Settings>,
    /// The passkey relying party, when `PINPANEL_PUBLIC_URL` gives passkeys an origin.
    pub passkeys: Option<Arc<webauthn_rs::prelude::Webauthn>>,
    /// Where this instance's measurements go (off unless `PINPANEL_METRICS_ADDR` is set).
    pub metrics: metrics::Metrics,
    /// The mail worker's sign of life, for readiness.
    pub mail_worker: health::Beat,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("db", &self.db)
            .field("settings", &self.settings)
            .field("passkeys", &self.passkeys.is_some())
            .finish_non_exhaustive()
    }
}

/// The use cases' settings, the same for every face.
#[derive(Clone)]
pub struct Settings {
    /// Keys the throttle counters (derived from the PIN key), so they never hold who is counted.
    pub throttle_key: [u8; 32],
    /// Keys the recovery codes' HMACs: random, kept in the database sealed with the PIN key (so
    /// a key rotation re-seals it and the codes keep working).
    pub recovery_key: [u8; 32],
    /// The roles that must set up two-step login (`PINPANEL_REQUIRE_TWO_STEP`).
    pub require_two_step: Vec<crate::domain::Role>,
    /// How long a password entry allows showing and changing the PIN ("sudo mode"), in the
    /// panel and through the API alike.
    pub reauth_secs: i64,
    /// Audit rows older than this many days are purged.
    pub audit_retention_days: i64,
    /// Where people reach the panel (`PINPANEL_PUBLIC_URL`): the base of links in mail, the
    /// origin of passkeys.
    pub public_url: Option<url::Url>,
    /// The sender of mail (`PINPANEL_MAIL_FROM`).
    pub mail_from: String,
    /// Mail reaches people (SMTP is configured), rather than staying in the outbox or the log.
    pub mail_sends: bool,
    /// The base of one-time links: the public URL, or the address this instance listens on.
    pub link_base: url::Url,
}

impl Settings {
    pub fn new(throttle_key: [u8; 32], recovery_key: [u8; 32]) -> Self {
        Settings {
            throttle_key,
            recovery_key,
            require_two_step: vec![crate::domain::Role::Agent, crate::domain::Role::Admin],
            reauth_secs: 15 * 60,
            audit_retention_days: 400,
            public_url: None,
            mail_from: "pinpanel <pinpanel@localhost>".into(),
            mail_sends: false,
            link_base: url::Url::parse("http://localhost/").unwrap_or_else(|_| unreachable!()),
        }
    }
}

impl std::fmt::Debug for Settings {
    // Hand-written so the key never prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("reauth_secs", &self.reauth_secs)
            .field("audit_retention_days", &self.audit_retention_days)
            .field("require_two_step", &self.require_two_step)
            .finish_non_exhaustive()
    }
}

/// Why a use case did not happen. Each front end turns these into its own answers (a page, a
/// provider-shaped JSON error, a line on stderr).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The thing named does not exist, or the actor may not know it exists.
    #[error("not found")]
    NotFound,
    /// The actor may see the thing but not do this to it.
    #[error("not permitted: {0}")]
    Forbidden(&'static str),
    /// The PIN is locked, so it can be neither changed, shown as editable nor reset.
    #[error("the Support PIN is locked")]
    Locked,
    /// Unlock asked for a PIN that is not locked.
    #[error("the Support PIN is not locked")]
    NotLocked,
    /// The member has no PIN.
    #[error("the member has no Support PIN")]
    NoPin,
    /// `only_if_missing` was asked and a PIN exists.
    #[error("the member already has a Support PIN")]
    PinExists,
    /// A candidate PIN broke the rules.
    #[error("{0}")]
    InvalidPin(PinError),
    /// A second-factor code (or passkey) that does not open anything.
    #[error("that code is not correct")]
    WrongCode,
    /// A password given again (to confirm a change) was wrong.
    #[error("that password is not correct")]
    WrongPassword,
    /// A verification was asked for without a PIN.
    #[error("no Support PIN was given")]
    PinRequired,
    /// Bad input other than a PIN, with a message for a person.
    #[error("{0}")]
    Invalid(String),
    /// A duplicate (username, account number).
    #[error("{0}")]
    Conflict(String),
    /// Too many attempts in the current window; try again after `retry_after` seconds.
    #[error("too many attempts; try again in {retry_after} seconds")]
    Throttled { retry_after: i64 },
    /// The instance is saturated (too many password checks queued); try again shortly.
    #[error("busy; try again in {retry_after} seconds")]
    Busy { retry_after: i64 },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ServiceError {
    fn from(e: sqlx::Error) -> Self {
        ServiceError::Internal(anyhow::Error::new(e).context("database error"))
    }
}

impl From<password::PasswordError> for ServiceError {
    fn from(e: password::PasswordError) -> Self {
        match e {
            password::PasswordError::Busy => ServiceError::Busy { retry_after: 1 },
            password::PasswordError::Failed(e) => ServiceError::Internal(e),
        }
    }
}

impl From<crate::crypto::DecryptError> for ServiceError {
    fn from(e: crate::crypto::DecryptError) -> Self {
        ServiceError::Internal(e.into())
    }
}

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// The names of audit events; the activity list and the tests use the same constants.
pub mod events {
    pub const LOGIN_OK: &str = "login.ok";
    pub const LOGIN_FAILED: &str = "login.failed";
    pub const LOGIN_THROTTLED: &str = "login.throttled";
    pub const THROTTLED: &str = "throttled";
    pub const LOGOUT: &str = "logout";
    pub const REAUTH_OK: &str = "reauth.ok";
    pub const REAUTH_FAILED: &str = "reauth.failed";
    pub const PIN_CREATED: &str = "pin.created";
    pub const PIN_SHOWN: &str = "pin.shown";
    pub const PIN_CHANGED: &str = "pin.changed";
    pub const PIN_VERIFIED: &str = "pin.verified";
    pub const PIN_VERIFY_FAILED: &str = "pin.verify_failed";
    pub const PIN_LOCKED: &str = "pin.locked";
    pub const PIN_UNLOCKED: &str = "pin.unlocked";
    pub const PIN_RESET: &str = "pin.reset";
    pub const PERMISSION_DENIED: &str = "permission.denied";
    pub const ROLE_CHANGED: &str = "member.role_changed";
    pub const ACCOUNT_CREATED: &str = "account.created";
    pub const POLICY_CHANGED: &str = "account.policy_changed";
    pub const MEMBER_CREATED: &str = "member.created";
    pub const MEMBER_DISABLED: &str = "member.disabled";
    pub const MEMBER_ENABLED: &str = "member.enabled";
    pub const EMAIL_CHANGED: &str = "member.email_changed";
    pub const MEMBER_INVITED: &str = "member.invited";
    pub const INVITATION_ACCEPTED: &str = "invitation.accepted";
    pub const PASSWORD_LINK_SENT: &str = "password.link_sent";
    pub const PASSWORD_RESET: &str = "password.reset";
    pub const SESSION_ENDED: &str = "login.session_ended";
    pub const PASSWORD_CHANGED: &str = "password.changed";
    pub const TOKEN_ISSUED: &str = "token.issued";
    pub const TOKEN_REVOKED: &str = "token.revoked";
    pub const TWO_STEP_ENABLED: &str = "two_step.enabled";
    pub const TWO_STEP_DISABLED: &str = "two_step.disabled";
    pub const PASSKEY_ADDED: &str = "two_step.passkey_added";
    pub const PASSKEY_REMOVED: &str = "two_step.passkey_removed";
    pub const RECOVERY_CODES_REGENERATED: &str = "two_step.recovery_codes_regenerated";
    pub const RECOVERY_CODE_USED: &str = "two_step.recovery_code_used";
    pub const SECOND_STEP_OK: &str = "login.second_step";
    pub const SECOND_STEP_FAILED: &str = "login.second_step_failed";
    pub const MAIL_QUEUED: &str = "mail.queued";
    pub const MAIL_SENT: &str = "mail.sent";
    pub const MAIL_FAILED: &str = "mail.failed";
    pub const KEY_ROTATED: &str = "key.rotated";
}

/// Who did something, for the audit log.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    User(&'a User),
    /// The command line (an operator on the server).
    Cli,
    /// The system itself (e.g. a generated PIN at creation).
    System,
}

impl Actor<'_> {
    fn id(&self) -> Option<i64> {
        match self {
            Actor::User(u) => Some(u.id),
            _ => None,
        }
    }
    fn name(&self) -> &str {
        match self {
            Actor::User(u) => &u.username,
            Actor::Cli => "command line",
            Actor::System => "pinpanel",
        }
    }
}

/// Records a security event in the audit table (inside the caller's transaction) and in the
/// structured log. Neither ever carries a secret: callers pass ids, names and outcomes only.
pub async fn audit(
    conn: &mut sqlx::AnyConnection,
    event: &str,
    actor: Actor<'_>,
    subject: Option<&User>,
    detail: &str,
) -> sqlx::Result<()> {
    store::audit::insert(
        conn,
        &new_event(event, &actor, subject, detail),
        store::now(),
    )
    .await?;
    log_event(event, &actor, subject, detail);
    Ok(())
}

/// The row of an audit event, for a statement that writes it along with other work.
fn new_event<'a>(
    event: &'a str,
    actor: &'a Actor<'a>,
    subject: Option<&User>,
    detail: &'a str,
) -> NewEvent<'a> {
    NewEvent {
        event,
        actor_id: actor.id(),
        actor_name: actor.name(),
        subject_id: subject.map(|s| s.id),
        account_id: subject.and_then(|s| s.account_id),
        detail,
    }
}

/// The structured-log line of an audit event, once it is recorded.
fn log_event(event: &str, actor: &Actor<'_>, subject: Option<&User>, detail: &str) {
    tracing::info!(
        target: "pinpanel::audit",
        event,
        actor = actor.name(),
        subject = subject.map(|s| s.username.as_str()),
        detail,
    );
}

/// Records one event in a transaction of its own.
pub async fn audit_now(
    db: &Db,
    event: &str,
    actor: Actor<'_>,
    subject: Option<&User>,
    detail: &str,
) -> Result<()> {
    let mut conn = db.pool.acquire().await?;
    audit(&mut conn, event, actor, subject, detail).await?;
    Ok(())
}
