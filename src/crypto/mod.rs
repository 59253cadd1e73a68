//! Keys and ciphers. The PIN key (32 bytes, outside the database) encrypts every Support PIN
//! with XChaCha20-Poly1305: a fresh random 192-bit nonce per encryption (safe to draw at random),
//! the owner's id as associated data, so a ciphertext moved to another member fails to decrypt.
//! The keys of CSRF tokens and throttle counters are derived with HMAC from a random secret kept
//! in the database sealed with the PIN key: one secret is all an operator keeps, and a key
//! rotation (which seals that secret again, unchanged) does not change them.

mod cipher;
mod key;

pub use cipher::{Bound, DecryptError, PinCipher, KEY_CHECK_NAME, TOTP_PURPOSE};
pub use key::{create_private_file, key_file_or_new, KeyOrigin, KeySource, PinKey};

use base64::Engine;
use chacha20poly1305::aead::OsRng;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A key for `purpose`, derived from `secret` so that it reveals nothing about it.
pub fn derive_key(secret: &[u8; 32], purpose: &str) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable_hmac());
    mac.update(b"pinpanel subkey v1:");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().into()
}

// HMAC accepts keys of any length, so `new_from_slice` cannot fail; this keeps `expect` out.
fn unreachable_hmac() -> Hmac<Sha256> {
    unreachable!("HMAC-SHA256 takes keys of any length")
}

/// 32 fresh random bytes (a key).
pub fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    OsRng.fill_bytes(&mut key);
    key
}

/// SHA-256, hex: how API tokens are stored.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A fresh random token of 32 bytes, URL-safe base64.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// HMAC-SHA256 of `data` under `key`, hex.
pub fn hmac_hex(key: &[u8; 32], data: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable_hmac());
    mac.update(data);
    hex::encode(mac.finalize().into_bytes())
}
