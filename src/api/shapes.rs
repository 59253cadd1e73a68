//! The provider's JSON shapes of a user and of a token answer (`{"access":{…}}`), with the facts
//! each needs looked up through the services.

use serde_json::{json, Value};

use super::extract::ApiResult;
use crate::domain::{Account, Kind, PinState, Role, User};
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

/// A user as the provider shows one. Every object has the same fields; the PIN only for the
/// person themselves within their re-auth window, `name` only in a token's answer.
#[derive(Debug, Clone, serde::Serialize)]
pub(super) struct UserShape {
    id: String,
    username: String,
    #[serde(rename = "displayName")]
    display_name: String,
    email: Option<String>,
    enabled: bool,
    #[serde(rename = "RAX-AUTH:domainId")]
    domain_id: Option<String>,
    #[serde(rename = "RAX-AUTH:defaultRegion")]
    default_region: String,
    created: String,
    #[serde(rename = "RAX-AUTH:multiFactorEnabled")]
    multi_factor_enabled: bool,
    #[serde(rename = "RAX-AUTH:phonePinState")]
    phone_pin_state: PinState,
    #[serde(
        rename = "RAX-AUTH:contactType",
        skip_serializing_if = "Option::is_none"
    )]
    contact_type: Option<Kind>,
    roles: [ApiRole; 1],
    #[serde(rename = "RAX-AUTH:phonePin", skip_serializing_if = "Option::is_none")]
    phone_pin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

/// A role as the provider lists one: an id, a name and a description.
#[derive(Debug, Clone, serde::Serialize)]
struct ApiRole {
    id: Role,
    name: Role,
    description: &'static str,
}

/// A user as the provider shows one, from the person and the facts about them.
pub(super) fn user_json(state: &AppState, user: &User, facts: UserFacts<'_>) -> UserShape {
    let description = match user.role {
        Role::User => "A member of the account: their own Support PIN",
        Role::Admin => "An administrator of the account: its members and their PIN states",
        Role::Agent => "A support agent: verifies callers' Support PINs",
    };
    UserShape {
        id: user.id.to_string(),
        username: user.username.clone(),
        display_name: user.full_name.clone(),
        email: user.email.clone(),
        enabled: !user.disabled,
        domain_id: facts.domain_id.map(str::to_owned),
        default_region: state.settings.default_region.clone(),
        created: iso_time(user.created_at),
        multi_factor_enabled: facts.two_step,
        phone_pin_state: facts.pin_state,
        contact_type: user.kind,
        roles: [ApiRole {
            id: user.role,
            name: user.role,
            description,
        }],
        phone_pin: facts.pin,
        name: None,
    }
}

/// One user as `actor` may see them, their facts looked up through the services.
pub(super) async fn one_user_json(
    state: &AppState,
    actor: &User,
    user: &User,
    pin: Option<String>,
) -> ApiResult<UserShape> {
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
) -> ApiResult<UserShape> {
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
    let user_value = UserShape {
        name: Some(user.username.clone()),
        ..user_json_with(state, user, user, pin, account.as_ref(), two_step).await?
    };
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
