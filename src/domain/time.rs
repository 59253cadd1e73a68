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

/// A day as a date field sends it (`2026-11-27`): the unix seconds of its start (UTC).
pub fn parse_day(text: &str) -> Result<i64, String> {
    let format = ::time::macros::format_description!("[year]-[month]-[day]");
    ::time::Date::parse(text.trim(), &format)
        .map(|d| d.midnight().assume_utc().unix_timestamp())
        .map_err(|_| {
            format!(
                "'{}' is not a date: use the form 2026-11-27.",
                text.trim().chars().take(20).collect::<String>()
            )
        })
}

/// The date of unix seconds (`2026-11-27`, UTC), as a date field takes it.
pub fn day_of(unix: i64) -> String {
    let format = ::time::macros::format_description!("[year]-[month]-[day]");
    ::time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_parse_and_print() {
        assert_eq!(parse_day("2026-11-27").unwrap(), 1_795_737_600);
        assert_eq!(day_of(1_795_737_600 + 3600), "2026-11-27");
        assert!(parse_day("27/11/2026").is_err());
        assert!(parse_day("2026-02-30").is_err());
    }
}
