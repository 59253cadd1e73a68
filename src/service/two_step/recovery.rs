//! One-use recovery codes: ten at a time, shown once, kept only as an HMAC under a key that is
//! itself sealed with the PIN key.

use secrecy::SecretString;

use super::{require_password, status};
use crate::crypto;
use crate::domain::second_factor::{self, RECOVERY_CODES};
use crate::domain::{Event, User};
use crate::service::{Actor, AuditRecord, Ctx, Result, ServiceError};
use crate::store::{self, Tx};

/// What a recovery code is kept as.
pub(super) fn hash(ctx: &Ctx, user: &User, code: &str) -> String {
    crypto::hmac_hex(
        &ctx.keys.recovery,
        format!("recovery v1:{}:{code}", user.id).as_bytes(),
    )
}

/// New recovery codes for `user`, replacing the old ones (inside the caller's transaction).
pub(super) async fn replace_codes(ctx: &Ctx, conn: &mut Tx, user: &User) -> Result<Vec<String>> {
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| second_factor::new_recovery_code())
        .collect();
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| hash(ctx, user, &c.replace('-', "")))
        .collect();
    store::two_step::replace_recovery_codes(conn, user.id, &hashes).await?;
    Ok(codes)
}

/// Ten new recovery codes (the old ones stop working), after the password again.
pub async fn regenerate_recovery_codes(
    ctx: &Ctx,
    user: &User,
    password: SecretString,
) -> Result<Vec<String>> {
    if !status(ctx, user).await?.enabled() {
        return Err(ServiceError::Conflict(
            "Turn on two-step login first.".into(),
        ));
    }
    require_password(ctx, user, password).await?;
    let mut tx = ctx.db.begin().await?;
    let codes = replace_codes(ctx, &mut tx, user).await?;
    AuditRecord::new(Event::RecoveryCodesRegenerated, Actor::User(user))
        .about(user)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(codes)
}
