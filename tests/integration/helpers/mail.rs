//! Mail as it arrives: a real SMTP server (Debian's `python3-aiosmtpd`, started on a free port
//! with its Maildir handler, so every message it accepts is a file the test reads; no mocks),
//! an app that sends to it, and what a message says.
//!
//! Without the package the mail tests say so and skip; `PINPANEL_REQUIRE_SMTP=1` (as `.ci/run`
//! sets) makes that a failure.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use pinpanel::service::mail::Delivery;
use pinpanel::startup::ServeSettings;

use super::app::{free_port, spawn_public_app, test_settings, TestApp};
use super::backends::Backend;
use super::tools::{runs, tool_here};
use super::wait::eventually;

/// Debian's interpreter: its packages are not on the path of another Python (pyenv's, say).
const PYTHON: &str = "/usr/bin/python3";

pub struct MailServer {
    child: Child,
    pub port: u16,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for MailServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn aiosmtpd_available() -> bool {
    tool_here(
        runs(PYTHON, &["-c", "import aiosmtpd"]),
        "PINPANEL_REQUIRE_SMTP",
        "aiosmtpd is missing (apt-get install python3-aiosmtpd)",
    )
}

impl MailServer {
    /// Starts an SMTP server on a free port, or `None` without aiosmtpd.
    pub async fn start() -> Option<MailServer> {
        MailServer::start_on(free_port()).await
    }

    /// Starts an SMTP server on `port` (for a server that was configured before it existed).
    pub async fn start_on(port: u16) -> Option<MailServer> {
        if !aiosmtpd_available() {
            return None;
        }
        let dir = tempfile::tempdir().expect("a temp dir");
        // The Maildir handler creates its folders only when it creates the folder itself.
        let maildir = dir.path().join("mail");
        let child = Command::new(PYTHON)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        eventually("aiosmtpd listening", Duration::from_secs(20), async || {
            tokio::net::TcpStream::connect(("127.0.0.1", port)).await
        })
        .await;
        Some(MailServer {
            child,
            port,
            maildir,
            _dir: dir,
        })
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far.
    pub fn messages(&self) -> Vec<Mail> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.maildir.join("new"))
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .map(|raw| Mail::parse(&raw))
            .collect()
    }

    /// Waits (with a deadline) for a message with `subject`.
    pub async fn wait_for_subject(&self, subject: &str) -> Mail {
        let mut found = self.wait_for_subject_n(subject, 1).await;
        found.swap_remove(0)
    }

    /// Waits (with a deadline) until `n` messages with `subject` have arrived; returns them.
    pub async fn wait_for_subject_n(&self, subject: &str, n: usize) -> Vec<Mail> {
        let what = format!("{n} messages {subject:?}");
        eventually(&what, Duration::from_secs(60), async || {
            let found: Vec<Mail> = self
                .messages()
                .into_iter()
                .filter(|m| m.subject() == subject)
                .collect();
            if found.len() >= n {
                Ok(found)
            } else {
                Err(format!("{} arrived", found.len()))
            }
        })
        .await
    }

    /// Waits (with a deadline) until at least `n` messages have arrived; returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Mail> {
        let what = format!("{n} messages");
        eventually(&what, Duration::from_secs(60), async || {
            let all = self.messages();
            if all.len() >= n {
                Ok(all)
            } else {
                Err(format!(
                    "only {}: {:?}",
                    all.len(),
                    all.iter().map(|m| m.header("subject")).collect::<Vec<_>>()
                ))
            }
        })
        .await
    }
}

/// A received message: its headers and its decoded text and HTML parts.
#[derive(Debug, Clone)]
pub struct Mail {
    pub headers: Vec<(String, String)>,
    pub text: String,
    pub html: String,
    pub raw: String,
}

fn decode(encoding: &str, body: &str) -> String {
    match encoding.to_ascii_lowercase().as_str() {
        "quoted-printable" => String::from_utf8_lossy(
            &quoted_printable::decode(body.as_bytes(), quoted_printable::ParseMode::Robust)
                .unwrap_or_default(),
        )
        .into_owned(),
        "base64" => String::from_utf8_lossy(
            &base64::engine::general_purpose::STANDARD
                .decode(body.split_whitespace().collect::<String>())
                .unwrap_or_default(),
        )
        .into_owned(),
        _ => body.to_owned(),
    }
}

/// Headers (unfolded) and body of one MIME entity.
fn split(entity: &str) -> (Vec<(String, String)>, String) {
    let (head, body) = entity.split_once("\n\n").unwrap_or((entity, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    (headers, body.to_owned())
}

fn get<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

impl Mail {
    pub fn parse(raw: &str) -> Mail {
        let raw = raw.replace("\r\n", "\n");
        let (headers, body) = split(&raw);
        let mut mail = Mail {
            headers: headers.clone(),
            text: String::new(),
            html: String::new(),
            raw: raw.clone(),
        };
        let content_type = get(&headers, "content-type").unwrap_or("").to_owned();
        if let Some(at) = content_type.find("boundary=") {
            let boundary = content_type[at + "boundary=".len()..]
                .trim_matches(|c| c == '"' || c == ';')
                .split([';', '"'])
                .next()
                .unwrap_or("")
                .to_owned();
            for part in body.split(&format!("--{boundary}")) {
                let part = part.trim_start_matches('\n');
                if part.starts_with("--") || part.trim().is_empty() {
                    continue;
                }
                let (h, b) = split(part);
                let encoding = get(&h, "content-transfer-encoding").unwrap_or("7bit");
                let ct = get(&h, "content-type").unwrap_or("");
                let decoded = decode(encoding, &b);
                if ct.starts_with("text/plain") {
                    mail.text = decoded;
                } else if ct.starts_with("text/html") {
                    mail.html = decoded;
                }
            }
        } else {
            let encoding = get(&headers, "content-transfer-encoding").unwrap_or("7bit");
            mail.text = decode(encoding, &body);
        }
        mail
    }

    pub fn header(&self, name: &str) -> String {
        get(&self.headers, &name.to_ascii_lowercase())
            .unwrap_or("")
            .to_owned()
    }

    /// The envelope recipient aiosmtpd recorded.
    pub fn to(&self) -> String {
        self.header("x-rcptto")
    }

    pub fn subject(&self) -> String {
        self.header("subject")
    }
}

/// An app whose mail goes to a real SMTP server (and so has a public URL), or `None` without
/// aiosmtpd (or PostgreSQL).
pub async fn mailing_app(backend: Backend) -> Option<(TestApp, MailServer)> {
    let smtp = MailServer::start().await?;
    let settings = ServeSettings {
        delivery: Delivery::smtp(&smtp.url()).expect("an SMTP URL"),
        ..test_settings()
    };
    let app = spawn_public_app(backend, settings).await?;
    Some((app, smtp))
}

/// The first link in a mail's text part that starts with `prefix`.
pub fn link_in(mail: &Mail, prefix: &str) -> String {
    let at = mail.text.find(prefix).expect("a link in the mail");
    mail.text[at..]
        .split_whitespace()
        .next()
        .expect("a link")
        .to_owned()
}

/// How many mails of `kind` the outbox holds for `address`.
pub async fn mails_to(app: &TestApp, kind: &str, address: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE kind = $1 AND recipient = $2")
        .bind(kind)
        .bind(address)
        .fetch_one(app.pool())
        .await
        .expect("count mail")
}
