//! Proving who someone is: passwords (with throttling kept in the database, so it holds across
//! instances) and API tokens.

use secrecy::SecretString;

use super::{audit_now, events, password, Actor, Ctx, Result};
use crate::crypto;
use crate::domain::{Account, User, Username};
use crate::store;

/// Failed logins allowed per username in one window (NIST SP 800-63B §5.2.2 allows up to 100).
pub const FAILURES_PER_USERNAME: i64 = 10;
/// Failed logins allowed per client address in one window.
pub const FAILURES_PER_ADDRESS: i64 = 50;
/// The throttling window, in seconds.
pub const WINDOW_SECS: i64 = 15 * 60;
/// How long an API token lives.
pub const TOKEN_TTL_SECS: i64 = 24 * 60 * 60;

/// Why a login did not succeed. Both look the same to the person logging in, except that
/// throttling says when to try again; neither reveals whether the username exists.
#[derive(Debug)]
pub enum LoginFailure {
    BadCredentials,
    Throttled { retry_after: i64 },
}

fn username_key(username: &str) -> String {
    format!("login:user:{username}")
}

fn address_key(address: &str) -> String {
    format!("login:addr:{address}")
}

/// Checks a username and password. Unknown users cost the same argon2 time as known ones;
/// disabled users fail like wrong passwords.
pub async fn authenticate(
    ctx: &Ctx,
    username: &str,
    password: SecretString,
    address: &str,
) -> Result<std::result::Result<User, LoginFailure>> {
    let pool = &ctx.db.pool;
    let now = store::now();
    // A username that cannot exist still counts, under a hash of what was typed: it may hold
    // control characters (PostgreSQL refuses NUL in text) or be 10 KB long.
    let name = Username::parse(username)
        .map(|u| u.as_str().to_owned())
        .unwrap_or_else(|_| format!("invalid:{}", &crypto::sha256_hex(username.as_bytes())[..16]));
    let (by_user, user_start) =
        store::throttle::peek(pool, &username_key(&name), WINDOW_SECS, now).await?;
    let (by_addr, addr_start) =
        store::throttle::peek(pool, &address_key(address), WINDOW_SECS, now).await?;
    if by_user >= FAILURES_PER_USERNAME || by_addr >= FAILURES_PER_ADDRESS {
        let start = if by_user >= FAILURES_PER_USERNAME {
            user_start
        } else {
            addr_start
        };
        let retry_after = (start + WINDOW_SECS - now).max(1);
        audit_now(
            &ctx.db,
            events::LOGIN_THROTTLED,
            Actor::System,
            None,
            &format!("username {name}"),
        )
        .await?;
        return Ok(Err(LoginFailure::Throttled { retry_after }));
    }
    let user = store::users::by_username(pool, &name).await?;
    let ok = password::verify(user.as_ref().map(|u| u.password_hash.clone()), password).await?;
    match user {
        Some(user) if ok && !user.disabled => {
            store::throttle::clear(pool, &username_key(&name)).await?;
            audit_now(
                &ctx.db,
                events::LOGIN_OK,
                Actor::User(&user),
                Some(&user),
                "",
            )
            .await?;
            Ok(Ok(user))
        }
        user => {
            store::throttle::hit(pool, &username_key(&name), WINDOW_SECS, now).await?;
            store::throttle::hit(pool, &address_key(address), WINDOW_SECS, now).await?;
            let detail = match &user {
                Some(u) if u.disabled => "disabled".to_owned(),
                Some(_) => "wrong password".to_owned(),
                // Not the text itself: people type passwords into the username field.
                None => format!(
                    "unknown username #{}",
                    &crypto::sha256_hex(name.as_bytes())[..12]
                ),
            };
            audit_now(
                &ctx.db,
                events::LOGIN_FAILED,
                Actor::System,
                user.as_ref(),
                &detail,
            )
            .await?;
            Ok(Err(LoginFailure::BadCredentials))
        }
    }
}

/// Re-checks the password of someone already logged in ("sudo mode").
pub async fn reauthenticate(ctx: &Ctx, user: &User, password: SecretString) -> Result<bool> {
    let ok = password::verify(Some(user.password_hash.clone()), password).await?;
    let event = if ok {
        events::REAUTH_OK
    } else {
        events::REAUTH_FAILED
    };
    audit_now(&ctx.db, event, Actor::User(user), Some(user), "").await?;
    Ok(ok)
}

/// A person's current record with their account, if they still may act: enabled, and `epoch`
/// still current (a password, role or enabled change since then ends what was minted before).
pub async fn current_user(
    ctx: &Ctx,
    user_id: i64,
    epoch: i64,
) -> Result<Option<(User, Option<Account>)>> {
    Ok(store::users::with_account(&ctx.db.pool, user_id)
        .await?
        .filter(|(u, _)| !u.disabled && u.auth_epoch == epoch))
}

/// An issued API token: the secret goes to the client once and is stored only as a hash.
pub struct IssuedToken {
    pub token: String,
    pub expires_at: i64,
}

pub async fn issue_token(ctx: &Ctx, user: &User) -> Result<IssuedToken> {
    let token = crypto::random_token();
    let now = store::now();
    let expires_at = now + TOKEN_TTL_SECS;
    store::tokens::insert(
        &ctx.db.pool,
        &crypto::sha256_hex(token.as_bytes()),
        user.id,
        user.auth_epoch,
        now,
        expires_at,
    )
    .await?;
    audit_now(
        &ctx.db,
        events::TOKEN_ISSUED,
        Actor::User(user),
        Some(user),
        "",
    )
    .await?;
    Ok(IssuedToken { token, expires_at })
}

/// The person a token belongs to, if it is live.
pub async fn token_user(ctx: &Ctx, token: &str) -> Result<Option<User>> {
    let hash = crypto::sha256_hex(token.as_bytes());
    match store::tokens::lookup(&ctx.db.pool, &hash, store::now()).await? {
        Some((user_id, epoch)) => Ok(current_user(ctx, user_id, epoch).await?.map(|(u, _)| u)),
        None => Ok(None),
    }
}

/// Revokes a token; `false` when it did not exist.
pub async fn revoke_token(ctx: &Ctx, actor: &User, token: &str) -> Result<bool> {
    let gone = store::tokens::delete(&ctx.db.pool, &crypto::sha256_hex(token.as_bytes())).await?;
    if gone {
        audit_now(
            &ctx.db,
            events::TOKEN_REVOKED,
            Actor::User(actor),
            Some(actor),
            "",
        )
        .await?;
    }
    Ok(gone)
}
