//! The vocabulary of the product: pure types with their rules, no I/O. Everything that crosses
//! a boundary (a form, a JSON body, a CLI flag, a database column) is parsed into one of these.

#[macro_use]
mod text_enum;

mod actor;
pub mod amr;
mod browser;
mod entities;
mod event;
mod member_action;
mod names;
mod password;
mod pin;
mod purpose;
pub mod scim_filter;
pub mod second_factor;
pub mod time;
mod verification;
mod words;

pub use actor::{ActorKind, ActorRef};
pub use browser::browser_label;
pub use entities::{
    Account, AccountEvent, AuditEvent, ListedMember, MemberSummary, SessionInfo, TokenInfo,
    TwoStepStatus, User,
};
pub use event::{ActivityKind, Event, MailKind};
pub use member_action::MemberAction;
pub use names::{AccountNumber, DisplayName, EmailAddress, Reference, Username};
pub use password::{check_new_password, check_password, MIN_PASSWORD_CHARS};
pub use pin::{PinError, PinRule, SupportPin, PIN_GUIDANCE, PIN_LEN};
pub use purpose::{LinkPurpose, SignInPurpose};
pub use verification::{AlarmReason, VerifyRefusal};
pub use words::{sentence, Said};

/// Six consecutive failed verifications lock a PIN (SPEC).
pub const MAX_PIN_FAILURES: i64 = 6;

/// How many verifications a PIN with `failures` consecutive failures has left before it locks.
pub fn attempts_left(failures: i64) -> i64 {
    (MAX_PIN_FAILURES - failures).max(0)
}

/// The most an agent's field takes of what a caller recites (six digits, and spaces between).
pub const RECITED_MAX_CHARS: usize = 12;

/// A PIN as a caller recites it, normalised the one way both faces share: surrounding spaces are
/// not part of it. `None` when nothing was recited.
pub fn recited_pin(raw: &str) -> Option<&str> {
    Some(raw.trim()).filter(|p| !p.is_empty())
}

text_enum!(
    /// What a person may do: account members are users or administrators of their account;
    /// agents are support staff outside every account.
    Role { User => "user", Admin => "admin", Agent => "agent" }
);
text_enum!(
    /// A label shown in lists; both kinds log in and both have a PIN.
    Kind { User => "user", Contact => "contact" }
);
text_enum!(
    /// Who may unlock a member's locked PIN.
    UnlockPolicy { SelfService => "self", Admins => "admins" }
);
text_enum!(
    /// The state of a member's Support PIN, spelled as the provider's API spells it.
    PinState { Active => "ACTIVE", Locked => "LOCKED", Inactive => "INACTIVE" }
);

impl PinState {
    /// How the panel says it to a person.
    pub fn label(self) -> &'static str {
        match self {
            PinState::Active => "Active",
            PinState::Locked => "Locked",
            PinState::Inactive => "No PIN",
        }
    }
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Contact => "Contact",
        }
    }
}

impl Role {
    pub fn label(self) -> &'static str {
        match self {
            Role::User => "User",
            Role::Admin => "Administrator",
            Role::Agent => "Support agent",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_enums_round_trip_through_their_text() {
        for p in PinState::ALL {
            assert_eq!(p.as_str().parse::<PinState>().unwrap(), *p);
        }
        assert_eq!(
            "self".parse::<UnlockPolicy>().unwrap(),
            UnlockPolicy::SelfService
        );
        assert!("root".parse::<Role>().is_err());
    }
}
