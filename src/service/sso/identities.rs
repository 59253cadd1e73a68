//! A member's identities at the provider, as they manage them (listing, unlinking after the
//! password) and as an administrator sets how they sign in (single sign-on only, or a password
//! too).

use secrecy::SecretString;

use crate::domain::{Event, User};
use crate::service::mail::messages::{self, AccessChange};
use crate::service::policy::{self, MemberChange};
use crate::service::{sessions, Actor, AuditRecord, Ctx, Result, ServiceError};
use crate::store::{self, sso::Identity};

/// An identity as a member's security page lists it.
pub struct IdentityInfo {
    pub id: i64,
    pub email: Option<String>,
    pub linked_at: i64,
    pub last_used_at: Option<i64>,
}

impl From<Identity> for IdentityInfo {
    fn from(i: Identity) -> Self {
        IdentityInfo {
            id: i.id,
            email: i.email,
            linked_at: i.created_at,
            last_used_at: i.last_used_at,
        }
    }
}

/// The identities `user` has linked.
pub async fn identities(ctx: &Ctx, user: &User) -> Result<Vec<IdentityInfo>> {
    Ok(store::sso::of_user(&ctx.db.pool, user.id)
        .await?
        .into_iter()
        .map(IdentityInfo::from)
        .collect())
}

/// Unlinks one of `user`'s identities, after the password again (`WrongPassword`). A member who
/// signs in only through single sign-on has no password here, and keeps their identities
/// (`Conflict`) until an administrator lets their password work again.
pub async fn unlink(ctx: &Ctx, user: &User, id: i64, password: SecretString) -> Result<()> {
    let name = ctx
        .sso
        .as_ref()
        .map_or("single sign-on", |s| s.name.as_str());
    if user.sso_only {
        return Err(ServiceError::Conflict(format!(
            "You sign in only with {name}, so your identities stay linked: ask your account's \
             administrator."
        )));
    }
    crate::service::two_step::require_password(ctx, user, password).await?;
    let mut tx = ctx.db.begin().await?;
    if !store::sso::unlink(&mut tx, user.id, id).await? {
        return Err(ServiceError::NotFound);
    }
    AuditRecord::new(Event::SsoUnlinked, Actor::User(user))
        .about(user)
        .detail(name)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Marks a member as signing in only through single sign-on (their password stops working), or
/// not: an administrator of the account (never on themselves) or the command line. Their
/// sessions and tokens end, and they are told.
pub async fn set_sso_only(ctx: &Ctx, actor: Actor<'_>, member: &User, on: bool) -> Result<()> {
    policy::may_change_member(actor, member, MemberChange::SignIn)?;
    if member.is_agent() {
        return Err(ServiceError::Invalid(
            "Support agents sign in with a password and two-step login.".into(),
        ));
    }
    let mut tx = ctx.db.begin().await?;
    store::sso::set_sso_only(&mut tx, member.id, on).await?;
    sessions::end_all(&mut tx, member.id).await?;
    let detail = if on {
        "single sign-on only"
    } else {
        "password allowed"
    };
    AuditRecord::new(Event::SsoOnlyChanged, actor)
        .about(member)
        .detail(detail)
        .write(&mut tx)
        .await?;
    let change = if on {
        AccessChange::SsoOnly
    } else {
        AccessChange::PasswordAgain
    };
    messages::access_changed(ctx, &mut tx, change, member, store::now()).await?;
    tx.commit().await?;
    Ok(())
}
