//! Single sign-on through an OpenID Connect provider: starting a sign-in (or a link, or a
//! confirmation of who someone is), finishing it from the provider's callback, the identities a
//! member has linked, and members who sign in only this way. A member is linked by the
//! provider's `(issuer, subject)`, never by an e-mail address alone: by themselves from their
//! security page, by provisioning (`externalId`), or, when configured, by a verified address.
//! [`provider`] is the OpenID Connect mechanism itself.

mod identities;
pub mod provider;

pub use identities::{identities, set_sso_only, unlink, IdentityInfo};

use std::sync::Arc;

use super::policy::RecentPassword;
use super::{limits, mail, Actor, AuditRecord, Ctx, ServiceError};
use crate::crypto;
use crate::domain::{amr, Event, SignInPurpose, User};
use crate::store;
use provider::{Kept, OidcError, Provider, Verified};

/// How long a sign-in may take at the provider.
pub const ATTEMPT_SECS: i64 = 10 * 60;

/// Single sign-on as configured (`PINPANEL_OIDC_*`).
pub struct Sso {
    pub provider: Provider,
    /// The provider's name for people ("Sign in with …").
    pub name: String,
    /// Link a member on first sign-in by an address the provider says it verified.
    pub link_by_email: bool,
    /// An `acr` that counts as two-step.
    pub mfa_acr: Option<String>,
    /// The claim that names the person (`sub`, or Entra ID's `oid`, say).
    pub subject_claim: String,
}

/// Single sign-on's settings (`PINPANEL_OIDC_*`).
#[derive(Clone)]
pub struct Config {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: secrecy::SecretString,
    pub name: String,
    pub link_by_email: bool,
    pub mfa_acr: Option<String>,
    pub subject_claim: String,
}

impl std::fmt::Debug for Config {
    // Hand-written so the client secret never prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Sso {
    /// Single sign-on with `config`, the provider calling back at `redirect_uri`. The provider
    /// is discovered now; one that does not answer yet is discovered again when someone signs in.
    pub async fn start(config: Config, redirect_uri: url::Url) -> anyhow::Result<Sso> {
        let provider = Provider::new(provider::Registration {
            issuer: config.issuer,
            client_id: config.client_id,
            client_secret: config.client_secret,
            redirect_uri,
        })?;
        if let Err(e) = provider.discover().await {
            tracing::warn!(error = %e, "single sign-on: the provider did not answer; it is asked again when someone signs in");
        }
        Ok(Sso {
            provider,
            name: config.name,
            link_by_email: config.link_by_email,
            mfa_acr: config.mfa_acr,
            subject_claim: config.subject_claim,
        })
    }
}

impl std::fmt::Debug for Sso {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sso")
            .field("issuer", &self.provider.issuer())
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// What a sign-in at the provider is for.
#[derive(Debug, Clone, Copy)]
pub enum Purpose<'a> {
    /// Logging in, then going to `next` (a local path).
    Login { next: Option<&'a str> },
    /// A logged-in person links an identity: with proof of a recent password entry, as a link is
    /// a lasting way in (a borrowed session must not become one).
    Link {
        user: &'a User,
        recent: &'a RecentPassword,
    },
    /// A logged-in person confirms who they are (as entering the password again does).
    Reauth { user: &'a User },
}

impl Purpose<'_> {
    /// What the attempt's row says it is for.
    fn stored(&self) -> SignInPurpose {
        match self {
            Purpose::Login { .. } => SignInPurpose::Login,
            Purpose::Link { .. } => SignInPurpose::Link,
            Purpose::Reauth { .. } => SignInPurpose::Reauth,
        }
    }
}

/// A sign-in started: where the browser goes, and the value of the cookie that binds the
/// attempt to this browser (a callback in another browser opens nothing).
pub struct Started {
    pub redirect: url::Url,
    pub browser: String,
}

/// What the provider's callback carries.
#[derive(Debug, Default, Clone)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// What a finished sign-in led to.
#[derive(Debug)]
pub enum Finished {
    /// The person signed in; `second_factor` when the provider says a second factor was used;
    /// `authenticated_at` when the provider says when the person last authenticated there (a
    /// sign-in that reused an old session at the provider is not a fresh password entry here).
    SignedIn {
        user: User,
        second_factor: bool,
        authenticated_at: Option<i64>,
        next: Option<String>,
    },
    /// The person linked an identity (with the address the provider gave).
    Linked { user: User, email: Option<String> },
    /// The person confirmed who they are.
    Reauthenticated { user: User },
}

/// Why a sign-in did not happen: each said plainly to the person, none with a session.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error("single sign-on is not set up on this panel")]
    Off,
    #[error("the provider could not be reached ({0})")]
    Unavailable(String),
    #[error("this sign-in was not started in this browser, or its link is not one we sent")]
    UnknownAttempt,
    #[error("this sign-in was used already")]
    Replayed,
    #[error("this sign-in took longer than ten minutes")]
    Expired,
    #[error("the provider said: {0}")]
    ProviderSaid(String),
    #[error("{0}")]
    Refused(String),
    #[error("this identity is not linked to any login here")]
    NotLinked { email: Option<String> },
    #[error("this login is disabled")]
    Disabled,
    #[error("this identity is linked to another login")]
    TakenIdentity,
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<store::Error> for SsoError {
    fn from(e: store::Error) -> Self {
        SsoError::Service(e.into())
    }
}

fn hash(value: &str) -> String {
    crypto::sha256_hex(value.as_bytes())
}

/// Starts a sign-in at the provider for `purpose`, from a browser at `address`. Each start keeps
/// a row for ten minutes, so starts are counted per address (`Throttled` past the limit).
pub async fn begin(
    ctx: &Ctx,
    purpose: Purpose<'_>,
    address: &str,
) -> std::result::Result<Started, SsoError> {
    let sso = ctx.sso.as_ref().ok_or(SsoError::Off)?;
    if let Purpose::Link { user, recent } = purpose {
        recent.of(user)?;
    }
    limits::hit(ctx, ctx.limits.sso_per_address, address).await?;
    let now = store::now();
    let fresh_since = matches!(purpose, Purpose::Reauth { .. }).then_some(now);
    let (redirect, state, kept) = sso
        .provider
        .authorize(fresh_since)
        .await
        .map_err(|e| SsoError::Unavailable(e.to_string()))?;
    let browser = crypto::random_token();
    let state_hash = hash(&state);
    let secrets = serde_json::to_vec(&kept).map_err(|e| ServiceError::Internal(e.into()))?;
    let (user_id, next) = match purpose {
        Purpose::Login { next } => (None, next),
        Purpose::Link { user, .. } | Purpose::Reauth { user } => (Some(user.id), None),
    };
    store::sso::insert_attempt(
        &ctx.db.pool,
        store::sso::NewAttempt {
            state_hash: &state_hash,
            browser_hash: &hash(&browser),
            purpose: purpose.stored(),
            user_id,
            // Ten minutes' worth of secrets, sealed like everything else (not held against a
            // rotation: an attempt that cannot be opened just has to start again).
            secrets: ctx
                .cipher
                .seal_setting(&format!("sso:{state_hash}"), &secrets),
            next,
            created_at: now,
            expires_at: now + ATTEMPT_SECS,
        },
    )
    .await?;
    Ok(Started { redirect, browser })
}

/// Finishes a sign-in from the provider's callback, in the browser that holds `browser` (its
/// cookie). The attempt works once, within ten minutes.
pub async fn finish(
    ctx: &Ctx,
    callback: Callback,
    browser: Option<&str>,
) -> std::result::Result<Finished, SsoError> {
    let sso = ctx.sso.as_ref().ok_or(SsoError::Off)?;
    let state_hash = hash(callback.state.as_deref().ok_or(SsoError::UnknownAttempt)?);
    let attempt = store::sso::attempt(&ctx.db.pool, &state_hash)
        .await?
        .ok_or(SsoError::UnknownAttempt)?;
    let same_browser = browser.is_some_and(|b| {
        bool::from(subtle::ConstantTimeEq::ct_eq(
            hash(b).as_bytes(),
            attempt.browser_hash.as_bytes(),
        ))
    });
    if !same_browser {
        return Err(SsoError::UnknownAttempt);
    }
    let now = store::now();
    if attempt.used_at.is_some() {
        return Err(SsoError::Replayed);
    }
    if attempt.expires_at <= now {
        return Err(SsoError::Expired);
    }
    if !store::sso::use_attempt(&ctx.db.pool, &state_hash, now).await? {
        return Err(SsoError::Replayed);
    }
    if let Some(error) = callback.error {
        let said = match callback.error_description {
            Some(d) => format!("{error} ({d})"),
            None => error,
        };
        return Err(SsoError::ProviderSaid(said.chars().take(300).collect()));
    }
    let code = callback.code.ok_or(SsoError::UnknownAttempt)?;
    let secrets = ctx
        .cipher
        .open_setting(&format!("sso:{state_hash}"), &attempt.secrets)
        .map_err(|_| {
            SsoError::Refused("this sign-in cannot be read any more: start again".into())
        })?;
    let kept: Kept =
        serde_json::from_slice(&secrets).map_err(|e| ServiceError::Internal(e.into()))?;
    let verified = sso
        .provider
        .finish(&code, kept)
        .await
        .map_err(|e| match e {
            OidcError::Unreachable(why) => SsoError::Unavailable(why),
            OidcError::CodeRefused(why) => {
                SsoError::Refused(format!("the provider refused the sign-in: {why}"))
            }
            OidcError::BadToken(why) => {
                tracing::warn!(error = %why, "an ID token was refused");
                SsoError::Refused(format!(
                    "the provider's answer could not be trusted ({why})"
                ))
            }
        })?;
    let subject = subject_of(sso, &verified)?;
    match attempt.purpose {
        SignInPurpose::Link => {
            let user = someone(ctx, attempt.user_id).await?;
            link(ctx, sso, &user, &verified, &subject, LinkedBy::Member).await?;
            Ok(Finished::Linked {
                user,
                email: verified.email,
            })
        }
        SignInPurpose::Reauth => {
            let user = someone(ctx, attempt.user_id).await?;
            let owner = store::sso::owner_of(&ctx.db.pool, &verified.issuer, &subject).await?;
            if owner.as_ref().map(|(_, u)| u.id) != Some(user.id) {
                return Err(SsoError::Refused(format!(
                    "that {} account is not the one linked to your login",
                    sso.name
                )));
            }
            Ok(Finished::Reauthenticated { user })
        }
        SignInPurpose::Login => sign_in(ctx, sso, &verified, &subject, attempt.next).await,
    }
}

/// The person a link or a confirmation was started by, if they still may act.
async fn someone(ctx: &Ctx, id: Option<i64>) -> std::result::Result<User, SsoError> {
    let id = id.ok_or(SsoError::UnknownAttempt)?;
    store::users::by_id(&ctx.db.pool, id)
        .await?
        .filter(|u| !u.disabled)
        .ok_or(SsoError::Disabled)
}

/// The name the configured claim gives the person.
fn subject_of(sso: &Sso, v: &Verified) -> std::result::Result<String, SsoError> {
    if sso.subject_claim == "sub" {
        return Ok(v.subject.clone());
    }
    v.extra
        .get(&sso.subject_claim)
        .and_then(|c| c.as_str())
        .map(str::to_owned)
        .ok_or_else(|| {
            SsoError::Refused(format!(
                "the provider's answer has no {} claim",
                sso.subject_claim
            ))
        })
}

/// How an identity came to be linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkedBy {
    /// The member, from their security page (after a recent password entry).
    Member,
    /// Its first sign-in, by the identity-system id provisioning created the member with.
    Provisioning,
    /// Its first sign-in, by the address in force the provider says it verified.
    VerifiedAddress,
}

/// Links the identity to `user` with its audit row, and tells the member (a link is a lasting
/// way in: whoever made it, the member hears of it at once).
async fn link(
    ctx: &Ctx,
    sso: &Sso,
    user: &User,
    v: &Verified,
    subject: &str,
    by: LinkedBy,
) -> std::result::Result<(), SsoError> {
    let now = store::now();
    let mut tx = ctx.db.begin().await?;
    if !store::sso::link(
        &mut tx,
        user.id,
        &v.issuer,
        subject,
        v.email.as_deref(),
        now,
    )
    .await?
    {
        let owner = store::sso::owner_of(&ctx.db.pool, &v.issuer, subject).await?;
        if owner.map(|(_, u)| u.id) != Some(user.id) {
            return Err(SsoError::TakenIdentity);
        }
        return Ok(());
    }
    let shown_as = v.email.as_deref().unwrap_or(subject);
    let (actor, how) = match by {
        LinkedBy::Member => (Actor::User(user), ""),
        LinkedBy::Provisioning => (
            Actor::System,
            ", by the identity-system id it was made with",
        ),
        LinkedBy::VerifiedAddress => (Actor::System, ", by a verified e-mail address"),
    };
    let detail = format!("{} as {shown_as}{how}", sso.name);
    AuditRecord::new(Event::SsoLinked, actor)
        .about(user)
        .detail(&detail)
        .write(&mut tx)
        .await?;
    mail::messages::identity_linked(ctx, &mut tx, user, &sso.name, shown_as, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Signs in the member the identity belongs to: linked already, or linked now by provisioning
/// (`externalId`) or, when configured, by a verified address.
async fn sign_in(
    ctx: &Ctx,
    sso: &Sso,
    v: &Verified,
    subject: &str,
    next: Option<String>,
) -> std::result::Result<Finished, SsoError> {
    let pool = &ctx.db.pool;
    let found = store::sso::owner_of(pool, &v.issuer, subject).await?;
    let (identity, user) = match found {
        Some((identity, user)) => (Some(identity), user),
        None => match linkable(ctx, sso, v, subject).await? {
            // Nothing is linked to a disabled member (the refusal below says why).
            Some((user, _)) if user.disabled => (None, user),
            Some((user, by)) => {
                link(ctx, sso, &user, v, subject, by).await?;
                (None, user)
            }
            None => {
                AuditRecord::new(Event::SsoRefused, Actor::System)
                    .detail(&format!("{}: not linked", sso.name))
                    .write_now(&ctx.db)
                    .await?;
                return Err(SsoError::NotLinked {
                    email: v.email.clone(),
                });
            }
        },
    };
    if user.disabled {
        AuditRecord::new(Event::SsoRefused, Actor::System)
            .about(&user)
            .detail("disabled")
            .write_now(&ctx.db)
            .await?;
        return Err(SsoError::Disabled);
    }
    if let Some(identity) = identity {
        store::sso::used(pool, identity.id, store::now()).await?;
    }
    let second_factor = amr::two_step(&v.amr)
        || sso
            .mfa_acr
            .as_deref()
            .is_some_and(|acr| v.acr.as_deref() == Some(acr));
    let detail = if second_factor {
        format!("{}, with a second factor", sso.name)
    } else {
        sso.name.clone()
    };
    AuditRecord::new(Event::SsoSignIn, Actor::User(&user))
        .about(&user)
        .detail(&detail)
        .write_now(&ctx.db)
        .await?;
    Ok(Finished::SignedIn {
        user,
        second_factor,
        authenticated_at: v.auth_time,
        next,
    })
}

/// A member an identity that is linked to nobody may be linked to on its first sign-in, or
/// nobody:
/// - the member provisioning created with the subject as their identity-system id (the first so
///   created, whichever account made a later claim), while they have no way in of their own yet
///   (no password, no identity): a provisioning token that gives an existing member its
///   identity's id gets no sign-in as them;
/// - with `PINPANEL_OIDC_LINK_BY_EMAIL=verified`, the one member (never an agent) whose address
///   in force the provider says it verified.
async fn linkable(
    ctx: &Ctx,
    sso: &Sso,
    v: &Verified,
    subject: &str,
) -> std::result::Result<Option<(User, LinkedBy)>, SsoError> {
    if let Some(user) = store::sso::first_provisioned_with(&ctx.db.pool, subject).await? {
        let mut conn = ctx.db.pool.acquire().await?;
        let unclaimed = !user.is_agent()
            && user.password_hash.is_none()
            && !store::sso::has_identity(&mut conn, user.id).await?;
        return Ok(unclaimed.then_some((user, LinkedBy::Provisioning)));
    }
    if !(sso.link_by_email && v.email_verified) {
        return Ok(None);
    }
    let Some(email) = v.email.as_deref() else {
        return Ok(None);
    };
    let people: Vec<User> = store::users::by_email(&ctx.db.pool, email)
        .await?
        .into_iter()
        .filter(|u| !u.is_agent())
        .collect();
    Ok(match people.as_slice() {
        [one] => Some((one.clone(), LinkedBy::VerifiedAddress)),
        _ => None,
    })
}

/// Single sign-on of this instance, when configured.
pub fn configured(ctx: &Ctx) -> Option<&Arc<Sso>> {
    ctx.sso.as_ref()
}
