//! Who does something: the one type every use case takes to decide who may
//! ([`super::policy`]) and to record who did ([`super::audit`]).

use crate::domain::{ActorRef, User};

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
    pub(super) fn id(&self) -> Option<i64> {
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
