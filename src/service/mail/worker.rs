//! Delivering the outbox: a worker in every `serve` process claims due messages with a lease,
//! sends them over SMTP (`lettre`), and records each outcome, retrying with backoff for a day.
//! Also `pinpanel mail test`, one message straight over SMTP.

use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{new_message_id, panel_url, render, Letter};
use crate::domain::{EmailAddress, Event, MailKind};
use crate::service::{Actor, AuditRecord, Ctx, Result, ServiceError};
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
    let claimed = outbox::claim(&ctx.db, owner, now, now + LEASE_SECS, 20).await?;
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
                    AuditRecord::new(Event::MailSent, Actor::System)
                        .subject(recipient.as_ref())
                        .detail(&m.kind)
                        .write(&mut tx)
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
                    AuditRecord::new(Event::MailFailed, Actor::System)
                        .subject(recipient.as_ref())
                        .detail(&detail)
                        .write(&mut tx)
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
    let to = EmailAddress::parse(to).map_err(ServiceError::Invalid)?;
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
        kind: MailKind::Test.as_str().into(),
        recipient: to.into_string(),
        recipient_id: None,
        message_id: new_message_id(ctx),
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
    AuditRecord::new(Event::MailSent, Actor::Cli)
        .detail("mail.test")
        .write_now(&ctx.db)
        .await?;
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
