//! Why a use case did not happen ([`ServiceError`]), in the terms every face answers in.

use super::hashing;
use crate::domain::PinError;
use crate::store;

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

/// What every face tells a client when the PIN key was rotated under this instance
/// ([`ServiceError::KeyRotated`]): written once, so the page, the API and SCIM say the same.
pub const KEY_ROTATED_MESSAGE: &str =
    "This server is being restarted with a new key. Nothing was changed; try again in a minute.";

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
