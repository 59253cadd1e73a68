//! Times as the faces show them (people: `2026-11-27 21:09 UTC`; machines: RFC 3339). The
//! formatting itself is pure and lives in `domain::time`, so mail (rendered by `service`) reads
//! times the same way as the pages do.

pub use crate::domain::time::{format_time, iso_time};
