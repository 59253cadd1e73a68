//! Mail: a message is rendered once (askama, a text and an HTML part) and queued into the outbox
//! in the transaction of the event that causes it. [`messages`] is the catalogue (who is told
//! what), [`worker`] the delivery over SMTP with retries. A message never carries a PIN, a
//! password, a code or a token; one that carries a one-time link has its bodies sealed with the
//! PIN key in the outbox, and emptied once it is sent.

pub mod messages;
pub mod worker;

use askama::Template;

use super::{Actor, AuditRecord, Ctx, Result, ServiceError};
use crate::domain::{Event, MailKind, User};
use crate::store::{self, outbox, Tx};

pub use worker::Delivery;

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

/// The text and HTML parts of `letter`.
pub(super) fn render(letter: &Letter) -> Result<(String, String)> {
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

/// Queues `letter` of `kind` to `to` inside the caller's transaction, with its audit row; a
/// person without an address is skipped (the Users page shows who has none). With `sealed`,
/// the message carries a one-time link and its bodies are kept encrypted.
pub async fn queue(
    ctx: &Ctx,
    conn: &mut Tx,
    kind: MailKind,
    to: &User,
    letter: &Letter,
    sealed: bool,
) -> Result<bool> {
    let Some(address) = to.email.as_deref() else {
        return Ok(false);
    };
    let (text, html) = render(letter)?;
    let message_id = new_message_id(ctx);
    let (text, html) = if sealed {
        super::keys::hold(ctx, conn).await?;
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
            kind: kind.as_str(),
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
    AuditRecord::new(Event::MailQueued, Actor::System)
        .about(to)
        .detail(kind.as_str())
        .write(conn)
        .await?;
    Ok(true)
}

/// A new Message-ID, under the public URL's host.
pub(super) fn new_message_id(ctx: &Ctx) -> String {
    let domain = ctx
        .settings
        .public_url
        .as_ref()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "pinpanel.invalid".to_owned());
    format!("<{}@{domain}>", uuid::Uuid::new_v4())
}
