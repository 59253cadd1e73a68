//! The use cases, with every rule about who may do what. The web panel, the JSON API and the CLI
//! all call these and nothing below them, so a rule exists once.
//!
//! Inside the layer the files depend one way too (the architecture test checks): the use cases
//! (`pins`, `members`, `links`, `two_step` …) call the look-ups and mechanisms under them
//! (`people`, `sessions`, `limits`, `password`, `mail`), never each other in a loop.

pub mod accounts;
pub mod activity;
pub mod alarm;
pub mod directory;
pub mod email;
pub mod hashing;
pub mod health;
pub mod import;
pub mod keys;
pub mod limits;
pub mod links;
pub mod login;
pub mod mail;
pub mod maintenance;
pub mod member_actions;
pub mod members;
pub mod metrics;
pub mod overview;
pub mod password;
pub mod people;
pub mod pins;
pub mod policy;
pub mod provisioning;
pub mod sessions;
pub mod sso;
pub mod tokens;
pub mod two_step;

use std::sync::Arc;

use crate::crypto::PinCipher;
use crate::domain::{ActorRef, Event, PinError, Role, User};
use crate::store::{self, audit::NewEvent, Db, Tx};

/// Unix seconds now: the one clock every layer reads.
pub use crate::store::now;

/// The defaults of the use cases' settings, written once: `Settings::default`, the command
/// line's defaults and the README's table all come from these.
pub mod defaults {
    use crate::domain::Role;

    /// `PINPANEL_REAUTH_MINUTES`.
    pub const REAUTH_MINUTES: u32 = 15;
    /// `PINPANEL_AUDIT_RETENTION_DAYS`.
    pub const AUDIT_RETENTION_DAYS: i64 = 400;
    /// `PINPANEL_REQUIRE_TWO_STEP`.
    pub const REQUIRE_TWO_STEP: &[Role] = &[Role::Agent, Role::Admin];
    /// `PINPANEL_MAIL_FROM`.
    pub const MAIL_FROM: &str = "pinpanel <pinpanel@localhost>";
    /// `PINPANEL_VERIFY_LIMIT`, verifications per agent per minute.
    pub const VERIFY_LIMIT: i64 = 60;
    /// `PINPANEL_TOKEN_LIMIT`, token requests per client address per minute.
    pub const TOKEN_LIMIT: i64 = 120;
    /// How long an instance holds a browser import before another may resume it (it renews
    /// the lease with every batch).
    pub const IMPORT_LEASE_SECS: i64 = 30;
}

/// The keys the use cases hold besides the PIN cipher.
#[derive(Clone)]
pub struct Keys {
    /// Keys the throttle counters (derived from the PIN key), so they never hold who is counted.
    pub throttle: [u8; 32],
    /// Keys the recovery codes' HMACs: random, kept in the database sealed with the PIN key (so
    /// a key rotation re-seals it and the codes keep working).
    pub recovery: [u8; 32],
    /// The database's key check as this instance found it at start: a write that seals holds it
    /// unchanged (`keys::hold`), so nothing is sealed with a key rotated away meanwhile.
    pub check: Vec<u8>,
}

/// What every use case needs: the database, the PIN cipher, the limits and the settings. Built
/// once ([`Ctx::new`]) from settings that are complete by then, and shared: a clone is one
/// reference count. (axum clones each middleware's state for every request; when this was a
/// struct of a dozen reference-counted parts, cloning and dropping it took a quarter of the
/// time of `GET /login`, see docs/PERFORMANCE.md.)
#[derive(Clone)]
pub struct Ctx(Arc<Parts>);

/// What a [`Ctx`] holds (reached through it: `ctx.db`, `ctx.settings`).
pub struct Parts {
    pub db: Db,
    pub cipher: Arc<PinCipher>,
    pub keys: Arc<Keys>,
    pub limits: limits::Limits,
    pub settings: Arc<Settings>,
    /// The passkey relying party, when `PINPANEL_PUBLIC_URL` gives passkeys an origin.
    pub passkeys: Option<Arc<webauthn_rs::prelude::Webauthn>>,
    /// Where this instance's measurements go (off unless `PINPANEL_METRICS_ADDR` is set).
    pub metrics: metrics::Metrics,
    /// The mail worker's sign of life, for readiness.
    pub mail_worker: health::Beat,
    /// This instance's line for password hashing (bounded, so a flood is refused fast).
    pub hashing: hashing::Line,
    /// Single sign-on, when `PINPANEL_OIDC_*` configure it.
    pub sso: Option<Arc<sso::Sso>>,
}

/// What an instance has beside its settings: its limits, its metrics, its hashing line's length,
/// its single sign-on.
pub struct Instance {
    pub limits: limits::Limits,
    pub metrics: metrics::Metrics,
    pub hashing_queue: usize,
    pub sso: Option<Arc<sso::Sso>>,
}

impl Default for Instance {
    fn default() -> Self {
        Instance {
            limits: limits::Limits::default(),
            metrics: metrics::Metrics::default(),
            hashing_queue: hashing::MAX_WAITING,
            sso: None,
        }
    }
}

impl Ctx {
    /// The context of an instance: passkeys are offered when the settings name a public URL.
    pub fn new(
        db: Db,
        cipher: PinCipher,
        keys: Keys,
        settings: Settings,
        instance: Instance,
    ) -> anyhow::Result<Ctx> {
        let passkeys = match &settings.public_url {
            Some(url) => Some(two_step::passkeys::relying_party(url)?),
            None => None,
        };
        Ok(Ctx(Arc::new(Parts {
            db,
            cipher: Arc::new(cipher),
            keys: Arc::new(keys),
            limits: instance.limits,
            settings: Arc::new(settings),
            passkeys,
            metrics: instance.metrics,
            mail_worker: health::Beat::default(),
            hashing: hashing::Line::new(instance.hashing_queue),
            sso: instance.sso,
        })))
    }
}

impl std::ops::Deref for Ctx {
    type Target = Parts;
    fn deref(&self) -> &Parts {
        &self.0
    }
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
#[derive(Debug, Clone)]
pub struct Settings {
    /// The roles that must set up two-step login (`PINPANEL_REQUIRE_TWO_STEP`).
    pub require_two_step: Vec<Role>,
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
    /// The panel's pages that one-time links open (the face names them; `startup` passes them).
    pub link_routes: LinkRoutes,
    /// How long an instance holds a browser import it writes before another may resume it.
    pub import_lease_secs: i64,
}

/// The panel's routes of one-time links, each with a `{token}` segment.
#[derive(Debug, Clone, Default)]
pub struct LinkRoutes {
    pub invitation: &'static str,
    pub password: &'static str,
    pub setup: &'static str,
    /// A new address confirms a person's own change.
    pub email_confirm: &'static str,
    /// The current address answers someone else's request to change it.
    pub email_answer: &'static str,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            require_two_step: defaults::REQUIRE_TWO_STEP.to_vec(),
            reauth_secs: i64::from(defaults::REAUTH_MINUTES) * 60,
            audit_retention_days: defaults::AUDIT_RETENTION_DAYS,
            public_url: None,
            mail_from: defaults::MAIL_FROM.into(),
            mail_sends: false,
            link_base: url::Url::parse("http://localhost/").unwrap_or_else(|_| unreachable!()),
            link_routes: LinkRoutes::default(),
            import_lease_secs: defaults::IMPORT_LEASE_SECS,
        }
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
    /// Codes from the authenticator app are refused after too many wrong ones in a row.
    #[error(
        "too many wrong codes were entered for this login: codes from the app are refused until \
         a recovery code or a passkey is used, or an administrator allows them again"
    )]
    CodesRefused,
    /// A password given again (to confirm a change) was wrong.
    #[error("that password is not correct")]
    WrongPassword,
    /// Showing or changing a PIN (or a second factor) needs a recent password entry.
    #[error("enter your password again first")]
    ReauthRequired,
    /// A verification was asked for without a PIN.
    #[error("no Support PIN was given")]
    PinRequired,
    /// The PIN key was rotated while this instance ran: it may seal nothing more (nothing was
    /// written) until it is restarted with the new key.
    #[error(
        "the PIN key was rotated while this instance was running; it was not changed, and \
         nothing was written: restart it with the new key"
    )]
    KeyRotated,
    /// Bad input other than a PIN, with a message for a person.
    #[error("{0}")]
    Invalid(String),
    /// A duplicate (username, account number), or a state that refuses the change.
    #[error("{0}")]
    Conflict(String),
    /// A name that must be unique is someone else's (SCIM's `uniqueness`).
    #[error("{0}")]
    Taken(String),
    /// The thing changed since the version the caller named (an ETag's `If-Match`).
    #[error("it was changed since that version: read it again")]
    Stale,
    /// A value this caller may not change (SCIM's `mutability`).
    #[error("{0}")]
    Immutable(String),
    /// Too many attempts in the current window; try again after `retry_after` seconds.
    #[error("too many attempts; try again in {retry_after} seconds")]
    Throttled { retry_after: i64 },
    /// The instance is saturated (too many password checks queued); try again shortly.
    #[error("busy; try again in {retry_after} seconds")]
    Busy { retry_after: i64 },
    /// The database cannot be reached for now (a restart, a network cut): nothing was written;
    /// try again in a moment.
    #[error("the database cannot be reached; try again in {retry_after} seconds")]
    Unavailable { retry_after: i64 },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// How long a client is asked to wait while the database is out of reach.
pub const UNAVAILABLE_RETRY_SECS: i64 = 5;

impl From<store::Error> for ServiceError {
    fn from(e: store::Error) -> Self {
        if store::is_unavailable(&e) {
            tracing::warn!(error = %e, "the database cannot be reached");
            return ServiceError::Unavailable {
                retry_after: UNAVAILABLE_RETRY_SECS,
            };
        }
        ServiceError::Internal(anyhow::Error::new(e).context("database error"))
    }
}

impl From<hashing::HashError> for ServiceError {
    fn from(e: hashing::HashError) -> Self {
        match e {
            hashing::HashError::Busy => ServiceError::Busy { retry_after: 1 },
            hashing::HashError::Failed(e) => ServiceError::Internal(e),
        }
    }
}

impl From<crate::crypto::DecryptError> for ServiceError {
    fn from(e: crate::crypto::DecryptError) -> Self {
        ServiceError::Internal(e.into())
    }
}

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// Who did something, for the audit log.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    User(&'a User),
    /// The command line (an operator on the server).
    Cli,
    /// The system itself (e.g. a generated PIN at creation).
    System,
    /// An account's identity system, through a provisioning token of that account (its name).
    Provisioning {
        token: &'a str,
        account_id: i64,
    },
}

impl Actor<'_> {
    fn id(&self) -> Option<i64> {
        match self {
            Actor::User(u) => Some(u.id),
            Actor::Cli | Actor::System | Actor::Provisioning { .. } => None,
        }
    }

    /// Who this is, as the records keep it.
    pub fn to_ref(&self) -> ActorRef {
        match self {
            Actor::User(u) => ActorRef::member(&u.username),
            Actor::Cli => ActorRef::operator(),
            Actor::System => ActorRef::panel(),
            Actor::Provisioning { token, .. } => ActorRef::provisioning(token),
        }
    }
}

/// Records a security event in the audit table (inside the caller's transaction) and in the
/// structured log. Neither ever carries a secret: callers pass ids, names and outcomes only.
pub async fn audit(
    conn: &mut Tx,
    event: Event,
    actor: Actor<'_>,
    subject: Option<&User>,
    detail: &str,
) -> store::Result<()> {
    let who = actor.to_ref();
    store::audit::insert(
        conn,
        &new_event(event, &actor, &who, subject, detail),
        store::now(),
    )
    .await?;
    log_event(event, &who, subject, detail);
    Ok(())
}

/// Records an event of `account` that is about no one member (a provisioning token made or
/// revoked), so the account's activity lists it.
pub async fn audit_account(
    conn: &mut Tx,
    event: Event,
    actor: Actor<'_>,
    account_id: i64,
    detail: &str,
) -> store::Result<()> {
    let who = actor.to_ref();
    let row = NewEvent {
        account_id: Some(account_id),
        ..new_event(event, &actor, &who, None, detail)
    };
    store::audit::insert(conn, &row, store::now()).await?;
    log_event(event, &who, None, detail);
    Ok(())
}

/// The row of an audit event, for a statement that writes it along with other work.
fn new_event<'a>(
    event: Event,
    actor: &Actor<'_>,
    who: &'a ActorRef,
    subject: Option<&User>,
    detail: &'a str,
) -> NewEvent<'a> {
    NewEvent {
        event,
        actor_id: actor.id(),
        actor: who,
        subject_id: subject.map(|s| s.id),
        account_id: subject.and_then(|s| s.account_id),
        detail,
        address: None,
        reference: None,
    }
}

/// What an event may carry beyond its detail: where a login came from, the ticket or call a
/// verification was for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    pub address: Option<&'a str>,
    pub reference: Option<&'a str>,
}

/// [`audit`] with the event's [`Context`].
pub async fn audit_with(
    conn: &mut Tx,
    event: Event,
    actor: Actor<'_>,
    subject: Option<&User>,
    detail: &str,
    context: Context<'_>,
) -> store::Result<()> {
    let who = actor.to_ref();
    let row = NewEvent {
        address: context.address,
        reference: context.reference,
        ..new_event(event, &actor, &who, subject, detail)
    };
    store::audit::insert(conn, &row, store::now()).await?;
    log_event(event, &who, subject, detail);
    Ok(())
}

/// The structured-log line of an audit event, once it is recorded.
fn log_event(event: Event, actor: &ActorRef, subject: Option<&User>, detail: &str) {
    tracing::info!(
        target: "pinpanel::audit",
        event = event.as_str(),
        actor = actor.label(),
        subject = subject.map(|s| s.username.as_str()),
        detail,
    );
}

/// Records one event in a transaction of its own.
pub async fn audit_now(
    db: &Db,
    event: Event,
    actor: Actor<'_>,
    subject: Option<&User>,
    detail: &str,
) -> Result<()> {
    audit_now_with(db, event, actor, subject, detail, Context::default()).await
}

/// [`audit_now`] with the event's [`Context`].
pub async fn audit_now_with(
    db: &Db,
    event: Event,
    actor: Actor<'_>,
    subject: Option<&User>,
    detail: &str,
    context: Context<'_>,
) -> Result<()> {
    let mut conn = db.pool.acquire().await?;
    audit_with(&mut conn, event, actor, subject, detail, context).await?;
    Ok(())
}
