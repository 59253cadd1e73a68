//! The vocabulary of the product: pure types with their rules, no I/O. Everything that crosses
//! a boundary (a form, a JSON body, a CLI flag, a database column) is parsed into one of these.

mod browser;
mod entities;
mod pin;
pub mod second_factor;
pub mod time;

use std::fmt;
use std::str::FromStr;

pub use browser::browser_label;
pub use entities::{
    Account, AccountEvent, AuditEvent, MemberSummary, SessionInfo, TwoStepStatus, User,
};
pub use pin::{PinError, PinRule, SupportPin, PIN_GUIDANCE, PIN_LEN};

/// Six consecutive failed verifications lock a PIN (SPEC).
pub const MAX_PIN_FAILURES: i64 = 6;

/// How many verifications a PIN with `failures` consecutive failures has left before it locks.
pub fn attempts_left(failures: i64) -> i64 {
    (MAX_PIN_FAILURES - failures).max(0)
}

/// A PIN as a caller recites it, normalised the one way both faces share: surrounding spaces are
/// not part of it. `None` when nothing was recited.
pub fn recited_pin(raw: &str) -> Option<&str> {
    Some(raw.trim()).filter(|p| !p.is_empty())
}

/// Declares a closed set of names stored as text and accepted from flags and forms.
macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!(
                        "'{}' is not one of: {}",
                        s.chars().take(40).collect::<String>(),
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        // As its text, like the database column.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
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
    /// The kinds of events the account's activity page filters by.
    ActivityKind { Logins => "logins", Pin => "pin", Members => "members", TwoStep => "two-step", Mail => "mail" }
);

impl ActivityKind {
    /// The audit event names of this kind start with one of these.
    pub fn prefixes(self) -> &'static [&'static str] {
        match self {
            ActivityKind::Logins => &["login.", "logout", "reauth.", "token."],
            ActivityKind::Pin => &["pin."],
            ActivityKind::Members => &["member.", "password.", "account.", "invitation."],
            ActivityKind::TwoStep => &["two_step."],
            ActivityKind::Mail => &["mail."],
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

/// A login name: 1 to 64 characters of ASCII letters, digits and `. _ - @`, kept as typed but
/// compared case-insensitively (stored lowercased), so `Alice` and `alice` are one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("A username is required.".into());
        }
        if raw.len() > 64 {
            return Err("A username has at most 64 characters.".into());
        }
        if !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
        {
            return Err(
                "A username may contain only letters, digits and the characters . _ - @".into(),
            );
        }
        Ok(Username(raw.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A person's display name: 1 to 200 characters, no control characters.
pub fn parse_full_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("A name is required.".into());
    }
    if name.chars().count() > 200 {
        return Err("A name has at most 200 characters.".into());
    }
    if name.chars().any(char::is_control) {
        return Err("A name may not contain control characters.".into());
    }
    Ok(name.to_owned())
}

/// An e-mail address, checked only for shape (one `@`, something either side, no spaces).
pub fn parse_email(raw: &str) -> Result<String, String> {
    let email = raw.trim();
    let ok = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.') && !d.contains('@'));
    if ok {
        Ok(email.to_owned())
    } else {
        Err(format!(
            "'{}' is not an e-mail address.",
            email.chars().take(60).collect::<String>()
        ))
    }
}

/// An account number: 1 to 12 ASCII digits.
pub fn parse_account_number(raw: &str) -> Result<String, String> {
    let n = raw.trim();
    if n.is_empty() || n.len() > 12 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return Err("An account number is 1 to 12 digits.".into());
    }
    Ok(n.to_owned())
}

/// The shortest password anyone may choose (SPEC; NIST SP 800-63B asks for at least 8, and 15
/// when a password is the only factor).
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Django's list of 19 726 common passwords (BSD-3-Clause, `data/common-passwords-LICENSE`),
/// lowercased: the ones attackers try first.
static COMMON_PASSWORDS: std::sync::LazyLock<std::collections::HashSet<&'static str>> =
    std::sync::LazyLock::new(|| {
        include_str!("../../data/common-passwords.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    });

/// A password: at least [`MIN_PASSWORD_CHARS`] characters, at most 1024 bytes so hashing stays
/// bounded, not one of the well-known leaked passwords; no other composition rules (NIST SP
/// 800-63B §5.1.1.2).
pub fn check_password(raw: &str) -> Result<(), String> {
    if raw.is_empty() {
        return Err("The password is empty.".into());
    }
    if raw.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "A password needs at least {MIN_PASSWORD_CHARS} characters."
        ));
    }
    if raw.len() > 1024 {
        return Err("A password has at most 1024 bytes.".into());
    }
    if COMMON_PASSWORDS.contains(raw.to_lowercase().as_str()) {
        return Err(
            "That password is on a list of commonly used passwords, which attackers try first. \
             Choose another (a few unrelated words make a good one)."
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lowercased_and_trimmed() {
        assert_eq!(Username::parse("  Alice ").unwrap().as_str(), "alice");
    }

    #[test]
    fn usernames_with_markup_are_refused() {
        assert!(Username::parse("<b>x</b>").is_err());
        assert!(Username::parse("a b").is_err());
        assert!(Username::parse("").is_err());
    }

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

    #[test]
    fn names_with_control_characters_are_refused() {
        assert!(parse_full_name("Ann\u{0}Lee").is_err());
        assert_eq!(parse_full_name(" Ann Lee ").unwrap(), "Ann Lee");
    }

    #[test]
    fn account_numbers_are_digits_only() {
        assert!(parse_account_number("1234567").is_ok());
        assert!(parse_account_number("12a").is_err());
        assert!(parse_account_number("").is_err());
    }

    #[test]
    fn short_and_empty_passwords_are_refused() {
        assert!(check_password("").is_err());
        assert!(check_password("short").is_err());
        assert!(check_password("eleven char").is_err());
        assert!(check_password("twelve chars").is_ok());
    }

    #[test]
    fn common_passwords_are_refused_with_the_reason() {
        for common in ["1234567890123", "1q2w3e4r5t6y7u8i9o", "Password12345"] {
            let why = check_password(common).unwrap_err();
            assert!(why.contains("commonly used"), "{common}: {why}");
        }
        assert!(check_password("correct horse battery").is_ok());
    }
}
