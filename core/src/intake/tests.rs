//! Normalization of the payload shapes in the reference (the files under
//! `examples/payloads/`), and of the awkward cases around them.

use super::*;
use crate::config::{Environment, Settings};
use crate::event::{CallType, Direction};

const CALLS_LIST: &str = include_str!("../../../examples/payloads/calls-list-record.json");
const CLASSIC: &str = include_str!("../../../examples/payloads/classic-webhook.json");
const WEBHOOKS_2: &str = include_str!("../../../examples/payloads/webhooks-2.0.json");
const AFTER_CALL: &str = include_str!("../../../examples/payloads/after-call.json");
const AFTER_CALL_FORM: &str = include_str!("../../../examples/payloads/after-call.form");
const AFTER_CALL_QUERY: &str = include_str!("../../../examples/payloads/after-call.query");
const USER_NAMED: &str = include_str!("../../../examples/payloads/user-named.json");

fn intake() -> Intake {
    Intake::new(&Settings::default())
}

fn post(
    intake: &Intake,
    query: &str,
    content_type: &str,
    body: &str,
) -> Result<Received, Box<Refused>> {
    intake.receive(&WebhookRequest {
        method: "POST",
        query: Some(query),
        content_type: Some(content_type),
        body: body.as_bytes(),
    })
}

fn json(body: &str) -> CallEvent {
    match post(&intake(), "", "application/json", body) {
        Ok(received) => received.event,
        Err(refused) => panic!("refused: {}", refused.reason),
    }
}

fn refused(body: &str) -> String {
    match post(&intake(), "", "application/json", body) {
        Ok(received) => panic!("accepted: {:?}", received.event),
        Err(refused) => refused.reason.to_string(),
    }
}

fn e164(event: &CallEvent) -> Option<&str> {
    event.client.e164.as_ref().map(|n| n.as_str())
}

#[test]
fn calls_list_record() {
    let event = json(CALLS_LIST);
    assert_eq!(event.call_id, "unique_call_id");
    assert_eq!(event.kind, EventKind::AfterCall);
    assert_eq!(
        (event.call_type, event.direction),
        (CallType::In, Direction::Incoming)
    );
    assert_eq!(
        event.disposition.as_ref().map(|d| d.as_str()),
        Some("ANSWERED")
    );
    assert!(event.answered);
    assert_eq!(e164(&event), Some("+380441112233"));
    assert_eq!(event.tracking_number.as_deref(), Some("+380931112233"));
    assert_eq!(
        event.employee.phone.as_ref().map(|p| p.as_str()),
        Some("+380671112233")
    );
    assert_eq!(event.employee.staff_id, None, "-1 means no employee id");
    assert_eq!(
        (event.talk_seconds, event.total_seconds, event.wait_seconds),
        (Some(11), Some(23), Some(12))
    );
    assert_eq!(
        event.call_time.map(|t| t.to_rfc3339()).as_deref(),
        Some("2019-06-02T09:30:47+03:00")
    );
    assert_eq!(
        event.recording_url.as_deref(),
        Some(
            "https://app.ringostat.com/recordings/unique_call_id.ogg?token=unique_audiofile_token"
        )
    );
    assert!(
        event
            .call_card_url
            .as_deref()
            .is_some_and(|u| u.contains("/callcards/card/unique_call_id/"))
    );
    assert_eq!(event.utm.source.as_deref(), Some("(direct)"));
    assert_eq!(event.utm.content.as_deref(), Some("(not set)"));
    assert_eq!(event.visit.pool_name.as_deref(), Some("Simple nums pool"));
    assert_eq!(
        event.visit.referrer.as_deref(),
        Some("http://localhost:3000/")
    );
    assert_eq!(
        event.visit.ga_client_id.as_deref(),
        Some("1169999034.15555555108")
    );
    assert_eq!(event.visit.scheme_name.as_deref(), Some("test schema"));
    assert_eq!(
        (event.visit.proper, event.visit.repeated),
        (Some(false), Some(false))
    );
    assert_eq!(
        event.extra.get("call_counter").map(String::as_str),
        Some("2")
    );
    assert_eq!(
        event.extra.get("duration_ms").map(String::as_str),
        Some("23000")
    );
    assert_eq!(
        event.extra.get("has_recording").map(String::as_str),
        Some("1")
    );
    assert!(
        !event.extra.contains_key("additional_number"),
        "blank values are absent"
    );
    assert!(
        !event.extra.contains_key("caller"),
        "claimed fields are not extra"
    );
}

#[test]
fn classic_outgoing_webhook() {
    let event = json(CLASSIC);
    assert_eq!(event.call_id, "3333333333.3333333");
    assert_eq!(event.direction, Direction::Outgoing);
    assert_eq!(
        e164(&event),
        Some("+380441112233"),
        "the callee is the client on outgoing calls"
    );
    assert_eq!(
        event.employee.phone.as_ref().map(|p| p.as_str()),
        Some("+380671234567")
    );
    assert_eq!(event.employee.name.as_deref(), Some("Иван Иванов"));
    assert_eq!(event.employee.department.as_deref(), Some("Отдел продаж"));
    assert_eq!(event.employee.staff_id.as_deref(), Some("1111"));
    assert_eq!(
        (event.talk_seconds, event.total_seconds, event.wait_seconds),
        (Some(23), Some(50), Some(27))
    );
    assert_eq!(
        event.call_time.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-08-08T11:11:11+03:00")
    );
    assert_eq!(
        event.recording_url.as_deref(),
        Some("https://app.ringostat.com/recordings/x.wav?token=abc")
    );
    assert_eq!(event.tracking_number.as_deref(), Some("+380671234567"));
    assert_eq!(
        event.extra.get("record").map(String::as_str),
        Some("3333333333.3333333")
    );
}

#[test]
fn webhooks_2_0_payload() {
    let event = json(WEBHOOKS_2);
    assert_eq!(event.call_id, "ua9_-1790775458.2139025");
    assert_eq!(event.direction, Direction::Incoming);
    assert_eq!(e164(&event), Some("+380732135997"));
    assert_eq!(event.client.raw.as_deref(), Some("+380732135997"));
    assert_eq!(
        event.tracking_number.as_deref(),
        Some("+380736506881"),
        "dst is the tracking number"
    );
    assert_eq!(
        event.employee.sip_login.as_deref(),
        Some("seventytimescom_matychyn")
    );
    assert_eq!(
        event.employee.connected_with.as_deref(),
        Some("seventytimescom_matychyn")
    );
    assert_eq!(
        (event.talk_seconds, event.total_seconds),
        (Some(3), Some(14))
    );
}

#[test]
fn composite_after_call() {
    let event = json(AFTER_CALL);
    assert_eq!(e164(&event), Some("+380732135997"));
    assert_eq!(
        event.employee.sip_login.as_deref(),
        Some("acmecom_ivanenko")
    );
    assert_eq!(event.employee.name.as_deref(), Some("Іваненко Олена"));
    assert_eq!(event.employee.staff_id.as_deref(), Some("111111"));
    assert_eq!(event.employee.department.as_deref(), Some("Sales"));
    assert_eq!(
        event.call_time.map(|t| t.to_rfc3339()).as_deref(),
        Some("2025-09-30T14:05:12+03:00")
    );
    assert!(
        event
            .recording_url
            .as_deref()
            .is_some_and(|u| u.contains(".wav?"))
    );
    assert_eq!(event.utm.campaign.as_deref(), Some("brand"));
    assert_eq!(
        event.visit.landing.as_deref(),
        Some("https://acme.ua/pricing")
    );
    assert_eq!(event.visit.proper, Some(true));
    assert_eq!(event.talk_seconds, Some(61));
}

#[test]
fn form_and_query_carry_the_same_call_as_json() {
    let from_json = json(AFTER_CALL);
    let from_form = post(
        &intake(),
        "",
        "application/x-www-form-urlencoded",
        AFTER_CALL_FORM.trim(),
    )
    .expect("form accepted")
    .event;
    assert_eq!(from_form, from_json);

    let query = format!("{}&event=after_call&token=abc", AFTER_CALL_QUERY.trim());
    let from_query = intake()
        .receive(&WebhookRequest {
            method: "GET",
            query: Some(&query),
            content_type: None,
            body: b"",
        })
        .expect("query accepted");
    assert_eq!(from_query.event.call_id, "ua9_-1790775458.2139026");
    assert_eq!(e164(&from_query.event), Some("+380732135997"));
    assert_eq!(
        from_query.event.employee.sip_login.as_deref(),
        Some("acmecom_ivanenko")
    );
    assert!(!from_query.event.extra.contains_key("token"));
    assert!(!from_query.event.extra.contains_key("event"));
    assert!(
        !from_query.raw.query.contains("token=abc"),
        "{}",
        from_query.raw.query
    );
    assert!(from_query.raw.query.contains("event=after_call"));
}

#[test]
fn user_named_parameters_of_a_missed_call() {
    let event = json(USER_NAMED);
    assert_eq!(event.call_id, "1640989006.1111111");
    assert!(!event.answered);
    assert_eq!(e164(&event), Some("+380671234567"));
    assert_eq!(event.tracking_number.as_deref(), Some("+380441112233"));
    assert!(event.employee.is_empty(), "{:?}", event.employee);
    assert_eq!(
        (event.talk_seconds, event.total_seconds, event.wait_seconds),
        (Some(0), Some(18), Some(18))
    );
    assert_eq!(
        event.call_time.map(|t| t.to_rfc3339()).as_deref(),
        Some("2022-01-01T10:16:46+02:00")
    );
    assert_eq!(event.recording_url, None);
    assert!(event.call_card_url.is_some());
}

#[test]
fn outgoing_caller_is_the_employees_sip_login() {
    let event = json(
        r#"{"uniqueid":"1","call_type":"out","caller":"\"acmecom_ivanenko\" <acmecom_ivanenko>","dst":"0671234567","disposition":"NO ANSWER"}"#,
    );
    assert_eq!(e164(&event), Some("+380671234567"));
    assert_eq!(
        event.employee.sip_login.as_deref(),
        Some("acmecom_ivanenko")
    );
    assert!(!event.answered);
}

#[test]
fn outgoing_connected_with_the_client_is_not_the_employee() {
    let event = json(
        r#"{"uniqueid":"1","call_type":"out","caller":"101","dst":"380671234567","connected_with":"380671234567"}"#,
    );
    assert_eq!(event.employee.phone, None);
    assert_eq!(event.employee.extension.as_deref(), Some("101"));
}

#[test]
fn display_name_callers_on_incoming_calls() {
    let event = json(
        r#"{"uniqueid":"1","call_type":"in","caller":"\"Support PhonerLite\" <380671234567>"}"#,
    );
    assert_eq!(e164(&event), Some("+380671234567"));
    assert_eq!(
        event.client.raw.as_deref(),
        Some("\"Support PhonerLite\" <380671234567>")
    );
}

#[test]
fn a_missing_client_number_is_accepted_with_its_reason() {
    let event = json(r#"{"uniqueid":"1","call_type":"in","disposition":"ANSWERED"}"#);
    assert_eq!(event.client.raw, None);
    assert_eq!(event.client.e164, None);
    assert!(
        event
            .client
            .unusable_reason
            .as_deref()
            .is_some_and(|r| r.starts_with("no client number"))
    );
}

#[test]
fn sip_only_and_hidden_callers_are_accepted_without_a_number() {
    let sip = json(r#"{"uniqueid":"1","call_type":"in","caller":"acmecom_petrenko"}"#);
    assert_eq!(sip.client.e164, None);
    assert_eq!(sip.client.raw.as_deref(), Some("acmecom_petrenko"));
    assert!(
        sip.client
            .unusable_reason
            .as_deref()
            .is_some_and(|r| r.contains("SIP login"))
    );

    let hidden = json(r#"{"uniqueid":"2","call_type":"in","caller":"anonymous"}"#);
    assert_eq!(
        hidden.client.unusable_reason.as_deref(),
        Some("the client's number is hidden")
    );

    let short = json(r#"{"uniqueid":"3","call_type":"in","caller":"101"}"#);
    assert!(
        short
            .client
            .unusable_reason
            .as_deref()
            .is_some_and(|r| r.contains("too few digits"))
    );
}

#[test]
fn a_later_alias_with_a_real_number_wins_over_a_sip_login() {
    let event =
        json(r#"{"uniqueid":"1","call_type":"in","caller":"acmecom_x","E164":"+380732135997"}"#);
    assert_eq!(e164(&event), Some("+380732135997"));
}

#[test]
fn the_event_kind_comes_from_the_url() {
    let intake = intake();
    let body = r#"{"uniqueid":"1","call_type":"in","caller":"380671234567"}"#;
    let pickup = post(&intake, "event=pickup", "application/json", body)
        .expect("accepted")
        .event;
    assert_eq!(pickup.kind, EventKind::Pickup);
    assert!(
        pickup.answered,
        "a pick-up without a status is an answered call"
    );
    let other = post(&intake, "event=before_call", "application/json", body)
        .expect("accepted")
        .event;
    assert_eq!(other.kind, EventKind::Other("before_call".into()));
    let default = post(&intake, "", "application/json", body)
        .expect("accepted")
        .event;
    assert_eq!(default.kind, EventKind::AfterCall);
}

#[test]
fn callback_and_transit_calls() {
    let callback = json(r#"{"uniqueid":"1","call_type":"callback","caller":"380671234567"}"#);
    assert_eq!(
        (callback.call_type, callback.direction),
        (CallType::Callback, Direction::Incoming)
    );
    let transit =
        json(r#"{"uniqueid":"2","call_type":"transitout","call_destination":"380671234567"}"#);
    assert_eq!(transit.direction, Direction::Outgoing);
    assert_eq!(e164(&transit), Some("+380671234567"));
}

#[test]
fn undecodable_payloads_name_the_problem() {
    assert!(
        refused(r#"{"call_type":"in"}"#)
            .starts_with("no call id: none of the fields uniqueid, call_id, cdr_id")
    );
    assert!(refused(r#"{"uniqueid":"1"}"#).starts_with("no call type"));
    assert!(
        refused(r#"{"uniqueid":"1","call_type":"sideways"}"#)
            .contains("unknown call type \"sideways\"")
    );
    assert!(refused(r#"{"uniqueid":"1","#).starts_with("body is not valid JSON"));
    let long_id = format!(r#"{{"uniqueid":"{}","call_type":"in"}}"#, "x".repeat(201));
    assert!(refused(&long_id).contains("longer than 200"));
}

#[test]
fn refused_payloads_keep_their_raw_body_without_the_token() {
    let settings = Settings::from_yaml(
        "webhook:\n  token: ${T}\n",
        "test",
        &Environment::from_pairs([("T", "secret-token-1")]),
    )
    .expect("valid");
    let intake = Intake::new(&settings);
    let refused = post(
        &intake,
        "token=secret-token-1",
        "application/json",
        r#"{"token":"secret-token-1","x":1}"#,
    )
    .expect_err("no call id");
    assert_eq!(refused.raw.query, "");
    assert!(!refused.raw.body_text().contains("secret-token-1"));
    assert!(refused.raw.body_text().contains("\"x\":1"));
}

#[test]
fn configured_aliases_read_custom_names() {
    let settings = Settings::from_yaml(
        "webhook:\n  fields:\n    call_id: my_id\n    client_phone:\n      incoming: client\n",
        "test",
        &Environment::default(),
    )
    .expect("valid");
    let intake = Intake::new(&settings);
    let event = post(
        &intake,
        "",
        "application/json",
        r#"{"my_id":"7","call_type":"in","client":"0671234567","caller":"0441112233"}"#,
    )
    .expect("accepted")
    .event;
    assert_eq!(event.call_id, "7");
    assert_eq!(e164(&event), Some("+380671234567"));
    assert_eq!(
        event.extra.get("caller").map(String::as_str),
        Some("0441112233"),
        "caller is no longer claimed"
    );
}

#[test]
fn arbitrary_bytes_never_panic_and_always_get_an_answer() {
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    let seed: u64 = std::env::var("SWITCHBOARD_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| u64::from(std::process::id()) * 7919);
    println!("seed {seed} (set SWITCHBOARD_TEST_SEED to repeat)");
    let mut rng = StdRng::seed_from_u64(seed);
    let intake = intake();
    let pieces: [&[u8]; 12] = [
        b"{",
        b"}",
        b"\"uniqueid\":",
        b"\"call_type\":\"in\"",
        b",",
        b"\"caller\":\"+380",
        b"\xff\xfe",
        b"=",
        b"&",
        b"additional_call_data",
        b"[1,",
        b"\"\\u0000\"",
    ];
    let content_types = [
        None,
        Some("application/json"),
        Some("application/x-www-form-urlencoded"),
        Some("text/plain"),
    ];
    for _ in 0..2_000 {
        let mut body = Vec::new();
        for _ in 0..rng.random_range(0..12) {
            if rng.random_range(0..3) == 0 {
                body.push(rng.random_range(0..=255u8));
            } else {
                body.extend_from_slice(pieces[rng.random_range(0..pieces.len())]);
            }
        }
        let content_type = content_types[rng.random_range(0..content_types.len())];
        let query = if rng.random_range(0..2) == 0 {
            "event=pickup&uniqueid=q&call_type=out"
        } else {
            ""
        };
        let request = WebhookRequest {
            method: "POST",
            query: Some(query),
            content_type,
            body: &body,
        };
        match intake.receive(&request) {
            Ok(received) => assert!(!received.event.call_id.is_empty()),
            Err(refused) => assert!(!refused.reason.to_string().is_empty()),
        }
    }
}

#[test]
fn a_call_log_record_is_read_like_its_webhook_whatever_the_webhook_fields_say() {
    let settings = Settings::from_yaml(
        "webhook:\n  fields:\n    call_id: my_call_id\n",
        "switchboard.yaml",
        &Environment::default(),
    )
    .expect("valid");
    let serde_json::Value::Object(record) =
        serde_json::from_str::<serde_json::Value>(CALLS_LIST).expect("a record")
    else {
        panic!("the calls/list record is an object");
    };
    let from_log = Intake::call_log(&settings)
        .receive_record(&record)
        .unwrap_or_else(|refused| panic!("refused: {}", refused.reason));
    assert_eq!(
        from_log.event,
        json(CALLS_LIST),
        "the same event as its webhook"
    );
    assert_eq!(from_log.event.kind, EventKind::AfterCall);
    assert_eq!(
        from_log.raw.content_type.as_deref(),
        Some("application/json")
    );
    let renamed = Intake::new(&settings).receive_record(&record);
    assert!(
        renamed.is_err(),
        "the webhook intake would look for my_call_id instead of uniqueid"
    );
}
