//! The command line; every option can also come from the environment.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::crypto::KeySource;

/// What `pinpanel --version` prints after the name: the version and the commit it was built
/// from (`build.rs`; `unknown` outside a git checkout unless `PINPANEL_COMMIT` says).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("PINPANEL_COMMIT"),
    ")"
);
use crate::domain::{Kind, Role, UnlockPolicy};
use crate::http::{self, client::TrustedProxies};
use crate::service::defaults;

/// pinpanel: a self-hosted control panel for Support PINs.
#[derive(Debug, Parser)]
#[command(name = "pinpanel", version = VERSION, about)]
pub struct Cli {
    /// Database to use: `sqlite:FILE` (created when missing) or `postgres://...`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite:pinpanel.db",
        global = true
    )]
    pub database_url: String,

    /// The PIN encryption key: 32 bytes as 64 hex digits or base64. As a flag it shows in the
    /// process list (`ps`) to every user of the machine: prefer PINPANEL_KEY_FILE, or at least
    /// the PINPANEL_KEY environment variable.
    #[arg(
        long = "key",
        env = "PINPANEL_KEY",
        hide_env_values = true,
        global = true
    )]
    pub key: Option<String>,

    /// A file holding the PIN key [default with SQLite: pinpanel.key beside the database,
    /// created with mode 0600 on first start].
    #[arg(long, env = "PINPANEL_KEY_FILE", global = true)]
    pub key_file: Option<PathBuf>,

    /// How mail goes out (every command that writes mail shares it).
    #[command(flatten)]
    pub mail: MailArgs,

    /// How log lines are written to stderr: `text`, or `json` (one object per line).
    #[arg(
        long,
        env = "PINPANEL_LOG_FORMAT",
        value_enum,
        default_value_t = crate::telemetry::LogFormat::Text,
        global = true
    )]
    pub log_format: crate::telemetry::LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    pub fn key_source(&self) -> KeySource {
        KeySource {
            key: self.key.clone(),
            key_file: self.key_file.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web panel and the JSON API.
    Serve(Box<ServeArgs>),
    /// Apply the database migrations and exit.
    Migrate,
    /// Manage accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Manage account members (users and contacts).
    #[command(subcommand)]
    Member(MemberCommand),
    /// Manage support agents.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Provisioning with SCIM 2.0: an account's identity system keeps its members in step.
    #[command(subcommand)]
    Scim(ScimCommand),
    /// Bring an existing customer base in from a file.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Mail: check that it goes out.
    #[command(subcommand)]
    Mail(MailCommand),
    /// The PIN encryption key.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Copy the SQLite database to FILE while the server runs (consistent, mode 0600). With
    /// PostgreSQL use pg_dump (this says how and exits with status 1).
    Backup {
        /// Where the copy goes; must not exist.
        file: PathBuf,
    },
    /// Load-testing helpers for bench/run.sh (not for production databases).
    #[command(subcommand, hide = true)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import members from a CSV file (columns account, username, name, email, type, role, and
    /// optionally external_id and pin). The whole file is checked first: with any problem,
    /// nothing is written and each is listed with its line. Run again after an interruption, it
    /// completes without duplicates.
    Members {
        /// The CSV file (UTF-8, commas or semicolons, a header row).
        file: PathBuf,
        /// Check the file and say what would be done; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Create the accounts the file names that do not exist (else they are refused).
        #[arg(long)]
        create_accounts: bool,
        /// Send no invitations (members choose a password later with "Forgot password?").
        #[arg(long)]
        no_invite: bool,
        /// Where people reach the panel, for the links in invitations (with PINPANEL_SMTP_URL,
        /// invitations are queued for the server to send).
        #[arg(long, env = "PINPANEL_PUBLIC_URL")]
        public_url: Option<url::Url>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScimCommand {
    /// Provisioning tokens.
    #[command(subcommand)]
    Token(ScimTokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum ScimTokenCommand {
    /// Make a provisioning token for an account; prints the token alone on its last line (it is
    /// shown this once).
    Create {
        /// The account's number.
        #[arg(long)]
        account: String,
        /// What the token is for, as the activity names it (the identity system, say).
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Create an account with many members (sharing one password) and some agents, fast;
    /// writes "id pin" per member to --out.
    Seed {
        #[arg(long)]
        members: usize,
        #[arg(long, default_value_t = 8)]
        agents: usize,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Print the median time of one argon2id verification in milliseconds.
    Argon2 {
        #[arg(long, default_value_t = 21)]
        runs: usize,
    },
}

/// The mail flags every command shares.
#[derive(Debug, Clone, Args)]
pub struct MailArgs {
    /// The SMTP server mail goes through: `smtp://host:port` (plain; `?tls=required` for
    /// STARTTLS), `smtps://host:port` (TLS), with an optional `user:password@`. Without it mail
    /// stays in the outbox.
    #[arg(long, env = "PINPANEL_SMTP_URL", hide_env_values = true, global = true)]
    pub smtp_url: Option<String>,

    /// The sender of mail, e.g. `Support PINs <pins@example.com>`.
    #[arg(
        long,
        env = "PINPANEL_MAIL_FROM",
        default_value = defaults::MAIL_FROM,
        global = true
    )]
    pub mail_from: String,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PINPANEL_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Serve Prometheus metrics at http://ADDR/metrics (an address of its own, e.g.
    /// 127.0.0.1:9898; never the public one). Without it there are no metrics.
    #[arg(long, env = "PINPANEL_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// On an empty database, create a demo account with an admin, a user, a contact and an
    /// agent, and print their logins.
    #[arg(long)]
    pub demo: bool,

    /// Mark cookies Secure (HTTPS only). Defaults to true; `--demo` on a loopback address turns
    /// it off unless it is set explicitly.
    #[arg(long, env = "PINPANEL_COOKIE_SECURE", action = clap::ArgAction::Set)]
    pub cookie_secure: Option<bool>,

    /// Minutes after a password entry during which the PIN may be shown or changed.
    #[arg(long, env = "PINPANEL_REAUTH_MINUTES", default_value_t = defaults::REAUTH_MINUTES, value_parser = clap::value_parser!(u32).range(1..=1440))]
    pub reauth_minutes: u32,

    /// Minutes of inactivity after which a session ends.
    #[arg(long, env = "PINPANEL_IDLE_TIMEOUT_MINUTES", default_value_t = http::defaults::IDLE_TIMEOUT_MINUTES, value_parser = clap::value_parser!(u32).range(1..=1440))]
    pub idle_timeout_minutes: u32,

    /// Verifications one agent may make per minute (all instances together).
    #[arg(long, env = "PINPANEL_VERIFY_LIMIT", default_value_t = defaults::VERIFY_LIMIT, value_parser = clap::value_parser!(i64).range(1..))]
    pub verify_limit: i64,

    /// API token requests one client address may make per minute.
    #[arg(long, env = "PINPANEL_TOKEN_LIMIT", default_value_t = defaults::TOKEN_LIMIT, value_parser = clap::value_parser!(i64).range(1..))]
    pub token_limit: i64,

    /// Proxies whose X-Forwarded-For is believed: CIDRs or addresses, comma-separated (e.g.
    /// `10.0.0.0/8`). The client is then the right-most entry not itself a trusted proxy;
    /// without this the header is ignored and the client is the TCP peer.
    #[arg(long, env = "PINPANEL_TRUSTED_PROXIES", default_value = "", value_parser = parse_proxies)]
    pub trusted_proxies: TrustedProxies,

    /// Where people reach the panel, e.g. `https://panel.example.com`: the origin passkeys are
    /// bound to and the base of links in mail. `http://localhost:PORT` works for local use.
    #[arg(long, env = "PINPANEL_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<url::Url>,

    /// The roles that must set up two-step login before they reach any other page: a
    /// comma-separated list of `agents`, `admins` and `users`, or `none`.
    #[arg(long, env = "PINPANEL_REQUIRE_TWO_STEP", default_value_t = RequiredRoles(defaults::REQUIRE_TWO_STEP.to_vec()), value_parser = parse_required_roles)]
    pub require_two_step: RequiredRoles,

    /// What the API's user objects carry as `RAX-AUTH:defaultRegion` (e.g. `DFW`).
    #[arg(long, env = "PINPANEL_DEFAULT_REGION", default_value = "")]
    pub default_region: String,

    /// Database connections in the pool [default: 8 with SQLite; with PostgreSQL 4 per core, at
    /// least 8].
    #[arg(long, env = "PINPANEL_DB_POOL", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_pool: Option<u32>,

    /// Days the audit log keeps an event before it is purged.
    #[arg(long, env = "PINPANEL_AUDIT_RETENTION_DAYS", default_value_t = defaults::AUDIT_RETENTION_DAYS, value_parser = clap::value_parser!(i64).range(1..=36500))]
    pub audit_retention_days: i64,

    #[command(flatten)]
    pub oidc: OidcArgs,

    /// Hours after login after which a session ends, however active.
    #[arg(long, env = "PINPANEL_ABSOLUTE_TIMEOUT_HOURS", default_value_t = http::defaults::ABSOLUTE_TIMEOUT_HOURS, value_parser = clap::value_parser!(u32).range(1..=168))]
    pub absolute_timeout_hours: u32,
}

/// Single sign-on through an OpenID Connect provider: off unless the issuer, the client id and
/// the client secret are all set.
#[derive(Debug, Clone, Args)]
pub struct OidcArgs {
    /// The provider's issuer URL (discovery reads `/.well-known/openid-configuration` under it).
    #[arg(long = "oidc-issuer", env = "PINPANEL_OIDC_ISSUER")]
    pub issuer: Option<String>,

    /// pinpanel's client id at the provider.
    #[arg(long = "oidc-client-id", env = "PINPANEL_OIDC_CLIENT_ID")]
    pub client_id: Option<String>,

    /// pinpanel's client secret at the provider (prefer PINPANEL_OIDC_CLIENT_SECRET_FILE).
    #[arg(
        long = "oidc-client-secret",
        env = "PINPANEL_OIDC_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub client_secret: Option<String>,

    /// A file holding the client secret (its first line).
    #[arg(
        long = "oidc-client-secret-file",
        env = "PINPANEL_OIDC_CLIENT_SECRET_FILE"
    )]
    pub client_secret_file: Option<PathBuf>,

    /// The provider's name for people: "Sign in with …".
    #[arg(
        long = "oidc-name",
        env = "PINPANEL_OIDC_NAME",
        default_value = "single sign-on"
    )]
    pub name: String,

    /// `verified`: on first sign-in, link the member whose address equals the one the provider
    /// says it verified. `off` (the default): members link their identity themselves.
    #[arg(
        long = "oidc-link-by-email",
        env = "PINPANEL_OIDC_LINK_BY_EMAIL",
        value_enum,
        default_value_t = LinkByEmail::Off
    )]
    pub link_by_email: LinkByEmail,

    /// An `acr` value that counts as two-step login (beside an `amr` naming a second factor).
    #[arg(long = "oidc-mfa-acr", env = "PINPANEL_OIDC_MFA_ACR")]
    pub mfa_acr: Option<String>,

    /// The ID token claim that names the person (`sub`; Entra ID's `oid`, say).
    #[arg(
        long = "oidc-subject-claim",
        env = "PINPANEL_OIDC_SUBJECT_CLAIM",
        default_value = "sub"
    )]
    pub subject_claim: String,
}

/// Whether a first sign-in links a member by an address the provider verified.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LinkByEmail {
    /// Members link their identity themselves.
    #[default]
    Off,
    /// The one member whose address in force the provider says it verified.
    Verified,
}

impl OidcArgs {
    /// Single sign-on's settings, when it is configured; an error when only some of it is.
    pub fn config(&self) -> anyhow::Result<Option<crate::service::sso::Config>> {
        let secret = match (&self.client_secret, &self.client_secret_file) {
            (Some(s), _) => Some(s.clone()),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    anyhow::anyhow!(
                        "cannot read PINPANEL_OIDC_CLIENT_SECRET_FILE {}: {e}",
                        path.display()
                    )
                })?;
                Some(text.lines().next().unwrap_or("").trim().to_owned())
            }
            (None, None) => None,
        };
        match (&self.issuer, &self.client_id, secret) {
            (None, None, None) => Ok(None),
            (Some(issuer), Some(client_id), Some(secret)) if !secret.is_empty() => {
                Ok(Some(crate::service::sso::Config {
                    issuer: issuer.trim_end_matches('/').to_owned(),
                    client_id: client_id.clone(),
                    client_secret: secrecy::SecretString::from(secret),
                    name: self.name.clone(),
                    link_by_email: self.link_by_email == LinkByEmail::Verified,
                    mfa_acr: self.mfa_acr.clone().filter(|a| !a.is_empty()),
                    subject_claim: self.subject_claim.clone(),
                }))
            }
            _ => anyhow::bail!(
                "single sign-on needs PINPANEL_OIDC_ISSUER, PINPANEL_OIDC_CLIENT_ID and \
                 PINPANEL_OIDC_CLIENT_SECRET (or _FILE) together"
            ),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account; prints its number as the last line.
    Create {
        #[arg(long)]
        name: String,
        /// The account number (digits); a random unused one when omitted.
        #[arg(long)]
        number: Option<String>,
        #[arg(long, default_value = "self", value_parser = parse_policy)]
        unlock_policy: UnlockPolicy,
    },
}

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Create a member with a generated Support PIN; prints the member id as the last line.
    Create {
        /// The account number.
        #[arg(long)]
        account: String,
        #[arg(long)]
        username: String,
        /// Full name.
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long, default_value = "user", value_parser = parse_member_role)]
        role: Role,
        #[arg(long, default_value = "user", value_parser = parse_kind)]
        kind: Kind,
        /// Read the password from the first line of standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Create the member without a PIN (state INACTIVE), e.g. for a bulk import whose PINs
        /// are issued later.
        #[arg(long)]
        no_pin: bool,
    },
    /// List an account's members with their PIN state (never a PIN).
    List {
        #[arg(long)]
        account: String,
    },
    /// Set a member's or agent's password from standard input; their sessions end.
    SetPassword {
        #[arg(long)]
        username: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Make a member a user or an administrator; their sessions and tokens end.
    SetRole {
        #[arg(long)]
        username: String,
        #[arg(long, value_parser = parse_member_role)]
        role: Role,
    },
    /// Disable a member or agent; they can no longer log in and their sessions end.
    Disable {
        #[arg(long)]
        username: String,
    },
    /// Make a member sign in only through single sign-on (`--on`: their password stops
    /// working), or allow their password again (`--off`).
    SetSsoOnly {
        #[arg(long)]
        username: String,
        #[arg(long, conflicts_with = "off", required_unless_present = "off")]
        on: bool,
        #[arg(long)]
        off: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Encrypt every PIN and other secret again with a new key, in one transaction. Stop every
    /// server first; start them with the new key after.
    Rotate {
        /// The new key: read from this file (mode 0600), or, when it does not exist, a new
        /// random key written there.
        #[arg(long)]
        new_key_file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Send one test message over PINPANEL_SMTP_URL and print the SMTP server's answer.
    Test {
        #[arg(long)]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Create a support agent; prints the agent id as the last line.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        name: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

/// The roles of `PINPANEL_REQUIRE_TWO_STEP`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredRoles(pub Vec<Role>);

impl std::fmt::Display for RequiredRoles {
    /// As the setting spells it: `agents,admins`, or `none`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<&str> = self
            .0
            .iter()
            .map(|r| match r {
                Role::Agent => "agents",
                Role::Admin => "admins",
                Role::User => "users",
            })
            .collect();
        f.write_str(&names.join(","))
    }
}

fn parse_required_roles(s: &str) -> Result<RequiredRoles, String> {
    let mut roles = Vec::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let role = match item {
            "none" => continue,
            "agents" | "agent" => Role::Agent,
            "admins" | "admin" => Role::Admin,
            "users" | "user" => Role::User,
            other => {
                return Err(format!(
                    "'{}' is not one of: agents, admins, users, none",
                    other.chars().take(40).collect::<String>()
                ))
            }
        };
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    Ok(RequiredRoles(roles))
}

fn parse_public_url(s: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(s.trim()).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("the public URL must be http(s)://host[:port]".into());
    }
    if url.path() != "/" || url.query().is_some() {
        return Err(
            "the public URL names a site, without a path (such as https://panel.example.com)"
                .into(),
        );
    }
    Ok(url)
}

fn parse_proxies(s: &str) -> Result<TrustedProxies, String> {
    s.parse()
}

fn parse_policy(s: &str) -> Result<UnlockPolicy, String> {
    s.parse()
}

fn parse_kind(s: &str) -> Result<Kind, String> {
    s.parse()
}

fn parse_member_role(s: &str) -> Result<Role, String> {
    match s.parse::<Role>()? {
        Role::Agent => Err("'agent' is not a member role (use `pinpanel agent create`)".into()),
        role => Ok(role),
    }
}
