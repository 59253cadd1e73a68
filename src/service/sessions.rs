//! A person's web sessions and API tokens as a whole: which sessions are live (when each
//! started and was last used, from where, in which browser), ending one, ending all others,
//! ending every one with the tokens (after a security change), and logging out.

use super::{Actor, AuditRecord, Ctx, Result, ServiceError};
use crate::domain::{self, Event, SessionInfo, TokenInfo, User};
use crate::store::{self, Tx};

/// The session facts the sessions page lists; the panel's session writes them under these
/// keys (none of them is a secret).
pub mod keys {
    pub const STARTED: &str = "auth_at";
    pub const SEEN: &str = "seen_at";
    pub const ADDRESS: &str = "addr";
    pub const BROWSER: &str = "ua";
}

/// The handle of a session (what the sessions page names it by): a hash of its id, never the
/// id, so the page cannot leak a live cookie.
pub fn handle_of(session_id: &str) -> String {
    store::sessions::hash_of(session_id)
}

/// Did the session store fail because the database is out of reach for now (so the face
/// answers "try again in a moment", not an internal error)?
pub fn store_unreachable(e: &tower_sessions::session_store::Error) -> bool {
    store::sessions::is_unavailable_error(e)
}

/// The live sessions of `user`, the current one (`current`, a handle) first.
pub async fn list(ctx: &Ctx, user: &User, current: &str) -> Result<Vec<SessionInfo>> {
    let rows = store::sessions::for_user(&ctx.db.pool, user.id, store::now()).await?;
    let mut sessions: Vec<SessionInfo> = rows
        .into_iter()
        .filter_map(|(handle, data)| {
            let v: serde_json::Value = serde_json::from_slice(&data).ok()?;
            let int = |k: &str| v.get(k).and_then(serde_json::Value::as_i64).unwrap_or(0);
            let text = |k: &str| {
                v.get(k)
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            };
            Some(SessionInfo {
                current: handle == current,
                handle,
                started_at: int(keys::STARTED),
                last_seen_at: int(keys::SEEN),
                client_address: text(keys::ADDRESS),
                browser: domain::browser_label(&text(keys::BROWSER)),
            })
        })
        .collect();
    sessions.sort_by_key(|s| (!s.current, -s.last_seen_at));
    Ok(sessions)
}

/// Ends one of `user`'s sessions (not the current one: that is logging out).
pub async fn end(ctx: &Ctx, user: &User, handle: &str, current: &str) -> Result<()> {
    if handle == current {
        return Err(ServiceError::Invalid(
            "To end this session, log out.".into(),
        ));
    }
    if !store::sessions::delete_one(&ctx.db.pool, user.id, handle).await? {
        return Err(ServiceError::NotFound);
    }
    AuditRecord::new(Event::SessionEnded, Actor::User(user))
        .about(user)
        .write_now(&ctx.db)
        .await
}

/// Ends every session of `user` but the current one, and every API token of theirs: how many
/// sessions and tokens ended.
pub async fn end_others(ctx: &Ctx, user: &User, current: &str) -> Result<(u64, u64)> {
    let mut tx = ctx.db.begin().await?;
    let sessions = store::sessions::delete_others(&mut tx, user.id, current).await?;
    let tokens = store::tokens::delete_for_user(&mut tx, user.id).await?;
    AuditRecord::new(Event::OtherSessionsEnded, Actor::User(user))
        .about(user)
        .detail(&format!("sessions: {sessions}, API tokens: {tokens}"))
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok((sessions, tokens))
}

/// The live API tokens of `user`, newest first.
pub async fn tokens(ctx: &Ctx, user: &User) -> Result<Vec<TokenInfo>> {
    Ok(store::tokens::for_user(&ctx.db.pool, user.id, store::now())
        .await?
        .into_iter()
        .map(|t| TokenInfo {
            handle: t.handle,
            address: t.address,
            issued_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
        })
        .collect())
}

/// Revokes one of `user`'s API tokens by its handle.
pub async fn revoke_token(ctx: &Ctx, user: &User, handle: &str) -> Result<()> {
    if !store::tokens::delete_by_handle(&ctx.db.pool, user.id, handle).await? {
        return Err(ServiceError::NotFound);
    }
    AuditRecord::new(Event::TokenRevoked, Actor::User(user))
        .about(user)
        .detail("from the sessions page")
        .write_now(&ctx.db)
        .await
}

/// Ends every session and API token of `user_id` (inside the caller's transaction), and the
/// provisioning tokens they made: a token made from a session (a borrowed one, say) must not
/// outlive the owner's reaction to it, a new password. Each revoked token is in its account's
/// activity.
pub async fn end_all(conn: &mut Tx, user_id: i64) -> store::Result<()> {
    store::sessions::delete_for_user(conn, user_id).await?;
    store::tokens::delete_for_user(conn, user_id).await?;
    for (account_id, name) in store::scim::delete_tokens_made_by(conn, user_id).await? {
        let detail = format!("{name} (its maker's sessions and tokens ended)");
        AuditRecord::new(Event::ScimTokenRevoked, Actor::System)
            .of_account(account_id)
            .detail(&detail)
            .write(conn)
            .await?;
    }
    Ok(())
}

/// Records that `user` logged out (the face ends the session itself).
pub async fn logged_out(ctx: &Ctx, user: &User) -> Result<()> {
    AuditRecord::new(Event::Logout, Actor::User(user))
        .about(user)
        .write_now(&ctx.db)
        .await
}
