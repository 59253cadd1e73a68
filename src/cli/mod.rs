//! The command line: each command of [`crate::config::Cli`] is one use case, hence one
//! transaction, so bad input writes nothing. Results go to stdout (the id or number a script
//! needs is always the last line); problems are one line on stderr and a non-zero exit.
//! [`serve`] runs the server, [`ops`] the operator's tools (migrations, the key, backups, mail,
//! benchmarks), [`admin`] the accounts, members and agents.

mod admin;
mod import;
mod ops;
mod serve;

use std::io::BufRead;

use anyhow::{bail, Context};
use secrecy::SecretString;

use crate::config::{Cli, Command};
use crate::service::ServiceError;
use crate::startup::{self, DbOptions};

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let keys = cli.key_source();
    let url = cli.database_url.as_str();
    let open = |max_connections: Option<u32>| {
        let keys = &keys;
        async move {
            let options = DbOptions {
                max_connections,
                ..DbOptions::default()
            };
            startup::open(url, keys, &options).await
        }
    };
    match cli.command {
        Command::Serve(args) => {
            let opened = open(args.db_pool).await?;
            serve::serve(opened, *args, &cli.mail).await
        }
        Command::Migrate => ops::migrate(url).await,
        Command::Key(command) => ops::key(url, &keys, command).await,
        Command::Backup { file } => ops::backup(url, &file).await,
        Command::Mail(command) => {
            let opened = open(Some(2)).await?;
            ops::mail(&opened, command, &cli.mail).await
        }
        Command::Bench(command) => ops::bench(url, &keys, command).await,
        Command::Import(command) => {
            let opened = open(Some(4)).await?;
            import::run(&opened, command, &cli.mail).await
        }
        command @ (Command::Account(_)
        | Command::Member(_)
        | Command::Agent(_)
        | Command::Scim(_)) => {
            let opened = open(Some(2)).await?;
            admin::run(&opened.ctx, command).await.map_err(plainly)
        }
    }
}

/// A use case's refusal as the command line says it: what went wrong inside with its chain,
/// anything else as its message for a person.
pub fn plainly(e: ServiceError) -> anyhow::Error {
    match e {
        ServiceError::Internal(e) => e,
        other => anyhow::anyhow!("{other}"),
    }
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
