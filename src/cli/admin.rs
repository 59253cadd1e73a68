//! The administration commands: accounts, members and agents.

use super::read_password;
use crate::config::{
    AccountCommand, AgentCommand, Command, MemberCommand, ScimCommand, ScimTokenCommand,
};
use crate::domain::{Kind, Role};
use crate::service::members::{self, NewPerson};
use crate::service::{accounts, people, provisioning, sso, Actor, Ctx, ServiceError};

/// Runs an account, member or agent command.
pub async fn run(ctx: &Ctx, command: Command) -> Result<(), ServiceError> {
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
            let account = people::account_by_number(ctx, &account).await?;
            let password = read_password()?;
            let user = members::create_person(
                ctx,
                Actor::Cli,
                NewPerson {
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
            let account = people::account_by_number(ctx, &account).await?;
            let members = members::members(ctx, Actor::Cli, account.id).await?;
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
            let user = people::user_by_username(ctx, &username).await?;
            let password = read_password()?;
            crate::service::password::set_password(ctx, Actor::Cli, &user, password).await?;
            println!(
                "password of '{}' set; their sessions and tokens have ended",
                user.username
            );
        }
        Command::Member(MemberCommand::SetRole { username, role }) => {
            let user = people::user_by_username(ctx, &username).await?;
            members::set_role(ctx, Actor::Cli, &user, role).await?;
            println!(
                "'{}' is now {role}; their sessions and tokens have ended",
                user.username
            );
        }
        Command::Member(MemberCommand::Disable { username }) => {
            let user = people::user_by_username(ctx, &username).await?;
            members::disable(ctx, Actor::Cli, &user).await?;
            println!(
                "'{}' is disabled; their sessions and tokens have ended",
                user.username
            );
        }
        Command::Member(MemberCommand::SetSsoOnly { username, on, .. }) => {
            let user = people::user_by_username(ctx, &username).await?;
            sso::set_sso_only(ctx, Actor::Cli, &user, on).await?;
            println!(
                "'{}' {}; their sessions and tokens have ended",
                user.username,
                if on {
                    "now signs in only through single sign-on"
                } else {
                    "may sign in with a password again"
                }
            );
        }
        Command::Agent(AgentCommand::Create { username, name, .. }) => {
            let password = read_password()?;
            let user = members::create_person(
                ctx,
                Actor::Cli,
                NewPerson {
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
        Command::Scim(ScimCommand::Token(ScimTokenCommand::Create { account, name })) => {
            let account = people::account_by_number(ctx, &account).await?;
            let made =
                provisioning::create_token(ctx, provisioning::TokenMaker::Cli, &account, &name)
                    .await?;
            println!(
                "created provisioning token {} for account {} ({}); it is shown once:",
                made.id, account.number, account.name
            );
            println!("{}", made.token);
        }
        Command::Serve(_)
        | Command::Migrate
        | Command::Bench(_)
        | Command::Mail(_)
        | Command::Key(_)
        | Command::Import(_)
        | Command::Backup { .. } => {}
    }
    Ok(())
}
