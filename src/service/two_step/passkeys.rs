//! Passkeys (WebAuthn, with `webauthn-rs`): registering, naming and removing them, and the
//! passkey second step of a login. Passkeys are public credentials, nothing secret.

use std::sync::Arc;

use base64::Engine;
use secrecy::SecretString;
use webauthn_rs::prelude::{
    CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Uuid, Webauthn,
};

use super::{recovery, require_password, required_for, reserve_second_step, status};
use super::{strong_second_step, wrong_second_step, AccessChange, Used};
use crate::domain::{Event, User};
use crate::service::metrics::Login;
use crate::service::policy::RecentPassword;
use crate::service::{mail, Actor, AuditRecord, Ctx, Result, ServiceError};
use crate::store;

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
    recent: &RecentPassword,
) -> Result<(CreationChallengeResponse, PasskeyRegistration)> {
    recent.of(user)?;
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
        Some(recovery::replace_codes(ctx, &mut tx, user).await?)
    } else {
        None
    };
    let event = if before.enabled() {
        Event::PasskeyAdded
    } else {
        Event::TwoStepEnabled
    };
    AuditRecord::new(event, Actor::User(user))
        .about(user)
        .detail("passkey")
        .write(&mut tx)
        .await?;
    if !before.enabled() {
        mail::messages::access_changed(ctx, &mut tx, AccessChange::TwoStepOn, user, store::now())
            .await?;
    }
    tx.commit().await?;
    Ok((id, codes))
}

/// The longest name of a passkey.
pub const MAX_NAME_CHARS: usize = 60;

/// Renames one of the person's passkeys.
pub async fn rename_passkey(ctx: &Ctx, user: &User, id: i64, name: &str) -> Result<()> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(ServiceError::Invalid(format!(
            "A passkey name has 1 to {MAX_NAME_CHARS} characters."
        )));
    }
    if !store::two_step::rename_passkey(&ctx.db.pool, user.id, id, name).await? {
        return Err(ServiceError::NotFound);
    }
    Ok(())
}

/// Removes one of the person's passkeys, after the password again. Removing the last factor is
/// turning two-step off, refused when the role requires it.
pub async fn remove_passkey(ctx: &Ctx, user: &User, id: i64, password: SecretString) -> Result<()> {
    const REQUIRED: &str =
        "your role requires two-step login: add another factor before removing this one";
    let before = status(ctx, user).await?;
    let required = required_for(ctx, user.role);
    if required && !before.authenticator_app && before.passkeys <= 1 {
        return Err(ServiceError::Forbidden(REQUIRED));
    }
    require_password(ctx, user, password).await?;
    let mut tx = ctx.db.begin().await?;
    // Counted again under the person's row lock, after the removal: two removals at once are
    // counted one after the other, so they cannot both take what the role needs.
    store::users::lock_person(&mut tx, user.id).await?;
    if !store::two_step::delete_passkey(&mut tx, user.id, id).await? {
        return Err(ServiceError::NotFound);
    }
    let after = store::two_step::status(&mut *tx, user.id).await?;
    let last = !after.enabled();
    if last && required {
        return Err(ServiceError::Forbidden(REQUIRED));
    }
    if last {
        store::two_step::delete_all(&mut tx, user.id).await?;
    }
    let event = if last {
        Event::TwoStepDisabled
    } else {
        Event::PasskeyRemoved
    };
    AuditRecord::new(event, Actor::User(user))
        .about(user)
        .detail("passkey")
        .write(&mut tx)
        .await?;
    if last {
        mail::messages::access_changed(ctx, &mut tx, AccessChange::TwoStepOff, user, store::now())
            .await?;
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
    from: &str,
) -> Result<Used> {
    let webauthn = relying(ctx)?;
    let reservation = reserve_second_step(ctx, user, from).await?;
    let result = match webauthn.finish_passkey_authentication(credential, state) {
        Ok(result) => result,
        Err(e) => {
            tracing::info!(error = %e, "a passkey assertion was refused");
            wrong_second_step(ctx, user, "passkey").await?;
            return Err(ServiceError::WrongCode);
        }
    };
    // The assertion was checked against the passkeys copied into the ceremony when it began:
    // it counts only if that passkey is still the person's now (one removed meanwhile opens
    // nothing).
    let rows = store::two_step::passkeys(&ctx.db.pool, user.id).await?;
    let mut stored = false;
    for (id, mut passkey) in decode(&rows)? {
        if let Some(changed) = passkey.update_credential(&result) {
            stored = true;
            let json = if changed {
                serde_json::to_string(&passkey).ok()
            } else {
                None
            };
            store::two_step::passkey_used(&ctx.db.pool, user.id, id, json.as_deref(), store::now())
                .await?;
        }
    }
    if !stored {
        wrong_second_step(ctx, user, "passkey removed").await?;
        return Err(ServiceError::WrongCode);
    }
    strong_second_step(ctx, user).await?;
    reservation
        .succeeded(ctx, Event::SecondStepOk, user, "passkey")
        .await?;
    ctx.metrics.login(Login::SecondStepSuccess);
    Ok(Used::Passkey)
}
