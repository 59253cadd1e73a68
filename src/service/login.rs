//! Proving who someone is with a password: a login (throttled in the database, so it holds
//! across instances, and reserved before the costly check) and a password re-entry.

use secrecy::SecretString;

use super::metrics::Login;

use super::{hashing, limits, Actor, AuditRecord, Context, Ctx, Result, ServiceError};
use crate::domain::{Account, Event, User, Username};
use crate::store;

/// Who a right password belongs to, and what comes next.
pub struct Authenticated {
    pub user: User,
    pub next: NextStep,
}

/// What comes after a person's first factor (a password, a sign-in at the identity provider):
/// the one decision both make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Their second step: a code from their app, a passkey or a recovery code.
    SecondStep,
    /// Logged in, but their role requires two-step login and they have none yet: only its
    /// set-up answers (and no API token is issued).
    SetUpTwoStep,
    /// Logged in.
    LoggedIn,
}

/// What comes after `user`'s first factor; `second_factor` when it already included one (an ID
/// token whose `amr` says so).
pub async fn next_step(ctx: &Ctx, user: &User, second_factor: bool) -> Result<NextStep> {
    if second_factor {
        return Ok(NextStep::LoggedIn);
    }
    if store::two_step::status(&ctx.db.pool, user.id)
        .await?
        .enabled()
    {
        return Ok(NextStep::SecondStep);
    }
    Ok(if ctx.settings.requires_two_step(user.role) {
        NextStep::SetUpTwoStep
    } else {
        NextStep::LoggedIn
    })
}

/// Why a login did not succeed. Both look the same to the person logging in, except that
/// throttling says when to try again; neither reveals whether the username exists.
#[derive(Debug)]
pub enum LoginFailure {
    BadCredentials,
    Throttled { retry_after: i64 },
}

/// Checks a username and password. The attempt is reserved on the login throttles first (per
/// username and address, per address, per username), so parallel guesses cannot slip past them;
/// a successful login gives its reservation back. Unknown users cost the same argon2 time as
/// known ones; disabled users fail like wrong passwords. What was typed as a username is never
/// stored or logged: the throttles key it by HMAC, the audit log names only real people.
pub async fn authenticate(
    ctx: &Ctx,
    username: &str,
    password: SecretString,
    address: &str,
    browser: &str,
) -> Result<std::result::Result<Authenticated, LoginFailure>> {
    let context = Context {
        address: Some(address),
        reference: None,
    };
    // A username that cannot exist still counts, under what was typed (it may hold control
    // characters, which PostgreSQL refuses in text, or be 10 KB long: only its HMAC is kept),
    // and is never looked up.
    let parsed = Username::parse(username).ok();
    let name = parsed
        .as_ref()
        .map(|u| u.as_str().to_owned())
        .unwrap_or_else(|| format!("invalid:{username}"));
    // A place in the hashing line first: when the line is full (a flood) the attempt is
    // refused at once, before it costs the database a reservation and its return.
    let place = ctx.hashing.take_place()?;
    let limits = &ctx.limits;
    let user_and_address = format!("{name}\n{address}");
    let reservation = match limits::reserve(
        ctx,
        &[
            (limits.login_per_user_address, &user_and_address),
            (limits.login_per_address, address),
            (limits.login_per_user, &name),
        ],
    )
    .await
    {
        Ok(r) => r,
        Err(ServiceError::Throttled { retry_after }) => {
            ctx.metrics.login(Login::Throttled);
            return Ok(Err(LoginFailure::Throttled { retry_after }));
        }
        Err(e) => return Err(e),
    };
    let user = match &parsed {
        Some(u) => store::users::by_username(&ctx.db.pool, u.as_str()).await?,
        None => None,
    };
    let hash = user.as_ref().and_then(|u| u.password_hash.clone());
    let ok = match hashing::verify_at(place, hash, password).await {
        Ok(ok) => ok,
        Err(e) => {
            // Not checked (the hashing queue is full): the attempt does not count.
            reservation.give_back(ctx, false).await?;
            return Err(e.into());
        }
    };
    match user {
        Some(user) if ok && !user.disabled && !user.sso_only => {
            // With two-step login the password only opens the second step: recorded as such,
            // not as a login.
            let next = next_step(ctx, &user, false).await?;
            let event = match next {
                NextStep::SecondStep => Event::PasswordPassed,
                NextStep::SetUpTwoStep | NextStep::LoggedIn => Event::LoginOk,
            };
            reservation
                .succeeded_with(ctx, event, &user, browser, context)
                .await?;
            ctx.metrics.login(Login::Success);
            Ok(Ok(Authenticated { user, next }))
        }
        user => {
            // The reservation stays: it is this failure's count.
            let detail = match &user {
                Some(u) if u.disabled => "disabled",
                Some(u) if u.sso_only => "single sign-on only",
                Some(_) => "wrong password",
                // Not even a hash of it: people type passwords into the username field.
                None => "unknown username",
            };
            AuditRecord::new(Event::LoginFailed, Actor::System)
                .subject(user.as_ref())
                .detail(detail)
                .context(context)
                .write_now(&ctx.db)
                .await?;
            ctx.metrics.login(Login::Failure);
            Ok(Err(LoginFailure::BadCredentials))
        }
    }
}

/// Re-checks the password of someone already logged in ("sudo mode"), throttled per person like
/// logins: `Throttled` once too many re-entries have failed.
pub async fn reauthenticate(ctx: &Ctx, user: &User, password: SecretString) -> Result<bool> {
    if user.sso_only {
        // Their password does not work here: they confirm who they are with single sign-on.
        return Ok(false);
    }
    let reservation =
        limits::reserve(ctx, &[(ctx.limits.reauth_per_user, &user.id.to_string())]).await?;
    let ok = match hashing::verify(&ctx.hashing, user.password_hash.clone(), password).await {
        Ok(ok) => ok,
        Err(e) => {
            reservation.give_back(ctx, false).await?;
            return Err(e.into());
        }
    };
    if ok {
        reservation
            .succeeded(ctx, Event::ReauthOk, user, "")
            .await?;
    } else {
        AuditRecord::new(Event::ReauthFailed, Actor::User(user))
            .about(user)
            .write_now(&ctx.db)
            .await?;
    }
    Ok(ok)
}

/// May a person act on what was minted under `epoch` (a session, a token)? Only while enabled,
/// and while `epoch` is current: a password, role or enabled change ends what came before.
pub fn may_still_act(user: &User, epoch: i64) -> bool {
    !user.disabled && user.auth_epoch == epoch
}

/// A person's current record with their account, if they still may act.
pub async fn current_user(
    ctx: &Ctx,
    user_id: i64,
    epoch: i64,
) -> Result<Option<(User, Option<Account>)>> {
    Ok(store::users::with_account(&ctx.db.pool, user_id)
        .await?
        .filter(|(u, _)| may_still_act(u, epoch)))
}
