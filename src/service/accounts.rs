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
        let mut tx = ctx.db.begin().await?;
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

/// A person checked against the rules, ready to be written.
pub(super) struct PersonRow<'a> {
    pub account: Option<&'a Account>,
    pub username: Username,
    pub full_name: String,
    pub email: Option<String>,
    pub role: Role,
    pub kind: Kind,
    pub password_hash: String,
    pub with_pin: bool,
}

/// Checks who may create whom and the fields of a new person (everything but the password).
pub(super) fn check_person(
    actor: Actor<'_>,
    account: Option<&Account>,
    username: &str,
    full_name: &str,
    email: Option<&str>,
    role: Role,
) -> Result<(Username, String, Option<String>)> {
    let username = Username::parse(username).map_err(ServiceError::Invalid)?;
    let full_name = domain::parse_full_name(full_name).map_err(ServiceError::Invalid)?;
    let email = email
        .filter(|e| !e.trim().is_empty())
        .map(domain::parse_email)
        .transpose()
        .map_err(ServiceError::Invalid)?;
    if let Actor::User(u) = actor {
        policy::may_administer(u, account.map(|a| a.id).ok_or(ServiceError::NotFound)?)?;
    }
    if account.is_none() != (role == Role::Agent) {
        return Err(ServiceError::Invalid(
            "Agents belong to no account; account members are users or administrators.".into(),
        ));
    }
    Ok((username, full_name, email))
}

/// Writes a checked person inside the caller's transaction: the row, a generated PIN for a
/// member (unless told otherwise), the audit events.
pub(super) async fn insert_person(
    ctx: &Ctx,
    conn: &mut sqlx::AnyConnection,
    actor: Actor<'_>,
    p: PersonRow<'_>,
) -> Result<User> {
    let is_agent = p.account.is_none();
    let now = store::now();
    let row = NewUser {
        account_id: p.account.map(|a| a.id),
        username: p.username.as_str(),
        full_name: &p.full_name,
        email: p.email.as_deref(),
        kind: (!is_agent).then_some(p.kind),
        role: p.role,
        password_hash: &p.password_hash,
    };
    let id = match store::users::insert(&mut *conn, &row, now).await {
        Ok(id) => id,
        Err(e) if store::is_unique_violation(&e) => {
            return Err(ServiceError::Conflict(format!(
                "The username '{}' is taken.",
                p.username.as_str()
            )))
        }
        Err(e) => return Err(e.into()),
    };
    let user = User {
        id,
        account_id: row.account_id,
        username: p.username.as_str().to_owned(),
        full_name: p.full_name.clone(),
        email: p.email.clone(),
        kind: row.kind,
        role: p.role,
        disabled: false,
        auth_epoch: 0,
        password_hash: p.password_hash.clone(),
        created_at: now,
    };
    let detail = format!(
        "{} ({})",
        p.role,
        if is_agent { "agent" } else { p.kind.as_str() }
    );
    audit(
        &mut *conn,
        events::MEMBER_CREATED,
        actor,
        Some(&user),
        &detail,
    )
    .await?;
    if !is_agent {
        let blob = p
            .with_pin
            .then(|| ctx.cipher.encrypt_pin(id, &SupportPin::generate()));
        let created = blob.is_some();
        store::pins::insert(&mut *conn, id, blob, now).await?;
        if created {
            audit(
                &mut *conn,
                events::PIN_CREATED,
                Actor::System,
                Some(&user),
                "generated",
            )
            .await?;
        }
    }
    Ok(user)
}

/// Creates a member (with a generated Support PIN unless told otherwise) or an agent.
pub async fn create_person(ctx: &Ctx, actor: Actor<'_>, new: NewPerson) -> Result<User> {
    let (username, full_name, email) = check_person(
        actor,
        new.account.as_ref(),
        &new.username,
        &new.full_name,
        new.email.as_deref(),
        new.role,
    )?;
    domain::check_password(new.password.expose_secret()).map_err(ServiceError::Invalid)?;
    let password_hash = password::hash(new.password).await?;
    let mut tx = ctx.db.begin().await?;
    let user = insert_person(
        ctx,
        &mut tx,
        actor,
        PersonRow {
            account: new.account.as_ref(),
            username,
            full_name,
            email,
            role: new.role,
            kind: new.kind,
            password_hash,
            with_pin: new.with_pin,
        },
    )
    .await?;
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
    let mut tx = ctx.db.begin().await?;
    store::users::set_password(&mut tx, user.id, &hash).await?;
    end_sessions(&mut tx, user.id).await?;
    audit(&mut tx, events::PASSWORD_CHANGED, actor, Some(user), "").await?;
    tx.commit().await?;
    Ok(())
}

/// Disables a person: they cannot log in, and their sessions and tokens end.
pub async fn disable(ctx: &Ctx, actor: Actor<'_>, user: &User) -> Result<()> {
    set_enabled(ctx, actor, user, false).await
}

/// Refuses a change that would leave `user`'s account without an enabled administrator: runs
/// inside the change's transaction, with the account's row taken, so concurrent changes are
/// checked one after the other.
async fn keep_an_administrator(conn: &mut sqlx::AnyConnection, user: &User) -> Result<()> {
    let Some(account_id) = user.account_id else {
        return Ok(());
    };
    store::users::lock_account(conn, account_id).await?;
    // Read now, under the lock: `user` may be a copy from before another change.
    let all = store::users::enabled_admins_except(conn, account_id, 0).await?;
    let others = store::users::enabled_admins_except(conn, account_id, user.id).await?;
    if all > others && others == 0 {
        return Err(ServiceError::Forbidden(
            "an account always keeps an enabled administrator: this is the last one",
        ));
    }
    Ok(())
}

/// Disables or enables a member (or agent). Nobody changes themselves, and the last enabled
/// administrator of an account stays. Either way the person's sessions and tokens end.
pub async fn set_enabled(ctx: &Ctx, actor: Actor<'_>, user: &User, enabled: bool) -> Result<()> {
    if let Actor::User(u) = actor {
        policy::may_administer(u, user.account_id.ok_or(ServiceError::NotFound)?)?;
        if u.id == user.id {
            return Err(ServiceError::Forbidden(
                "nobody may disable or enable themselves",
            ));
        }
    }
    let mut tx = ctx.db.begin().await?;
    if !enabled {
        keep_an_administrator(&mut tx, user).await?;
    }
    store::users::set_disabled(&mut tx, user.id, !enabled).await?;
    end_sessions(&mut tx, user.id).await?;
    let event = if enabled {
        events::MEMBER_ENABLED
    } else {
        events::MEMBER_DISABLED
    };
    audit(&mut tx, event, actor, Some(user), "").await?;
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
        if u.id == user.id {
            return Err(ServiceError::Forbidden("nobody may change their own role"));
        }
    }
    let mut tx = ctx.db.begin().await?;
    if role != Role::Admin {
        keep_an_administrator(&mut tx, user).await?;
    }
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
    let mut tx = ctx.db.begin().await?;
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

/// Ends every session and API token of `user_id` (inside the caller's transaction).
pub(super) async fn end_sessions(conn: &mut sqlx::AnyConnection, user_id: i64) -> sqlx::Result<()> {
    store::sessions::delete_for_user(conn, user_id).await?;
    store::tokens::delete_for_user(conn, user_id).await?;
    Ok(())
}

/// A person changes their own password: the current one (checked and throttled like a re-entry),
/// the new one twice. Every session and API token of theirs ends (the face starts a new session
/// for the one in use), and they get a mail. Returns the person as they are now.
pub async fn change_own_password(
    ctx: &Ctx,
    user: &User,
    current: SecretString,
    new: SecretString,
    again: SecretString,
) -> Result<User> {
    if new.expose_secret() != again.expose_secret() {
        return Err(ServiceError::Invalid(
            "The two new passwords are not the same.".into(),
        ));
    }
    domain::check_password(new.expose_secret()).map_err(ServiceError::Invalid)?;
    if !super::login::reauthenticate(ctx, user, current).await? {
        return Err(ServiceError::WrongPassword);
    }
    let hash = password::hash(new).await?;
    let mut tx = ctx.db.begin().await?;
    store::users::set_password(&mut tx, user.id, &hash).await?;
    end_sessions(&mut tx, user.id).await?;
    audit(
        &mut tx,
        events::PASSWORD_CHANGED,
        Actor::User(user),
        Some(user),
        "",
    )
    .await?;
    super::mail::access::changed(ctx, &mut tx, events::PASSWORD_CHANGED, user, store::now())
        .await?;
    tx.commit().await?;
    store::users::by_id(&ctx.db.pool, user.id)
        .await?
        .ok_or(ServiceError::NotFound)
}

/// How to list people through the API.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub username: Option<String>,
    pub email: Option<String>,
    /// The last id of the previous page.
    pub marker: Option<i64>,
    pub limit: i64,
}

/// The largest page of people one call lists.
pub const DIRECTORY_PAGE_MAX: i64 = 1000;

/// The people `actor` may list, in id order: an administrator, their account's members;
/// anyone else, themselves.
pub async fn directory(ctx: &Ctx, actor: &User, q: &Directory) -> Result<Vec<MemberSummary>> {
    let limit = q.limit.clamp(1, DIRECTORY_PAGE_MAX);
    let username = q
        .username
        .as_deref()
        .map(|u| Username::parse(u).map(|u| u.as_str().to_owned()))
        .transpose()
        .ok()
        .flatten();
    if q.username.is_some() && username.is_none() {
        return Ok(Vec::new());
    }
    match actor.account_id {
        Some(account_id) if policy::may_administer(actor, account_id).is_ok() => {
            Ok(store::users::members_page(
                &ctx.db.pool,
                &store::users::MemberPage {
                    account_id,
                    username: username.as_deref(),
                    email: q.email.as_deref(),
                    after: q.marker,
                    limit,
                },
            )
            .await?)
        }
        _ => {
            let matches = username.as_deref().is_none_or(|u| u == actor.username)
                && q.email.as_deref().is_none_or(|e| {
                    actor
                        .email
                        .as_deref()
                        .is_some_and(|mine| mine.eq_ignore_ascii_case(e))
                })
                && q.marker.is_none_or(|m| actor.id > m);
            if !matches {
                return Ok(Vec::new());
            }
            let pin_state = if actor.is_agent() {
                crate::domain::PinState::Inactive
            } else {
                super::pins::status(ctx, actor, actor).await?.state
            };
            let two_step = super::two_step::status(ctx, actor).await?.enabled();
            Ok(vec![MemberSummary {
                user: actor.clone(),
                pin_state,
                last_pin_activity: None,
                two_step,
            }])
        }
    }
}

/// Sets a member's e-mail address: the member, or an administrator of their account.
pub async fn set_email(ctx: &Ctx, actor: &User, user: &User, email: Option<&str>) -> Result<User> {
    if actor.id != user.id {
        policy::may_administer(actor, user.account_id.ok_or(ServiceError::NotFound)?)?;
    }
    let email = email
        .filter(|e| !e.trim().is_empty())
        .map(domain::parse_email)
        .transpose()
        .map_err(ServiceError::Invalid)?;
    store::users::set_email(&ctx.db.pool, user.id, email.as_deref()).await?;
    super::audit_now(
        &ctx.db,
        events::EMAIL_CHANGED,
        Actor::User(actor),
        Some(user),
        "",
    )
    .await?;
    Ok(User {
        email,
        ..user.clone()
    })
}
