//! The use cases' settings, the same for every face, and their defaults written once.

use crate::domain::Role;

/// The defaults of the use cases' settings, written once: `Settings::default`, the command
/// line's defaults and the README's table all come from these.
pub mod defaults {
    use crate::domain::Role;

    /// `PINPANEL_REAUTH_MINUTES`.
    pub const REAUTH_MINUTES: u32 = 15;
    /// `PINPANEL_AUDIT_RETENTION_DAYS`.
    pub const AUDIT_RETENTION_DAYS: i64 = 400;
    /// `PINPANEL_REQUIRE_TWO_STEP`.
    pub const REQUIRE_TWO_STEP: &[Role] = &[Role::Agent, Role::Admin];
    /// `PINPANEL_MAIL_FROM`.
    pub const MAIL_FROM: &str = "pinpanel <pinpanel@localhost>";
    /// `PINPANEL_VERIFY_LIMIT`, verifications per agent per minute.
    pub const VERIFY_LIMIT: i64 = 60;
    /// `PINPANEL_TOKEN_LIMIT`, token requests per client address per minute.
    pub const TOKEN_LIMIT: i64 = 120;
    /// How long an instance holds a browser import before another may resume it (it renews
    /// the lease with every batch).
    pub const IMPORT_LEASE_SECS: i64 = 30;
}

/// The use cases' settings, the same for every face.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The roles that must set up two-step login (`PINPANEL_REQUIRE_TWO_STEP`).
    pub require_two_step: Vec<Role>,
    /// How long a password entry allows showing and changing the PIN ("sudo mode"), in the
    /// panel and through the API alike.
    pub reauth_secs: i64,
    /// Audit rows older than this many days are purged.
    pub audit_retention_days: i64,
    /// Where people reach the panel (`PINPANEL_PUBLIC_URL`): the base of links in mail, the
    /// origin of passkeys.
    pub public_url: Option<url::Url>,
    /// The sender of mail (`PINPANEL_MAIL_FROM`).
    pub mail_from: String,
    /// Mail reaches people (SMTP is configured), rather than staying in the outbox or the log.
    pub mail_sends: bool,
    /// The base of one-time links: the public URL, or the address this instance listens on.
    pub link_base: url::Url,
    /// The panel's pages that one-time links open (the face names them; `startup` passes them).
    pub link_routes: LinkRoutes,
    /// How long an instance holds a browser import it writes before another may resume it.
    pub import_lease_secs: i64,
}

/// The panel's routes of one-time links, each with a `{token}` segment.
#[derive(Debug, Clone, Default)]
pub struct LinkRoutes {
    pub invitation: &'static str,
    pub password: &'static str,
    pub setup: &'static str,
    /// A new address confirms a person's own change.
    pub email_confirm: &'static str,
    /// The current address answers someone else's request to change it.
    pub email_answer: &'static str,
}

impl Settings {
    /// Must people of `role` set up two-step login before anything else
    /// (`PINPANEL_REQUIRE_TWO_STEP`)?
    pub fn requires_two_step(&self, role: Role) -> bool {
        self.require_two_step.contains(&role)
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            require_two_step: defaults::REQUIRE_TWO_STEP.to_vec(),
            reauth_secs: i64::from(defaults::REAUTH_MINUTES) * 60,
            audit_retention_days: defaults::AUDIT_RETENTION_DAYS,
            public_url: None,
            mail_from: defaults::MAIL_FROM.into(),
            mail_sends: false,
            link_base: url::Url::parse("http://localhost/").unwrap_or_else(|_| unreachable!()),
            link_routes: LinkRoutes::default(),
            import_lease_secs: defaults::IMPORT_LEASE_SECS,
        }
    }
}
