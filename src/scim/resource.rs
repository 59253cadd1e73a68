//! The SCIM User resource (RFC 7643 §4.1) as pinpanel keeps it: a member written as JSON (what
//! the identity system said, returned as it said it), a JSON resource read into the member's
//! fields, and `attributes` / `excludedAttributes` applied to what is returned.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::{kind, ScimError, ScimResult};
use crate::domain::scim_filter::{field, AttrPath, USER_SCHEMA};
use crate::domain::time::iso_time;
use crate::domain::{Kind, Role};
use crate::service::provisioning::members::Fields;
use crate::service::provisioning::ScimMember;

/// What the identity system said that has no column, kept as given (`users.scim_attrs`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stored {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_primary: Option<bool>,
    /// It said `active` (true or false), so a read says it too.
    #[serde(default)]
    pub active_given: bool,
}

/// The `name` complex attribute (the parts pinpanel keeps).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Name {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
}

impl Name {
    fn is_empty(&self) -> bool {
        self.formatted.is_none() && self.family_name.is_none() && self.given_name.is_none()
    }
}

/// The member's name as the panel shows it: the display name, else the formatted name, else
/// given and family names, else the username.
fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn full_name_of(stored: &Stored, username: &str) -> String {
    if let Some(d) = nonempty(&stored.display_name) {
        return d.to_owned();
    }
    if let Some(name) = &stored.name {
        if let Some(f) = nonempty(&name.formatted) {
            return f.to_owned();
        }
        let parts: Vec<&str> = [nonempty(&name.given_name), nonempty(&name.family_name)]
            .into_iter()
            .flatten()
            .collect();
        if !parts.is_empty() {
            return parts.join(" ");
        }
    }
    username.to_owned()
}

fn kind_label(kind: Kind) -> &'static str {
    kind.label()
}

/// The weak ETag of a member's version.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// The version an `If-Match` names (`W/"7"`, `"7"`, or `*` for any).
pub fn version_of(if_match: &str) -> Option<Option<i64>> {
    let t = if_match.trim();
    if t == "*" {
        return Some(None);
    }
    let t = t.strip_prefix("W/").unwrap_or(t);
    t.trim_matches('"').parse::<i64>().ok().map(Some)
}

/// A SCIM User as pinpanel answers it: what is absent is left out (SCIM's "unassigned").
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct UserResource {
    schemas: [&'static str; 1],
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_id: Option<String>,
    user_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    active: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    emails: Vec<Email>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    roles: Vec<RoleValue>,
    meta: Meta,
}

#[derive(Debug, Clone, Serialize)]
struct Email {
    value: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    primary: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
struct RoleValue {
    value: Role,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    resource_type: &'static str,
    created: String,
    last_modified: String,
    location: String,
    version: String,
}

/// The member as a SCIM User, at `location`. What the identity system said that has no column
/// (the name's parts, the address's type, whether it said `active`) comes back as it said it.
pub fn render(m: &ScimMember, location: &str) -> Value {
    let u = &m.user;
    let stored: Option<Stored> = m
        .attrs
        .as_deref()
        .and_then(|a| serde_json::from_str(a).ok());
    let kind = u.kind.unwrap_or(Kind::User);
    let (name, display_name, user_type, active) = match &stored {
        None => (
            None,
            Some(u.full_name.clone()),
            Some(kind_label(kind).to_owned()),
            Some(!u.disabled),
        ),
        Some(s) => {
            // The name shown was changed elsewhere: the panel's is the truth.
            let display = if full_name_of(s, &u.username) == u.full_name {
                s.display_name.clone()
            } else {
                Some(u.full_name.clone())
            };
            let user_type = match &s.user_type {
                Some(t) if t.to_lowercase().parse::<Kind>().ok() == Some(kind) => Some(t.clone()),
                _ if kind != Kind::User || s.user_type.is_some() => {
                    Some(kind_label(kind).to_owned())
                }
                _ => None,
            };
            (
                s.name.clone().filter(|n| !n.is_empty()),
                display,
                user_type,
                (s.active_given || u.disabled).then_some(!u.disabled),
            )
        }
    };
    let emails = match &u.email {
        Some(address) => {
            let (kind, primary) = match &stored {
                None => (Some("work".to_owned()), Some(true)),
                Some(s) => (s.email_type.clone(), s.email_primary),
            };
            vec![Email {
                value: address.clone(),
                kind,
                primary,
            }]
        }
        None => Vec::new(),
    };
    let roles = match u.role {
        Role::Admin => vec![RoleValue { value: Role::Admin }],
        Role::User | Role::Agent => Vec::new(),
    };
    let doc = UserResource {
        schemas: [USER_SCHEMA],
        id: u.id.to_string(),
        external_id: m.external_id.clone(),
        user_name: u.username.clone(),
        name,
        display_name,
        user_type,
        active,
        emails,
        roles,
        meta: Meta {
            resource_type: "User",
            created: iso_time(u.created_at),
            last_modified: iso_time(m.updated_at),
            location: location.to_owned(),
            version: etag(m.version),
        },
    };
    serde_json::to_value(doc).unwrap_or(Value::Null)
}

/// The attributes always returned, whatever `attributes` asks.
const ALWAYS: &[&str] = &["schemas", "id"];

/// Applies `attributes` (only these, and what is always returned) or `excludedAttributes`
/// (everything else) to a rendered resource. Unknown names are ignored, as RFC 7644 allows.
pub fn project(doc: Value, attributes: &[AttrPath], excluded: &[AttrPath]) -> Value {
    let Value::Object(mut map) = doc else {
        return doc;
    };
    if !attributes.is_empty() {
        let keys: Vec<String> = map.keys().cloned().collect();
        for key in keys {
            if ALWAYS.contains(&key.as_str()) {
                continue;
            }
            let wanted: Vec<&AttrPath> = attributes
                .iter()
                .filter(|a| a.name.eq_ignore_ascii_case(&key))
                .collect();
            if wanted.is_empty() {
                map.remove(&key);
            } else if wanted.iter().all(|a| a.sub.is_some()) {
                keep_subs(map.get_mut(&key), &wanted);
            }
        }
    }
    for ex in excluded {
        let Some(key) = map
            .keys()
            .find(|k| k.eq_ignore_ascii_case(&ex.name))
            .cloned()
        else {
            continue;
        };
        if ALWAYS.contains(&key.as_str()) {
            continue;
        }
        match &ex.sub {
            None => {
                map.remove(&key);
            }
            Some(sub) => drop_sub(map.get_mut(&key), sub),
        }
    }
    Value::Object(map)
}

fn keep_subs(value: Option<&mut Value>, wanted: &[&AttrPath]) {
    let keep = |obj: &mut Map<String, Value>| {
        obj.retain(|k, _| {
            wanted
                .iter()
                .any(|a| a.sub.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(k)))
        })
    };
    match value {
        Some(Value::Object(obj)) => keep(obj),
        Some(Value::Array(items)) => items
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(keep),
        _ => {}
    }
}

fn drop_sub(value: Option<&mut Value>, sub: &str) {
    let drop = |obj: &mut Map<String, Value>| obj.retain(|k, _| !k.eq_ignore_ascii_case(sub));
    match value {
        Some(Value::Object(obj)) => drop(obj),
        Some(Value::Array(items)) => items
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(drop),
        _ => {}
    }
}

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::bad(kind::INVALID_VALUE, detail)
}

/// A string attribute, absent or null as `None`.
fn string_of(doc: &Value, name: &str) -> ScimResult<Option<String>> {
    match field(doc, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!("{name} must be a string"))),
    }
}

/// A boolean, as JSON or as the text some identity systems send ("True", "false").
pub fn bool_of(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Does the resource say it is a User (its `schemas` lists the core User schema)?
pub fn check_schemas(doc: &Value) -> ScimResult<()> {
    let listed = field(doc, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| {
            s.iter()
                .filter_map(Value::as_str)
                .any(|s| s.eq_ignore_ascii_case(USER_SCHEMA))
        });
    if listed {
        Ok(())
    } else {
        Err(ScimError::bad(
            kind::INVALID_SYNTAX,
            format!("a User lists \"{USER_SCHEMA}\" in schemas"),
        ))
    }
}

/// Reads a User resource (a POST or PUT body, or the result of a PATCH) into the member's
/// fields. `id` and `meta` are the server's: a different `id` is refused (`mutability`),
/// `meta` is ignored, as is a `password` (pinpanel takes no passwords by provisioning) and any
/// extension schema's attributes.
pub fn parse(doc: &Value, id: Option<i64>) -> ScimResult<Fields> {
    if !doc.is_object() {
        return Err(ScimError::bad(
            kind::INVALID_SYNTAX,
            "the body must be a JSON object",
        ));
    }
    check_schemas(doc)?;
    if let (Some(id), Some(given)) = (id, field(doc, "id")) {
        if given.as_str() != Some(id.to_string().as_str()) {
            return Err(ScimError::bad(
                kind::MUTABILITY,
                "id is the server's and cannot change",
            ));
        }
    }
    let username = string_of(doc, "userName")?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| invalid("userName is required"))?;
    let name = match field(doc, "name") {
        None | Some(Value::Null) => None,
        Some(n @ Value::Object(_)) => Some(Name {
            formatted: string_of(n, "formatted")?,
            family_name: string_of(n, "familyName")?,
            given_name: string_of(n, "givenName")?,
        })
        .filter(|n| !n.is_empty()),
        Some(_) => return Err(invalid("name must be an object")),
    };
    let display_name = string_of(doc, "displayName")?;
    let user_type = string_of(doc, "userType")?;
    let kind = match &user_type {
        None => Kind::User,
        Some(t) => t
            .to_lowercase()
            .parse::<Kind>()
            .map_err(|_| invalid("userType is \"User\" or \"Contact\""))?,
    };
    let (active, active_given) = match field(doc, "active") {
        None | Some(Value::Null) => (true, false),
        Some(v) => (
            bool_of(v).ok_or_else(|| invalid("active is true or false"))?,
            true,
        ),
    };
    let (email, email_type, email_primary) = email_of(doc)?;
    let admin = admin_of(doc)?;
    let external_id = string_of(doc, "externalId")?;
    let stored = Stored {
        name,
        display_name,
        user_type,
        email_type,
        email_primary,
        active_given,
    };
    Ok(Fields {
        full_name: full_name_of(&stored, &username),
        username,
        email,
        kind,
        admin,
        active,
        external_id,
        attrs: serde_json::to_string(&stored).map_err(|e| invalid(e.to_string()))?,
    })
}

/// The address a resource gives (its primary one, else its first), with its type and primary
/// flag as given.
fn email_of(doc: &Value) -> ScimResult<(Option<String>, Option<String>, Option<bool>)> {
    let items = match field(doc, "emails") {
        None | Some(Value::Null) => return Ok((None, None, None)),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(invalid("emails must be a list")),
    };
    let chosen = items
        .iter()
        .find(|e| field(e, "primary").and_then(bool_of) == Some(true))
        .or_else(|| items.first());
    let Some(e) = chosen else {
        return Ok((None, None, None));
    };
    if !e.is_object() {
        return Err(invalid("each of emails is an object with a value"));
    }
    let value = string_of(e, "value")?.ok_or_else(|| invalid("an e-mail needs its value"))?;
    let primary = match field(e, "primary") {
        None | Some(Value::Null) => None,
        Some(v) => Some(bool_of(v).ok_or_else(|| invalid("emails.primary is true or false"))?),
    };
    Ok((Some(value), string_of(e, "type")?, primary))
}

/// Whether the resource's `roles` make the member an administrator (`admin`, the one role
/// provisioning gives; none means a user).
fn admin_of(doc: &Value) -> ScimResult<bool> {
    let items = match field(doc, "roles") {
        None | Some(Value::Null) => return Ok(false),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(invalid("roles must be a list")),
    };
    let mut admin = false;
    for item in items {
        let value = match item {
            Value::String(s) => s.clone(),
            obj @ Value::Object(_) => {
                string_of(obj, "value")?.ok_or_else(|| invalid("each role needs its value"))?
            }
            _ => return Err(invalid("each role is an object with a value")),
        };
        if value.eq_ignore_ascii_case(Role::Admin.as_str()) {
            admin = true;
        } else {
            return Err(invalid(format!(
                "the role \"{value}\" is not one of this panel's: \"admin\" makes an \
                 administrator of the account; a member without roles is a user"
            )));
        }
    }
    Ok(admin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_resource_reads_into_fields_and_keeps_what_it_said() {
        let doc = json!({
            "schemas": [USER_SCHEMA],
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen", "middleName": "J"},
            "userType": "contact",
            "active": "False",
            "emails": [{"value": "b@x.com", "type": "home"}, {"value": "w@x.com", "primary": true}],
            "roles": [{"value": "Admin"}],
            "externalId": "e-1",
            "password": "ignored",
        });
        let f = parse(&doc, None).unwrap();
        assert_eq!(f.full_name, "Barbara Jensen");
        assert_eq!(f.kind, Kind::Contact);
        assert!(!f.active && f.admin);
        assert_eq!(f.email.as_deref(), Some("w@x.com"));
        assert_eq!(f.external_id.as_deref(), Some("e-1"));
        let stored: Stored = serde_json::from_str(&f.attrs).unwrap();
        assert_eq!(stored.user_type.as_deref(), Some("contact"));
        assert_eq!(stored.email_primary, Some(true));
        assert!(stored.active_given);
    }

    #[test]
    fn bad_resources_say_which_attribute() {
        let cases = [
            (json!({"userName": "a"}), "schemas"),
            (json!({"schemas": [USER_SCHEMA]}), "userName"),
            (json!({"schemas": [USER_SCHEMA], "userName": 7}), "userName"),
            (
                json!({"schemas": [USER_SCHEMA], "userName": "a", "userType": "Robot"}),
                "userType",
            ),
            (
                json!({"schemas": [USER_SCHEMA], "userName": "a", "active": "maybe"}),
                "active",
            ),
            (
                json!({"schemas": [USER_SCHEMA], "userName": "a", "roles": [{"value": "agent"}]}),
                "agent",
            ),
            (
                json!({"schemas": [USER_SCHEMA], "userName": "a", "emails": [{"type": "work"}]}),
                "value",
            ),
            (
                json!({"schemas": [USER_SCHEMA], "userName": "a", "id": "9"}),
                "id",
            ),
        ];
        for (doc, says) in cases {
            let e = parse(&doc, Some(1)).unwrap_err();
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
            assert!(e.detail.contains(says), "{doc}: {}", e.detail);
        }
    }

    #[test]
    fn if_match_names_a_version() {
        assert_eq!(version_of("W/\"7\""), Some(Some(7)));
        assert_eq!(version_of("\"7\""), Some(Some(7)));
        assert_eq!(version_of("*"), Some(None));
        assert_eq!(version_of("nonsense"), None);
    }

    #[test]
    fn projection_keeps_what_is_asked_and_always_id() {
        let doc = json!({"schemas": [USER_SCHEMA], "id": "1", "userName": "a",
            "name": {"givenName": "A", "familyName": "B"}, "emails": [{"value": "a@x", "type": "work"}]});
        let path = |n: &str, s: Option<&str>| AttrPath {
            uri: None,
            name: n.into(),
            sub: s.map(str::to_owned),
        };
        let only = project(doc.clone(), &[path("username", None)], &[]);
        assert_eq!(
            only,
            json!({"schemas": [USER_SCHEMA], "id": "1", "userName": "a"})
        );
        let sub = project(doc.clone(), &[path("name", Some("givenName"))], &[]);
        assert_eq!(sub["name"], json!({"givenName": "A"}));
        let without = project(
            doc,
            &[],
            &[path("name", None), path("emails", Some("type"))],
        );
        assert!(without.get("name").is_none());
        assert_eq!(without["emails"], json!([{"value": "a@x"}]));
    }
}
