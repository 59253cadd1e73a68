//! The Support PIN: the only way to one is [`SupportPin::parse`] (or [`SupportPin::generate`]),
//! so a value of this type always obeys SPEC's rules. The digits never print: `Debug` is masked
//! and there is no `Display`; [`SupportPin::expose`] is the one deliberate way to read them.

use std::fmt;

use rand::Rng;
use subtle::ConstantTimeEq;

/// How many digits a Support PIN has.
pub const PIN_LEN: usize = 6;
/// The longest run of repeated or sequential digits allowed (444 is OK, 4444 is not).
const MAX_RUN: usize = 3;

/// The guidance SPEC asks us to show with every rejected PIN.
pub const PIN_GUIDANCE: &str = "Use six numeric digits (such as 871694). A Support PIN cannot \
include more than three repeating numbers (444 is OK, but 4444 is not) or more than three \
sequential numbers (234 is OK, but 2345 is not).";

/// One rule a candidate PIN broke. A candidate can break several at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinRule {
    /// Not exactly six characters long.
    Length,
    /// Contains something other than the ASCII digits 0-9.
    NotDigits,
    /// Four or more identical digits in a row.
    Repeating,
    /// Four or more digits in a row that step up or down by one.
    Sequential,
}

impl PinRule {
    /// A sentence a person can act on.
    pub fn message(self) -> &'static str {
        match self {
            PinRule::Length => "It must be exactly six digits long.",
            PinRule::NotDigits => "It may contain only the digits 0 to 9.",
            PinRule::Repeating => "It has more than three repeating numbers in a row.",
            PinRule::Sequential => "It has more than three sequential numbers in a row.",
        }
    }
}

/// Why a candidate PIN was refused: every rule it broke, in a stable order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinError {
    rules: Vec<PinRule>,
}

impl PinError {
    pub fn rules(&self) -> &[PinRule] {
        &self.rules
    }

    /// The rule messages, one per broken rule.
    pub fn messages(&self) -> Vec<&'static str> {
        self.rules.iter().map(|r| r.message()).collect()
    }
}

impl fmt::Display for PinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.messages().join(" "))
    }
}

impl std::error::Error for PinError {}

/// A valid Support PIN.
#[derive(Clone, PartialEq, Eq)]
pub struct SupportPin([u8; PIN_LEN]);

impl SupportPin {
    /// Checks `raw` against every rule and reports all that fail. Nothing is trimmed: " 871694"
    /// is refused, so what is stored is exactly what the person typed.
    pub fn parse(raw: &str) -> Result<Self, PinError> {
        let mut rules = Vec::new();
        let chars = raw.chars().count();
        if chars != PIN_LEN {
            rules.push(PinRule::Length);
        }
        if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
            rules.push(PinRule::NotDigits);
        }
        // Run rules are only meaningful over the ASCII digits of the candidate; checking them
        // on a candidate of the wrong length still tells the person everything at once.
        let digits: Vec<u8> = raw
            .bytes()
            .filter(|b| b.is_ascii_digit())
            .map(|b| b - b'0')
            .collect();
        if rules.is_empty() || digits.len() == raw.len() {
            if longest_run(&digits, 0) > MAX_RUN {
                rules.push(PinRule::Repeating);
            }
            if longest_run(&digits, 1) > MAX_RUN || longest_run(&digits, -1) > MAX_RUN {
                rules.push(PinRule::Sequential);
            }
        }
        if !rules.is_empty() {
            return Err(PinError { rules });
        }
        let mut out = [0u8; PIN_LEN];
        out.copy_from_slice(raw.as_bytes());
        Ok(SupportPin(out))
    }

    /// A uniformly random valid PIN from the operating system's CSPRNG. Rejection sampling over
    /// all 10^6 strings keeps the distribution uniform over the valid ones (about 99% are valid,
    /// so this loops about once).
    pub fn generate() -> Self {
        let mut rng = rand::rngs::OsRng;
        loop {
            let n: u32 = rng.gen_range(0..1_000_000);
            if let Ok(pin) = Self::parse(&format!("{n:06}")) {
                return pin;
            }
        }
    }

    /// The digits, for the owner's eyes, the cipher and nothing else.
    pub fn expose(&self) -> &str {
        // Only ASCII digits ever get in, so this cannot fail; fall back to "" rather than panic.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// Constant-time comparison with a candidate the caller recited.
    pub fn matches(&self, candidate: &str) -> bool {
        let candidate = candidate.as_bytes();
        candidate.len() == PIN_LEN && bool::from(self.0.ct_eq(candidate))
    }
}

impl fmt::Debug for SupportPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SupportPin(******)")
    }
}

/// The longest run of consecutive digits where each differs from the one before by `step`.
fn longest_run(digits: &[u8], step: i8) -> usize {
    let mut best = usize::from(!digits.is_empty());
    let mut run = best;
    for pair in digits.windows(2) {
        if i16::from(pair[1]) - i16::from(pair[0]) == i16::from(step) {
            run += 1;
            best = best.max(run);
        } else {
            run = 1;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rules_of(raw: &str) -> Vec<PinRule> {
        SupportPin::parse(raw)
            .err()
            .map(|e| e.rules().to_vec())
            .unwrap_or_default()
    }

    #[test]
    fn a_plain_six_digit_pin_is_accepted() {
        assert_eq!(SupportPin::parse("871694").unwrap().expose(), "871694");
    }

    #[test]
    fn three_repeated_digits_are_accepted() {
        assert!(SupportPin::parse("111923").is_ok());
        assert!(SupportPin::parse("924441").is_ok());
    }

    #[test]
    fn alternating_digits_are_accepted() {
        assert!(SupportPin::parse("121212").is_ok());
    }

    #[test]
    fn four_repeated_digits_are_rejected() {
        assert_eq!(rules_of("111123"), vec![PinRule::Repeating]);
        assert_eq!(rules_of("944449"), vec![PinRule::Repeating]);
    }

    #[test]
    fn four_zeros_inside_a_pin_are_rejected() {
        assert_eq!(rules_of("100002"), vec![PinRule::Repeating]);
    }

    #[test]
    fn six_identical_digits_are_rejected() {
        assert_eq!(rules_of("000000"), vec![PinRule::Repeating]);
    }

    #[test]
    fn four_ascending_digits_are_rejected() {
        assert_eq!(rules_of("345612"), vec![PinRule::Sequential]);
        assert_eq!(rules_of("923456"), vec![PinRule::Sequential]);
    }

    #[test]
    fn four_descending_digits_are_rejected() {
        assert_eq!(rules_of("965430"), vec![PinRule::Sequential]);
        assert_eq!(rules_of("106543"), vec![PinRule::Sequential]);
    }

    #[test]
    fn three_sequential_digits_are_accepted() {
        assert!(SupportPin::parse("345915").is_ok());
        assert!(SupportPin::parse("543915").is_ok());
    }

    #[test]
    fn sequences_do_not_wrap_around_from_nine_to_zero() {
        assert!(SupportPin::parse("789012").is_ok());
        assert!(SupportPin::parse("210987").is_ok());
        assert_eq!(
            rules_of("890123"),
            vec![PinRule::Sequential],
            "0123 is a run"
        );
    }

    #[test]
    fn eight_nine_zero_one_is_accepted() {
        assert!(SupportPin::parse("890175").is_ok());
        assert!(SupportPin::parse("218901").is_ok());
        assert!(SupportPin::parse("109872").is_ok());
    }

    #[test]
    fn a_candidate_can_break_several_rules_at_once() {
        assert_eq!(
            rules_of("2345555"),
            vec![PinRule::Length, PinRule::Repeating, PinRule::Sequential]
        );
    }

    #[test]
    fn five_digits_are_rejected() {
        assert_eq!(rules_of("12945"), vec![PinRule::Length]);
    }

    #[test]
    fn seven_digits_are_rejected() {
        assert_eq!(rules_of("8716940"), vec![PinRule::Length]);
    }

    #[test]
    fn five_sequential_digits_report_length_and_sequence() {
        assert_eq!(
            rules_of("12345"),
            vec![PinRule::Length, PinRule::Sequential]
        );
    }

    #[test]
    fn the_empty_string_is_rejected() {
        assert_eq!(rules_of(""), vec![PinRule::Length, PinRule::NotDigits]);
    }

    #[test]
    fn spaces_are_rejected() {
        assert_eq!(
            rules_of(" 871694"),
            vec![PinRule::Length, PinRule::NotDigits]
        );
        assert_eq!(rules_of("871 94"), vec![PinRule::NotDigits]);
    }

    #[test]
    fn signs_are_rejected() {
        assert_eq!(rules_of("+87169"), vec![PinRule::NotDigits]);
        assert_eq!(rules_of("-87169"), vec![PinRule::NotDigits]);
    }

    #[test]
    fn arabic_indic_digits_are_rejected() {
        assert_eq!(rules_of("١٢٣٤٥٦"), vec![PinRule::NotDigits]);
    }

    #[test]
    fn full_width_digits_are_rejected() {
        assert_eq!(rules_of("８７１６９４"), vec![PinRule::NotDigits]);
    }

    #[test]
    fn debug_output_never_shows_the_digits() {
        let pin = SupportPin::parse("871694").unwrap();
        assert!(!format!("{pin:?}").contains("871694"));
    }

    #[test]
    fn matches_compares_the_whole_pin() {
        let pin = SupportPin::parse("871694").unwrap();
        assert!(pin.matches("871694"));
        assert!(!pin.matches("871695"));
        assert!(!pin.matches("87169"));
        assert!(!pin.matches("8716940"));
    }

    /// An independent statement of SPEC's rules, written the obvious way, to check `parse`.
    fn reference_accepts(s: &str) -> bool {
        let b = s.as_bytes();
        if s.chars().count() != 6 || b.len() != 6 || !b.iter().all(|c| (48..=57).contains(c)) {
            return false;
        }
        for i in 0..3 {
            let w = &b[i..i + 4];
            let same = w.iter().all(|&c| c == w[0]);
            let up = (1..4).all(|k| w[k] == w[0] + k as u8);
            let down = (1..4).all(|k| w[k] + k as u8 == w[0]);
            if same || up || down {
                return false;
            }
        }
        true
    }

    #[test]
    fn parse_agrees_with_the_reference_on_every_six_digit_string() {
        for n in 0..1_000_000u32 {
            let s = format!("{n:06}");
            assert_eq!(SupportPin::parse(&s).is_ok(), reference_accepts(&s), "{s}");
        }
    }

    proptest! {
        #[test]
        fn every_generated_pin_parses(_ in 0..2000u32) {
            let pin = SupportPin::generate();
            prop_assert!(SupportPin::parse(pin.expose()).is_ok());
        }

        #[test]
        fn parse_accepts_exactly_what_the_reference_accepts(s in "[0-9٠-٩０-９ +\\-a]{0,8}") {
            prop_assert_eq!(SupportPin::parse(&s).is_ok(), reference_accepts(&s));
        }

        #[test]
        fn parse_never_panics_on_any_string(s in "\\PC*") {
            let _ = SupportPin::parse(&s);
        }
    }
}
