//! What an identity provider says about how someone signed in there: the ID token's `amr`
//! values (RFC 8176), read into the factors they name, and whether they add up to two-step login.

/// The kinds of factor (NIST SP 800-63B): two-step login is two different kinds, not two of a
/// kind (a one-time code and an SMS are both something one has).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Factor {
    /// Something one knows: a password, a PIN, an answer.
    Knowledge,
    /// Something one has: a key, a phone, an app's code.
    Possession,
    /// Something one is: a fingerprint, a face, a voice.
    Inherence,
}

/// One `amr` value, as RFC 8176 registers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `mfa`: the provider itself says several factors were used.
    MultipleFactors,
    /// A method that is one factor of a kind.
    Factor(Factor),
    /// Registered, but no factor of its own (`mca`, `geo`, `rba`, `user`, `wia`, …), or unknown.
    Other,
}

impl Method {
    pub fn parse(value: &str) -> Method {
        use Factor::*;
        match value {
            "mfa" => Method::MultipleFactors,
            "pwd" | "pin" | "kba" => Method::Factor(Knowledge),
            "otp" | "hwk" | "swk" | "sms" | "tel" | "sc" | "pop" => Method::Factor(Possession),
            "fpt" | "face" | "iris" | "retina" | "vbm" => Method::Factor(Inherence),
            _ => Method::Other,
        }
    }
}

/// Do these `amr` values count as two-step login? Only `mfa`, or factors of two different kinds
/// (`pwd` with `otp`, `hwk` with `face`); one factor alone, of whatever kind, does not.
pub fn two_step(amr: &[String]) -> bool {
    let mut kinds: Vec<Factor> = Vec::new();
    for m in amr.iter().map(|a| Method::parse(a)) {
        match m {
            Method::MultipleFactors => return true,
            Method::Factor(f) if !kinds.contains(&f) => kinds.push(f),
            Method::Factor(_) | Method::Other => {}
        }
    }
    kinds.len() >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amr(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    #[test]
    fn mfa_alone_counts() {
        assert!(two_step(&amr(&["mfa"])));
        assert!(two_step(&amr(&["pwd", "mfa"])));
    }

    #[test]
    fn one_factor_alone_does_not_count_whatever_its_kind() {
        for one in [
            "pwd", "otp", "hwk", "sms", "face", "fpt", "swk", "sc", "pin",
        ] {
            assert!(!two_step(&amr(&[one])), "{one}");
        }
        assert!(!two_step(&amr(&[])));
    }

    #[test]
    fn two_factors_of_one_kind_do_not_count() {
        assert!(!two_step(&amr(&["otp", "sms"])));
        assert!(!two_step(&amr(&["pwd", "pin", "kba"])));
        assert!(!two_step(&amr(&["face", "fpt"])));
    }

    #[test]
    fn two_kinds_count() {
        assert!(two_step(&amr(&["pwd", "otp"])));
        assert!(two_step(&amr(&["hwk", "face"])));
        assert!(two_step(&amr(&["pin", "sc"])));
    }

    #[test]
    fn methods_without_a_factor_add_nothing() {
        assert!(!two_step(&amr(&[
            "pwd", "mca", "geo", "rba", "user", "wia", "x-custom"
        ])));
        assert!(!two_step(&amr(&["MFA"])), "values are case-sensitive");
    }
}
