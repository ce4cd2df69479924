//! What Switchboard writes into HubSpot records: the connector's neutral
//! records turned into HubSpot property maps and inline associations.
//!
//! All values are strings, as HubSpot wants them. Pure functions, so the
//! exact properties of every create are unit-tested.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use switchboard_core::connector::{CallLog, CallOutcome, CrmId, NewContact, NewNote, NewTask};
use switchboard_core::event::Direction;
use switchboard_core::plan::Priority;

pub type Properties = BTreeMap<String, String>;

/// HubSpot's default call outcomes (the same GUIDs in every account).
pub mod disposition {
    pub const BUSY: &str = "9d9162e7-6cf3-4944-bf63-4dff82258764";
    pub const CONNECTED: &str = "f240bbac-87c9-4f6e-bf70-924b57d47db7";
    pub const LEFT_VOICEMAIL: &str = "b2cf5968-551e-4856-9783-52b3da59a7d0";
    pub const NO_ANSWER: &str = "73a0d17f-1163-4015-bdd5-ec830791da20";
}

/// `Ivan Petrenko` → (`Ivan`, `Petrenko`); a name without letters (a
/// formatted number) stays whole in `firstname`, so it is not cut in two.
pub fn split_name(name: &str) -> (String, Option<String>) {
    let name = name.trim();
    if !name.chars().any(char::is_alphabetic) {
        return (name.to_string(), None);
    }
    match name.split_once(char::is_whitespace) {
        Some((first, last)) if !last.trim().is_empty() => {
            (first.to_string(), Some(last.trim().to_string()))
        }
        _ => (name.to_string(), None),
    }
}

/// Properties of a new contact: `phone` in E.164, the name, the owner, the
/// step key, the unique `phone_e164` when the account has it, then the
/// rules' own properties (which cannot override the identity ones).
pub fn contact(
    contact: &NewContact,
    step_key_property: &str,
    phone_property: Option<&str>,
) -> Properties {
    let mut properties = contact.properties.clone();
    let (first, last) = split_name(&contact.name);
    properties.insert("firstname".into(), first);
    if let Some(last) = last {
        properties.insert("lastname".into(), last);
    }
    if let Some(owner) = &contact.owner {
        properties.insert("hubspot_owner_id".into(), owner.0.clone());
    }
    properties.insert("phone".into(), contact.phone.as_str().to_string());
    if let Some(phone_property) = phone_property {
        properties.insert(phone_property.into(), contact.phone.as_str().to_string());
    }
    properties.insert(step_key_property.into(), contact.step_key.0.clone());
    properties
}

/// HubSpot's call status and outcome for a neutral outcome.
fn call_status(outcome: CallOutcome) -> (&'static str, Option<&'static str>) {
    match outcome {
        CallOutcome::Connected => ("COMPLETED", Some(disposition::CONNECTED)),
        CallOutcome::InProgress => ("IN_PROGRESS", None),
        CallOutcome::NoAnswer => ("NO_ANSWER", Some(disposition::NO_ANSWER)),
        CallOutcome::Busy => ("BUSY", Some(disposition::BUSY)),
        CallOutcome::Voicemail => ("COMPLETED", Some(disposition::LEFT_VOICEMAIL)),
        CallOutcome::Failed => ("FAILED", None),
    }
}

/// Properties of a call engagement. The step key goes into
/// `hs_call_external_id`. HubSpot accepts only HTTPS recordings; any other
/// link is kept in the body instead of being dropped.
pub fn call(call: &CallLog) -> Properties {
    let (status, disposition) = call_status(call.outcome);
    let mut body = call.body.clone();
    let mut properties = Properties::new();
    properties.insert("hs_timestamp".into(), timestamp(call.timestamp));
    properties.insert("hs_call_title".into(), call.title.clone());
    properties.insert(
        "hs_call_direction".into(),
        match call.direction {
            Direction::Incoming => "INBOUND",
            Direction::Outgoing => "OUTBOUND",
        }
        .into(),
    );
    properties.insert("hs_call_status".into(), status.into());
    if let Some(disposition) = disposition {
        properties.insert("hs_call_disposition".into(), disposition.into());
    }
    if let Some(duration) = call.duration {
        properties.insert("hs_call_duration".into(), duration.as_millis().to_string());
    }
    if let Some(from) = &call.from_number {
        properties.insert("hs_call_from_number".into(), from.clone());
    }
    if let Some(to) = &call.to_number {
        properties.insert("hs_call_to_number".into(), to.clone());
    }
    if let Some(url) = &call.recording_url {
        if url.starts_with("https://") {
            properties.insert("hs_call_recording_url".into(), url.clone());
        } else {
            if !body.is_empty() {
                body.push_str("<br>");
            }
            body.push_str(&format!("Recording: {url}"));
        }
    }
    properties.insert("hs_call_body".into(), body);
    if let Some(owner) = &call.owner {
        properties.insert("hubspot_owner_id".into(), owner.0.clone());
    }
    properties.insert("hs_call_external_id".into(), call.step_key.0.clone());
    properties
}

/// Properties of a task: a call-back task, not started, due at `due`.
pub fn task(task: &NewTask, step_key_property: &str) -> Properties {
    let mut properties = Properties::new();
    properties.insert("hs_timestamp".into(), timestamp(task.due));
    properties.insert("hs_task_subject".into(), task.subject.clone());
    properties.insert("hs_task_body".into(), task.body.clone());
    properties.insert(
        "hs_task_priority".into(),
        match task.priority {
            Priority::Low => "LOW",
            Priority::Medium => "MEDIUM",
            Priority::High => "HIGH",
        }
        .into(),
    );
    properties.insert("hs_task_type".into(), "CALL".into());
    properties.insert("hs_task_status".into(), "NOT_STARTED".into());
    if let Some(owner) = &task.owner {
        properties.insert("hubspot_owner_id".into(), owner.0.clone());
    }
    properties.insert(step_key_property.into(), task.step_key.0.clone());
    properties
}

pub fn note(note: &NewNote, step_key_property: &str) -> Properties {
    let mut properties = Properties::new();
    properties.insert("hs_timestamp".into(), timestamp(note.timestamp));
    properties.insert("hs_note_body".into(), note.body.clone());
    if let Some(owner) = &note.owner {
        properties.insert("hubspot_owner_id".into(), owner.0.clone());
    }
    properties.insert(step_key_property.into(), note.step_key.0.clone());
    properties
}

/// ISO-8601 UTC with milliseconds, as HubSpot writes its own timestamps.
pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Inline associations of a create (`PublicAssociationsForObject[]`).
pub fn associations(targets: &[(Option<&CrmId>, u32)]) -> Value {
    Value::Array(
        targets
            .iter()
            .filter_map(|(id, type_id)| {
                id.map(|id| {
                    json!({
                        "to": { "id": id.0 },
                        "types": [{ "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id }]
                    })
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use switchboard_core::connector::{OwnerId, StepKey};
    use switchboard_core::phone::{E164, Region};

    fn at() -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339("2026-03-01T09:15:00+02:00")
            .expect("literal")
            .with_timezone(&chrono::Utc)
    }

    #[test]
    fn names_are_split_unless_they_are_numbers() {
        assert_eq!(
            split_name("Ivan Petrenko"),
            ("Ivan".into(), Some("Petrenko".into()))
        );
        assert_eq!(
            split_name("Anna Maria Kovalenko"),
            ("Anna".into(), Some("Maria Kovalenko".into()))
        );
        assert_eq!(
            split_name("+380 67 123 4567"),
            ("+380 67 123 4567".into(), None)
        );
        assert_eq!(split_name("  Olena "), ("Olena".into(), None));
    }

    #[test]
    fn a_contact_carries_its_number_in_e164_and_its_step_key() {
        let new = NewContact {
            step_key: StepKey::new(7, 0, "contact"),
            phone: E164::parse("067 123 45 67", Region::default()).expect("valid"),
            name: "Ivan Petrenko".into(),
            owner: Some(OwnerId("42".into())),
            properties: [
                ("phone".to_string(), "override attempt".to_string()),
                ("lifecyclestage".to_string(), "lead".to_string()),
            ]
            .into(),
        };
        let properties = contact(&new, "switchboard_step_key", Some("phone_e164"));
        let expected: Properties = [
            ("firstname", "Ivan"),
            ("lastname", "Petrenko"),
            ("hubspot_owner_id", "42"),
            ("phone", "+380671234567"),
            ("phone_e164", "+380671234567"),
            ("switchboard_step_key", "sb-7-0-contact"),
            ("lifecyclestage", "lead"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(properties, expected);
        assert!(!contact(&new, "switchboard_step_key", None).contains_key("phone_e164"));
    }

    #[test]
    fn a_call_has_what_the_timeline_shows() {
        let log = CallLog {
            step_key: StepKey::new(9, 2, "log_call"),
            timestamp: at(),
            direction: Direction::Incoming,
            outcome: CallOutcome::Connected,
            duration: Some(Duration::from_secs(65)),
            from_number: Some("+380671234567".into()),
            to_number: Some("+380443334455".into()),
            recording_url: Some("https://records.example/abc.mp3".into()),
            title: "Incoming call".into(),
            body: "Answered by Olena".into(),
            owner: Some(OwnerId("42".into())),
            contact: Some(CrmId("1".into())),
            deal: None,
        };
        let properties = call(&log);
        assert_eq!(properties["hs_timestamp"], "2026-03-01T07:15:00.000Z");
        assert_eq!(properties["hs_call_direction"], "INBOUND");
        assert_eq!(properties["hs_call_status"], "COMPLETED");
        assert_eq!(properties["hs_call_disposition"], disposition::CONNECTED);
        assert_eq!(properties["hs_call_duration"], "65000");
        assert_eq!(
            properties["hs_call_recording_url"],
            "https://records.example/abc.mp3"
        );
        assert_eq!(properties["hs_call_external_id"], "sb-9-2-log_call");
        assert_eq!(properties["hubspot_owner_id"], "42");

        let missed = CallLog {
            outcome: CallOutcome::NoAnswer,
            direction: Direction::Outgoing,
            recording_url: Some("http://insecure.example/a.wav".into()),
            duration: None,
            ..log
        };
        let properties = call(&missed);
        assert_eq!(properties["hs_call_direction"], "OUTBOUND");
        assert_eq!(properties["hs_call_status"], "NO_ANSWER");
        assert_eq!(properties["hs_call_disposition"], disposition::NO_ANSWER);
        assert!(!properties.contains_key("hs_call_recording_url"));
        assert!(!properties.contains_key("hs_call_duration"));
        assert_eq!(
            properties["hs_call_body"],
            "Answered by Olena<br>Recording: http://insecure.example/a.wav"
        );
    }

    #[test]
    fn a_task_is_a_call_back_not_started() {
        let new = NewTask {
            step_key: StepKey::new(3, 1, "task"),
            subject: "Call back".into(),
            body: "Missed call".into(),
            due: at(),
            priority: Priority::High,
            owner: None,
            contact: None,
            deal: None,
        };
        let properties = task(&new, "switchboard_step_key");
        assert_eq!(properties["hs_task_type"], "CALL");
        assert_eq!(properties["hs_task_status"], "NOT_STARTED");
        assert_eq!(properties["hs_task_priority"], "HIGH");
        assert_eq!(properties["hs_timestamp"], "2026-03-01T07:15:00.000Z");
        assert_eq!(properties["switchboard_step_key"], "sb-3-1-task");
        assert!(!properties.contains_key("hubspot_owner_id"));
    }

    #[test]
    fn associations_skip_missing_targets() {
        let contact = CrmId("11".into());
        assert_eq!(
            associations(&[(Some(&contact), 194), (None, 206)]),
            json!([{ "to": { "id": "11" }, "types": [{ "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 194 }] }])
        );
    }
}
