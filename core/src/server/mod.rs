//! The HTTP server: the Ringostat webhook, health and readiness, and the
//! operators' API, as one axum router over shared state.
//!
//! Routes: `POST|GET /webhooks/ringostat` ([`webhook`]), `GET /healthz` and
//! `GET /readyz` ([`health`]), `GET /metrics` ([`metrics`]), `GET /api/events`,
//! `GET /api/events/{id}`, `POST /api/events/{id}/replay`, `GET /api/rejected`
//! and `GET /api/rules` ([`api`]). Unknown routes and methods answer JSON
//! errors too. Request logs carry the method and path only, never the query
//! string (it holds the token).

pub mod api;
pub mod client;
pub mod error;
pub mod health;
pub mod metrics;
pub mod webhook;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Request, StatusCode, Uri};
use axum::middleware;
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::Notify;
use tower_http::trace::TraceLayer;

pub use client::{Access, Client};
pub use error::ApiError;
pub use health::{Readiness, ReadinessCheck, RulesLoaded, StoreReachable};

use crate::intake::Intake;
use crate::rules::RulesHandle;
use crate::store::Store;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct ServerState {
    pub intake: Arc<Intake>,
    pub store: Arc<dyn Store>,
    pub access: Arc<Access>,
    pub readiness: Readiness,
    /// `webhook.max_body` in bytes.
    pub max_body: usize,
    /// The running rules: while none are loaded, events are stored `held`.
    pub rules: RulesHandle,
    /// Wakes the workers when an event is stored or replayed.
    pub wake: Arc<Notify>,
    /// The Prometheus exporter, when this process could install it.
    pub metrics: Option<PrometheusHandle>,
}

pub fn router(state: ServerState) -> Router {
    let api = Router::new()
        .route("/api/events", get(api::list_events))
        .route("/api/events/{id}", get(api::event))
        .route("/api/events/{id}/replay", post(api::replay))
        .route("/api/rejected", get(api::list_rejected))
        .route("/api/rules", get(api::rules))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            api::require_admin,
        ));
    let webhook = get(webhook::receive)
        .post(webhook::receive)
        .layer(DefaultBodyLimit::max(state.max_body));
    Router::new()
        .route("/webhooks/ringostat", webhook)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::render))
        .merge(api)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            tracing::info_span!("http", method = %request.method(), path = %request.uri().path())
        }))
        .with_state(state)
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}", uri.path()),
    )
}

#[cfg(test)]
mod tests;
