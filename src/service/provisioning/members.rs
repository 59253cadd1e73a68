//! What a provisioning token does to its account's members: reads them (one, or a page that
//! matches a filter), creates them (a generated Support PIN, and an invitation unless the
//! account signs in only through single sign-on), replaces what the identity system says of
//! them, and removes them. Each change is one transaction, checked under the member's row lock
//! (and the account's, when the last administrator is at stake), so a refused request changes
//! nothing; each is in the account's activity by the token's name.

use super::Provisioner;
use crate::domain::scim_filter::Filter;
use crate::domain::User;
use crate::domain::{DisplayName, EmailAddress, Event, Kind, Role, Username};
use crate::service::email::{self, Requested};
use crate::service::members::{
    insert_person, keep_an_administrator, set_enabled_on, set_role_on, NewPin, PersonRow,
};
use crate::service::{links, policy, AuditRecord, Ctx, Result, ServiceError};
use crate::store::{self, scim::ScimRow, Tx};

/// The most members one page holds.
pub const MAX_PAGE: i64 = 200;
/// The longest external id kept.
const MAX_EXTERNAL_ID: usize = 255;

/// A member as provisioning reads them.
#[derive(Debug, Clone)]
pub struct ScimMember {
    pub user: User,
    /// What the identity system said that has no column (JSON), if it made the member.
    pub attrs: Option<String>,
    pub external_id: Option<String>,
    /// Bumped by every change of the member (the ETag).
    pub version: i64,
    pub updated_at: i64,
}

impl From<ScimRow> for ScimMember {
    fn from(r: ScimRow) -> Self {
        ScimMember {
            user: r.user,
            attrs: r.attrs,
            external_id: r.external_id,
            version: r.version,
            updated_at: r.updated_at,
        }
    }
}

/// What an identity system says of a member, in pinpanel's terms.
#[derive(Debug, Clone)]
pub struct Fields {
    pub username: String,
    pub full_name: String,
    pub email: Option<String>,
    pub kind: Kind,
    pub admin: bool,
    pub active: bool,
    pub external_id: Option<String>,
    /// What it said that has no column of its own (JSON), kept as given.
    pub attrs: String,
}

/// The fields, checked.
struct Checked {
    username: Username,
    full_name: DisplayName,
    email: Option<EmailAddress>,
    external_id: Option<String>,
}

fn check(f: &Fields) -> Result<Checked> {
    let external_id = match f.external_id.as_deref().map(str::trim) {
        Some("") | None => None,
        Some(id) if id.chars().count() > MAX_EXTERNAL_ID || id.chars().any(char::is_control) => {
            return Err(ServiceError::Invalid(format!(
                "externalId must be at most {MAX_EXTERNAL_ID} characters, without control \
                 characters"
            )))
        }
        Some(_) => f.external_id.clone(),
    };
    Ok(Checked {
        username: Username::parse(&f.username)
            .map_err(|e| ServiceError::Invalid(format!("userName: {e}")))?,
        full_name: DisplayName::parse(&f.full_name)
            .map_err(|e| ServiceError::Invalid(format!("the name: {e}")))?,
        email: EmailAddress::parse_optional(f.email.as_deref())
            .map_err(|e| ServiceError::Invalid(format!("the e-mail address: {e}")))?,
        external_id,
    })
}

fn role_of(admin: bool) -> Role {
    if admin {
        Role::Admin
    } else {
        Role::User
    }
}

/// A member of the token's account (`NotFound` for anyone else).
pub async fn get(ctx: &Ctx, p: &Provisioner, id: i64) -> Result<ScimMember> {
    let row = store::scim::member(&ctx.db.pool, p.account.id, id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    policy::may_provision(p.account.id, &row.user)?;
    Ok(row.into())
}

/// A page of the account's members matching `filter`: `offset` skipped, at most `limit`
/// (capped at [`MAX_PAGE`]); and how many match. A filter on what cannot be searched is
/// `Invalid`, saying what.
pub async fn list(
    ctx: &Ctx,
    p: &Provisioner,
    filter: Option<&Filter>,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<ScimMember>)> {
    let limit = limit.clamp(0, MAX_PAGE);
    match store::scim::members_page(&ctx.db.pool, p.account.id, filter, offset.max(0), limit).await
    {
        Ok((total, rows)) => Ok((total, rows.into_iter().map(ScimMember::from).collect())),
        Err(store::scim::PageError::Unsupported(u)) => Err(ServiceError::Invalid(u.0)),
        Err(store::scim::PageError::Db(e)) => Err(e.into()),
    }
}

/// Creates a member of the token's account: a generated Support PIN; no password. When the
/// account signs in only through single sign-on they are marked so; otherwise a member with an
/// address is invited to choose a password.
pub async fn create(ctx: &Ctx, p: &Provisioner, fields: Fields) -> Result<ScimMember> {
    let c = check(&fields)?;
    let actor = p.actor();
    let mut tx = ctx.db.begin().await?;
    let member = insert_person(
        ctx,
        &mut tx,
        actor,
        PersonRow {
            account: Some(&p.account),
            username: c.username,
            full_name: c.full_name,
            email: c.email,
            role: role_of(fields.admin),
            kind: fields.kind,
            password_hash: None,
            pin: NewPin::Generated,
        },
    )
    .await
    .map_err(|e| match e {
        ServiceError::Conflict(why) => ServiceError::Taken(why),
        other => other,
    })?;
    store::scim::set_columns(
        &mut tx,
        member.id,
        &store::scim::MemberColumns {
            username: &member.username,
            full_name: &member.full_name,
            kind: fields.kind,
            external_id: c.external_id.as_deref(),
            attrs: &fields.attrs,
        },
    )
    .await?;
    if let Some(x) = &c.external_id {
        store::sso::give_external_id(&mut tx, member.id, x).await?;
    }
    if !fields.active {
        store::users::set_disabled(&mut tx, member.id, true).await?;
        AuditRecord::new(Event::MemberDisabled, actor)
            .about(&member)
            .write(&mut tx)
            .await?;
    }
    if p.account.sso_only {
        store::sso::set_sso_only(&mut tx, member.id, true).await?;
    } else if member.email.is_some() && fields.active {
        let (token, hash) = links::new_invitation();
        links::invitation_on(ctx, &mut tx, &member, &p.account, actor, token, hash).await?;
    }
    let row = store::scim::member(&mut *tx, p.account.id, member.id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    tx.commit().await?;
    Ok(row.into())
}

/// Makes the member what `fields` say (a PUT), as one change: the columns, the role, enabled or
/// not, the address (under its own rule). With `if_match`, only while the member is still at
/// that version (`Stale` otherwise).
pub async fn replace(
    ctx: &Ctx,
    p: &Provisioner,
    id: i64,
    fields: Fields,
    if_match: Option<i64>,
) -> Result<ScimMember> {
    modify(ctx, p, id, if_match, |_| Ok::<_, ServiceError>(fields)).await
}

/// Makes the member what `change` says of the member as they are (a PATCH: its operations
/// applied to the member read under their row lock, so changes at once apply one after the
/// other and none is lost). With `if_match`, only while the member is at that version.
pub async fn modify<E: From<ServiceError>>(
    ctx: &Ctx,
    p: &Provisioner,
    id: i64,
    if_match: Option<i64>,
    change: impl FnOnce(&ScimMember) -> std::result::Result<Fields, E>,
) -> std::result::Result<ScimMember, E> {
    let mut tx = ctx.db.begin().await.map_err(ServiceError::from)?;
    store::users::lock_person(&mut tx, id)
        .await
        .map_err(ServiceError::from)?;
    let before = store::scim::member(&mut *tx, p.account.id, id)
        .await
        .map_err(ServiceError::from)?
        .ok_or(ServiceError::NotFound)?;
    policy::may_provision(p.account.id, &before.user)?;
    if if_match.is_some_and(|v| v != before.version) {
        return Err(ServiceError::Stale.into());
    }
    let fields = change(&ScimMember::from(before.clone()))?;
    let after = apply(ctx, &mut tx, p, before, fields).await?;
    tx.commit().await.map_err(ServiceError::from)?;
    Ok(after)
}

/// The change itself, inside the caller's transaction, the member's row held.
async fn apply(
    ctx: &Ctx,
    tx: &mut Tx,
    p: &Provisioner,
    before: ScimRow,
    fields: Fields,
) -> Result<ScimMember> {
    let c = check(&fields)?;
    let actor = p.actor();
    let id = before.user.id;
    let user = &before.user;
    let mut changed = Vec::new();
    if user.username != c.username.as_str() {
        changed.push("username");
    }
    if user.full_name != c.full_name.as_str() {
        changed.push("name");
    }
    if user.kind != Some(fields.kind) {
        changed.push("type");
    }
    if before.external_id != c.external_id {
        changed.push("external id");
    }
    if let Err(e) = store::scim::set_columns(
        tx,
        id,
        &store::scim::MemberColumns {
            username: c.username.as_str(),
            full_name: c.full_name.as_str(),
            kind: fields.kind,
            external_id: c.external_id.as_deref(),
            attrs: &fields.attrs,
        },
    )
    .await
    {
        return Err(if store::is_unique_violation(&e) {
            ServiceError::Taken(format!("The username '{}' is taken.", c.username))
        } else {
            e.into()
        });
    }
    if !changed.is_empty() {
        AuditRecord::new(Event::MemberChanged, actor)
            .about(user)
            .detail(&changed.join(", "))
            .write(tx)
            .await?;
    }
    let role = role_of(fields.admin);
    if role != user.role {
        set_role_on(tx, actor, user, role).await?;
    }
    if fields.active == user.disabled {
        set_enabled_on(tx, actor, user, fields.active).await?;
    }
    let moved = address(ctx, tx, p, user, c.email.as_ref(), fields.active).await?;
    // Made inactive, now active, and never invited in: invited now.
    let activated = fields.active && user.disabled;
    if activated && !moved && invitable(p, user) && user.email.is_some() {
        let (token, hash) = links::new_invitation();
        links::invitation_on(ctx, tx, user, &p.account, actor, token, hash).await?;
    }
    let after = store::scim::member(&mut *tx, p.account.id, id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    Ok(after.into())
}

/// Is `user` someone an invitation brings in (no password yet, not single sign-on only)?
fn invitable(p: &Provisioner, user: &User) -> bool {
    !p.account.sso_only && !user.sso_only && user.password_hash.is_none()
}

/// The address rule. A member who has a password owns their address: the identity system's
/// change waits for the member to accept it (so a token never redirects their password mail),
/// and it cannot remove it. A member without one (not yet invited in, or signing in only through
/// single sign-on) takes the address as given; an invitation waiting for them goes to the new
/// address instead. `true` when the address in force changed.
async fn address(
    ctx: &Ctx,
    tx: &mut Tx,
    p: &Provisioner,
    user: &User,
    new: Option<&EmailAddress>,
    active: bool,
) -> Result<bool> {
    let same = match (new, user.email.as_deref()) {
        (Some(n), Some(old)) => n.same_as(old),
        (None, None) => true,
        _ => false,
    };
    if same {
        return Ok(false);
    }
    let owns_it = !user.sso_only && user.password_hash.is_some();
    let actor = p.actor();
    match new {
        Some(new) if owns_it => {
            let asked_by = format!("your organisation's identity system ({})", p.name);
            let requested = email::request_for_on(ctx, tx, actor, &asked_by, user, new).await?;
            debug_assert!(matches!(
                requested,
                Requested::Waiting | Requested::Unchanged
            ));
            Ok(false)
        }
        None if owns_it => Err(ServiceError::Immutable(
            "The member's e-mail address is theirs: a provisioning token may ask to change it, \
             never remove it."
                .into(),
        )),
        new => {
            let now = store::now();
            store::users::set_email(&mut *tx, user.id, new.map(EmailAddress::as_str)).await?;
            store::links::void_all_for(&mut *tx, user.id, now).await?;
            let detail = format!(
                "from {} to {}",
                user.email.as_deref().unwrap_or("none"),
                new.map_or("none", EmailAddress::as_str)
            );
            AuditRecord::new(Event::EmailChanged, actor)
                .about(user)
                .detail(&detail)
                .write(tx)
                .await?;
            // An invitation that waited goes to the new address (a new link: the old one died).
            if let Some(new) = new {
                if invitable(p, user) && active {
                    let moved = User {
                        email: Some(new.as_str().to_owned()),
                        ..user.clone()
                    };
                    let (token, hash) = links::new_invitation();
                    links::invitation_on(ctx, tx, &moved, &p.account, actor, token, hash).await?;
                }
            }
            Ok(true)
        }
    }
}

/// Removes a member from the account: their PIN destroyed, their sessions, tokens, factors and
/// identities gone, their activity kept. The account's last enabled administrator stays.
pub async fn remove(ctx: &Ctx, p: &Provisioner, id: i64, if_match: Option<i64>) -> Result<()> {
    let mut tx = ctx.db.begin().await?;
    store::users::lock_person(&mut tx, id).await?;
    let row = store::scim::member(&mut *tx, p.account.id, id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    policy::may_provision(p.account.id, &row.user)?;
    if if_match.is_some_and(|v| v != row.version) {
        return Err(ServiceError::Stale);
    }
    if row.user.is_admin() && !row.user.disabled {
        keep_an_administrator(&mut tx, &row.user).await?;
    }
    AuditRecord::new(Event::MemberRemoved, p.actor())
        .about(&row.user)
        .write(&mut tx)
        .await?;
    store::scim::remove_member(&mut tx, &row.user).await?;
    tx.commit().await?;
    Ok(())
}
