//! The handlers: discovery, and `/Users` (list and search, create, read, replace, modify,
//! delete) for the members of the token's account.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::error::{kind, ScimError, ScimResult};
use super::{answer, discovery, patch, resource, Provisioned, ScimBody, LIST_SCHEMA, PREFIX};
use crate::domain::scim_filter::{field, parse_filter, parse_patch_path, AttrPath, Filter};
use crate::http::AppState;
use crate::service::provisioning::members::{self, MAX_PAGE};
use crate::service::provisioning::ScimMember;

const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// Where this face is reached from outside: the panel's public URL, else the address it bound.
fn base(state: &AppState) -> String {
    format!(
        "{}{PREFIX}",
        state.ctx.settings.link_base.as_str().trim_end_matches('/')
    )
}

fn location(state: &AppState, id: i64) -> String {
    format!("{}/Users/{id}", base(state))
}

/// `{id}` as a member's id; anything else names nobody (404, never 400).
fn member_id(raw: &str) -> ScimResult<i64> {
    raw.parse::<i64>()
        .map_err(|_| ScimError::not_found("No such member."))
}

/// The version an `If-Match` header names, if any (`*` names none).
fn if_match(headers: &HeaderMap) -> ScimResult<Option<i64>> {
    match headers.get(header::IF_MATCH).map(|v| v.to_str()) {
        None => Ok(None),
        Some(Ok(v)) => resource::version_of(v).ok_or_else(|| {
            ScimError::new(
                StatusCode::PRECONDITION_FAILED,
                "If-Match names no version of this member.",
            )
        }),
        Some(Err(_)) => Err(ScimError::new(
            StatusCode::PRECONDITION_FAILED,
            "If-Match names no version of this member.",
        )),
    }
}

/// A member as an answer, with its ETag (and `Location` when it was just made).
fn member_answer(state: &AppState, status: StatusCode, m: &ScimMember, shape: &Shape) -> Response {
    let at = location(state, m.user.id);
    let doc = resource::project(resource::render(m, &at), &shape.attributes, &shape.excluded);
    let mut res = answer(status, &doc);
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&resource::etag(m.version)) {
        h.insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED {
        if let Ok(v) = HeaderValue::from_str(&at) {
            h.insert(header::LOCATION, v);
        }
    }
    res
}

/// `attributes` / `excludedAttributes`, read.
#[derive(Default)]
struct Shape {
    attributes: Vec<AttrPath>,
    excluded: Vec<AttrPath>,
}

fn paths(list: &[String]) -> ScimResult<Vec<AttrPath>> {
    list.iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| {
            parse_patch_path(s)
                .ok()
                .filter(|p| p.filter.is_none())
                .map(|p| p.attr)
                .ok_or_else(|| {
                    ScimError::bad(kind::INVALID_VALUE, format!("\"{s}\" is not an attribute"))
                })
        })
        .collect()
}

/// The query parameters, their names compared ignoring case.
struct Params(HashMap<String, String>);

impl Params {
    fn new(q: HashMap<String, String>) -> Self {
        Params(
            q.into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
        )
    }
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
    fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| v.split(',').map(str::to_owned).collect())
            .unwrap_or_default()
    }
    fn shape(&self) -> ScimResult<Shape> {
        Ok(Shape {
            attributes: paths(&self.list("attributes"))?,
            excluded: paths(&self.list("excludedAttributes"))?,
        })
    }
    fn number(&self, name: &str) -> ScimResult<Option<i64>> {
        self.get(name)
            .map(|v| {
                v.trim().parse::<i64>().map_err(|_| {
                    ScimError::bad(
                        kind::INVALID_VALUE,
                        format!("{name} must be a whole number"),
                    )
                })
            })
            .transpose()
    }
}

pub async fn service_provider_config_get(
    State(state): State<AppState>,
    _: Provisioned,
) -> Response {
    answer(
        StatusCode::OK,
        &discovery::service_provider_config(&base(&state)),
    )
}

pub async fn resource_types_get(State(state): State<AppState>, _: Provisioned) -> Response {
    answer(StatusCode::OK, &discovery::resource_types(&base(&state)))
}

pub async fn resource_type_get(
    State(state): State<AppState>,
    _: Provisioned,
    Path(id): Path<String>,
) -> ScimResult<Response> {
    Ok(answer(
        StatusCode::OK,
        &discovery::resource_type_by_id(&base(&state), &id)?,
    ))
}

pub async fn schemas_get(State(state): State<AppState>, _: Provisioned) -> Response {
    answer(StatusCode::OK, &discovery::schemas(&base(&state)))
}

pub async fn schema_get(
    State(state): State<AppState>,
    _: Provisioned,
    Path(id): Path<String>,
) -> ScimResult<Response> {
    Ok(answer(
        StatusCode::OK,
        &discovery::schema_by_id(&base(&state), &id)?,
    ))
}

/// `/Me` is not offered (a provisioning token is no member).
pub async fn me_any(_: Provisioned) -> ScimError {
    ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        "/Me is not offered: a provisioning token acts for the account, not for a member.",
    )
}

/// What a list asks for, from the query (`GET /Users`) or a SearchRequest body
/// (`POST /.search`): read into one request, answered one way.
struct ListRequest {
    filter: Option<Filter>,
    /// From 1.
    start_index: i64,
    count: i64,
    shape: Shape,
}

impl ListRequest {
    fn new(
        filter: Option<&str>,
        start_index: Option<i64>,
        count: Option<i64>,
        shape: Shape,
    ) -> ScimResult<Self> {
        let filter = filter
            .filter(|f| !f.trim().is_empty())
            .map(|f| parse_filter(f).map_err(|e| ScimError::bad(kind::INVALID_FILTER, e.0)))
            .transpose()?;
        Ok(ListRequest {
            filter,
            start_index: start_index.unwrap_or(1).max(1),
            count: count.unwrap_or(MAX_PAGE).clamp(0, MAX_PAGE),
            shape,
        })
    }

    /// From the query parameters (their names in any case).
    fn from_query(q: &Params) -> ScimResult<Self> {
        Self::new(
            q.get("filter"),
            q.number("startIndex")?,
            q.number("count")?,
            q.shape()?,
        )
    }

    /// From a SearchRequest body (RFC 7644 §3.4.3).
    fn from_search(body: &Value) -> ScimResult<Self> {
        let listed = field(body, "schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| s.iter().any(|v| v.as_str() == Some(SEARCH_SCHEMA)));
        if !listed {
            return Err(ScimError::bad(
                kind::INVALID_SYNTAX,
                format!("a search lists \"{SEARCH_SCHEMA}\" in schemas"),
            ));
        }
        let strings = |name: &str| -> ScimResult<Vec<String>> {
            match field(body, name) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|v| {
                        v.as_str().map(str::to_owned).ok_or_else(|| {
                            ScimError::bad(kind::INVALID_VALUE, format!("{name} lists strings"))
                        })
                    })
                    .collect(),
                Some(_) => Err(ScimError::bad(
                    kind::INVALID_VALUE,
                    format!("{name} is a list"),
                )),
            }
        };
        let number = |name: &str| -> ScimResult<Option<i64>> {
            match field(body, name) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v.as_i64().map(Some).ok_or_else(|| {
                    ScimError::bad(kind::INVALID_VALUE, format!("{name} is a whole number"))
                }),
            }
        };
        let filter = match field(body, "filter") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => return Err(ScimError::bad(kind::INVALID_FILTER, "filter is a string")),
        };
        let shape = Shape {
            attributes: paths(&strings("attributes")?)?,
            excluded: paths(&strings("excludedAttributes")?)?,
        };
        Self::new(filter, number("startIndex")?, number("count")?, shape)
    }
}

/// A page of members, as SCIM lists them.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ListResponse {
    schemas: [&'static str; 1],
    total_results: i64,
    start_index: i64,
    items_per_page: usize,
    #[serde(rename = "Resources")]
    resources: Vec<Value>,
}

/// The page `r` asks for.
async fn list(state: &AppState, p: &Provisioned, r: &ListRequest) -> ScimResult<Response> {
    let (total, page) = members::list(
        &state.ctx,
        &p.0,
        r.filter.as_ref(),
        r.start_index - 1,
        r.count,
    )
    .await
    .map_err(|e| ScimError::from(e).in_filter())?;
    let resources: Vec<Value> = page
        .iter()
        .map(|m| {
            resource::project(
                resource::render(m, &location(state, m.user.id)),
                &r.shape.attributes,
                &r.shape.excluded,
            )
        })
        .collect();
    let body = ListResponse {
        schemas: [LIST_SCHEMA],
        total_results: total,
        start_index: r.start_index,
        items_per_page: resources.len(),
        resources,
    };
    Ok(answer(StatusCode::OK, &json!(body)))
}

pub async fn users_get(
    State(state): State<AppState>,
    p: Provisioned,
    Query(q): Query<HashMap<String, String>>,
) -> ScimResult<Response> {
    list(&state, &p, &ListRequest::from_query(&Params::new(q))?).await
}

/// `POST /.search` and `POST /Users/.search`: a SearchRequest body.
pub async fn search_post(
    State(state): State<AppState>,
    p: Provisioned,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    list(&state, &p, &ListRequest::from_search(&body)?).await
}

pub async fn users_post(
    State(state): State<AppState>,
    p: Provisioned,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    let fields = resource::parse(&body, None)?;
    let m = members::create(&state.ctx, &p.0, fields).await?;
    Ok(member_answer(
        &state,
        StatusCode::CREATED,
        &m,
        &Shape::default(),
    ))
}

pub async fn user_get(
    State(state): State<AppState>,
    p: Provisioned,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ScimResult<Response> {
    let shape = Params::new(q).shape()?;
    let m = members::get(&state.ctx, &p.0, member_id(&id)?).await?;
    Ok(member_answer(&state, StatusCode::OK, &m, &shape))
}

pub async fn user_put(
    State(state): State<AppState>,
    p: Provisioned,
    Path(id): Path<String>,
    headers: HeaderMap,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    let id = member_id(&id)?;
    let version = if_match(&headers)?;
    let fields = resource::parse(&body, Some(id))?;
    let m = members::replace(&state.ctx, &p.0, id, fields, version).await?;
    Ok(member_answer(&state, StatusCode::OK, &m, &Shape::default()))
}

pub async fn user_patch(
    State(state): State<AppState>,
    p: Provisioned,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    let id = member_id(&id)?;
    let shape = Params::new(q).shape()?;
    let at = location(&state, id);
    let m = members::modify(&state.ctx, &p.0, id, if_match(&headers)?, |now| {
        let mut doc = resource::render(now, &at);
        patch::apply(&mut doc, &body)?;
        patch::normalize(&mut doc);
        resource::parse(&doc, Some(id))
    })
    .await?;
    Ok(member_answer(&state, StatusCode::OK, &m, &shape))
}

pub async fn user_delete(
    State(state): State<AppState>,
    p: Provisioned,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ScimResult<Response> {
    let id = member_id(&id)?;
    let version = if_match(&headers)?;
    members::remove(&state.ctx, &p.0, id, version).await?;
    let mut res = Response::new(axum::body::Body::empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    Ok(res)
}
