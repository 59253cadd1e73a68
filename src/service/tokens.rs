//! API tokens (`X-Auth-Token`): issued after a password (and a second factor, when the person
//! has one), stored only as a hash, looked up with their holder, revoked. Every token request
//! counts against its client address first.

use secrecy::SecretString;

use super::login::{self, LoginFailure, NextStep};
use super::policy::{self, RecentPassword};
use super::{limits, two_step, Actor, AuditRecord, Ctx, Result};
use crate::crypto;
use crate::domain::{Event, User};
use crate::store;

/// How long an API token lives.
pub const TOKEN_TTL_SECS: i64 = 24 * 60 * 60;
/// A token's last use is written at most this often.
const USE_RESOLUTION_SECS: i64 = 60;

/// An issued API token: the secret goes to the client once and is stored only as a hash.
pub struct IssuedToken {
    pub token: String,
    pub issued_at: i64,
    pub expires_at: i64,
    /// A second factor was given too.
    pub second_factor: bool,
    /// The password was just entered: the token's answer may show the holder's PIN.
    pub recent: RecentPassword,
}

/// Issues a token to someone who has just authenticated from `address` (with a second factor
/// when `second_factor`).
pub async fn issue_token(
    ctx: &Ctx,
    user: &User,
    second_factor: bool,
    address: &str,
) -> Result<IssuedToken> {
    let token = crypto::random_token();
    let now = store::now();
    let expires_at = now + TOKEN_TTL_SECS;
    // The token and its audit row in one commit.
    let mut tx = ctx.db.begin().await?;
    store::tokens::insert(
        &mut tx,
        &store::tokens::NewToken {
            token_hash: &crypto::sha256_hex(token.as_bytes()),
            handle: &uuid::Uuid::new_v4().simple().to_string(),
            address,
            user_id: user.id,
            auth_epoch: user.auth_epoch,
            created_at: now,
            expires_at,
            second_factor,
        },
    )
    .await?;
    AuditRecord::new(Event::TokenIssued, Actor::User(user))
        .about(user)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(IssuedToken {
        token,
        issued_at: now,
        expires_at,
        second_factor,
        recent: policy::password_just_entered(user),
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
    /// Proof that the token's password entry is recent enough to show or change the holder's
    /// PIN (the re-auth window, as in the panel), if it is.
    pub fn recent_password(&self, ctx: &Ctx) -> Option<RecentPassword> {
        policy::recent_password(
            &self.user,
            self.issued_at,
            store::now(),
            ctx.settings.reauth_secs,
        )
        .ok()
    }
}

/// The person a token belongs to, if it is live.
pub async fn token_user(ctx: &Ctx, token: &str) -> Result<Option<TokenHolder>> {
    let hash = crypto::sha256_hex(token.as_bytes());
    let now = store::now();
    let Some((row, user, _)) = store::tokens::lookup(&ctx.db.pool, &hash, now).await? else {
        return Ok(None);
    };
    // When it was last used, for its holder's sessions page: written at most once a minute,
    // so reading through the API does not write on every call.
    if now - row.last_used_at.unwrap_or(0) >= USE_RESOLUTION_SECS {
        store::tokens::touch(&ctx.db.pool, &hash, now).await?;
    }
    Ok(
        login::may_still_act(&user, row.auth_epoch).then_some(TokenHolder {
            user,
            issued_at: row.created_at,
            expires_at: row.expires_at,
            second_factor: row.second_factor,
        }),
    )
}

/// Revokes a token; `false` when it did not exist.
pub async fn revoke_token(ctx: &Ctx, actor: &User, token: &str) -> Result<bool> {
    let gone = store::tokens::delete(&ctx.db.pool, &crypto::sha256_hex(token.as_bytes())).await?;
    if gone {
        AuditRecord::new(Event::TokenRevoked, Actor::User(actor))
            .about(actor)
            .write_now(&ctx.db)
            .await?;
    }
    Ok(gone)
}

/// What a token request gets: a token, or (the person has two-step login) a multi-factor session
/// to finish with a passcode.
pub enum Requested {
    Token(User, IssuedToken),
    SecondStep(String),
}

/// Why a token request was refused.
pub enum Refused {
    BadCredentials,
    Throttled {
        retry_after: i64,
    },
    /// The person's role requires two-step login and they have not set it up.
    TwoStepNotSetUp,
}

/// `POST /v2.0/tokens` with a password: counted against the client address first (whatever the
/// outcome), then the password; a person with two-step login gets a multi-factor session.
pub async fn request_with_password(
    ctx: &Ctx,
    username: &str,
    password: SecretString,
    address: &str,
) -> Result<std::result::Result<Requested, Refused>> {
    limits::hit(ctx, ctx.limits.tokens_per_address, address).await?;
    let found = match login::authenticate(ctx, username, password, address, "API").await? {
        Ok(found) => found,
        Err(LoginFailure::BadCredentials) => return Ok(Err(Refused::BadCredentials)),
        Err(LoginFailure::Throttled { retry_after }) => {
            return Ok(Err(Refused::Throttled { retry_after }))
        }
    };
    let user = found.user;
    match found.next {
        NextStep::SecondStep => {
            let session = two_step::begin_api_second_step(ctx, &user).await?;
            Ok(Ok(Requested::SecondStep(session)))
        }
        NextStep::SetUpTwoStep => Ok(Err(Refused::TwoStepNotSetUp)),
        NextStep::LoggedIn => {
            let token = issue_token(ctx, &user, false, address).await?;
            Ok(Ok(Requested::Token(user, token)))
        }
    }
}

/// `POST /v2.0/tokens` with a passcode and the multi-factor session a password request gave:
/// counted against the client address first, then the code. `NotFound` when the session is
/// unknown or expired.
pub async fn request_with_passcode(
    ctx: &Ctx,
    session_id: &str,
    passcode: &str,
    address: &str,
) -> Result<(User, IssuedToken)> {
    limits::hit(ctx, ctx.limits.tokens_per_address, address).await?;
    let user = two_step::finish_api_second_step(ctx, session_id, passcode, address).await?;
    let token = issue_token(ctx, &user, true, address).await?;
    Ok((user, token))
}
