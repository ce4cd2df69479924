//! `GET /metrics`: every metric in Prometheus' text format, for scraping.
//! Open like `/healthz`: it shows counts and timings, never a payload,
//! a number or a secret.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::ServerState;
use super::error::ApiError;

pub async fn render(State(state): State<ServerState>) -> Response {
    match &state.metrics {
        Some(exporter) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            exporter.render(),
        )
            .into_response(),
        None => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "another metrics recorder was installed in this process; /metrics is unavailable",
        )
        .into_response(),
    }
}
