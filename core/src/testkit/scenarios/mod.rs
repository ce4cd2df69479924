//! The scenarios, and the small vocabulary they are written in.

mod failures;
mod lookups;
mod writes;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use futures_util::future::BoxFuture;

use super::Harness;
use crate::connector::{
    CallLog, CallOutcome, ConnectorError, CrmId, NewContact, NewDeal, NewNote, NewTask, ObjectKind,
    StepKey,
};
use crate::event::Direction;
use crate::phone::{E164, Region};
use crate::plan::Priority;

/// What a scenario ends with: `Err` says what was wrong.
pub type Outcome = Result<(), String>;

/// One named scenario.
pub struct Scenario {
    pub name: &'static str,
    pub run: for<'a> fn(&'a dyn Harness) -> BoxFuture<'a, Outcome>,
}

macro_rules! scenario {
    ($module:ident :: $name:ident) => {
        Scenario {
            name: stringify!($name),
            run: |h| Box::pin($module::$name(h)),
        }
    };
}

/// Every scenario, in the order the suite runs them.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario!(lookups::finds_a_contact_however_its_number_was_typed),
        scenario!(lookups::calls_from_known_numbers_create_nothing),
        scenario!(lookups::a_number_nobody_has_is_not_found),
        scenario!(lookups::duplicates_resolve_to_the_same_contact_every_time),
        scenario!(lookups::open_deals_come_newest_first_without_closed_ones),
        scenario!(lookups::owners_resolve_by_email_and_id),
        scenario!(writes::concurrent_callers_create_one_contact),
        scenario!(writes::twenty_events_for_five_new_numbers_make_five_contacts_and_five_deals),
        scenario!(writes::call_task_and_note_are_linked_to_contact_and_deal),
        scenario!(writes::every_create_is_found_by_its_step_key),
        scenario!(writes::a_repeated_create_with_the_same_step_key_makes_no_second_record),
        scenario!(writes::updates_and_owner_changes_land),
        scenario!(failures::rate_limits_are_waited_out),
        scenario!(failures::server_errors_are_retried_or_reported_as_transient),
        scenario!(failures::a_lost_answer_never_duplicates_a_call),
        scenario!(failures::a_deleted_contact_is_dropped_and_resolved_again),
        scenario!(failures::a_revoked_token_stops_the_account),
    ]
}

/// `ensure!(condition, "message {}", x)`: fail the scenario unless it holds.
macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err(format!($($arg)+));
        }
    };
}
pub(crate) use ensure;

pub(super) fn phone(raw: &str) -> Result<E164, String> {
    E164::parse(raw, Region::default()).map_err(|e| e.to_string())
}

/// An operation that must succeed.
pub(super) fn ok<T>(result: Result<T, ConnectorError>, what: &str) -> Result<T, String> {
    result.map_err(|e| format!("{what} failed: {e}"))
}

/// Polls `probe` until it yields a value or `within` has passed.
pub(super) async fn eventually<T, F, Fut>(
    within: Duration,
    mut probe: F,
) -> Result<Option<T>, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, ConnectorError>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match probe().await {
            Ok(Some(found)) => return Ok(Some(found)),
            Ok(None) if tokio::time::Instant::now() >= deadline => return Ok(None),
            Ok(None) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) if e.is_retryable() && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => return Err(format!("lookup failed: {e}")),
        }
    }
}

/// How long a record may take to show in search, with a margin.
pub(super) fn visibility(h: &dyn Harness) -> Duration {
    h.search_lag() + Duration::from_secs(2)
}

/// Creates like the executor does: on a retryable failure, look the step
/// key up before trying again, so that a create that landed is not repeated.
pub(super) async fn create_reconciled<F, Fut>(
    h: &dyn Harness,
    kind: ObjectKind,
    key: &StepKey,
    mut create: F,
) -> Result<CrmId, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<CrmId, ConnectorError>>,
{
    for _ in 0..5 {
        match create().await {
            Ok(id) => return Ok(id),
            Err(ConnectorError::Conflict { existing, .. }) => return Ok(existing),
            Err(e) if e.is_retryable() => {
                let connector = h.connector();
                let found =
                    eventually(visibility(h), || connector.find_by_step_key(kind, key)).await?;
                if let Some(id) = found {
                    return Ok(id);
                }
            }
            Err(e) => return Err(format!("create {kind} failed: {e}")),
        }
    }
    Err(format!("create {kind} kept failing"))
}

/// Logs a call like the executor does ([`create_reconciled`]).
pub(super) async fn log_call_reconciled(h: &dyn Harness, key: &str) -> Result<CrmId, String> {
    let crm = h.connector();
    let log = call_log(key, None, None);
    let step_key = log.step_key.clone();
    create_reconciled(h, ObjectKind::Call, &step_key, || {
        let crm = crm.clone();
        let log = log.clone();
        async move { crm.log_call(&log).await }
    })
    .await
}

pub(super) fn new_contact(phone: &E164, key: &str) -> NewContact {
    NewContact {
        step_key: StepKey(key.into()),
        phone: phone.clone(),
        name: phone.international_format(),
        owner: None,
        properties: BTreeMap::new(),
    }
}

pub(super) fn new_deal(contact: &CrmId, key: &str) -> NewDeal {
    NewDeal {
        step_key: StepKey(key.into()),
        name: "Call from a new client".into(),
        pipeline: "default".into(),
        stage: "appointmentscheduled".into(),
        owner: None,
        properties: BTreeMap::new(),
        contact: contact.clone(),
    }
}

pub(super) fn call_log(key: &str, contact: Option<&CrmId>, deal: Option<&CrmId>) -> CallLog {
    CallLog {
        step_key: StepKey(key.into()),
        timestamp: Utc::now(),
        direction: Direction::Incoming,
        outcome: CallOutcome::Connected,
        duration: Some(Duration::from_secs(42)),
        from_number: Some("+380671234567".into()),
        to_number: Some("+380443334455".into()),
        recording_url: Some("https://records.example/call.mp3".into()),
        title: "Incoming call".into(),
        body: "Answered by the sales team".into(),
        owner: None,
        contact: contact.cloned(),
        deal: deal.cloned(),
    }
}

pub(super) fn new_task(key: &str, contact: Option<&CrmId>, deal: Option<&CrmId>) -> NewTask {
    NewTask {
        step_key: StepKey(key.into()),
        subject: "Call the client back".into(),
        body: "Missed call".into(),
        due: Utc::now() + chrono::Duration::hours(4),
        priority: Priority::High,
        owner: None,
        contact: contact.cloned(),
        deal: deal.cloned(),
    }
}

pub(super) fn new_note(key: &str, contact: Option<&CrmId>, deal: Option<&CrmId>) -> NewNote {
    NewNote {
        step_key: StepKey(key.into()),
        body: "Answered by another manager".into(),
        timestamp: Utc::now(),
        owner: None,
        contact: contact.cloned(),
        deal: deal.cloned(),
    }
}
