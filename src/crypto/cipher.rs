//! The cipher every secret at rest goes through: XChaCha20-Poly1305 under the PIN key, a fresh
//! random nonce per value, and what the value is bound to (the member's id, a setting's name)
//! as associated data.

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use super::PinKey;
use crate::domain::SupportPin;

const NONCE_LEN: usize = 24;
const KEY_CHECK_TEXT: &[u8] = b"pinpanel key check v1";

/// A PIN that could not be decrypted: wrong key, or a ciphertext that is not this member's.
#[derive(Debug, thiserror::Error)]
#[error("a Support PIN could not be decrypted (wrong key or tampered data)")]
pub struct DecryptError;

/// Encrypts and decrypts Support PINs.
#[derive(Clone)]
pub struct PinCipher {
    aead: XChaCha20Poly1305,
}

impl std::fmt::Debug for PinCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PinCipher(..)")
    }
}

/// What a sealed value is bound to (its associated data): a sealed value opens only as what it
/// was sealed for, so one cannot stand in for another.
#[derive(Debug, Clone, Copy)]
pub enum Bound<'a> {
    /// A member's Support PIN.
    Pin(i64),
    /// Another secret of a person (`purpose` names it: `totp`).
    Secret(&'a str, i64),
    /// An installation-wide value kept under a name (or a queued mail part, under its
    /// Message-ID).
    Setting(&'a str),
    /// The key check.
    KeyCheck,
}

impl Bound<'_> {
    fn aad(self) -> Vec<u8> {
        match self {
            Bound::Pin(user_id) => format!("pinpanel pin v1 user:{user_id}").into_bytes(),
            Bound::Secret(purpose, user_id) => {
                format!("pinpanel {purpose} v1 user:{user_id}").into_bytes()
            }
            Bound::Setting(name) => format!("pinpanel setting v1:{name}").into_bytes(),
            Bound::KeyCheck => KEY_CHECK_NAME.as_bytes().to_vec(),
        }
    }
}

impl PinCipher {
    pub fn new(key: &PinKey) -> Self {
        PinCipher {
            aead: XChaCha20Poly1305::new(&key.0.into()),
        }
    }

    fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        // Encryption with a valid key and nonce cannot fail for inputs this small.
        let sealed = self
            .aead
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .unwrap_or_default();
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    fn open(&self, blob: &[u8], aad: &[u8]) -> Result<Vec<u8>, DecryptError> {
        if blob.len() <= NONCE_LEN {
            return Err(DecryptError);
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        self.aead
            .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad })
            .map_err(|_| DecryptError)
    }

    /// Encrypts another secret of a person (`purpose` names it: `totp`), bound to them.
    pub fn encrypt_secret(&self, purpose: &str, user_id: i64, secret: &[u8]) -> Vec<u8> {
        self.seal(secret, &Bound::Secret(purpose, user_id).aad())
    }

    pub fn decrypt_secret(
        &self,
        purpose: &str,
        user_id: i64,
        blob: &[u8],
    ) -> Result<Vec<u8>, DecryptError> {
        self.open(blob, &Bound::Secret(purpose, user_id).aad())
    }

    /// Seals an installation-wide value kept in the database under `name` (the name is the
    /// associated data, so one cannot stand in for another).
    pub fn seal_setting(&self, name: &str, value: &[u8]) -> Vec<u8> {
        self.seal(value, &Bound::Setting(name).aad())
    }

    pub fn open_setting(&self, name: &str, blob: &[u8]) -> Result<Vec<u8>, DecryptError> {
        self.open(blob, &Bound::Setting(name).aad())
    }

    pub fn encrypt_pin(&self, user_id: i64, pin: &SupportPin) -> Vec<u8> {
        self.seal(pin.expose().as_bytes(), &Bound::Pin(user_id).aad())
    }

    pub fn decrypt_pin(&self, user_id: i64, blob: &[u8]) -> Result<SupportPin, DecryptError> {
        let plain = zeroize::Zeroizing::new(self.open(blob, &Bound::Pin(user_id).aad())?);
        let text = std::str::from_utf8(&plain).map_err(|_| DecryptError)?;
        SupportPin::parse(text).map_err(|_| DecryptError)
    }

    /// The key check a new database stores: a known text sealed with this key, so that every
    /// later start can tell the right key from a wrong one.
    pub fn seal_key_check(&self) -> Vec<u8> {
        self.seal(KEY_CHECK_TEXT, &Bound::KeyCheck.aad())
    }

    /// Does `stored` (a database's key check) open with this key?
    pub fn opens_key_check(&self, stored: &[u8]) -> bool {
        matches!(self.open(stored, &Bound::KeyCheck.aad()), Ok(text) if text == KEY_CHECK_TEXT)
    }

    /// Opens `blob` (sealed as `bound`) and seals it again with `to`, for a key rotation; the
    /// plaintext is wiped from memory after.
    pub fn reseal(
        &self,
        to: &PinCipher,
        bound: Bound<'_>,
        blob: &[u8],
    ) -> Result<Vec<u8>, DecryptError> {
        let aad = bound.aad();
        let plain = zeroize::Zeroizing::new(self.open(blob, &aad)?);
        Ok(to.seal(&plain, &aad))
    }
}

/// What authenticator-app secrets are sealed as (with the person's id: `Bound::Secret`).
pub const TOTP_PURPOSE: &str = "totp";

/// The name of the settings row holding the key check.
pub const KEY_CHECK_NAME: &str = "key_check";

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> PinCipher {
        PinCipher::new(&PinKey::generate())
    }

    #[test]
    fn a_pin_round_trips_for_its_owner() {
        let c = cipher();
        let pin = SupportPin::parse("871694").unwrap();
        let blob = c.encrypt_pin(7, &pin);
        assert_eq!(c.decrypt_pin(7, &blob).unwrap(), pin);
    }

    #[test]
    fn a_ciphertext_moved_to_another_member_does_not_decrypt() {
        let c = cipher();
        let blob = c.encrypt_pin(7, &SupportPin::parse("871694").unwrap());
        assert!(c.decrypt_pin(8, &blob).is_err());
    }

    #[test]
    fn the_same_pin_encrypts_differently_each_time() {
        let c = cipher();
        let pin = SupportPin::parse("871694").unwrap();
        assert_ne!(c.encrypt_pin(7, &pin), c.encrypt_pin(7, &pin));
    }

    #[test]
    fn another_key_cannot_decrypt() {
        let pin = SupportPin::parse("871694").unwrap();
        let blob = cipher().encrypt_pin(7, &pin);
        assert!(cipher().decrypt_pin(7, &blob).is_err());
    }

    #[test]
    fn a_flipped_bit_is_detected() {
        let c = cipher();
        let mut blob = c.encrypt_pin(7, &SupportPin::parse("871694").unwrap());
        let last = blob.len() - 1;
        blob[last] ^= 1;
        assert!(c.decrypt_pin(7, &blob).is_err());
    }
}
