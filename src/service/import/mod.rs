//! Importing an existing customer base from a CSV file: the whole file checked before anything
//! is written (its values in [`file`], then against the database: accounts, usernames taken
//! elsewhere, rows already there), every problem listed with its line; then the rows written in
//! batches, each one transaction. A row already there with the same values is skipped, so an
//! interrupted import run again completes without duplicates. The command line runs it at once
//! ([`run`]); the browser in the background ([`jobs`]).

pub mod file;
pub mod jobs;

use std::collections::HashMap;
use std::time::{Duration, Instant};

pub use file::{Problem, Problems, Row};

use super::members::{insert_person, NewPin, PersonRow};
use super::{accounts, links, Actor, AuditRecord, Ctx, Result, ServiceError};
use crate::domain::{Account, Event, UnlockPolicy};
use crate::store::{self, Tx};

/// Rows written per transaction.
pub const BATCH: usize = 500;

/// Whom an import is for.
#[derive(Debug, Clone)]
pub enum Scope {
    /// The command line: accounts by the file's `account` column; those that do not exist are
    /// created with `create_accounts`, else refused.
    Anywhere { create_accounts: bool },
    /// An administrator's own account: the column may be left out, and may name no other.
    Account(Account),
}

/// A checked file: what to write, what is there already, and what is wrong.
#[derive(Debug, Default)]
pub struct Plan {
    /// The rows to write, in the file's order.
    pub rows: Vec<Row>,
    /// The rows already there with the same values.
    pub skipped: Vec<Row>,
    pub problems: Problems,
    /// Account numbers the file names that do not exist yet (created when allowed).
    pub new_accounts: Vec<String>,
}

impl Plan {
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// What an import did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub created: u64,
    pub invitations: u64,
}

/// What a finished import says.
#[derive(Debug, Clone)]
pub struct Summary {
    pub created: u64,
    pub skipped: u64,
    pub invitations: u64,
    pub accounts_created: u64,
    pub took: Duration,
}

fn problem(line: u64, message: String) -> Problem {
    Problem { line, message }
}

/// Reads and checks `bytes` for `scope`: nothing is written.
pub async fn plan(ctx: &Ctx, bytes: &[u8], scope: &Scope) -> Result<Plan> {
    let source = match scope {
        Scope::Anywhere { .. } => file::Source::CommandLine,
        Scope::Account(_) => file::Source::Browser,
    };
    let read = file::read(bytes, source);
    let mut plan = Plan {
        problems: read.problems,
        ..Plan::default()
    };
    // Each row's account number.
    let mut numbers: HashMap<String, Option<Account>> = HashMap::new();
    let mut rows = Vec::with_capacity(read.rows.len());
    for mut row in read.rows {
        match scope {
            Scope::Account(own) => match &row.account {
                Some(n) if n.as_str() != own.number => plan.problems.push(problem(
                    row.line,
                    format!(
                        "account {} is not this one: this import is for account {}",
                        n.as_str(),
                        own.number
                    ),
                )),
                _ => {
                    row.account = crate::domain::AccountNumber::parse(&own.number).ok();
                    rows.push(row);
                }
            },
            Scope::Anywhere { .. } => rows.push(row),
        }
    }
    for row in &rows {
        if let Some(n) = &row.account {
            numbers.entry(n.as_str().to_owned()).or_insert(None);
        }
    }
    for (number, found) in numbers.iter_mut() {
        *found = store::accounts::by_number(&ctx.db.pool, number).await?;
    }
    if let Scope::Anywhere { create_accounts } = scope {
        let mut missing: Vec<&String> = numbers
            .iter()
            .filter(|(_, a)| a.is_none())
            .map(|(n, _)| n)
            .collect();
        missing.sort();
        for number in missing {
            if *create_accounts {
                plan.new_accounts.push(number.clone());
            } else {
                let lines: Vec<u64> = rows
                    .iter()
                    .filter(|r| r.account.as_ref().is_some_and(|a| a.as_str() == number))
                    .map(|r| r.line)
                    .collect();
                let more = match lines.len() {
                    1 => String::new(),
                    n => format!(" ({} rows name it)", n),
                };
                plan.problems.push(problem(
                    lines[0],
                    format!(
                        "account {number} does not exist{more}: create it first, or import with \
                         --create-accounts"
                    ),
                ));
            }
        }
    }
    // The usernames already taken.
    let names: Vec<&str> = rows.iter().map(|r| r.username.as_str()).collect();
    let existing: HashMap<String, store::imports::Existing> =
        store::imports::existing(&ctx.db.pool, &names)
            .await?
            .into_iter()
            .map(|e| (e.user.username.clone(), e))
            .collect();
    for row in rows {
        let Some(e) = existing.get(row.username.as_str()) else {
            plan.rows.push(row);
            continue;
        };
        let number = row.account.as_ref().map(|a| a.as_str());
        let elsewhere = e.user.is_agent() || e.account_number.as_deref() != number;
        if elsewhere && matches!(scope, Scope::Account(_)) {
            // An administrator learns only that the name is taken (usernames are one namespace),
            // never whose it is: an account number and a username are what Support asks for
            // before the PIN, and which names are agents' is staff's business.
            plan.problems.push(problem(
                row.line,
                format!(
                    "username '{}' is taken by someone outside this account: choose another",
                    row.username.as_str()
                ),
            ));
        } else if e.user.is_agent() {
            plan.problems.push(problem(
                row.line,
                format!(
                    "username '{}' belongs to a support agent",
                    row.username.as_str()
                ),
            ));
        } else if e.account_number.as_deref() != number {
            plan.problems.push(problem(
                row.line,
                format!(
                    "username '{}' is already in account {}",
                    row.username.as_str(),
                    e.account_number.as_deref().unwrap_or("?")
                ),
            ));
        } else {
            let differs = differences(&row, e);
            if differs.is_empty() {
                plan.skipped.push(row);
            } else {
                plan.problems.push(problem(
                    row.line,
                    format!(
                        "username '{}' is already in account {}, with another {}",
                        row.username.as_str(),
                        number.unwrap_or("?"),
                        differs.join(", ")
                    ),
                ));
            }
        }
    }
    plan.problems.sort();
    Ok(plan)
}

/// What a row says differently from the member already there.
fn differences(row: &Row, e: &store::imports::Existing) -> Vec<&'static str> {
    let u = &e.user;
    let mut out = Vec::new();
    if u.full_name != row.full_name.as_str() {
        out.push("name");
    }
    let same_email = match (&row.email, &u.email) {
        (Some(a), Some(b)) => a.same_as(b),
        (None, None) => true,
        _ => false,
    };
    if !same_email {
        out.push("e-mail");
    }
    if u.kind != Some(row.kind) {
        out.push("type");
    }
    if u.role != row.role {
        out.push("role");
    }
    if e.external_id != row.external_id {
        out.push("external id");
    }
    out
}

/// The accounts a plan writes to, creating the new ones (the command line's `--create-accounts`).
pub async fn accounts_of(
    ctx: &Ctx,
    actor: Actor<'_>,
    plan: &Plan,
) -> Result<HashMap<String, Account>> {
    for number in &plan.new_accounts {
        accounts::create_account(
            ctx,
            actor,
            &format!("Account {number}"),
            Some(number),
            UnlockPolicy::SelfService,
        )
        .await?;
    }
    let mut out = HashMap::new();
    for row in plan.rows.iter().chain(&plan.skipped) {
        let Some(n) = &row.account else { continue };
        if !out.contains_key(n.as_str()) {
            let account = store::accounts::by_number(&ctx.db.pool, n.as_str())
                .await?
                .ok_or(ServiceError::NotFound)?;
            out.insert(n.as_str().to_owned(), account);
        }
    }
    Ok(out)
}

/// Writes `rows` inside the caller's transaction: each a member with their PIN (the file's, or
/// a generated one), their external id, and, with `invite`, an invitation when they have an
/// address, their account does not sign in only through single sign-on, and mail is set up.
pub async fn write_batch(
    ctx: &Ctx,
    tx: &mut Tx,
    actor: Actor<'_>,
    rows: &[Row],
    accounts: &HashMap<String, Account>,
    invite: bool,
) -> Result<HashMap<i64, Counts>> {
    let mut per_account: HashMap<i64, Counts> = HashMap::new();
    for row in rows {
        let account = row
            .account
            .as_ref()
            .and_then(|n| accounts.get(n.as_str()))
            .ok_or(ServiceError::NotFound)?;
        let counts = per_account.entry(account.id).or_default();
        let member = insert_person(
            ctx,
            tx,
            actor,
            PersonRow {
                account: Some(account),
                username: row.username.clone(),
                full_name: row.full_name.clone(),
                email: row.email.clone(),
                role: row.role,
                kind: row.kind,
                password_hash: None,
                pin: match &row.pin {
                    Some(pin) => NewPin::Given(pin.clone()),
                    None => NewPin::Generated,
                },
            },
        )
        .await?;
        if let Some(x) = &row.external_id {
            store::sso::give_external_id(tx, member.id, x).await?;
        }
        if account.sso_only {
            store::sso::set_sso_only(tx, member.id, true).await?;
        } else if invite && member.email.is_some() && ctx.settings.mail_sends {
            let (token, hash) = links::new_invitation();
            links::invitation_on(ctx, tx, &member, account, actor, token, hash).await?;
            counts.invitations += 1;
        }
        counts.created += 1;
    }
    Ok(per_account)
}

/// Records each account's import in its activity, with its counts.
pub async fn record(
    ctx: &Ctx,
    actor: Actor<'_>,
    per_account: &HashMap<i64, (Counts, u64)>,
) -> Result<()> {
    let mut tx = ctx.db.begin().await?;
    record_on(&mut tx, actor, per_account).await?;
    tx.commit().await?;
    Ok(())
}

/// [`record`] inside the caller's transaction.
pub(super) async fn record_on(
    tx: &mut Tx,
    actor: Actor<'_>,
    per_account: &HashMap<i64, (Counts, u64)>,
) -> Result<()> {
    for (account_id, (counts, skipped)) in per_account {
        let detail = format!(
            "created {}, skipped {}, invitations {}",
            counts.created, skipped, counts.invitations
        );
        AuditRecord::new(Event::ImportDone, actor)
            .of_account(*account_id)
            .detail(&detail)
            .write(tx)
            .await?;
    }
    Ok(())
}

/// Writes a clean plan at once (the command line), calling `progress` with the rows done after
/// each batch.
pub async fn run(
    ctx: &Ctx,
    actor: Actor<'_>,
    plan: &Plan,
    invite: bool,
    mut progress: impl FnMut(usize),
) -> Result<Summary> {
    if !plan.is_clean() {
        return Err(ServiceError::Invalid(format!(
            "the file has {} problems",
            plan.problems.len()
        )));
    }
    let started = Instant::now();
    let accounts = accounts_of(ctx, actor, plan).await?;
    let mut per_account: HashMap<i64, (Counts, u64)> = HashMap::new();
    for row in &plan.skipped {
        if let Some(a) = row.account.as_ref().and_then(|n| accounts.get(n.as_str())) {
            per_account.entry(a.id).or_default().1 += 1;
        }
    }
    let mut done = 0;
    let mut total = Counts::default();
    for batch in plan.rows.chunks(BATCH) {
        let mut tx = ctx.db.begin().await?;
        let counts = write_batch(ctx, &mut tx, actor, batch, &accounts, invite).await?;
        tx.commit().await?;
        for (account, c) in counts {
            let entry = per_account.entry(account).or_default();
            entry.0.created += c.created;
            entry.0.invitations += c.invitations;
            total.created += c.created;
            total.invitations += c.invitations;
        }
        done += batch.len();
        progress(done);
    }
    record(ctx, actor, &per_account).await?;
    Ok(Summary {
        created: total.created,
        skipped: plan.skipped.len() as u64,
        invitations: total.invitations,
        accounts_created: plan.new_accounts.len() as u64,
        took: started.elapsed(),
    })
}
