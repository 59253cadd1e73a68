//! Changing a person's e-mail address. The address decides where password links go, so a change
//! never takes effect on the word of whoever asked: a person's own change (within the re-auth
//! window) takes effect when the link mailed to the new address is opened; someone else's
//! request (an administrator, a provisioning token) once the member accepts it with their
//! password (logged in, or on the page of the link mailed to the current address) and then the
//! new address opens its own link. The current address is told of every request. A change that
//! takes effect voids the person's one-time links and ends their sessions and tokens.

use super::mail::{self, messages};
use super::policy::{self, RecentPassword};
use super::{sessions, Actor, AuditRecord, Ctx, Result, ServiceError};
use crate::crypto;
use crate::domain::{EmailAddress, Event, User};
use crate::store::{self, email_changes, Tx};

/// How long a change waits for its link (or the member's answer).
pub const CHANGE_SECS: i64 = 24 * 3600;

/// A change waiting to take effect, as the pages show it.
#[derive(Debug, Clone)]
pub struct PendingChange {
    pub new_email: String,
    /// The person's own change (the new address's link confirms it); otherwise someone else
    /// asked, and the member accepts or declines.
    pub own: bool,
    /// Who asked (their username, or a provisioning token's name).
    pub asked_by: String,
    pub asked_at: i64,
    pub expires_at: i64,
}

impl From<email_changes::Pending> for PendingChange {
    fn from(p: email_changes::Pending) -> Self {
        PendingChange {
            new_email: p.new_email,
            own: p.own.0,
            asked_by: p.requested_by_name,
            asked_at: p.created_at,
            expires_at: p.expires_at,
        }
    }
}

/// What a request led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    /// It waits for the link or the member's answer.
    Waiting,
    /// It is the address in force already: nothing to do.
    Unchanged,
}

fn new_token() -> (String, String) {
    let token = crypto::random_token();
    let hash = crypto::sha256_hex(token.as_bytes());
    (token, hash)
}

/// `user` as the holder of `address` (to mail a message there).
fn at_address(user: &User, address: &EmailAddress) -> User {
    User {
        email: Some(address.as_str().to_owned()),
        ..user.clone()
    }
}

/// A person asks to change their own address, with proof of a recent password entry: the new
/// address gets a link (valid [`CHANGE_SECS`]) that makes the change, the current one a notice.
pub async fn request_own(
    ctx: &Ctx,
    user: &User,
    recent: &RecentPassword,
    new: &str,
) -> Result<Requested> {
    recent.of(user)?;
    let new = EmailAddress::parse(new).map_err(ServiceError::Invalid)?;
    if user.email.as_deref().is_some_and(|e| new.same_as(e)) {
        return Ok(Requested::Unchanged);
    }
    if !ctx.settings.mail_sends {
        return Err(ServiceError::Invalid(
            "A new address is confirmed by a link mailed to it, and mail is not set up on this \
             panel: ask its operator."
                .into(),
        ));
    }
    let (token, hash) = new_token();
    let link = mail::one_time_link(ctx, ctx.settings.link_routes.email_confirm, &token);
    let now = store::now();
    let mut tx = ctx.db.begin().await?;
    insert(&mut tx, user, &new, true, Actor::User(user), &hash, now).await?;
    messages::email_confirm(ctx, &mut tx, &at_address(user, &new), &link).await?;
    messages::email_change_requested(ctx, &mut tx, user, None, new.as_str(), now, None).await?;
    tx.commit().await?;
    Ok(Requested::Waiting)
}

/// Someone else asks to change `member`'s address: an administrator of the account (never for
/// themselves: that is [`request_own`]), a provisioning token or the command line. It takes
/// effect when the member accepts it; the current address is told, with a link to answer.
pub async fn request_for(
    ctx: &Ctx,
    actor: Actor<'_>,
    asked_by: &str,
    member: &User,
    new: &str,
) -> Result<Requested> {
    policy::may_administer(actor, member.account_id.ok_or(ServiceError::NotFound)?)?;
    if matches!(actor, Actor::User(u) if u.id == member.id) {
        return Err(ServiceError::ReauthRequired);
    }
    let new = EmailAddress::parse(new).map_err(ServiceError::Invalid)?;
    let mut tx = ctx.db.begin().await?;
    let requested = request_for_on(ctx, &mut tx, actor, asked_by, member, &new).await?;
    tx.commit().await?;
    Ok(requested)
}

/// [`request_for`] inside the caller's transaction, once who may has been checked. A request
/// for the address in force, or for the one already waiting, changes nothing (an identity
/// system that says the same again does not mail the member again).
pub(super) async fn request_for_on(
    ctx: &Ctx,
    tx: &mut Tx,
    actor: Actor<'_>,
    asked_by: &str,
    member: &User,
    new: &EmailAddress,
) -> Result<Requested> {
    if member.email.as_deref().is_some_and(|e| new.same_as(e)) {
        return Ok(Requested::Unchanged);
    }
    let now = store::now();
    let waiting = email_changes::pending_for(&mut *tx, member.id, now).await?;
    if waiting.is_some_and(|w| !w.own.0 && new.same_as(&w.new_email)) {
        return Ok(Requested::Waiting);
    }
    let (token, hash) = new_token();
    let link = mail::one_time_link(ctx, ctx.settings.link_routes.email_answer, &token);
    insert(tx, member, new, false, actor, &hash, now).await?;
    messages::email_change_requested(
        ctx,
        tx,
        member,
        Some(asked_by),
        new.as_str(),
        now,
        Some(&link),
    )
    .await?;
    Ok(Requested::Waiting)
}

/// Stores a change (voiding the person's earlier one) with its audit row.
async fn insert(
    tx: &mut Tx,
    user: &User,
    new: &EmailAddress,
    own: bool,
    actor: Actor<'_>,
    hash: &str,
    now: i64,
) -> Result<()> {
    let requested_by = match actor {
        Actor::User(u) => Some(u.id),
        Actor::Cli | Actor::System | Actor::Provisioning { .. } => None,
    };
    // For people to read on the pages and in the mail; never read back.
    let name = actor.to_ref().label();
    email_changes::insert(
        tx,
        &email_changes::NewChange {
            user_id: user.id,
            new_email: new.as_str(),
            own,
            requested_by,
            requested_by_name: &name,
            token_hash: hash,
            created_at: now,
            expires_at: now + CHANGE_SECS,
        },
    )
    .await?;
    let detail = format!("to {}", new.as_str());
    AuditRecord::new(Event::EmailChangeRequested, actor)
        .about(user)
        .detail(&detail)
        .write(tx)
        .await?;
    Ok(())
}

/// The person's change waiting to take effect, if any.
pub async fn pending(ctx: &Ctx, user: &User) -> Result<Option<PendingChange>> {
    Ok(
        email_changes::pending_for(&ctx.db.pool, user.id, store::now())
            .await?
            .map(PendingChange::from),
    )
}

/// The change a link's token opens, with the person it is for; `NotFound` for a token that
/// opens nothing (used, expired, voided, never sent).
pub async fn by_link(ctx: &Ctx, token: &str) -> Result<(User, PendingChange)> {
    let hash = crypto::sha256_hex(token.as_bytes());
    let change = email_changes::by_token(&ctx.db.pool, &hash, store::now())
        .await?
        .ok_or(ServiceError::NotFound)?;
    let user = store::users::by_id(&ctx.db.pool, change.user_id)
        .await?
        .filter(|u| !u.disabled)
        .ok_or(ServiceError::NotFound)?;
    Ok((user, change.into()))
}

/// Answers the change a link opens: the new address confirms a person's own change (or one the
/// member accepted); the current address declines someone else's request, or accepts it with the
/// member's password (`password_ok`, checked by the caller). Returns the person as they are now.
pub async fn answer_by_link(ctx: &Ctx, token: &str, answer: LinkAnswer<'_>) -> Result<Answered> {
    let hash = crypto::sha256_hex(token.as_bytes());
    let change = email_changes::by_token(&ctx.db.pool, &hash, store::now())
        .await?
        .ok_or(ServiceError::NotFound)?;
    let user = store::users::by_id(&ctx.db.pool, change.user_id)
        .await?
        .filter(|u| !u.disabled)
        .ok_or(ServiceError::NotFound)?;
    match answer {
        LinkAnswer::Decline => decide(ctx, &user, change, false).await,
        LinkAnswer::Accept if change.own.0 => decide(ctx, &user, change, true).await,
        LinkAnswer::Accept => Err(ServiceError::ReauthRequired),
        LinkAnswer::AcceptWithPassword(recent) => {
            recent.of(&user)?;
            if change.own.0 {
                decide(ctx, &user, change, true).await
            } else {
                accept_request(ctx, &user, change).await
            }
        }
    }
}

/// How a link's page answers.
#[derive(Debug, Clone, Copy)]
pub enum LinkAnswer<'a> {
    Decline,
    /// Confirming one's own change from the new address: the link alone is the proof.
    Accept,
    /// Accepting someone else's request from the current address: the password too.
    AcceptWithPassword(&'a RecentPassword),
}

/// What an answer led to.
#[derive(Debug, Clone)]
pub enum Answered {
    /// The new address is in force: every session ended.
    Changed(User),
    /// Someone else's request was accepted: the new address now confirms it with its link.
    WaitsForTheNewAddress(String),
    /// Nothing changed.
    Declined,
}

/// The member person of a link's change, to check a password against before accepting.
pub async fn person_of_link(ctx: &Ctx, token: &str) -> Result<User> {
    by_link(ctx, token).await.map(|(user, _)| user)
}

/// The member answers someone else's request while logged in: declining it (or cancelling their
/// own change), or accepting it with proof of a recent password entry, after which the new
/// address confirms it with its link.
pub async fn answer(ctx: &Ctx, user: &User, accept: Option<&RecentPassword>) -> Result<Answered> {
    let change = email_changes::pending_for(&ctx.db.pool, user.id, store::now())
        .await?
        .ok_or(ServiceError::NotFound)?;
    match accept {
        None => decide(ctx, user, change, false).await,
        Some(_) if change.own.0 => Err(ServiceError::Invalid(
            "Open the link mailed to the new address to confirm it.".into(),
        )),
        Some(recent) => {
            recent.of(user)?;
            accept_request(ctx, user, change).await
        }
    }
}

/// Someone else's request, accepted by the member: it now waits for the link mailed to the new
/// address (the address must be theirs before password links go there), like their own change.
async fn accept_request(
    ctx: &Ctx,
    user: &User,
    change: email_changes::Pending,
) -> Result<Answered> {
    if !ctx.settings.mail_sends {
        return Err(ServiceError::Invalid(
            "The new address is confirmed by a link mailed to it, and mail is not set up on this \
             panel: ask its operator."
                .into(),
        ));
    }
    let new = EmailAddress::parse(&change.new_email).map_err(ServiceError::Invalid)?;
    let (token, hash) = new_token();
    let link = mail::one_time_link(ctx, ctx.settings.link_routes.email_confirm, &token);
    let now = store::now();
    let mut tx = ctx.db.begin().await?;
    if !email_changes::accepted(&mut tx, change.id, &hash, now, now + CHANGE_SECS).await? {
        return Err(ServiceError::NotFound);
    }
    let detail = format!("to {}: the new address confirms it", change.new_email);
    AuditRecord::new(Event::EmailChangeAccepted, Actor::User(user))
        .about(user)
        .detail(&detail)
        .write(&mut tx)
        .await?;
    messages::email_confirm(ctx, &mut tx, &at_address(user, &new), &link).await?;
    tx.commit().await?;
    Ok(Answered::WaitsForTheNewAddress(change.new_email))
}

/// Takes a change into effect, or declines it, once.
async fn decide(
    ctx: &Ctx,
    user: &User,
    change: email_changes::Pending,
    accept: bool,
) -> Result<Answered> {
    let now = store::now();
    let mut tx = ctx.db.begin().await?;
    let state = if accept { "done" } else { "declined" };
    if !email_changes::decide(&mut tx, change.id, state, now).await? {
        return Err(ServiceError::NotFound);
    }
    if !accept {
        let detail = format!("to {}", change.new_email);
        AuditRecord::new(Event::EmailChangeDeclined, Actor::User(user))
            .about(user)
            .detail(&detail)
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        return Ok(Answered::Declined);
    }
    store::users::set_email(&mut tx, user.id, Some(&change.new_email)).await?;
    store::links::void_all_for(&mut tx, user.id, now).await?;
    sessions::end_all(&mut tx, user.id).await?;
    let detail = format!(
        "from {} to {}",
        user.email.as_deref().unwrap_or("none"),
        change.new_email
    );
    AuditRecord::new(Event::EmailChanged, Actor::User(user))
        .about(user)
        .detail(&detail)
        .write(&mut tx)
        .await?;
    messages::email_changed(ctx, &mut tx, user, &change.new_email, now).await?;
    tx.commit().await?;
    let now_user = store::users::by_id(&ctx.db.pool, user.id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    Ok(Answered::Changed(now_user))
}
