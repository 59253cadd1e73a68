//! What Support's verifications record beyond right and wrong: why one was refused without
//! comparing (stored as the event's detail and read back only through this type), and why the
//! alarm for impostors rang.

text_enum!(
    /// A verification refused before the PIN was compared: nothing was counted.
    VerifyRefusal {
        Locked => "refused: locked",
        Disabled => "refused: member disabled",
        NoPin => "refused: no PIN",
    }
);

impl VerifyRefusal {
    /// How the agent's list says it.
    pub fn label(self) -> &'static str {
        match self {
            VerifyRefusal::Locked => "Refused: locked",
            VerifyRefusal::Disabled => "Refused: disabled",
            VerifyRefusal::NoPin => "Refused: no PIN",
        }
    }
}

text_enum!(
    /// Why the alarm for impostors rang for an account.
    AlarmReason {
        /// Many wrong PINs given to Support within an hour.
        WrongPins => "wrong",
        /// Several PINs locked within a day.
        Locks => "locked",
    }
);

impl AlarmReason {
    /// The warning in words, as the mail and the Overview give it.
    pub fn words(self, count: i64) -> String {
        match self {
            AlarmReason::WrongPins => format!(
                "Support was given wrong PINs for your account {count} times in the last hour: \
                 someone may be calling pretending to be your people."
            ),
            AlarmReason::Locks => format!(
                "{count} Support PINs of your account were locked in the last day after wrong \
                 PINs given to Support: someone may be calling pretending to be your people."
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_and_reasons_round_trip_through_their_stored_text() {
        for r in VerifyRefusal::ALL {
            assert_eq!(r.as_str().parse::<VerifyRefusal>().unwrap(), *r);
        }
        for r in AlarmReason::ALL {
            assert_eq!(r.as_str().parse::<AlarmReason>().unwrap(), *r);
        }
        assert!("failure 2 of 6".parse::<VerifyRefusal>().is_err());
    }
}
