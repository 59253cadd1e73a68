//! The catalogue of messages: who is told what, in words. Each function builds its letters and
//! queues them (inside the caller's transaction) with [`super::queue`].

use super::{panel_url, queue, Letter};
use crate::domain::time::format_time;
use crate::domain::{Account, MailKind, UnlockPolicy, User, MAX_PIN_FAILURES};
use crate::service::{Actor, Ctx, Result};
use crate::store::Tx;

fn greeting(to: &User) -> String {
    format!("Hello {},", to.full_name)
}

/// Who did something, as a mail says it.
pub fn by_whom(actor: Actor<'_>, to: &User) -> String {
    match actor {
        Actor::User(u) if u.id == to.id => "you".to_owned(),
        Actor::User(u) if u.is_agent() => "Support".to_owned(),
        Actor::User(u) => format!("{} ({})", u.full_name, u.username),
        Actor::Cli => "an operator of the panel".to_owned(),
        Actor::System => "pinpanel".to_owned(),
        Actor::Provisioning { .. } => "your organisation's identity system".to_owned(),
    }
}

/// `member`'s PIN was locked: a message to them, and one to each of `unlockers` (who may unlock
/// it for them).
pub async fn pin_locked(
    ctx: &Ctx,
    conn: &mut Tx,
    member: &User,
    policy: UnlockPolicy,
    unlockers: &[User],
    at: i64,
) -> Result<()> {
    let when = format_time(at);
    let next = if policy == UnlockPolicy::SelfService {
        "To unlock it, log in to the panel, open Support PIN and choose Unlock. The PIN itself \
         does not change."
            .to_owned()
    } else {
        let names: Vec<String> = unlockers
            .iter()
            .map(|a| format!("{} ({})", a.full_name, a.username))
            .collect();
        format!(
            "In your account only an administrator may unlock it: ask {}.",
            if names.is_empty() {
                "your account's administrator".to_owned()
            } else {
                names.join(" or ")
            }
        )
    };
    let letter = Letter {
        subject: "Your Support PIN is locked".into(),
        greeting: greeting(member),
        paragraphs: vec![
            format!(
                "Your Support PIN was locked at {when}, after {MAX_PIN_FAILURES} wrong PINs in a \
                 row were given to Support. Until it is unlocked, Support cannot verify you with \
                 it."
            ),
            next,
            "If you did not call Support, someone may have tried to pass as you: tell your \
             account's administrator."
                .into(),
        ],
        action: panel_url(ctx).map(|u| ("Open your Support PIN".into(), u)),
        panel_url: None,
    };
    queue(ctx, conn, MailKind::PinLocked, member, &letter, false).await?;
    for admin in unlockers.iter().filter(|a| a.id != member.id) {
        let letter = Letter {
            subject: format!("The Support PIN of {} is locked", member.full_name),
            greeting: greeting(admin),
            paragraphs: vec![
                format!(
                    "The Support PIN of {} ({}) was locked at {when}, after {MAX_PIN_FAILURES} \
                     wrong PINs in a row were given to Support.",
                    member.full_name, member.username
                ),
                "As an administrator of the account you may unlock it on the Users page. \
                 If the member did not call Support, someone may have tried to pass as them."
                    .into(),
            ],
            action: panel_url(ctx).map(|u| ("Open the panel".into(), u)),
            panel_url: None,
        };
        queue(ctx, conn, MailKind::PinLocked, admin, &letter, false).await?;
    }
    Ok(())
}

/// What happened to a member's PIN that they are told of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinChange {
    Unlocked,
    Changed,
    Reset,
}

/// Unlocked, changed or reset: one message to the member.
pub async fn pin_changed(
    ctx: &Ctx,
    conn: &mut Tx,
    change: PinChange,
    actor: Actor<'_>,
    member: &User,
    at: i64,
) -> Result<()> {
    let by = by_whom(actor, member);
    let when = format_time(at);
    let (kind, subject, what) = match change {
        PinChange::Unlocked => (
            MailKind::PinUnlocked,
            "Your Support PIN was unlocked",
            format!("Your Support PIN was unlocked by {by} at {when}. It has not changed, and Support can verify you with it again."),
        ),
        PinChange::Changed => (
            MailKind::PinChanged,
            "Your Support PIN was changed",
            format!("Your Support PIN was changed by {by} at {when}. From now on Support verifies you with the new PIN."),
        ),
        PinChange::Reset => (
            MailKind::PinReset,
            "Your Support PIN was reset",
            format!("Your Support PIN was reset to a new, generated PIN by {by} at {when}. Nobody but you can see it: log in to the panel to see it."),
        ),
    };
    let letter = Letter {
        subject: subject.into(),
        greeting: greeting(member),
        paragraphs: vec![
            what,
            "If this was not you or expected, change your password and tell your account's \
             administrator."
                .into(),
        ],
        action: panel_url(ctx).map(|u| ("Open your Support PIN".into(), u)),
        panel_url: None,
    };
    queue(ctx, conn, kind, member, &letter, false).await?;
    Ok(())
}

/// An invitation with its one-time link (sealed in the outbox).
pub async fn invitation(
    ctx: &Ctx,
    conn: &mut Tx,
    member: &User,
    account_name: &str,
    by: Actor<'_>,
    link: &str,
) -> Result<bool> {
    let who = match by {
        Actor::User(u) => format!("{} ({})", u.full_name, u.username),
        Actor::Provisioning { .. } => "Your organisation's identity system".to_owned(),
        Actor::Cli => "An operator of the panel".to_owned(),
        Actor::System => "The panel".to_owned(),
    };
    let letter = Letter {
        subject: format!("You are invited to {account_name}'s Support PIN panel"),
        greeting: greeting(member),
        paragraphs: vec![
            format!(
                "{who} added you to the Support PIN panel of {account_name}, with the \
                 username {}. You already have a Support PIN: Support asks for it before \
                 it helps you.",
                member.username
            ),
            "Choose your password with the link below. It works once, within 72 hours; \
             after that, ask for a new invitation."
                .into(),
        ],
        action: Some(("Choose your password".into(), link.to_owned())),
        panel_url: None,
    };
    queue(ctx, conn, MailKind::Invitation, member, &letter, true).await
}

/// A forgotten-password link (sealed in the outbox).
pub async fn password_link(ctx: &Ctx, conn: &mut Tx, member: &User, link: &str) -> Result<bool> {
    let letter = Letter {
        subject: "Choose a new password".into(),
        greeting: greeting(member),
        paragraphs: vec![
            format!(
                "Someone asked for a new password for your login {} on the Support PIN \
                 panel. If it was you, choose one with the link below: it works once, \
                 within an hour, and logs you out everywhere.",
                member.username
            ),
            "If it was not you, ignore this message: your password stays as it is.".into(),
        ],
        action: Some(("Choose a new password".into(), link.to_owned())),
        panel_url: None,
    };
    queue(ctx, conn, MailKind::PasswordLink, member, &letter, true).await
}

/// Something about the person's login changed: `kind` says what (their password, two-step
/// login turned on or off).
pub async fn access_changed(
    ctx: &Ctx,
    conn: &mut Tx,
    kind: AccessChange,
    member: &User,
    at: i64,
) -> Result<bool> {
    let when = format_time(at);
    let login = &member.username;
    let (mail, subject, what) = match kind {
        AccessChange::Password => (
            MailKind::PasswordChanged,
            "Your password was changed",
            format!("The password of your login {login} was changed at {when}. Your other sessions and API tokens have ended."),
        ),
        AccessChange::TwoStepOn => (
            MailKind::TwoStepEnabled,
            "Two-step login is on",
            format!("Two-step login was turned on for your login {login} at {when}: after your password, the login now asks for a code or a passkey."),
        ),
        AccessChange::TwoStepOff => (
            MailKind::TwoStepDisabled,
            "Two-step login is off",
            format!("Two-step login was turned off for your login {login} at {when}: your password alone now logs you in."),
        ),
        AccessChange::SsoOnly => (
            MailKind::SignInChanged,
            "You sign in with single sign-on only",
            format!("From {when} your login {login} signs in only through your organisation's single sign-on: your password no longer works here."),
        ),
        AccessChange::PasswordAgain => (
            MailKind::SignInChanged,
            "Your password works again",
            format!("From {when} your login {login} may sign in with its password again, beside single sign-on. If you have no password, choose one with \"Forgot password?\"."),
        ),
    };
    let letter = Letter {
        subject: subject.into(),
        greeting: greeting(member),
        paragraphs: vec![
            what,
            "If this was not you, choose a new password with \"Forgot password?\" on the \
             login page at once, and tell your account's administrator."
                .into(),
        ],
        action: panel_url(ctx).map(|u| ("Log in".into(), u)),
        panel_url: None,
    };
    queue(ctx, conn, mail, member, &letter, false).await
}

/// An identity at the provider was linked to `member`'s login: from now on it signs them in.
/// Whoever linked it (the member, or a first sign-in by provisioning or a verified address),
/// the member hears of it, so a link they did not make is one they can undo.
pub async fn identity_linked(
    ctx: &Ctx,
    conn: &mut Tx,
    member: &User,
    provider: &str,
    identity: &str,
    at: i64,
) -> Result<bool> {
    let when = format_time(at);
    let letter = Letter {
        subject: format!("A {provider} account now signs you in"),
        greeting: greeting(member),
        paragraphs: vec![
            format!(
                "At {when} the {provider} account {identity} was linked to your login {}: \
                 \"Sign in with {provider}\" now logs in as you.",
                member.username
            ),
            "If this was not you, unlink it on your Two-step login page, choose a new password \
             with \"Forgot password?\" on the login page, and tell your account's administrator."
                .into(),
        ],
        action: panel_url(ctx).map(|u| ("Log in".into(), u)),
        panel_url: None,
    };
    queue(ctx, conn, MailKind::IdentityLinked, member, &letter, false).await
}

/// What changed about a person's login, that they are told of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessChange {
    Password,
    TwoStepOn,
    TwoStepOff,
    /// They sign in only through single sign-on now: the password stopped working.
    SsoOnly,
    /// Their password works again beside single sign-on.
    PasswordAgain,
}

/// Wrong second steps for `member`'s login: someone who knows their password may be trying;
/// after `refused_after` of them, codes from the app stop working.
pub async fn second_step_alert(
    ctx: &Ctx,
    conn: &mut Tx,
    member: &User,
    failures: i64,
    refused_after: i64,
    at: i64,
) -> Result<bool> {
    let when = format_time(at);
    let letter = Letter {
        subject: "Someone who knows your password is trying to log in".into(),
        greeting: greeting(member),
        paragraphs: vec![
            format!(
                "{failures} wrong codes have been given at the second step of logging in as {}, \
                 the last at {when}. Only someone who knew your password got that far.",
                member.username
            ),
            format!(
                "If it was not you mistyping, change your password now (\"Forgot password?\" on \
                 the login page works too) and tell your account's administrator. After \
                 {refused_after} wrong codes, codes from your app stop working until you use a \
                 recovery code or a passkey."
            ),
        ],
        action: panel_url(ctx).map(|u| ("Open the panel".into(), u)),
        panel_url: None,
    };
    queue(ctx, conn, MailKind::SecondStepAlert, member, &letter, false).await
}

/// The alarm for impostors, to one of the account's administrators: `warning` says what was
/// seen.
pub async fn impostor_alarm(
    ctx: &Ctx,
    conn: &mut Tx,
    admin: &User,
    account: &Account,
    warning: String,
) -> Result<bool> {
    let letter = Letter {
        subject: format!("Someone may be calling Support pretending to be {}", account.name),
        greeting: greeting(admin),
        paragraphs: vec![
            warning,
            "The Overview page of the panel shows which members were asked about and whose              Support PIN is locked. If your people did not call Support, tell your hosting              provider: they can refuse the caller and watch for more calls."
                .into(),
        ],
        action: panel_url(ctx).map(|u| ("Open the Overview".into(), u)),
        panel_url: None,
    };
    queue(ctx, conn, MailKind::ImpostorAlarm, admin, &letter, false).await
}

/// The link that confirms a new address, sent to it (`to` holds the new address).
pub async fn email_confirm(ctx: &Ctx, conn: &mut Tx, to: &User, link: &str) -> Result<bool> {
    let letter = Letter {
        subject: "Confirm your new e-mail address".into(),
        greeting: greeting(to),
        paragraphs: vec![
            format!(
                "You asked to use this address for your login {} on the Support PIN panel. \
                 Confirm it with the link below: it works once, within 24 hours. Until then \
                 your old address stays in force.",
                to.username
            ),
            "If you did not ask for this, ignore this message: nothing changes.".into(),
        ],
        action: Some(("Confirm this address".into(), link.to_owned())),
        panel_url: None,
    };
    queue(ctx, conn, MailKind::EmailConfirm, to, &letter, true).await
}

/// Someone asked to change `member`'s address: the current address is told who and when. For
/// someone else's request (`asked_by`), with `answer_link` to accept or decline it.
pub async fn email_change_requested(
    ctx: &Ctx,
    conn: &mut Tx,
    member: &User,
    asked_by: Option<&str>,
    new: &str,
    at: i64,
    answer_link: Option<&str>,
) -> Result<bool> {
    let when = format_time(at);
    let login = &member.username;
    let (first, second) = match asked_by {
        None => (
            format!(
                "You asked at {when} to change the e-mail address of your login {login} to \
                 {new}. It changes when the link mailed to {new} is opened."
            ),
            "If it was not you, someone knows your password: change it now and tell your \
             account's administrator. The address does not change unless the new one is \
             confirmed."
                .to_owned(),
        ),
        Some(who) => (
            format!(
                "{who} asked at {when} to change the e-mail address of your login {login} to \
                 {new}. It changes only if you accept: on your profile in the panel, or with \
                 the button below."
            ),
            "If you did not expect this, decline it, and tell your account's administrator."
                .to_owned(),
        ),
    };
    let letter = Letter {
        subject: "A change of your e-mail address was asked for".into(),
        greeting: greeting(member),
        paragraphs: vec![first, second],
        action: answer_link
            .map(|l| ("Accept or decline".to_owned(), l.to_owned()))
            .or_else(|| panel_url(ctx).map(|u| ("Open the panel".into(), u))),
        panel_url: None,
    };
    let sealed = answer_link.is_some();
    queue(ctx, conn, MailKind::EmailRequested, member, &letter, sealed).await
}

/// `member`'s address was changed to `new`: the old address (theirs still in `member`) is told.
pub async fn email_changed(
    ctx: &Ctx,
    conn: &mut Tx,
    member: &User,
    new: &str,
    at: i64,
) -> Result<bool> {
    let when = format_time(at);
    let letter = Letter {
        subject: "Your e-mail address was changed".into(),
        greeting: greeting(member),
        paragraphs: vec![
            format!(
                "The e-mail address of your login {} was changed to {new} at {when}. Messages \
                 from the panel go there from now on, and your sessions and API tokens have \
                 ended.",
                member.username
            ),
            "If this was not you, tell your account's administrator at once.".into(),
        ],
        action: panel_url(ctx).map(|u| ("Open the panel".into(), u)),
        panel_url: None,
    };
    queue(ctx, conn, MailKind::EmailChanged, member, &letter, false).await
}
