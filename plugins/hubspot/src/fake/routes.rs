//! The fake's one HTTP handler: name the operation, apply injected faults,
//! check the token and its scopes, enforce the rate windows, dispatch to the
//! store, log the exchange.
//!
//! Routing is by hand rather than with axum's router, so that faults, auth
//! and limits see every request, unknown paths included, in one place.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Value, json};

use super::faults::{self, FaultAction};
use super::replies::{self, Reply};
use super::store::{Failure, object_type};
use super::{LoggedRequest, Shared};

/// What a request is, before it is handled.
struct Route {
    operation: String,
    scope: String,
    search: bool,
}

fn scope_for(object_type: &str, write: bool) -> String {
    let family = if object_type == "deals" {
        "deals"
    } else {
        "contacts"
    };
    format!(
        "crm.objects.{family}.{}",
        if write { "write" } else { "read" }
    )
}

fn route(method: &Method, segments: &[&str]) -> Option<Route> {
    let plain = |operation: String, scope: String| {
        Some(Route {
            operation,
            scope,
            search: false,
        })
    };
    match segments {
        ["crm", "v3", "objects", t, rest @ ..] => {
            let t = object_type(t)?;
            let (op, write) = match (method.as_str(), rest) {
                ("GET", []) => ("list", false),
                ("POST", []) => ("create", true),
                ("POST", ["search"]) => {
                    return Some(Route {
                        operation: format!("{t}.search"),
                        scope: scope_for(t, false),
                        search: true,
                    });
                }
                ("POST", ["batch", "read"]) => ("batch_read", false),
                ("POST", ["batch", "upsert"]) => ("upsert", true),
                ("GET", [_]) => ("get", false),
                ("PATCH", [_]) => ("update", true),
                ("DELETE", [_]) => ("archive", true),
                _ => return None,
            };
            plain(format!("{t}.{op}"), scope_for(t, write))
        }
        [
            "crm",
            "v4",
            "objects",
            t,
            _,
            "associations",
            "default",
            _,
            _,
        ] if method == Method::PUT => {
            let t = object_type(t)?;
            plain(format!("{t}.associate"), scope_for(t, true))
        }
        ["crm", "v4", "objects", t, _, "associations", _] if method == Method::GET => {
            let t = object_type(t)?;
            plain(format!("{t}.associations"), scope_for(t, false))
        }
        ["crm", "v3", "owners"] if method == Method::GET => {
            plain("owners.list".into(), "crm.objects.owners.read".into())
        }
        ["crm", "v3", "owners", _] if method == Method::GET => {
            plain("owners.get".into(), "crm.objects.owners.read".into())
        }
        ["crm", "v3", "pipelines", "deals"] if method == Method::GET => {
            plain("pipelines.list".into(), "crm.objects.deals.read".into())
        }
        ["crm", "v3", "properties", t, rest @ ..] => {
            let t = object_type(t)?;
            let family = if t == "deals" { "deals" } else { "contacts" };
            match (method.as_str(), rest) {
                ("GET", ["groups"]) => plain(
                    "properties.groups".into(),
                    format!("crm.schemas.{family}.read"),
                ),
                ("POST", []) => plain(
                    "properties.create".into(),
                    format!("crm.schemas.{family}.write"),
                ),
                ("GET", [_]) => plain(
                    "properties.get".into(),
                    format!("crm.schemas.{family}.read"),
                ),
                _ => None,
            }
        }
        _ => None,
    }
}

fn failure_reply(failure: Failure, correlation_id: &str) -> Reply {
    match failure {
        Failure::Properties(details) => replies::validation(&details, correlation_id),
        Failure::BadRequest { message, context } => {
            let mut body = json!({ "status": "error", "message": message, "correlationId": correlation_id, "category": "VALIDATION_ERROR" });
            if let Some(context) = context {
                body["context"] = context;
            }
            Reply::json(StatusCode::BAD_REQUEST, body)
        }
        Failure::Conflict(message) => {
            replies::error(StatusCode::CONFLICT, "CONFLICT", &message, correlation_id)
        }
        Failure::AlreadyExists(message) => replies::error(
            StatusCode::CONFLICT,
            "OBJECT_ALREADY_EXISTS",
            &message,
            correlation_id,
        ),
        Failure::NotFound => replies::not_found(correlation_id),
    }
}

fn respond(outcome: Result<Value, Failure>, status: StatusCode, correlation_id: &str) -> Reply {
    match outcome {
        Ok(body) => Reply::json(status, body),
        Err(failure) => failure_reply(failure, correlation_id),
    }
}

pub async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let correlation_id = replies::uuid();
    let path = uri.path().to_string();
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let request_body: Option<Value> = if body.is_empty() {
        None
    } else {
        serde_json::from_slice(&body).ok()
    };
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let route = route(&method, &segments);
    let operation = route
        .as_ref()
        .map(|r| r.operation.clone())
        .unwrap_or_else(|| "unknown".into());

    let (reply, delay, faulted) = {
        let mut inner = shared.lock();
        let now = Instant::now();
        let fault = faults::take(&mut inner.faults, &operation, now);
        let mut delay = None;
        let faulted = fault.is_some();
        let early = match fault {
            Some(FaultAction::Status(status)) => Some(replies::server_error(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                &correlation_id,
            )),
            Some(FaultAction::RateLimit(policy)) => {
                let reply = replies::rate_limited(&policy, &correlation_id);
                Some(if policy == "TEN_SECONDLY_ROLLING" {
                    reply
                        .header(
                            "x-hubspot-ratelimit-interval-milliseconds",
                            inner.general.length.as_millis(),
                        )
                        .header("x-hubspot-ratelimit-max", inner.general.limit)
                        .header("x-hubspot-ratelimit-remaining", 0)
                } else {
                    reply
                })
            }
            Some(FaultAction::Delay(d)) => {
                delay = Some(d);
                None
            }
            None => None,
        };
        let reply = match early {
            Some(reply) => reply,
            None => authorize_and_dispatch(
                &mut inner,
                &Incoming {
                    headers: &headers,
                    method: &method,
                    segments: &segments,
                    query: &query,
                    body: request_body.as_ref(),
                    raw_body: &body,
                    correlation_id: &correlation_id,
                    now,
                },
                route,
            ),
        };
        (reply, delay, faulted)
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let logged = LoggedRequest {
        operation,
        method: method.to_string(),
        path,
        query,
        body: request_body,
        status: reply.status.as_u16(),
        response: reply.body.clone(),
        faulted,
    };
    shared.lock().log.push(logged);
    reply.into_response(&correlation_id)
}

/// The parts of a request the handler works with.
struct Incoming<'a> {
    headers: &'a HeaderMap,
    method: &'a Method,
    segments: &'a [&'a str],
    query: &'a [(String, String)],
    body: Option<&'a Value>,
    raw_body: &'a [u8],
    correlation_id: &'a str,
    now: Instant,
}

fn authorize_and_dispatch(
    inner: &mut super::Inner,
    request: &Incoming<'_>,
    route: Option<Route>,
) -> Reply {
    let Incoming {
        headers,
        method,
        segments,
        query,
        body,
        raw_body,
        correlation_id,
        now,
    } = *request;
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(scopes) = token.and_then(|t| inner.tokens.get(t)) else {
        return replies::unauthorized(correlation_id);
    };
    let Some(route) = route else {
        return Reply::html(StatusCode::NOT_FOUND, "Not Found");
    };
    if let Some(scopes) = scopes
        && !scopes.contains(&route.scope)
    {
        return replies::missing_scopes(&route.scope, correlation_id);
    }
    if route.search {
        if !inner.search.admit(now) {
            return replies::rate_limited("SECONDLY", correlation_id);
        }
    } else if !inner.general.admit(now) {
        let interval = inner.general.length.as_millis();
        return replies::rate_limited("TEN_SECONDLY_ROLLING", correlation_id)
            .header("x-hubspot-ratelimit-interval-milliseconds", interval)
            .header("x-hubspot-ratelimit-max", inner.general.limit)
            .header("x-hubspot-ratelimit-remaining", 0);
    }
    if !raw_body.is_empty() && body.is_none() {
        return replies::error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "Invalid input JSON on line 1",
            correlation_id,
        );
    }
    let reply = dispatch(
        inner,
        method,
        segments,
        query,
        body.unwrap_or(&Value::Null),
        correlation_id,
        now,
    );
    if route.search {
        reply
    } else {
        reply
            .header(
                "x-hubspot-ratelimit-interval-milliseconds",
                inner.general.length.as_millis(),
            )
            .header("x-hubspot-ratelimit-max", inner.general.limit)
            .header("x-hubspot-ratelimit-remaining", inner.general.remaining())
    }
}

fn dispatch(
    inner: &mut super::Inner,
    method: &Method,
    segments: &[&str],
    query: &[(String, String)],
    body: &Value,
    correlation_id: &str,
    now: Instant,
) -> Reply {
    let params: BTreeMap<&str, &str> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let number = |name: &str, default: usize| {
        params
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let list = |name: &str| -> Vec<String> {
        query
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect()
    };
    let store = &mut inner.store;
    let ok = StatusCode::OK;
    match segments {
        ["crm", "v3", "objects", t, rest @ ..] => {
            let Some(t) = object_type(t) else {
                return replies::not_found(correlation_id);
            };
            match (method.as_str(), rest) {
                ("GET", []) => respond(
                    store.list(t, number("limit", 10), number("after", 0)),
                    ok,
                    correlation_id,
                ),
                ("POST", []) => respond(store.create(t, body), StatusCode::CREATED, correlation_id),
                ("POST", ["search"]) => respond(store.search(t, body, now), ok, correlation_id),
                ("POST", ["batch", "read"]) => match store.batch_read(t, body) {
                    Ok((partial, answer)) => Reply::json(
                        if partial {
                            StatusCode::MULTI_STATUS
                        } else {
                            ok
                        },
                        answer,
                    ),
                    Err(failure) => failure_reply(failure, correlation_id),
                },
                ("POST", ["batch", "upsert"]) => respond(store.upsert(t, body), ok, correlation_id),
                ("GET", [id]) => respond(
                    store.get(
                        t,
                        id,
                        params.get("idProperty").copied(),
                        &list("properties"),
                    ),
                    ok,
                    correlation_id,
                ),
                ("PATCH", [id]) => respond(store.update(t, id, body), ok, correlation_id),
                ("DELETE", [id]) => {
                    store.archive(t, id);
                    Reply::no_content()
                }
                _ => replies::not_found(correlation_id),
            }
        }
        [
            "crm",
            "v4",
            "objects",
            t,
            id,
            "associations",
            "default",
            to,
            to_id,
        ] => match (object_type(t), object_type(to)) {
            (Some(t), Some(to)) => respond(
                store.associate_default(t, id, to, to_id),
                ok,
                correlation_id,
            ),
            _ => replies::not_found(correlation_id),
        },
        ["crm", "v4", "objects", t, id, "associations", to] => {
            match (object_type(t), object_type(to)) {
                (Some(t), Some(to)) => respond(
                    store.associations_of(
                        t,
                        id,
                        to,
                        number("limit", 500).min(500),
                        number("after", 0),
                    ),
                    ok,
                    correlation_id,
                ),
                _ => replies::not_found(correlation_id),
            }
        }
        ["crm", "v3", "owners"] => respond(
            store.owners_page(
                params.get("email").copied(),
                params.get("archived") == Some(&"true"),
                number("limit", 100),
                number("after", 0),
            ),
            ok,
            correlation_id,
        ),
        ["crm", "v3", "owners", id] => respond(
            store.owner(
                id,
                params.get("idProperty") == Some(&"userId"),
                params.get("archived") == Some(&"true"),
            ),
            ok,
            correlation_id,
        ),
        ["crm", "v3", "pipelines", "deals"] => Reply::ok(store.pipelines_json()),
        ["crm", "v3", "properties", t, rest @ ..] => {
            let Some(t) = object_type(t) else {
                return replies::not_found(correlation_id);
            };
            match (method.as_str(), rest) {
                ("GET", ["groups"]) => Reply::ok(store.groups_json(t)),
                ("POST", []) => respond(
                    store.create_property(t, body),
                    StatusCode::CREATED,
                    correlation_id,
                ),
                ("GET", [name]) => respond(store.property(t, name), ok, correlation_id),
                _ => replies::not_found(correlation_id),
            }
        }
        _ => replies::not_found(correlation_id),
    }
}
