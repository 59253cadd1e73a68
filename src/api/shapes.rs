//! The provider's JSON shapes of a user and of a token answer (`{"access":{…}}`), with the facts
//! each needs looked up through the services.

use serde_json::{json, Map, Value};

use super::extract::ApiResult;
use crate::domain::{Account, PinState, Role, User};
use crate::http::{time::iso_time, AppState};
use crate::service::policy::RecentPassword;
use crate::service::{people, pins, two_step, ServiceError};

/// What a user object says besides the person: their account number, PIN state and two-step
/// login, and (for the person themselves, within the re-auth window) the PIN.
pub(super) struct UserFacts<'a> {
    pub(super) domain_id: Option<&'a str>,
    pub(super) pin_state: PinState,
    pub(super) two_step: bool,
    pub(super) pin: Option<String>,
}

/// A user as the provider shows one. Every object has the same fields; the PIN only when
/// `facts.pin` holds it.
pub(super) fn user_json(state: &AppState, user: &User, facts: UserFacts<'_>) -> Value {
    let mut u = Map::new();
    u.insert("id".into(), json!(user.id.to_string()));
    u.insert("username".into(), json!(user.username));
    u.insert("displayName".into(), json!(user.full_name));
    u.insert("email".into(), json!(user.email));
    u.insert("enabled".into(), json!(!user.disabled));
    u.insert("RAX-AUTH:domainId".into(), json!(facts.domain_id));
    u.insert(
        "RAX-AUTH:defaultRegion".into(),
        json!(state.settings.default_region),
    );
    u.insert("created".into(), json!(iso_time(user.created_at)));
    u.insert("RAX-AUTH:multiFactorEnabled".into(), json!(facts.two_step));
    u.insert(
        "RAX-AUTH:phonePinState".into(),
        json!(facts.pin_state.as_str()),
    );
    if let Some(kind) = user.kind {
        u.insert("RAX-AUTH:contactType".into(), json!(kind.as_str()));
    }
    u.insert("roles".into(), roles_json(user));
    if let Some(pin) = facts.pin {
        u.insert("RAX-AUTH:phonePin".into(), json!(pin));
    }
    Value::Object(u)
}

/// The roles as the provider lists them: objects with an id, a name and a description.
fn roles_json(user: &User) -> Value {
    let description = match user.role {
        Role::User => "A member of the account: their own Support PIN",
        Role::Admin => "An administrator of the account: its members and their PIN states",
        Role::Agent => "A support agent: verifies callers' Support PINs",
    };
    json!([{ "id": user.role.as_str(), "name": user.role.as_str(), "description": description }])
}

/// One user as `actor` may see them, their facts looked up through the services.
pub(super) async fn one_user_json(
    state: &AppState,
    actor: &User,
    user: &User,
    pin: Option<String>,
) -> ApiResult<Value> {
    let two_step = two_step::status(&state.ctx, user).await?.enabled();
    let account = match user.is_agent() {
        true => None,
        false => people::account_of(&state.ctx, user).await?,
    };
    user_json_with(state, actor, user, pin, account.as_ref(), two_step).await
}

/// [`one_user_json`] from the user's account and two-step state, when the caller has them.
async fn user_json_with(
    state: &AppState,
    actor: &User,
    user: &User,
    pin: Option<String>,
    account: Option<&Account>,
    two_step: bool,
) -> ApiResult<Value> {
    if user.is_agent() {
        let facts = UserFacts {
            domain_id: None,
            pin_state: PinState::Inactive,
            two_step,
            pin: None,
        };
        return Ok(user_json(state, user, facts));
    }
    let pin_state = pins::status(&state.ctx, actor, user).await?.state;
    let facts = UserFacts {
        domain_id: account.map(|a| a.number.as_str()),
        pin_state,
        two_step,
        pin,
    };
    Ok(user_json(state, user, facts))
}

/// The member's own PIN for their own eyes (recorded as shown), with proof of a recent password
/// entry; none when locked or missing.
pub(super) async fn own_pin(
    state: &AppState,
    user: &User,
    recent: &RecentPassword,
) -> ApiResult<Option<String>> {
    if user.is_agent() {
        return Ok(None);
    }
    match pins::show(&state.ctx, user, user, recent).await {
        Ok(pin) => Ok(Some(pin.expose().to_owned())),
        Err(ServiceError::Locked | ServiceError::NoPin) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A token as its answer names it.
pub(super) struct Issued<'a> {
    pub(super) id: &'a str,
    pub(super) issued_at: i64,
    pub(super) expires_at: i64,
    pub(super) second_factor: bool,
    /// Whether the holder has two-step login, when the caller already knows.
    pub(super) two_step: Option<bool>,
}

/// The provider's `{"access":{…}}`: the token (with the tenant and how its holder
/// authenticated), an empty service catalogue, and the user (with their own PIN when `recent`
/// proves a recent password entry and they have one to show).
pub(super) async fn access_json(
    state: &AppState,
    user: &User,
    token: Issued<'_>,
    recent: Option<&RecentPassword>,
) -> ApiResult<Value> {
    let pin = match recent {
        Some(recent) => own_pin(state, user, recent).await?,
        None => None,
    };
    let two_step = match token.two_step {
        Some(known) => known,
        None => two_step::status(&state.ctx, user).await?.enabled(),
    };
    let account = people::account_of(&state.ctx, user).await?;
    let mut user_value = user_json_with(state, user, user, pin, account.as_ref(), two_step).await?;
    if let Value::Object(m) = &mut user_value {
        m.insert("name".into(), json!(user.username));
    }
    let tenant = account.map(|a| json!({ "id": a.number, "name": a.name }));
    let authenticated_by = if token.second_factor {
        json!(["PASSWORD", "PASSCODE"])
    } else {
        json!(["PASSWORD"])
    };
    Ok(json!({
        "access": {
            "token": {
                "id": token.id,
                "expires": iso_time(token.expires_at),
                "RAX-AUTH:issued": iso_time(token.issued_at),
                "RAX-AUTH:authenticatedBy": authenticated_by,
                "tenant": tenant,
            },
            "serviceCatalog": [],
            "user": user_value,
        }
    }))
}
