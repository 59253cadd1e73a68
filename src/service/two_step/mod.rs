//! Two-step login as a whole: what a person has set up, the code at the second step of a login
//! (checked, throttled and used up one way for the panel and the API), turning it off, and the
//! API's multi-factor exchange. The factors themselves are in [`totp`] (authenticator apps,
//! RFC 6238), [`passkeys`] (WebAuthn) and [`recovery`] (one-use recovery codes).
//!
//! Storage: TOTP secrets are encrypted like PINs (the PIN key, the person's id as associated
//! data); recovery codes are kept as an HMAC under a key that is itself sealed with the PIN key;
//! passkeys are public credentials. None of them reaches a log or an audit detail.

pub mod passkeys;
pub mod recovery;
pub mod totp;

use secrecy::SecretString;

use super::mail::messages::AccessChange;
use super::metrics::Login;
use super::{limits, login, mail, policy, Actor, AuditRecord, Ctx, Result, ServiceError};
use crate::crypto;
use crate::domain::second_factor::SecondFactorCode;
use crate::domain::{Event, Role, TwoStepStatus, User};
use crate::store;

pub use passkeys::PasskeyInfo;
pub use totp::{TotpSetup, TOTP_PURPOSE};

/// How long a half-done login (password given, second step not yet) lasts, in the panel and
/// through the API.
pub const PENDING_SECS: i64 = 5 * 60;

/// What a person has set up.
pub async fn status(ctx: &Ctx, user: &User) -> Result<TwoStepStatus> {
    Ok(store::two_step::status(&ctx.db.pool, user.id).await?)
}

/// Must this person set up two-step login before anything else (`PINPANEL_REQUIRE_TWO_STEP`)?
pub fn required_for(ctx: &Ctx, role: Role) -> bool {
    ctx.settings.requires_two_step(role)
}

/// Can passkeys be used here (is there a public URL to be their origin)?
pub fn passkeys_available(ctx: &Ctx) -> bool {
    ctx.passkeys.is_some()
}

/// Reserves an attempt at confirming a factor being set up (throttled like passwords).
pub(super) async fn reserve_attempt(ctx: &Ctx, user: &User) -> Result<limits::Reservation> {
    limits::reserve(
        ctx,
        &[(ctx.limits.second_step_per_user, &user.id.to_string())],
    )
    .await
}

/// Reserves a second step of a login by `user` from the client address `from`: counted per
/// person and address, so wrong codes from one place never refuse the owner's right one from
/// another ([`MAX_SECOND_STEP_FAILURES`] in a row, from anywhere, is the ceiling).
pub(super) async fn reserve_second_step(
    ctx: &Ctx,
    user: &User,
    from: &str,
) -> Result<limits::Reservation> {
    let who = format!("{}|{from}", user.id);
    limits::reserve(ctx, &[(ctx.limits.second_step_per_user_address, &who)]).await
}

/// Which second factor was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Used {
    AuthenticatorApp,
    /// A recovery code; this many are left.
    RecoveryCode {
        left: i64,
    },
    Passkey,
}

pub use crate::domain::second_factor::MAX_SECOND_STEP_FAILURES;
/// Wrong second steps after which the person is told someone is trying, at most once an hour.
pub const ALERT_AFTER_FAILURES: i64 = 5;
const ALERT_EVERY_SECS: i64 = 3600;

/// Checks a code at the second step: an authenticator code (each accepted once: a replay in its
/// time window fails) or a recovery code (each works once). Wrong codes are throttled
/// per person and client address (`from`) like passwords, and counted toward
/// [`MAX_SECOND_STEP_FAILURES`]; `WrongCode` otherwise, or `CodesRefused` for an authenticator
/// code once that many have failed.
pub async fn check_code(ctx: &Ctx, user: &User, raw: &str, from: &str) -> Result<Used> {
    let reservation = reserve_second_step(ctx, user, from).await?;
    let pool = &ctx.db.pool;
    let code = SecondFactorCode::parse(raw);
    if matches!(code, Some(SecondFactorCode::Authenticator(_)))
        && store::two_step::second_step_failures(pool, user.id).await? >= MAX_SECOND_STEP_FAILURES
    {
        wrong_second_step(
            ctx,
            user,
            "authenticator codes refused after too many wrong ones",
        )
        .await?;
        return Err(ServiceError::CodesRefused);
    }
    let used = match code {
        Some(SecondFactorCode::Authenticator(code)) => match store::two_step::totp(pool, user.id)
            .await?
            .filter(|r| r.confirmed)
        {
            Some(row) => match totp::matching_step(ctx, user, &row.ciphertext, &code)? {
                Some(step) if store::two_step::accept_step(pool, user.id, step).await? => {
                    Some(Used::AuthenticatorApp)
                }
                _ => None,
            },
            None => None,
        },
        Some(SecondFactorCode::Recovery(code)) => {
            let hash = recovery::hash(ctx, user, &code);
            if store::two_step::use_recovery_code(pool, user.id, &hash, store::now()).await? {
                let left = status(ctx, user).await?.recovery_codes_left;
                Some(Used::RecoveryCode { left })
            } else {
                None
            }
        }
        None => None,
    };
    match used {
        Some(used) => {
            let (event, detail) = match used {
                Used::RecoveryCode { .. } => (Event::RecoveryCodeUsed, ""),
                _ => (Event::SecondStepOk, "authenticator app"),
            };
            if matches!(used, Used::RecoveryCode { .. }) {
                strong_second_step(ctx, user).await?;
            }
            reservation.succeeded(ctx, event, user, detail).await?;
            ctx.metrics.login(Login::SecondStepSuccess);
            Ok(used)
        }
        None => {
            wrong_second_step(ctx, user, "").await?;
            Err(ServiceError::WrongCode)
        }
    }
}

/// Counts a wrong second step (one statement, however many instances), records it, and past
/// [`ALERT_AFTER_FAILURES`] tells the person someone is trying, at most once an hour.
pub(super) async fn wrong_second_step(ctx: &Ctx, user: &User, detail: &str) -> Result<()> {
    let now = store::now();
    let mut tx = ctx.db.begin().await?;
    let failures = store::two_step::count_second_step_failure(&mut tx, user.id).await?;
    AuditRecord::new(Event::SecondStepFailed, Actor::User(user))
        .about(user)
        .detail(detail)
        .write(&mut tx)
        .await?;
    if failures >= ALERT_AFTER_FAILURES
        && store::two_step::claim_second_step_alert(&mut tx, user.id, now, ALERT_EVERY_SECS).await?
    {
        let ceiling = MAX_SECOND_STEP_FAILURES;
        mail::messages::second_step_alert(ctx, &mut tx, user, failures, ceiling, now).await?;
    }
    tx.commit().await?;
    ctx.metrics.login(Login::SecondStepFailure);
    Ok(())
}

/// A recovery code or a passkey was used: more than a code from the app, so the count of wrong
/// second steps starts again.
pub(super) async fn strong_second_step(ctx: &Ctx, user: &User) -> Result<()> {
    let mut conn = ctx.db.pool.acquire().await?;
    store::two_step::clear_second_step_failures(&mut conn, user.id).await?;
    Ok(())
}

/// An administrator lets a member's authenticator codes work again after too many wrong ones.
pub async fn allow_codes_again(ctx: &Ctx, admin: &User, member: &User) -> Result<()> {
    policy::may_administer(
        Actor::User(admin),
        member.account_id.ok_or(ServiceError::NotFound)?,
    )?;
    let mut tx = ctx.db.begin().await?;
    if store::two_step::clear_second_step_failures(&mut tx, member.id).await? {
        AuditRecord::new(Event::SecondStepCleared, Actor::User(admin))
            .about(member)
            .write(&mut tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn require_password(ctx: &Ctx, user: &User, password: SecretString) -> Result<()> {
    if login::reauthenticate(ctx, user, password).await? {
        Ok(())
    } else {
        Err(ServiceError::WrongPassword)
    }
}

/// Turns two-step login off (every factor and code goes), after the password again; refused
/// when the person's role requires it.
pub async fn turn_off(ctx: &Ctx, user: &User, password: SecretString) -> Result<()> {
    if required_for(ctx, user.role) {
        return Err(ServiceError::Forbidden(
            "your role requires two-step login, so it cannot be turned off",
        ));
    }
    require_password(ctx, user, password).await?;
    let mut tx = ctx.db.begin().await?;
    store::two_step::delete_all(&mut tx, user.id).await?;
    AuditRecord::new(Event::TwoStepDisabled, Actor::User(user))
        .about(user)
        .write(&mut tx)
        .await?;
    mail::messages::access_changed(ctx, &mut tx, AccessChange::TwoStepOff, user, store::now())
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The API's multi-factor step after a correct password: a one-use session id for the
/// passcode exchange (stored hashed, valid for [`PENDING_SECS`]).
pub async fn begin_api_second_step(ctx: &Ctx, user: &User) -> Result<String> {
    let id = crypto::random_token();
    store::two_step::insert_mfa_session(
        &ctx.db.pool,
        &crypto::sha256_hex(id.as_bytes()),
        user.id,
        user.auth_epoch,
        store::now() + PENDING_SECS,
    )
    .await?;
    Ok(id)
}

/// Exchanges a passcode (authenticator or recovery code) on an API multi-factor session for
/// the person, from the client address `from`; the session serves once. `NotFound` when the
/// session is unknown or expired.
pub async fn finish_api_second_step(
    ctx: &Ctx,
    session_id: &str,
    passcode: &str,
    from: &str,
) -> Result<User> {
    let hash = crypto::sha256_hex(session_id.as_bytes());
    let (user_id, epoch) = store::two_step::mfa_session(&ctx.db.pool, &hash, store::now())
        .await?
        .ok_or(ServiceError::NotFound)?;
    let (user, _) = login::current_user(ctx, user_id, epoch)
        .await?
        .ok_or(ServiceError::NotFound)?;
    check_code(ctx, &user, passcode, from).await?;
    if !store::two_step::end_mfa_session(&ctx.db.pool, &hash).await? {
        return Err(ServiceError::NotFound);
    }
    Ok(user)
}
