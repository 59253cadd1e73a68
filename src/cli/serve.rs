//! `pinpanel serve`: the settings from the command line, the demo data or the first start's
//! set-up link, and the server until Ctrl-C or SIGTERM.

use crate::config::{MailArgs, ServeArgs};
use crate::service::{links, mail};
use crate::startup::{self, App, ServeSettings};

/// How mail goes out: through the SMTP server named, else (for `--demo`, `fallback`) into the
/// log, else it stays in the outbox.
pub(super) fn delivery(
    mail: &MailArgs,
    fallback: mail::Delivery,
) -> anyhow::Result<mail::Delivery> {
    match &mail.smtp_url {
        Some(url) => mail::Delivery::smtp(url),
        None => Ok(fallback),
    }
}

/// `--demo` on a loopback address serves plain http: cookies are not marked Secure unless
/// `PINPANEL_COOKIE_SECURE` says so.
fn demo_over_http(args: &ServeArgs) -> bool {
    args.cookie_secure.is_none() && args.demo && args.addr.ip().is_loopback()
}

/// `serve`'s flags and the mail flags it shares with every command, as the server's settings:
/// the one place a flag becomes a setting.
impl TryFrom<(&ServeArgs, &MailArgs)> for ServeSettings {
    type Error = anyhow::Error;

    fn try_from((args, mail): (&ServeArgs, &MailArgs)) -> anyhow::Result<Self> {
        Ok(ServeSettings {
            cookie_secure: args.cookie_secure.unwrap_or(!demo_over_http(args)),
            reauth_secs: i64::from(args.reauth_minutes) * 60,
            idle_timeout_secs: i64::from(args.idle_timeout_minutes) * 60,
            absolute_timeout_secs: i64::from(args.absolute_timeout_hours) * 3600,
            audit_retention_days: args.audit_retention_days,
            trusted_proxies: args.trusted_proxies.clone(),
            public_url: args.public_url.clone(),
            delivery: delivery(
                mail,
                if args.demo {
                    mail::Delivery::Log
                } else {
                    mail::Delivery::None
                },
            )?,
            mail_from: mail.mail_from.clone(),
            default_region: args.default_region.clone(),
            require_two_step: args.require_two_step.0.clone(),
            metrics_addr: args.metrics_addr,
            verify_limit: args.verify_limit,
            token_limit: args.token_limit,
            sso: args.oidc.config()?,
            ..ServeSettings::default()
        })
    }
}

pub async fn serve(
    opened: startup::Opened,
    args: ServeArgs,
    mail: &MailArgs,
) -> anyhow::Result<()> {
    let settings = ServeSettings::try_from((&args, mail))?;
    if demo_over_http(&args) {
        println!(
            "note: --demo on a loopback address, so cookies are not marked Secure and plain \
             http works; behind HTTPS set PINPANEL_COOKIE_SECURE=true"
        );
    }
    let demo_logins = if args.demo {
        crate::demo::seed(&opened.ctx).await?
    } else {
        None
    };
    let cookie_secure = settings.cookie_secure;
    let app = App::build(opened, args.addr, &settings).await?;
    let addr = app.local_addr()?;
    if !args.demo {
        // The first start: a one-time link that creates the first account and its
        // administrator.
        if let Some(token) = links::setup_token(app.ctx()).await? {
            let link = mail::one_time_link(app.ctx(), app.ctx().settings.link_routes.setup, &token);
            println!(
                "pinpanel has no account yet: open {link} to create the first account and its \
                 administrator (the link works once)"
            );
        }
    }
    let scheme = if cookie_secure {
        "https (behind your TLS proxy)"
    } else {
        "http"
    };
    if args.demo {
        match demo_logins {
            Some(logins) => crate::demo::print(&logins, !args.require_two_step.0.is_empty()),
            None => println!(
                "demo: the database already has accounts, so no demo data was added (the demo \
                 logins were printed when it was created; `pinpanel member set-password` sets \
                 new ones)"
            ),
        }
    }
    if let Some(metrics) = app.metrics_addr() {
        println!("metrics on http://{metrics}/metrics");
    }
    println!("pinpanel is listening on http://{addr} ({scheme})");
    tracing::info!(%addr, cookie_secure, "listening");
    app.run_until(startup::shutdown_signal()).await
}
