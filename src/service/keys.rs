//! Changing the PIN key (`pinpanel key rotate`): every value sealed with the current key is
//! opened and sealed again with the new one, and the key check with it, in one transaction. An
//! interrupted rotation (a crash, a value that does not open) rolls back whole: the database
//! then still opens with the old key only, never with a mix.
//!
//! What is not sealed does not change: password hashes, sessions, API tokens, recovery codes
//! (their HMAC key is a sealed setting whose value stays), passkeys. The throttle's counter keys
//! and CSRF tokens are derived from another sealed setting whose value stays too, so an instance
//! still running with the old key counts the same counters and accepts the same forms as the new
//! ones until it stops.

use crate::crypto::{Bound, PinCipher, KEY_CHECK_NAME, TOTP_PURPOSE};
use crate::domain::Event;
use crate::store::rekey::{self, Holds};
use crate::store::{self, Db, Tx};

use super::{Actor, AuditRecord, Ctx, Result, ServiceError};

/// Inside a transaction that writes a value sealed with this instance's PIN key: holds the
/// database's key check (until the transaction ends) if it is still the one this instance
/// started with, else `KeyRotated` (the caller's transaction rolls back: nothing is lost). A
/// rotation takes the same row first, so the two happen one after the other.
pub async fn hold(ctx: &Ctx, conn: &mut Tx) -> Result<()> {
    if store::settings::hold(conn, KEY_CHECK_NAME, &ctx.keys.check).await? {
        Ok(())
    } else {
        tracing::error!(
            "the PIN key was rotated while this instance was running: it refuses to seal \
             anything until it is restarted with the new key"
        );
        Err(ServiceError::KeyRotated)
    }
}

/// How many values a rotation sealed again, by kind.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rotated {
    pub pins: u64,
    pub two_step_secrets: u64,
    pub mail_parts: u64,
    pub settings: u64,
}

/// Values read and rewritten per statement.
const PAGE: i64 = 500;

/// Seals everything sealed with `old` again with `new`, in one transaction. `old` must be the
/// database's key (the caller opened the database with it); `new` must differ.
pub async fn rotate(db: &Db, old: &PinCipher, new: &PinCipher) -> Result<Rotated> {
    let mut tx = db.begin().await?;
    // The key check's row first: writers that seal hold it too (`hold`), so each of them
    // either commits before this reads anything, or finds the new check and writes nothing.
    store::settings::touch(&mut tx, KEY_CHECK_NAME).await?;
    let settings = rekey::settings(&mut tx).await?;
    let check = settings
        .iter()
        .find(|(name, _)| name == KEY_CHECK_NAME)
        .map(|(_, v)| v.as_slice())
        .ok_or_else(|| ServiceError::Invalid("this database has no key check yet".into()))?;
    if new.opens_key_check(check) {
        return Err(ServiceError::Invalid(
            "the new key is the key this database already uses".into(),
        ));
    }
    if !old.opens_key_check(check) {
        return Err(ServiceError::Invalid(
            "the current key does not open this database's key check".into(),
        ));
    }
    let mut done = Rotated::default();
    for column in rekey::SEALED {
        let mut after = i64::MIN;
        loop {
            let page = rekey::page(&mut tx, column, after, PAGE).await?;
            for row in &page {
                let bound = match column.holds {
                    Holds::Pins => Bound::Pin(row.key),
                    Holds::TotpSecrets => Bound::Secret(TOTP_PURPOSE, row.key),
                    Holds::MailParts => Bound::Setting(row.bound_to.as_deref().unwrap_or("")),
                };
                let resealed = old.reseal(new, bound, &row.value).map_err(|_| {
                    ServiceError::Invalid(format!(
                        "the value in {}.{} of row {} does not open with the current key; \
                         nothing was changed",
                        column.table, column.value, row.key
                    ))
                })?;
                rekey::put(&mut tx, column, row.key, &resealed).await?;
                *match column.holds {
                    Holds::Pins => &mut done.pins,
                    Holds::TotpSecrets => &mut done.two_step_secrets,
                    Holds::MailParts => &mut done.mail_parts,
                } += 1;
            }
            match page.last() {
                Some(last) if page.len() as i64 == PAGE => after = last.key,
                _ => break,
            }
        }
    }
    for (name, value) in &settings {
        let bound = if name == KEY_CHECK_NAME {
            Bound::KeyCheck
        } else {
            Bound::Setting(name)
        };
        let resealed = old.reseal(new, bound, value).map_err(|_| {
            ServiceError::Invalid(format!(
                "the setting {name} does not open with the current key; nothing was changed"
            ))
        })?;
        rekey::put_setting(&mut tx, name, &resealed).await?;
        done.settings += 1;
    }
    let detail = format!(
        "{} PINs, {} two-step secrets, {} mail parts, {} settings",
        done.pins, done.two_step_secrets, done.mail_parts, done.settings
    );
    AuditRecord::new(Event::KeyRotated, Actor::Cli)
        .detail(&detail)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(done)
}
