//! What every use case is given: the [`Ctx`] (the database, the PIN cipher, the keys, the
//! limits, the settings, this instance's single sign-on, metrics and hashing line), built once.

use std::sync::Arc;

use super::{hashing, health, limits, metrics, sso, two_step, Settings};
use crate::crypto::PinCipher;
use crate::store::Db;

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
