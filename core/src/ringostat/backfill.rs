//! A backfill: every call Ringostat's call log has for a period goes through
//! the same intake as a webhook, as an `after_call` event, into the inbox.
//! The inbox is idempotent on (call id, kind), so a call whose webhook came
//! (before or after) stays one event: a known call changes nothing, a new
//! one is queued for the workers like any webhook.
//!
//! The period is read window by window ([`super::windows`]); calls seen in
//! two windows (they share a boundary second) count once. `switchboard
//! backfill` runs one by hand; reconciliation in `serve` runs one over the
//! recent past, leaving the calls that are still settling to their webhook.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::{StreamExt, stream};
use tokio::sync::Notify;

use super::client::CallLogClient;
use super::error::RingostatError;
use super::windows::{Next, Period, Window};
use crate::event::EventKind;
use crate::intake::{Intake, Received};
use crate::store::{EventId, EventQuery, NewEvent, NewRejected, Store, StoreError};

/// Inserts (or dry-run lookups) in flight at once: enough for the group
/// commit to fold a window's calls into a few transactions.
const IN_FLIGHT: usize = 64;

/// Where the calls go.
#[derive(Clone)]
pub enum Destination {
    /// Into the inbox; new events wake the workers, when there are any.
    Inbox {
        store: Arc<dyn Store>,
        wake: Option<Arc<Notify>>,
    },
    /// Nowhere: the calls are only compared with the inbox, when there is
    /// one, and counted.
    DryRun { store: Option<Arc<dyn Store>> },
}

/// How far a backfill has come, after each window it kept.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub window: Window,
    /// Calls in this window.
    pub calls: usize,
    /// Windows read so far.
    pub windows: usize,
    /// Distinct calls seen so far.
    pub found: usize,
}

/// What a backfill found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Windows read (a window read again in halves counts once per half).
    pub windows: usize,
    /// Distinct calls in the period.
    pub found: usize,
    /// Calls the inbox did not have: queued (or, in a dry run, would be).
    pub new: usize,
    /// The inbox ids of the new events (none in a dry run).
    pub queued: Vec<EventId>,
    /// Calls the inbox had already (their webhook came, or an earlier backfill).
    pub known: usize,
    /// Calls younger than the settling time, left to their webhook.
    pub settling: usize,
    /// Records that cannot become an event, by reason.
    pub rejected: BTreeMap<String, usize>,
    /// Fields the project refused, which the records lack.
    pub refused_fields: Vec<String>,
}

impl Summary {
    pub fn rejected_total(&self) -> usize {
        self.rejected.values().sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error(transparent)]
    Ringostat(#[from] RingostatError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reads the call log of one project into its inbox.
#[derive(Debug, Clone)]
pub struct Backfill {
    client: Arc<CallLogClient>,
    intake: Intake,
}

impl Backfill {
    /// `intake` must be [`Intake::call_log`]'s.
    pub fn new(client: Arc<CallLogClient>, intake: Intake) -> Backfill {
        Backfill { client, intake }
    }

    /// Reads `period` into `destination`. Calls whose time is after
    /// `not_after` are left out (and counted as settling). `progress` hears
    /// of every window kept.
    pub async fn run(
        &self,
        period: &Period,
        destination: &Destination,
        not_after: Option<DateTime<Utc>>,
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<Summary, BackfillError> {
        let mut windows = period.windows();
        let mut seen: HashSet<String> = HashSet::new();
        let mut summary = Summary::default();
        while let Some(window) = windows.next_window() {
            let records = self.client.calls(&window).await?;
            if windows.answered(window, records.len())? == Next::Halve {
                tracing::debug!(window = %window, calls = records.len(), "a full answer: reading the window in halves");
                continue;
            }
            summary.windows += 1;
            let mut fresh = Vec::new();
            for record in &records {
                match self.intake.receive_record(record) {
                    Ok(received) => {
                        if !seen.insert(received.event.call_id.clone()) {
                            continue;
                        }
                        summary.found += 1;
                        let settling = not_after
                            .zip(received.event.call_time)
                            .is_some_and(|(limit, time)| time > limit);
                        if settling {
                            summary.settling += 1;
                            count("settling", 1, destination);
                        } else {
                            fresh.push(received);
                        }
                    }
                    Err(refused) => {
                        if !seen.insert(format!("rejected {}", refused.raw.hash())) {
                            continue;
                        }
                        summary.found += 1;
                        let reason = refused.reason.to_string();
                        tracing::warn!(window = %window, reason, "a call log record cannot become an event");
                        *summary.rejected.entry(reason).or_default() += 1;
                        count("rejected", 1, destination);
                        if let Destination::Inbox { store, .. } = destination {
                            store
                                .insert_rejected(NewRejected::from_refused(*refused, Utc::now()))
                                .await?;
                        }
                    }
                }
            }
            self.take(fresh, destination, &mut summary).await?;
            progress(&Progress {
                window,
                calls: records.len(),
                windows: summary.windows,
                found: summary.found,
            });
        }
        summary.refused_fields = self.client.refused_fields();
        Ok(summary)
    }

    /// Queues the new calls of one window (or, in a dry run, finds out
    /// which are new).
    async fn take(
        &self,
        calls: Vec<Received>,
        destination: &Destination,
        summary: &mut Summary,
    ) -> Result<(), StoreError> {
        let (mut new, mut known) = (0, 0);
        match destination {
            Destination::Inbox { store, wake } => {
                let received_at = Utc::now();
                let inserts = stream::iter(calls)
                    .map(|received| {
                        let store = store.clone();
                        async move {
                            let event = NewEvent::from_received(received, received_at);
                            let status = event.status;
                            store
                                .insert_event(event.from_call_log())
                                .await
                                .map(|inserted| (inserted, status))
                        }
                    })
                    .buffered(IN_FLIGHT)
                    .collect::<Vec<_>>()
                    .await;
                for outcome in inserts {
                    let (inserted, status) = outcome?;
                    if inserted.duplicate {
                        known += 1;
                    } else {
                        new += 1;
                        summary.queued.push(inserted.id);
                        metrics::counter!("switchboard_events_total", "status" => status.as_str())
                            .increment(1);
                    }
                }
                if new > 0
                    && let Some(wake) = wake
                {
                    wake.notify_one();
                }
            }
            Destination::DryRun { store } => {
                let lookups = stream::iter(calls)
                    .map(|received| known_call(store.as_ref(), received.event.call_id))
                    .buffered(IN_FLIGHT)
                    .collect::<Vec<_>>()
                    .await;
                for outcome in lookups {
                    if outcome? {
                        known += 1;
                    } else {
                        new += 1;
                    }
                }
            }
        }
        summary.new += new;
        summary.known += known;
        count("new", new, destination);
        count("known", known, destination);
        Ok(())
    }
}

/// Whether the inbox has the call's after-call event.
async fn known_call(store: Option<&Arc<dyn Store>>, call_id: String) -> Result<bool, StoreError> {
    let Some(store) = store else {
        return Ok(false);
    };
    let query = EventQuery {
        call_id: Some(call_id),
        limit: 20,
        ..EventQuery::default()
    };
    let events = store.list_events(&query).await?;
    Ok(events
        .iter()
        .any(|event| event.kind == EventKind::AfterCall.as_str()))
}

/// `switchboard_backfill_calls_total{result}`; a dry run counts nothing.
fn count(result: &'static str, calls: usize, destination: &Destination) {
    if calls > 0 && matches!(destination, Destination::Inbox { .. }) {
        metrics::counter!("switchboard_backfill_calls_total", "result" => result)
            .increment(calls as u64);
    }
}
