//! Password hashing with argon2id (OWASP's recommended parameters, the crate's defaults),
//! always on the blocking pool and with bounded concurrency: a storm of logins queues for the
//! CPU instead of starving the async workers that serve every other page. The queue itself is
//! bounded too: past [`MAX_WAITING`] waiting checks per permit, a check is refused at once
//! ([`PasswordError::Busy`], a 503 with `Retry-After`) instead of waiting ever longer.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use anyhow::Context;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

/// Hashes at once: one per core but one, so a login storm leaves a core to the async workers
/// that serve every other page (the profile p99 in a storm stays within 3× of idle), and at most
/// that many 19 MiB buffers exist (docs/PERFORMANCE.md).
static HASHING: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(permits())));

fn permits() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    cores.saturating_sub(1).max(1)
}

/// Checks that may wait for a hashing permit, per permit: 16 × ~35 ms is about half a second of
/// queue, enough to absorb a burst of real logins, short enough that a flood is refused fast.
pub const MAX_WAITING: usize = 16;

/// The bound in force (one per process, like the permits): [`MAX_WAITING`] unless
/// [`set_max_waiting`] changed it.
static WAITING_BOUND: AtomicUsize = AtomicUsize::new(MAX_WAITING);

/// Sets how many checks may wait per permit (the test suite, whose many servers share one
/// process, raises it; the flood test runs a server process of its own).
pub fn set_max_waiting(per_permit: usize) {
    WAITING_BOUND.store(per_permit, Ordering::Relaxed);
}

/// Checks waiting for a permit or holding one right now.
static IN_LINE: AtomicUsize = AtomicUsize::new(0);

/// Why a hash could not be computed or checked.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Too many checks are queued: try again in a moment.
    #[error("too many password checks are queued")]
    Busy,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Counts a check in line for as long as it lives.
struct InLine;

impl InLine {
    fn join() -> Result<InLine, PasswordError> {
        let limit = permits() * (WAITING_BOUND.load(Ordering::Relaxed) + 1);
        IN_LINE
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .map(|_| InLine)
            .map_err(|_| PasswordError::Busy)
    }
}

impl Drop for InLine {
    fn drop(&mut self) {
        IN_LINE.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A hash of a random password, verified when the username is unknown so that an unknown user
/// costs the same time as a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let random = crate::crypto::random_token();
    hash_blocking(&random).unwrap_or_default()
});

fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))
}

/// Argon2 working memory (19 MiB per verification with the default parameters), kept for
/// reuse: at most one buffer per hashing permit. Letting each verification allocate its own left
/// glibc holding on to them per thread: 400 MiB resident after a login storm, against 60 MiB
/// this way (docs/PERFORMANCE.md). Buffers are zeroed before they go back.
static MEMORY: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

/// Verifies `password` against a PHC-format argon2 hash, as `PasswordVerifier` does, but in a
/// pooled buffer. Any malformed hash verifies nothing.
fn verify_blocking(hash: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(params), Ok(algorithm)) = (
        Params::try_from(&parsed),
        Algorithm::try_from(parsed.algorithm),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let mut memory = MEMORY
        .lock()
        .ok()
        .and_then(|mut pool| pool.pop())
        .unwrap_or_default();
    memory.resize(params.block_count(), Block::default());
    let mut out = vec![0u8; expected.len()];
    let ok = Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..])
        .is_ok()
        && bool::from(out.as_slice().ct_eq(expected.as_bytes()));
    memory.fill(Block::default());
    if let Ok(mut pool) = MEMORY.lock() {
        pool.push(memory);
    }
    ok
}

/// A place in the hashing line, taken before the work that leads to a check (a login's
/// throttle reservation), so that a flood past the line's bound is refused before it costs
/// the database anything.
pub struct Place(InLine);

/// Takes a place in line, or `Busy` at once when the line is full.
pub fn take_place() -> Result<Place, PasswordError> {
    InLine::join().map(Place)
}

async fn on_blocking_pool<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PasswordError> {
    in_line(take_place()?, f).await
}

async fn in_line<T: Send + 'static>(
    _place: Place,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PasswordError> {
    let _permit = HASHING
        .clone()
        .acquire_owned()
        .await
        .context("the hashing semaphore is closed")?;
    Ok(tokio::task::spawn_blocking(f)
        .await
        .context("the hashing task failed")?)
}

/// Hashes a new password.
pub async fn hash(password: SecretString) -> Result<String, PasswordError> {
    Ok(on_blocking_pool(move || hash_blocking(password.expose_secret())).await??)
}

/// Checks `password` against `hash`; with no hash (unknown user) checks a dummy hash and
/// answers `false`, taking the same time.
pub async fn verify(hash: Option<String>, password: SecretString) -> Result<bool, PasswordError> {
    verify_at(take_place()?, hash, password).await
}

/// [`verify`] from a place taken earlier with [`take_place`].
pub async fn verify_at(
    place: Place,
    hash: Option<String>,
    password: SecretString,
) -> Result<bool, PasswordError> {
    in_line(place, move || match hash {
        Some(h) => verify_blocking(&h, password.expose_secret()),
        None => {
            verify_blocking(&DUMMY_HASH, password.expose_secret());
            false
        }
    })
    .await
}

/// Computes the dummy hash now, so the first unknown-user login is not the one that pays.
pub async fn warm_up() -> Result<(), PasswordError> {
    on_blocking_pool(|| LazyLock::force(&DUMMY_HASH).len()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let h = hash(SecretString::from("correct horse")).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify(Some(h.clone()), SecretString::from("correct horse"))
            .await
            .unwrap());
        assert!(!verify(Some(h), SecretString::from("wrong horse"))
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        assert!(!verify(None, SecretString::from("anything")).await.unwrap());
    }
}
