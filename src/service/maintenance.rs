//! Housekeeping every instance runs now and then: expired sessions, tokens and throttle windows
//! go (every lookup already ignores them; this keeps the tables small), and audit rows older
//! than the retention period are purged.

use super::{Ctx, Result};
use crate::store;

/// What one run removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Removed {
    pub sessions: u64,
    pub tokens: u64,
    pub throttle_windows: u64,
    pub audit_rows: u64,
    pub mfa_sessions: u64,
    pub sent_mail: u64,
    pub sso_attempts: u64,
}

/// Sent messages stay in the outbox a week (for an operator looking into a complaint); the audit
/// log keeps that they were sent for as long as it keeps anything.
const SENT_MAIL_KEPT_SECS: i64 = 7 * 24 * 3600;

/// One housekeeping run, as of now.
pub async fn run(ctx: &Ctx) -> Result<Removed> {
    let now = store::now();
    let pool = &ctx.db.pool;
    let retention = ctx.settings.audit_retention_days.max(1) * 24 * 3600;
    Ok(Removed {
        sessions: store::sessions::delete_expired(pool, now).await?,
        tokens: store::tokens::delete_expired(pool, now).await?,
        throttle_windows: store::throttle::delete_stale(pool, now - 24 * 3600).await?,
        audit_rows: store::audit::delete_older_than(pool, now - retention).await?,
        mfa_sessions: store::two_step::delete_expired_mfa_sessions(pool, now).await?,
        sent_mail: store::outbox::delete_sent_before(pool, now - SENT_MAIL_KEPT_SECS).await?,
        sso_attempts: store::sso::delete_old_attempts(pool, now - 24 * 3600).await?,
    })
}
