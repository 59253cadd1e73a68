//! Recording security events: one [`AuditRecord`] says what happened, who did it, to whom and
//! with what detail, and is written to the audit table (inside the caller's transaction, or on
//! its own) and to the structured log alike. Neither ever carries a secret: callers give ids,
//! names and outcomes only.

use super::{Actor, Result};
use crate::domain::{ActorRef, Event, User};
use crate::store::{self, audit::NewEvent, Db, Tx};

/// What an event may carry beyond its detail: where a login came from, the ticket or call a
/// verification was for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    pub address: Option<&'a str>,
    pub reference: Option<&'a str>,
}

/// One event to record, built up and then written:
/// `AuditRecord::new(Event::PinShown, actor).about(member).write(&mut tx).await?`.
#[derive(Debug, Clone, Copy)]
#[must_use = "a record is written with `write` or `write_now`"]
pub struct AuditRecord<'a> {
    event: Event,
    actor: Actor<'a>,
    subject: Option<&'a User>,
    account_id: Option<i64>,
    detail: &'a str,
    context: Context<'a>,
}

impl<'a> AuditRecord<'a> {
    pub fn new(event: Event, actor: Actor<'a>) -> Self {
        AuditRecord {
            event,
            actor,
            subject: None,
            account_id: None,
            detail: "",
            context: Context::default(),
        }
    }

    /// The member it is about (it shows in their activity and their account's).
    pub fn about(self, member: &'a User) -> Self {
        AuditRecord {
            subject: Some(member),
            account_id: member.account_id,
            ..self
        }
    }

    /// [`Self::about`] when there is a member.
    pub fn subject(self, member: Option<&'a User>) -> Self {
        match member {
            Some(member) => self.about(member),
            None => self,
        }
    }

    /// An event of an account that is about no one member (a provisioning token made or
    /// revoked): the account's activity lists it.
    pub fn of_account(self, account_id: i64) -> Self {
        AuditRecord {
            account_id: Some(account_id),
            ..self
        }
    }

    /// Free text for people (an outcome, a count, a name): never a secret.
    pub fn detail(self, detail: &'a str) -> Self {
        AuditRecord { detail, ..self }
    }

    pub fn context(self, context: Context<'a>) -> Self {
        AuditRecord { context, ..self }
    }

    /// Writes it inside the caller's transaction, and logs it.
    pub async fn write(self, conn: &mut Tx) -> store::Result<()> {
        let who = self.actor.to_ref();
        store::audit::insert(conn, &self.row(&who), store::now()).await?;
        self.log(&who);
        Ok(())
    }

    /// Writes it on a connection of its own, and logs it.
    pub async fn write_now(self, db: &Db) -> Result<()> {
        let mut conn = db.pool.acquire().await?;
        self.write(&mut conn).await?;
        Ok(())
    }

    /// Its row, for a statement that writes it along with other work (then [`Self::log`]).
    pub(super) fn row<'r>(&'r self, who: &'r ActorRef) -> NewEvent<'r> {
        NewEvent {
            event: self.event,
            actor_id: self.actor.id(),
            actor: who,
            subject_id: self.subject.map(|s| s.id),
            account_id: self.account_id,
            detail: self.detail,
            address: self.context.address,
            reference: self.context.reference,
        }
    }

    /// Its line in the structured log, once it is recorded.
    pub(super) fn log(&self, who: &ActorRef) {
        tracing::info!(
            target: "pinpanel::audit",
            event = self.event.as_str(),
            actor = who.label(),
            subject = self.subject.map(|s| s.username.as_str()),
            detail = self.detail,
        );
    }
}
