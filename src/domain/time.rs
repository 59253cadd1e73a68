//! Times as people and machines read them (everything is stored as unix seconds): pure
//! formatting, shared by the pages, the API and the mail.

/// Formats unix seconds for people: `2026-11-27 21:09 UTC`.
pub fn format_time(unix: i64) -> String {
    let format = ::time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    ::time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// Formats unix seconds as RFC 3339 (a `<time datetime>` attribute, the API's timestamps).
pub fn iso_time(unix: i64) -> String {
    ::time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&::time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}
