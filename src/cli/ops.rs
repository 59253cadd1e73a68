//! The operator's commands: migrations, rotating the PIN key, a backup of the SQLite file, a
//! test message, and the benchmark helpers.

use super::{plainly, read_password};
use crate::config::{BenchCommand, KeyCommand, MailArgs, MailCommand};
use crate::crypto::KeySource;
use crate::service::{self, mail};
use crate::startup::{self, DbOptions, Opened, ServeSettings};

/// `pinpanel migrate`.
pub async fn migrate(database_url: &str) -> anyhow::Result<()> {
    let db = startup::connect(database_url, &DbOptions::default()).await?;
    db.migrate().await?;
    println!("migrations applied");
    Ok(())
}

/// `pinpanel key …`.
pub async fn key(database_url: &str, keys: &KeySource, command: KeyCommand) -> anyhow::Result<()> {
    match command {
        KeyCommand::Rotate { new_key_file } => rotate_key(database_url, keys, &new_key_file).await,
    }
}

/// `pinpanel mail test --to ADDRESS`: the message goes from `--mail-from`.
pub async fn mail(
    opened: &Opened,
    command: MailCommand,
    mail_args: &MailArgs,
) -> anyhow::Result<()> {
    let MailCommand::Test { to } = command;
    let settings = ServeSettings {
        mail_from: mail_args.mail_from.clone(),
        ..ServeSettings::default()
    };
    let ctx = opened.context(settings.use_cases(None)?, service::Instance::default())?;
    let delivery = super::serve::delivery(mail_args, mail::Delivery::None)?;
    let answer = mail::worker::send_test(&ctx, &delivery, &to)
        .await
        .map_err(plainly)?;
    println!("the SMTP server answered: {answer}");
    Ok(())
}

/// `pinpanel bench …` (hidden: helpers of bench/run.sh).
pub async fn bench(
    database_url: &str,
    keys: &KeySource,
    command: BenchCommand,
) -> anyhow::Result<()> {
    match command {
        BenchCommand::Argon2 { runs } => {
            println!("{:.2}", crate::seed::argon2_median_ms(runs.max(1)).await?);
        }
        BenchCommand::Seed {
            members,
            agents,
            out,
            ..
        } => {
            let opened = startup::open(database_url, keys, &DbOptions::default()).await?;
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
        }
    }
    Ok(())
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
    let done = service::keys::rotate(&opened.ctx.db, &opened.ctx.cipher, &new)
        .await
        .map_err(plainly)?;
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

/// `pinpanel backup FILE`: needs no key (the copy keeps the PINs sealed).
pub async fn backup(database_url: &str, file: &std::path::Path) -> anyhow::Result<()> {
    let db = startup::connect(
        database_url,
        &DbOptions {
            max_connections: Some(1),
            ..DbOptions::default()
        },
    )
    .await?;
    let size = service::backup::sqlite_copy(&db, file).await?;
    let path = file.display();
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
