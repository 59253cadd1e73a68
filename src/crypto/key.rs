//! The PIN key: parsed from text, generated, and kept in a file only its owner may read (made
//! on the first start of the SQLite default, refused when others can read it).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use base64::Engine;
use chacha20poly1305::aead::OsRng;
use rand::RngCore;

/// The 32-byte PIN key. Its `Debug` never shows the bytes.
#[derive(Clone)]
pub struct PinKey(pub(super) [u8; 32]);

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

#[cfg(test)]
mod tests {
    use super::*;

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
