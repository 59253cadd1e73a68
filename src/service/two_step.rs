//! Two-step login: authenticator apps (TOTP, RFC 6238, with `totp-rs`), one-use recovery
//! codes, passkeys (WebAuthn, with `webauthn-rs`), and the API's multi-factor exchange. The panel
//! and the API call the same functions, so a code is checked, throttled and used up one way.
//!
//! Storage: TOTP secrets are encrypted like PINs (the PIN key, the person's id as associated
//! data); recovery codes are kept as an HMAC under a key that is itself sealed with the PIN key;
//! passkeys are public credentials. None of them reaches a log or an audit detail.

use super::metrics::Login;
use std::sync::Arc;

use base64::Engine;
use secrecy::SecretString;
use totp_rs::{Algorithm, Builder, Totp};
use webauthn_rs::prelude::{
    CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Uuid, Webauthn,
};

use super::{audit, audit_now, events, limits, login, mail, Actor, Ctx, Result, ServiceError};
use crate::crypto;
use crate::domain::second_factor::{self, SecondFactorCode, RECOVERY_CODES};
use crate::domain::{Role, TwoStepStatus, User};
use crate::store;

/// How long a half-done login (password given, second step not yet) lasts, in the panel and
/// through the API.
pub const PENDING_SECS: i64 = 5 * 60;
const STEP_SECS: u64 = 30;
const SECRET_BYTES: usize = 20;
/// What authenticator-app secrets are sealed as (with the person's id).
pub const TOTP_PURPOSE: &str = "totp";

/// The relying party for passkeys, built from `PINPANEL_PUBLIC_URL`.
pub fn relying_party(public_url: &url::Url) -> anyhow::Result<Arc<Webauthn>> {
    let rp_id = public_url.domain().ok_or_else(|| {
        anyhow::anyhow!("PINPANEL_PUBLIC_URL must name a host (not an IP address) for passkeys")
    })?;
    let webauthn = webauthn_rs::prelude::WebauthnBuilder::new(rp_id, public_url)?
        .rp_name("pinpanel")
        .build()?;
    Ok(Arc::new(webauthn))
}

/// What a person has set up.
pub async fn status(ctx: &Ctx, user: &User) -> Result<TwoStepStatus> {
    Ok(store::two_step::status(&ctx.db.pool, user.id).await?)
}

/// Must this person set up two-step login before anything else (`PINPANEL_REQUIRE_TWO_STEP`)?
pub fn required_for(ctx: &Ctx, role: Role) -> bool {
    ctx.settings.require_two_step.contains(&role)
}

/// Can passkeys be used here (is there a public URL to be their origin)?
pub fn passkeys_available(ctx: &Ctx) -> bool {
    ctx.passkeys.is_some()
}

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
pub async fn begin_totp(ctx: &Ctx, user: &User) -> Result<TotpSetup> {
    let mut secret = vec![0u8; SECRET_BYTES];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
    let blob = ctx.cipher.encrypt_secret(TOTP_PURPOSE, user.id, &secret);
    if !store::two_step::put_pending_totp(&ctx.db.pool, user.id, blob, store::now()).await? {
        return Err(ServiceError::Conflict(
            "An authenticator app is already set up.".into(),
        ));
    }
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
fn matching_step(ctx: &Ctx, user: &User, ciphertext: &[u8], code: &str) -> Result<Option<i64>> {
    let secret = ctx
        .cipher
        .decrypt_secret(TOTP_PURPOSE, user.id, ciphertext)?;
    let totp = totp_for(user, secret)?;
    Ok(totp
        .check(code, now_u64())
        .and_then(|step| i64::try_from(step).ok()))
}

fn recovery_hash(ctx: &Ctx, user: &User, code: &str) -> String {
    crypto::hmac_hex(
        &ctx.settings.recovery_key,
        format!("recovery v1:{}:{code}", user.id).as_bytes(),
    )
}

/// New recovery codes for `user`, replacing the old ones (inside the caller's transaction).
async fn new_recovery_codes(
    ctx: &Ctx,
    conn: &mut sqlx::AnyConnection,
    user: &User,
) -> Result<Vec<String>> {
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| second_factor::new_recovery_code())
        .collect();
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| recovery_hash(ctx, user, &c.replace('-', "")))
        .collect();
    store::two_step::replace_recovery_codes(conn, user.id, &hashes).await?;
    Ok(codes)
}

/// Reserves a second-factor attempt (throttled like passwords, in the database).
async fn reserve_attempt(ctx: &Ctx, user: &User) -> Result<limits::Reservation> {
    limits::reserve(
        ctx,
        &[(ctx.limits.second_step_per_user, &user.id.to_string())],
    )
    .await
}

/// Confirms the authenticator app being set up with its first code. Two-step login is on from
/// now; when the person had no recovery codes, the ten new ones are returned (to be shown once).
pub async fn confirm_totp(ctx: &Ctx, user: &User, code: &str) -> Result<Option<Vec<String>>> {
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
        Some(new_recovery_codes(ctx, &mut tx, user).await?)
    } else {
        None
    };
    audit(
        &mut tx,
        events::TWO_STEP_ENABLED,
        Actor::User(user),
        Some(user),
        "authenticator app",
    )
    .await?;
    if !before.enabled() {
        mail::access::changed(ctx, &mut tx, events::TWO_STEP_ENABLED, user, store::now()).await?;
    }
    tx.commit().await?;
    reservation.give_back(ctx, true).await?;
    Ok(codes)
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

/// Checks a code at the second step: an authenticator code (each accepted once: a replay in its
/// time window fails) or a recovery code (each works once). Wrong codes are throttled per person
/// like passwords; `WrongCode` otherwise.
pub async fn check_code(ctx: &Ctx, user: &User, raw: &str) -> Result<Used> {
    let reservation = reserve_attempt(ctx, user).await?;
    let pool = &ctx.db.pool;
    let used = match SecondFactorCode::parse(raw) {
        Some(SecondFactorCode::Authenticator(code)) => match store::two_step::totp(pool, user.id)
            .await?
            .filter(|r| r.confirmed)
        {
            Some(row) => match matching_step(ctx, user, &row.ciphertext, &code)? {
                Some(step) if store::two_step::accept_step(pool, user.id, step).await? => {
                    Some(Used::AuthenticatorApp)
                }
                _ => None,
            },
            None => None,
        },
        Some(SecondFactorCode::Recovery(code)) => {
            let hash = recovery_hash(ctx, user, &code);
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
                Used::RecoveryCode { .. } => (events::RECOVERY_CODE_USED, ""),
                _ => (events::SECOND_STEP_OK, "authenticator app"),
            };
            reservation.succeeded(ctx, event, user, detail).await?;
            ctx.metrics.login(Login::SecondStepSuccess);
            Ok(used)
        }
        None => {
            audit_now(
                &ctx.db,
                events::SECOND_STEP_FAILED,
                Actor::User(user),
                Some(user),
                "",
            )
            .await?;
            ctx.metrics.login(Login::SecondStepFailure);
            Err(ServiceError::WrongCode)
        }
    }
}

async fn require_password(ctx: &Ctx, user: &User, password: SecretString) -> Result<()> {
    if login::reauthenticate(ctx, user, password).await? {
        Ok(())
    } else {
        Err(ServiceError::WrongPassword)
    }
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
    let codes = new_recovery_codes(ctx, &mut tx, user).await?;
    audit(
        &mut tx,
        events::RECOVERY_CODES_REGENERATED,
        Actor::User(user),
        Some(user),
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(codes)
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
    audit(
        &mut tx,
        events::TWO_STEP_DISABLED,
        Actor::User(user),
        Some(user),
        "",
    )
    .await?;
    mail::access::changed(ctx, &mut tx, events::TWO_STEP_DISABLED, user, store::now()).await?;
    tx.commit().await?;
    Ok(())
}

/// A passkey as the profile lists it.
pub struct PasskeyInfo {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

pub async fn passkeys(ctx: &Ctx, user: &User) -> Result<Vec<PasskeyInfo>> {
    Ok(store::two_step::passkeys(&ctx.db.pool, user.id)
        .await?
        .into_iter()
        .map(|p| PasskeyInfo {
            id: p.id,
            name: p.name,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
        })
        .collect())
}

fn relying(ctx: &Ctx) -> Result<&Webauthn> {
    ctx.passkeys
        .as_deref()
        .ok_or_else(|| ServiceError::Invalid("Passkeys need PINPANEL_PUBLIC_URL to be set.".into()))
}

fn decode(rows: &[store::two_step::PasskeyRow]) -> Result<Vec<(i64, Passkey)>> {
    rows.iter()
        .map(|r| {
            serde_json::from_str::<Passkey>(&r.passkey)
                .map(|p| (r.id, p))
                .map_err(|e| ServiceError::Internal(anyhow::anyhow!("stored passkey: {e}")))
        })
        .collect()
}

/// Starts registering a passkey: the options for the browser and the state to keep until
/// [`finish_passkey_registration`].
pub async fn start_passkey_registration(
    ctx: &Ctx,
    user: &User,
) -> Result<(CreationChallengeResponse, PasskeyRegistration)> {
    let webauthn = relying(ctx)?;
    let handle =
        store::two_step::webauthn_id(&ctx.db.pool, user.id, &Uuid::new_v4().to_string()).await?;
    let handle = Uuid::parse_str(&handle)
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("webauthn id: {e}")))?;
    let existing = decode(&store::two_step::passkeys(&ctx.db.pool, user.id).await?)?;
    let exclude = existing.iter().map(|(_, p)| p.cred_id().clone()).collect();
    webauthn
        .start_passkey_registration(handle, &user.username, &user.full_name, Some(exclude))
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("passkey registration: {e}")))
}

/// Finishes registering a passkey; returns its id and, when the person had no recovery codes,
/// the ten new ones.
pub async fn finish_passkey_registration(
    ctx: &Ctx,
    user: &User,
    credential: &RegisterPublicKeyCredential,
    state: &PasskeyRegistration,
) -> Result<(i64, Option<Vec<String>>)> {
    let webauthn = relying(ctx)?;
    let passkey = webauthn
        .finish_passkey_registration(credential, state)
        .map_err(|e| {
            tracing::info!(error = %e, "a passkey registration was refused");
            ServiceError::Invalid("The passkey could not be added. Please try again.".into())
        })?;
    let cred_id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(passkey.cred_id());
    let json = serde_json::to_string(&passkey)
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("passkey: {e}")))?;
    let before = status(ctx, user).await?;
    let name = format!("Passkey {}", before.passkeys + 1);
    let mut tx = ctx.db.begin().await?;
    let id = match store::two_step::insert_passkey(
        &mut tx,
        user.id,
        &cred_id,
        &json,
        &name,
        store::now(),
    )
    .await
    {
        Ok(id) => id,
        Err(e) if store::is_unique_violation(&e) => {
            return Err(ServiceError::Conflict(
                "This passkey is already registered.".into(),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let codes = if before.recovery_codes_left == 0 {
        Some(new_recovery_codes(ctx, &mut tx, user).await?)
    } else {
        None
    };
    let event = if before.enabled() {
        events::PASSKEY_ADDED
    } else {
        events::TWO_STEP_ENABLED
    };
    audit(&mut tx, event, Actor::User(user), Some(user), "passkey").await?;
    if !before.enabled() {
        mail::access::changed(ctx, &mut tx, events::TWO_STEP_ENABLED, user, store::now()).await?;
    }
    tx.commit().await?;
    Ok((id, codes))
}

/// Renames one of the person's passkeys.
pub async fn rename_passkey(ctx: &Ctx, user: &User, id: i64, name: &str) -> Result<()> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
        return Err(ServiceError::Invalid(
            "A passkey name has 1 to 60 characters.".into(),
        ));
    }
    if !store::two_step::rename_passkey(&ctx.db.pool, user.id, id, name).await? {
        return Err(ServiceError::NotFound);
    }
    Ok(())
}

/// Removes one of the person's passkeys, after the password again. Removing the last factor is
/// turning two-step off, refused when the role requires it.
pub async fn remove_passkey(ctx: &Ctx, user: &User, id: i64, password: SecretString) -> Result<()> {
    let before = status(ctx, user).await?;
    let last = !before.authenticator_app && before.passkeys <= 1;
    if last && required_for(ctx, user.role) {
        return Err(ServiceError::Forbidden(
            "your role requires two-step login: add another factor before removing this one",
        ));
    }
    require_password(ctx, user, password).await?;
    let mut tx = ctx.db.begin().await?;
    if !store::two_step::delete_passkey(&mut tx, user.id, id).await? {
        return Err(ServiceError::NotFound);
    }
    if last {
        store::two_step::delete_all(&mut tx, user.id).await?;
    }
    let event = if last {
        events::TWO_STEP_DISABLED
    } else {
        events::PASSKEY_REMOVED
    };
    audit(&mut tx, event, Actor::User(user), Some(user), "passkey").await?;
    if last {
        mail::access::changed(ctx, &mut tx, events::TWO_STEP_DISABLED, user, store::now()).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Starts a passkey second step for `user`: the options for the browser and the state to keep.
pub async fn start_passkey_login(
    ctx: &Ctx,
    user: &User,
) -> Result<(RequestChallengeResponse, PasskeyAuthentication)> {
    let webauthn = relying(ctx)?;
    let keys = decode(&store::two_step::passkeys(&ctx.db.pool, user.id).await?)?;
    if keys.is_empty() {
        return Err(ServiceError::Invalid("You have no passkey.".into()));
    }
    let keys: Vec<Passkey> = keys.into_iter().map(|(_, p)| p).collect();
    webauthn
        .start_passkey_authentication(&keys)
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("passkey login: {e}")))
}

/// Finishes a passkey second step: the assertion must come from one of `user`'s passkeys.
pub async fn finish_passkey_login(
    ctx: &Ctx,
    user: &User,
    credential: &PublicKeyCredential,
    state: &PasskeyAuthentication,
) -> Result<Used> {
    let webauthn = relying(ctx)?;
    let reservation = reserve_attempt(ctx, user).await?;
    let result = match webauthn.finish_passkey_authentication(credential, state) {
        Ok(result) => result,
        Err(e) => {
            tracing::info!(error = %e, "a passkey assertion was refused");
            audit_now(
                &ctx.db,
                events::SECOND_STEP_FAILED,
                Actor::User(user),
                Some(user),
                "passkey",
            )
            .await?;
            ctx.metrics.login(Login::SecondStepFailure);
            return Err(ServiceError::WrongCode);
        }
    };
    reservation.give_back(ctx, true).await?;
    let rows = store::two_step::passkeys(&ctx.db.pool, user.id).await?;
    for (id, mut passkey) in decode(&rows)? {
        if let Some(changed) = passkey.update_credential(&result) {
            let json = if changed {
                serde_json::to_string(&passkey).ok()
            } else {
                None
            };
            store::two_step::passkey_used(&ctx.db.pool, user.id, id, json.as_deref(), store::now())
                .await?;
        }
    }
    audit_now(
        &ctx.db,
        events::SECOND_STEP_OK,
        Actor::User(user),
        Some(user),
        "passkey",
    )
    .await?;
    ctx.metrics.login(Login::SecondStepSuccess);
    Ok(Used::Passkey)
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
/// the person; the session serves once. `NotFound` when the session is unknown or expired.
pub async fn finish_api_second_step(ctx: &Ctx, session_id: &str, passcode: &str) -> Result<User> {
    let hash = crypto::sha256_hex(session_id.as_bytes());
    let (user_id, epoch) = store::two_step::mfa_session(&ctx.db.pool, &hash, store::now())
        .await?
        .ok_or(ServiceError::NotFound)?;
    let (user, _) = login::current_user(ctx, user_id, epoch)
        .await?
        .ok_or(ServiceError::NotFound)?;
    check_code(ctx, &user, passcode).await?;
    if !store::two_step::end_mfa_session(&ctx.db.pool, &hash).await? {
        return Err(ServiceError::NotFound);
    }
    Ok(user)
}
