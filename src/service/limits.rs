//! Throttling kept in the database (`store::throttle`), so a limit holds across every instance
//! sharing it. Limits are per fixed window; a hit over the limit is refused and changes nothing
//! else.

use super::{Ctx, Result, ServiceError};
use crate::store;

/// A limit: at most `max` hits per `window` seconds.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub name: &'static str,
    pub max: i64,
    pub window: i64,
}

/// The configurable limits of an installation (`serve --verify-limit`, `--token-limit`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Verifications per agent: generous for a person on the phone, tight for a script trying
    /// to lock many members' PINs or to guess across accounts.
    pub verify_per_agent: Limit,
    /// API token requests per client address, whatever their outcome (failed ones are also
    /// counted per username and per address by the login throttle).
    pub tokens_per_address: Limit,
}

impl Limits {
    /// `verify` verifications per agent and `tokens` token requests per address, per minute.
    pub fn per_minute(verify: i64, tokens: i64) -> Self {
        Limits {
            verify_per_agent: Limit {
                name: "verify:agent",
                max: verify,
                window: 60,
            },
            tokens_per_address: Limit {
                name: "tokens:addr",
                max: tokens,
                window: 60,
            },
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::per_minute(60, 120)
    }
}

/// Counts one hit on `limit` for `who`; `Throttled` once the window's hits exceed the limit.
pub async fn hit(ctx: &Ctx, limit: Limit, who: &str) -> Result<()> {
    let now = store::now();
    let key = format!("{}:{who}", limit.name);
    let (hits, start) = store::throttle::hit(&ctx.db.pool, &key, limit.window, now).await?;
    if hits > limit.max {
        let retry_after = (start + limit.window - now).max(1);
        tracing::warn!(limit = limit.name, who, hits, "throttled");
        return Err(ServiceError::Throttled { retry_after });
    }
    Ok(())
}
