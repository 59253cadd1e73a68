//! The values that arrive from outside and name someone or something: a login name, a display
//! name, an e-mail address, an account number. Each is a newtype whose only way in is `parse`,
//! so a value of one of these types has already been checked, once, where it came in.

use std::fmt;

/// Declares the common surface of a parsed text value: `as_str`, `Display`, `AsRef<str>`.
macro_rules! text_value {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// A login name: 1 to 64 characters of ASCII letters, digits and `. _ - @`, kept as typed but
/// compared case-insensitively (stored lowercased), so `Alice` and `alice` are one person.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);
text_value!(Username);

impl Username {
    /// The longest username (ASCII, so characters and bytes alike).
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("A username is required.".into());
        }
        if raw.len() > Self::MAX_LEN {
            return Err(format!(
                "A username has at most {} characters.",
                Self::MAX_LEN
            ));
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
}

/// A person's (or an account's) display name: 1 to 200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);
text_value!(DisplayName);

impl DisplayName {
    /// The longest name, in characters.
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        if name.is_empty() {
            return Err("A name is required.".into());
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(format!(
                "A name has at most {} characters.",
                Self::MAX_CHARS
            ));
        }
        if name.chars().any(char::is_control) {
            return Err("A name may not contain control characters.".into());
        }
        Ok(DisplayName(name.to_owned()))
    }

    /// An account's name: the same rules, said of an account.
    pub fn parse_account_name(raw: &str) -> Result<Self, String> {
        Self::parse(raw).map_err(|e| e.replace("A name", "An account name"))
    }
}

/// An e-mail address, checked only for shape (one `@`, something either side, a dot in the
/// domain, no spaces), at most 254 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);
text_value!(EmailAddress);

impl EmailAddress {
    /// The longest address, in bytes (RFC 5321's path limit).
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let email = raw.trim();
        let ok = email.len() <= Self::MAX_LEN
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && matches!(email.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.') && !d.contains('@'));
        if ok {
            Ok(EmailAddress(email.to_owned()))
        } else {
            Err(format!(
                "'{}' is not an e-mail address.",
                email.chars().take(60).collect::<String>()
            ))
        }
    }

    /// An optional address from a form field: empty means none.
    pub fn parse_optional(raw: Option<&str>) -> Result<Option<Self>, String> {
        raw.filter(|e| !e.trim().is_empty())
            .map(Self::parse)
            .transpose()
    }

    /// The same address, whatever the case of its letters.
    pub fn same_as(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other.trim())
    }
}

/// An account number: 1 to 12 ASCII digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccountNumber(String);
text_value!(AccountNumber);

impl AccountNumber {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let n = raw.trim();
        if n.is_empty() || n.len() > 12 || !n.bytes().all(|b| b.is_ascii_digit()) {
            return Err("An account number is 1 to 12 digits.".into());
        }
        Ok(AccountNumber(n.to_owned()))
    }
}

impl std::str::FromStr for AccountNumber {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
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
    fn names_with_control_characters_are_refused() {
        assert!(DisplayName::parse("Ann\u{0}Lee").is_err());
        assert_eq!(DisplayName::parse(" Ann Lee ").unwrap().as_str(), "Ann Lee");
        assert!(DisplayName::parse_account_name("")
            .unwrap_err()
            .starts_with("An account name"));
    }

    #[test]
    fn account_numbers_are_digits_only() {
        assert!(AccountNumber::parse("1234567").is_ok());
        assert!(AccountNumber::parse("12a").is_err());
        assert!(AccountNumber::parse("").is_err());
    }

    #[test]
    fn addresses_need_a_local_part_and_a_domain() {
        assert!(EmailAddress::parse("ada@example.com").is_ok());
        for bad in [
            "x@",
            "@example.com",
            "a b@example.com",
            "a@b@example.com",
            "ada@localhost",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(EmailAddress::parse_optional(Some("  ")).unwrap(), None);
        assert!(EmailAddress::parse("Ada@Example.com")
            .unwrap()
            .same_as("ada@example.COM"));
    }
}

/// A ticket or call reference an agent gives with a verification: free text of at most 64
/// characters, no control characters. Markup is only text: it is stored as typed and escaped
/// wherever it is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference(String);
text_value!(Reference);

impl Reference {
    pub const MAX_CHARS: usize = 64;

    /// `None` for an empty field: a reference is optional.
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        let text = raw.trim();
        if text.is_empty() {
            return Ok(None);
        }
        if text.chars().count() > Self::MAX_CHARS {
            return Err(format!(
                "A ticket or call reference has at most {} characters.",
                Self::MAX_CHARS
            ));
        }
        if text.chars().any(char::is_control) {
            return Err("A ticket or call reference may not contain control characters.".into());
        }
        Ok(Some(Reference(text.to_owned())))
    }
}

#[cfg(test)]
mod reference_tests {
    use super::Reference;

    #[test]
    fn references_are_short_plain_text() {
        assert_eq!(Reference::parse("  ").unwrap(), None);
        assert_eq!(
            Reference::parse(" 48213 ").unwrap().unwrap().as_str(),
            "48213"
        );
        let markup = "<b>48213</b>";
        assert_eq!(Reference::parse(markup).unwrap().unwrap().as_str(), markup);
        assert!(Reference::parse(&"x".repeat(65)).is_err());
        assert!(Reference::parse(&"é".repeat(64)).is_ok());
        assert!(Reference::parse("a\nb").is_err());
    }
}
