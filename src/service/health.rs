//! Is this instance able to serve? Cheap checks for health and readiness probes.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use super::{Ctx, Result};

/// Can the database answer a trivial query?
pub async fn database(ctx: &Ctx) -> Result<()> {
    crate::store::ping(&ctx.db.pool).await?;
    Ok(())
}

/// The mail worker's last sign of life: unix seconds of its last beat, [`Beat::OFF`] when this
/// instance delivers no mail, 0 before the worker starts.
#[derive(Debug, Clone, Default)]
pub struct Beat(Arc<AtomicI64>);

/// A worker is stalled when it has not beaten for this long: it beats before every round and
/// every message, and one send is bounded by 30 s.
pub const STALLED_AFTER_SECS: i64 = 90;

impl Beat {
    const OFF: i64 = -1;

    /// The worker is alive now.
    pub fn beat(&self) {
        self.0.store(super::now(), Ordering::Relaxed);
    }

    /// This instance has no mail worker (mail is not configured).
    pub fn off(&self) {
        self.0.store(Self::OFF, Ordering::Relaxed);
    }

    /// What the beat says at `now`.
    pub fn state(&self, now: i64) -> Worker {
        match self.0.load(Ordering::Relaxed) {
            Self::OFF => Worker::NotConfigured,
            0 => Worker::NotStarted,
            last if now - last > STALLED_AFTER_SECS => Worker::Stalled { secs: now - last },
            _ => Worker::Running,
        }
    }
}

/// The mail worker, as readiness sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worker {
    Running,
    /// Mail is not configured: nothing to deliver, nothing wrong.
    NotConfigured,
    NotStarted,
    /// No sign of life for `secs` seconds.
    Stalled {
        secs: i64,
    },
}

/// What `/readyz` reports: each check, and whether the instance should get traffic.
#[derive(Debug)]
pub struct Readiness {
    pub database: std::result::Result<(), String>,
    pub mail: Worker,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        self.database.is_ok() && matches!(self.mail, Worker::Running | Worker::NotConfigured)
    }
}

/// The readiness checks: the database answers, the mail worker (if any) runs.
pub async fn readiness(ctx: &Ctx) -> Readiness {
    Readiness {
        database: database(ctx).await.map_err(|e| e.to_string()),
        mail: ctx.mail_worker.state(super::now()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_that_stops_beating_is_stalled() {
        let beat = Beat::default();
        assert_eq!(beat.state(1000), Worker::NotStarted);
        beat.0.store(1000, Ordering::Relaxed);
        assert_eq!(beat.state(1000 + STALLED_AFTER_SECS), Worker::Running);
        assert_eq!(
            beat.state(1001 + STALLED_AFTER_SECS),
            Worker::Stalled {
                secs: 1 + STALLED_AFTER_SECS
            }
        );
        beat.off();
        assert_eq!(beat.state(i64::MAX), Worker::NotConfigured);
    }

    #[test]
    fn ready_needs_the_database_and_a_running_or_absent_worker() {
        let r = |database: std::result::Result<(), String>, mail| Readiness { database, mail };
        assert!(r(Ok(()), Worker::Running).ready());
        assert!(r(Ok(()), Worker::NotConfigured).ready());
        assert!(!r(Ok(()), Worker::NotStarted).ready());
        assert!(!r(Ok(()), Worker::Stalled { secs: 100 }).ready());
        assert!(!r(Err("down".into()), Worker::Running).ready());
    }
}
