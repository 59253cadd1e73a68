//! Password changes: setting one from the command line, a person changing their own (with the
//! current one). The argon2id line every hash and check goes through is [`super::hashing`].

use secrecy::{ExposeSecret, SecretString};

use super::{hashing, login, mail, sessions, Actor, AuditRecord, Ctx, Result, ServiceError};
use crate::domain::{self, Event, User};
use crate::store;

/// Sets a new password; every session and API token of the person ends.
pub async fn set_password(
    ctx: &Ctx,
    actor: Actor<'_>,
    user: &User,
    new: SecretString,
) -> Result<()> {
    domain::check_password(new.expose_secret()).map_err(ServiceError::Invalid)?;
    let hash = hashing::hash(&ctx.hashing, new).await?;
    let mut tx = ctx.db.begin().await?;
    store::users::set_password(&mut tx, user.id, &hash).await?;
    sessions::end_all(&mut tx, user.id).await?;
    store::links::void_all_for(&mut tx, user.id, store::now()).await?;
    AuditRecord::new(Event::PasswordChanged, actor)
        .about(user)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
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
    domain::check_new_password(new.expose_secret(), again.expose_secret())
        .map_err(ServiceError::Invalid)?;
    if !login::reauthenticate(ctx, user, current).await? {
        return Err(ServiceError::WrongPassword);
    }
    let hash = hashing::hash(&ctx.hashing, new).await?;
    let mut tx = ctx.db.begin().await?;
    store::users::set_password(&mut tx, user.id, &hash).await?;
    sessions::end_all(&mut tx, user.id).await?;
    store::links::void_all_for(&mut tx, user.id, store::now()).await?;
    AuditRecord::new(Event::PasswordChanged, Actor::User(user))
        .about(user)
        .write(&mut tx)
        .await?;
    mail::messages::access_changed(
        ctx,
        &mut tx,
        mail::messages::AccessChange::Password,
        user,
        store::now(),
    )
    .await?;
    tx.commit().await?;
    store::users::by_id(&ctx.db.pool, user.id)
        .await?
        .ok_or(ServiceError::NotFound)
}
