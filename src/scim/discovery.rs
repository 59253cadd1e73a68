//! What the service provider says of itself (RFC 7643 §5–§7): `ServiceProviderConfig` (exactly
//! what works: PATCH, filters with their page size, ETags; no bulk, sort or password changes),
//! the one resource type (`User`), and its schema, which lists every attribute a member has
//! here and nothing else.

use serde_json::{json, Value};

use super::error::{ScimError, ScimResult};
use super::LIST_SCHEMA;
use crate::domain::scim_filter::USER_SCHEMA;
use crate::service::provisioning::members::MAX_PAGE;

const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const CONFIG_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [CONFIG_SCHEMA],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_PAGE},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Provisioning token",
            "description": "A provisioning token of the account, made on its Users page or \
                            with `pinpanel scim token create`: Authorization: Bearer <token>.",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig"),
        },
    })
}

fn resource_type(base: &str) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "A member of the account: a user or contact, with a Support PIN",
        "schema": USER_SCHEMA,
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")},
    })
}

/// A list of one resource (`/ResourceTypes`, `/Schemas`).
fn list_of(one: Value) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": 1,
        "startIndex": 1,
        "itemsPerPage": 1,
        "Resources": [one],
    })
}

pub fn resource_types(base: &str) -> Value {
    list_of(resource_type(base))
}

pub fn resource_type_by_id(base: &str, id: &str) -> ScimResult<Value> {
    if id == "User" {
        Ok(resource_type(base))
    } else {
        Err(ScimError::not_found("The only resource type here is User."))
    }
}

/// An attribute's definition.
fn attr(name: &str, kind: &str, description: &str) -> Value {
    json!({
        "name": name,
        "type": kind,
        "multiValued": false,
        "required": false,
        "caseExact": false,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
        "description": description,
    })
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

fn user_schema(base: &str) -> Value {
    let string = |name: &str, description: &str| attr(name, "string", description);
    let complex = |name: &str, description: &str, subs: Vec<Value>, multi: bool| {
        let mut a = attr(name, "complex", description);
        if let Some(o) = a.as_object_mut() {
            o.remove("caseExact");
        }
        a["multiValued"] = json!(multi);
        a["subAttributes"] = json!(subs);
        a
    };
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": USER_SCHEMA,
        "name": "User",
        "description": "A member of the account",
        "attributes": [
            with(with(string("userName", "The member's username: at most 64 of a-z, 0-9, . _ @ -, \
                compared ignoring case"), "required", json!(true)), "uniqueness", json!("server")),
            complex("name", "The parts of the member's name, kept as given", vec![
                string("formatted", "The whole name, as shown"),
                string("familyName", "The family name"),
                string("givenName", "The given name"),
            ], false),
            string("displayName", "The name the panel shows (else the formatted name, else given \
                and family names, else the username)"),
            with(string("userType", "User or Contact: the kind of member"),
                "canonicalValues", json!(["User", "Contact"])),
            attr("active", "boolean", "false disables the member: their sessions and tokens end \
                and Support cannot verify them"),
            complex("emails", "The member's address: one is kept, the primary one. A member with \
                a password accepts a change before it takes effect", vec![
                string("value", "The address"),
                with(string("type", "The kind of address"), "canonicalValues",
                    json!(["work", "home", "other"])),
                attr("primary", "boolean", "The address in use"),
            ], true),
            complex("roles", "\"admin\" makes the member an administrator of the account; none, \
                a user", vec![
                with(string("value", "The role"), "canonicalValues", json!(["admin"])),
            ], true),
        ],
        "meta": {
            "resourceType": "Schema",
            "location": format!("{base}/Schemas/{USER_SCHEMA}"),
        },
    })
}

pub fn schemas(base: &str) -> Value {
    list_of(user_schema(base))
}

pub fn schema_by_id(base: &str, id: &str) -> ScimResult<Value> {
    if id.eq_ignore_ascii_case(USER_SCHEMA) {
        Ok(user_schema(base))
    } else {
        Err(ScimError::not_found(format!(
            "The only schema here is {USER_SCHEMA}."
        )))
    }
}
