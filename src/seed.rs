//! Load-testing data for `bench/run.sh` (`pinpanel bench seed`): an account with N members and
//! K agents, created in bulk. Every member gets a generated, encrypted PIN like any other;
//! to be quick, all share one password hash (hashing a million passwords would take hours) and
//! rows go in with multi-row INSERTs in one transaction.
//!
//! The file it writes lists member ids with their PINs: bench data only, never a real account.

use std::io::Write;

use anyhow::Context;
use secrecy::SecretString;

use crate::domain::{Kind, Role, SupportPin, UnlockPolicy};
use crate::service::hashing;
use crate::service::{accounts, members, Actor, Ctx};
use crate::store::{self, Backend};

/// Rows per INSERT statement (SQLite allows 32766 bound values; 9 columns × 500 stays far below).
const BATCH: usize = 500;

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
    let pool = &ctx.db.pool;
    let first: i64 =
        sqlx::query_scalar("SELECT CAST(COALESCE(MAX(id), 0) + 1 AS BIGINT) FROM users")
            .fetch_one(pool)
            .await?;
    let now = store::now();
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?,
    );
    let mut tx = ctx.db.begin().await?;
    for start in (0..members).step_by(BATCH) {
        let end = (start + BATCH).min(members);
        let ids: Vec<i64> = (start..end).map(|i| first + i as i64).collect();
        let mut users = String::from(
            "INSERT INTO users (id, account_id, username, full_name, email, kind, role, password_hash, created_at, updated_at) VALUES ",
        );
        let mut pins = String::from(
            "INSERT INTO support_pins (user_id, ciphertext, state, failures, version, changed_at) VALUES ",
        );
        for (k, _) in ids.iter().enumerate() {
            let b = k * 9;
            if k > 0 {
                users.push(',');
                pins.push(',');
            }
            users.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8,
                b + 9,
                b + 9
            ));
            let p = k * 4;
            pins.push_str(&format!(
                "(${}, ${}, ${}, 0, 0, ${})",
                p + 1,
                p + 2,
                p + 3,
                p + 4
            ));
        }
        let mut q = sqlx::query(&users);
        for id in &ids {
            q = q
                .bind(*id)
                .bind(account.id)
                .bind(format!("bench-{id}"))
                .bind(format!("Bench Member {id}"))
                .bind(format!("bench-{id}@bench.example"))
                .bind("user")
                .bind("user")
                .bind(hash.as_str())
                .bind(now);
        }
        q.execute(&mut *tx).await?;
        let mut q = sqlx::query(&pins);
        for id in &ids {
            let pin = SupportPin::generate();
            writeln!(file, "{id} {}", pin.expose())?;
            q = q
                .bind(*id)
                .bind(ctx.cipher.encrypt_pin(*id, &pin))
                .bind("ACTIVE")
                .bind(now);
        }
        q.execute(&mut *tx).await?;
    }
    if ctx.db.backend() == Backend::Postgres {
        // Explicit ids do not advance the identity sequence; later inserts must not collide.
        sqlx::query(
            "SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT MAX(id) FROM users))",
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    if ctx.db.backend() == Backend::Sqlite {
        // Move the bulk insert from the WAL into the database file now; otherwise the next
        // start reads a WAL of hundreds of megabytes to rebuild its index.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(pool)
            .await?;
    }
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
