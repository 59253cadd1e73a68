//! Imports from the browser: an administrator uploads a file for their own account and sees
//! it checked ([`preview`]); starting it ([`start`]) queues it, one at a time per account; a
//! worker of any instance writes it in the background ([`worker`]), holding a lease it renews
//! with every batch, so an import whose instance stopped is resumed by the next one to look.
//! The file waits sealed with the PIN key (it may hold PINs) and goes when the import ends.

use std::collections::HashMap;
use std::time::Duration;

use super::{plan, record_on, write_batch, Counts, Plan, Scope, BATCH};
use crate::domain::{Account, User};
use crate::service::{policy, Actor, Ctx, Result, ServiceError};
use crate::store::{self, imports::Job};

/// The largest file the browser may send.
pub const MAX_FILE: usize = 5 * 1024 * 1024;
/// What a larger file is told.
pub const TOO_LARGE: &str =
    "The file is larger than 5 MiB: split it, or import it with the command line.";
/// A preview never started is forgotten after a day.
const PREVIEW_SECS: i64 = 24 * 3600;

/// The label the file is sealed under: its account, so a file cannot be moved to another.
fn seal_label(account_id: i64) -> String {
    format!("import:{account_id}")
}

/// A file checked for an account: its plan, and the import to start when it is clean.
pub struct Preview {
    pub plan: Plan,
    pub job: Option<i64>,
}

/// Checks an uploaded file for the administrator's own account; a clean one is kept (sealed)
/// as the account's import waiting to be started, in place of any earlier one.
pub async fn preview(
    ctx: &Ctx,
    admin: &User,
    account: &Account,
    bytes: &[u8],
    invite: bool,
) -> Result<Preview> {
    policy::may_administer(Actor::User(admin), account.id)?;
    if bytes.len() > MAX_FILE {
        return Err(ServiceError::Invalid(TOO_LARGE.into()));
    }
    let plan = plan(ctx, bytes, &Scope::Account(account.clone())).await?;
    if !plan.is_clean() {
        return Ok(Preview { plan, job: None });
    }
    let now = store::now();
    store::imports::delete_stale_previews(&ctx.db.pool, now - PREVIEW_SECS).await?;
    let sealed = ctx.cipher.seal_setting(&seal_label(account.id), bytes);
    let mut tx = ctx.db.begin().await?;
    // Under the account's row, so two uploads at once still leave one preview.
    store::users::lock_account(&mut tx, account.id).await?;
    let id = store::imports::insert_preview(
        &mut tx,
        &store::imports::NewJob {
            account_id: account.id,
            created_by_id: admin.id,
            created_by_name: &admin.username,
            invite,
            file: &sealed,
            rows: (plan.rows.len() + plan.skipped.len()) as i64,
            skipped: plan.skipped.len() as i64,
            now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Preview {
        plan,
        job: Some(id),
    })
}

/// Starts a previewed import: one at a time per account (`Conflict` while another is queued or
/// running).
pub async fn start(ctx: &Ctx, admin: &User, account: &Account, id: i64) -> Result<()> {
    policy::may_administer(Actor::User(admin), account.id)?;
    let mut tx = ctx.db.begin().await?;
    store::users::lock_account(&mut tx, account.id).await?;
    if store::imports::active(&mut *tx, account.id)
        .await?
        .is_some()
    {
        return Err(ServiceError::Conflict(
            "An import is running for this account: wait for it to end, then start this one."
                .into(),
        ));
    }
    if !store::imports::queue(&mut tx, account.id, id).await? {
        return Err(ServiceError::NotFound);
    }
    tx.commit().await?;
    Ok(())
}

/// An import of the administrator's account, as it stands.
pub async fn status(ctx: &Ctx, admin: &User, account: &Account, id: i64) -> Result<Job> {
    policy::may_administer(Actor::User(admin), account.id)?;
    store::imports::job(&ctx.db.pool, account.id, id)
        .await?
        .ok_or(ServiceError::NotFound)
}

/// The account's import that is queued or running, if any.
pub async fn active(ctx: &Ctx, admin: &User, account: &Account) -> Result<Option<Job>> {
    policy::may_administer(Actor::User(admin), account.id)?;
    Ok(store::imports::active(&ctx.db.pool, account.id).await?)
}

/// The worker of a `serve` process: runs imports until the task is dropped. A round that found
/// one looks again at once; an idle one waits a second.
pub async fn worker(ctx: Ctx) {
    loop {
        match run_one(&ctx).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "the import worker failed a round"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Takes one import and writes it to the end (or fails it, saying why). `false` when there was
/// none to take.
pub async fn run_one(ctx: &Ctx) -> Result<bool> {
    let lease = ctx.settings.import_lease_secs;
    let Some((job, sealed)) = store::imports::claim(&ctx.db.pool, store::now(), lease).await?
    else {
        return Ok(false);
    };
    if let Err(e) = write(ctx, &job, &sealed, lease).await {
        let why = match &e {
            ServiceError::Invalid(why) | ServiceError::Conflict(why) => why.clone(),
            ServiceError::KeyRotated => {
                "the PIN key was rotated while it waited: upload the file again".into()
            }
            other => {
                tracing::error!(error = %other, import = job.id, "an import failed");
                "an internal error stopped it: what was written stays; upload the file again to \
                 add the rest"
                    .into()
            }
        };
        let mut conn = ctx.db.pool.acquire().await?;
        store::imports::finish(&mut conn, job.id, "failed", Some(&why), store::now()).await?;
    }
    Ok(true)
}

async fn write(ctx: &Ctx, job: &Job, sealed: &[u8], lease: i64) -> Result<()> {
    let account = store::accounts::by_id(&ctx.db.pool, job.account_id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    let bytes = ctx
        .cipher
        .open_setting(&seal_label(account.id), sealed)
        .map_err(|_| ServiceError::KeyRotated)?;
    let admin = match job.created_by_id {
        Some(id) => store::users::by_id(&ctx.db.pool, id).await?,
        None => None,
    };
    let actor = admin.as_ref().map_or(Actor::System, Actor::User);
    // Checked again: what the preview saw may have changed, and rows this import wrote before
    // its instance stopped are now skipped.
    let plan = plan(ctx, &bytes, &Scope::Account(account.clone())).await?;
    if let Some(first) = plan.problems.first() {
        return Err(ServiceError::Invalid(format!(
            "the file no longer imports cleanly ({first}{})",
            match plan.problems.len() {
                1 => String::new(),
                n => format!(", and {} more", n - 1),
            }
        )));
    }
    let accounts = HashMap::from([(account.number.clone(), account.clone())]);
    for batch in plan.rows.chunks(BATCH) {
        let mut tx = ctx.db.begin().await?;
        let counts = write_batch(ctx, &mut tx, actor, batch, &accounts, job.invite).await?;
        let c = counts.get(&account.id).copied().unwrap_or_default();
        store::imports::progress(
            &mut tx,
            job.id,
            c.created as i64,
            c.invitations as i64,
            store::now() + lease,
        )
        .await?;
        tx.commit().await?;
    }
    // The end and its one activity event, together.
    let mut tx = ctx.db.begin().await?;
    let done = store::imports::job(&mut *tx, account.id, job.id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    store::imports::finish(&mut tx, job.id, "done", None, store::now()).await?;
    let counts = Counts {
        created: done.created as u64,
        invitations: done.invitations as u64,
    };
    record_on(
        &mut tx,
        actor,
        &HashMap::from([(account.id, (counts, done.skipped as u64))]),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
