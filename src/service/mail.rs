//! Mail: who is told what, rendered once (askama, a text and an HTML part) into the outbox in
//! the transaction of the event that causes it, and delivered by a worker in every `serve`
//! process over SMTP (`lettre`), with retries. A message never carries a PIN, a password, a
//! code or a token; one that carries a one-time link has its bodies sealed with the PIN key in
//! the outbox, and emptied once it is sent.

use std::time::Duration;

use askama::Template;
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{audit, audit_now, events, Actor, Ctx, Result, ServiceError};
use crate::domain::time::format_time;
use crate::domain::User;
use crate::store::{self, outbox};

/// How a `serve` process delivers mail.
#[derive(Clone)]
pub enum Delivery {
    /// Over SMTP (`PINPANEL_SMTP_URL`).
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// Written to the log instead (`--demo`), without any one-time link.
    Log,
    /// Not configured: messages stay in the outbox.
    None,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Delivery::Smtp(_) => "Smtp",
            Delivery::Log => "Log",
            Delivery::None => "None",
        })
    }
}

impl Delivery {
    /// Delivery over the SMTP server at `url`: `smtp://host:port` (plain; add `?tls=required`
    /// for STARTTLS), `smtps://host` (TLS), with an optional `user:password@`.
    pub fn smtp(url: &str) -> anyhow::Result<Delivery> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| anyhow::anyhow!("PINPANEL_SMTP_URL is not an SMTP URL: {e}"))?
            .timeout(Some(Duration::from_secs(10)))
            .build();
        Ok(Delivery::Smtp(transport))
    }

    /// Will messages reach people (rather than stay in the outbox or the log)?
    pub fn sends(&self) -> bool {
        matches!(self, Delivery::Smtp(_))
    }
}

/// One message, as both parts render it.
pub struct Letter {
    pub subject: String,
    pub greeting: String,
    pub paragraphs: Vec<String>,
    /// A button (HTML) and a line (text): the label and the URL.
    pub action: Option<(String, String)>,
    pub panel_url: Option<String>,
}

#[derive(Template)]
#[template(path = "mail/message.txt")]
struct TextPart<'a> {
    m: &'a Letter,
}

#[derive(Template)]
#[template(path = "mail/message.html")]
struct HtmlPart<'a> {
    m: &'a Letter,
    subject: &'a str,
}

fn render(letter: &Letter) -> Result<(String, String)> {
    let text = TextPart { m: letter }
        .render()
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("mail text: {e}")))?;
    let html = HtmlPart {
        m: letter,
        subject: &letter.subject,
    }
    .render()
    .map_err(|e| ServiceError::Internal(anyhow::anyhow!("mail HTML: {e}")))?;
    Ok((text, html))
}

/// The panel's address for links, when `PINPANEL_PUBLIC_URL` is set. Mail links to the panel's
/// start, which leads each person to their page after login (the panel's own URLs belong to
/// `web`).
pub fn panel_url(ctx: &Ctx) -> Option<String> {
    ctx.settings.public_url.as_ref().map(|u| u.to_string())
}

/// An absolute link to `route` (a panel route with a `{token}` segment) for a one-time token:
/// under `PINPANEL_PUBLIC_URL`, or the address this instance listens on.
pub fn one_time_link(ctx: &Ctx, route: &str, token: &str) -> String {
    let path = route.replace("{token}", token);
    match ctx.settings.link_base.join(&path) {
        Ok(url) => url.to_string(),
        Err(_) => path,
    }
}

fn greeting(to: &User) -> String {
    format!("Hello {},", to.full_name)
}

/// Queues `letter` to `to` inside the caller's transaction, with its audit row; a person
/// without an address is skipped (the Users page shows who has none). With `sealed`, the
/// message carries a one-time link and its bodies are kept encrypted.
pub async fn queue(
    ctx: &Ctx,
    conn: &mut sqlx::AnyConnection,
    kind: &str,
    to: &User,
    letter: &Letter,
    sealed: bool,
) -> Result<bool> {
    let Some(address) = to.email.as_deref() else {
        return Ok(false);
    };
    let (text, html) = render(letter)?;
    let message_id = format!("<{}@{}>", uuid::Uuid::new_v4(), message_domain(ctx));
    let (text, html) = if sealed {
        (
            ctx.cipher.seal_setting(&message_id, text.as_bytes()),
            ctx.cipher.seal_setting(&message_id, html.as_bytes()),
        )
    } else {
        (text.into_bytes(), html.into_bytes())
    };
    outbox::insert(
        conn,
        &outbox::NewMessage {
            kind,
            recipient: address,
            recipient_id: Some(to.id),
            message_id: &message_id,
            subject: &letter.subject,
            sealed,
            text_body: text,
            html_body: html,
        },
        store::now(),
    )
    .await?;
    audit(conn, events::MAIL_QUEUED, Actor::System, Some(to), kind).await?;
    Ok(true)
}

fn message_domain(ctx: &Ctx) -> String {
    ctx.settings
        .public_url
        .as_ref()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "pinpanel.invalid".to_owned())
}

/// Who did something, as a mail says it.
pub fn by_whom(actor: Actor<'_>, to: &User) -> String {
    match actor {
        Actor::User(u) if u.id == to.id => "you".to_owned(),
        Actor::User(u) if u.is_agent() => "Support".to_owned(),
        Actor::User(u) => format!("{} ({})", u.full_name, u.username),
        Actor::Cli => "an operator of the panel".to_owned(),
        Actor::System => "pinpanel".to_owned(),
    }
}

/// The Support PIN messages: what happened to `member`'s PIN, for them (and for a lock, for the
/// administrators who may unlock it).
pub mod pin {
    use super::*;
    use crate::domain::UnlockPolicy;

    pub async fn locked(
        ctx: &Ctx,
        conn: &mut sqlx::AnyConnection,
        member: &User,
        policy: UnlockPolicy,
        admins: &[User],
        at: i64,
    ) -> Result<()> {
        let when = format_time(at);
        let next = if policy == UnlockPolicy::SelfService {
            "To unlock it, log in to the panel, open Support PIN and choose Unlock. The PIN itself \
             does not change."
                .to_owned()
        } else {
            let names: Vec<String> = admins
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
                    "Your Support PIN was locked at {when}, after {} wrong PINs in a row were \
                     given to Support. Until it is unlocked, Support cannot verify you with it.",
                    crate::domain::MAX_PIN_FAILURES
                ),
                next,
                "If you did not call Support, someone may have tried to pass as you: tell your \
                 account's administrator."
                    .into(),
            ],
            action: panel_url(ctx).map(|u| ("Open your Support PIN".into(), u)),
            panel_url: None,
        };
        queue(ctx, conn, "pin.locked", member, &letter, false).await?;
        for admin in admins.iter().filter(|a| a.id != member.id) {
            let letter = Letter {
                subject: format!("The Support PIN of {} is locked", member.full_name),
                greeting: greeting(admin),
                paragraphs: vec![
                    format!(
                        "The Support PIN of {} ({}) was locked at {when}, after {} wrong PINs in \
                         a row were given to Support.",
                        member.full_name,
                        member.username,
                        crate::domain::MAX_PIN_FAILURES
                    ),
                    "As an administrator of the account you may unlock it on the Users page. \
                     If the member did not call Support, someone may have tried to pass as them."
                        .into(),
                ],
                action: panel_url(ctx).map(|u| ("Open the panel".into(), u)),
                panel_url: None,
            };
            queue(ctx, conn, "pin.locked", admin, &letter, false).await?;
        }
        Ok(())
    }

    /// Unlocked, changed or reset: one message to the member.
    pub async fn changed_state(
        ctx: &Ctx,
        conn: &mut sqlx::AnyConnection,
        kind: &str,
        actor: Actor<'_>,
        member: &User,
        at: i64,
    ) -> Result<()> {
        let by = by_whom(actor, member);
        let when = format_time(at);
        let (subject, what) = match kind {
            "pin.unlocked" => (
                "Your Support PIN was unlocked",
                format!("Your Support PIN was unlocked by {by} at {when}. It has not changed, and Support can verify you with it again."),
            ),
            "pin.changed" => (
                "Your Support PIN was changed",
                format!("Your Support PIN was changed by {by} at {when}. From now on Support verifies you with the new PIN."),
            ),
            _ => (
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
}

/// The messages about a person's access: invitations and password links (one-time links,
/// sealed in the outbox), a changed password, two-step login turned on or off.
pub mod access {
    use super::*;

    pub async fn invitation(
        ctx: &Ctx,
        conn: &mut sqlx::AnyConnection,
        member: &User,
        account_name: &str,
        by: &User,
        link: &str,
    ) -> Result<bool> {
        let letter = Letter {
            subject: format!("You are invited to {account_name}'s Support PIN panel"),
            greeting: greeting(member),
            paragraphs: vec![
                format!(
                    "{} ({}) added you to the Support PIN panel of {account_name}, with the \
                     username {}. You already have a Support PIN: Support asks for it before \
                     it helps you.",
                    by.full_name, by.username, member.username
                ),
                "Choose your password with the link below. It works once, within 72 hours; \
                 after that, ask for a new invitation."
                    .into(),
            ],
            action: Some(("Choose your password".into(), link.to_owned())),
            panel_url: None,
        };
        queue(ctx, conn, "member.invited", member, &letter, true).await
    }

    pub async fn password_link(
        ctx: &Ctx,
        conn: &mut sqlx::AnyConnection,
        member: &User,
        link: &str,
    ) -> Result<bool> {
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
        queue(ctx, conn, "password.link", member, &letter, true).await
    }

    /// Something about the person's login changed: their password, two-step login.
    pub async fn changed(
        ctx: &Ctx,
        conn: &mut sqlx::AnyConnection,
        kind: &str,
        member: &User,
        at: i64,
    ) -> Result<bool> {
        let when = format_time(at);
        let (subject, what) = match kind {
            "password.changed" => (
                "Your password was changed",
                format!("The password of your login {} was changed at {when}. Your other sessions and API tokens have ended.", member.username),
            ),
            "two_step.enabled" => (
                "Two-step login is on",
                format!("Two-step login was turned on for your login {} at {when}: after your password, the login now asks for a code or a passkey.", member.username),
            ),
            _ => (
                "Two-step login is off",
                format!("Two-step login was turned off for your login {} at {when}: your password alone now logs you in.", member.username),
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
        queue(ctx, conn, kind, member, &letter, false).await
    }
}

/// How long a claimed message is its worker's; a worker that dies mid-send loses it then.
const LEASE_SECS: i64 = 120;
/// An SMTP exchange longer than this fails (and is retried).
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// A message that could not go out within a day is given up, with the reason kept.
const GIVE_UP_AFTER_SECS: i64 = 24 * 3600;

/// When to try again after `attempts` failed tries: the first retries within a minute, then
/// spreading out to an hour.
pub fn retry_delay(attempts: i64) -> i64 {
    const DELAYS: [i64; 9] = [5, 15, 40, 120, 300, 600, 1200, 1800, 3600];
    let i = usize::try_from(attempts.max(1) - 1).unwrap_or(0);
    DELAYS[i.min(DELAYS.len() - 1)]
}

/// What happened to one attempt.
enum Outcome {
    Sent(String),
    Retry(String),
    GiveUp(String),
}

fn build(ctx: &Ctx, m: &outbox::Claimed, text: String, html: String) -> Result<lettre::Message> {
    let from: Mailbox = ctx
        .settings
        .mail_from
        .parse()
        .map_err(|e| ServiceError::Invalid(format!("PINPANEL_MAIL_FROM: {e}")))?;
    let to: Mailbox = m
        .recipient
        .parse()
        .map_err(|e| ServiceError::Invalid(format!("the recipient's address: {e}")))?;
    let date = std::time::UNIX_EPOCH
        + Duration::from_secs(u64::try_from(m.created_at).unwrap_or_default());
    lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(m.subject.clone())
        .message_id(Some(m.message_id.clone()))
        .date(date)
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html),
                ),
        )
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("building a mail: {e}")))
}

fn bodies(ctx: &Ctx, m: &outbox::Claimed) -> Result<(String, String)> {
    let open = |b: &[u8]| -> Result<String> {
        let bytes = if m.sealed {
            ctx.cipher.open_setting(&m.message_id, b)?
        } else {
            b.to_vec()
        };
        String::from_utf8(bytes)
            .map_err(|_| ServiceError::Internal(anyhow::anyhow!("a mail body is not UTF-8")))
    };
    Ok((open(&m.text_body)?, open(&m.html_body)?))
}

async fn attempt(ctx: &Ctx, delivery: &Delivery, m: &outbox::Claimed) -> Outcome {
    let (text, html) = match bodies(ctx, m) {
        Ok(b) => b,
        Err(e) => return Outcome::GiveUp(format!("unreadable: {e}")),
    };
    match delivery {
        Delivery::None => Outcome::Retry("mail is not configured".into()),
        Delivery::Log => {
            if m.sealed {
                tracing::info!(target: "pinpanel::mail", kind = %m.kind, to = %m.recipient, subject = %m.subject,
                    "mail (demo, not sent): it carries a one-time link, which is not logged");
            } else {
                tracing::info!(target: "pinpanel::mail", kind = %m.kind, to = %m.recipient, subject = %m.subject,
                    body = %text, "mail (demo, not sent)");
            }
            Outcome::Sent("written to the log".into())
        }
        Delivery::Smtp(transport) => {
            let message = match build(ctx, m, text, html) {
                Ok(message) => message,
                Err(e) => return Outcome::GiveUp(e.to_string()),
            };
            match tokio::time::timeout(SEND_TIMEOUT, transport.send(message)).await {
                Ok(Ok(response)) => Outcome::Sent(format!(
                    "{} {}",
                    response.code(),
                    response.message().collect::<Vec<_>>().join(" ")
                )),
                Ok(Err(e)) if e.is_permanent() => Outcome::GiveUp(format!("refused: {e}")),
                Ok(Err(e)) => Outcome::Retry(e.to_string()),
                Err(_) => Outcome::Retry("the SMTP server did not answer in time".into()),
            }
        }
    }
}

/// One round of the worker: claims what is due, tries each message once, records the outcome.
/// Returns how many messages it handled.
pub async fn deliver_due(ctx: &Ctx, delivery: &Delivery, owner: &str) -> Result<usize> {
    if matches!(delivery, Delivery::None) {
        return Ok(0);
    }
    let now = store::now();
    let claimed = outbox::claim(
        &ctx.db.pool,
        ctx.db.backend,
        owner,
        now,
        now + LEASE_SECS,
        20,
    )
    .await?;
    for m in &claimed {
        ctx.mail_worker.beat();
        let outcome = attempt(ctx, delivery, m).await;
        let recipient = match m.recipient_id {
            Some(id) => store::users::by_id(&ctx.db.pool, id).await?,
            None => None,
        };
        let now = store::now();
        let mut tx = ctx.db.begin().await?;
        match outcome {
            Outcome::Sent(answer) => {
                if outbox::mark_sent(&mut tx, m.id, owner, now).await? {
                    ctx.metrics.mail_sent();
                    tracing::info!(kind = %m.kind, id = m.id, answer = %answer, "mail sent");
                    audit(
                        &mut tx,
                        events::MAIL_SENT,
                        Actor::System,
                        recipient.as_ref(),
                        &m.kind,
                    )
                    .await?;
                }
            }
            Outcome::Retry(why) if now - m.created_at < GIVE_UP_AFTER_SECS => {
                let next = now + retry_delay(m.attempts);
                tracing::warn!(kind = %m.kind, id = m.id, attempts = m.attempts, error = %why, "mail not sent yet; will retry");
                outbox::mark_failed(&mut tx, m.id, owner, next, false, &why).await?;
                ctx.metrics.mail_failed(false);
            }
            Outcome::Retry(why) | Outcome::GiveUp(why) => {
                tracing::error!(kind = %m.kind, id = m.id, attempts = m.attempts, error = %why, "mail given up");
                if outbox::mark_failed(&mut tx, m.id, owner, now, true, &why).await? {
                    ctx.metrics.mail_failed(true);
                    let detail =
                        format!("{}: {}", m.kind, why.chars().take(200).collect::<String>());
                    audit(
                        &mut tx,
                        events::MAIL_FAILED,
                        Actor::System,
                        recipient.as_ref(),
                        &detail,
                    )
                    .await?;
                }
            }
        }
        tx.commit().await?;
    }
    Ok(claimed.len())
}

/// The worker of a `serve` process: delivers due messages until the task is dropped. A round
/// that found work looks again at once; an idle one waits a second.
pub async fn worker(ctx: Ctx, delivery: Delivery) {
    let owner = format!("worker-{}", uuid::Uuid::new_v4().simple());
    match &delivery {
        Delivery::None => tracing::warn!(
            "mail is not configured (PINPANEL_SMTP_URL): messages stay in the outbox until it is"
        ),
        Delivery::Log => tracing::info!("demo: mail is written to the log instead of sent"),
        Delivery::Smtp(_) => {
            tracing::info!(from = %ctx.settings.mail_from, "mail goes out over SMTP")
        }
    }
    if matches!(delivery, Delivery::None) {
        ctx.mail_worker.off();
        return;
    }
    loop {
        ctx.mail_worker.beat();
        match deliver_due(&ctx, &delivery, &owner).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the mail worker failed a round"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// `pinpanel mail test --to ADDRESS`: one message straight over SMTP; the server's answer.
pub async fn send_test(ctx: &Ctx, delivery: &Delivery, to: &str) -> Result<String> {
    let Delivery::Smtp(transport) = delivery else {
        return Err(ServiceError::Invalid(
            "mail is not configured: set PINPANEL_SMTP_URL".into(),
        ));
    };
    let to = crate::domain::parse_email(to).map_err(ServiceError::Invalid)?;
    let letter = Letter {
        subject: "pinpanel test message".into(),
        greeting: "Hello,".into(),
        paragraphs: vec![
            "This is a test message from pinpanel: mail from this panel reaches you.".into(),
        ],
        action: None,
        panel_url: panel_url(ctx),
    };
    let (text, html) = render(&letter)?;
    let claimed = outbox::Claimed {
        id: 0,
        created_at: store::now(),
        kind: "mail.test".into(),
        recipient: to,
        recipient_id: None,
        message_id: format!("<{}@{}>", uuid::Uuid::new_v4(), message_domain(ctx)),
        subject: letter.subject.clone(),
        sealed: false,
        text_body: Vec::new(),
        html_body: Vec::new(),
        attempts: 1,
    };
    let message = build(ctx, &claimed, text, html)?;
    let response = tokio::time::timeout(SEND_TIMEOUT, transport.send(message))
        .await
        .map_err(|_| ServiceError::Invalid("the SMTP server did not answer in time".into()))?
        .map_err(|e| ServiceError::Invalid(format!("the SMTP server refused: {e}")))?;
    audit_now(&ctx.db, events::MAIL_SENT, Actor::Cli, None, "mail.test").await?;
    Ok(format!(
        "{} {}",
        response.code(),
        response.message().collect::<Vec<_>>().join(" ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_start_within_a_minute_and_spread_out_to_an_hour() {
        assert!(retry_delay(1) < 60 && retry_delay(2) < 60);
        let delays: Vec<i64> = (1..=12).map(retry_delay).collect();
        assert!(delays.windows(2).all(|w| w[0] <= w[1]), "{delays:?}");
        assert_eq!(retry_delay(50), 3600);
    }
}
