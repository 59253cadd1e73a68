//! The audit events: the one type that owns their stored names, the category each belongs to
//! (the activity filters), and the words a person reads for each. Nothing else in the code
//! writes an event's name as a string (the architecture test checks).

use std::fmt;
use std::str::FromStr;

/// The kinds of events the account's activity page filters by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActivityKind {
    Logins,
    Pin,
    Members,
    TwoStep,
    Mail,
}

impl ActivityKind {
    pub const ALL: &'static [ActivityKind] = &[
        ActivityKind::Logins,
        ActivityKind::Pin,
        ActivityKind::Members,
        ActivityKind::TwoStep,
        ActivityKind::Mail,
    ];

    /// How the filter names it in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityKind::Logins => "logins",
            ActivityKind::Pin => "pin",
            ActivityKind::Members => "members",
            ActivityKind::TwoStep => "two-step",
            ActivityKind::Mail => "mail",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ActivityKind::Logins => "Logins and tokens",
            ActivityKind::Pin => "Support PIN events",
            ActivityKind::Members => "Member changes",
            ActivityKind::TwoStep => "Two-step login",
            ActivityKind::Mail => "Mail",
        }
    }
}

impl FromStr for ActivityKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ActivityKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "'{}' is not a kind of event",
                    s.chars().take(40).collect::<String>()
                )
            })
    }
}

/// Declares the events: variant, stored name, category, words.
macro_rules! events {
    ($($variant:ident => $name:literal, $category:expr, $words:literal;)+) => {
        /// A security event, as the audit log records it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Event { $($variant),+ }

        impl Event {
            pub const ALL: &'static [Event] = &[$(Event::$variant),+];

            /// The name the audit log stores.
            pub fn as_str(self) -> &'static str {
                match self { $(Event::$variant => $name),+ }
            }

            /// The filter it falls under on the activity page, if any.
            pub fn category(self) -> Option<ActivityKind> {
                match self { $(Event::$variant => $category),+ }
            }

            /// What happened, in a person's words.
            pub fn label(self) -> &'static str {
                match self { $(Event::$variant => $words),+ }
            }
        }
    };
}

use ActivityKind::{Logins, Mail, Members, Pin, TwoStep};

events! {
    LoginOk => "login.ok", Some(Logins), "Logged in";
    PasswordPassed => "login.password_ok", Some(Logins), "Password accepted, second step pending";
    SsoSignIn => "login.sso", Some(Logins), "Signed in with single sign-on";
    SsoRefused => "login.sso_refused", Some(Logins), "Single sign-on refused";
    SsoLinked => "sso.linked", Some(Logins), "Single sign-on identity linked";
    SsoUnlinked => "sso.unlinked", Some(Logins), "Single sign-on identity unlinked";
    LoginFailed => "login.failed", Some(Logins), "Failed login";
    LoginThrottled => "login.throttled", Some(Logins), "Logins refused for a while";
    Throttled => "throttled", None, "Requests refused for a while";
    Logout => "logout", Some(Logins), "Logged out";
    ReauthOk => "reauth.ok", Some(Logins), "Password entered again";
    ReauthFailed => "reauth.failed", Some(Logins), "Wrong password entered again";
    PinCreated => "pin.created", Some(Pin), "Support PIN created";
    PinShown => "pin.shown", Some(Pin), "Shown";
    PinChanged => "pin.changed", Some(Pin), "Changed";
    PinVerified => "pin.verified", Some(Pin), "Verified by Support";
    PinVerifyFailed => "pin.verify_failed", Some(Pin), "Failed verification by Support";
    PinLocked => "pin.locked", Some(Pin), "Locked";
    PinUnlocked => "pin.unlocked", Some(Pin), "Unlocked";
    PinReset => "pin.reset", Some(Pin), "Reset to a new PIN";
    PermissionDenied => "permission.denied", None, "Refused: not permitted";
    RoleChanged => "member.role_changed", Some(Members), "Role changed";
    AccountCreated => "account.created", Some(Members), "Account created";
    PolicyChanged => "account.policy_changed", Some(Members), "Unlock policy changed";
    MemberCreated => "member.created", Some(Members), "Member added";
    MemberDisabled => "member.disabled", Some(Members), "Member disabled";
    MemberEnabled => "member.enabled", Some(Members), "Member enabled";
    MemberChanged => "member.changed", Some(Members), "Member details changed";
    MemberRemoved => "member.removed", Some(Members), "Member removed";
    ImportDone => "import.done", Some(Members), "Members imported from a file";
    ScimTokenCreated => "scim.token_created", Some(Members), "Provisioning token created";
    ScimTokenRevoked => "scim.token_revoked", Some(Members), "Provisioning token revoked";
    AccountSsoOnlyChanged => "account.sso_only", Some(Members), "New members' sign-in changed (single sign-on only, or a password)";
    EmailChanged => "member.email_changed", Some(Members), "E-mail address changed";
    SsoOnlyChanged => "member.sso_only", Some(Members), "Sign-in changed (single sign-on only, or a password too)";
    EmailChangeRequested => "member.email_change_requested", Some(Members), "E-mail address change asked for";
    EmailChangeDeclined => "member.email_change_declined", Some(Members), "E-mail address change declined";
    EmailChangeAccepted => "member.email_change_accepted", Some(Members), "E-mail address change accepted, for the new address to confirm";
    MemberInvited => "member.invited", Some(Members), "Invited";
    InvitationAccepted => "invitation.accepted", Some(Members), "Invitation accepted";
    PasswordLinkSent => "password.link_sent", Some(Members), "Password link sent";
    PasswordReset => "password.reset", Some(Members), "Password chosen with a link";
    SessionEnded => "login.session_ended", Some(Logins), "Session ended";
    OtherSessionsEnded => "login.others_ended", Some(Logins), "Every other session and API token ended";
    PasswordChanged => "password.changed", Some(Members), "Password changed";
    TokenIssued => "token.issued", Some(Logins), "API token issued";
    TokenRevoked => "token.revoked", Some(Logins), "API token revoked";
    TwoStepEnabled => "two_step.enabled", Some(TwoStep), "Two-step login turned on";
    TwoStepDisabled => "two_step.disabled", Some(TwoStep), "Two-step login turned off";
    PasskeyAdded => "two_step.passkey_added", Some(TwoStep), "Passkey added";
    PasskeyRemoved => "two_step.passkey_removed", Some(TwoStep), "Passkey removed";
    RecoveryCodesRegenerated => "two_step.recovery_codes_regenerated", Some(TwoStep), "New recovery codes";
    RecoveryCodeUsed => "two_step.recovery_code_used", Some(TwoStep), "Recovery code used";
    SecondStepOk => "login.second_step", Some(Logins), "Second step of a login";
    SecondStepFailed => "login.second_step_failed", Some(Logins), "Wrong second step of a login";
    SecondStepCleared => "two_step.codes_cleared", Some(TwoStep), "Codes allowed again after too many wrong ones";
    MailQueued => "mail.queued", Some(Mail), "Mail queued";
    MailSent => "mail.sent", Some(Mail), "Mail sent";
    MailFailed => "mail.failed", Some(Mail), "Mail given up";
    KeyRotated => "key.rotated", None, "PIN key rotated";
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Event {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Event::ALL
            .iter()
            .copied()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "'{}' is not an event",
                    s.chars().take(60).collect::<String>()
                )
            })
    }
}

// For `#[sqlx(try_from = "String")]`: the audit log's column read straight into the event.
impl TryFrom<String> for Event {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// The kinds of mail, as the outbox and the audit log name them. Those that tell of an event
/// carry that event's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailKind {
    PinLocked,
    PinChanged,
    PinUnlocked,
    PinReset,
    Invitation,
    PasswordLink,
    PasswordChanged,
    TwoStepEnabled,
    TwoStepDisabled,
    /// Wrong second steps: someone who knows the password is trying.
    SecondStepAlert,
    /// The link that confirms a new address, sent to it.
    EmailConfirm,
    /// Someone asked to change the address: told to the current one.
    EmailRequested,
    /// The address was changed: told to the one it was.
    EmailChanged,
    /// How the person signs in changed (single sign-on only, or a password too).
    SignInChanged,
    /// An identity at the provider was linked to the person's login.
    IdentityLinked,
    /// Wrong PINs for one account: someone may be pretending to be its people.
    ImpostorAlarm,
    /// `pinpanel mail test`.
    Test,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::PinLocked => Event::PinLocked.as_str(),
            MailKind::PinChanged => Event::PinChanged.as_str(),
            MailKind::PinUnlocked => Event::PinUnlocked.as_str(),
            MailKind::PinReset => Event::PinReset.as_str(),
            MailKind::Invitation => Event::MemberInvited.as_str(),
            MailKind::PasswordLink => "password.link",
            MailKind::PasswordChanged => Event::PasswordChanged.as_str(),
            MailKind::TwoStepEnabled => Event::TwoStepEnabled.as_str(),
            MailKind::TwoStepDisabled => Event::TwoStepDisabled.as_str(),
            MailKind::SecondStepAlert => "two_step.alert",
            MailKind::EmailConfirm => "email.confirm",
            MailKind::EmailRequested => Event::EmailChangeRequested.as_str(),
            MailKind::EmailChanged => Event::EmailChanged.as_str(),
            MailKind::SignInChanged => Event::SsoOnlyChanged.as_str(),
            MailKind::IdentityLinked => Event::SsoLinked.as_str(),
            MailKind::ImpostorAlarm => "alarm.impostor",
            MailKind::Test => "mail.test",
        }
    }
}

impl fmt::Display for MailKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_round_trips_through_its_stored_name() {
        for e in Event::ALL {
            assert_eq!(e.as_str().parse::<Event>().unwrap(), *e);
        }
        assert!("pin.nothing".parse::<Event>().is_err());
    }

    #[test]
    fn stored_names_are_unique() {
        let mut names: Vec<&str> = Event::ALL.iter().map(|e| e.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Event::ALL.len());
    }

    #[test]
    fn each_kind_of_activity_has_its_events() {
        let of = |k: ActivityKind| Event::ALL.iter().filter(move |e| e.category() == Some(k));
        for k in ActivityKind::ALL {
            assert!(of(*k).count() > 0, "{k:?}");
            assert_eq!(k.as_str().parse::<ActivityKind>().unwrap(), *k);
        }
        assert!(of(ActivityKind::Pin).all(|e| e.as_str().starts_with("pin.")));
    }
}
