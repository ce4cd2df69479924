//! Why an attempt at an event stopped, sorted by what happens next: retry
//! with backoff, dead-letter, pause the account, wait for a create in doubt,
//! or resolve a stale id again.

use chrono::{DateTime, Utc};

use crate::connector::{ConnectorError, CrmId, ObjectKind, StepKey};
use crate::rules::EvalError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Crm(#[from] ConnectorError),
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
    /// A rules script failed: retrying the same rules cannot help.
    #[error("the rules could not make a plan: {0}")]
    Rules(#[from] EvalError),
    /// The stored event cannot be read back.
    #[error("the stored event cannot be read: {0}")]
    Unreadable(String),
    /// A create was interrupted and the CRM's search may not show it yet:
    /// look again at `until` before creating anything.
    #[error("step {key} is in doubt: a {kind} may have been created; checking again after {until}")]
    InDoubt {
        key: StepKey,
        kind: ObjectKind,
        until: DateTime<Utc>,
    },
    /// Earlier attempts were claimed and never ended (the process died, or
    /// kept dying, while handling the event): give up rather than loop.
    #[error(
        "gave up after {0} attempts that did not finish (the process stopped or the lease expired)"
    )]
    Unfinished(i64),
    /// No rules are loaded (the event waits, `held`).
    #[error("no rules are loaded")]
    RulesNotLoaded,
    /// The event was claimed by another worker (our lease expired).
    #[error("the lease on the event was lost")]
    LeaseLost,
}

impl Failure {
    /// The record the CRM no longer has, when that is the failure.
    pub fn stale(&self) -> Option<(ObjectKind, &CrmId)> {
        match self {
            Failure::Crm(ConnectorError::NotFound { kind, id }) => Some((*kind, id)),
            _ => None,
        }
    }
}
