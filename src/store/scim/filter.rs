//! A SCIM filter as SQL over an account's members (`u`): each attribute maps to a column of a
//! fixed list (anything else is [`Unsupported`], saying what), every value is bound, and `LIKE`
//! wildcards inside values are taken literally.

use super::super::sql::Statement;
use crate::domain::scim_filter::{AttrPath, CompValue, CompareOp, Filter};
use crate::domain::{Kind, Role};
use crate::store::sql::like_escaped;

/// A filter that names an attribute or a comparison provisioning cannot search by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

/// How an attribute is stored, for the SQL of a comparison.
enum Column {
    /// Text compared ignoring case (`caseExact: false`): SQL on the lower-cased column.
    Text(&'static str),
    /// Text compared exactly.
    ExactText(&'static str),
    /// The member's id (SCIM's `id` is its decimal text).
    Id,
    /// `active`: not disabled.
    Active,
    /// `userType`: the kind.
    Kind,
    /// `roles`: administrators have the role `admin`.
    Admin,
    /// `meta.created`, `meta.lastModified`: unix seconds, compared with an RFC 3339 time.
    Time(&'static str),
}

fn column_of(path: &AttrPath, in_emails: bool) -> Result<Column, Unsupported> {
    let core = path
        .uri
        .as_deref()
        .is_none_or(|u| u.eq_ignore_ascii_case(crate::domain::scim_filter::USER_SCHEMA));
    let sub = path.sub.as_deref();
    let column = if !core {
        None
    } else if in_emails {
        path.is("value", None)
            .then_some(Column::Text("LOWER(u.email)"))
    } else if path.is("userName", None) {
        Some(Column::Text("u.username"))
    } else if path.is("externalId", None) {
        Some(Column::ExactText("u.external_id"))
    } else if path.is("id", None) {
        Some(Column::Id)
    } else if path.is("displayName", None) {
        Some(Column::Text("LOWER(u.full_name)"))
    } else if path.is("emails", None) || path.is("emails", Some("value")) {
        Some(Column::Text("LOWER(u.email)"))
    } else if path.is("active", None) {
        Some(Column::Active)
    } else if path.is("userType", None) {
        Some(Column::Kind)
    } else if path.is("roles", None) || path.is("roles", Some("value")) {
        Some(Column::Admin)
    } else if path.is("meta", Some("created")) {
        Some(Column::Time("u.created_at"))
    } else if path.is("meta", Some("lastModified")) {
        Some(Column::Time("u.updated_at"))
    } else {
        None
    };
    column.ok_or_else(|| {
        Unsupported(format!(
            "members cannot be searched by {}{}",
            path.name,
            sub.map(|s| format!(".{s}")).unwrap_or_default()
        ))
    })
}

/// Appends the SQL of `filter` (members `u`) to `q`.
pub(super) fn condition(filter: &Filter, q: &mut Statement<'_>) -> Result<(), Unsupported> {
    condition_in(filter, q, false)
}

fn condition_in(
    filter: &Filter,
    q: &mut Statement<'_>,
    in_emails: bool,
) -> Result<(), Unsupported> {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            let op = if matches!(filter, Filter::And(..)) {
                " AND "
            } else {
                " OR "
            };
            q.push("(");
            condition_in(a, q, in_emails)?;
            q.push(op);
            condition_in(b, q, in_emails)?;
            q.push(")");
        }
        Filter::Not(f) => {
            q.push("NOT (");
            condition_in(f, q, in_emails)?;
            q.push(")");
        }
        Filter::ValuePath { path, filter } => {
            if in_emails {
                return Err(Unsupported("a value filter inside a value filter".into()));
            }
            if path.is("emails", None) {
                q.push("(u.email IS NOT NULL AND ");
                condition_in(filter, q, true)?;
                q.push(")");
            } else if path.is("roles", None) {
                // A member's one role, as `roles[value …]`.
                let (Filter::Compare { path: inner, .. } | Filter::Present(inner)) =
                    filter.as_ref()
                else {
                    return Err(Unsupported("roles take one comparison on value".into()));
                };
                if !inner.is("value", None) {
                    return Err(Unsupported(format!("roles cannot be searched by {inner}")));
                }
                let lifted = lift(filter, path);
                condition_in(&lifted, q, false)?;
            } else {
                return Err(Unsupported(format!(
                    "members cannot be searched by values of {}",
                    path.name
                )));
            }
        }
        Filter::Present(path) => {
            let sql = match column_of(path, in_emails)? {
                Column::Text("u.username") | Column::Id | Column::Active | Column::Kind => "1 = 1",
                Column::Time(_) => "1 = 1",
                Column::Text(col) | Column::ExactText(col) => {
                    q.push("(").push(col).push(" IS NOT NULL AND ").push(col);
                    q.push(" <> '')");
                    return Ok(());
                }
                Column::Admin => "u.role = 'admin'",
            };
            q.push(sql);
        }
        Filter::Compare { path, op, value } => compare(column_of(path, in_emails)?, *op, value, q)?,
    }
    Ok(())
}

/// `roles[value eq "admin"]` as `roles.value eq "admin"`.
fn lift(filter: &Filter, outer: &AttrPath) -> Filter {
    let path = AttrPath {
        uri: outer.uri.clone(),
        name: outer.name.clone(),
        sub: Some("value".into()),
    };
    match filter {
        Filter::Compare { op, value, .. } => Filter::Compare {
            path,
            op: *op,
            value: value.clone(),
        },
        _ => Filter::Present(path),
    }
}

fn compare(
    column: Column,
    op: CompareOp,
    value: &CompValue,
    q: &mut Statement<'_>,
) -> Result<(), Unsupported> {
    let wrong = |what: &str| Err(Unsupported(what.to_owned()));
    match column {
        Column::Text(col) | Column::ExactText(col) => {
            let exact = matches!(column, Column::ExactText(_));
            let text = match value {
                CompValue::Str(s) if exact => s.clone(),
                CompValue::Str(s) => s.to_lowercase(),
                CompValue::Null => {
                    return match op {
                        CompareOp::Eq => {
                            q.push("(").push(col).push(" IS NULL)");
                            Ok(())
                        }
                        CompareOp::Ne => {
                            q.push("(").push(col).push(" IS NOT NULL)");
                            Ok(())
                        }
                        _ => wrong("null compares only with eq and ne"),
                    };
                }
                _ => return wrong("this attribute is text: compare it with a \"string\""),
            };
            text_compare(col, op, text, q);
        }
        Column::Id => {
            let CompValue::Str(s) = value else {
                return wrong("id is text: compare it with a \"string\"");
            };
            let id = s.parse::<i64>().ok();
            match (op, id) {
                (CompareOp::Eq, Some(id)) => {
                    q.push("u.id = ").bind(id);
                }
                (CompareOp::Ne, Some(id)) => {
                    q.push("u.id <> ").bind(id);
                }
                (CompareOp::Eq, None) => {
                    q.push("1 = 0");
                }
                (CompareOp::Ne, None) => {
                    q.push("1 = 1");
                }
                _ => return wrong("id compares only with eq and ne"),
            }
        }
        Column::Active => {
            let CompValue::Bool(b) = value else {
                return wrong("active is true or false");
            };
            let active = match op {
                CompareOp::Eq => *b,
                CompareOp::Ne => !*b,
                _ => return wrong("active compares only with eq and ne"),
            };
            q.push(if active {
                "u.disabled = 0"
            } else {
                "u.disabled = 1"
            });
        }
        Column::Kind => {
            let CompValue::Str(s) = value else {
                return wrong("userType is \"User\" or \"Contact\"");
            };
            let kind = s.to_lowercase().parse::<Kind>().ok();
            match (op, kind) {
                (CompareOp::Eq, Some(k)) => {
                    q.push("u.kind = ").bind(k.as_str());
                }
                (CompareOp::Ne, Some(k)) => {
                    q.push("u.kind <> ").bind(k.as_str());
                }
                (CompareOp::Eq, None) => {
                    q.push("1 = 0");
                }
                (CompareOp::Ne, None) => {
                    q.push("1 = 1");
                }
                _ => return wrong("userType compares only with eq and ne"),
            }
        }
        Column::Admin => {
            let CompValue::Str(s) = value else {
                return wrong("roles compare with \"admin\"");
            };
            let admin = s.eq_ignore_ascii_case(Role::Admin.as_str());
            let sql = match (op, admin) {
                (CompareOp::Eq, true) | (CompareOp::Ne, false) => "u.role = 'admin'",
                (CompareOp::Ne, true) => "u.role <> 'admin'",
                (CompareOp::Eq, false) => "1 = 0",
                _ => return wrong("roles compare only with eq and ne"),
            };
            q.push(sql);
        }
        Column::Time(col) => {
            let CompValue::Str(s) = value else {
                return wrong("times compare with an RFC 3339 \"string\"");
            };
            let at = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map_err(|_| Unsupported(format!("\"{s}\" is not an RFC 3339 time")))?
                .unix_timestamp();
            let sql = match op {
                CompareOp::Eq => " = ",
                CompareOp::Ne => " <> ",
                CompareOp::Gt => " > ",
                CompareOp::Ge => " >= ",
                CompareOp::Lt => " < ",
                CompareOp::Le => " <= ",
                _ => return wrong("times compare with eq, ne, gt, ge, lt and le"),
            };
            q.push(col).push(sql).bind(at);
        }
    }
    Ok(())
}

fn text_compare(col: &'static str, op: CompareOp, text: String, q: &mut Statement<'_>) {
    match op {
        CompareOp::Eq => {
            q.push(col).push(" = ").bind(text);
        }
        CompareOp::Ne => {
            q.push("(")
                .push(col)
                .push(" IS NULL OR ")
                .push(col)
                .push(" <> ");
            q.bind(text).push(")");
        }
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
            let escaped = like_escaped(&text);
            let pattern = match op {
                CompareOp::Co => format!("%{escaped}%"),
                CompareOp::Sw => format!("{escaped}%"),
                _ => format!("%{escaped}"),
            };
            q.push(col)
                .push(" LIKE ")
                .bind(pattern)
                .push(" ESCAPE '\\'");
        }
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le => {
            let sql = match op {
                CompareOp::Gt => " > ",
                CompareOp::Ge => " >= ",
                CompareOp::Lt => " < ",
                _ => " <= ",
            };
            q.push(col).push(sql).bind(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::scim_filter::parse_filter;

    fn sql(filter: &str) -> Result<String, Unsupported> {
        let f = parse_filter(filter).expect("a filter");
        let mut q = Statement::new("");
        condition(&f, &mut q)?;
        Ok(q.text().to_owned())
    }

    #[test]
    fn filters_become_sql_with_every_value_bound() {
        assert_eq!(sql(r#"userName eq "Bjensen""#).unwrap(), "u.username = $1");
        assert_eq!(
            sql(r#"userName sw "b" and not (active eq false)"#).unwrap(),
            "(u.username LIKE $1 ESCAPE '\\' AND NOT (u.disabled = 1))"
        );
        assert_eq!(
            sql(r#"emails[value co "@x.com"] or externalId pr"#).unwrap(),
            "((u.email IS NOT NULL AND LOWER(u.email) LIKE $1 ESCAPE '\\') OR \
             (u.external_id IS NOT NULL AND u.external_id <> ''))"
        );
        assert_eq!(
            sql(r#"meta.lastModified gt "2026-01-01T00:00:00Z""#).unwrap(),
            "u.updated_at > $1"
        );
        assert_eq!(
            sql(r#"roles[value eq "admin"]"#).unwrap(),
            "u.role = 'admin'"
        );
        assert_eq!(sql(r#"id eq "abc""#).unwrap(), "1 = 0");
        // Nothing a filter says reaches the SQL text.
        let text = sql(r#"displayName eq "x' OR 1=1 --""#).unwrap();
        assert!(!text.contains("OR 1=1"), "{text}");
    }

    #[test]
    fn unsupported_attributes_and_comparisons_are_named() {
        for (filter, says) in [
            (r#"name.givenName eq "B""#, "name.givenName"),
            (r#"title eq "x""#, "title"),
            (r#"emails[type eq "work"]"#, "type"),
            (r#"active gt true"#, "active"),
            (r#"meta.created gt "yesterday""#, "RFC 3339"),
            (r#"urn:x:y:userName eq "a""#, "userName"),
        ] {
            let e = sql(filter).unwrap_err();
            assert!(e.0.contains(says), "{filter}: {}", e.0);
        }
    }

    #[test]
    fn like_patterns_take_wildcards_literally() {
        assert_eq!(like_escaped(r"50%_off\"), r"50\%\_off\\");
    }
}
