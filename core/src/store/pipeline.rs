//! The pipeline's records in the store: leases on claimed events, how an
//! attempt ends, the step journal, and the links from what Ringostat knows
//! to what the CRM holds.
//!
//! These are the store's side of the guarantees in DESIGN §3: an event is
//! worked on by one worker at a time (a lease, renewed while it runs, that
//! expires when its process dies), a create is recorded before and after it
//! is made (so a crash leaves it *in doubt*, never forgotten), and ids the
//! service created are found again after a restart while CRM search lags.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{EventId, EventStatus};
use crate::connector::{CrmId, ObjectKind, StepKey};

/// Who holds an event: one value per claim, so an event claimed again (after
/// its lease expired) is no longer written by the worker that lost it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeaseToken(pub String);

impl fmt::Display for LeaseToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A claim: who takes the events, until when, and how many at most.
#[derive(Debug, Clone)]
pub struct Claim {
    pub token: LeaseToken,
    pub now: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub limit: usize,
}

/// How an attempt at an event ends.
#[derive(Debug, Clone, PartialEq)]
pub enum Conclusion {
    /// Every step of the plan is done.
    Done,
    /// The plan asked for nothing, or the event is not for processing.
    Skipped { reason: String },
    /// Given up: the event is its own dead letter, with its last error.
    Dead { error: String },
    /// Failed transiently; try again at `at`.
    Retry { at: DateTime<Utc>, error: String },
    /// Not an attempt after all (the CRM account is paused, shutdown, a
    /// create in doubt must wait for search to catch up): the event goes
    /// back unharmed, and its attempt is not counted.
    Release {
        status: EventStatus,
        at: Option<DateTime<Utc>>,
        reason: Option<String>,
    },
}

/// What asking for a replay did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayOutcome {
    Requeued,
    NotFound,
    /// The event cannot be replayed in this status (being processed, held).
    Refused(EventStatus),
}

/// What became of one step of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    /// A create is about to be (or was) sent; its id is not known yet.
    Intent,
    /// The step created `crm_id`.
    Created,
    /// The step found an existing record (`crm_id`) instead of creating one.
    Found,
    /// The step changed an existing record (`crm_id`).
    Updated,
    /// The step had nothing to act on (see `detail`).
    Skipped,
}

impl StepOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            StepOutcome::Intent => "intent",
            StepOutcome::Created => "created",
            StepOutcome::Found => "found",
            StepOutcome::Updated => "updated",
            StepOutcome::Skipped => "skipped",
        }
    }
}

impl FromStr for StepOutcome {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            StepOutcome::Intent,
            StepOutcome::Created,
            StepOutcome::Found,
            StepOutcome::Updated,
            StepOutcome::Skipped,
        ]
        .into_iter()
        .find(|outcome| outcome.as_str() == s)
        .ok_or_else(|| format!("unknown step outcome {s:?}"))
    }
}

/// One row of the step journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub key: StepKey,
    pub event_id: EventId,
    /// Index of the action in the plan that recorded it.
    pub position: usize,
    /// The action's name (`log_call`).
    pub action: String,
    pub object_kind: Option<ObjectKind>,
    pub outcome: StepOutcome,
    pub crm_id: Option<CrmId>,
    /// Why a step was skipped, or what it changed.
    pub detail: Option<String>,
    pub intent_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
}

impl StepRecord {
    /// A create that was started and whose result is unknown.
    pub fn in_doubt(&self) -> bool {
        self.outcome == StepOutcome::Intent
    }
}

/// The kinds of links the store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// A client number (E.164) → its contact.
    PhoneContact,
    /// A contact id → its open deal.
    ContactDeal,
    /// A Ringostat call id → the call logged for it.
    CallLog,
}

impl LinkKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            LinkKind::PhoneContact => "phone_contact",
            LinkKind::ContactDeal => "contact_deal",
            LinkKind::CallLog => "call_log",
        }
    }
}

/// One stored link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub crm_id: CrmId,
    /// The event that made the link.
    pub event_id: Option<EventId>,
}

/// `ObjectKind` as stored in the journal.
pub(crate) fn parse_object_kind(text: &str) -> Option<ObjectKind> {
    [
        ObjectKind::Contact,
        ObjectKind::Deal,
        ObjectKind::Call,
        ObjectKind::Task,
        ObjectKind::Note,
    ]
    .into_iter()
    .find(|kind| kind.as_str() == text)
}
