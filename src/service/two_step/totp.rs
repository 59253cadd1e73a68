//! Authenticator apps (TOTP, RFC 6238, with `totp-rs`): setting one up with its QR code and
//! confirming it with a first code; the time step a code is valid in. Secrets are encrypted like
//! PINs (the PIN key, the person's id as associated data) and never reach a log.

use totp_rs::{Algorithm, Builder, Totp};

use super::{recovery, reserve_attempt, status, AccessChange};
use crate::domain::second_factor::{self, SecondFactorCode};
use crate::domain::{Event, User};
use crate::service::policy::RecentPassword;
use crate::service::{keys, mail, Actor, AuditRecord, Ctx, Result, ServiceError};
use crate::store;

const STEP_SECS: u64 = 30;
const SECRET_BYTES: usize = 20;
pub use crate::crypto::TOTP_PURPOSE;

fn totp_for(user: &User, secret: Vec<u8>) -> Result<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP_SECS)
        .with_secret(secret)
        .with_issuer(Some("pinpanel"))
        .with_account_name(user.username.as_str())
        .build()
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("TOTP: {e:?}")))
}

/// An authenticator app being set up: the secret as text (groups of four base32 letters) and as
/// a QR code (an `otpauth://` URI, drawn as SVG on the server).
pub struct TotpSetup {
    pub secret: String,
    pub qr_svg: String,
}

fn setup_of(user: &User, secret: Vec<u8>) -> Result<TotpSetup> {
    let totp = totp_for(user, secret)?;
    let uri = totp
        .to_url()
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("TOTP URL: {e:?}")))?;
    let svg = qrcode::QrCode::new(uri.as_bytes())
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("QR code: {e}")))?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build();
    // The XML declaration has no place inside HTML.
    let svg = svg
        .find("<svg")
        .map_or(svg.clone(), |at| svg[at..].to_owned());
    Ok(TotpSetup {
        secret: second_factor::grouped(&totp.secret().to_base32()),
        qr_svg: svg,
    })
}

/// Starts setting up an authenticator app with a new secret. Nothing changes for the login
/// until [`confirm_totp`] accepts a first code.
pub async fn begin_totp(ctx: &Ctx, user: &User, recent: &RecentPassword) -> Result<TotpSetup> {
    recent.of(user)?;
    let mut secret = vec![0u8; SECRET_BYTES];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
    let blob = ctx.cipher.encrypt_secret(TOTP_PURPOSE, user.id, &secret);
    let mut tx = ctx.db.begin().await?;
    keys::hold(ctx, &mut tx).await?;
    if !store::two_step::put_pending_totp(&mut tx, user.id, blob, store::now()).await? {
        return Err(ServiceError::Conflict(
            "An authenticator app is already set up.".into(),
        ));
    }
    tx.commit().await?;
    setup_of(user, secret)
}

/// The authenticator app being set up, as [`begin_totp`] left it; `None` when there is none.
pub async fn pending_totp(ctx: &Ctx, user: &User) -> Result<Option<TotpSetup>> {
    match store::two_step::totp(&ctx.db.pool, user.id).await? {
        Some(row) if !row.confirmed => {
            let secret = ctx
                .cipher
                .decrypt_secret(TOTP_PURPOSE, user.id, &row.ciphertext)?;
            Ok(Some(setup_of(user, secret)?))
        }
        _ => Ok(None),
    }
}

fn now_u64() -> u64 {
    u64::try_from(store::now()).unwrap_or_default()
}

/// The time step `code` is valid in for `ciphertext`'s secret (this step or one either side).
pub(super) fn matching_step(
    ctx: &Ctx,
    user: &User,
    ciphertext: &[u8],
    code: &str,
) -> Result<Option<i64>> {
    let secret = ctx
        .cipher
        .decrypt_secret(TOTP_PURPOSE, user.id, ciphertext)?;
    let totp = totp_for(user, secret)?;
    Ok(totp
        .check(code, now_u64())
        .and_then(|step| i64::try_from(step).ok()))
}

/// Confirms the authenticator app being set up with its first code. Two-step login is on from
/// now; when the person had no recovery codes, the ten new ones are returned (to be shown once).
pub async fn confirm_totp(
    ctx: &Ctx,
    user: &User,
    recent: &RecentPassword,
    code: &str,
) -> Result<Option<Vec<String>>> {
    recent.of(user)?;
    let reservation = reserve_attempt(ctx, user).await?;
    let row = store::two_step::totp(&ctx.db.pool, user.id)
        .await?
        .filter(|r| !r.confirmed)
        .ok_or_else(|| {
            ServiceError::Conflict("Start setting up the authenticator app again.".into())
        })?;
    let step = match SecondFactorCode::parse(code) {
        Some(SecondFactorCode::Authenticator(code)) => {
            matching_step(ctx, user, &row.ciphertext, &code)?
        }
        _ => None,
    };
    let Some(step) = step else {
        return Err(ServiceError::WrongCode);
    };
    let before = status(ctx, user).await?;
    let mut tx = ctx.db.begin().await?;
    if !store::two_step::confirm_totp(&mut tx, user.id, step).await? {
        return Err(ServiceError::Conflict(
            "Start setting up the authenticator app again.".into(),
        ));
    }
    let codes = if before.recovery_codes_left == 0 {
        Some(recovery::replace_codes(ctx, &mut tx, user).await?)
    } else {
        None
    };
    AuditRecord::new(Event::TwoStepEnabled, Actor::User(user))
        .about(user)
        .detail("authenticator app")
        .write(&mut tx)
        .await?;
    if !before.enabled() {
        mail::messages::access_changed(ctx, &mut tx, AccessChange::TwoStepOn, user, store::now())
            .await?;
    }
    tx.commit().await?;
    reservation.give_back(ctx, true).await?;
    Ok(codes)
}
