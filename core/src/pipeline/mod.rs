//! The pipeline: from an event in the inbox to its records in the CRM.
//!
//! Workers claim events from the store (one per client number at a time, in
//! arrival order per number, many numbers in parallel), gather the facts the
//! rules need ([`facts`]), let the running rules make a plan, and carry it
//! out through the connector ([`executor`]), each create exactly once thanks
//! to the step journal ([`steps`]). Failures end an attempt in one of a few
//! ways ([`failure`]): a retry later with backoff ([`retry`]), a dead letter,
//! a pause of all processing when the CRM account refuses work ([`pause`]).
//!
//! [`Pipeline`] is built with the application and runs beside the HTTP
//! server until shutdown, when it lets events in flight finish (or releases
//! them) before returning.

mod call_log;
mod executor;
mod facts;
mod failure;
mod owners;
mod pause;
mod retry;
mod steps;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::cache::LookupCache;
use crate::config::Settings;
use crate::rules::RulesHandle;
use crate::store::Store;

pub use pause::{PauseState, Paused};
pub use retry::RetryPolicy;

/// The pipeline's knobs (`worker.*` and `retry.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineSettings {
    pub concurrency: usize,
    pub lease: Duration,
    pub poll_interval: Duration,
    pub reconcile_delay: Duration,
    pub pause_probe: Duration,
    pub shutdown_grace: Duration,
    pub retry: RetryPolicy,
}

impl From<&Settings> for PipelineSettings {
    fn from(settings: &Settings) -> Self {
        let worker = &settings.worker;
        PipelineSettings {
            concurrency: worker.concurrency.max(1),
            lease: worker.lease,
            poll_interval: worker.poll_interval,
            reconcile_delay: worker.reconcile_delay,
            pause_probe: worker.pause_probe,
            shutdown_grace: worker.shutdown_grace,
            retry: RetryPolicy::from(&settings.retry),
        }
    }
}

/// What every worker shares.
pub(crate) struct Context {
    pub store: Arc<dyn Store>,
    pub cache: LookupCache,
    pub rules: RulesHandle,
    pub pause: PauseState,
    pub settings: PipelineSettings,
    pub wake: Arc<Notify>,
}

/// The workers of one service, built but not yet running.
pub struct Pipeline {
    context: Arc<Context>,
}

impl Pipeline {
    pub fn new(
        store: Arc<dyn Store>,
        cache: LookupCache,
        rules: RulesHandle,
        settings: PipelineSettings,
    ) -> Pipeline {
        Pipeline {
            context: Arc::new(Context {
                store,
                cache,
                rules,
                pause: PauseState::default(),
                settings,
                wake: Arc::new(Notify::new()),
            }),
        }
    }

    /// Wakes the workers: the intake calls it for every new event, so no
    /// one waits for the next poll.
    pub fn waker(&self) -> Arc<Notify> {
        self.context.wake.clone()
    }

    /// Whether (and why) processing is paused, for `/readyz`.
    pub fn pause_state(&self) -> PauseState {
        self.context.pause.clone()
    }

    /// Runs until `stop` turns true, then finishes or releases the events
    /// in flight (within `worker.shutdown_grace`) and returns.
    pub async fn run(self, stop: watch::Receiver<bool>) {
        worker::run(self.context, stop).await;
    }
}
