//! `/api/*`: what the inbox holds and what the pipeline did with it, for
//! operators: events with their plan, trace, facts, steps and errors;
//! replays; the running rules. Guarded by the admin token (`Authorization:
//! Bearer ...`); with none configured, only loopback clients that did not
//! come through an untrusted proxy get in.
//!
//! Nothing here can show the webhook token: it was taken out of every
//! payload before it was stored.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ServerState;
use super::error::ApiError;
use crate::intake::RawPayload;
use crate::rules::RulesStatus;
use crate::store::{
    EventId, EventQuery, EventStatus, RejectedPayload, ReplayOutcome, StepRecord, StoredEvent,
};

const MAX_LIMIT: u32 = 500;

/// Middleware in front of every `/api/*` route.
pub async fn require_admin(
    State(state): State<ServerState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    match &state.access.admin_token {
        Some(expected) => {
            let given = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| {
                    value
                        .strip_prefix("Bearer ")
                        .or_else(|| value.strip_prefix("bearer "))
                });
            match given {
                Some(token) if expected.matches(token.trim()) => Ok(next.run(request).await),
                Some(_) => Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid admin token",
                )),
                None => Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "missing admin token: send Authorization: Bearer <admin token>",
                )),
            }
        }
        None => {
            let client = state.access.client(peer.ip(), request.headers());
            if client.ip.is_loopback() && !client.untrusted_forwarding {
                Ok(next.run(request).await)
            } else {
                Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "no admin token is configured, so /api is open to loopback clients only; \
                     set SWITCHBOARD_ADMIN_TOKEN to use it from elsewhere",
                ))
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ListParams {
    status: Option<String>,
    call_id: Option<String>,
    limit: Option<u32>,
    before: Option<i64>,
}

fn limit(requested: Option<u32>) -> Result<u32, ApiError> {
    match requested {
        None => Ok(50),
        Some(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
        Some(_) => Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        ))),
    }
}

pub async fn list_events(
    State(state): State<ServerState>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(params) = params.map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
    let status = params
        .status
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<EventStatus>())
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let query = EventQuery {
        status,
        call_id: params.call_id.filter(|c| !c.is_empty()),
        limit: limit(params.limit)?,
        before: params.before.map(EventId),
    };
    let events = state.store.list_events(&query).await?;
    let next_before = (events.len() == query.limit as usize)
        .then(|| events.last().map(|e| e.id))
        .flatten();
    Ok(Json(json!({
        "events": events.iter().map(summary).collect::<Vec<_>>(),
        "next_before": next_before,
    })))
}

pub async fn event(
    State(state): State<ServerState>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(id) = id.map_err(|_| ApiError::bad_request("event id must be a number"))?;
    let event = state
        .store
        .event(EventId(id))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no event {id}")))?;
    let steps = state.store.steps(event.id).await?;
    Ok(Json(detail(&event, &steps)))
}

/// `POST /api/events/{id}/replay`: queue the event again, to be evaluated
/// with the current rules; steps that already have a CRM id are skipped.
pub async fn replay(
    State(state): State<ServerState>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(id) = id.map_err(|_| ApiError::bad_request("event id must be a number"))?;
    match state.store.replay(EventId(id), chrono::Utc::now()).await? {
        ReplayOutcome::Requeued => {
            tracing::info!(event_id = id, "event replayed");
            state.wake.notify_one();
            Ok(Json(json!({ "id": id, "status": EventStatus::Queued })))
        }
        ReplayOutcome::NotFound => Err(ApiError::not_found(format!("no event {id}"))),
        ReplayOutcome::Refused(status) => Err(ApiError::new(
            StatusCode::CONFLICT,
            match status {
                EventStatus::Held => {
                    format!("event {id} is held until rules load; it will run then")
                }
                _ => format!("event {id} is {status} right now; replay it once that attempt ends"),
            },
        )),
    }
}

/// `GET /api/rules`: the running rule set and the latest refused load,
/// each problem with its `file:line:column`.
pub async fn rules(State(state): State<ServerState>) -> Json<Value> {
    Json(rules_view(&state.rules.status()))
}

fn rules_view(status: &RulesStatus) -> Value {
    let last_error = status.last_error.as_ref().map(|failure| {
        let problems: Vec<Value> = failure
            .diagnostics
            .iter()
            .map(|d| {
                json!({
                    "location": format!("{}:{}:{}", d.file, d.line, d.column),
                    "file": d.file,
                    "line": d.line,
                    "column": d.column,
                    "message": d.message,
                    "hint": d.hint,
                })
            })
            .collect();
        json!({
            "at": failure.at,
            "source": failure.source,
            "version": failure.version,
            "problems": problems,
        })
    });
    json!({
        "loaded": status.is_ready(),
        "version": status.version,
        "source": status.source,
        "loaded_at": status.loaded_at,
        "files": status.files,
        "scenarios": status.scenarios,
        "last_error": last_error,
    })
}

#[derive(Debug, Deserialize)]
pub struct RejectedParams {
    limit: Option<u32>,
    before: Option<i64>,
}

pub async fn list_rejected(
    State(state): State<ServerState>,
    params: Result<Query<RejectedParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(params) = params.map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
    let rejected = state
        .store
        .list_rejected(limit(params.limit)?, params.before)
        .await?;
    Ok(Json(
        json!({ "rejected": rejected.iter().map(rejected_view).collect::<Vec<_>>() }),
    ))
}

fn summary(event: &StoredEvent) -> Value {
    json!({
        "id": event.id,
        "call_id": event.call_id,
        "event": event.kind,
        "status": event.status,
        "status_reason": event.status_reason,
        "received_at": event.received_at,
        "source": event.source,
        "client_phone": event.client_phone,
        "attempts": event.attempts,
        "last_error": event.last_error,
        "updated_at": event.updated_at,
    })
}

fn detail(event: &StoredEvent, steps: &[StepRecord]) -> Value {
    let mut view = summary(event);
    if let Value::Object(fields) = &mut view {
        fields.insert("finished_at".into(), json!(event.finished_at));
        fields.insert("facts".into(), json!(event.facts));
        fields.insert("steps".into(), json!(steps));
        fields.insert("next_attempt_at".into(), json!(event.next_attempt_at));
        fields.insert("lease_owner".into(), json!(event.lease_owner));
        fields.insert("lease_until".into(), json!(event.lease_until));
        fields.insert("plan".into(), json!(event.plan));
        fields.insert("rules_version".into(), json!(event.rules_version));
        fields.insert("normalized".into(), event.event.clone());
        fields.insert("raw".into(), raw_view(&event.raw));
    }
    view
}

fn rejected_view(rejected: &RejectedPayload) -> Value {
    json!({
        "id": rejected.id,
        "payload_hash": rejected.payload_hash,
        "reason": rejected.reason,
        "count": rejected.count,
        "first_seen_at": rejected.first_seen_at,
        "last_seen_at": rejected.last_seen_at,
        "raw": raw_view(&rejected.raw),
    })
}

fn raw_view(raw: &RawPayload) -> Value {
    json!({
        "method": raw.method,
        "query": raw.query,
        "content_type": raw.content_type,
        "body": raw.body_text(),
    })
}
