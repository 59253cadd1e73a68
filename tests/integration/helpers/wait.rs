//! Waiting without sleeping for a fixed time: [`eventually`] polls until something holds or its
//! deadline passes, and [`futures_join_all`] runs futures at once and waits for them all.

use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, Instant};

/// How often [`eventually`] asks again: often enough to catch a state that lasts a moment (an
/// import half-way, a storm of requests that has just begun), cheap for what it asks.
const EVERY: Duration = Duration::from_millis(10);

/// What an attempt of [`eventually`] may answer: `true`, `Some(value)` or `Ok(value)` when it
/// is done; `false`, `None` or `Err(what was seen instead)` to be asked again.
pub trait Attempt {
    type Value;
    /// The value when done, else what was seen (for the panic message).
    fn done(self) -> Result<Self::Value, String>;
}

impl Attempt for bool {
    type Value = ();
    fn done(self) -> Result<(), String> {
        if self {
            Ok(())
        } else {
            Err(String::new())
        }
    }
}

impl<T> Attempt for Option<T> {
    type Value = T;
    fn done(self) -> Result<T, String> {
        self.ok_or_else(String::new)
    }
}

impl<T, E: Display> Attempt for Result<T, E> {
    type Value = T;
    fn done(self) -> Result<T, String> {
        self.map_err(|e| e.to_string())
    }
}

/// Asks `attempt` again and again (every 10 ms) until it is done, and returns its value; panics
/// naming `what` was awaited (and what the last attempt saw) if `within` passes first.
///
/// The one way a test waits for something to happen: never a fixed sleep. (Whether something
/// does *not* happen for a while is another question, which no poll answers.)
pub async fn eventually<A: Attempt>(
    what: &str,
    within: Duration,
    mut attempt: impl AsyncFnMut() -> A,
) -> A::Value {
    let deadline = Instant::now() + within;
    loop {
        let seen = match attempt().await.done() {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        if Instant::now() >= deadline {
            if seen.is_empty() {
                panic!("never within {within:?}: {what}");
            }
            panic!("never within {within:?}: {what}; the last attempt saw: {seen}");
        }
        tokio::time::sleep(EVERY).await;
    }
}

/// `join_all` without a dependency: spawn each future and await them in order.
pub async fn futures_join_all<F, T>(futs: impl Iterator<Item = F>) -> Vec<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("a task"));
    }
    out
}
