//! `POST|GET /webhooks/ringostat`: check who is calling, decode, store, and
//! answer only once the event is committed.
//!
//! The order matters: the address and token are checked before the body is
//! read, so strangers cost nothing and learn nothing; an undecodable body
//! from an authenticated sender is kept (Ringostat retries 4xx three times,
//! and the body is the only evidence of what went wrong). While no rules are
//! loaded an event is stored `held`; otherwise a new event wakes the workers.

use std::net::SocketAddr;
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;

use super::ServerState;
use super::client::query_token;
use super::error::ApiError;
use crate::intake::WebhookRequest;
use crate::store::{EventStatus, NewEvent, NewRejected};

pub async fn receive(
    State(state): State<ServerState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let (outcome, response) = match handle(&state, peer, request).await {
        Ok((outcome, response)) => (outcome, response),
        Err((outcome, error)) => (outcome, error.into_response()),
    };
    metrics::counter!("switchboard_webhooks_total", "outcome" => outcome).increment(1);
    metrics::histogram!("switchboard_webhook_seconds").record(started.elapsed().as_secs_f64());
    response
}

type Handled = Result<(&'static str, Response), (&'static str, ApiError)>;

async fn handle(state: &ServerState, peer: SocketAddr, request: Request) -> Handled {
    let client = state.access.client(peer.ip(), request.headers());
    if !state.access.is_allowed(client.ip) {
        tracing::warn!(client = %client.ip, "webhook from an address outside webhook.allow_ips");
        let message = format!("address {} is not allowed to send webhooks", client.ip);
        return Err(("forbidden", ApiError::new(StatusCode::FORBIDDEN, message)));
    }
    let query = request.uri().query().map(str::to_string);
    if let Some(expected) = &state.access.webhook_token {
        let problem = match query_token(query.as_deref()) {
            None => Some("missing token: add ?token=... to the webhook URL"),
            Some(given) if !expected.matches(&given) => Some("invalid token"),
            Some(_) => None,
        };
        if let Some(problem) = problem {
            tracing::warn!(client = %client.ip, problem, "webhook refused");
            return Err((
                "unauthorized",
                ApiError::new(StatusCode::UNAUTHORIZED, problem),
            ));
        }
    }

    let method = request.method().to_string();
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let body = Bytes::from_request(request, &())
        .await
        .map_err(|rejection| {
            let outcome = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                "too_large"
            } else {
                "bad_body"
            };
            let message = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                format!(
                    "body is larger than webhook.max_body ({} bytes)",
                    state.max_body
                )
            } else {
                rejection.body_text()
            };
            (outcome, ApiError::new(rejection.status(), message))
        })?;

    let received_at = Utc::now();
    let request = WebhookRequest {
        method: &method,
        query: query.as_deref(),
        content_type: content_type.as_deref(),
        body: &body,
    };
    match state.intake.receive(&request) {
        Ok(received) => {
            let mut new = NewEvent::from_received(received, received_at);
            if state.rules.current().is_none() {
                new = new.held();
            }
            let (call_id, kind, status) = (
                new.event.call_id.clone(),
                new.event.kind.clone(),
                new.status,
            );
            let masked = new.event.client.e164.as_ref().map(|n| n.masked());
            let inserted = state
                .store
                .insert_event(new)
                .await
                .map_err(|e| ("unavailable", ApiError::from(e)))?;
            if inserted.duplicate {
                tracing::info!(event_id = %inserted.id, call_id, kind = %kind, "duplicate webhook: already stored");
            } else {
                if status == EventStatus::Queued {
                    state.wake.notify_one();
                }
                metrics::counter!("switchboard_events_total", "status" => status.as_str())
                    .increment(1);
                tracing::info!(
                    event_id = %inserted.id, call_id, kind = %kind, status = %status,
                    client = masked.as_deref().unwrap_or("none"), "webhook accepted"
                );
            }
            let outcome = if inserted.duplicate {
                "duplicate"
            } else {
                "accepted"
            };
            let body = Json(json!({ "id": inserted.id, "duplicate": inserted.duplicate }));
            Ok((outcome, (StatusCode::OK, body).into_response()))
        }
        Err(refused) => {
            let reason = refused.reason.to_string();
            let recorded = state
                .store
                .insert_rejected(NewRejected::from_refused(*refused, received_at))
                .await
                .map_err(|e| ("unavailable", ApiError::from(e)))?;
            if recorded.count == 1 {
                metrics::counter!("switchboard_events_total", "status" => "rejected").increment(1);
            }
            tracing::warn!(
                rejected_id = recorded.id, times = recorded.count, reason = %reason,
                "undecodable webhook stored as rejected"
            );
            Err((
                "rejected",
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, reason),
            ))
        }
    }
}
