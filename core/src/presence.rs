//! Presence: every running `serve` holds a lease named `instance/<id>` in
//! its store, renewed while it runs and given up when it stops, so that a
//! command working on the same store (`switchboard backfill`) can tell
//! whether a service is there to process what it queues.
//!
//! A service killed with SIGKILL leaves its lease behind until it expires
//! (`worker.lease`): for that long a command still believes it runs. What
//! such a command queues is safe either way: it waits in the inbox for the
//! next start.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::store::{JobLease, Store, StoreError};

/// Presence leases are named `instance/<id>`.
pub const PREFIX: &str = "instance/";

/// The presence of one service.
pub struct Presence {
    store: Arc<dyn Store>,
    name: String,
    instance: String,
    lease: Duration,
}

impl Presence {
    /// `lease`: how long the presence outlives the last renewal.
    pub fn new(store: Arc<dyn Store>, instance: &str, lease: Duration) -> Presence {
        Presence {
            store,
            name: format!("{PREFIX}{instance}"),
            instance: instance.to_string(),
            lease,
        }
    }

    /// Holds the presence lease until `stop` turns true, then gives it up.
    pub async fn hold(self, mut stop: watch::Receiver<bool>) {
        let lease = chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::minutes(1));
        let mut renew = tokio::time::interval((self.lease / 3).max(Duration::from_millis(10)));
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = renew.tick() => {
                    let now = Utc::now();
                    if let Err(error) = self.store.take_lease(&self.name, &self.instance, now, now + lease).await {
                        tracing::warn!(%error, "cannot renew this service's presence in the store");
                    }
                }
                changed = stop.changed() => if changed.is_err() || *stop.borrow() { break },
            }
        }
        if let Err(error) = self.store.release_lease(&self.name, &self.instance).await {
            tracing::warn!(%error, "cannot give up this service's presence in the store");
        }
    }
}

/// The services running on `store` now.
pub async fn running_services(
    store: &dyn Store,
    now: DateTime<Utc>,
) -> Result<Vec<JobLease>, StoreError> {
    store.live_leases(PREFIX, now).await
}
