//! Processing what a backfill queued in the command itself, for when no
//! service runs on the store (`switchboard backfill` checks the presence
//! leases first; with a service running, it leaves the events to it).
//!
//! It runs the same pipeline `serve` runs (claims, leases, the step journal)
//! with the configured connector and rules, so a service that starts
//! meanwhile and claims the same events is safe: each event is worked on by
//! one of them at a time, and no step is done twice. It stops once none of
//! the events is queued or in flight; events waiting for a retry (or paused
//! by the CRM account) stay in the inbox for the next `serve`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::cache::{self, LookupCache};
use crate::config::Settings;
use crate::connector::Connector;
use crate::pipeline::{Pipeline, PipelineSettings};
use crate::rules::{self, RulesContext};
use crate::store::{EventId, EventStatus, Store, StoreError};

/// How often the events' statuses are read while they are processed.
const POLL: Duration = Duration::from_millis(50);

/// How the events ended up, by status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Processed {
    /// Status name → events.
    pub statuses: BTreeMap<&'static str, usize>,
}

impl Processed {
    pub fn count(&self, status: EventStatus) -> usize {
        self.statuses
            .get(status.as_str())
            .copied()
            .unwrap_or_default()
    }
}

/// Why the events were not processed here.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("the rules do not load ({0}); the events wait in the inbox for `switchboard serve`")]
    NoRules(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs the pipeline until none of `ids` is queued or processing.
/// `progress` hears how many are settled after every change.
pub async fn process_queued(
    settings: &Settings,
    store: Arc<dyn Store>,
    connector: Arc<dyn Connector>,
    ids: &[EventId],
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<Processed, ProcessError> {
    let ctx = RulesContext {
        time_zone: settings.time_zone,
        region: settings.phone.default_region,
    };
    let rules = rules::load_initial(&settings.rules.dir, &ctx);
    if let Some(reason) = rules.status().not_ready_reason() {
        return Err(ProcessError::NoRules(reason));
    }
    let cache = LookupCache::new(
        connector,
        cache::CacheSettings {
            ttl: settings.cache.ttl,
            capacity: settings.cache.capacity,
        },
    );
    let pipeline = Pipeline::new(
        store.clone(),
        cache,
        rules,
        PipelineSettings::from(settings),
    );
    let (stop, stopping) = watch::channel(false);
    let workers = tokio::spawn(pipeline.run(stopping));
    let outcome = watch_until_settled(store.as_ref(), ids, progress).await;
    let _ = stop.send(true);
    if let Err(error) = workers.await {
        tracing::error!(%error, "the workers stopped abnormally");
    }
    outcome
}

async fn watch_until_settled(
    store: &dyn Store,
    ids: &[EventId],
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<Processed, ProcessError> {
    let mut last_settled = None;
    loop {
        let mut processed = Processed::default();
        for id in ids {
            let status = match store.event(*id).await? {
                Some(event) => event.status,
                None => continue,
            };
            *processed.statuses.entry(status.as_str()).or_default() += 1;
        }
        let waiting =
            processed.count(EventStatus::Queued) + processed.count(EventStatus::Processing);
        let settled = ids.len() - waiting;
        if last_settled != Some(settled) {
            progress(settled, ids.len());
            last_settled = Some(settled);
        }
        if waiting == 0 {
            return Ok(processed);
        }
        tokio::time::sleep(POLL).await;
    }
}
