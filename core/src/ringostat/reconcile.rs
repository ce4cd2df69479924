//! Reconciliation: while `serve` runs with a Ringostat API key, it backfills
//! the recent past every `ringostat.reconcile.every`, so a call whose
//! webhook never arrived (the service was down, deploying, unreachable)
//! reaches the CRM anyway, exactly once: the inbox keeps one event per call,
//! whichever of webhook and call log brings it first.
//!
//! Each run reads from `now - window` to `now - settle`: calls younger than
//! `settle` are left to their webhook, because Ringostat still changes a
//! call's disposition and talk time for a while after it ends.
//!
//! Several instances on one store take turns through a stored lease: the
//! one that runs holds it until the next run is due, renewing it while the
//! run lasts, so a run happens once per `every` whoever does it. An instance
//! that stops gracefully gives the lease up, so the next start reconciles at
//! once; one that is killed leaves it until it expires.
//!
//! A run that fails (a bad key, Ringostat down) is reported by the readiness
//! check "reconcile", which never makes the service unready: webhooks keep
//! being taken.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use tokio::sync::{Notify, watch};

use super::backfill::{Backfill, Destination, Summary};
use crate::server::ReadinessCheck;
use crate::store::Store;

/// The name of the reconciliation's lease.
pub const LEASE: &str = "ringostat.reconcile";

/// `ringostat.reconcile.*`, with the project's time zone.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub every: Duration,
    pub window: Duration,
    pub settle: Duration,
    pub zone: Tz,
}

/// How reconciliation has gone lately, for `/readyz`.
#[derive(Debug, Clone, Default)]
pub struct ReconcileHealth {
    state: Arc<Mutex<Health>>,
}

#[derive(Debug, Default)]
struct Health {
    last_success: Option<DateTime<Utc>>,
    failures: u32,
    failing_since: Option<DateTime<Utc>>,
    last_error: Option<String>,
}

impl ReconcileHealth {
    fn lock(&self) -> std::sync::MutexGuard<'_, Health> {
        // Every change under the lock is a plain assignment.
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn succeeded(&self, at: DateTime<Utc>) {
        let mut health = self.lock();
        health.last_success = Some(at);
        health.failures = 0;
        health.failing_since = None;
        health.last_error = None;
    }

    /// Counts a failure; returns how many in a row.
    fn failed(&self, at: DateTime<Utc>, error: String) -> u32 {
        let mut health = self.lock();
        health.failures += 1;
        health.failing_since.get_or_insert(at);
        health.last_error = Some(error);
        health.failures
    }
}

/// `/readyz` check "reconcile" (advisory): fails while the latest run failed.
#[async_trait]
impl ReadinessCheck for ReconcileHealth {
    async fn check(&self) -> Result<(), String> {
        let health = self.lock();
        let (Some(since), Some(error)) = (health.failing_since, &health.last_error) else {
            return Ok(());
        };
        let last_success = match health.last_success {
            Some(at) => format!(
                "last success {}",
                at.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
            None => "no success since the start".to_string(),
        };
        Err(format!(
            "{} reconciliation run(s) with Ringostat's call log failed in a row since {} ({last_success}): {error}; webhooks are taken as usual",
            health.failures,
            since.to_rfc3339_opts(SecondsFormat::Secs, true),
        ))
    }
}

/// The reconciliation job of one service.
pub struct Reconciler {
    backfill: Backfill,
    store: Arc<dyn Store>,
    wake: Arc<Notify>,
    schedule: Schedule,
    instance: String,
    health: ReconcileHealth,
}

impl Reconciler {
    pub fn new(
        backfill: Backfill,
        store: Arc<dyn Store>,
        wake: Arc<Notify>,
        schedule: Schedule,
        instance: &str,
    ) -> Reconciler {
        Reconciler {
            backfill,
            store,
            wake,
            schedule,
            instance: instance.to_string(),
            health: ReconcileHealth::default(),
        }
    }

    pub fn health(&self) -> ReconcileHealth {
        self.health.clone()
    }

    /// Runs every `every` (when this instance gets the lease) until `stop`
    /// turns true; then gives the lease up.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let every = chrono::Duration::from_std(self.schedule.every)
            .unwrap_or(chrono::Duration::minutes(10));
        // Instances that did not get the lease look again this often, so one
        // of them takes over soon after a holder dies.
        let look_again =
            (self.schedule.every / 4).clamp(Duration::from_millis(50), Duration::from_secs(60));
        tracing::info!(
            every = %humantime::format_duration(self.schedule.every),
            window = %humantime::format_duration(self.schedule.window),
            settle = %humantime::format_duration(self.schedule.settle),
            "reconciliation with Ringostat's call log is on"
        );
        loop {
            if *stop.borrow() {
                break;
            }
            let started = Utc::now();
            let wait = match self
                .store
                .take_lease(LEASE, &self.instance, started, started + every)
                .await
            {
                Ok(true) => {
                    tokio::select! {
                        () = self.run_once(started, every) => {}
                        _ = stop.changed() => break,
                    }
                    (started + every - Utc::now()).to_std().unwrap_or_default()
                }
                Ok(false) => look_again,
                Err(error) => {
                    tracing::warn!(%error, "cannot take the reconciliation lease; trying again");
                    look_again
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stop.changed() => {}
            }
        }
        if let Err(error) = self.store.release_lease(LEASE, &self.instance).await {
            tracing::warn!(%error, "cannot give the reconciliation lease up");
        }
    }

    /// One run, with the lease renewed while it lasts.
    async fn run_once(&self, started: DateTime<Utc>, every: chrono::Duration) {
        let schedule = self.schedule;
        let period =
            super::Period::recent(started, schedule.window, schedule.settle, schedule.zone);
        let not_after = started - chrono::Duration::from_std(schedule.settle).unwrap_or_default();
        let destination = Destination::Inbox {
            store: self.store.clone(),
            wake: Some(self.wake.clone()),
        };
        let mut quiet = |_: &super::Progress| {};
        let run = self
            .backfill
            .run(&period, &destination, Some(not_after), &mut quiet);
        let renew = async {
            let mut ticks =
                tokio::time::interval((schedule.every / 3).max(Duration::from_millis(10)));
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let now = Utc::now();
                if !matches!(
                    self.store
                        .take_lease(LEASE, &self.instance, now, now + every)
                        .await,
                    Ok(true)
                ) {
                    tracing::warn!(
                        "the reconciliation lease was lost during a run; finishing it anyway (queuing is idempotent)"
                    );
                }
            }
        };
        let outcome = tokio::select! {
            outcome = run => outcome,
            () = renew => return,
        };
        match outcome {
            Ok(summary) => {
                self.health.succeeded(Utc::now());
                metrics::counter!("switchboard_reconcile_runs_total", "outcome" => "ok")
                    .increment(1);
                report(&period, &summary);
            }
            Err(error) => {
                let failures = self.health.failed(Utc::now(), error.to_string());
                metrics::counter!("switchboard_reconcile_runs_total", "outcome" => "failed")
                    .increment(1);
                if failures == 1 {
                    tracing::error!(%error, "reconciliation with Ringostat's call log failed; webhooks are taken as usual");
                } else {
                    tracing::warn!(%error, failures, "reconciliation with Ringostat's call log still fails");
                }
            }
        }
    }
}

fn report(period: &super::Period, summary: &Summary) {
    if summary.new > 0 {
        tracing::info!(
            period = %period, found = summary.found, new = summary.new, known = summary.known,
            "reconciliation queued calls whose webhook never came"
        );
    } else {
        tracing::debug!(period = %period, found = summary.found, known = summary.known, "reconciliation: nothing missing");
    }
    if summary.rejected_total() > 0 {
        tracing::warn!(rejected = summary.rejected_total(), reasons = ?summary.rejected, "reconciliation: call log records that cannot become events");
    }
}
