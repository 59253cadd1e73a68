//! An agent verifies the PIN a caller recites: the lock counter. A right PIN resets the failure
//! count; a wrong one counts one failure, and the sixth locks the PIN (mailing the member and
//! whoever may unlock it); a locked PIN fails every attempt, the right one too. Each outcome is
//! one guarded UPDATE, so concurrent attempts on any number of instances count exactly the
//! failures that happened.

use super::super::mail::messages;
use super::super::metrics::Verification;
use super::super::{
    alarm, limits, people, policy, Actor, AuditRecord, Context, Ctx, Result, ServiceError,
};
use crate::domain::{self, Event, PinState, Reference, User, VerifyRefusal, MAX_PIN_FAILURES};
use crate::store::{self, pins::PinRecord};

/// How many times a verification retries when the PIN changed under it.
const VERIFY_RETRIES: usize = 5;

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
/// `reference` (a ticket or call) goes with the events, for the member and the agent to see.
/// A wrong PIN may warn the account's administrators ([`alarm`]).
pub async fn verify(
    ctx: &Ctx,
    agent: &User,
    target: &User,
    candidate: &str,
    reference: Option<&Reference>,
) -> Result<VerifyOutcome> {
    policy::may_verify(agent)?;
    policy::may_name(agent, target)?;
    let candidate = domain::recited_pin(candidate).ok_or(ServiceError::PinRequired)?;
    let hit = limits::Hit::new(ctx, ctx.limits.verify_per_agent, &agent.id.to_string());
    let context = Context {
        address: None,
        reference: reference.map(Reference::as_str),
    };
    // Where writers run side by side (PostgreSQL), a verification is two statements and no
    // transaction; where they queue for one writer (SQLite), one short transaction is cheaper.
    let done = if ctx.db.writes_in_parallel() {
        match verify_in_statements(ctx, agent, target, candidate, &hit, context).await {
            Ok(Some(outcome)) => Ok(outcome),
            // The hit is counted; the transaction does the rest.
            Ok(None) => verify_in_transaction(ctx, agent, target, candidate, None, context).await,
            Err(e) => Err(e),
        }
    } else {
        verify_in_transaction(ctx, agent, target, candidate, Some(&hit), context).await
    };
    if let Ok(VerifyOutcome::Incorrect { .. } | VerifyOutcome::Locked) = &done {
        alarm::after_wrong_pin(ctx, target).await?;
    }
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
    Refused(VerifyRefusal, VerifyOutcome),
    Right,
    Wrong,
}

fn judge(ctx: &Ctx, target: &User, r: &PinRecord, candidate: &str) -> Result<Judgement> {
    if target.disabled {
        return Ok(Judgement::Refused(
            VerifyRefusal::Disabled,
            VerifyOutcome::Disabled,
        ));
    }
    let blob = match (&r.state, &r.ciphertext) {
        (PinState::Locked, _) => {
            return Ok(Judgement::Refused(
                VerifyRefusal::Locked,
                VerifyOutcome::Locked,
            ))
        }
        (_, None) => {
            return Ok(Judgement::Refused(
                VerifyRefusal::NoPin,
                VerifyOutcome::NoPin,
            ))
        }
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
    context: Context<'_>,
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
        Judgement::Refused(refusal, outcome) => {
            let agent = Actor::User(agent);
            let failed = Event::PinVerifyFailed;
            let detail = refusal.as_str();
            AuditRecord::new(failed, agent)
                .about(target)
                .detail(detail)
                .context(context)
                .write_now(&ctx.db)
                .await?;
            return Ok(Some(outcome));
        }
        Judgement::Right => (
            0,
            Event::PinVerified,
            String::new(),
            VerifyOutcome::Verified,
        ),
        Judgement::Wrong if seen + 1 < MAX_PIN_FAILURES => (
            seen + 1,
            Event::PinVerifyFailed,
            failure_detail(seen + 1),
            VerifyOutcome::Incorrect {
                attempts_left: domain::attempts_left(seen + 1),
            },
        ),
        Judgement::Wrong => return Ok(None),
    };
    let record = AuditRecord::new(event, Actor::User(agent))
        .about(target)
        .detail(&detail)
        .context(context);
    let who = Actor::User(agent).to_ref();
    let row = record.row(&who);
    let now = store::now();
    if !store::pins::set_failures_audited(pool, target.id, r.version, seen, failures, &row, now)
        .await?
    {
        return Ok(None);
    }
    record.log(&who);
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
    context: Context<'_>,
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
            Judgement::Refused(refusal, outcome) => {
                AuditRecord::new(Event::PinVerifyFailed, agent())
                    .about(target)
                    .detail(refusal.as_str())
                    .context(context)
                    .write(&mut tx)
                    .await?;
                tx.commit().await?;
                return Ok(outcome);
            }
            Judgement::Right => {
                if store::pins::record_success(&mut tx, target.id, r.version).await? {
                    let verified = Event::PinVerified;
                    AuditRecord::new(verified, agent())
                        .about(target)
                        .context(context)
                        .write(&mut tx)
                        .await?;
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
                    AuditRecord::new(Event::PinVerifyFailed, agent())
                        .about(target)
                        .detail(&detail)
                        .context(context)
                        .write(&mut tx)
                        .await?;
                    if state == PinState::Locked {
                        ctx.metrics.lock();
                        let locked = Event::PinLocked;
                        AuditRecord::new(locked, agent())
                            .about(target)
                            .context(context)
                            .write(&mut tx)
                            .await?;
                        // Read on the transaction's own connection (see people::unlockers_on).
                        let account_id = target.account_id.ok_or(ServiceError::NotFound)?;
                        let account = store::accounts::by_id(&mut *tx, account_id)
                            .await?
                            .ok_or(ServiceError::NotFound)?;
                        let unlockers = people::unlockers_on(&mut tx, target, &account).await?;
                        messages::pin_locked(
                            ctx,
                            &mut tx,
                            target,
                            account.unlock_policy,
                            &unlockers,
                            now,
                        )
                        .await?;
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
