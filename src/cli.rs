//! Running the commands of [`crate::config::Cli`]. Results go to stdout (the id or number a
//! script needs is always the last line); problems are one line on stderr and a non-zero exit.
//! Each command is one use case, hence one transaction: bad input writes nothing.

use std::io::BufRead;

use anyhow::{bail, Context};
use secrecy::SecretString;

use crate::config::{
    AccountCommand, AgentCommand, BenchCommand, Cli, Command, KeyCommand, MailCommand,
    MemberCommand, ServeArgs,
};
use crate::domain::{Kind, Role};
use crate::service::{accounts, Actor, Ctx, ServiceError};
use crate::startup::{self, App, ServeSettings};
use crate::store::{Db, DbOptions};

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let keys = cli.key_source();
    match cli.command {
        Command::Migrate => {
            let db = Db::connect(&cli.database_url, &DbOptions::default()).await?;
            db.migrate().await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Serve(args) => {
            let options = DbOptions {
                max_connections: args.db_pool,
            };
            let opened = startup::open(&cli.database_url, &keys, &options).await?;
            let mail = MailArgs {
                smtp_url: cli.smtp_url.clone(),
                mail_from: cli.mail_from.clone(),
            };
            serve(opened, args, mail).await
        }
        Command::Key(KeyCommand::Rotate { new_key_file }) => {
            rotate_key(&cli.database_url, &keys, &new_key_file).await
        }
        Command::Backup { file } => backup(&cli.database_url, &file).await,
        Command::Mail(MailCommand::Test { to }) => {
            let mut opened = startup::open(
                &cli.database_url,
                &keys,
                &DbOptions {
                    max_connections: Some(2),
                },
            )
            .await?;
            std::sync::Arc::make_mut(&mut opened.ctx.settings).mail_from = cli.mail_from.clone();
            let delivery = match &cli.smtp_url {
                Some(url) => crate::service::mail::Delivery::smtp(url)?,
                None => crate::service::mail::Delivery::None,
            };
            let answer = crate::service::mail::send_test(&opened.ctx, &delivery, &to)
                .await
                .map_err(|e| match e {
                    ServiceError::Internal(e) => e,
                    other => anyhow::anyhow!("{other}"),
                })?;
            println!("the SMTP server answered: {answer}");
            Ok(())
        }
        Command::Bench(BenchCommand::Argon2 { runs }) => {
            println!("{:.2}", crate::seed::argon2_median_ms(runs.max(1)).await?);
            Ok(())
        }
        Command::Bench(BenchCommand::Seed {
            members,
            agents,
            out,
            ..
        }) => {
            let opened = startup::open(&cli.database_url, &keys, &DbOptions::default()).await?;
            let password = read_password()?;
            let started = std::time::Instant::now();
            let report = crate::seed::seed(
                &opened.ctx,
                members,
                agents,
                secrecy::ExposeSecret::expose_secret(&password),
                &out,
            )
            .await?;
            println!(
                "seeded {} members and {agents} agents in {:.1} s",
                report.members,
                started.elapsed().as_secs_f64()
            );
            println!("{}", report.account_number);
            Ok(())
        }
        command => {
            let opened = startup::open(
                &cli.database_url,
                &keys,
                &DbOptions {
                    max_connections: Some(2),
                },
            )
            .await?;
            admin(&opened.ctx, command).await.map_err(|e| match e {
                ServiceError::Internal(e) => e,
                other => anyhow::anyhow!("{other}"),
            })
        }
    }
}

/// The mail settings of the command line.
struct MailArgs {
    smtp_url: Option<String>,
    mail_from: String,
}

async fn serve(
    mut opened: startup::Opened,
    args: ServeArgs,
    cli_mail: MailArgs,
) -> anyhow::Result<()> {
    opened.ctx.limits =
        crate::service::limits::Limits::per_minute(args.verify_limit, args.token_limit);
    let loopback = args.addr.ip().is_loopback();
    let cookie_secure = match args.cookie_secure {
        Some(secure) => secure,
        None if args.demo && loopback => {
            println!(
                "note: --demo on a loopback address, so cookies are not marked Secure and plain \
                 http works; behind HTTPS set PINPANEL_COOKIE_SECURE=true"
            );
            false
        }
        None => true,
    };
    let demo_logins = if args.demo {
        crate::demo::seed(&opened.ctx).await?
    } else {
        None
    };
    let settings = ServeSettings {
        cookie_secure,
        reauth_secs: i64::from(args.reauth_minutes) * 60,
        idle_timeout_secs: i64::from(args.idle_timeout_minutes) * 60,
        absolute_timeout_secs: i64::from(args.absolute_timeout_hours) * 3600,
        audit_retention_days: args.audit_retention_days,
        trusted_proxies: args.trusted_proxies.clone(),
        public_url: args.public_url.clone(),
        delivery: match &cli_mail.smtp_url {
            Some(url) => crate::service::mail::Delivery::smtp(url)?,
            None if args.demo => crate::service::mail::Delivery::Log,
            None => crate::service::mail::Delivery::None,
        },
        mail_from: cli_mail.mail_from.clone(),
        default_region: args.default_region.clone(),
        require_two_step: args.require_two_step.0.clone(),
        metrics_addr: args.metrics_addr,
        ..ServeSettings::default()
    };
    let app = App::build(opened.ctx, opened.csrf_key, args.addr, &settings).await?;
    let addr = app.local_addr()?;
    if !args.demo {
        // The first start: a one-time link that creates the first account and its
        // administrator.
        if let Some(token) = crate::service::links::setup_token(app.ctx()).await? {
            let link =
                crate::service::mail::one_time_link(app.ctx(), crate::web::urls::SETUP, &token);
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

/// `pinpanel key rotate --new-key-file FILE`.
async fn rotate_key(
    database_url: &str,
    keys: &crate::crypto::KeySource,
    new_key_file: &std::path::Path,
) -> anyhow::Result<()> {
    let opened = startup::open(database_url, keys, &DbOptions::default()).await?;
    let (new_key, origin) = crate::crypto::key_file_or_new(new_key_file)?;
    if let crate::crypto::KeyOrigin::Created(path) = &origin {
        println!("wrote a new key to {} (mode 0600)", path.display());
    }
    let new = crate::crypto::PinCipher::new(&new_key);
    println!("sealing every PIN and secret again with the new key, in one transaction");
    let done = crate::service::keys::rotate(&opened.ctx.db, &opened.ctx.cipher, &new)
        .await
        .map_err(|e| match e {
            ServiceError::Internal(e) => e,
            other => anyhow::anyhow!("{other}"),
        })?;
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    println!(
        "done: {}, {}, {}, {} sealed with the new key",
        plural(done.pins, "PIN", "PINs"),
        plural(done.two_step_secrets, "two-step secret", "two-step secrets"),
        plural(done.mail_parts, "mail part", "mail parts"),
        plural(done.settings, "setting", "settings"),
    );
    println!(
        "start every instance with PINPANEL_KEY_FILE={} (or that key in PINPANEL_KEY); the old \
         key is refused from now on",
        new_key_file.display()
    );
    Ok(())
}

/// `pinpanel backup FILE`.
async fn backup(database_url: &str, file: &std::path::Path) -> anyhow::Result<()> {
    let db = Db::connect(
        database_url,
        &DbOptions {
            max_connections: Some(1),
        },
    )
    .await?;
    if db.backend == crate::store::Backend::Postgres {
        bail!(
            "pinpanel backup copies SQLite databases; for PostgreSQL use pg_dump, e.g. \
             `pg_dump --format=custom --file=pinpanel.dump \"$DATABASE_URL\"` (restore with \
             `pg_restore --clean --if-exists --dbname=\"$DATABASE_URL\" pinpanel.dump`). Keep \
             the PIN key apart from the dump: it is not in it"
        );
    }
    // The copy holds password hashes and sealed PINs: only its owner may read it. VACUUM INTO
    // fills an empty file, so make that file first, with the mode.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(file).with_context(|| {
        format!(
            "cannot create {} (a backup never overwrites a file that exists)",
            file.display()
        )
    })?;
    let path = file.to_str().context("the backup path is not UTF-8")?;
    if let Err(e) = crate::store::copy_sqlite_into(&db.pool, path).await {
        let _ = std::fs::remove_file(file);
        return Err(e).context("the copy failed");
    }
    let check = crate::store::integrity_check_of(&db.pool, path).await?;
    if check != "ok" {
        bail!("the copy in {path} failed SQLite's integrity check: {check}");
    }
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    println!("backed up to {path} ({size} bytes), checked");
    println!(
        "the PIN key is not in the backup: keep the key file (or PINPANEL_KEY) safe beside it, \
         or its PINs cannot be read"
    );
    println!(
        "to restore: stop pinpanel, move the database file and its -wal and -shm files aside, \
         copy {path} in its place, and start pinpanel with the same key"
    );
    Ok(())
}

fn read_password() -> anyhow::Result<SecretString> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        bail!("the password read from standard input is empty");
    }
    Ok(SecretString::from(password.to_owned()))
}

async fn admin(ctx: &Ctx, command: Command) -> Result<(), ServiceError> {
    match command {
        Command::Account(AccountCommand::Create {
            name,
            number,
            unlock_policy,
        }) => {
            let account =
                accounts::create_account(ctx, Actor::Cli, &name, number.as_deref(), unlock_policy)
                    .await?;
            println!(
                "created account '{}' (unlock policy {})",
                account.name, account.unlock_policy
            );
            println!("{}", account.number);
        }
        Command::Member(MemberCommand::Create {
            account,
            username,
            name,
            email,
            role,
            kind,
            password_stdin: _,
            no_pin,
        }) => {
            let account = accounts::account_by_number(ctx, &account).await?;
            let password = read_password()?;
            let user = accounts::create_person(
                ctx,
                Actor::Cli,
                accounts::NewPerson {
                    account: Some(account.clone()),
                    username,
                    full_name: name,
                    email,
                    role,
                    kind,
                    password,
                    with_pin: !no_pin,
                },
            )
            .await?;
            println!(
                "created {} {} '{}' in account {}{}",
                user.role,
                kind,
                user.username,
                account.number,
                if no_pin {
                    " without a Support PIN"
                } else {
                    " with a generated Support PIN"
                }
            );
            println!("{}", user.id);
        }
        Command::Member(MemberCommand::List { account }) => {
            let account = accounts::account_by_number(ctx, &account).await?;
            let members = accounts::members(ctx, Actor::Cli, account.id).await?;
            println!(
                "{:<24} {:<28} {:<8} {:<6} {:<9} STATUS",
                "USERNAME", "NAME", "KIND", "ROLE", "PIN"
            );
            for m in members {
                println!(
                    "{:<24} {:<28} {:<8} {:<6} {:<9} {}",
                    m.user.username,
                    m.user.full_name,
                    m.user.kind.map_or("", |k| k.as_str()),
                    m.user.role.as_str(),
                    m.pin_state.as_str(),
                    if m.user.disabled {
                        "disabled"
                    } else {
                        "enabled"
                    }
                );
            }
        }
        Command::Member(MemberCommand::SetPassword { username, .. }) => {
            let user = accounts::user_by_username(ctx, &username).await?;
            let password = read_password()?;
            accounts::set_password(ctx, Actor::Cli, &user, password).await?;
            println!(
                "password of '{}' set; their sessions and tokens have ended",
                user.username
            );
        }
        Command::Member(MemberCommand::SetRole { username, role }) => {
            let user = accounts::user_by_username(ctx, &username).await?;
            accounts::set_role(ctx, Actor::Cli, &user, role).await?;
            println!(
                "'{}' is now {role}; their sessions and tokens have ended",
                user.username
            );
        }
        Command::Member(MemberCommand::Disable { username }) => {
            let user = accounts::user_by_username(ctx, &username).await?;
            accounts::disable(ctx, Actor::Cli, &user).await?;
            println!(
                "'{}' is disabled; their sessions and tokens have ended",
                user.username
            );
        }
        Command::Agent(AgentCommand::Create { username, name, .. }) => {
            let password = read_password()?;
            let user = accounts::create_person(
                ctx,
                Actor::Cli,
                accounts::NewPerson {
                    account: None,
                    username,
                    full_name: name,
                    email: None,
                    role: Role::Agent,
                    kind: Kind::User,
                    password,
                    with_pin: false,
                },
            )
            .await?;
            println!("created support agent '{}'", user.username);
            println!("{}", user.id);
        }
        Command::Serve(_)
        | Command::Migrate
        | Command::Bench(_)
        | Command::Mail(_)
        | Command::Key(_)
        | Command::Backup { .. } => {}
    }
    Ok(())
}
