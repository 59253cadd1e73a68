//! Second factors as people type them: a six-digit authenticator code, or a one-use recovery
//! code like `k7gq2-xm4pd` (ten letters and digits of base32's alphabet, 50 bits).

use rand::Rng;

/// Wrong second steps in a row (across addresses and instances) after which codes from the
/// authenticator app are refused, until a recovery code or a passkey is used or an
/// administrator allows them again (NIST SP 800-63B 5.2.2). A right code does not start the
/// count again: the person's own logins give an attacker no fresh tries.
pub const MAX_SECOND_STEP_FAILURES: i64 = 20;

/// How many recovery codes a person gets.
pub const RECOVERY_CODES: usize = 10;
/// The letters a recovery code is made of (RFC 4648 base32, lowercase: no 0/1/8/9, so nothing to
/// confuse with o, l, b or g).
const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
const RECOVERY_LEN: usize = 10;

/// A code typed at the second step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecondFactorCode {
    /// Six digits from an authenticator app.
    Authenticator(String),
    /// A recovery code, normalised (lowercase, without the dash or spaces).
    Recovery(String),
}

impl SecondFactorCode {
    /// The most the second step's field takes: a recovery code with its dash, or a code, and
    /// room for the spaces people type.
    pub const MAX_TYPED: usize = 32;
    /// The most the field that confirms a new authenticator app takes (six digits, a space).
    pub const AUTHENTICATOR_MAX_TYPED: usize = 8;

    /// Reads what was typed, forgiving spaces, a dash and capitals; `None` when it is neither.
    pub fn parse(raw: &str) -> Option<SecondFactorCode> {
        let compact: String = raw
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect::<String>()
            .to_ascii_lowercase();
        if compact.len() == 6 && compact.bytes().all(|b| b.is_ascii_digit()) {
            return Some(SecondFactorCode::Authenticator(compact));
        }
        if compact.len() == RECOVERY_LEN && compact.bytes().all(|b| ALPHABET.contains(&b)) {
            return Some(SecondFactorCode::Recovery(compact));
        }
        None
    }
}

/// A fresh recovery code as shown to its owner: `k7gq2-xm4pd`.
pub fn new_recovery_code() -> String {
    let mut rng = rand::rngs::OsRng;
    let chars: Vec<char> = (0..RECOVERY_LEN)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    let (a, b) = chars.split_at(RECOVERY_LEN / 2);
    format!(
        "{}-{}",
        a.iter().collect::<String>(),
        b.iter().collect::<String>()
    )
}

/// A base32 secret as people copy it: groups of four letters.
pub fn grouped(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_digits_are_an_authenticator_code() {
        assert_eq!(
            SecondFactorCode::parse(" 123 456 "),
            Some(SecondFactorCode::Authenticator("123456".into()))
        );
    }

    #[test]
    fn recovery_codes_are_read_with_or_without_the_dash_and_in_any_case() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 11);
        assert_eq!(&code[5..6], "-");
        let plain = code.replace('-', "");
        assert_eq!(
            SecondFactorCode::parse(&code.to_uppercase()),
            Some(SecondFactorCode::Recovery(plain.clone()))
        );
        assert_eq!(
            SecondFactorCode::parse(&plain),
            Some(SecondFactorCode::Recovery(plain))
        );
    }

    #[test]
    fn anything_else_is_no_code() {
        for raw in [
            "",
            "12345",
            "1234567",
            "abcde-fghi1",
            "k7gq2-xm4p",
            "١٢٣٤٥٦",
        ] {
            assert_eq!(SecondFactorCode::parse(raw), None, "{raw}");
        }
    }

    #[test]
    fn secrets_are_grouped_by_four() {
        assert_eq!(grouped("ABCDEFGHIJ"), "ABCD EFGH IJ");
    }

    #[test]
    fn recovery_codes_differ() {
        let codes: std::collections::HashSet<String> =
            (0..100).map(|_| new_recovery_code()).collect();
        assert_eq!(codes.len(), 100);
    }
}
