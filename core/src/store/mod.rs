//! The store: the durable inbox of events, the record of rejected payloads,
//! and the pipeline's records (leases, step journal, links), behind one
//! trait so that a PostgreSQL implementation can join the SQLite one without
//! touching its callers.
//!
//! An event is answered `200` only after the store says it is committed, so
//! everything a caller gets back from [`Store::insert_event`] survives a
//! killed process. Inserting is idempotent on (call id, event kind). The
//! same holds for every pipeline write: a step's intent is durable before
//! the CRM request it announces is sent.

mod group_commit;
mod lease;
mod pipeline;
mod source;
mod sqlite;
mod status;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::config::StoreUrl;
use crate::connector::CrmId;
use crate::event::CallEvent;
use crate::intake::{RawPayload, Received, Refused};

pub use lease::JobLease;
pub use pipeline::{
    Claim, Conclusion, LeaseToken, Link, LinkKind, ReplayOutcome, StepOutcome, StepRecord,
};
pub use source::{EventSource, UnknownSource};
pub use sqlite::SqliteStore;
pub use status::{EventStatus, UnknownStatus};

/// The inbox id of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(pub i64);

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An event about to enter the inbox.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event: CallEvent,
    pub raw: RawPayload,
    pub status: EventStatus,
    /// Why the status is what it is, when that is not obvious (`skipped`).
    pub status_reason: Option<String>,
    pub received_at: DateTime<Utc>,
    pub source: EventSource,
}

impl NewEvent {
    /// Moments the rules handle are queued; the others are kept, skipped.
    /// (While no rules are loaded the server holds them instead, see
    /// [`NewEvent::held`].)
    pub fn from_received(received: Received, received_at: DateTime<Utc>) -> NewEvent {
        let Received { event, raw } = received;
        let (status, status_reason) = if event.kind.is_processed() {
            (EventStatus::Queued, None)
        } else {
            (
                EventStatus::Skipped,
                Some(format!(
                    "event kind {:?} is not processed",
                    event.kind.as_str()
                )),
            )
        };
        NewEvent {
            event,
            raw,
            status,
            status_reason,
            received_at,
            source: EventSource::Webhook,
        }
    }

    /// The event came from Ringostat's call log, not from its webhook.
    pub fn from_call_log(mut self) -> NewEvent {
        self.source = EventSource::Backfill;
        self
    }
}

impl NewEvent {
    /// The event waits for rules: a queued event becomes `held`.
    pub fn held(mut self) -> NewEvent {
        if self.status == EventStatus::Queued {
            self.status = EventStatus::Held;
            self.status_reason = Some("no rules are loaded".to_string());
        }
        self
    }
}

/// The outcome of an idempotent insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inserted {
    pub id: EventId,
    /// The (call id, kind) was already there; nothing was written.
    pub duplicate: bool,
}

/// A payload that could not be decoded, about to be recorded.
#[derive(Debug, Clone)]
pub struct NewRejected {
    pub raw: RawPayload,
    pub reason: String,
    pub received_at: DateTime<Utc>,
}

impl NewRejected {
    pub fn from_refused(refused: Refused, received_at: DateTime<Utc>) -> NewRejected {
        NewRejected {
            reason: refused.reason.to_string(),
            raw: refused.raw,
            received_at,
        }
    }
}

/// The outcome of recording a rejected payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RejectedRecorded {
    pub id: i64,
    /// How often this exact payload has arrived.
    pub count: i64,
}

/// One event as the inbox holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub id: EventId,
    pub call_id: String,
    pub kind: String,
    pub status: EventStatus,
    pub status_reason: Option<String>,
    pub received_at: DateTime<Utc>,
    pub source: EventSource,
    /// The client's number in E.164, when the event has one.
    pub client_phone: Option<String>,
    pub raw: RawPayload,
    /// The normalized [`CallEvent`] as JSON (see [`StoredEvent::call_event`]).
    pub event: serde_json::Value,
    pub attempts: i64,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub plan: Option<serde_json::Value>,
    pub rules_version: Option<String>,
    /// The facts the latest attempt gathered.
    pub facts: Option<serde_json::Value>,
    pub updated_at: DateTime<Utc>,
    /// When the event reached `done`, `skipped` or `dead`.
    pub finished_at: Option<DateTime<Utc>>,
}

impl StoredEvent {
    pub fn call_event(&self) -> Result<CallEvent, serde_json::Error> {
        serde_json::from_value(self.event.clone())
    }
}

/// A recorded rejected payload.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedPayload {
    pub id: i64,
    pub payload_hash: String,
    pub raw: RawPayload,
    pub reason: String,
    pub count: i64,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

/// Filters of [`Store::list_events`]; newest first, `before` pages backwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    pub status: Option<EventStatus>,
    pub call_id: Option<String>,
    pub limit: u32,
    /// Only events with a smaller id (the last id of the previous page).
    pub before: Option<EventId>,
}

impl Default for EventQuery {
    fn default() -> Self {
        EventQuery {
            status: None,
            call_id: None,
            limit: 50,
            before: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store: {0}")]
    Open(#[source] sqlx::Error),
    #[error("cannot prepare the store's tables: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("store query failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the store's writer has stopped")]
    WriterStopped,
    /// The transaction a write was part of did not commit.
    #[error("commit failed: {0}")]
    Commit(String),
    #[error("stored data cannot be read: {0}")]
    Corrupt(String),
}

/// The inbox. Implementations commit durably before they return.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// Adds the event unless its (call id, kind) is already there; either way
    /// returns the id of the stored event.
    async fn insert_event(&self, event: NewEvent) -> Result<Inserted, StoreError>;

    /// Records a payload that could not be decoded, once per distinct
    /// payload (by hash); a repeat only counts up.
    async fn insert_rejected(&self, rejected: NewRejected) -> Result<RejectedRecorded, StoreError>;

    async fn event(&self, id: EventId) -> Result<Option<StoredEvent>, StoreError>;

    async fn list_events(&self, query: &EventQuery) -> Result<Vec<StoredEvent>, StoreError>;

    /// Rejected payloads, newest first.
    async fn list_rejected(
        &self,
        limit: u32,
        before: Option<i64>,
    ) -> Result<Vec<RejectedPayload>, StoreError>;

    /// Succeeds when the store can take a commit right now.
    async fn ping(&self) -> Result<(), StoreError>;

    // ---- the pipeline ---------------------------------------------------

    /// Takes up to `claim.limit` due events under a lease, oldest first, so
    /// that no client number has two events in flight and none overtakes an
    /// earlier unfinished event of its number. Due: queued; retrying whose
    /// time has come; processing whose lease expired. Each claim counts as
    /// an attempt.
    async fn claim(&self, claim: &Claim) -> Result<Vec<StoredEvent>, StoreError>;

    /// Extends a lease; `false` when the event is no longer held under it.
    async fn renew_lease(
        &self,
        id: EventId,
        token: &LeaseToken,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Records the plan and facts of the current attempt; `false` when the
    /// lease was lost.
    async fn record_plan(
        &self,
        id: EventId,
        token: &LeaseToken,
        plan: &serde_json::Value,
        facts: &serde_json::Value,
        rules_version: &str,
    ) -> Result<bool, StoreError>;

    /// Ends the current attempt; `false` when the lease was lost (another
    /// worker owns the event now, and this outcome is dropped).
    async fn conclude(
        &self,
        id: EventId,
        token: &LeaseToken,
        conclusion: Conclusion,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Moves every `held` event to `queued` (rules are loaded now).
    async fn release_held(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Moves every `paused` event to `queued` (the CRM account works again).
    async fn requeue_paused(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Queues one event again, to be re-evaluated with the current rules
    /// (its recorded plan is dropped; a retry, by contrast, resumes it).
    async fn replay(&self, id: EventId, now: DateTime<Utc>) -> Result<ReplayOutcome, StoreError>;

    /// Queues every dead-lettered event again; returns their ids.
    async fn replay_dead(&self, now: DateTime<Utc>) -> Result<Vec<EventId>, StoreError>;

    /// How many events have this status.
    async fn count_status(&self, status: EventStatus) -> Result<u64, StoreError>;

    // ---- the step journal -----------------------------------------------

    /// The journal of an event, in plan order.
    async fn steps(&self, id: EventId) -> Result<Vec<StepRecord>, StoreError>;

    /// Writes a journal row (replacing the row of the same step key).
    async fn record_step(&self, step: &StepRecord) -> Result<(), StoreError>;

    // ---- links ----------------------------------------------------------

    async fn link(&self, kind: LinkKind, key: &str) -> Result<Option<Link>, StoreError>;

    async fn set_link(
        &self,
        kind: LinkKind,
        key: &str,
        link: &Link,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Drops every link to `crm_id` of this kind (the CRM no longer has it).
    async fn drop_links_to(&self, kind: LinkKind, crm_id: &CrmId) -> Result<(), StoreError>;

    // ---- leases on jobs ---------------------------------------------------

    /// Takes the lease `name` for `holder` until `until` when it is free,
    /// expired at `now`, or already `holder`'s (a renewal); `true` when
    /// `holder` holds it now.
    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Gives the lease up, if `holder` holds it.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError>;

    /// The leases whose name starts with `prefix` and that are live at `now`.
    async fn live_leases(
        &self,
        prefix: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<JobLease>, StoreError>;
}

/// Opens (creating and migrating if needed) the store at `url`.
pub async fn open(url: &StoreUrl) -> Result<Arc<dyn Store>, StoreError> {
    match url {
        StoreUrl::Sqlite(url) => Ok(Arc::new(SqliteStore::open(url).await?)),
    }
}

/// The stored form of a time: RFC 3339 UTC with milliseconds, which sorts
/// as text.
pub(crate) fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("timestamp {text:?}: {e}")))
}
