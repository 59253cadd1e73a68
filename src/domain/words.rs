//! Events in a person's words: "Ada logged in from 203.0.113.7 (Firefox 132 on Linux)", "Support
//! (agent sam) checked your PIN for ticket 48213: correct". The stored code stays what the log,
//! the CSV export and a row's title carry; this is what people read.

use super::actor::{ActorKind, ActorRef};
use super::event::{Event, MailKind};
use super::MAX_PIN_FAILURES;

/// What a sentence is made of: one row of the audit log, and who reads it.
#[derive(Debug, Clone, Copy)]
pub struct Said<'a> {
    pub event: Event,
    /// Who did it.
    pub actor: &'a ActorRef,
    /// The member it was about, by username.
    pub subject: Option<&'a str>,
    pub detail: &'a str,
    /// Where a login came from.
    pub address: Option<&'a str>,
    /// The ticket or call reference of a verification.
    pub reference: Option<&'a str>,
    /// The username of the person reading: they are "you".
    pub reader: Option<&'a str>,
}

/// The event as one sentence, with a full stop left to the page.
pub fn sentence(s: &Said<'_>) -> String {
    let event = s.event;
    let me = |name: &str| s.reader.is_some_and(|r| r.eq_ignore_ascii_case(name));
    let actor = s.actor;
    let by_member = actor.kind == ActorKind::Member;
    let actor_is_subject = by_member
        && s.subject
            .is_some_and(|m| m.eq_ignore_ascii_case(&actor.name));
    let actor_is_me = by_member && me(&actor.name);
    // The one who did it.
    let who = match actor.kind {
        ActorKind::Member if actor_is_me => "you".to_owned(),
        ActorKind::Member => actor.name.clone(),
        ActorKind::Panel => "the panel".to_owned(),
        ActorKind::Operator => "an operator (command line)".to_owned(),
        ActorKind::Provisioning => format!("{} (provisioning)", actor.name),
    };
    // The member it was about, as an object and as an owner.
    let whom = match s.subject {
        Some(m) if me(m) => "you".to_owned(),
        Some(m) => m.to_owned(),
        None => "a member".to_owned(),
    };
    let whose = match s.subject {
        Some(_) if actor_is_subject && actor_is_me => "your".to_owned(),
        Some(_) if actor_is_subject => "their".to_owned(),
        Some(m) if me(m) => "your".to_owned(),
        Some(m) => format!("{m}'s"),
        None => "a member's".to_owned(),
    };
    let own = if actor_is_me { "your" } else { "their" };
    let from = match s.address {
        Some(a) if !a.is_empty() && a != "unknown" => format!(" from {a}"),
        _ => String::new(),
    };
    let browser = |text: String| match s.detail {
        "" => text,
        d => format!("{text} ({d})"),
    };
    let agent = format!("Support (agent {})", actor.name);
    let for_ticket = s
        .reference
        .map(|r| format!(" for ticket {r}"))
        .unwrap_or_default();
    let d = s.detail;
    let text = match event {
        Event::LoginOk => browser(format!("{who} logged in{from}")),
        Event::PasswordPassed => browser(format!(
            "{who} gave the right password{from}, the second step still to come"
        )),
        Event::SsoSignIn => with_detail(format!("{who} signed in with single sign-on{from}"), d),
        Event::SsoRefused => with_detail(format!("single sign-on was refused{from}"), d),
        Event::SsoLinked => with_detail(format!("{who} linked a single sign-on identity"), d),
        Event::SsoUnlinked => with_detail(format!("{who} unlinked a single sign-on identity"), d),
        Event::LoginFailed => match s.subject {
            Some(_) => colon(format!("a login as {whom} failed{from}"), d),
            None => colon(format!("a login failed{from}"), d),
        },
        Event::LoginThrottled => colon(format!("logins were refused for a while{from}"), d),
        Event::Throttled => colon("requests were refused for a while".to_owned(), d),
        Event::Logout => format!("{who} logged out"),
        Event::ReauthOk => format!("{who} entered {own} password again"),
        Event::ReauthFailed => format!("{who} entered a wrong password when asked for it again"),
        Event::PinCreated => format!("{whose} Support PIN was created"),
        Event::PinShown if actor_is_subject => format!("{who} looked at {whose} Support PIN"),
        Event::PinShown => format!("{who} showed {whose} Support PIN"),
        Event::PinChanged => format!("{who} changed {whose} Support PIN"),
        Event::PinVerified => format!("{agent} checked {whose} PIN{for_ticket}: correct"),
        Event::PinVerifyFailed => {
            with_detail(format!("{agent} checked {whose} PIN{for_ticket}: wrong"), d)
        }
        Event::PinLocked => format!(
            "{whose} Support PIN was locked after {} wrong PINs given to {agent}",
            number_word(MAX_PIN_FAILURES)
        ),
        Event::PinUnlocked => format!("{who} unlocked {whose} Support PIN"),
        Event::PinReset => format!("{who} reset {whose} Support PIN to a new one"),
        Event::PermissionDenied => with_detail(format!("{who} was refused: not permitted"), d),
        Event::RoleChanged => colon(format!("{who} changed {whose} role"), d),
        Event::AccountCreated => with_detail(format!("{who} created the account"), d),
        Event::PolicyChanged => colon(format!("{who} changed who may unlock Support PINs"), d),
        Event::MemberCreated => with_detail(format!("{who} added {whom}"), d),
        Event::MemberDisabled => format!("{who} disabled {whom}"),
        Event::MemberEnabled => format!("{who} enabled {whom} again"),
        Event::MemberChanged => colon(format!("{who} changed {whose} details"), d),
        Event::MemberRemoved => format!("{who} removed {whom}"),
        Event::ImportDone => colon(format!("{who} imported members from a file"), d),
        Event::ScimTokenCreated => colon(format!("{who} made a provisioning token"), d),
        Event::ScimTokenRevoked => colon(format!("{who} revoked a provisioning token"), d),
        Event::AccountSsoOnlyChanged => colon(format!("{who} changed how new members sign in"), d),
        Event::EmailChanged => colon(format!("{whose} e-mail address was changed"), d),
        Event::SsoOnlyChanged => colon(format!("{who} changed how {whom} signs in"), d),
        Event::EmailChangeRequested => {
            colon(format!("{who} asked to change {whose} e-mail address"), d)
        }
        Event::EmailChangeDeclined => colon(
            format!("{who} declined a change of {whose} e-mail address"),
            d,
        ),
        Event::EmailChangeAccepted => colon(
            format!("{who} accepted a change of {whose} e-mail address"),
            d,
        ),
        Event::MemberInvited => format!("{who} invited {whom}"),
        Event::InvitationAccepted => format!("{who} accepted the invitation and chose a password"),
        Event::PasswordLinkSent => format!("a password link was sent to {whom}"),
        Event::PasswordReset => format!("{who} chose a new password with a link"),
        Event::SessionEnded => format!("{who} ended one other session"),
        Event::OtherSessionsEnded => {
            with_detail(format!("{who} ended every other session and API token"), d)
        }
        Event::PasswordChanged => format!("{who} changed {own} password"),
        Event::TokenIssued => format!("{who} got an API token{from}"),
        Event::TokenRevoked => format!("{who} revoked an API token"),
        Event::TwoStepEnabled => with_detail(format!("{who} turned on two-step login"), d),
        Event::TwoStepDisabled => format!("{who} turned off two-step login"),
        Event::PasskeyAdded => with_detail(format!("{who} added a passkey"), d),
        Event::PasskeyRemoved => with_detail(format!("{who} removed a passkey"), d),
        Event::RecoveryCodesRegenerated => format!("{who} made new recovery codes"),
        Event::RecoveryCodeUsed => format!("{who} used a recovery code"),
        Event::SecondStepOk => with_detail(format!("{who} gave the second step of a login"), d),
        Event::SecondStepFailed => {
            with_detail(format!("{who} gave a wrong second step of a login"), d)
        }
        Event::SecondStepCleared => {
            format!("{who} allowed {whose} authenticator app codes again")
        }
        Event::MailQueued => colon(format!("a mail to {whom} was queued"), &mail_about(d)),
        Event::MailSent => colon(format!("a mail to {whom} was sent"), &mail_about(d)),
        Event::MailFailed => colon(format!("a mail to {whom} was given up"), &mail_about(d)),
        Event::KeyRotated => with_detail("the PIN key was rotated".to_owned(), d),
    };
    capitalised(&text)
}

/// What a mail was about, from its kind as the mail events record it (`pin.locked`).
fn mail_about(detail: &str) -> String {
    // `pin.locked`, or `pin.locked: why` when it was given up.
    let kind = detail.split([':', ' ']).next().unwrap_or(detail);
    let rest = &detail[kind.len()..];
    const ABOUT: [(MailKind, &str); 17] = [
        (MailKind::PinLocked, "Support PIN locked"),
        (MailKind::PinUnlocked, "Support PIN unlocked"),
        (MailKind::PinChanged, "Support PIN changed"),
        (MailKind::PinReset, "Support PIN reset"),
        (MailKind::Invitation, "an invitation"),
        (MailKind::PasswordLink, "a password link"),
        (MailKind::PasswordChanged, "password changed"),
        (MailKind::TwoStepEnabled, "two-step login turned on"),
        (MailKind::TwoStepDisabled, "two-step login turned off"),
        (MailKind::SecondStepAlert, "wrong second steps"),
        (MailKind::EmailConfirm, "confirming a new address"),
        (MailKind::EmailRequested, "a change of address asked for"),
        (MailKind::EmailChanged, "address changed"),
        (MailKind::SignInChanged, "sign-in changed"),
        (MailKind::IdentityLinked, "an identity linked"),
        (MailKind::ImpostorAlarm, "the alarm for impostors"),
        (MailKind::Test, "a test"),
    ];
    let Some((_, about)) = ABOUT.iter().find(|(k, _)| k.as_str() == kind) else {
        return detail.to_owned();
    };
    format!("{about}{rest}")
}

fn with_detail(text: String, detail: &str) -> String {
    match detail {
        "" => text,
        d => format!("{text} ({d})"),
    }
}

fn colon(text: String, detail: &str) -> String {
    match detail {
        "" => text,
        d => format!("{text}: {d}"),
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn number_word(n: i64) -> String {
    const WORDS: [&str; 11] = [
        "no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    ];
    usize::try_from(n)
        .ok()
        .and_then(|i| WORDS.get(i))
        .map_or_else(|| n.to_string(), |w| (*w).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said<'a>(event: Event, actor: &'a ActorRef, subject: Option<&'a str>) -> Said<'a> {
        Said {
            event,
            actor,
            subject,
            detail: "",
            address: None,
            reference: None,
            reader: None,
        }
    }

    #[test]
    fn events_read_as_sentences() {
        let (ada, sam, root) = (
            ActorRef::member("ada"),
            ActorRef::member("sam"),
            ActorRef::member("root"),
        );
        let login = Said {
            address: Some("203.0.113.7"),
            detail: "Firefox 132 on Linux",
            ..said(Event::LoginOk, &ada, Some("ada"))
        };
        assert_eq!(
            sentence(&login),
            "Ada logged in from 203.0.113.7 (Firefox 132 on Linux)"
        );
        assert_eq!(
            sentence(&said(Event::PinLocked, &sam, Some("bob"))),
            "Bob's Support PIN was locked after six wrong PINs given to Support (agent sam)"
        );
        assert_eq!(
            sentence(&said(Event::SessionEnded, &ada, Some("ada"))),
            "Ada ended one other session"
        );
        assert_eq!(
            sentence(&Said {
                detail: "sessions: 2, API tokens: 1",
                ..said(Event::OtherSessionsEnded, &ada, Some("ada"))
            }),
            "Ada ended every other session and API token (sessions: 2, API tokens: 1)"
        );
        let checked = Said {
            reference: Some("48213"),
            reader: Some("bob"),
            ..said(Event::PinVerified, &sam, Some("bob"))
        };
        assert_eq!(
            sentence(&checked),
            "Support (agent sam) checked your PIN for ticket 48213: correct"
        );
        let wrong = Said {
            detail: "failure 2 of 6",
            ..said(Event::PinVerifyFailed, &sam, Some("bob"))
        };
        assert_eq!(
            sentence(&wrong),
            "Support (agent sam) checked bob's PIN: wrong (failure 2 of 6)"
        );
        let own = Said {
            reader: Some("ada"),
            ..said(Event::PinChanged, &ada, Some("ada"))
        };
        assert_eq!(sentence(&own), "You changed your Support PIN");
        assert_eq!(
            sentence(&said(Event::PinUnlocked, &root, Some("bob"))),
            "Root unlocked bob's Support PIN"
        );
        assert_eq!(
            sentence(&said(
                Event::MemberCreated,
                &ActorRef::operator(),
                Some("bob")
            )),
            "An operator (command line) added bob"
        );
        assert_eq!(
            sentence(&said(
                Event::MemberDisabled,
                &ActorRef::provisioning("Okta"),
                Some("bob")
            )),
            "Okta (provisioning) disabled bob"
        );
        let panel = ActorRef::panel();
        let mail = Said {
            detail: Event::PinUnlocked.as_str(),
            ..said(Event::MailQueued, &panel, Some("bob"))
        };
        assert_eq!(
            sentence(&mail),
            "A mail to bob was queued: Support PIN unlocked"
        );
    }

    /// Who did it is the actor's kind, never their name read back: a member called
    /// `pinpanel` is a member.
    #[test]
    fn the_actors_kind_decides_not_their_name() {
        let named = ActorRef::member("pinpanel");
        assert_eq!(
            sentence(&said(Event::PinChanged, &named, Some("pinpanel"))),
            "Pinpanel changed their Support PIN"
        );
        assert_eq!(
            sentence(&said(Event::PinCreated, &ActorRef::panel(), Some("bob"))),
            "Bob's Support PIN was created"
        );
    }

    #[test]
    fn every_event_has_a_sentence() {
        let ada = ActorRef::member("ada");
        for e in Event::ALL {
            let text = sentence(&said(*e, &ada, Some("bob")));
            assert!(
                !text.is_empty() && !text.contains(e.as_str()),
                "{e}: {text}"
            );
        }
    }
}
