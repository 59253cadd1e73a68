//! Keys and ciphers. The PIN key (32 bytes, outside the database) encrypts every Support PIN
//! with XChaCha20-Poly1305: a fresh random 192-bit nonce per encryption (safe to draw at random),
//! the owner's id as associated data, so a ciphertext moved to another member fails to decrypt.
//! The keys of CSRF tokens and throttle counters are derived with HMAC from a random secret kept
//! in the database sealed with the PIN key: one secret is all an operator keeps, and a key
//! rotation (which seals that secret again, unchanged) does not change them.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::domain::SupportPin;

const NONCE_LEN: usize = 24;
const KEY_CHECK_TEXT: &[u8] = b"pinpanel key check v1";

/// The 32-byte PIN key. Its `Debug` never shows the bytes.
#[derive(Clone)]
pub struct PinKey([u8; 32]);

impl std::fmt::Debug for PinKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PinKey(..)")
    }
}

impl PinKey {
    /// Parses 64 hex digits or base64 (standard or URL-safe, padded or not) of 32 bytes.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).ok()
        } else {
            [
                &base64::engine::general_purpose::STANDARD,
                &base64::engine::general_purpose::STANDARD_NO_PAD,
                &base64::engine::general_purpose::URL_SAFE,
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ]
            .iter()
            .find_map(|engine| engine.decode(text).ok())
        };
        match bytes.and_then(|b| <[u8; 32]>::try_from(b).ok()) {
            Some(key) => Ok(PinKey(key)),
            None => bail!("the PIN key must be 32 bytes written as 64 hex digits or as base64"),
        }
    }

    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        PinKey(key)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

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

/// Where the key comes from, as configured.
#[derive(Debug, Clone, Default)]
pub struct KeySource {
    /// `PINPANEL_KEY`.
    pub key: Option<String>,
    /// `PINPANEL_KEY_FILE`.
    pub key_file: Option<PathBuf>,
}

/// How the key was found (for the start-up log line; never the key).
#[derive(Debug)]
pub enum KeyOrigin {
    Environment,
    File(PathBuf),
    Created(PathBuf),
}

impl KeySource {
    /// Finds the key. With SQLite and neither setting, the key file defaults to `pinpanel.key`
    /// beside the database file and is created (mode 0600) when `may_create` (the database holds
    /// no PIN yet). With PostgreSQL there is no default: a key must be given.
    pub fn load(
        &self,
        sqlite_file: Option<&Path>,
        may_create: bool,
    ) -> anyhow::Result<(PinKey, KeyOrigin)> {
        if let Some(text) = &self.key {
            return Ok((
                PinKey::parse(text).context("PINPANEL_KEY is not a valid key")?,
                KeyOrigin::Environment,
            ));
        }
        let path = match (&self.key_file, sqlite_file) {
            (Some(p), _) => p.clone(),
            (None, Some(db)) => db
                .parent()
                .map(|d| d.join("pinpanel.key"))
                .unwrap_or_else(|| PathBuf::from("pinpanel.key")),
            (None, None) => bail!(
                "no PIN key: with PostgreSQL set PINPANEL_KEY (64 hex digits) or PINPANEL_KEY_FILE"
            ),
        };
        match read_key_file(&path)? {
            Some(key) => Ok((key, KeyOrigin::File(path))),
            None if may_create && sqlite_file.is_some() => {
                let key = PinKey::generate();
                write_key_file(&path, &key)?;
                Ok((key, KeyOrigin::Created(path)))
            }
            None => bail!(
                "the PIN key file {} is missing, and this database already holds PINs encrypted \
                 with a key: restore the file or set PINPANEL_KEY",
                path.display()
            ),
        }
    }
}

/// The key in `path` (refused when other users may read it); `None` when there is no file.
fn read_key_file(path: &Path) -> anyhow::Result<Option<PinKey>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            refuse_if_readable_by_others(path)?;
            let key = PinKey::parse(&text)
                .with_context(|| format!("the key file {} is not a valid key", path.display()))?;
            Ok(Some(key))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read the key file {}", path.display())),
    }
}

/// The key in `path`, or a new one written there (mode 0600) when there is no such file.
pub fn key_file_or_new(path: &Path) -> anyhow::Result<(PinKey, KeyOrigin)> {
    match read_key_file(path)? {
        Some(key) => Ok((key, KeyOrigin::File(path.to_owned()))),
        None => {
            let key = PinKey::generate();
            write_key_file(path, &key)?;
            Ok((key, KeyOrigin::Created(path.to_owned())))
        }
    }
}

/// Creates a new file at `path` that only its owner may read or write (mode 0600), for a key or
/// anything holding secrets; an existing file is never overwritten.
pub fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

fn write_key_file(path: &Path, key: &PinKey) -> anyhow::Result<()> {
    let mut file = create_private_file(path)
        .with_context(|| format!("cannot create the key file {}", path.display()))?;
    writeln!(file, "{}", key.to_hex())
        .and_then(|_| file.sync_all())
        .with_context(|| format!("cannot write the key file {}", path.display()))?;
    // The file's name is in its directory: synced too, so that a crash right after (a key
    // rotation commits next) cannot lose the only copy of the new key.
    sync_directory_of(path)
}

/// Flushes the directory holding `path` to disk (its entries: a new file's name).
fn sync_directory_of(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("cannot sync the directory {}", dir.display()))?;
    }
    Ok(())
}

/// A key file that other users of the machine can read (or write) is a key they may have: the
/// server refuses it rather than warn in a log nobody reads.
fn refuse_if_readable_by_others(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("cannot read the key file {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            bail!(
                "the PIN key file {} can be read or written by other users (mode {:o}): \
                 run `chmod 600 {}` and start again",
                path.display(),
                mode & 0o777,
                path.display()
            );
        }
    }
    Ok(())
}

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

/// 32 fresh random bytes (a key).
pub fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    OsRng.fill_bytes(&mut key);
    key
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

    #[test]
    fn keys_parse_from_hex_and_base64() {
        let key = PinKey::generate();
        let hex = key.to_hex();
        assert_eq!(PinKey::parse(&hex).unwrap().0, key.0);
        let b64 = base64::engine::general_purpose::STANDARD.encode(key.0);
        assert_eq!(PinKey::parse(&b64).unwrap().0, key.0);
        assert!(PinKey::parse("abcd").is_err());
        assert!(PinKey::parse(&hex[..62]).is_err());
    }

    #[test]
    fn key_debug_output_hides_the_bytes() {
        let key = PinKey::generate();
        assert!(!format!("{key:?}").contains(&key.to_hex()[..8]));
    }
}
