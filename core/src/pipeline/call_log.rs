//! The call log of an event: how the call ended, who called whom, how long
//! they talked and where the recording is, in the connector's neutral words.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::connector::{CallLog, CallOutcome, CrmId, OwnerId, StepKey};
use crate::event::{CallEvent, Direction, EventKind};
use crate::plan::CallLogAction;

/// What the executor knows besides the event and the action.
pub(crate) struct Parties {
    pub step_key: StepKey,
    pub owner: Option<OwnerId>,
    pub contact: Option<CrmId>,
    pub deal: Option<CrmId>,
    /// When the event arrived: the call's time when Ringostat sent none.
    pub received_at: DateTime<Utc>,
}

pub(crate) fn call_log(event: &CallEvent, action: &CallLogAction, parties: Parties) -> CallLog {
    let outcome = outcome(event);
    let client = event
        .client
        .e164
        .as_ref()
        .map(|phone| phone.as_str().to_string())
        .or_else(|| event.client.raw.clone());
    let company = event
        .employee
        .phone
        .as_ref()
        .map(|phone| phone.as_str().to_string())
        .or_else(|| event.tracking_number.clone());
    let (from_number, to_number) = match event.direction {
        Direction::Incoming => (client, event.tracking_number.clone().or(company)),
        Direction::Outgoing => (company, client),
    };
    // A call nobody talked on has nothing worth listening to.
    let recording_url = (action.recording && event.answered)
        .then(|| event.recording_url.clone())
        .flatten();
    CallLog {
        step_key: parties.step_key,
        timestamp: event
            .call_time
            .map(|time| time.with_timezone(&Utc))
            .unwrap_or(parties.received_at),
        direction: event.direction,
        outcome,
        duration: event
            .talk_seconds
            .map(|s| Duration::from_secs(u64::from(s))),
        from_number,
        to_number,
        recording_url,
        title: action.title.clone(),
        body: action.body.clone(),
        owner: parties.owner,
        contact: parties.contact,
        deal: parties.deal,
    }
}

/// Ringostat's moment and status in the connector's words. A pick-up is a
/// call still going; after the call, the disposition says how it ended.
pub(crate) fn outcome(event: &CallEvent) -> CallOutcome {
    if event.kind == EventKind::Pickup {
        return CallOutcome::InProgress;
    }
    if event.answered {
        return CallOutcome::Connected;
    }
    let Some(disposition) = &event.disposition else {
        return CallOutcome::NoAnswer;
    };
    match disposition.as_str() {
        "BUSY" => CallOutcome::Busy,
        "VOICEMAIL" => CallOutcome::Voicemail,
        "IN PROGRESS" => CallOutcome::InProgress,
        "FAILED" | "NO FORWARD" | "NO EXTENSION" | "WRONG EXTENSION" | "DECLINE" => {
            CallOutcome::Failed
        }
        other if other.starts_with("FAILED") => CallOutcome::Failed,
        _ => CallOutcome::NoAnswer,
    }
}
