//! The account's activity for its administrators: events in words, filtered by member, kind and
//! date range, paged (the filters kept), and the same as CSV with the stored code beside each
//! sentence.

use askama::Template;
use askama_web::WebTemplate;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::error::Result;
use super::session::Auth;
use super::users::admin_account;
use super::{urls, Chrome};
use crate::domain::time::{day_of, parse_day};
use crate::domain::{sentence, AccountEvent, ActivityKind, Said, Username};
use crate::http::time::{format_time, iso_time};
use crate::http::AppState;
use crate::service::{activity, ServiceError};

/// The activity page's filters, in its query (so a filtered page is a link).
#[derive(Debug, Default, Deserialize)]
pub struct ActivityQuery {
    #[serde(default)]
    member: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    before: Option<String>,
}

/// A field of the query: `None` when empty.
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl ActivityQuery {
    /// The filter it asks for, or what is wrong with it in words.
    fn filter(&self) -> std::result::Result<activity::Filter, String> {
        let member = given(&self.member)
            .map(|m| Username::parse(m).map_err(|_| format!("No member is named {m}.")))
            .transpose()?;
        let kind = given(&self.kind).map(str::parse).transpose()?;
        let from = given(&self.from).map(parse_day).transpose()?;
        // "To" names the last day shown: events before the next day's start.
        let until = given(&self.to)
            .map(|d| parse_day(d).map(|t| t + 86_400))
            .transpose()?;
        let before = given(&self.before).and_then(|b| b.parse::<i64>().ok());
        Ok(activity::Filter {
            member,
            kind,
            before,
            from,
            until,
        })
    }
}

/// The query string of `filter` (for the next page and the export).
fn query_of(filter: &activity::Filter, before: Option<i64>) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    if let Some(m) = &filter.member {
        q.append_pair("member", m.as_str());
    }
    if let Some(k) = filter.kind {
        q.append_pair("kind", k.as_str());
    }
    if let Some(f) = filter.from {
        q.append_pair("from", &day_of(f));
    }
    if let Some(u) = filter.until {
        q.append_pair("to", &day_of(u - 86_400));
    }
    if let Some(b) = before {
        q.append_pair("before", &b.to_string());
    }
    q.finish()
}

/// An event in the words of the administrator reading it.
fn words(e: &AccountEvent, reader: &str) -> String {
    sentence(&Said {
        event: e.event,
        actor: &e.actor,
        subject: e.subject_name.as_deref(),
        detail: &e.detail,
        address: e.address.as_deref(),
        reference: e.reference.as_deref(),
        reader: Some(reader),
    })
}

pub struct ActivityRow {
    pub when: String,
    pub iso: String,
    pub what: String,
    /// The stored code, as the row's title.
    pub code: &'static str,
}

impl ActivityRow {
    pub fn of(e: AccountEvent, reader: &str) -> Self {
        ActivityRow {
            what: words(&e, reader),
            when: format_time(e.at),
            iso: iso_time(e.at),
            code: e.event.as_str(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "users/activity.html")]
pub struct ActivityPage {
    chrome: Chrome,
    account_name: String,
    rows: Vec<ActivityRow>,
    /// The filters as they were typed.
    member: String,
    from: String,
    to: String,
    /// (value, label, selected) of each kind.
    kinds: Vec<(&'static str, &'static str, bool)>,
    /// What is wrong with the filters, in words.
    problem: Option<String>,
    next_page: Option<String>,
    export: String,
    filtered: bool,
}

pub async fn activity_get(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<ActivityQuery>,
) -> Result<Response> {
    let account = admin_account(&auth)?;
    let mut page = ActivityPage {
        chrome: Chrome::of(&auth),
        account_name: account.name.clone(),
        rows: Vec::new(),
        member: given(&q.member)
            .unwrap_or_default()
            .chars()
            .take(64)
            .collect(),
        from: given(&q.from)
            .unwrap_or_default()
            .chars()
            .take(20)
            .collect(),
        to: given(&q.to).unwrap_or_default().chars().take(20).collect(),
        kinds: ActivityKind::ALL
            .iter()
            .map(|k| (k.as_str(), k.label(), given(&q.kind) == Some(k.as_str())))
            .collect(),
        problem: None,
        next_page: None,
        export: urls::ACTIVITY_CSV.to_owned(),
        filtered: [&q.member, &q.kind, &q.from, &q.to]
            .iter()
            .any(|v| given(v).is_some()),
    };
    let found = match q.filter() {
        Ok(filter) => activity::page(&state.ctx, &auth.user, account.id, &filter)
            .await
            .map(|found| (filter, found)),
        Err(why) => Err(ServiceError::Invalid(why)),
    };
    let (filter, (events, next)) = match found {
        Ok(found) => found,
        Err(ServiceError::Invalid(why)) => {
            page.problem = Some(why);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
        Err(e) => return Err(e.into()),
    };
    let reader = auth.user.username.as_str();
    page.rows = events
        .into_iter()
        .map(|e| ActivityRow::of(e, reader))
        .collect();
    page.next_page = next.map(|id| format!("{}?{}", urls::ACTIVITY, query_of(&filter, Some(id))));
    page.export = match query_of(&filter, None) {
        q if q.is_empty() => urls::ACTIVITY_CSV.to_owned(),
        q => format!("{}?{q}", urls::ACTIVITY_CSV),
    };
    Ok(page.into_response())
}

/// A cell of the CSV export: a leading `= + - @`, tab or carriage return neutralised (against
/// formula injection when the file is opened in a spreadsheet). Quoting is the writer's.
fn neutralised(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}").into()
    } else {
        text.into()
    }
}

/// The CSV writer of the export: every field quoted, lines ended as RFC 4180 ends them.
fn csv_writer(into: Vec<u8>) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .terminator(csv::Terminator::CRLF)
        .from_writer(into)
}

/// One event as a record of the CSV export.
fn csv_record(csv: &mut csv::Writer<Vec<u8>>, e: &AccountEvent, reader: &str) -> csv::Result<()> {
    let fields = [
        iso_time(e.at),
        words(e, reader),
        e.event.as_str().to_owned(),
        e.actor.label(),
        e.subject_name.clone().unwrap_or_default(),
        e.reference.clone().unwrap_or_default(),
        e.detail.clone(),
    ];
    csv.write_record(fields.iter().map(|f| neutralised(f).into_owned()))
}

/// The export's first line.
const CSV_HEADER: [&str; 7] = [
    "time",
    "what",
    "event",
    "by",
    "member",
    "reference",
    "detail",
];

pub async fn activity_csv_get(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<ActivityQuery>,
) -> Result<Response> {
    let account = admin_account(&auth)?;
    let filter = match q.filter() {
        Ok(f) => activity::Filter { before: None, ..f },
        Err(why) => return Err(ServiceError::Invalid(why).into()),
    };
    let export = activity::export(&state.ctx, &auth.user, account.id, &filter).await?;
    let reader = auth.user.username.clone();
    // Streamed a batch at a time (a year of activity in constant memory). A failure after the
    // first bytes can only cut the download short: the client sees an unfinished transfer.
    let chunks = futures_util::stream::try_unfold(
        (export, reader, true),
        |(mut export, reader, first)| async move {
            let events = export.next_batch().await.inspect_err(|e| {
                tracing::warn!(error = %e, "the activity export stopped part way");
            })?;
            if events.is_empty() && !first {
                return Ok::<_, ServiceError>(None);
            }
            let mut buf = Vec::with_capacity(events.len() * 160 + 64);
            if first {
                // The header row as it always was: names, unquoted.
                buf.extend_from_slice(CSV_HEADER.join(",").as_bytes());
                buf.extend_from_slice(b"\r\n");
            }
            let mut csv = csv_writer(buf);
            let written = (|| {
                for e in &events {
                    csv_record(&mut csv, e, reader.as_str())?;
                }
                csv.into_inner().map_err(|e| e.into_error().into())
            })();
            let bytes = written.map_err(|e: csv::Error| ServiceError::Internal(e.into()))?;
            Ok(Some((Bytes::from(bytes), (export, reader, false))))
        },
    );
    let mut res = Body::from_stream(chunks).into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"activity.csv\""),
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::{csv_writer, neutralised};

    #[test]
    fn csv_fields_are_quoted_and_formulas_neutralised() {
        let mut w = csv_writer(Vec::new());
        let cells = ["a \"b\"", "=HYPERLINK(1)", "plain", "line\nbreak"];
        w.write_record(cells.map(|c| neutralised(c).into_owned()))
            .unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert_eq!(
            text,
            "\"a \"\"b\"\"\",\"'=HYPERLINK(1)\",\"plain\",\"line\nbreak\"\r\n"
        );
    }
}
