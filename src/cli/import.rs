//! `pinpanel import members FILE`: the file checked whole (every problem listed with its line,
//! nothing written, exit status 1), then written in batches with a progress bar on a terminal
//! (a line every 10 % otherwise), and a summary.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use super::plainly;
use crate::config::{ImportCommand, MailArgs};
use crate::service::import::{self, Scope};
use crate::service::mail::Delivery;
use crate::service::{self, Actor};
use crate::startup::{Opened, ServeSettings};

pub async fn run(opened: &Opened, command: ImportCommand, mail: &MailArgs) -> anyhow::Result<()> {
    let ImportCommand::Members {
        file,
        dry_run,
        create_accounts,
        no_invite,
        public_url,
    } = command;
    let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    // Invitations carry links to the panel: they are queued (for the server's worker to send)
    // only when mail and the public address are both known (`use_cases(None)`).
    let settings = ServeSettings {
        public_url,
        delivery: super::serve::delivery(mail, Delivery::None)?,
        mail_from: mail.mail_from.clone(),
        ..ServeSettings::default()
    };
    let ctx = opened.context(settings.use_cases(None)?, service::Instance::default())?;
    let plan = import::plan(&ctx, &bytes, &Scope::Anywhere { create_accounts })
        .await
        .map_err(plainly)?;
    if !plan.is_clean() {
        for p in plan.problems.iter() {
            println!("{p}");
        }
        if plan.problems.more() != 0 {
            println!("… and {} more", plan.problems.more());
        }
        anyhow::bail!(
            "{} problem{} in {}: nothing was written",
            plan.problems.len(),
            if plan.problems.len() == 1 { "" } else { "s" },
            file.display()
        );
    }
    let invite = !no_invite;
    if dry_run {
        println!(
            "the file is clean: {} member{} would be created, {} skipped (already there), {} \
             account{} created; nothing was written",
            plan.rows.len(),
            if plan.rows.len() == 1 { "" } else { "s" },
            plan.skipped.len(),
            plan.new_accounts.len(),
            if plan.new_accounts.len() == 1 {
                ""
            } else {
                "s"
            },
        );
        return Ok(());
    }
    if invite && !ctx.settings.mail_sends {
        eprintln!(
            "no invitations: set PINPANEL_SMTP_URL and PINPANEL_PUBLIC_URL to queue them (members \
             can choose a password with \"Forgot password?\")"
        );
    }
    let total = plan.rows.len();
    let mut report = Progress::new(total);
    let summary = import::run(
        &ctx,
        Actor::Cli,
        &plan,
        invite && ctx.settings.mail_sends,
        |done| report.at(done),
    )
    .await
    .map_err(plainly)?;
    report.finish();
    println!(
        "created {}, skipped {} (already there), invitations queued {}, accounts created {}, \
         in {:.1} s",
        summary.created,
        summary.skipped,
        summary.invitations,
        summary.accounts_created,
        summary.took.as_secs_f64()
    );
    Ok(())
}

/// How far the import is: a bar on a terminal, a line every 10 % otherwise.
enum Progress {
    Bar(ProgressBar),
    Lines { total: usize, said: usize },
}

impl Progress {
    fn new(total: usize) -> Self {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} rows · {per_sec} · {eta} left")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            Progress::Bar(bar)
        } else {
            Progress::Lines { total, said: 0 }
        }
    }

    fn at(&mut self, done: usize) {
        match self {
            Progress::Bar(bar) => bar.set_position(done as u64),
            Progress::Lines { total, said } => {
                let tenth = done * 10 / (*total).max(1);
                while *said < tenth {
                    *said += 1;
                    eprintln!(
                        "imported {}% ({} of {total} rows)",
                        *said * 10,
                        (*total * *said / 10).min(done)
                    );
                }
            }
        }
    }

    fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
