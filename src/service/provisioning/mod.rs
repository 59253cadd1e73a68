//! Provisioning: an account's identity system keeps its members in step through SCIM 2.0, with
//! a provisioning token of that account. This module holds the tokens (made by an
//! administrator or the command line, shown once, stored as a hash, revoked) and who a token
//! is; [`members`] holds what a token may do to the account's members.

pub mod members;

pub use members::ScimMember;

use super::policy::RecentPassword;
use super::{limits, policy, Actor, AuditRecord, Ctx, Result, ServiceError};
use crate::crypto;
use crate::domain::{Account, Event, User};
use crate::store;

/// How a token starts: secret scanners and people can tell it from other secrets.
const TOKEN_PREFIX: &str = "ppscim_";
/// When a token was last used is written at most this often.
const USE_RESOLUTION_SECS: i64 = 60;
/// The longest name of a token.
pub const MAX_NAME_CHARS: usize = 60;

/// An account's identity system, known by the token it sent.
#[derive(Debug, Clone)]
pub struct Provisioner {
    pub token_id: i64,
    pub name: String,
    pub account: Account,
}

impl Provisioner {
    /// Who the activity says made a change: the identity system, by its token's name.
    pub fn actor(&self) -> Actor<'_> {
        Actor::Provisioning {
            token: &self.name,
            account_id: self.account.id,
        }
    }
}

/// A provisioning token as the Users page lists it (never the token).
#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub created_by: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// A token just made: shown once.
pub struct NewToken {
    pub id: i64,
    pub token: String,
}

fn token_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(ServiceError::Invalid(format!(
            "Give the token a name of 1 to {MAX_NAME_CHARS} characters, such as the identity \
             system that will use it."
        )));
    }
    Ok(name.to_owned())
}

/// Who makes a provisioning token.
#[derive(Debug, Clone, Copy)]
pub enum TokenMaker<'a> {
    /// An administrator of the account, with proof of a recent password entry: a token acts for
    /// the account with no person behind it, so a borrowed session must not be able to make one.
    /// It ends with its maker's sessions and tokens (a password change, a demotion, disabling).
    Admin(&'a User, &'a RecentPassword),
    /// The operator.
    Cli,
}

/// Makes a provisioning token for `account`. The token is returned once; only its hash is kept.
pub async fn create_token(
    ctx: &Ctx,
    maker: TokenMaker<'_>,
    account: &Account,
    name: &str,
) -> Result<NewToken> {
    let (actor, created_by_id, created_by) = match maker {
        TokenMaker::Admin(u, recent) => {
            policy::may_administer(Actor::User(u), account.id)?;
            recent.of(u)?;
            (Actor::User(u), Some(u.id), u.username.clone())
        }
        TokenMaker::Cli => (Actor::Cli, None, Actor::Cli.to_ref().label()),
    };
    let name = token_name(name)?;
    let token = format!("{TOKEN_PREFIX}{}", crypto::random_token());
    let hash = crypto::sha256_hex(token.as_bytes());
    let mut tx = ctx.db.begin().await?;
    let id = store::scim::insert_token(
        &mut tx,
        &store::scim::NewToken {
            account_id: account.id,
            name: &name,
            token_hash: &hash,
            created_by_id,
            created_by_name: &created_by,
            now: store::now(),
        },
    )
    .await?;
    AuditRecord::new(Event::ScimTokenCreated, actor)
        .of_account(account.id)
        .detail(&name)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(NewToken { id, token })
}

/// The account's provisioning tokens, for its administrators.
pub async fn tokens(ctx: &Ctx, admin: &User, account: &Account) -> Result<Vec<TokenInfo>> {
    policy::may_administer(Actor::User(admin), account.id)?;
    Ok(store::scim::tokens_of(&ctx.db.pool, account.id)
        .await?
        .into_iter()
        .map(|t| TokenInfo {
            id: t.id,
            name: t.name,
            created_by: t.created_by_name,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
        })
        .collect())
}

/// Revokes one of the account's tokens (`NotFound` for any other id): the next request with it
/// is refused.
pub async fn revoke_token(ctx: &Ctx, admin: &User, account: &Account, id: i64) -> Result<()> {
    policy::may_administer(Actor::User(admin), account.id)?;
    let mut tx = ctx.db.begin().await?;
    let name = store::scim::delete_token(&mut tx, account.id, id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    AuditRecord::new(Event::ScimTokenRevoked, Actor::User(admin))
        .of_account(account.id)
        .detail(&name)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Who sent `token` from `address`: `None` for a token that is not one. The token is looked up
/// first, so the right token always works, whatever others sent from its address (identity
/// systems share egress addresses): no one can be guessed (256 random bits), and wrong tokens
/// are counted per address only to refuse a scanner (`Throttled`) and to record it once.
pub async fn authenticate(ctx: &Ctx, token: &str, address: &str) -> Result<Option<Provisioner>> {
    let found = if token.starts_with(TOKEN_PREFIX) && token.len() <= 128 {
        store::scim::token_by_hash(&ctx.db.pool, &crypto::sha256_hex(token.as_bytes())).await?
    } else {
        None
    };
    let Some((row, account)) = found else {
        limits::hit(ctx, ctx.limits.provisioning_per_address, address).await?;
        return Ok(None);
    };
    let now = store::now();
    if now - row.last_used_at.unwrap_or(0) >= USE_RESOLUTION_SECS {
        store::scim::touch_token(&ctx.db.pool, row.id, now).await?;
    }
    Ok(Some(Provisioner {
        token_id: row.id,
        name: row.name,
        account,
    }))
}
