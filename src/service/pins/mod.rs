//! The Support PIN use cases of its owner and its account: its state, show, change, unlock,
//! reset ([`verify`] is the agents'). Each checks permission with `policy`, changes state with
//! one guarded statement in `store::pins`, and writes its audit event in the same transaction.

pub mod verify;

use super::mail::messages::{self, PinChange};
use super::policy::RecentPassword;
use super::{keys, people, policy, Actor, AuditRecord, Ctx, Result, ServiceError};
use crate::domain::{self, ActivityKind, AuditEvent, Event, PinState, SupportPin};
use crate::domain::{UnlockPolicy, User};
use crate::store::{self, pins::ReplaceWhen, Tx};

pub use verify::{verify, VerifyOutcome};

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

pub(super) async fn record(ctx: &Ctx, user_id: i64) -> Result<store::pins::PinRecord> {
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
    let (r, events) = store::pins::with_activity(&ctx.db.pool, target.id, ActivityKind::Pin, limit)
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

/// Decrypts `target`'s PIN for its owner, who entered their password recently, and records
/// that it was shown. A locked PIN stays hidden until it is unlocked.
pub async fn show(
    ctx: &Ctx,
    actor: &User,
    target: &User,
    recent: &RecentPassword,
) -> Result<SupportPin> {
    policy::may_use_own_pin(actor, target)?;
    recent.of(actor)?;
    let r = record(ctx, target.id).await?;
    let blob = match (r.state, r.ciphertext) {
        (PinState::Locked, _) => return Err(ServiceError::Locked),
        (_, None) => return Err(ServiceError::NoPin),
        (_, Some(blob)) => blob,
    };
    let pin = ctx.cipher.decrypt_pin(target.id, &blob)?;
    let mut conn = ctx.db.pool.acquire().await?;
    AuditRecord::new(Event::PinShown, Actor::User(actor))
        .about(target)
        .write(&mut conn)
        .await?;
    Ok(pin)
}

/// The owner, who entered their password recently, sets a new PIN. The candidate goes through
/// `SupportPin::parse`; a locked PIN cannot be changed.
pub async fn change(
    ctx: &Ctx,
    actor: &User,
    target: &User,
    recent: &RecentPassword,
    candidate: &str,
) -> Result<()> {
    policy::may_use_own_pin(actor, target)?;
    recent.of(actor)?;
    let pin = SupportPin::parse(candidate).map_err(ServiceError::InvalidPin)?;
    let blob = ctx.cipher.encrypt_pin(target.id, &pin);
    let mut tx = ctx.db.begin().await?;
    keys::hold(ctx, &mut tx).await?;
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
    told(
        &mut tx,
        ctx,
        PinChange::Changed,
        Actor::User(actor),
        target,
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Records a change to `target`'s PIN and tells the member, inside the change's transaction.
async fn told(
    tx: &mut Tx,
    ctx: &Ctx,
    change: PinChange,
    actor: Actor<'_>,
    target: &User,
    detail: &str,
) -> Result<()> {
    let event = match change {
        PinChange::Changed => Event::PinChanged,
        PinChange::Unlocked => Event::PinUnlocked,
        PinChange::Reset => Event::PinReset,
    };
    AuditRecord::new(event, actor)
        .about(target)
        .detail(detail)
        .write(tx)
        .await?;
    messages::pin_changed(ctx, tx, change, actor, target, store::now()).await
}

/// `rule`'s refusal of `actor` doing `what` to `target`, recorded when it is a denial (a
/// `NotFound` is not: the actor may not even know the member).
async fn refused(
    ctx: &Ctx,
    actor: Actor<'_>,
    target: &User,
    what: &str,
    rule: Result<()>,
) -> Result<()> {
    if let Err(e) = rule {
        if matches!(e, ServiceError::Forbidden(_)) {
            AuditRecord::new(Event::PermissionDenied, actor)
                .about(target)
                .detail(what)
                .write_now(&ctx.db)
                .await?;
        }
        return Err(e);
    }
    Ok(())
}

/// The account policy that governs `target`'s PIN.
pub async fn unlock_policy(ctx: &Ctx, target: &User) -> Result<UnlockPolicy> {
    let account = people::account_of(ctx, target)
        .await?
        .ok_or(ServiceError::NotFound)?;
    Ok(account.unlock_policy)
}

/// Unlocks a locked PIN; the failure count goes back to zero and the PIN is unchanged.
pub async fn unlock(ctx: &Ctx, actor: &User, target: &User) -> Result<()> {
    let policy = unlock_policy(ctx, target).await?;
    let rule = policy::may_unlock(actor, target, policy);
    refused(ctx, Actor::User(actor), target, "unlock", rule).await?;
    let mut tx = ctx.db.begin().await?;
    if !store::pins::unlock(&mut tx, target.id).await? {
        tx.rollback().await?;
        return Err(match record(ctx, target.id).await?.state {
            PinState::Inactive => ServiceError::NoPin,
            _ => ServiceError::NotLocked,
        });
    }
    told(
        &mut tx,
        ctx,
        PinChange::Unlocked,
        Actor::User(actor),
        target,
        "",
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
    refused(
        ctx,
        actor,
        target,
        "reset",
        policy::may_reset(actor, target),
    )
    .await?;
    let blob = ctx.cipher.encrypt_pin(target.id, &SupportPin::generate());
    let when = if only_if_missing {
        ReplaceWhen::Missing
    } else {
        ReplaceWhen::NotLocked
    };
    let mut tx = ctx.db.begin().await?;
    keys::hold(ctx, &mut tx).await?;
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
    told(&mut tx, ctx, PinChange::Reset, actor, target, detail).await?;
    tx.commit().await?;
    ctx.metrics.reset();
    Ok(())
}
