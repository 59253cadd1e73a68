//! Password hashing with argon2id (OWASP's recommended parameters, the crate's defaults),
//! always on the blocking pool and with bounded concurrency: a storm of logins queues for the
//! CPU instead of starving the async workers that serve every other page. The queue itself is
//! bounded too: past [`MAX_WAITING`] waiting checks per permit, a check is refused at once
//! ([`HashError::Busy`], a 503 with `Retry-After`) instead of waiting ever longer.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use anyhow::Context;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

/// Checks that may wait for a hashing permit, per permit: 16 × ~35 ms is about half a second of
/// queue, enough to absorb a burst of real logins, short enough that a flood is refused fast.
pub const MAX_WAITING: usize = 16;

/// An instance's line for password hashing: one hash at a time per core but one, so a login
/// storm leaves a core to the async workers that serve every other page (the profile p99 in a
/// storm stays within 3× of idle), and at most that many 19 MiB buffers exist
/// (docs/PERFORMANCE.md); and at most `waiting` checks per permit wait their turn.
#[derive(Clone)]
pub struct Line {
    permits: Arc<Semaphore>,
    /// Checks waiting for a permit or holding one right now.
    in_line: Arc<AtomicUsize>,
    limit: usize,
    /// Argon2 runs of password checks (every check runs it once, whatever it is given).
    runs: Arc<AtomicU64>,
}

impl std::fmt::Debug for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Line").field("limit", &self.limit).finish()
    }
}

fn permits() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    cores.saturating_sub(1).max(1)
}

impl Line {
    /// A line with one permit per core but one, where `waiting` checks per permit may wait.
    pub fn new(waiting: usize) -> Line {
        let permits = permits();
        Line {
            permits: Arc::new(Semaphore::new(permits)),
            in_line: Arc::new(AtomicUsize::new(0)),
            limit: permits * (waiting + 1),
            runs: Arc::new(AtomicU64::new(0)),
        }
    }

    /// How many times a password check of this line ran argon2.
    pub fn checks_run(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    /// Takes a place in line, or `Busy` at once when the line is full.
    pub fn take_place(&self) -> Result<Place, HashError> {
        self.in_line
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.limit).then_some(n + 1)
            })
            .map(|_| Place(self.clone()))
            .map_err(|_| HashError::Busy)
    }
}

/// Why a hash could not be computed or checked.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Too many checks are queued: try again in a moment.
    #[error("too many password checks are queued")]
    Busy,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// A place in the hashing line, taken before the work that leads to a check (a login's
/// throttle reservation), so that a flood past the line's bound is refused before it costs
/// the database anything. It counts in line for as long as it lives.
pub struct Place(Line);

impl Drop for Place {
    fn drop(&mut self) {
        self.0.in_line.fetch_sub(1, Ordering::AcqRel);
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
/// pooled buffer. `None` when the hash cannot be used (an invited member's placeholder, a
/// malformed value): then argon2 did not run.
fn verify_blocking(hash: &str, password: &str, runs: &AtomicU64) -> Option<bool> {
    let parsed = PasswordHash::new(hash).ok()?;
    let (salt, expected) = (parsed.salt?, parsed.hash?);
    let params = Params::try_from(&parsed).ok()?;
    let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .ok()?
        .unwrap_or_default();
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf).ok()?;
    let mut memory = MEMORY
        .lock()
        .ok()
        .and_then(|mut pool| pool.pop())
        .unwrap_or_default();
    memory.resize(params.block_count(), Block::default());
    let mut out = vec![0u8; expected.len()];
    runs.fetch_add(1, Ordering::Relaxed);
    let ok = Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..])
        .is_ok()
        && bool::from(out.as_slice().ct_eq(expected.as_bytes()));
    memory.fill(Block::default());
    if let Ok(mut pool) = MEMORY.lock() {
        pool.push(memory);
    }
    Some(ok)
}

async fn in_line<T: Send + 'static>(
    place: Place,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, HashError> {
    let _permit = place
        .0
        .permits
        .clone()
        .acquire_owned()
        .await
        .context("the hashing semaphore is closed")?;
    let done = tokio::task::spawn_blocking(f)
        .await
        .context("the hashing task failed")?;
    drop(place);
    Ok(done)
}

/// Hashes a new password.
pub async fn hash(line: &Line, password: SecretString) -> Result<String, HashError> {
    Ok(in_line(line.take_place()?, move || {
        hash_blocking(password.expose_secret())
    })
    .await??)
}

/// Checks `password` against `hash`; with no hash (unknown user) checks a dummy hash and
/// answers `false`, taking the same time.
pub async fn verify(
    line: &Line,
    hash: Option<String>,
    password: SecretString,
) -> Result<bool, HashError> {
    verify_at(line.take_place()?, hash, password).await
}

/// [`verify`] from a place taken earlier with [`Line::take_place`].
pub async fn verify_at(
    place: Place,
    hash: Option<String>,
    password: SecretString,
) -> Result<bool, HashError> {
    let runs = place.0.runs.clone();
    in_line(place, move || {
        // Whenever the stored hash cannot be used (no such person, an invited member who has
        // not chosen a password yet, a malformed value), the dummy hash is checked instead, so
        // every answer costs one argon2 run and timing tells nothing.
        let ok = match hash
            .as_deref()
            .and_then(|h| verify_blocking(h, password.expose_secret(), &runs))
        {
            Some(ok) => ok,
            None => {
                verify_blocking(&DUMMY_HASH, password.expose_secret(), &runs);
                false
            }
        };
        ok
    })
    .await
}

/// Computes the dummy hash now, so the first unknown-user login is not the one that pays.
pub async fn warm_up(line: &Line) -> Result<(), HashError> {
    in_line(line.take_place()?, || LazyLock::force(&DUMMY_HASH).len()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let line = Line::new(MAX_WAITING);
        let h = hash(&line, SecretString::from("correct horse"))
            .await
            .unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(
            verify(&line, Some(h.clone()), SecretString::from("correct horse"))
                .await
                .unwrap()
        );
        assert!(!verify(&line, Some(h), SecretString::from("wrong horse"))
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        let line = Line::new(MAX_WAITING);
        assert!(!verify(&line, None, SecretString::from("anything"))
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn a_full_line_refuses_at_once() {
        let line = Line::new(0);
        let places: Vec<Place> = (0..permits()).map(|_| line.take_place().unwrap()).collect();
        assert!(matches!(line.take_place(), Err(HashError::Busy)));
        drop(places);
        assert!(line.take_place().is_ok());
    }
}
