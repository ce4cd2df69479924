//! `/healthz` says the process is up; `/readyz` says it can do its job,
//! by running named checks: "store" (it can commit), "rules" (a rule set is
//! loaded, else why not) and "crm" (processing is not paused), each added
//! with [`Readiness::add`].
//!
//! Some checks report trouble that does not stop the service from taking
//! webhooks (a reconciliation with Ringostat that keeps failing): they are
//! added with [`Readiness::add_advisory`], shown with `"critical": false`,
//! and left out of `ready`, so a load balancer keeps sending webhooks.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};

use super::ServerState;
use crate::rules::RulesHandle;
use crate::store::Store;

/// A check must answer within this time, or it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// One condition of readiness; `Err` says what is wrong.
#[async_trait]
pub trait ReadinessCheck: Send + Sync {
    async fn check(&self) -> Result<(), String>;
}

/// The named checks behind `/readyz`.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Vec<Named>,
}

#[derive(Clone)]
struct Named {
    name: String,
    check: Arc<dyn ReadinessCheck>,
    critical: bool,
}

impl Readiness {
    /// A check the service is not ready without.
    pub fn add(&mut self, name: impl Into<String>, check: Arc<dyn ReadinessCheck>) {
        self.checks.push(Named {
            name: name.into(),
            check,
            critical: true,
        });
    }

    /// A check that is shown but does not make the service unready.
    pub fn add_advisory(&mut self, name: impl Into<String>, check: Arc<dyn ReadinessCheck>) {
        self.checks.push(Named {
            name: name.into(),
            check,
            critical: false,
        });
    }

    /// Runs every check, each under a time limit.
    pub async fn run(&self) -> Vec<CheckResult> {
        let mut results = Vec::with_capacity(self.checks.len());
        for Named {
            name,
            check,
            critical,
        } in &self.checks
        {
            let outcome = match tokio::time::timeout(CHECK_TIMEOUT, check.check()).await {
                Ok(outcome) => outcome,
                Err(_) => Err(format!("no answer within {}s", CHECK_TIMEOUT.as_secs())),
            };
            results.push(CheckResult {
                name: name.clone(),
                ok: outcome.is_ok(),
                critical: *critical,
                error: outcome.err(),
            });
        }
        results
    }
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.checks.iter().map(|named| &named.name))
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub name: String,
    pub ok: bool,
    /// Shown only when `false`: the check does not count for `ready`.
    #[serde(skip_serializing_if = "is_critical")]
    pub critical: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn is_critical(critical: &bool) -> bool {
    *critical
}

/// The store can take a commit.
pub struct StoreReachable(pub Arc<dyn Store>);

#[async_trait]
impl ReadinessCheck for StoreReachable {
    async fn check(&self) -> Result<(), String> {
        self.0.ping().await.map_err(|e| e.to_string())
    }
}

/// A rule set is loaded; else the load errors say why.
pub struct RulesLoaded(pub RulesHandle);

#[async_trait]
impl ReadinessCheck for RulesLoaded {
    async fn check(&self) -> Result<(), String> {
        match self.0.status().not_ready_reason() {
            None => Ok(()),
            Some(reason) => Err(format!(
                "{reason}; events are stored and held until rules load"
            )),
        }
    }
}

pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(state): State<ServerState>) -> (StatusCode, Json<Value>) {
    let checks = state.readiness.run().await;
    let ready = checks.iter().all(|check| check.ok || !check.critical);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(json!({ "ready": ready, "checks": checks })))
}
