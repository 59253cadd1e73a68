//! Proving who someone is: passwords (with throttling kept in the database, so it holds across
//! instances) and API tokens.

use super::metrics::Login;
use secrecy::SecretString;

use super::{audit, audit_now, events, limits, password, Actor, Ctx, Result, ServiceError};
use crate::crypto;
use crate::domain::{Account, User, Username};
use crate::store;

/// How long an API token lives.
pub const TOKEN_TTL_SECS: i64 = 24 * 60 * 60;

/// Why a login did not succeed. Both look the same to the person logging in, except that
/// throttling says when to try again; neither reveals whether the username exists.
#[derive(Debug)]
pub enum LoginFailure {
    BadCredentials,
    Throttled { retry_after: i64 },
}

/// Checks a username and password. The attempt is reserved on the login throttles first (per
/// username and address, per address, per username), so parallel guesses cannot slip past them;
/// a successful login gives its reservation back. Unknown users cost the same argon2 time as
/// known ones; disabled users fail like wrong passwords. What was typed as a username is never
/// stored or logged: the throttles key it by HMAC, the audit log names only real people.
pub async fn authenticate(
    ctx: &Ctx,
    username: &str,
    password: SecretString,
    address: &str,
) -> Result<std::result::Result<User, LoginFailure>> {
    // A username that cannot exist still counts, under what was typed (it may hold control
    // characters, which PostgreSQL refuses in text, or be 10 KB long: only its HMAC is kept),
    // and is never looked up.
    let parsed = Username::parse(username).ok();
    let name = parsed
        .as_ref()
        .map(|u| u.as_str().to_owned())
        .unwrap_or_else(|| format!("invalid:{username}"));
    // A place in the hashing line first: when the line is full (a flood) the attempt is
    // refused at once, before it costs the database a reservation and its return.
    let place = password::take_place()?;
    let limits = &ctx.limits;
    let user_and_address = format!("{name}\n{address}");
    let reservation = match limits::reserve(
        ctx,
        &[
            (limits.login_per_user_address, &user_and_address),
            (limits.login_per_address, address),
            (limits.login_per_user, &name),
        ],
    )
    .await
    {
        Ok(r) => r,
        Err(ServiceError::Throttled { retry_after }) => {
            ctx.metrics.login(Login::Throttled);
            return Ok(Err(LoginFailure::Throttled { retry_after }));
        }
        Err(e) => return Err(e),
    };
    let user = match &parsed {
        Some(u) => store::users::by_username(&ctx.db.pool, u.as_str()).await?,
        None => None,
    };
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let ok = match password::verify_at(place, hash, password).await {
        Ok(ok) => ok,
        Err(e) => {
            // Not checked (the hashing queue is full): the attempt does not count.
            reservation.give_back(ctx, false).await?;
            return Err(e.into());
        }
    };
    match user {
        Some(user) if ok && !user.disabled => {
            reservation
                .succeeded(ctx, events::LOGIN_OK, &user, "")
                .await?;
            ctx.metrics.login(Login::Success);
            Ok(Ok(user))
        }
        user => {
            // The reservation stays: it is this failure's count.
            let detail = match &user {
                Some(u) if u.disabled => "disabled",
                Some(_) => "wrong password",
                // Not even a hash of it: people type passwords into the username field.
                None => "unknown username",
            };
            audit_now(
                &ctx.db,
                events::LOGIN_FAILED,
                Actor::System,
                user.as_ref(),
                detail,
            )
            .await?;
            ctx.metrics.login(Login::Failure);
            Ok(Err(LoginFailure::BadCredentials))
        }
    }
}

/// Re-checks the password of someone already logged in ("sudo mode"), throttled per person like
/// logins: `Throttled` once too many re-entries have failed.
pub async fn reauthenticate(ctx: &Ctx, user: &User, password: SecretString) -> Result<bool> {
    let reservation =
        limits::reserve(ctx, &[(ctx.limits.reauth_per_user, &user.id.to_string())]).await?;
    let ok = match password::verify(Some(user.password_hash.clone()), password).await {
        Ok(ok) => ok,
        Err(e) => {
            reservation.give_back(ctx, false).await?;
            return Err(e.into());
        }
    };
    if ok {
        reservation
            .succeeded(ctx, events::REAUTH_OK, user, "")
            .await?;
    } else {
        audit_now(
            &ctx.db,
            events::REAUTH_FAILED,
            Actor::User(user),
            Some(user),
            "",
        )
        .await?;
    }
    Ok(ok)
}

/// May a person act on what was minted under `epoch` (a session, a token)? Only while enabled,
/// and while `epoch` is current: a password, role or enabled change ends what came before.
pub fn may_still_act(user: &User, epoch: i64) -> bool {
    !user.disabled && user.auth_epoch == epoch
}

/// A person's current record with their account, if they still may act.
pub async fn current_user(
    ctx: &Ctx,
    user_id: i64,
    epoch: i64,
) -> Result<Option<(User, Option<Account>)>> {
    Ok(store::users::with_account(&ctx.db.pool, user_id)
        .await?
        .filter(|(u, _)| may_still_act(u, epoch)))
}

/// An issued API token: the secret goes to the client once and is stored only as a hash.
pub struct IssuedToken {
    pub token: String,
    pub issued_at: i64,
    pub expires_at: i64,
    /// A second factor was given too.
    pub second_factor: bool,
}

/// Issues a token to someone who has just authenticated (with a second factor when
/// `second_factor`).
pub async fn issue_token(ctx: &Ctx, user: &User, second_factor: bool) -> Result<IssuedToken> {
    let token = crypto::random_token();
    let now = store::now();
    let expires_at = now + TOKEN_TTL_SECS;
    // The token and its audit row in one commit.
    let mut tx = ctx.db.begin().await?;
    store::tokens::insert(
        &mut tx,
        &store::tokens::NewToken {
            token_hash: &crypto::sha256_hex(token.as_bytes()),
            user_id: user.id,
            auth_epoch: user.auth_epoch,
            created_at: now,
            expires_at,
            second_factor,
        },
    )
    .await?;
    audit(
        &mut tx,
        events::TOKEN_ISSUED,
        Actor::User(user),
        Some(user),
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(IssuedToken {
        token,
        issued_at: now,
        expires_at,
        second_factor,
    })
}

/// The holder of a live token.
pub struct TokenHolder {
    pub user: User,
    /// When the token was issued: the password entry the re-auth window counts from.
    pub issued_at: i64,
    pub expires_at: i64,
    /// A second factor was given when it was issued.
    pub second_factor: bool,
}

impl TokenHolder {
    /// May this token still show or change the holder's PIN (the re-auth window, as in the
    /// panel)?
    pub fn recently_authenticated(&self, ctx: &Ctx) -> bool {
        within_reauth_window(ctx, self.issued_at)
    }
}

/// Is a password entry at `entered_at` recent enough to show or change a PIN ("sudo mode")?
/// The one rule for the panel's sessions and the API's tokens.
pub fn within_reauth_window(ctx: &Ctx, entered_at: i64) -> bool {
    store::now() - entered_at < ctx.settings.reauth_secs
}

/// The person a token belongs to, if it is live.
pub async fn token_user(ctx: &Ctx, token: &str) -> Result<Option<TokenHolder>> {
    let hash = crypto::sha256_hex(token.as_bytes());
    let Some((row, user, _)) = store::tokens::lookup(&ctx.db.pool, &hash, store::now()).await?
    else {
        return Ok(None);
    };
    Ok(may_still_act(&user, row.auth_epoch).then_some(TokenHolder {
        user,
        issued_at: row.created_at,
        expires_at: row.expires_at,
        second_factor: row.second_factor,
    }))
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
