//! PATCH (RFC 7644 §3.5.2): `add`, `replace` and `remove` operations applied, in order, to the
//! member's resource as JSON; the result is then read like a PUT body. Attribute names compare
//! ignoring case and are written in their schema's spelling.

use serde_json::{Map, Value};

use super::error::{kind, ScimError, ScimResult};
use super::resource::bool_of;
use crate::domain::scim_filter::{
    field, parse_patch_path, AttrPath, CompValue, CompareOp, Filter, PatchOp, PatchPath,
    USER_SCHEMA,
};

pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// The most operations one PATCH may carry.
pub const MAX_OPERATIONS: usize = 100;

/// The attributes of a User that a PATCH may name, in their schema's spelling.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A single value (`userName`, `active` …).
    Single,
    /// A complex value with these sub-attributes (`name`).
    Complex(&'static [&'static str]),
    /// A list of complex values with these sub-attributes (`emails`, `roles`).
    Multi(&'static [&'static str]),
}

const ATTRIBUTES: &[(&str, Shape)] = &[
    ("userName", Shape::Single),
    ("displayName", Shape::Single),
    ("userType", Shape::Single),
    ("active", Shape::Single),
    ("externalId", Shape::Single),
    (
        "name",
        Shape::Complex(&["formatted", "familyName", "givenName"]),
    ),
    ("emails", Shape::Multi(&["value", "type", "primary"])),
    (
        "roles",
        Shape::Multi(&["value", "display", "type", "primary"]),
    ),
];

/// The server's own attributes: a PATCH may not touch them.
const READ_ONLY: &[&str] = &["id", "meta", "schemas"];

fn attribute(path: &AttrPath) -> ScimResult<(&'static str, Shape)> {
    if let Some(uri) = &path.uri {
        if !uri.eq_ignore_ascii_case(USER_SCHEMA) {
            return Err(ScimError::bad(
                kind::INVALID_PATH,
                format!("the schema {uri} is not one of this panel's"),
            ));
        }
    }
    if READ_ONLY.iter().any(|r| r.eq_ignore_ascii_case(&path.name)) {
        return Err(ScimError::bad(
            kind::MUTABILITY,
            format!("{} is the server's and cannot change", path.name),
        ));
    }
    ATTRIBUTES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(&path.name))
        .copied()
        .ok_or_else(|| {
            ScimError::bad(
                kind::INVALID_PATH,
                format!("{} is not an attribute of a member here", path.name),
            )
        })
}

fn sub_attribute(subs: &[&'static str], attr: &str, sub: &str) -> ScimResult<&'static str> {
    subs.iter()
        .find(|s| s.eq_ignore_ascii_case(sub))
        .copied()
        .ok_or_else(|| {
            ScimError::bad(
                kind::INVALID_PATH,
                format!("{attr}.{sub} is not an attribute of a member here"),
            )
        })
}

/// Applies a PatchOp body to `doc` (the member's resource).
pub fn apply(doc: &mut Value, body: &Value) -> ScimResult<()> {
    if let Some(schemas) = field(body, "schemas") {
        let listed = schemas.as_array().is_some_and(|s| {
            s.iter()
                .filter_map(Value::as_str)
                .any(|s| s.eq_ignore_ascii_case(PATCH_SCHEMA))
        });
        if !listed {
            return Err(ScimError::bad(
                kind::INVALID_SYNTAX,
                format!("a PATCH lists \"{PATCH_SCHEMA}\" in schemas"),
            ));
        }
    }
    let ops = field(body, "Operations")
        .and_then(Value::as_array)
        .filter(|o| !o.is_empty())
        .ok_or_else(|| {
            ScimError::bad(kind::INVALID_SYNTAX, "a PATCH carries a list of Operations")
        })?;
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::bad(
            kind::TOO_MANY,
            format!("a PATCH carries at most {MAX_OPERATIONS} operations"),
        ));
    }
    let map = doc
        .as_object_mut()
        .ok_or_else(|| ScimError::bad(kind::INVALID_SYNTAX, "not a resource"))?;
    for op in ops {
        let name = field(op, "op").and_then(Value::as_str).unwrap_or("");
        let Some(op_kind) = PatchOp::parse_any_case(name) else {
            return Err(ScimError::bad(
                kind::INVALID_SYNTAX,
                format!("\"{name}\" is not an operation: add, replace or remove"),
            ));
        };
        let path = match field(op, "path") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) => {
                Some(parse_patch_path(p).map_err(|e| ScimError::bad(kind::INVALID_PATH, e.0))?)
            }
            Some(_) => return Err(ScimError::bad(kind::INVALID_PATH, "path must be a string")),
        };
        let value = field(op, "value").cloned();
        match path {
            Some(path) => at_path(map, op_kind, &path, value)?,
            None => without_path(map, op_kind, value)?,
        }
    }
    Ok(())
}

/// An `add` or `replace` whose value is a set of attributes.
fn without_path(map: &mut Map<String, Value>, op: PatchOp, value: Option<Value>) -> ScimResult<()> {
    if op == PatchOp::Remove {
        return Err(ScimError::bad(kind::NO_TARGET, "remove needs a path"));
    }
    let Some(Value::Object(attrs)) = value else {
        return Err(ScimError::bad(
            kind::INVALID_VALUE,
            "without a path, the value is an object of attributes",
        ));
    };
    for (key, v) in attrs {
        // `urn:…:User:name.givenName` names a core attribute; another schema's are not kept.
        let key = match key.rsplit_once(':') {
            Some((uri, rest)) if uri.eq_ignore_ascii_case(USER_SCHEMA) => rest.to_owned(),
            Some(_) => continue,
            None => key,
        };
        let path = parse_patch_path(&key).map_err(|e| ScimError::bad(kind::INVALID_PATH, e.0))?;
        at_path(map, op, &path, Some(v))?;
    }
    Ok(())
}

fn required(value: Option<Value>, what: &str) -> ScimResult<Value> {
    value.ok_or_else(|| ScimError::bad(kind::INVALID_VALUE, format!("{what} needs a value")))
}

fn at_path(
    map: &mut Map<String, Value>,
    op: PatchOp,
    path: &PatchPath,
    value: Option<Value>,
) -> ScimResult<()> {
    let (name, shape) = attribute(&path.attr)?;
    // A null value is a removal (RFC 7644 §3.5.2.3 allows clearing so).
    let op = if matches!(value, Some(Value::Null)) && op != PatchOp::Remove {
        PatchOp::Remove
    } else {
        op
    };
    let key = map
        .keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_owned());
    match shape {
        Shape::Single => {
            if path.attr.sub.is_some() || path.filter.is_some() {
                return Err(ScimError::bad(
                    kind::INVALID_PATH,
                    format!("{name} has no sub-attributes or values to filter"),
                ));
            }
            match op {
                PatchOp::Remove => {
                    map.remove(&key);
                }
                _ => {
                    let v = required(value, name)?;
                    map.remove(&key);
                    map.insert(name.to_owned(), v);
                }
            }
        }
        Shape::Complex(subs) => {
            if path.filter.is_some() {
                return Err(ScimError::bad(
                    kind::INVALID_PATH,
                    format!("{name} is not multi-valued"),
                ));
            }
            let mut current = match map.remove(&key) {
                Some(Value::Object(o)) => o,
                _ => Map::new(),
            };
            match (&path.attr.sub, op) {
                (None, PatchOp::Remove) => current.clear(),
                (None, _) => {
                    let Value::Object(given) = required(value, name)? else {
                        return Err(ScimError::bad(
                            kind::INVALID_VALUE,
                            format!("{name} is an object"),
                        ));
                    };
                    for (k, v) in given {
                        if let Ok(sub) = sub_attribute(subs, name, &k) {
                            set_ci(&mut current, sub, v);
                        }
                    }
                }
                (Some(sub), op) => {
                    let sub = sub_attribute(subs, name, sub)?;
                    if op == PatchOp::Remove {
                        current.retain(|k, _| !k.eq_ignore_ascii_case(sub));
                    } else {
                        set_ci(&mut current, sub, required(value, name)?);
                    }
                }
            }
            current.retain(|_, v| !v.is_null());
            if !current.is_empty() {
                map.insert(name.to_owned(), Value::Object(current));
            }
        }
        Shape::Multi(subs) => {
            if path.attr.sub.is_some() && path.filter.is_some() {
                return Err(ScimError::bad(
                    kind::INVALID_PATH,
                    "a path names one sub-attribute",
                ));
            }
            let mut items: Vec<Value> = match map.remove(&key) {
                Some(Value::Array(a)) => a,
                _ => Vec::new(),
            };
            let sub = match (&path.attr.sub, &path.sub) {
                (Some(s), _) | (None, Some(s)) => Some(sub_attribute(subs, name, s)?),
                _ => None,
            };
            multi(&mut items, name, op, path.filter.as_ref(), sub, value)?;
            if !items.is_empty() {
                map.insert(name.to_owned(), Value::Array(items));
            }
        }
    }
    Ok(())
}

/// Sets `sub` in `obj`, replacing a key spelled another way.
fn set_ci(obj: &mut Map<String, Value>, sub: &str, value: Value) {
    obj.retain(|k, _| !k.eq_ignore_ascii_case(sub));
    obj.insert(sub.to_owned(), value);
}

fn as_items(value: Value) -> Vec<Value> {
    match value {
        Value::Array(a) => a,
        one => vec![one],
    }
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (field(a, "value"), field(b, "value")) {
        (Some(Value::String(x)), Some(Value::String(y))) => x.eq_ignore_ascii_case(y),
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// The simple `attr eq "text"` of a filter, to make the value it did not find.
fn simple_eq(filter: &Filter) -> Option<(String, Value)> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.sub.is_none() => {
            let v = match value {
                CompValue::Str(s) => Value::String(s.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                _ => return None,
            };
            Some((path.name.clone(), v))
        }
        _ => None,
    }
}

fn multi(
    items: &mut Vec<Value>,
    name: &str,
    op: PatchOp,
    filter: Option<&Filter>,
    sub: Option<&'static str>,
    value: Option<Value>,
) -> ScimResult<()> {
    let Some(filter) = filter else {
        match (op, sub) {
            (PatchOp::Remove, None) => items.clear(),
            (PatchOp::Remove, Some(sub)) => items
                .iter_mut()
                .filter_map(Value::as_object_mut)
                .for_each(|o| o.retain(|k, _| !k.eq_ignore_ascii_case(sub))),
            (PatchOp::Add, None) => {
                for v in as_items(required(value, name)?) {
                    if !v.is_object() {
                        return Err(ScimError::bad(
                            kind::INVALID_VALUE,
                            format!("each of {name} is an object"),
                        ));
                    }
                    if let Some(old) = items.iter_mut().find(|i| same_value(i, &v)) {
                        *old = v;
                    } else {
                        items.push(v);
                    }
                }
            }
            (PatchOp::Replace, None) => {
                *items = as_items(required(value, name)?);
            }
            (_, Some(sub)) => {
                let v = required(value, name)?;
                if items.is_empty() {
                    items.push(Value::Object(Map::new()));
                }
                items
                    .iter_mut()
                    .filter_map(Value::as_object_mut)
                    .for_each(|o| set_ci(o, sub, v.clone()));
            }
        }
        items.retain(|i| i.as_object().is_none_or(|o| !o.is_empty()));
        return Ok(());
    };
    let matched: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, i)| filter.matches(i))
        .map(|(n, _)| n)
        .collect();
    if matched.is_empty() {
        // `emails[type eq "work"].value` when there is none: an identity system adding the
        // member's work address. Made, as it names it.
        if let (PatchOp::Add | PatchOp::Replace, Some((attr, wanted))) = (op, simple_eq(filter)) {
            let mut made = Map::new();
            made.insert(attr, wanted);
            match sub {
                Some(sub) => set_ci(&mut made, sub, required(value, name)?),
                None => match required(value, name)? {
                    Value::Object(o) => made.extend(o),
                    _ => {
                        return Err(ScimError::bad(
                            kind::INVALID_VALUE,
                            format!("each of {name} is an object"),
                        ))
                    }
                },
            }
            items.push(Value::Object(made));
            return Ok(());
        }
        return Err(ScimError::bad(
            kind::NO_TARGET,
            format!("no value of {name} matches the filter"),
        ));
    }
    match (op, sub) {
        (PatchOp::Remove, None) => {
            let mut n = 0;
            items.retain(|_| {
                let keep = !matched.contains(&n);
                n += 1;
                keep
            });
        }
        (PatchOp::Remove, Some(sub)) => {
            for &n in &matched {
                if let Some(o) = items[n].as_object_mut() {
                    o.retain(|k, _| !k.eq_ignore_ascii_case(sub));
                }
            }
        }
        (_, Some(sub)) => {
            let v = required(value, name)?;
            for &n in &matched {
                if let Some(o) = items[n].as_object_mut() {
                    set_ci(o, sub, v.clone());
                }
            }
        }
        (op, None) => {
            let Value::Object(given) = required(value, name)? else {
                return Err(ScimError::bad(
                    kind::INVALID_VALUE,
                    format!("each of {name} is an object"),
                ));
            };
            for &n in &matched {
                if op == PatchOp::Replace {
                    items[n] = Value::Object(given.clone());
                } else if let Some(o) = items[n].as_object_mut() {
                    for (k, v) in &given {
                        set_ci(o, k, v.clone());
                    }
                }
            }
        }
    }
    items.retain(|i| i.as_object().is_none_or(|o| !o.is_empty()));
    Ok(())
}

/// `active` as a boolean when an operation wrote it as text ("False").
pub fn normalize(doc: &mut Value) {
    if let Value::Object(map) = doc {
        if let Some(v) = map.get("active").and_then(bool_of) {
            map.insert("active".into(), Value::Bool(v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "schemas": [USER_SCHEMA], "id": "1", "userName": "bjensen",
            "name": {"givenName": "Barbara"},
            "emails": [{"value": "b@x.com", "type": "work", "primary": true}],
        })
    }

    fn patch(ops: Value) -> ScimResult<Value> {
        let mut d = doc();
        apply(
            &mut d,
            &json!({"schemas": [PATCH_SCHEMA], "Operations": ops}),
        )?;
        normalize(&mut d);
        Ok(d)
    }

    #[test]
    fn operations_change_what_their_paths_name() {
        let d = patch(json!([
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "add", "path": "name.familyName", "value": "Jensen"},
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@x.com"},
            {"op": "add", "path": "roles", "value": [{"value": "admin"}]},
            {"op": "replace", "value": {"displayName": "Babs", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"x": 1}}},
        ]))
        .unwrap();
        assert_eq!(d["active"], json!(false));
        assert_eq!(
            d["name"],
            json!({"givenName": "Barbara", "familyName": "Jensen"})
        );
        assert_eq!(d["emails"][0]["value"], json!("new@x.com"));
        assert_eq!(d["roles"], json!([{"value": "admin"}]));
        assert_eq!(d["displayName"], json!("Babs"));
        let d = patch(json!([{"op": "remove", "path": "emails[type eq \"work\"]"},
            {"op": "remove", "path": "name"}]))
        .unwrap();
        assert!(d.get("emails").is_none() && d.get("name").is_none());
        // A work address added where there was none (as Entra ID sends it).
        let d = patch(json!([{"op": "remove", "path": "emails"},
            {"op": "add", "path": "emails[type eq \"work\"].value", "value": "w@x.com"}]))
        .unwrap();
        assert_eq!(d["emails"], json!([{"type": "work", "value": "w@x.com"}]));
    }

    #[test]
    fn bad_operations_name_their_scim_type() {
        for (ops, wanted) in [
            (
                json!([{"op": "replace", "path": "id", "value": "2"}]),
                kind::MUTABILITY,
            ),
            (
                json!([{"op": "replace", "path": "meta.created", "value": "x"}]),
                kind::MUTABILITY,
            ),
            (
                json!([{"op": "replace", "path": "title", "value": "x"}]),
                kind::INVALID_PATH,
            ),
            (
                json!([{"op": "replace", "path": "name.middleName", "value": "x"}]),
                kind::INVALID_PATH,
            ),
            (
                json!([{"op": "replace", "path": "emails[type eq", "value": "x"}]),
                kind::INVALID_PATH,
            ),
            (
                json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]),
                kind::NO_TARGET,
            ),
            (json!([{"op": "remove"}]), kind::NO_TARGET),
            (
                json!([{"op": "move", "path": "active"}]),
                kind::INVALID_SYNTAX,
            ),
            (json!([]), kind::INVALID_SYNTAX),
        ] {
            let e = patch(ops.clone()).unwrap_err();
            assert_eq!(e.scim_type, Some(wanted), "{ops}: {}", e.detail);
        }
    }
}
