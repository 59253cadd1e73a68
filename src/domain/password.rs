//! What makes a password acceptable (NIST SP 800-63B §5.1.1.2): long enough, not absurdly long,
//! not on the list of passwords attackers try first; no other composition rules.

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
/// bounded, not one of the well-known leaked passwords.
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

/// A new password typed twice: the same both times, and acceptable.
pub fn check_new_password(new: &str, again: &str) -> Result<(), String> {
    if new != again {
        return Err("The two new passwords are not the same.".into());
    }
    check_password(new)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_new_password_must_be_typed_the_same_twice() {
        assert!(check_new_password("correct horse battery", "correct horse batterY").is_err());
        assert!(check_new_password("correct horse battery", "correct horse battery").is_ok());
    }
}
