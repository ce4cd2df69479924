//! The connector API: the one trait a CRM plugin implements.
//!
//! The executor speaks to every CRM in the same neutral words (find a contact
//! by phone, create a deal, log a call, ...). A connector translates them into
//! its CRM's requests and its CRM's failures into [`ConnectorError`], whose
//! variants tell the executor what to do next (retry, pause, drop a stale id,
//! give up). A connector never decides *what* to do; the rules did.
//!
//! Every create carries a [`StepKey`] that the connector writes into the
//! created object and can look up again ([`Connector::find_by_step_key`]), so
//! that a create interrupted by a crash can be reconciled instead of repeated.
//!
//! [`registry`] builds a connector by name from configuration; [`dry_run`] is
//! the connector that only records what it would do.

pub mod dry_run;
pub mod registry;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::Direction;
use crate::phone::E164;
use crate::plan::{OwnerSpec, Priority};

/// An object id in the CRM (HubSpot ids are numeric strings).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CrmId(pub String);

impl fmt::Display for CrmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An owner (CRM user) id, as written into records' owner field.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OwnerId(pub String);

impl fmt::Display for OwnerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The idempotency key of one create: derived from the event id and the step,
/// written into the created object, looked up to reconcile after a crash.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StepKey(pub String);

impl StepKey {
    /// `sb-<event id>-<step index>-<action>`: unique per event and step, stable
    /// across retries and replays of the same event.
    pub fn new(event_id: i64, step: usize, action: &str) -> StepKey {
        StepKey(format!("sb-{event_id}-{step}-{action}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StepKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The kinds of CRM objects Switchboard creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Contact,
    Deal,
    Call,
    Task,
    Note,
}

impl ObjectKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            ObjectKind::Contact => "contact",
            ObjectKind::Deal => "deal",
            ObjectKind::Call => "call",
            ObjectKind::Task => "task",
            ObjectKind::Note => "note",
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A contact as the executor needs to see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactRecord {
    pub id: CrmId,
    pub owner: Option<OwnerId>,
    pub name: Option<String>,
}

/// A deal as the executor needs to see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DealRecord {
    pub id: CrmId,
    pub owner: Option<OwnerId>,
    pub name: Option<String>,
    pub pipeline: Option<String>,
    pub stage: Option<String>,
    /// False once the deal is in a closed (won or lost) stage.
    pub is_open: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewContact {
    pub step_key: StepKey,
    pub phone: E164,
    pub name: String,
    pub owner: Option<OwnerId>,
    pub properties: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDeal {
    pub step_key: StepKey,
    pub name: String,
    pub pipeline: String,
    pub stage: String,
    pub owner: Option<OwnerId>,
    pub properties: BTreeMap<String, String>,
    /// The contact the deal belongs to (associated on create).
    pub contact: CrmId,
}

/// How the call ended, in CRM-neutral words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// A conversation took place.
    Connected,
    /// Still going (a pick-up event).
    InProgress,
    NoAnswer,
    Busy,
    Voicemail,
    Failed,
}

/// A call to log on the client's records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallLog {
    pub step_key: StepKey,
    /// When the call started.
    pub timestamp: DateTime<Utc>,
    pub direction: Direction,
    pub outcome: CallOutcome,
    /// Talk time.
    pub duration: Option<Duration>,
    /// Who dialled (client on incoming calls, employee or company on outgoing).
    pub from_number: Option<String>,
    pub to_number: Option<String>,
    pub recording_url: Option<String>,
    pub title: String,
    pub body: String,
    pub owner: Option<OwnerId>,
    pub contact: Option<CrmId>,
    pub deal: Option<CrmId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTask {
    pub step_key: StepKey,
    pub subject: String,
    pub body: String,
    pub due: DateTime<Utc>,
    pub priority: Priority,
    pub owner: Option<OwnerId>,
    pub contact: Option<CrmId>,
    pub deal: Option<CrmId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewNote {
    pub step_key: StepKey,
    pub body: String,
    pub timestamp: DateTime<Utc>,
    pub owner: Option<OwnerId>,
    pub contact: Option<CrmId>,
    pub deal: Option<CrmId>,
}

/// A CRM object the executor refers to after creating or finding it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    pub kind: ObjectKind,
    pub id: CrmId,
}

/// What `health_check` learnt about the account (shown by `hubspot doctor`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReport {
    /// One line per check: (what was checked, whether it passed, detail).
    pub checks: Vec<HealthCheck>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

impl HealthReport {
    pub fn is_healthy(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }
}

/// Failures that stop the whole account, not one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountIssue {
    /// The token is missing, wrong, revoked or expired.
    BadToken,
    /// The token lacks a scope the operation needs.
    MissingScopes,
    /// The account's daily request quota is spent.
    DailyLimit,
}

impl fmt::Display for AccountIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AccountIssue::BadToken => "the CRM token is invalid or revoked",
            AccountIssue::MissingScopes => "the CRM token lacks required scopes",
            AccountIssue::DailyLimit => "the CRM account's daily request limit is spent",
        })
    }
}

/// Why a connector operation failed, sorted by what the executor must do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// Worth retrying with backoff (5xx, timeout, connection refused).
    #[error("temporary CRM failure: {message}")]
    Transient {
        message: String,
        retry_after: Option<Duration>,
    },
    /// The CRM's rate limit was hit; retry after the given delay.
    #[error("CRM rate limit reached ({policy})")]
    RateLimited {
        policy: String,
        retry_after: Option<Duration>,
    },
    /// The object already exists (a unique value is taken); `existing` is its id.
    #[error("already exists in the CRM as {existing}: {message}")]
    Conflict { existing: CrmId, message: String },
    /// An id the executor had (cached or stored) no longer exists in the CRM.
    #[error("{kind} {id} no longer exists in the CRM")]
    NotFound { kind: ObjectKind, id: CrmId },
    /// The CRM refused the request as malformed; retrying cannot help.
    #[error("the CRM rejected the request: {message}")]
    InvalidRequest {
        /// The CRM's error code (`PROPERTY_DOESNT_EXIST`, `INVALID_OPTION`, ...).
        code: Option<String>,
        message: String,
    },
    /// The account as a whole cannot be used: pause all processing.
    #[error("{issue}: {message}")]
    AccountWide {
        issue: AccountIssue,
        message: String,
    },
}

impl ConnectorError {
    /// Transient failures and rate limits are retried; the rest are not.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ConnectorError::Transient { .. } | ConnectorError::RateLimited { .. }
        )
    }

    /// The delay the CRM asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ConnectorError::Transient { retry_after, .. }
            | ConnectorError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// A CRM, in the executor's words. Implement this (and pass the conformance
/// suite in `switchboard_core::testkit`) to add a CRM.
///
/// Contract for implementors:
/// - `find_*` and `get_*` return `Ok(None)` for "not there"; `get_*` of an id
///   that was deleted or merged away is `Ok(None)`, not an error.
/// - Creates write the [`StepKey`] into the object so that
///   [`find_by_step_key`](Connector::find_by_step_key) finds it, and associate
///   the new object with the contact/deal given, in the same request where the
///   CRM allows it.
/// - `find_open_deals` returns open deals only, most recently created first
///   (ties by id), so that every caller picks the same deal.
/// - `find_contact_by_phone` finds a contact however the number was typed in
///   the CRM, and when several match picks deterministically (documented by
///   the connector).
#[async_trait]
pub trait Connector: Send + Sync + 'static {
    /// The name it is registered and configured under (`hubspot`).
    fn name(&self) -> &str;

    async fn find_contact_by_phone(
        &self,
        phone: &E164,
    ) -> Result<Option<ContactRecord>, ConnectorError>;

    async fn get_contact(&self, id: &CrmId) -> Result<Option<ContactRecord>, ConnectorError>;

    async fn create_contact(&self, contact: &NewContact) -> Result<ContactRecord, ConnectorError>;

    async fn find_open_deals(&self, contact: &CrmId) -> Result<Vec<DealRecord>, ConnectorError>;

    async fn get_deal(&self, id: &CrmId) -> Result<Option<DealRecord>, ConnectorError>;

    async fn create_deal(&self, deal: &NewDeal) -> Result<DealRecord, ConnectorError>;

    async fn log_call(&self, call: &CallLog) -> Result<CrmId, ConnectorError>;

    /// Completes or corrects a logged call (a pick-up event's call log, when
    /// the after-call event brings duration and recording).
    async fn update_call(&self, id: &CrmId, call: &CallLog) -> Result<(), ConnectorError>;

    async fn create_task(&self, task: &NewTask) -> Result<CrmId, ConnectorError>;

    async fn add_note(&self, note: &NewNote) -> Result<CrmId, ConnectorError>;

    async fn update_properties(
        &self,
        target: &ObjectRef,
        properties: &BTreeMap<String, String>,
    ) -> Result<(), ConnectorError>;

    async fn set_owner(&self, target: &ObjectRef, owner: &OwnerId) -> Result<(), ConnectorError>;

    /// The owner id for an email or id from the rules; `Ok(None)` when the CRM
    /// has no such (active) owner.
    async fn resolve_owner(&self, owner: &OwnerSpec) -> Result<Option<OwnerId>, ConnectorError>;

    /// The object created with this step key, if any (reconciliation after a
    /// crash left a create in doubt).
    async fn find_by_step_key(
        &self,
        kind: ObjectKind,
        key: &StepKey,
    ) -> Result<Option<CrmId>, ConnectorError>;

    /// Checks that the account is usable (token, scopes, ...).
    async fn health_check(&self) -> Result<HealthReport, ConnectorError>;
}
