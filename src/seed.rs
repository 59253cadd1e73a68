//! Load-testing data for `bench/run.sh` (`pinpanel bench seed`): an account with N members and
//! K agents, created in bulk. Every member gets a generated, encrypted PIN like any other;
//! to be quick, all share one password hash (hashing a million passwords would take hours) and
//! rows go in with multi-row INSERTs in one transaction (`store::bulk`).
//!
//! The file it writes lists member ids with their PINs: bench data only, never a real account.

use std::io::Write;

use anyhow::Context;
use secrecy::SecretString;

use crate::domain::{Kind, Role, SupportPin, UnlockPolicy};
use crate::service::hashing;
use crate::service::{accounts, members, Actor, Ctx};
use crate::store::bulk;

pub struct SeedReport {
    pub account_number: String,
    pub members: usize,
}

pub async fn seed(
    ctx: &Ctx,
    members: usize,
    agents: usize,
    password_text: &str,
    out: &std::path::Path,
) -> anyhow::Result<SeedReport> {
    let account = accounts::create_account(
        ctx,
        Actor::Cli,
        "Bench Hosting",
        None,
        UnlockPolicy::SelfService,
    )
    .await
    .map_err(anyhow::Error::from)?;
    for n in 0..agents {
        members::create_person(
            ctx,
            Actor::Cli,
            members::NewPerson {
                account: None,
                username: format!("bench-agent-{n}"),
                full_name: format!("Bench Agent {n}"),
                email: None,
                role: Role::Agent,
                kind: Kind::User,
                password: SecretString::from(password_text.to_owned()),
                with_pin: false,
            },
        )
        .await
        .map_err(anyhow::Error::from)?;
    }
    let hash = hashing::hash(&ctx.hashing, SecretString::from(password_text.to_owned())).await?;
    let first = bulk::first_free_user_id(&ctx.db).await?;
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?,
    );
    let mut tx = ctx.db.begin().await?;
    for start in (0..members).step_by(bulk::BATCH) {
        let end = (start + bulk::BATCH).min(members);
        let mut batch = Vec::with_capacity(end - start);
        for i in start..end {
            let id = first + i as i64;
            let pin = SupportPin::generate();
            writeln!(file, "{id} {}", pin.expose())?;
            batch.push(bulk::BulkMember {
                id,
                sealed_pin: ctx.cipher.encrypt_pin(id, &pin),
            });
        }
        bulk::insert_members(&mut tx, account.id, hash.as_str(), &batch).await?;
    }
    bulk::after_explicit_ids(&ctx.db, &mut tx).await?;
    tx.commit().await?;
    bulk::checkpoint(&ctx.db).await?;
    file.flush()?;
    Ok(SeedReport {
        account_number: account.number,
        members,
    })
}

/// The median time of one argon2id verification in milliseconds, done exactly as a login does
/// it (`service::hashing::verify`: the blocking pool, the pooled buffer), and nothing else.
pub async fn argon2_median_ms(runs: usize) -> anyhow::Result<f64> {
    let line = hashing::Line::new(hashing::MAX_WAITING);
    let hash = hashing::hash(&line, SecretString::from("bench password")).await?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = std::time::Instant::now();
        let ok = hashing::verify(
            &line,
            Some(hash.clone()),
            SecretString::from("bench password"),
        )
        .await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(ok, "the bench hash did not verify");
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok(times[times.len() / 2])
}
