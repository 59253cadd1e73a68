//! Accounts, members and agents: creating them, listing them, passwords, disabling, the unlock
//! policy. Each use case is one transaction, so bad input writes nothing.

use rand::Rng;
use secrecy::{ExposeSecret, SecretString};

use super::password;
use super::{audit, events, policy, Actor, Ctx, Result, ServiceError};
use crate::domain::{
    self, Account, Kind, MemberSummary, Role, SupportPin, UnlockPolicy, User, Username,
};
use crate::store::{self, users::NewUser};

/// Creates an account; without a number, a random unused seven-digit one is drawn.
pub async fn create_account(
    ctx: &Ctx,
    actor: Actor<'_>,
    name: &str,
    number: Option<&str>,
    policy: UnlockPolicy,
) -> Result<Account> {
    let name = domain::parse_full_name(name)
        .map_err(|e| ServiceError::Invalid(e.replace("A name", "An account name")))?;
    let number = number
        .map(domain::parse_account_number)
        .transpose()
        .map_err(ServiceError::Invalid)?;
    for _ in 0..20 {
        let candidate = number.clone().unwrap_or_else(|| {
            rand::rngs::OsRng
                .gen_range(1_000_000..10_000_000u32)
                .to_string()
        });
        let mut tx = ctx.db.pool.begin().await?;
        match store::accounts::insert(&mut tx, &candidate, &name, policy, store::now()).await {
            Ok(account) => {
                let detail = format!("account {}", account.number);
                audit(&mut tx, events::ACCOUNT_CREATED, actor, None, &detail).await?;
                tx.commit().await?;
                return Ok(account);
            }
            Err(e) if store::is_unique_violation(&e) && number.is_none() => continue,
            Err(e) if store::is_unique_violation(&e) => {
                return Err(ServiceError::Conflict(format!(
                    "An account numbered {candidate} already exists."
                )))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ServiceError::Internal(anyhow::anyhow!(
        "no free account number found"
    )))
}

/// The account a member belongs to; `None` for agents.
pub async fn account_of(ctx: &Ctx, user: &User) -> Result<Option<Account>> {
    match user.account_id {
        Some(id) => Ok(store::accounts::by_id(&ctx.db.pool, id).await?),
        None => Ok(None),
    }
}

pub async fn account_by_number(ctx: &Ctx, number: &str) -> Result<Account> {
    let number = domain::parse_account_number(number).map_err(ServiceError::Invalid)?;
    store::accounts::by_number(&ctx.db.pool, &number)
        .await?
        .ok_or_else(|| ServiceError::Invalid(format!("There is no account numbered {number}.")))
}

/// A person to create: a member of an account, or an agent when `account` is `None`.
pub struct NewPerson {
    pub account: Option<Account>,
    pub username: String,
    pub full_name: String,
    pub email: Option<String>,
    pub role: Role,
    pub kind: Kind,
    pub password: SecretString,
    /// Give the member a generated PIN at once (SPEC); `false` for bulk imports whose PINs are
    /// issued later.
    pub with_pin: bool,
}

/// Creates a member (with a generated Support PIN unless told otherwise) or an agent.
pub async fn create_person(ctx: &Ctx, actor: Actor<'_>, new: NewPerson) -> Result<User> {
    let username = Username::parse(&new.username).map_err(ServiceError::Invalid)?;
    let full_name = domain::parse_full_name(&new.full_name).map_err(ServiceError::Invalid)?;
    let email = new
        .email
        .as_deref()
        .filter(|e| !e.trim().is_empty())
        .map(domain::parse_email)
        .transpose()
        .map_err(ServiceError::Invalid)?;
    domain::check_password(new.password.expose_secret()).map_err(ServiceError::Invalid)?;
    if let Actor::User(u) = actor {
        let account_id = new
            .account
            .as_ref()
            .map(|a| a.id)
            .ok_or(ServiceError::NotFound)?;
        policy::may_administer(u, account_id)?;
    }
    let is_agent = new.account.is_none();
    if is_agent != (new.role == Role::Agent) {
        return Err(ServiceError::Invalid(
            "Agents belong to no account; account members are users or administrators.".into(),
        ));
    }
    let hash = password::hash(new.password).await?;

    let mut tx = ctx.db.pool.begin().await?;
    let row = NewUser {
        account_id: new.account.as_ref().map(|a| a.id),
        username: username.as_str(),
        full_name: &full_name,
        email: email.as_deref(),
        kind: (!is_agent).then_some(new.kind),
        role: new.role,
        password_hash: &hash,
    };
    let id = match store::users::insert(&mut tx, &row, store::now()).await {
        Ok(id) => id,
        Err(e) if store::is_unique_violation(&e) => {
            return Err(ServiceError::Conflict(format!(
                "The username '{}' is taken.",
                username.as_str()
            )))
        }
        Err(e) => return Err(e.into()),
    };
    let user = User {
        id,
        account_id: row.account_id,
        username: username.as_str().to_owned(),
        full_name: full_name.clone(),
        email: email.clone(),
        kind: row.kind,
        role: new.role,
        disabled: false,
        auth_epoch: 0,
        password_hash: hash.clone(),
    };
    let detail = format!(
        "{} ({})",
        new.role,
        if is_agent { "agent" } else { new.kind.as_str() }
    );
    audit(&mut tx, events::MEMBER_CREATED, actor, Some(&user), &detail).await?;
    if !is_agent {
        let blob = new
            .with_pin
            .then(|| ctx.cipher.encrypt_pin(id, &SupportPin::generate()));
        let created = blob.is_some();
        store::pins::insert(&mut tx, id, blob, store::now()).await?;
        if created {
            audit(
                &mut tx,
                events::PIN_CREATED,
                Actor::System,
                Some(&user),
                "generated",
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(user)
}

/// The members of an account with their PIN state (never a PIN), for its administrators or
/// the command line.
pub async fn members(ctx: &Ctx, actor: Actor<'_>, account_id: i64) -> Result<Vec<MemberSummary>> {
    if let Actor::User(u) = actor {
        policy::may_administer(u, account_id)?;
    }
    Ok(store::users::members_of(&ctx.db.pool, account_id).await?)
}

pub async fn user_by_username(ctx: &Ctx, username: &str) -> Result<User> {
    let username = Username::parse(username).map_err(ServiceError::Invalid)?;
    store::users::by_username(&ctx.db.pool, username.as_str())
        .await?
        .ok_or_else(|| ServiceError::Invalid(format!("There is no user '{}'.", username.as_str())))
}

/// Sets a new password; every session and API token of the person ends.
pub async fn set_password(
    ctx: &Ctx,
    actor: Actor<'_>,
    user: &User,
    new: SecretString,
) -> Result<()> {
    domain::check_password(new.expose_secret()).map_err(ServiceError::Invalid)?;
    let hash = password::hash(new).await?;
    let mut tx = ctx.db.pool.begin().await?;
    store::users::set_password(&mut tx, user.id, &hash).await?;
    end_sessions(&mut tx, user.id).await?;
    audit(&mut tx, events::PASSWORD_CHANGED, actor, Some(user), "").await?;
    tx.commit().await?;
    Ok(())
}

/// Disables a person: they cannot log in, and their sessions and tokens end.
pub async fn disable(ctx: &Ctx, actor: Actor<'_>, user: &User) -> Result<()> {
    if let Actor::User(u) = actor {
        policy::may_administer(u, user.account_id.ok_or(ServiceError::NotFound)?)?;
        if u.id == user.id {
            return Err(ServiceError::Forbidden("nobody may disable themselves"));
        }
    }
    let mut tx = ctx.db.pool.begin().await?;
    store::users::set_disabled(&mut tx, user.id, true).await?;
    end_sessions(&mut tx, user.id).await?;
    audit(&mut tx, events::MEMBER_DISABLED, actor, Some(user), "").await?;
    tx.commit().await?;
    Ok(())
}

/// Makes a member a user or an administrator; their sessions and tokens end, so the new role
/// applies from their next login.
pub async fn set_role(ctx: &Ctx, actor: Actor<'_>, user: &User, role: Role) -> Result<()> {
    if role == Role::Agent || user.is_agent() {
        return Err(ServiceError::Invalid(
            "Only account members have a role of user or admin.".into(),
        ));
    }
    if let Actor::User(u) = actor {
        policy::may_administer(u, user.account_id.ok_or(ServiceError::NotFound)?)?;
    }
    let mut tx = ctx.db.pool.begin().await?;
    store::users::set_role(&mut tx, user.id, role).await?;
    end_sessions(&mut tx, user.id).await?;
    audit(
        &mut tx,
        events::ROLE_CHANGED,
        actor,
        Some(user),
        role.as_str(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Sets the account's unlock policy.
pub async fn set_unlock_policy(
    ctx: &Ctx,
    actor: Actor<'_>,
    account_id: i64,
    policy: UnlockPolicy,
) -> Result<()> {
    if let Actor::User(u) = actor {
        policy::may_administer(u, account_id)?;
    }
    let mut tx = ctx.db.pool.begin().await?;
    store::accounts::set_unlock_policy(&mut tx, account_id, policy).await?;
    audit(
        &mut tx,
        events::POLICY_CHANGED,
        actor,
        None,
        policy.as_str(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn end_sessions(conn: &mut sqlx::AnyConnection, user_id: i64) -> sqlx::Result<()> {
    store::sessions::delete_for_user(conn, user_id).await?;
    store::tokens::delete_for_user(conn, user_id).await?;
    Ok(())
}
