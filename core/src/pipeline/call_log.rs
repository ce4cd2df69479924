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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::intake::{Intake, WebhookRequest};

    fn event(query: &str, body: &str) -> CallEvent {
        Intake::new(&Settings::default())
            .receive(&WebhookRequest {
                method: "POST",
                query: Some(query),
                content_type: Some("application/json"),
                body: body.as_bytes(),
            })
            .expect("decodable")
            .event
    }

    fn action(recording: bool) -> CallLogAction {
        CallLogAction {
            title: "Ringostat call".into(),
            body: "body".into(),
            recording,
            owner: None,
            attach: Default::default(),
        }
    }

    fn log(event: &CallEvent, recording: bool) -> CallLog {
        call_log(
            event,
            &action(recording),
            Parties {
                step_key: StepKey::new(1, 0, "log_call"),
                owner: None,
                contact: Some(CrmId("c".into())),
                deal: None,
                received_at: Utc::now(),
            },
        )
    }

    const ANSWERED_IN: &str = r#"{"uniqueid":"1","call_type":"in","caller":"380671234567","dst":"380441112233",
        "disposition":"ANSWERED","billsec":"61","duration":"74","calldate":"2026-03-01 10:15:00",
        "recording":"https://records.example.com/1.mp3"}"#;

    #[test]
    fn an_answered_incoming_call_is_from_the_client_with_its_talk_time_and_recording() {
        let log = log(&event("", ANSWERED_IN), true);
        assert_eq!(log.outcome, CallOutcome::Connected);
        assert_eq!(log.from_number.as_deref(), Some("+380671234567"));
        assert_eq!(log.to_number.as_deref(), Some("+380441112233"));
        assert_eq!(log.duration, Some(Duration::from_secs(61)));
        assert_eq!(
            log.recording_url.as_deref(),
            Some("https://records.example.com/1.mp3")
        );
        // 10:15 in Kyiv (UTC+2 in March).
        assert_eq!(log.timestamp.to_rfc3339(), "2026-03-01T08:15:00+00:00");
    }

    #[test]
    fn no_recording_when_the_rule_says_so_or_nobody_talked() {
        assert_eq!(log(&event("", ANSWERED_IN), false).recording_url, None);
        let missed = ANSWERED_IN
            .replace("ANSWERED", "NO ANSWER")
            .replace("\"61\"", "\"0\"");
        let log = log(&event("", &missed), true);
        assert_eq!(log.outcome, CallOutcome::NoAnswer);
        assert_eq!(log.recording_url, None);
    }

    #[test]
    fn an_outgoing_call_goes_to_the_client() {
        let body = r#"{"uniqueid":"2","call_type":"out","caller":"acmecom_ivan","dst":"380671234567",
            "disposition":"ANSWERED","billsec":"5"}"#;
        let log = log(&event("", body), true);
        assert_eq!(log.direction, Direction::Outgoing);
        assert_eq!(log.to_number.as_deref(), Some("+380671234567"));
    }

    #[test]
    fn outcomes_follow_the_moment_and_the_disposition() {
        let with = |disposition: &str| {
            let body = format!(
                r#"{{"uniqueid":"3","call_type":"in","caller":"380671234567","disposition":"{disposition}"}}"#
            );
            outcome(&event("", &body))
        };
        assert_eq!(with("BUSY"), CallOutcome::Busy);
        assert_eq!(with("VOICEMAIL"), CallOutcome::Voicemail);
        assert_eq!(with("FAILED FORBIDDEN DESTINATION"), CallOutcome::Failed);
        assert_eq!(with("NO FORWARD"), CallOutcome::Failed);
        assert_eq!(with("CLIENT NO ANSWER"), CallOutcome::NoAnswer);
        assert_eq!(with("PROPER"), CallOutcome::Connected);
        let pickup = event(
            "event=pickup",
            r#"{"uniqueid":"4","call_type":"in","caller":"380671234567"}"#,
        );
        assert_eq!(outcome(&pickup), CallOutcome::InProgress);
    }
}
