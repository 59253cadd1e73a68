//! CSRF protection for every state change (ASVS V3): tower-http's origin check
//! (`Sec-Fetch-Site` / `Origin`, the router's `CsrfLayer`) and a synchronizer token, checked here
//! in one middleware before any handler so no route can forget it: the session's token for
//! someone logged in (`WebSession::check_csrf`), the double-submit cookie's ([`anonymous`]) for a
//! visitor.

pub mod anonymous;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::Response;

use super::error::WebError;
use super::session::WebSession;
use super::urls;
use crate::http::{AppState, BODY_LIMIT};

/// The synchronizer-token half of CSRF protection (tower-http's `CsrfLayer` checks the origin):
/// every state-changing request must carry this session's token, in the `X-CSRF-Token` header
/// (htmx) or the `csrf_token` field of the form. Checked here, before any handler, so no route
/// can forget it.
pub async fn require_csrf_token(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, WebError> {
    // The panel changes state only with POST; other methods reach no handler and get 405.
    if req.method() != Method::POST {
        return Ok(next.run(req).await);
    }
    let (mut parts, body) = req.into_parts();
    let session = WebSession::from_request_parts(&mut parts, &state).await?;
    let header_token = parts
        .headers
        .get("X-CSRF-Token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let multipart = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.starts_with("multipart/form-data"))
        .map(str::to_owned);
    let (token, body) = match (header_token, multipart) {
        (Some(t), _) => (Some(t), body),
        // A file upload: only the import takes one, only from someone logged in, and its token
        // is read from the form's first part before the file is (nothing is read for anyone
        // else, so no anonymous client makes the server hold a large body).
        (None, Some(content_type)) => {
            if parts.uri.path() != urls::USERS_IMPORT {
                return Err(WebError::Invalid("This form takes no file.".into()));
            }
            if !session.has_csrf_secret().await? {
                return Err(WebError::Csrf);
            }
            first_part_token(&content_type, body).await?
        }
        (None, None) => {
            let bytes = axum::body::to_bytes(body, BODY_LIMIT)
                .await
                .map_err(|_| WebError::TooLarge)?;
            let token = url::form_urlencoded::parse(&bytes)
                .find(|(k, _)| k == "csrf_token")
                .map(|(_, v)| v.into_owned());
            (token, axum::body::Body::from(bytes))
        }
    };
    let Some(token) = token else {
        return Err(WebError::Csrf);
    };
    let valid = match session.check_csrf(&state.settings.csrf_key, &token).await? {
        Some(valid) => valid,
        None => anonymous::check(&state.settings, &parts.headers, &token),
    };
    if !valid {
        return Err(WebError::Csrf);
    }
    Ok(next.run(Request::from_parts(parts, body)).await)
}

/// The most a multipart form's first part (its `csrf_token`) may take before the token is found.
const FIRST_PART_LIMIT: usize = 16 * 1024;

/// The `csrf_token` field of a multipart form, which the panel's forms put first: read from the
/// body's first part only (at most [`FIRST_PART_LIMIT`]), and the whole body to pass on, the part
/// read put back in front of the rest.
async fn first_part_token(
    content_type: &str,
    body: axum::body::Body,
) -> Result<(Option<String>, axum::body::Body), WebError> {
    use futures_util::StreamExt;

    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| WebError::Invalid("The upload could not be read: send it again.".into()))?;
    let delimiter = format!("--{boundary}");
    let mut stream = body.into_data_stream();
    let mut head: Vec<u8> = Vec::new();
    // The first part is complete once the delimiter after it has arrived.
    while occurrences(&head, delimiter.as_bytes()) < 2 && head.len() <= FIRST_PART_LIMIT {
        match stream.next().await {
            Some(Ok(chunk)) => head.extend_from_slice(&chunk),
            Some(Err(_)) => return Err(WebError::TooLarge),
            None => break,
        }
    }
    let head = axum::body::Bytes::from(head);
    let first = head.clone();
    let mut form = multer::Multipart::new(
        futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(first) }),
        boundary,
    );
    let token = match form.next_field().await {
        Ok(Some(field)) if field.name() == Some("csrf_token") => field.text().await.ok(),
        _ => None,
    };
    let whole = futures_util::stream::once(async move { Ok::<_, axum::Error>(head) }).chain(stream);
    Ok((token, axum::body::Body::from_stream(whole)))
}

/// How many times `needle` occurs in `haystack` (without overlaps).
fn occurrences(haystack: &[u8], needle: &[u8]) -> usize {
    let mut count = 0;
    let mut at = 0;
    while let Some(i) = haystack[at..]
        .windows(needle.len())
        .position(|w| w == needle)
    {
        count += 1;
        at += i + needle.len();
    }
    count
}
