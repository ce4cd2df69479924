//! The Prometheus exporter behind `GET /metrics`.
//!
//! Code everywhere emits metrics with the `metrics` macros and never knows
//! who collects them; this module installs the one process-wide recorder
//! that keeps them for Prometheus (once per process, however many
//! applications a test boots) and names and describes the metrics of
//! DESIGN §7, so that a scrape shows every one of them from the start.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Buckets for durations in seconds: intake answers in milliseconds, an
/// event with retries can take minutes.
const SECONDS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0,
];

/// How often histograms are folded into their buckets between scrapes.
pub const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static EXPORTER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's exporter, installed on first use; `None` when another
/// recorder was installed first (then `/metrics` says so).
pub fn exporter() -> Option<PrometheusHandle> {
    EXPORTER.get_or_init(install).clone()
}

fn install() -> Option<PrometheusHandle> {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_string()), SECONDS_BUCKETS);
    let installed = builder.and_then(PrometheusBuilder::install_recorder);
    match installed {
        Ok(handle) => {
            describe();
            Some(handle)
        }
        Err(error) => {
            tracing::warn!(%error, "cannot install the Prometheus exporter: /metrics is unavailable");
            None
        }
    }
}

/// Describes the metrics of DESIGN §7 and starts the unlabelled ones at
/// zero, so a scrape shows them before anything happened.
fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "switchboard_events_total",
        "Events that reached a status (queued, held, done, skipped, retrying, dead, paused, rejected)"
    );
    describe_histogram!(
        "switchboard_event_seconds",
        Unit::Seconds,
        "From webhook received to the last CRM write of a done event"
    );
    describe_counter!(
        "switchboard_crm_requests_total",
        "Requests to the CRM by connector, operation and outcome"
    );
    describe_counter!(
        "switchboard_cache_lookups_total",
        "Lookup cache answers by cache and result"
    );
    describe_counter!(
        "switchboard_retries_total",
        "Attempts that failed and were scheduled again"
    );
    describe_gauge!(
        "switchboard_dead_letters",
        "Events that are dead-lettered now"
    );
    describe_counter!("switchboard_rules_reloads_total", "Rule loads by result");
    describe_gauge!(
        "switchboard_rules_version_info",
        "1 for the running rules version, 0 for versions replaced"
    );
    describe_gauge!(
        "switchboard_crm_paused",
        "1 while processing is paused because the CRM account refuses work, by issue"
    );
    describe_counter!(
        "switchboard_backfill_calls_total",
        "Calls read from Ringostat's call log (backfill, reconciliation) by result: new, known, settling, rejected"
    );
    describe_counter!(
        "switchboard_reconcile_runs_total",
        "Reconciliation runs with Ringostat's call log by outcome (ok, failed)"
    );
    describe_counter!(
        "switchboard_ringostat_requests_total",
        "Requests to Ringostat's call log API by outcome (ok, transient, refused, unknown_field)"
    );
    metrics::counter!("switchboard_retries_total").increment(0);
    metrics::gauge!("switchboard_dead_letters").increment(0.0);
}
