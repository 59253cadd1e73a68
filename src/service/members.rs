//! The people of an account (and the agents outside every account): creating them, listing
//! them, disabling and enabling them, their role and their address. Who may is `policy`'s:
//! administrators of the account, never on themselves, and the account keeps an enabled
//! administrator. Each use case is one transaction, so bad input writes nothing.

use secrecy::{ExposeSecret, SecretString};

use super::policy::{self, MemberChange};
use super::{hashing, keys, sessions, Actor, AuditRecord, Ctx, Result, ServiceError};
use crate::domain::{
    self, Account, DisplayName, EmailAddress, Event, Kind, ListedMember, MemberSummary, Role,
    SupportPin, User, Username,
};
pub use crate::store::users::Show;
use crate::store::users::{Listing, NewUser};
use crate::store::{self, Tx};

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
    pub full_name: DisplayName,
    pub email: Option<EmailAddress>,
    pub role: Role,
    pub kind: Kind,
    /// `None` for a member who chooses one later (an invitation) or signs in otherwise.
    pub password_hash: Option<String>,
    pub pin: NewPin,
}

/// A new member's Support PIN.
pub(super) enum NewPin {
    /// A generated one (SPEC).
    Generated,
    /// One they bring (an import moving existing PINs across), checked against the rules.
    Given(SupportPin),
    /// None yet (state INACTIVE).
    None,
}

/// The fields of a new person, parsed once.
pub(super) struct Checked {
    pub username: Username,
    pub full_name: DisplayName,
    pub email: Option<EmailAddress>,
}

/// Checks who may create whom and the fields of a new person (everything but the password).
pub(super) fn check_person(
    actor: Actor<'_>,
    account: Option<&Account>,
    username: &str,
    full_name: &str,
    email: Option<&str>,
    role: Role,
) -> Result<Checked> {
    let checked = parse_fields(username, full_name, email)?;
    if let Some(account) = account {
        policy::may_administer(actor, account.id)?;
    } else if !matches!(actor, Actor::Cli | Actor::System) {
        // Agents, who belong to no account, are made by the operator only.
        return Err(ServiceError::NotFound);
    }
    if account.is_none() != (role == Role::Agent) {
        return Err(ServiceError::Invalid(
            "Agents belong to no account; account members are users or administrators.".into(),
        ));
    }
    Ok(checked)
}

/// The fields of a new person, parsed once (who may create them is [`check_person`]'s).
pub(super) fn parse_fields(
    username: &str,
    full_name: &str,
    email: Option<&str>,
) -> Result<Checked> {
    Ok(Checked {
        username: Username::parse(username).map_err(ServiceError::Invalid)?,
        full_name: DisplayName::parse(full_name).map_err(ServiceError::Invalid)?,
        email: EmailAddress::parse_optional(email).map_err(ServiceError::Invalid)?,
    })
}

/// Writes a checked person inside the caller's transaction: the row, a generated PIN for a
/// member (unless told otherwise), the audit events.
pub(super) async fn insert_person(
    ctx: &Ctx,
    conn: &mut Tx,
    actor: Actor<'_>,
    p: PersonRow<'_>,
) -> Result<User> {
    let is_agent = p.account.is_none();
    let now = store::now();
    let row = NewUser {
        account_id: p.account.map(|a| a.id),
        username: p.username.as_str(),
        full_name: p.full_name.as_str(),
        email: p.email.as_ref().map(EmailAddress::as_str),
        kind: (!is_agent).then_some(p.kind),
        role: p.role,
        password_hash: p.password_hash.as_deref(),
    };
    let id = match store::users::insert(&mut *conn, &row, now).await {
        Ok(id) => id,
        Err(e) if store::is_unique_violation(&e) => {
            return Err(ServiceError::Conflict(format!(
                "The username '{}' is taken.",
                p.username
            )))
        }
        Err(e) => return Err(e.into()),
    };
    let (account_id, kind) = (row.account_id, row.kind);
    let user = User {
        id,
        account_id,
        username: p.username.into_string(),
        full_name: p.full_name.into_string(),
        email: p.email.map(EmailAddress::into_string),
        kind,
        role: p.role,
        disabled: false,
        sso_only: false,
        auth_epoch: 0,
        password_hash: p.password_hash.clone(),
        created_at: now,
    };
    let detail = format!(
        "{} ({})",
        p.role,
        if is_agent { "agent" } else { p.kind.as_str() }
    );
    AuditRecord::new(Event::MemberCreated, actor)
        .about(&user)
        .detail(&detail)
        .write(&mut *conn)
        .await?;
    if !is_agent {
        let (pin, how) = match p.pin {
            NewPin::Generated => (Some(SupportPin::generate()), "generated"),
            NewPin::Given(pin) => (Some(pin), "imported"),
            NewPin::None => (None, ""),
        };
        if pin.is_some() {
            keys::hold(ctx, conn).await?;
        }
        let blob = pin.map(|pin| ctx.cipher.encrypt_pin(id, &pin));
        let created = blob.is_some();
        store::pins::insert(&mut *conn, id, blob, now).await?;
        if created {
            AuditRecord::new(Event::PinCreated, Actor::System)
                .about(&user)
                .detail(how)
                .write(&mut *conn)
                .await?;
        }
    }
    Ok(user)
}

/// Creates a member (with a generated Support PIN unless told otherwise) or an agent.
pub async fn create_person(ctx: &Ctx, actor: Actor<'_>, new: NewPerson) -> Result<User> {
    let checked = check_person(
        actor,
        new.account.as_ref(),
        &new.username,
        &new.full_name,
        new.email.as_deref(),
        new.role,
    )?;
    domain::check_password(new.password.expose_secret()).map_err(ServiceError::Invalid)?;
    let password_hash = hashing::hash(&ctx.hashing, new.password).await?;
    let mut tx = ctx.db.begin().await?;
    let user = insert_person(
        ctx,
        &mut tx,
        actor,
        PersonRow {
            account: new.account.as_ref(),
            username: checked.username,
            full_name: checked.full_name,
            email: checked.email,
            role: new.role,
            kind: new.kind,
            password_hash: Some(password_hash),
            pin: if new.with_pin {
                NewPin::Generated
            } else {
                NewPin::None
            },
        },
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

/// The members of an account with their PIN state (never a PIN), for its administrators or
/// the command line.
pub async fn members(ctx: &Ctx, actor: Actor<'_>, account_id: i64) -> Result<Vec<MemberSummary>> {
    policy::may_administer(actor, account_id)?;
    Ok(store::users::members_of(&ctx.db.pool, account_id).await?)
}

/// How many members a page of the Users page lists.
pub const USERS_PAGE: i64 = 50;
/// The longest search the Users page takes.
pub const MAX_SEARCH: usize = 100;

/// A page of the account's members by name (`page` counts from 1), with how many match in all.
/// A search longer than [`MAX_SEARCH`] is refused in words.
pub async fn listing(
    ctx: &Ctx,
    admin: &User,
    account_id: i64,
    search: Option<&str>,
    show: Show,
    page: i64,
) -> Result<(Vec<ListedMember>, i64)> {
    policy::may_administer(Actor::User(admin), account_id)?;
    if search.is_some_and(|s| s.chars().count() > MAX_SEARCH) {
        return Err(ServiceError::Invalid(format!(
            "A search has at most {MAX_SEARCH} characters."
        )));
    }
    let listing = Listing {
        account_id,
        search,
        show,
        offset: (page.max(1) - 1).saturating_mul(USERS_PAGE),
        limit: USERS_PAGE,
    };
    Ok(store::users::listing(&ctx.db, &listing).await?)
}

/// Disables a person: they cannot log in, and their sessions and tokens end.
pub async fn disable(ctx: &Ctx, actor: Actor<'_>, user: &User) -> Result<()> {
    set_enabled(ctx, actor, user, false).await
}

/// Refuses a change that would leave `user`'s account without an enabled administrator (the
/// rule is [`policy::keeps_an_administrator`]): runs inside the change's transaction, with the
/// account's row taken, so concurrent changes are checked one after the other.
pub(super) async fn keep_an_administrator(conn: &mut Tx, user: &User) -> Result<()> {
    let Some(account_id) = user.account_id else {
        return Ok(());
    };
    store::users::lock_account(conn, account_id).await?;
    // Read now, under the lock: `user` may be a copy from before another change.
    let before = store::users::enabled_admins_except(conn, account_id, 0).await?;
    let after = store::users::enabled_admins_except(conn, account_id, user.id).await?;
    policy::keeps_an_administrator(before, after)
}

/// Disables or enables a member (or agent). Nobody changes themselves, and the last enabled
/// administrator of an account stays. Either way the person's sessions and tokens end.
pub async fn set_enabled(ctx: &Ctx, actor: Actor<'_>, user: &User, enabled: bool) -> Result<()> {
    let mut tx = ctx.db.begin().await?;
    set_enabled_on(&mut tx, actor, user, enabled).await?;
    tx.commit().await?;
    Ok(())
}

/// [`set_enabled`] inside the caller's transaction: the one way a member is disabled or enabled,
/// from the panel, the API, the command line and provisioning alike.
pub(super) async fn set_enabled_on(
    tx: &mut Tx,
    actor: Actor<'_>,
    user: &User,
    enabled: bool,
) -> Result<()> {
    policy::may_change_member(actor, user, MemberChange::Enabled)?;
    if !enabled {
        keep_an_administrator(tx, user).await?;
        store::links::void_all_for(tx, user.id, store::now()).await?;
    }
    store::users::set_disabled(tx, user.id, !enabled).await?;
    sessions::end_all(tx, user.id).await?;
    let event = if enabled {
        Event::MemberEnabled
    } else {
        Event::MemberDisabled
    };
    AuditRecord::new(event, actor).about(user).write(tx).await?;
    Ok(())
}

/// Makes a member a user or an administrator; their sessions and tokens end, so the new role
/// applies from their next login.
pub async fn set_role(ctx: &Ctx, actor: Actor<'_>, user: &User, role: Role) -> Result<()> {
    let mut tx = ctx.db.begin().await?;
    set_role_on(&mut tx, actor, user, role).await?;
    tx.commit().await?;
    Ok(())
}

/// [`set_role`] inside the caller's transaction: the one way a member's role changes.
pub(super) async fn set_role_on(
    tx: &mut Tx,
    actor: Actor<'_>,
    user: &User,
    role: Role,
) -> Result<()> {
    if role == Role::Agent || user.is_agent() {
        return Err(ServiceError::Invalid(
            "Only account members have a role of user or admin.".into(),
        ));
    }
    policy::may_change_member(actor, user, MemberChange::Role)?;
    if role != Role::Admin {
        keep_an_administrator(tx, user).await?;
    }
    store::users::set_role(tx, user.id, role).await?;
    sessions::end_all(tx, user.id).await?;
    AuditRecord::new(Event::RoleChanged, actor)
        .about(user)
        .detail(role.as_str())
        .write(tx)
        .await?;
    Ok(())
}
