//! SCIM 2.0 filters and PATCH paths (RFC 7644 §3.4.2.2 and §3.5.2): the grammar, parsed by hand
//! (recursive descent, `not` binding tighter than `and`, `and` tighter than `or`), and an
//! evaluator for a value filter on a JSON element (`emails[type eq "work"]`).
//!
//! Written here rather than taken from the `scim-filter` crate: that crate parses
//! `a and b or c` as `a and (b or c)`, cannot parse a PATCH path (`emails[…].value`), hides the
//! URI prefix, and refuses `""` and escaped quotes.

use std::fmt;

/// The schema of SCIM's core User resource.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// The longest filter or path read, and the deepest nesting of parentheses and brackets.
pub const MAX_FILTER_LEN: usize = 4096;
const MAX_DEPTH: usize = 32;

/// An attribute named in a filter or path: `userName`, `name.givenName`, or with its schema,
/// `urn:ietf:params:scim:schemas:core:2.0:User:userName`. Names keep their case as written;
/// SCIM compares them ignoring case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    pub uri: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// Does this path name `name` (and `sub`), ignoring case?
    pub fn is(&self, name: &str, sub: Option<&str>) -> bool {
        self.name.eq_ignore_ascii_case(name)
            && match (&self.sub, sub) {
                (None, None) => true,
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => false,
            }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    fn parse(word: &str) -> Option<CompareOp> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => return None,
        })
    }
}

/// A value compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `attr[filter]`: some value of the multi-valued `attr` matches `filter`, whose paths are
    /// the value's sub-attributes.
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

/// A PATCH operation's target: `active`, `name.givenName`, `emails[type eq "work"]`,
/// `emails[type eq "work"].value`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    /// The sub-attribute after a value filter (`.value`).
    pub sub: Option<String>,
}

/// Why a filter or path did not parse (said plainly, with where).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

type Parsed<T> = Result<T, ParseError>;

text_enum!(
    /// The operation of a PATCH (RFC 7644 §3.5.2), named in any case.
    PatchOp {
        Add => "add",
        Replace => "replace",
        Remove => "remove",
    }
);

impl PatchOp {
    /// `op` as a client sends it (`Replace`, `add` …).
    pub fn parse_any_case(op: &str) -> Option<PatchOp> {
        op.to_ascii_lowercase().parse().ok()
    }
}

/// Parses a filter (the `filter` query parameter).
pub fn parse_filter(text: &str) -> Parsed<Filter> {
    let mut p = Parser::new(text)?;
    let f = p.filter(0)?;
    p.end()?;
    Ok(f)
}

/// Parses a PATCH path.
pub fn parse_patch_path(text: &str) -> Parsed<PatchPath> {
    let mut p = Parser::new(text)?;
    p.space();
    let attr = p.attr_path()?;
    let (filter, sub) = if p.eat("[") {
        let f = p.filter(1)?;
        p.space();
        if !p.eat("]") {
            return Err(p.error("a ']' to close the value filter"));
        }
        let sub = if p.eat(".") { Some(p.name()?) } else { None };
        if attr.sub.is_some() {
            return Err(ParseError(
                "a value filter applies to a multi-valued attribute, not a sub-attribute".into(),
            ));
        }
        (Some(f), sub)
    } else {
        (None, None)
    };
    p.space();
    p.end()?;
    Ok(PatchPath { attr, filter, sub })
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Parsed<Parser<'a>> {
        if text.len() > MAX_FILTER_LEN {
            return Err(ParseError(format!(
                "it is longer than {MAX_FILTER_LEN} characters"
            )));
        }
        Ok(Parser { text, at: 0 })
    }

    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    fn error(&self, wanted: &str) -> ParseError {
        let found: String = self.rest().chars().take(20).collect();
        if found.is_empty() {
            ParseError(format!("expected {wanted} at the end"))
        } else {
            ParseError(format!(
                "expected {wanted} at character {}, found \"{found}\"",
                self.text[..self.at].chars().count() + 1
            ))
        }
    }

    fn space(&mut self) {
        let skipped = self.rest().len() - self.rest().trim_start_matches(' ').len();
        self.at += skipped;
    }

    fn eat(&mut self, token: &str) -> bool {
        if self.rest().starts_with(token) {
            self.at += token.len();
            true
        } else {
            false
        }
    }

    fn end(&mut self) -> Parsed<()> {
        self.space();
        if self.rest().is_empty() {
            Ok(())
        } else {
            Err(self.error("the end of the filter"))
        }
    }

    /// The next word (letters, digits, `-`, `_`, `$`), without consuming it.
    fn peek_word(&self) -> &'a str {
        let rest = self.rest();
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '$')))
            .unwrap_or(rest.len());
        &rest[..len]
    }

    /// A keyword (`and`, `not`, …) followed by a space or `(`: consumed when present.
    fn keyword(&mut self, word: &str) -> bool {
        let next = self.peek_word();
        if next.eq_ignore_ascii_case(word) {
            let after = &self.rest()[next.len()..];
            if after.is_empty() || after.starts_with(' ') || after.starts_with('(') {
                self.at += next.len();
                return true;
            }
        }
        false
    }

    fn name(&mut self) -> Parsed<String> {
        let word = self.peek_word();
        if !word.starts_with(|c: char| c.is_ascii_alphabetic() || c == '$') {
            return Err(self.error("an attribute name"));
        }
        self.at += word.len();
        Ok(word.to_owned())
    }

    /// `[URI ":"] name ["." sub]`.
    fn attr_path(&mut self) -> Parsed<AttrPath> {
        let rest = self.rest();
        // `get`, not `[..4]`: the fourth byte may fall inside a multi-byte character.
        let uri = if rest
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
        {
            // The URI runs to the last ':' before the attribute (URIs hold dots and colons).
            let end = rest.find([' ', '[', ']', '(', ')']).unwrap_or(rest.len());
            let colon = rest[..end]
                .rfind(':')
                .ok_or_else(|| self.error("an attribute after the schema URI"))?;
            let uri = rest[..colon].to_owned();
            self.at += colon + 1;
            Some(uri)
        } else {
            None
        };
        let name = self.name()?;
        let sub = if self.eat(".") {
            Some(self.name()?)
        } else {
            None
        };
        Ok(AttrPath { uri, name, sub })
    }

    /// `or` binds loosest.
    fn filter(&mut self, depth: usize) -> Parsed<Filter> {
        if depth > MAX_DEPTH {
            return Err(ParseError(format!(
                "it nests deeper than {MAX_DEPTH} levels"
            )));
        }
        let mut left = self.and(depth)?;
        loop {
            let save = self.at;
            self.space();
            if self.keyword("or") {
                self.space();
                let right = self.and(depth)?;
                left = Filter::Or(Box::new(left), Box::new(right));
            } else {
                self.at = save;
                return Ok(left);
            }
        }
    }

    fn and(&mut self, depth: usize) -> Parsed<Filter> {
        let mut left = self.unary(depth)?;
        loop {
            let save = self.at;
            self.space();
            if self.keyword("and") {
                self.space();
                let right = self.unary(depth)?;
                left = Filter::And(Box::new(left), Box::new(right));
            } else {
                self.at = save;
                return Ok(left);
            }
        }
    }

    fn unary(&mut self, depth: usize) -> Parsed<Filter> {
        self.space();
        if self.keyword("not") {
            self.space();
            if !self.eat("(") {
                return Err(self.error("'(' after not"));
            }
            let inner = self.filter(depth + 1)?;
            self.space();
            if !self.eat(")") {
                return Err(self.error("')'"));
            }
            return Ok(Filter::Not(Box::new(inner)));
        }
        if self.eat("(") {
            let inner = self.filter(depth + 1)?;
            self.space();
            if !self.eat(")") {
                return Err(self.error("')'"));
            }
            return Ok(inner);
        }
        let path = self.attr_path()?;
        if self.eat("[") {
            if path.sub.is_some() {
                return Err(ParseError(
                    "a value filter applies to a multi-valued attribute, not a sub-attribute"
                        .into(),
                ));
            }
            let inner = self.filter(depth + 1)?;
            self.space();
            if !self.eat("]") {
                return Err(self.error("']'"));
            }
            return Ok(Filter::ValuePath {
                path,
                filter: Box::new(inner),
            });
        }
        if !self.eat(" ") {
            return Err(self.error("a space and an operator after the attribute"));
        }
        self.space();
        let word = self.peek_word();
        if word.eq_ignore_ascii_case("pr") {
            self.at += word.len();
            return Ok(Filter::Present(path));
        }
        let op = CompareOp::parse(word)
            .ok_or_else(|| self.error("an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr)"))?;
        self.at += word.len();
        if !self.eat(" ") {
            return Err(self.error("a space and a value after the operator"));
        }
        self.space();
        let value = self.value()?;
        Ok(Filter::Compare { path, op, value })
    }

    /// A JSON string, number, `true`, `false` or `null`.
    fn value(&mut self) -> Parsed<CompValue> {
        let rest = self.rest();
        if rest.starts_with('"') {
            let mut escaped = false;
            let mut end = None;
            for (i, c) in rest.char_indices().skip(1) {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            let end = end.ok_or_else(|| ParseError("a string is not closed".into()))?;
            let s: String = serde_json::from_str(&rest[..=end])
                .map_err(|_| ParseError("a string has a bad escape".into()))?;
            self.at += end + 1;
            return Ok(CompValue::Str(s));
        }
        let word = self.peek_word();
        for (text, value) in [
            ("true", CompValue::Bool(true)),
            ("false", CompValue::Bool(false)),
            ("null", CompValue::Null),
        ] {
            if word.eq_ignore_ascii_case(text) {
                self.at += word.len();
                return Ok(value);
            }
        }
        let len = rest
            .find(|c: char| !(c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E')))
            .unwrap_or(rest.len());
        match rest[..len].parse::<f64>() {
            Ok(n) if len > 0 && n.is_finite() => {
                self.at += len;
                Ok(CompValue::Num(n))
            }
            _ => Err(self.error("a value (a \"string\", a number, true, false or null)")),
        }
    }
}

/// The value of `name` in a JSON object, its name compared ignoring case.
pub fn field<'v>(object: &'v serde_json::Value, name: &str) -> Option<&'v serde_json::Value> {
    object
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

impl Filter {
    /// Does the JSON `element` match? Strings compare ignoring case (the attributes pinpanel
    /// filters values on are all `caseExact: false`); a multi-valued attribute matches when one
    /// of its values does.
    pub fn matches(&self, element: &serde_json::Value) -> bool {
        match self {
            Filter::And(a, b) => a.matches(element) && b.matches(element),
            Filter::Or(a, b) => a.matches(element) || b.matches(element),
            Filter::Not(f) => !f.matches(element),
            Filter::Present(path) => values_at(element, path).iter().any(|v| present(v)),
            Filter::Compare { path, op, value } => {
                let found = values_at(element, path);
                if found.is_empty() {
                    return matches!((op, value), (CompareOp::Eq, CompValue::Null))
                        || matches!(op, CompareOp::Ne) && !matches!(value, CompValue::Null);
                }
                found.iter().any(|v| compare(v, *op, value))
            }
            Filter::ValuePath { path, filter } => match field(element, &path.name) {
                Some(serde_json::Value::Array(items)) => items.iter().any(|i| filter.matches(i)),
                Some(other) => filter.matches(other),
                None => false,
            },
        }
    }
}

/// The values at `path` in `element` (a multi-valued attribute's values flattened; its values'
/// `value` when no sub-attribute is named).
fn values_at<'v>(element: &'v serde_json::Value, path: &AttrPath) -> Vec<&'v serde_json::Value> {
    let Some(top) = field(element, &path.name) else {
        return Vec::new();
    };
    let items: Vec<&serde_json::Value> = match top {
        serde_json::Value::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    items
        .into_iter()
        .filter_map(|item| match (&path.sub, item) {
            (Some(sub), item) => field(item, sub),
            (None, item @ serde_json::Value::Object(_)) => field(item, "value"),
            (None, item) => Some(item),
        })
        .collect()
}

fn present(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => false,
        serde_json::Value::String(s) => !s.is_empty(),
        serde_json::Value::Array(a) => !a.is_empty(),
        serde_json::Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn compare(found: &serde_json::Value, op: CompareOp, wanted: &CompValue) -> bool {
    use std::cmp::Ordering;
    let ordering = |ord: Ordering| match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    };
    match (found, wanted) {
        (serde_json::Value::String(f), CompValue::Str(w)) => {
            let (f, w) = (f.to_lowercase(), w.to_lowercase());
            match op {
                CompareOp::Co => f.contains(&w),
                CompareOp::Sw => f.starts_with(&w),
                CompareOp::Ew => f.ends_with(&w),
                _ => ordering(f.cmp(&w)),
            }
        }
        (serde_json::Value::Bool(f), CompValue::Bool(w)) => {
            matches!(op, CompareOp::Eq) && f == w || matches!(op, CompareOp::Ne) && f != w
        }
        (serde_json::Value::Number(f), CompValue::Num(w)) => f
            .as_f64()
            .and_then(|f| f.partial_cmp(w))
            .is_some_and(ordering),
        (serde_json::Value::Null, CompValue::Null) => matches!(op, CompareOp::Eq),
        _ => matches!(op, CompareOp::Ne),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            uri: None,
            name: name.into(),
            sub: sub.map(str::to_owned),
        }
    }

    fn cmp(name: &str, op: CompareOp, value: CompValue) -> Filter {
        Filter::Compare {
            path: path(name, None),
            op,
            value,
        }
    }

    fn s(v: &str) -> CompValue {
        CompValue::Str(v.into())
    }

    /// The grammar's table: each filter of RFC 7644 §3.4.2.2's kinds, and what it parses to.
    #[test]
    fn filters_parse_as_the_rfc_says() {
        use CompareOp::*;
        let and = |a, b| Filter::And(Box::new(a), Box::new(b));
        let or = |a, b| Filter::Or(Box::new(a), Box::new(b));
        let not = |a| Filter::Not(Box::new(a));
        let table: Vec<(&str, Filter)> = vec![
            (
                r#"userName eq "bjensen""#,
                cmp("userName", Eq, s("bjensen")),
            ),
            (
                r#"USERNAME EQ "bjensen""#,
                cmp("USERNAME", Eq, s("bjensen")),
            ),
            (r#"userName ne "x""#, cmp("userName", Ne, s("x"))),
            (r#"displayName co "Jen""#, cmp("displayName", Co, s("Jen"))),
            (r#"userName sw "J""#, cmp("userName", Sw, s("J"))),
            (r#"userName ew "sen""#, cmp("userName", Ew, s("sen"))),
            ("externalId pr", Filter::Present(path("externalId", None))),
            (
                r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
                Filter::Compare {
                    path: path("meta", Some("lastModified")),
                    op: Gt,
                    value: s("2011-05-13T04:42:34Z"),
                },
            ),
            (
                r#"meta.created ge "2011-05-13T04:42:34Z""#,
                Filter::Compare {
                    path: path("meta", Some("created")),
                    op: Ge,
                    value: s("2011-05-13T04:42:34Z"),
                },
            ),
            ("x lt 10", cmp("x", Lt, CompValue::Num(10.0))),
            ("x le -1.5e2", cmp("x", Le, CompValue::Num(-150.0))),
            ("active eq true", cmp("active", Eq, CompValue::Bool(true))),
            ("active eq False", cmp("active", Eq, CompValue::Bool(false))),
            ("externalId eq null", cmp("externalId", Eq, CompValue::Null)),
            (r#"userName eq """#, cmp("userName", Eq, s(""))),
            (
                r#"userName eq "a \"quoted\" \\ name""#,
                cmp("userName", Eq, s(r#"a "quoted" \ name"#)),
            ),
            // and binds tighter than or, on both sides.
            (
                "a pr and b pr or c pr",
                or(
                    and(
                        Filter::Present(path("a", None)),
                        Filter::Present(path("b", None)),
                    ),
                    Filter::Present(path("c", None)),
                ),
            ),
            (
                "a pr or b pr and c pr",
                or(
                    Filter::Present(path("a", None)),
                    and(
                        Filter::Present(path("b", None)),
                        Filter::Present(path("c", None)),
                    ),
                ),
            ),
            (
                "(a pr or b pr) and c pr",
                and(
                    or(
                        Filter::Present(path("a", None)),
                        Filter::Present(path("b", None)),
                    ),
                    Filter::Present(path("c", None)),
                ),
            ),
            (
                "not (a pr) and b pr",
                and(
                    not(Filter::Present(path("a", None))),
                    Filter::Present(path("b", None)),
                ),
            ),
            ("not(a pr)", not(Filter::Present(path("a", None)))),
            ("  ( ( a pr ) )  ", Filter::Present(path("a", None))),
            (
                r#"emails[type eq "work" and value co "@example.com"]"#,
                Filter::ValuePath {
                    path: path("emails", None),
                    filter: Box::new(and(
                        cmp("type", Eq, s("work")),
                        cmp("value", Co, s("@example.com")),
                    )),
                },
            ),
            (
                r#"userType eq "Employee" and emails[type eq "work"]"#,
                and(
                    cmp("userType", Eq, s("Employee")),
                    Filter::ValuePath {
                        path: path("emails", None),
                        filter: Box::new(cmp("type", Eq, s("work"))),
                    },
                ),
            ),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x""#,
                Filter::Compare {
                    path: AttrPath {
                        uri: Some("urn:ietf:params:scim:schemas:core:2.0:User".into()),
                        name: "userName".into(),
                        sub: None,
                    },
                    op: Eq,
                    value: s("x"),
                },
            ),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:name.familyName co "O'Malley""#,
                Filter::Compare {
                    path: AttrPath {
                        uri: Some("urn:ietf:params:scim:schemas:core:2.0:User".into()),
                        name: "name".into(),
                        sub: Some("familyName".into()),
                    },
                    op: Co,
                    value: s("O'Malley"),
                },
            ),
            // A word that starts like a keyword is an attribute.
            ("order pr", Filter::Present(path("order", None))),
            ("notes pr", Filter::Present(path("notes", None))),
        ];
        for (text, want) in table {
            assert_eq!(parse_filter(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn bad_filters_say_what_is_wrong() {
        for text in [
            "",
            "userName",
            "userName eq",
            r#"userName eq "open"#,
            r#"userName equals "x""#,
            r#"userName eq "x" and"#,
            r#"userName eq "x" xor b pr"#,
            "(a pr",
            "a pr)",
            "not a pr",
            "emails[type eq \"work\"",
            "name.givenName[value pr]",
            r#"userName eq 'single'"#,
            "a eq 1e999",
            r#"userName eq "\q""#,
            "9lives pr",
        ] {
            assert!(parse_filter(text).is_err(), "{text:?} parsed");
        }
        let deep = format!("{}a pr{}", "(".repeat(40), ")".repeat(40));
        assert!(parse_filter(&deep).unwrap_err().0.contains("deeper"));
        assert!(parse_filter(&"a".repeat(5000)).is_err());
        let e = parse_filter(r#"userName zz "x""#).unwrap_err();
        assert!(
            e.0.contains("an operator") && e.0.contains("character 10"),
            "{e}"
        );
    }

    #[test]
    fn patch_paths_parse_with_their_value_filters() {
        assert_eq!(
            parse_patch_path("active"),
            Ok(PatchPath {
                attr: path("active", None),
                filter: None,
                sub: None
            })
        );
        assert_eq!(
            parse_patch_path("name.givenName").unwrap().attr,
            path("name", Some("givenName"))
        );
        let p = parse_patch_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(p.attr, path("emails", None));
        assert_eq!(p.filter, Some(cmp("type", CompareOp::Eq, s("work"))));
        assert_eq!(p.sub.as_deref(), Some("value"));
        let p = parse_patch_path(r#"roles[value eq "admin"]"#).unwrap();
        assert_eq!(p.sub, None);
        let p = parse_patch_path("urn:ietf:params:scim:schemas:core:2.0:User:displayName").unwrap();
        assert_eq!(p.attr.name, "displayName");
        for bad in [
            "",
            "emails[",
            "emails[type eq \"work\"]value",
            "a b",
            "name.given.x",
        ] {
            assert!(parse_patch_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn value_filters_match_elements_ignoring_case() {
        let email = json!({"value": "Bjensen@Example.com", "type": "work", "primary": true});
        let yes = [
            r#"type eq "WORK""#,
            r#"value co "example""#,
            r#"value sw "bjen""#,
            r#"value ew ".COM""#,
            "primary eq true",
            "type pr",
            r#"type eq "work" and not (type eq "home")"#,
            r#"type eq "home" or primary eq true"#,
            "display eq null",
            r#"type ne "home""#,
        ];
        for text in yes {
            assert!(parse_filter(text).unwrap().matches(&email), "{text}");
        }
        let no = [
            r#"type eq "home""#,
            "primary eq false",
            "display pr",
            r#"value co "nowhere""#,
            r#"type gt "x""#,
        ];
        for text in no {
            assert!(!parse_filter(text).unwrap().matches(&email), "{text}");
        }
        let user = json!({"userName": "b", "emails": [{"value": "a@x", "type": "home"}, email]});
        assert!(parse_filter(r#"emails[type eq "work"]"#)
            .unwrap()
            .matches(&user));
        assert!(parse_filter(r#"emails co "example""#)
            .unwrap()
            .matches(&user));
        assert!(!parse_filter(r#"emails[type eq "other"]"#)
            .unwrap()
            .matches(&user));
    }

    /// A character of several bytes where the grammar looks at a fixed number of bytes (the
    /// `urn:` of a schema URI) was a panic, a 500 (issue 36).
    #[test]
    fn characters_of_several_bytes_are_refused_not_a_panic() {
        for text in ["urné eq 1", "uré", "éé eq 1", "ü", "a[é", "\u{1F600}x"] {
            assert!(parse_filter(text).is_err(), "{text}");
            assert!(parse_patch_path(text).is_err(), "{text}");
        }
        assert!(
            parse_patch_path("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName").is_ok()
        );
    }

    proptest::proptest! {
        /// Any text at all, ASCII or not, parses or is refused with a reason: never a panic.
        #[test]
        fn any_text_parses_or_is_refused(text in "\\PC{0,40}", prefix in "(urn:|emails\\[|userName eq |)") {
            let text = format!("{prefix}{text}");
            let _ = parse_filter(&text);
            let _ = parse_patch_path(&text);
        }
    }
}
