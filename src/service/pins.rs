//! The Support PIN use cases: show, change, verify, unlock, reset. Each checks permission with
//! `policy`, changes state with one guarded statement in `store::pins`, and writes its audit
//! event in the same transaction.

use super::metrics::Verification;
use super::{audit, events, limits, mail, policy, Actor, Ctx, Result, ServiceError};
use crate::domain::{self, PinState, SupportPin, UnlockPolicy, MAX_PIN_FAILURES};
use crate::domain::{AuditEvent, User};
use crate::store::pins::{PinRecord, ReplaceWhen};
use crate::store::{self, Backend};

/// How many times a verification retries when the PIN changed under it.
const VERIFY_RETRIES: usize = 5;

/// Loads the member `target_id` if `actor` may name them; `NotFound` otherwise.
pub async fn member(ctx: &Ctx, actor: &User, target_id: i64) -> Result<User> {
    let target = store::users::by_id(&ctx.db.pool, target_id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    policy::may_name(actor, &target)?;
    Ok(target)
}

/// The member of account `number` with `username`, as an agent names a caller; `None` when
/// there is no such member (agents may name any member, so this says so plainly).
pub async fn member_by_username(
    ctx: &Ctx,
    agent: &User,
    number: &str,
    username: &str,
) -> Result<Option<User>> {
    policy::may_verify(agent)?;
    let pool = &ctx.db.pool;
    Ok(match store::accounts::by_number(pool, number).await? {
        Some(account) => store::users::in_account_by_username(pool, account.id, username).await?,
        None => None,
    })
}

/// Who may unlock `member`'s PIN when the member may not: the account's enabled
/// administrators.
pub async fn unlockers(ctx: &Ctx, member: &User) -> Result<Vec<User>> {
    let account_id = member.account_id.ok_or(ServiceError::NotFound)?;
    Ok(store::users::admins_of(&ctx.db.pool, account_id).await?)
}

/// The PIN facts a page shows: never the PIN.
#[derive(Debug, Clone)]
pub struct PinStatus {
    pub state: PinState,
    pub failures: i64,
    pub changed_at: Option<i64>,
    pub locked_at: Option<i64>,
}

impl PinStatus {
    pub fn attempts_left(&self) -> i64 {
        domain::attempts_left(self.failures)
    }
}

async fn record(ctx: &Ctx, user_id: i64) -> Result<store::pins::PinRecord> {
    // Every member gets a row at creation; a missing row would be a bug, not a state.
    store::pins::get(&ctx.db.pool, user_id)
        .await?
        .ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("member {user_id} has no PIN row")))
}

/// The state of `target`'s PIN, for anyone who may view the member.
pub async fn status(ctx: &Ctx, actor: &User, target: &User) -> Result<PinStatus> {
    policy::may_view(actor, target)?;
    let r = record(ctx, target.id).await?;
    Ok(PinStatus {
        state: r.state,
        failures: r.failures,
        changed_at: r.changed_at,
        locked_at: r.locked_at,
    })
}

/// The state of `target`'s own PIN with its recent activity (the latest `limit` events), for
/// the member themselves: one statement.
pub async fn overview(
    ctx: &Ctx,
    actor: &User,
    target: &User,
    limit: i64,
) -> Result<(PinStatus, Vec<AuditEvent>)> {
    policy::may_use_own_pin(actor, target)?;
    let (r, events) = store::pins::with_activity(&ctx.db.pool, target.id, limit)
        .await?
        .ok_or_else(|| {
            ServiceError::Internal(anyhow::anyhow!("member {} has no PIN row", target.id))
        })?;
    let status = PinStatus {
        state: r.state,
        failures: r.failures,
        changed_at: r.changed_at,
        locked_at: r.locked_at,
    };
    Ok((status, events))
}

/// Decrypts `target`'s PIN for its owner and records that it was shown. A locked PIN stays
/// hidden until it is unlocked.
pub async fn show(ctx: &Ctx, actor: &User, target: &User) -> Result<SupportPin> {
    policy::may_use_own_pin(actor, target)?;
    let r = record(ctx, target.id).await?;
    let blob = match (r.state, r.ciphertext) {
        (PinState::Locked, _) => return Err(ServiceError::Locked),
        (_, None) => return Err(ServiceError::NoPin),
        (_, Some(blob)) => blob,
    };
    let pin = ctx.cipher.decrypt_pin(target.id, &blob)?;
    let mut conn = ctx.db.pool.acquire().await?;
    audit(
        &mut conn,
        events::PIN_SHOWN,
        Actor::User(actor),
        Some(target),
        "",
    )
    .await?;
    Ok(pin)
}

/// The owner sets a new PIN. The candidate goes through `SupportPin::parse`; a locked PIN
/// cannot be changed.
pub async fn change(ctx: &Ctx, actor: &User, target: &User, candidate: &str) -> Result<()> {
    policy::may_use_own_pin(actor, target)?;
    let pin = SupportPin::parse(candidate).map_err(ServiceError::InvalidPin)?;
    let blob = ctx.cipher.encrypt_pin(target.id, &pin);
    let mut tx = ctx.db.begin().await?;
    if !store::pins::replace(
        &mut tx,
        target.id,
        blob,
        ReplaceWhen::NotLocked,
        store::now(),
    )
    .await?
    {
        return Err(ServiceError::Locked);
    }
    audit(
        &mut tx,
        events::PIN_CHANGED,
        Actor::User(actor),
        Some(target),
        "",
    )
    .await?;
    mail::pin::changed_state(
        ctx,
        &mut tx,
        "pin.changed",
        Actor::User(actor),
        target,
        store::now(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What a verification found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyOutcome {
    Verified,
    /// Wrong PIN; `attempts_left` before the lock (0 when this failure locked it).
    Incorrect {
        attempts_left: i64,
    },
    /// Locked before this attempt: nothing was counted.
    Locked,
    /// The member has no PIN.
    NoPin,
    /// The member is disabled: never verified, nothing counted.
    Disabled,
}

/// An agent checks the PIN a caller recites (normalised by [`domain::recited_pin`], the same for
/// the panel and the API; nothing recited is `PinRequired`). A right PIN resets the failure
/// count; a wrong one counts one failure, and the sixth locks the PIN; a locked PIN fails every
/// attempt, the right one too, and counts nothing. Each outcome is one guarded UPDATE, so
/// concurrent attempts on any number of instances count exactly the failures that happened.
pub async fn verify(
    ctx: &Ctx,
    agent: &User,
    target: &User,
    candidate: &str,
) -> Result<VerifyOutcome> {
    policy::may_verify(agent)?;
    policy::may_name(agent, target)?;
    let candidate = domain::recited_pin(candidate).ok_or(ServiceError::PinRequired)?;
    let hit = limits::Hit::new(ctx, ctx.limits.verify_per_agent, &agent.id.to_string());
    let done = if ctx.db.backend == Backend::Postgres {
        match verify_in_statements(ctx, agent, target, candidate, &hit).await {
            Ok(Some(outcome)) => Ok(outcome),
            // The hit is counted; the transaction does the rest.
            Ok(None) => verify_in_transaction(ctx, agent, target, candidate, None).await,
            Err(e) => Err(e),
        }
    } else {
        verify_in_transaction(ctx, agent, target, candidate, Some(&hit)).await
    };
    let outcome = match &done {
        Ok(VerifyOutcome::Verified) => Some(Verification::Verified),
        Ok(VerifyOutcome::Incorrect { .. }) => Some(Verification::Incorrect),
        Ok(VerifyOutcome::Locked) => Some(Verification::Locked),
        Ok(VerifyOutcome::NoPin) => Some(Verification::NoPin),
        Ok(VerifyOutcome::Disabled) => Some(Verification::Disabled),
        Err(ServiceError::Throttled { .. }) => Some(Verification::Throttled),
        Err(_) => None,
    };
    if let Some(outcome) = outcome {
        ctx.metrics.verification(outcome);
    }
    done
}

/// What comparing a recited PIN with a member's PIN row says.
enum Judgement {
    /// Not compared, nothing counted: a disabled member, a locked PIN (the right PIN too), no PIN.
    Refused(&'static str, VerifyOutcome),
    Right,
    Wrong,
}

fn judge(ctx: &Ctx, target: &User, r: &PinRecord, candidate: &str) -> Result<Judgement> {
    if target.disabled {
        return Ok(Judgement::Refused(
            "refused: member disabled",
            VerifyOutcome::Disabled,
        ));
    }
    let blob = match (&r.state, &r.ciphertext) {
        (PinState::Locked, _) => {
            return Ok(Judgement::Refused("refused: locked", VerifyOutcome::Locked))
        }
        (_, None) => return Ok(Judgement::Refused("refused: no PIN", VerifyOutcome::NoPin)),
        (_, Some(blob)) => blob,
    };
    let pin = ctx.cipher.decrypt_pin(target.id, blob)?;
    Ok(if pin.matches(candidate) {
        Judgement::Right
    } else {
        Judgement::Wrong
    })
}

fn failure_detail(failures: i64) -> String {
    format!("failure {failures} of {MAX_PIN_FAILURES}")
}

fn missing_row(target: &User) -> ServiceError {
    ServiceError::Internal(anyhow::anyhow!("member {} has no PIN row", target.id))
}

/// PostgreSQL: a verification in two statements and no transaction: the agent's hit with the
/// PIN read (one data-modifying CTE), then a compare-and-set of the failure count with its audit
/// row (another). `None` when the transaction must finish it, the hit already counted: the
/// failure that locks the PIN (two events and a mail), or a PIN that moved on in between.
async fn verify_in_statements(
    ctx: &Ctx,
    agent: &User,
    target: &User,
    candidate: &str,
    hit: &limits::Hit,
) -> Result<Option<VerifyOutcome>> {
    let pool = &ctx.db.pool;
    let (hits, start, r) =
        store::pins::get_counting(pool, target.id, &hit.key, hit.window(), hit.now).await?;
    if let Some(refused) = hit.counted(hits, start) {
        return Err(limits::refuse(ctx, refused).await?);
    }
    let r = r.ok_or_else(|| missing_row(target))?;
    let seen = r.failures;
    let (failures, event, detail, outcome) = match judge(ctx, target, &r, candidate)? {
        Judgement::Refused(detail, outcome) => {
            let agent = Actor::User(agent);
            super::audit_now(
                &ctx.db,
                events::PIN_VERIFY_FAILED,
                agent,
                Some(target),
                detail,
            )
            .await?;
            return Ok(Some(outcome));
        }
        Judgement::Right => (
            0,
            events::PIN_VERIFIED,
            String::new(),
            VerifyOutcome::Verified,
        ),
        Judgement::Wrong if seen + 1 < MAX_PIN_FAILURES => (
            seen + 1,
            events::PIN_VERIFY_FAILED,
            failure_detail(seen + 1),
            VerifyOutcome::Incorrect {
                attempts_left: domain::attempts_left(seen + 1),
            },
        ),
        Judgement::Wrong => return Ok(None),
    };
    let actor = Actor::User(agent);
    let row = super::new_event(event, &actor, Some(target), &detail);
    let now = store::now();
    if !store::pins::set_failures_audited(pool, target.id, r.version, seen, failures, &row, now)
        .await?
    {
        return Ok(None);
    }
    super::log_event(event, &actor, Some(target), &detail);
    Ok(Some(outcome))
}

/// A verification in one transaction: the agent's `hit` (unless counted already), the PIN read,
/// the guarded update and its audit rows. On SQLite that is one turn of the single writer, and
/// the read happens under the write lock the hit's upsert took.
async fn verify_in_transaction(
    ctx: &Ctx,
    agent: &User,
    target: &User,
    candidate: &str,
    hit: Option<&limits::Hit>,
) -> Result<VerifyOutcome> {
    for _ in 0..VERIFY_RETRIES {
        let mut tx = ctx.db.begin().await?;
        if let Some(hit) = hit {
            if let Some(refused) = limits::hit_on(&mut tx, hit).await? {
                tx.commit().await?;
                return Err(limits::refuse(ctx, refused).await?);
            }
        }
        let r = store::pins::get(&mut *tx, target.id)
            .await?
            .ok_or_else(|| missing_row(target))?;
        let agent = || Actor::User(agent);
        match judge(ctx, target, &r, candidate)? {
            Judgement::Refused(detail, outcome) => {
                audit(
                    &mut tx,
                    events::PIN_VERIFY_FAILED,
                    agent(),
                    Some(target),
                    detail,
                )
                .await?;
                tx.commit().await?;
                return Ok(outcome);
            }
            Judgement::Right => {
                if store::pins::record_success(&mut tx, target.id, r.version).await? {
                    audit(&mut tx, events::PIN_VERIFIED, agent(), Some(target), "").await?;
                    tx.commit().await?;
                    return Ok(VerifyOutcome::Verified);
                }
            }
            Judgement::Wrong => {
                let now = store::now();
                let counted =
                    store::pins::record_failure(&mut tx, target.id, r.version, now).await?;
                if let Some((failures, state)) = counted {
                    let detail = failure_detail(failures);
                    audit(
                        &mut tx,
                        events::PIN_VERIFY_FAILED,
                        agent(),
                        Some(target),
                        &detail,
                    )
                    .await?;
                    if state == PinState::Locked {
                        ctx.metrics.lock();
                        audit(&mut tx, events::PIN_LOCKED, agent(), Some(target), "").await?;
                        // Read on the transaction's own connection (see store::users::admins_of).
                        let account_id = target.account_id.ok_or(ServiceError::NotFound)?;
                        let policy = store::accounts::by_id(&mut *tx, account_id)
                            .await?
                            .ok_or(ServiceError::NotFound)?
                            .unlock_policy;
                        let admins = store::users::admins_of(&mut *tx, account_id).await?;
                        mail::pin::locked(ctx, &mut tx, target, policy, &admins, now).await?;
                    }
                    tx.commit().await?;
                    return Ok(VerifyOutcome::Incorrect {
                        attempts_left: domain::attempts_left(failures),
                    });
                }
            }
        }
        // The PIN was locked, unlocked or changed between the read and the update (PostgreSQL
        // reads without locking): nothing was counted, the hit neither; look again.
        tx.rollback().await?;
    }
    Err(ServiceError::Internal(anyhow::anyhow!(
        "the Support PIN kept changing during verification"
    )))
}

/// The account policy that governs `target`'s PIN.
pub async fn unlock_policy(ctx: &Ctx, target: &User) -> Result<UnlockPolicy> {
    let account = super::accounts::account_of(ctx, target)
        .await?
        .ok_or(ServiceError::NotFound)?;
    Ok(account.unlock_policy)
}

/// Unlocks a locked PIN; the failure count goes back to zero and the PIN is unchanged.
pub async fn unlock(ctx: &Ctx, actor: &User, target: &User) -> Result<()> {
    let policy = unlock_policy(ctx, target).await?;
    if let Err(e) = policy::may_unlock(actor, target, policy) {
        if matches!(e, ServiceError::Forbidden(_)) {
            super::audit_now(
                &ctx.db,
                events::PERMISSION_DENIED,
                Actor::User(actor),
                Some(target),
                "unlock",
            )
            .await?;
        }
        return Err(e);
    }
    let mut tx = ctx.db.begin().await?;
    if !store::pins::unlock(&mut tx, target.id).await? {
        tx.rollback().await?;
        return Err(match record(ctx, target.id).await?.state {
            PinState::Inactive => ServiceError::NoPin,
            _ => ServiceError::NotLocked,
        });
    }
    audit(
        &mut tx,
        events::PIN_UNLOCKED,
        Actor::User(actor),
        Some(target),
        "",
    )
    .await?;
    mail::pin::changed_state(
        ctx,
        &mut tx,
        "pin.unlocked",
        Actor::User(actor),
        target,
        store::now(),
    )
    .await?;
    tx.commit().await?;
    ctx.metrics.unlock();
    Ok(())
}

/// Gives `target` a new generated PIN that the actor never sees. Refused while locked; with
/// `only_if_missing`, only for a member who has no PIN.
pub async fn reset(
    ctx: &Ctx,
    actor: Actor<'_>,
    target: &User,
    only_if_missing: bool,
) -> Result<()> {
    if let Actor::User(u) = actor {
        if let Err(e) = policy::may_reset(u, target) {
            if matches!(e, ServiceError::Forbidden(_)) {
                super::audit_now(
                    &ctx.db,
                    events::PERMISSION_DENIED,
                    actor,
                    Some(target),
                    "reset",
                )
                .await?;
            }
            return Err(e);
        }
    }
    let blob = ctx.cipher.encrypt_pin(target.id, &SupportPin::generate());
    let when = if only_if_missing {
        ReplaceWhen::Missing
    } else {
        ReplaceWhen::NotLocked
    };
    let mut tx = ctx.db.begin().await?;
    if !store::pins::replace(&mut tx, target.id, blob, when, store::now()).await? {
        tx.rollback().await?;
        let state = record(ctx, target.id).await?.state;
        return Err(match state {
            PinState::Locked => ServiceError::Locked,
            _ => ServiceError::PinExists,
        });
    }
    let detail = if only_if_missing {
        "issued a first PIN"
    } else {
        ""
    };
    audit(&mut tx, events::PIN_RESET, actor, Some(target), detail).await?;
    mail::pin::changed_state(ctx, &mut tx, "pin.reset", actor, target, store::now()).await?;
    tx.commit().await?;
    ctx.metrics.reset();
    Ok(())
}
