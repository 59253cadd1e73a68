//! One-time links: invitations (an administrator adds a member, who chooses a password), the
//! forgotten-password link, and the first start's set-up link. A token is shown or mailed once
//! and stored only as a hash; each link works once, until it expires.

use secrecy::{ExposeSecret, SecretString};

use super::mail::messages::{self, AccessChange};
use super::{accounts, hashing, limits, mail, members, policy, sessions, AuditRecord};
use super::{Actor, Ctx, Result, ServiceError};
use crate::crypto;
use crate::domain::{self, Account, DisplayName, Event, Kind, LinkPurpose, Role};
use crate::domain::{UnlockPolicy, User, Username};
use crate::store::{self, Tx};

/// How long links live.
pub const INVITATION_SECS: i64 = 72 * 3600;
pub const PASSWORD_LINK_SECS: i64 = 3600;
const SETUP_SECS: i64 = 7 * 24 * 3600;

fn new_token() -> (String, String) {
    let token = crypto::random_token();
    let hash = crypto::sha256_hex(token.as_bytes());
    (token, hash)
}

fn hash_of(token: &str) -> String {
    crypto::sha256_hex(token.as_bytes())
}

/// A member to add from the Users page.
pub struct NewMember {
    pub username: String,
    pub full_name: String,
    pub email: String,
    pub kind: Kind,
    pub role: Role,
}

/// An added member and how they get their invitation.
pub struct Invited {
    pub member: User,
    /// The link, when it could not be mailed (mail is not configured): for the administrator
    /// to pass on, shown once.
    pub link_to_pass_on: Option<String>,
}

/// An administrator adds a member: a generated PIN, no password yet, and an invitation (a
/// one-time link for 72 hours) mailed to them, in one
/// transaction.
pub async fn invite(ctx: &Ctx, admin: &User, account: &Account, new: NewMember) -> Result<Invited> {
    policy::may_administer(Actor::User(admin), account.id)?;
    if new.role == Role::Agent {
        return Err(ServiceError::Invalid(
            "Members are users or administrators.".into(),
        ));
    }
    if new.email.trim().is_empty() {
        return Err(ServiceError::Invalid(
            "An e-mail address is needed for the invitation.".into(),
        ));
    }
    let checked = members::check_person(
        Actor::User(admin),
        Some(account),
        &new.username,
        &new.full_name,
        Some(&new.email),
        new.role,
    )?;
    let (token, hash) = new_token();
    let mut tx = ctx.db.begin().await?;
    let member = members::insert_person(
        ctx,
        &mut tx,
        Actor::User(admin),
        members::PersonRow {
            account: Some(account),
            username: checked.username,
            full_name: checked.full_name,
            email: checked.email,
            role: new.role,
            kind: new.kind,
            password_hash: None,
            pin: members::NewPin::Generated,
        },
    )
    .await?;
    let link_to_pass_on = invitation_on(
        ctx,
        &mut tx,
        &member,
        account,
        Actor::User(admin),
        token,
        hash,
    )
    .await?;
    tx.commit().await?;
    Ok(Invited {
        member,
        link_to_pass_on,
    })
}

/// A new invitation link for `member` (who has no password yet), inside the caller's
/// transaction, mailed to them when mail is set up. Returns the link when it could not be
/// mailed. A new token and hash come from [`new_invitation`].
pub(super) async fn invitation_on(
    ctx: &Ctx,
    tx: &mut Tx,
    member: &User,
    account: &Account,
    by: Actor<'_>,
    token: String,
    hash: String,
) -> Result<Option<String>> {
    let link = mail::one_time_link(ctx, ctx.settings.link_routes.invitation, &token);
    let now = store::now();
    store::links::insert(
        &mut *tx,
        &hash,
        LinkPurpose::Invitation,
        Some(member.id),
        now,
        now + INVITATION_SECS,
    )
    .await?;
    AuditRecord::new(Event::MemberInvited, by)
        .about(member)
        .write(tx)
        .await?;
    let mailed = ctx.settings.mail_sends
        && messages::invitation(ctx, tx, member, &account.name, by, &link).await?;
    Ok((!mailed).then_some(link))
}

/// A new invitation's token and its hash.
pub(super) fn new_invitation() -> (String, String) {
    new_token()
}

/// The person an unused, live link of `purpose` belongs to (for the page that asks for the new
/// password); `NotFound` for any other token.
async fn holder(ctx: &Ctx, token: &str, purpose: LinkPurpose) -> Result<User> {
    let user_id = store::links::peek(&ctx.db.pool, &hash_of(token), purpose, store::now())
        .await?
        .flatten()
        .ok_or(ServiceError::NotFound)?;
    let user = store::users::by_id(&ctx.db.pool, user_id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    if user.disabled {
        return Err(ServiceError::NotFound);
    }
    Ok(user)
}

/// Who an invitation is for.
pub async fn invitation_holder(ctx: &Ctx, token: &str) -> Result<User> {
    holder(ctx, token, LinkPurpose::Invitation).await
}

/// Who a password link is for.
pub async fn password_link_holder(ctx: &Ctx, token: &str) -> Result<User> {
    holder(ctx, token, LinkPurpose::Password).await
}

/// The new password twice, checked against the rules.
fn new_password(new: &SecretString, again: &SecretString) -> Result<()> {
    domain::check_new_password(new.expose_secret(), again.expose_secret())
        .map_err(ServiceError::Invalid)
}

/// Uses a link of `purpose` to set its holder's password: the link works once, and every
/// session and token of the holder ends (a new auth epoch). Returns the holder.
async fn set_password_with(
    ctx: &Ctx,
    token: &str,
    purpose: LinkPurpose,
    new: SecretString,
    again: SecretString,
    event: Event,
) -> Result<User> {
    let user = holder(ctx, token, purpose).await?;
    new_password(&new, &again)?;
    let hash = hashing::hash(&ctx.hashing, new).await?;
    let mut tx = ctx.db.begin().await?;
    if !store::links::use_once(&mut tx, &hash_of(token), purpose, store::now()).await? {
        return Err(ServiceError::NotFound);
    }
    store::users::set_password(&mut tx, user.id, &hash).await?;
    sessions::end_all(&mut tx, user.id).await?;
    store::links::void_all_for(&mut tx, user.id, store::now()).await?;
    AuditRecord::new(event, Actor::User(&user))
        .about(&user)
        .write(&mut tx)
        .await?;
    if purpose == LinkPurpose::Password {
        messages::access_changed(ctx, &mut tx, AccessChange::Password, &user, store::now()).await?;
    }
    tx.commit().await?;
    Ok(user)
}

/// An invited member chooses their password.
pub async fn accept_invitation(
    ctx: &Ctx,
    token: &str,
    new: SecretString,
    again: SecretString,
) -> Result<User> {
    set_password_with(
        ctx,
        token,
        LinkPurpose::Invitation,
        new,
        again,
        Event::InvitationAccepted,
    )
    .await
}

/// A member who forgot their password chooses a new one with the mailed link.
pub async fn reset_password(
    ctx: &Ctx,
    token: &str,
    new: SecretString,
    again: SecretString,
) -> Result<User> {
    set_password_with(
        ctx,
        token,
        LinkPurpose::Password,
        new,
        again,
        Event::PasswordReset,
    )
    .await
}

/// "Forgot password?" as the panel answers it: at once, the same whether or not anyone matches,
/// after only a read of the client address's counter (`Throttled` once it is spent); the work
/// that depends on a match ([`request_password_link`]) goes on in the background, so no answer
/// waits on it and its time tells nothing about who exists.
pub async fn ask_for_password_link(ctx: &Ctx, who: &str, address: &str) -> Result<()> {
    limits::check(ctx, ctx.limits.password_links_per_address, address).await?;
    let (ctx, who, address) = (ctx.clone(), who.to_owned(), address.to_owned());
    tokio::spawn(async move {
        match request_password_link(&ctx, &who, &address).await {
            Ok(()) | Err(ServiceError::Throttled { .. }) => {}
            Err(e) => tracing::warn!(error = %e, "a password link could not be sent"),
        }
    });
    Ok(())
}

/// "Forgot password?": mails a one-time link (one hour) to each enabled member whose
/// username or address `who` is, when the address in force is theirs. It is throttled per
/// client address (`Throttled`) and, silently, per member.
pub async fn request_password_link(ctx: &Ctx, who: &str, address: &str) -> Result<()> {
    limits::hit(ctx, ctx.limits.password_links_per_address, address).await?;
    let who = who.trim();
    let mut people = match Username::parse(who) {
        Ok(name) => store::users::by_username(&ctx.db.pool, name.as_str())
            .await?
            .into_iter()
            .collect::<Vec<_>>(),
        Err(_) => Vec::new(),
    };
    if people.is_empty() && who.contains('@') && who.len() <= 254 {
        people = store::users::by_email(&ctx.db.pool, who).await?;
    }
    for user in people
        .into_iter()
        .filter(|u| !u.disabled && u.email.is_some())
    {
        if limits::hit(
            ctx,
            ctx.limits.password_links_per_member,
            &user.id.to_string(),
        )
        .await
        .is_err()
        {
            continue;
        }
        let (token, hash) = new_token();
        let link = mail::one_time_link(ctx, ctx.settings.link_routes.password, &token);
        let now = store::now();
        let mut tx = ctx.db.begin().await?;
        store::links::void_for(&mut tx, user.id, LinkPurpose::Password, now).await?;
        store::links::insert(
            &mut *tx,
            &hash,
            LinkPurpose::Password,
            Some(user.id),
            now,
            now + PASSWORD_LINK_SECS,
        )
        .await?;
        AuditRecord::new(Event::PasswordLinkSent, Actor::System)
            .about(&user)
            .write(&mut tx)
            .await?;
        messages::password_link(ctx, &mut tx, &user, &link).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// The first start (`serve` on a database without accounts, not `--demo`): a set-up link, once
/// per start, or `None` when the database has accounts.
pub async fn setup_token(ctx: &Ctx) -> Result<Option<String>> {
    if !super::accounts::none_yet(ctx).await? {
        return Ok(None);
    }
    let (token, hash) = new_token();
    let now = store::now();
    // One set-up link at a time: the links earlier starts printed stop working.
    let mut tx = ctx.db.begin().await?;
    store::links::void_unowned(&mut tx, LinkPurpose::Setup, now).await?;
    store::links::insert(
        &mut *tx,
        &hash,
        LinkPurpose::Setup,
        None,
        now,
        now + SETUP_SECS,
    )
    .await?;
    tx.commit().await?;
    Ok(Some(token))
}

/// Is `token` a live set-up link of a database that still has no account?
pub async fn setup_is_open(ctx: &Ctx, token: &str) -> Result<bool> {
    Ok(super::accounts::none_yet(ctx).await?
        && store::links::peek(
            &ctx.db.pool,
            &hash_of(token),
            LinkPurpose::Setup,
            store::now(),
        )
        .await?
        .is_some())
}

/// What the set-up page asks for.
pub struct Setup {
    pub account_name: String,
    pub username: String,
    pub full_name: String,
    pub email: Option<String>,
    pub password: SecretString,
    pub again: SecretString,
}

/// Creates the first account and its administrator with the set-up link, all in one
/// transaction: the link is spent only when both are created (a taken username leaves no
/// account and a live link), and the links of other instances stop working with it (they need
/// a database without accounts).
pub async fn complete_setup(ctx: &Ctx, token: &str, s: Setup) -> Result<User> {
    if !setup_is_open(ctx, token).await? {
        return Err(ServiceError::NotFound);
    }
    let account_name =
        DisplayName::parse_account_name(&s.account_name).map_err(ServiceError::Invalid)?;
    let checked = members::parse_fields(&s.username, &s.full_name, s.email.as_deref())?;
    new_password(&s.password, &s.again)?;
    let password_hash = hashing::hash(&ctx.hashing, s.password).await?;
    let mut tx = ctx.db.begin().await?;
    if !store::links::use_once(&mut tx, &hash_of(token), LinkPurpose::Setup, store::now()).await? {
        return Err(ServiceError::NotFound);
    }
    let mut account = None;
    for _ in 0..20 {
        account = accounts::insert_account(
            &mut tx,
            Actor::System,
            &account_name,
            None,
            UnlockPolicy::SelfService,
        )
        .await?;
        if account.is_some() {
            break;
        }
    }
    let account = account
        .ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("no free account number found")))?;
    let admin = members::insert_person(
        ctx,
        &mut tx,
        Actor::System,
        members::PersonRow {
            account: Some(&account),
            username: checked.username,
            full_name: checked.full_name,
            email: checked.email,
            role: Role::Admin,
            kind: Kind::User,
            password_hash: Some(password_hash),
            pin: members::NewPin::Generated,
        },
    )
    .await?;
    AuditRecord::new(Event::AccountCreated, Actor::System)
        .about(&admin)
        .detail("first start")
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(admin)
}
