//! A statement built piece by piece, its values bound to numbered placeholders (`$1`, `$2` …),
//! for the queries whose filters vary (a page of members, the activity page, a list of names).
//!
//! Why not sqlx's `QueryBuilder`: for the `Any` driver its `push_bind` writes `?` (the default of
//! `Arguments::format_placeholder`, which only the PostgreSQL arguments override), and
//! PostgreSQL refuses `?`. Both backends read `$n`, so this numbers them, and the count is never
//! kept by hand.

use std::fmt::Write;

use sqlx::any::AnyArguments;
use sqlx::query::{Query, QueryAs};
use sqlx::{Any, Arguments, Encode, Type};

use super::Backend;

/// SQL text with its bound values.
pub struct Statement<'q> {
    text: String,
    args: AnyArguments<'q>,
    count: usize,
}

impl<'q> Statement<'q> {
    pub fn new(text: impl Into<String>) -> Self {
        Statement {
            text: text.into(),
            args: AnyArguments::default(),
            count: 0,
        }
    }

    /// Appends SQL text (never a value: values are bound).
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends the next placeholder and binds `value` to it.
    pub fn bind<T>(&mut self, value: T) -> &mut Self
    where
        T: 'q + Encode<'q, Any> + Type<Any>,
    {
        self.count += 1;
        // Writing to a String cannot fail; nor can adding a value the driver encodes.
        let _ = write!(self.text, "${}", self.count);
        let _ = self.args.add(value);
        self
    }

    /// Appends `$a, $b, …`, one placeholder bound to each of `values`.
    pub fn bind_list<T, I>(&mut self, values: I) -> &mut Self
    where
        I: IntoIterator<Item = T>,
        T: 'q + Encode<'q, Any> + Type<Any>,
    {
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(v);
        }
        self
    }

    /// The SQL text as built so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The statement, ready to run (its values move into it).
    pub fn query(&mut self) -> Query<'_, Any, AnyArguments<'_>> {
        sqlx::query_with(&self.text, std::mem::take(&mut self.args))
    }

    /// The statement, its rows read as `O`.
    pub fn query_as<O>(&mut self) -> QueryAs<'_, Any, O, AnyArguments<'_>>
    where
        O: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        sqlx::query_as_with(&self.text, std::mem::take(&mut self.args))
    }

    /// The statement, its one column read as `O`.
    pub fn query_scalar<O>(&mut self) -> sqlx::query::QueryScalar<'_, Any, O, AnyArguments<'_>>
    where
        (O,): for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        sqlx::query_scalar_with(&self.text, std::mem::take(&mut self.args))
    }
}

/// An aggregate that gives the rows it runs over as one JSON text: an array holding, per row in
/// `order`, the array of `values` (`[]` for no row). A page read this way is one row of one
/// statement: the SQLite driver hands every row of a result from its thread to the request's,
/// and over the 50 rows of a page those hand-offs cost more than the rest of the page
/// (docs/PERFORMANCE.md, the Users page).
pub(crate) fn json_rows(backend: Backend, values: &str, order: &str) -> String {
    match backend {
        Backend::Sqlite => format!("json_group_array(json_array({values}) ORDER BY {order})"),
        Backend::Postgres => format!(
            "COALESCE(CAST(json_agg(json_build_array({values}) ORDER BY {order}) AS TEXT), '[]')"
        ),
    }
}

/// `%` and `_` and `\` taken literally in a LIKE pattern (with `ESCAPE '\'`).
pub(crate) fn like_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut s = Statement::new("SELECT 1 WHERE a = ");
        s.bind(7_i64)
            .push(" AND b IN (")
            .bind_list(["x", "y"])
            .push(")");
        assert_eq!(s.text, "SELECT 1 WHERE a = $1 AND b IN ($2, $3)");
        assert_eq!(s.args.len(), 3);
    }
}
