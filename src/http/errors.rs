//! The error plumbing both faces share: which error responses still need a body (none at all,
//! or the plain text of a framework rejection), and the middleware that hands each of them to the
//! face's own renderer (an HTML page or fragment for the panel, the provider's JSON shape for the
//! API), with the message the handler attached and the request id.

use axum::extract::Request;
use axum::http::{header, response, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::request_id::RequestId;

/// Attached to error responses by handlers: what the person should read. The face's renderer
/// puts it in the body.
#[derive(Debug, Clone)]
pub struct ErrorMessage(pub String);

/// An error response that still needs its body.
pub struct Bodiless {
    /// The response as the handler (or the framework) left it, minus the body.
    pub parts: response::Parts,
    pub status: StatusCode,
    /// The handler's message, if it attached one.
    pub message: Option<String>,
    pub request_id: String,
    /// The request came from htmx (so the answer is a fragment).
    pub htmx: bool,
}

/// Turns a bodiless error into the face's own answer.
pub type Renderer = fn(Bodiless) -> Response;

/// Is this an error response whose body a person should not see as it is: none at all, or the
/// plain text that axum's and tower-http's rejections carry (it can quote serde internals)?
/// Our own handlers answer in HTML or JSON.
pub fn needs_a_body(res: &Response) -> bool {
    let status = res.status();
    (status.is_client_error() || status.is_server_error())
        && res
            .headers()
            .get(header::CONTENT_TYPE)
            .is_none_or(|v| v.as_bytes().starts_with(b"text/plain"))
}

/// Gives every error response without a body of its own (ours, axum's 404/405/413/415) the one
/// `render` makes.
pub async fn fill_bodies(req: Request, next: Next, render: Renderer) -> Response {
    let htmx = super::htmx::is_request(req.headers());
    let RequestId(request_id) = RequestId::of(req.headers());
    let res = next.run(req).await;
    if !needs_a_body(&res) {
        return res;
    }
    let message = res.extensions().get::<ErrorMessage>().map(|m| m.0.clone());
    let (mut parts, _) = res.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    render(Bodiless {
        status: parts.status,
        parts,
        message,
        request_id,
        htmx,
    })
}
