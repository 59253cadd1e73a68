//! Throttling kept in the database (`store::throttle`), so a limit holds across every instance
//! sharing it. Limits are per fixed window. Costly checks (a password, a second factor) reserve
//! their attempt *before* the check, atomically on every counter that guards them, so however
//! many attempts arrive at once at most the limit is ever checked; an attempt that succeeds
//! gives its reservation back.
//!
//! Who is counted (a username as typed, an address, an id) is never stored: a counter's key is
//! an HMAC of it under a key derived from the PIN key, so the table cannot be read back into
//! names even with a dictionary. Refused attempts are counted on the counter's row; only the
//! first refusal of a window is written to the audit log.

use super::{Actor, AuditRecord, Context, Ctx, Result, ServiceError};
use crate::crypto;
use crate::domain::{Event, User};
use crate::store::{self, throttle::Counter, Tx};

/// A limit: at most `max` hits per `window` seconds.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub name: &'static str,
    pub max: i64,
    pub window: i64,
    /// What the first refusal of a window records.
    pub refusal: Event,
}

const MINUTE: i64 = 60;
const QUARTER_HOUR: i64 = 15 * 60;
const HOUR: i64 = 60 * 60;

/// The limits of an installation; `verify_per_agent` and `tokens_per_address` are configurable
/// (`serve --verify-limit`, `--token-limit`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Verifications per agent: generous for a person on the phone, tight for a script trying
    /// to lock many members' PINs or to guess across accounts.
    pub verify_per_agent: Limit,
    /// API token requests per client address, whatever their outcome.
    pub tokens_per_address: Limit,
    /// Failed logins per (username, client address): the limit one guesser meets.
    pub login_per_user_address: Limit,
    /// Failed logins per client address, across usernames.
    pub login_per_address: Limit,
    /// Failed logins per username from anywhere: the ceiling against guessing spread over many
    /// addresses (NIST SP 800-63B §5.2.2 allows up to 100). Higher than the per-address limit,
    /// so one address's failures never lock a person out from another address.
    pub login_per_user: Limit,
    /// Failed password re-entries ("sudo mode") per person.
    pub reauth_per_user: Limit,
    /// Wrong codes while setting up an authenticator app, per person.
    pub second_step_per_user: Limit,
    /// Wrong second steps of a login (codes, passkey assertions) per person and client address:
    /// someone who knows a password and guesses codes from one address never keeps the owner out
    /// from another (the ceiling of wrong second steps in a row still counts every address).
    pub second_step_per_user_address: Limit,
    /// "Forgot password?" requests per client address.
    pub password_links_per_address: Limit,
    /// Password links mailed per member (more requests are answered alike, and send nothing).
    pub password_links_per_member: Limit,
    /// Wrong provisioning (SCIM) tokens per client address, counted like wrong passwords.
    pub provisioning_per_address: Limit,
    /// Sign-ins started at the identity provider per client address: each keeps a row for ten
    /// minutes, so an anonymous flood cannot fill the table.
    pub sso_per_address: Limit,
}

impl Limits {
    /// `verify` verifications per agent and `tokens` token requests per address, per minute.
    pub fn per_minute(verify: i64, tokens: i64) -> Self {
        Limits {
            verify_per_agent: Limit {
                name: "verify:agent",
                max: verify,
                refusal: Event::Throttled,
                window: MINUTE,
            },
            tokens_per_address: Limit {
                name: "tokens:addr",
                max: tokens,
                refusal: Event::Throttled,
                window: MINUTE,
            },
            login_per_user_address: Limit {
                name: "login:user+addr",
                max: 10,
                refusal: Event::LoginThrottled,
                window: QUARTER_HOUR,
            },
            login_per_address: Limit {
                name: "login:addr",
                max: 50,
                refusal: Event::LoginThrottled,
                window: QUARTER_HOUR,
            },
            login_per_user: Limit {
                name: "login:user",
                max: 100,
                refusal: Event::LoginThrottled,
                window: HOUR,
            },
            reauth_per_user: Limit {
                name: "reauth:user",
                max: 10,
                refusal: Event::Throttled,
                window: QUARTER_HOUR,
            },
            second_step_per_user: Limit {
                name: "second-step:user",
                max: 10,
                refusal: Event::Throttled,
                window: QUARTER_HOUR,
            },
            second_step_per_user_address: Limit {
                name: "second-step:user+addr",
                max: 10,
                refusal: Event::Throttled,
                window: QUARTER_HOUR,
            },
            password_links_per_address: Limit {
                name: "password-link:addr",
                max: 10,
                refusal: Event::Throttled,
                window: QUARTER_HOUR,
            },
            password_links_per_member: Limit {
                name: "password-link:user",
                max: 3,
                refusal: Event::Throttled,
                window: HOUR,
            },
            provisioning_per_address: Limit {
                name: "scim-token:addr",
                max: 20,
                refusal: Event::Throttled,
                window: QUARTER_HOUR,
            },
            sso_per_address: Limit {
                name: "sso-start:addr",
                max: 30,
                refusal: Event::Throttled,
                window: QUARTER_HOUR,
            },
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::per_minute(super::defaults::VERIFY_LIMIT, super::defaults::TOKEN_LIMIT)
    }
}

/// The counter key of `limit` for `who`: the limit's name and an HMAC of who, never who.
fn key(ctx: &Ctx, limit: Limit, who: &str) -> String {
    let mac = crypto::hmac_hex(&ctx.keys.throttle, who.as_bytes());
    format!("{}:{}", limit.name, &mac[..32])
}

fn retry_after(limit: Limit, start: i64, now: i64) -> i64 {
    (start + limit.window - now).max(1)
}

/// A hit over its limit, to be refused.
pub struct Refused {
    limit: Limit,
    key: String,
    retry_after: i64,
}

/// A hit on `limit` for `who`, to be counted by a statement ([`hit_on`], or one that does more,
/// as verification on PostgreSQL does) and then judged with [`Hit::counted`].
pub struct Hit {
    limit: Limit,
    pub key: String,
    pub now: i64,
}

impl Hit {
    pub fn new(ctx: &Ctx, limit: Limit, who: &str) -> Self {
        Hit {
            limit,
            key: key(ctx, limit, who),
            now: store::now(),
        }
    }

    pub fn window(&self) -> i64 {
        self.limit.window
    }

    /// `Some` when the window's `hits` (starting at `start`), this one included, exceed the limit.
    pub fn counted(&self, hits: i64, start: i64) -> Option<Refused> {
        (hits > self.limit.max).then(|| Refused {
            retry_after: retry_after(self.limit, start, self.now),
            limit: self.limit,
            key: self.key.clone(),
        })
    }
}

/// Counts `hit` inside the caller's transaction (so it commits, or rolls back, with the work
/// it guards); `Some` when the window's hits exceed the limit: commit, then [`refuse`] it.
pub async fn hit_on(conn: &mut Tx, hit: &Hit) -> Result<Option<Refused>> {
    let (hits, start) = store::throttle::hit_on(conn, &hit.key, hit.window(), hit.now).await?;
    Ok(hit.counted(hits, start))
}

/// Counts a refusal (after its transaction): the first of a window is an audit event.
pub async fn refuse(ctx: &Ctx, refused: Refused) -> Result<ServiceError> {
    refuse_key(ctx, refused.limit, &refused.key, refused.retry_after).await
}

/// Counts a refusal; the first of a window is an audit event (with the limit's name, never who).
async fn refuse_key(ctx: &Ctx, limit: Limit, key: &str, retry_after: i64) -> Result<ServiceError> {
    let refusals = store::throttle::refused(&ctx.db.pool, key).await?;
    ctx.metrics.throttled(limit.name);
    tracing::debug!(limit = limit.name, refusals, "throttled");
    if refusals == 1 {
        AuditRecord::new(limit.refusal, Actor::System)
            .detail(limit.name)
            .write_now(&ctx.db)
            .await?;
    }
    Ok(ServiceError::Throttled { retry_after })
}

/// Counts one hit on `limit` for `who`; `Throttled` once the window's hits exceed the limit
/// (for limits on every request, such as verifications, where nothing is given back).
pub async fn hit(ctx: &Ctx, limit: Limit, who: &str) -> Result<()> {
    let hit = Hit::new(ctx, limit, who);
    let (hits, start) = store::throttle::hit(&ctx.db.pool, &hit.key, limit.window, hit.now).await?;
    match hit.counted(hits, start) {
        Some(refused) => Err(refuse(ctx, refused).await?),
        None => Ok(()),
    }
}

/// Whether `who` has spent `limit` in the current window, by reading its counter only (no write:
/// for an answer that must not wait on the database's writer). `Throttled` when spent; the
/// hit itself is counted later, by [`hit`].
pub async fn check(ctx: &Ctx, limit: Limit, who: &str) -> Result<()> {
    let key = key(ctx, limit, who);
    let now = store::now();
    match store::throttle::peek(&ctx.db.pool, &key, limit.window, now).await? {
        Some((hits, start)) if hits >= limit.max => Err(ServiceError::Throttled {
            retry_after: retry_after(limit, start, now),
        }),
        _ => Ok(()),
    }
}

/// An attempt reserved on every counter that guards it. Dropping it keeps the hits (the
/// attempt failed); [`Reservation::give_back`] returns them (it succeeded, or was never made).
#[must_use = "an attempt either fails (keep the reservation) or is given back"]
pub struct Reservation {
    keys: Vec<String>,
}

impl Reservation {
    /// Returns the reserved hits; with `forget_first`, the first counter (the narrowest, e.g.
    /// this username from this address) starts again from nothing.
    pub async fn give_back(self, ctx: &Ctx, forget_first: bool) -> Result<()> {
        let mut conn = ctx.db.pool.acquire().await?;
        self.give_back_on(&mut conn, forget_first).await
    }

    /// The attempt succeeded: its hits come back (the first counter starts again) in one
    /// commit with the success's audit row, instead of a commit each.
    pub async fn succeeded(self, ctx: &Ctx, event: Event, user: &User, detail: &str) -> Result<()> {
        self.succeeded_with(ctx, event, user, detail, Context::default())
            .await
    }

    /// [`Reservation::succeeded`], the event with its [`Context`] (a login's address).
    pub async fn succeeded_with(
        self,
        ctx: &Ctx,
        event: Event,
        user: &User,
        detail: &str,
        context: Context<'_>,
    ) -> Result<()> {
        let mut tx = ctx.db.begin().await?;
        self.give_back_on(&mut tx, true).await?;
        AuditRecord::new(event, Actor::User(user))
            .about(user)
            .detail(detail)
            .context(context)
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn give_back_on(self, conn: &mut Tx, forget_first: bool) -> Result<()> {
        let keys: Vec<&str> = self.keys.iter().map(String::as_str).collect();
        let (forget, rest) = match keys.split_first() {
            Some((first, rest)) if forget_first => (Some(*first), rest),
            _ => (None, &keys[..]),
        };
        store::throttle::give_back_on(conn, forget, rest).await?;
        Ok(())
    }
}

/// Reserves one attempt on each `(limit, who)`, all or none, before the costly check it guards:
/// `Throttled` (counting nothing) when any of them is spent.
pub async fn reserve(ctx: &Ctx, guards: &[(Limit, &str)]) -> Result<Reservation> {
    let now = store::now();
    let keys: Vec<String> = guards.iter().map(|(l, who)| key(ctx, *l, who)).collect();
    let counters: Vec<Counter<'_>> = guards
        .iter()
        .zip(&keys)
        .map(|((limit, _), key)| Counter {
            key,
            max: limit.max,
            window: limit.window,
        })
        .collect();
    match store::throttle::reserve(&ctx.db, &counters, now).await? {
        Ok(()) => Ok(Reservation { keys }),
        Err((i, start)) => {
            let limit = guards[i].0;
            Err(refuse_key(ctx, limit, &keys[i], retry_after(limit, start, now)).await?)
        }
    }
}
