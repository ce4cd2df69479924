//! The seed (DESIGN §1): each row of Ringostat's default HubSpot matrix,
//! and each case it leaves open, through the real binary with the shipped
//! rules against the fake HubSpot, asserting the whole CRM afterwards:
//! which records exist, their key properties and owners, and what each is
//! associated with.

mod common;

use chrono::{DateTime, SecondsFormat, Utc};
use common::calls::{Call, PETRO_SIP, STRANGER_SIP};
use common::crm::{Crm, assert_absent, assert_properties, association, e164};
use common::world::World;
use serde_json::Value;
use switchboard_hubspot::fake::FakeObject;

/// HubSpot's call outcomes (the same ids in every account).
const CONNECTED: &str = "f240bbac-87c9-4f6e-bf70-924b57d47db7";
const NO_ANSWER: &str = "73a0d17f-1163-4015-bdd5-ec830791da20";

const CLIENT: &str = "380671234567";
const CLIENT_E164: &str = "+380671234567";

fn hubspot_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn scenario(event: &Value) -> &str {
    event["plan"]["scenario"].as_str().unwrap_or("<none>")
}

/// A call with a conversation: completed, its talk time, the `.wav`
/// recording, the employee as owner, the event's step key.
#[track_caller]
fn assert_answered(call: &FakeObject, source: &Call, direction: &str, owner: &str, event_id: i64) {
    assert_properties(
        call,
        &[
            ("hs_call_direction", direction),
            ("hs_call_status", "COMPLETED"),
            ("hs_call_disposition", CONNECTED),
            (
                "hs_call_duration",
                &(source.talk_seconds * 1000).to_string(),
            ),
            ("hs_call_recording_url", &source.recording_url()),
            ("hubspot_owner_id", owner),
            ("hs_timestamp", &hubspot_time(source.started)),
        ],
    );
    assert_step_key(call, event_id);
}

/// A call without a conversation: no answer, and no recording even when
/// Ringostat sent one.
#[track_caller]
fn assert_unanswered(call: &FakeObject, source: &Call, direction: &str, event_id: i64) {
    assert_properties(
        call,
        &[
            ("hs_call_direction", direction),
            ("hs_call_status", "NO_ANSWER"),
            ("hs_call_disposition", NO_ANSWER),
            ("hs_timestamp", &hubspot_time(source.started)),
        ],
    );
    assert_absent(call, &["hs_call_recording_url"]);
    assert!(
        call.property("hs_call_duration").is_none_or(|d| d == "0"),
        "no talk time: {:?}",
        call.properties
    );
    assert_step_key(call, event_id);
}

#[track_caller]
fn assert_step_key(call: &FakeObject, event_id: i64) {
    let key = call.property("hs_call_external_id").unwrap_or_default();
    assert!(
        key.starts_with(&format!("sb-{event_id}-")),
        "the call carries the step key of event {event_id}: {key:?}"
    );
}

/// `object` is associated with exactly these contacts and deals, with the
/// association types HubSpot defines for them.
#[track_caller]
fn assert_attached(
    crm: &Crm<'_>,
    object_type: &str,
    id: &str,
    contact: Option<&str>,
    deal: Option<&str>,
) {
    let (to_contact, to_deal) = match object_type {
        "calls" => (association::CALL_TO_CONTACT, association::CALL_TO_DEAL),
        "tasks" => (association::TASK_TO_CONTACT, association::TASK_TO_DEAL),
        "notes" => (association::NOTE_TO_CONTACT, association::NOTE_TO_DEAL),
        "deals" => (association::DEAL_TO_CONTACT, 0),
        other => panic!("no associations checked for {other}"),
    };
    let expected = |target: Option<&str>, type_id: u32| -> Vec<(String, u32)> {
        target
            .map(|t| (t.to_string(), type_id))
            .into_iter()
            .collect()
    };
    let contacts: Vec<(String, u32)> = crm.links(object_type, id, "contacts").into_iter().collect();
    assert_eq!(
        contacts,
        expected(contact, to_contact),
        "{object_type} {id} → contacts"
    );
    if object_type != "deals" {
        let deals: Vec<(String, u32)> = crm.links(object_type, id, "deals").into_iter().collect();
        assert_eq!(deals, expected(deal, to_deal), "{object_type} {id} → deals");
    }
}

/// A contact Switchboard created: the number in E.164, a name made from it.
#[track_caller]
fn assert_new_contact(contact: &FakeObject, owner: Option<&str>) {
    let phone = e164(CLIENT);
    assert_properties(
        contact,
        &[
            ("phone", CLIENT_E164),
            ("firstname", &phone.international_format()),
        ],
    );
    match owner {
        Some(owner) => assert_properties(contact, &[("hubspot_owner_id", owner)]),
        None => assert_absent(contact, &["hubspot_owner_id"]),
    }
}

/// A deal Switchboard created from the default matrix settings, with the
/// visit's UTM tags.
#[track_caller]
fn assert_new_deal(deal: &FakeObject, owner: &str, event_id: i64) {
    assert_properties(
        deal,
        &[
            ("dealname", &format!("Call from {CLIENT_E164}")),
            ("pipeline", "default"),
            ("dealstage", "appointmentscheduled"),
            ("hubspot_owner_id", owner),
            ("utm_source", "google"),
            ("utm_medium", "cpc"),
            ("utm_campaign", "brand"),
            ("utm_term", "crm"),
            ("utm_content", "ad1"),
        ],
    );
    let key = deal
        .property(common::crm::STEP_KEY_PROPERTY)
        .unwrap_or_default();
    assert!(
        key.starts_with(&format!("sb-{event_id}-")),
        "deal step key {key:?}"
    );
}

/// A task due four hours after the call (the matrix's `task_due`).
#[track_caller]
fn assert_task(task: &FakeObject, subject: &str, owner: &str, source: &Call) {
    assert_properties(
        task,
        &[
            ("hs_task_subject", subject),
            ("hubspot_owner_id", owner),
            ("hs_task_priority", "HIGH"),
            ("hs_task_status", "NOT_STARTED"),
        ],
    );
    let due: DateTime<Utc> = task
        .property("hs_timestamp")
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("task due time: {:?}", task.properties));
    let expected = source.started + chrono::Duration::hours(4);
    assert!(
        (due - expected).num_seconds().abs() <= 120,
        "task due {due}, expected about {expected}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_1_a_new_clients_answered_call_creates_contact_and_deal_owned_by_the_employee() {
    let world = World::start().await;
    let call = Call::incoming(CLIENT);
    let id = world.post(&call).await.id;
    world.expect_done(&[id]).await;
    assert_eq!(
        scenario(&world.event(id).await),
        "incoming_answered_new_client"
    );

    let crm = world.crm();
    assert_eq!(crm.summary(), "contacts=1 deals=1 calls=1 tasks=0 notes=0");
    let olena = world.owners.olena.as_str();
    let contact = crm.the_contact(&e164(CLIENT));
    assert_new_contact(&contact, Some(olena));
    let deal = &crm.all("deals")[0];
    assert_new_deal(deal, olena, id);
    assert_attached(&crm, "deals", &deal.id, Some(&contact.id), None);
    let logged = &crm.all("calls")[0];
    assert_answered(logged, &call, "INBOUND", olena, id);
    assert_properties(
        logged,
        &[("hs_call_title", "Ringostat: incoming call, ANSWERED")],
    );
    let body = logged.property("hs_call_body").unwrap_or_default();
    assert!(body.contains(&format!("Client: {CLIENT_E164}")), "{body}");
    assert!(body.contains("Olena Ivanenko"), "{body}");
    assert_attached(&crm, "calls", &logged.id, Some(&contact.id), Some(&deal.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_2a_the_responsible_managers_call_goes_on_the_existing_contact_and_deal() {
    let world = World::start().await;
    let olena = world.owners.olena.clone();
    let contact = world.seed_contact(CLIENT_E164, "Ivan Petrenko", Some(&olena));
    let deal = world
        .seed_open_deal(&contact, "Kitchen order", Some(&olena))
        .await;
    let call = Call::incoming(CLIENT);
    let id = world.post(&call).await.id;
    world.expect_done(&[id]).await;
    assert_eq!(
        scenario(&world.event(id).await),
        "incoming_answered_by_responsible"
    );

    let crm = world.crm();
    assert_eq!(crm.summary(), "contacts=1 deals=1 calls=1 tasks=0 notes=0");
    assert_properties(
        &crm.get("contacts", &contact),
        &[("firstname", "Ivan Petrenko"), ("hubspot_owner_id", &olena)],
    );
    assert_properties(
        &crm.get("deals", &deal),
        &[
            ("dealname", "Kitchen order"),
            ("dealstage", "qualifiedtobuy"),
            ("hubspot_owner_id", &olena),
        ],
    );
    let logged = &crm.all("calls")[0];
    assert_answered(logged, &call, "INBOUND", &olena, id);
    assert_attached(&crm, "calls", &logged.id, Some(&contact), Some(&deal));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_2b_another_managers_call_adds_who_answered_and_keeps_the_owner() {
    let world = World::start().await;
    let (olena, petro) = (world.owners.olena.clone(), world.owners.petro.clone());
    let contact = world.seed_contact(CLIENT_E164, "Ivan Petrenko", Some(&petro));
    let deal = world
        .seed_open_deal(&contact, "Kitchen order", Some(&petro))
        .await;
    let call = Call::incoming(CLIENT);
    let id = world.post(&call).await.id;
    world.expect_done(&[id]).await;
    assert_eq!(
        scenario(&world.event(id).await),
        "incoming_answered_by_other_manager"
    );

    let crm = world.crm();
    assert_eq!(crm.summary(), "contacts=1 deals=1 calls=1 tasks=0 notes=1");
    assert_properties(&crm.get("deals", &deal), &[("hubspot_owner_id", &petro)]);
    assert_properties(
        &crm.get("contacts", &contact),
        &[("hubspot_owner_id", &petro)],
    );
    let logged = &crm.all("calls")[0];
    assert_answered(logged, &call, "INBOUND", &olena, id);
    assert_attached(&crm, "calls", &logged.id, Some(&contact), Some(&deal));
    let note = &crm.all("notes")[0];
    assert_properties(
        note,
        &[
            (
                "hs_note_body",
                "Answered by Olena Ivanenko (acmecom_ivanenko), not by the responsible manager.",
            ),
            ("hubspot_owner_id", &olena),
        ],
    );
    assert_attached(&crm, "notes", &note.id, Some(&contact), Some(&deal));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_3_a_new_clients_missed_call_gives_records_and_a_callback_task_to_the_top_manager() {
    let world = World::start().await;
    let call = Call::incoming(CLIENT).missed();
    let id = world.post(&call).await.id;
    world.expect_done(&[id]).await;
    assert_eq!(
        scenario(&world.event(id).await),
        "incoming_missed_new_client"
    );

    let crm = world.crm();
    assert_eq!(crm.summary(), "contacts=1 deals=1 calls=1 tasks=1 notes=0");
    let top = world.owners.top.as_str();
    let contact = crm.the_contact(&e164(CLIENT));
    assert_new_contact(&contact, Some(top));
    let deal = &crm.all("deals")[0];
    assert_new_deal(deal, top, id);
    assert_attached(&crm, "deals", &deal.id, Some(&contact.id), None);
    let logged = &crm.all("calls")[0];
    assert_unanswered(logged, &call, "INBOUND", id);
    assert_absent(logged, &["hubspot_owner_id"]);
    assert_attached(&crm, "calls", &logged.id, Some(&contact.id), Some(&deal.id));
    let task = &crm.all("tasks")[0];
    assert_task(
        task,
        &format!("Missed call from {CLIENT_E164}: assign an agent to call back"),
        top,
        &call,
    );
    assert_attached(&crm, "tasks", &task.id, Some(&contact.id), Some(&deal.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_4_an_existing_clients_missed_call_is_a_task_for_the_responsible_manager() {
    let world = World::start().await;
    let petro = world.owners.petro.clone();
    let contact = world.seed_contact("+380 (67) 123-45-67", "Ivan Petrenko", Some(&petro));
    let deal = world
        .seed_open_deal(&contact, "Kitchen order", Some(&petro))
        .await;
    let call = Call::incoming(CLIENT).missed();
    let id = world.post(&call).await.id;
    world.expect_done(&[id]).await;
    assert_eq!(
        scenario(&world.event(id).await),
        "incoming_missed_existing_client"
    );

    let crm = world.crm();
    assert_eq!(crm.summary(), "contacts=1 deals=1 calls=1 tasks=1 notes=0");
    assert_properties(
        &crm.get("deals", &deal),
        &[
            ("hubspot_owner_id", &petro),
            ("dealstage", "qualifiedtobuy"),
        ],
    );
    let logged = &crm.all("calls")[0];
    assert_unanswered(logged, &call, "INBOUND", id);
    assert_attached(&crm, "calls", &logged.id, Some(&contact), Some(&deal));
    let task = &crm.all("tasks")[0];
    assert_task(
        task,
        &format!("Missed call from {CLIENT_E164}: call back"),
        &petro,
        &call,
    );
    assert_attached(&crm, "tasks", &task.id, Some(&contact), Some(&deal));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_5_a_successful_outgoing_call_goes_on_the_existing_contact_and_deal() {
    let world = World::start().await;
    let olena = world.owners.olena.clone();
    let contact = world.seed_contact("380671234567", "Ivan Petrenko", Some(&olena));
    let deal = world
        .seed_open_deal(&contact, "Kitchen order", Some(&olena))
        .await;
    let call = Call::outgoing(CLIENT);
    let id = world.post(&call).await.id;
    world.expect_done(&[id]).await;
    assert_eq!(
        scenario(&world.event(id).await),
        "outgoing_answered_existing_client"
    );

    let crm = world.crm();
    assert_eq!(crm.summary(), "contacts=1 deals=1 calls=1 tasks=0 notes=0");
    let logged = &crm.all("calls")[0];
    assert_answered(logged, &call, "OUTBOUND", &olena, id);
    assert_properties(
        logged,
        &[("hs_call_title", "Ringostat: outgoing call, ANSWERED")],
    );
    assert_attached(&crm, "calls", &logged.id, Some(&contact), Some(&deal));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_6_an_unknown_employee_gives_the_top_manager_a_task_to_check_the_integration() {
    let world = World::start().await;
    let call = Call::incoming(CLIENT).answered_by(STRANGER_SIP);
    let id = world.post(&call).await.id;
    world.expect_done(&[id]).await;
    assert_eq!(scenario(&world.event(id).await), "unknown_employee");

    let crm = world.crm();
    assert_eq!(crm.summary(), "contacts=0 deals=0 calls=0 tasks=1 notes=0");
    let task = &crm.all("tasks")[0];
    assert_task(
        task,
        &format!(
            "Check the integration: an unknown employee ({STRANGER_SIP}) on a call with {CLIENT_E164}"
        ),
        &world.owners.top,
        &call,
    );
    let body = task.property("hs_task_body").unwrap_or_default();
    assert!(body.contains(&format!("SIP: {STRANGER_SIP}")), "{body}");
    assert!(body.contains("Stepan Stranger"), "{body}");
    assert_attached(&crm, "tasks", &task.id, None, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_client_without_an_open_deal_gets_a_new_deal_beside_the_closed_one() {
    let world = World::start().await;
    let olena = world.owners.olena.clone();
    let contact = world.seed_contact(CLIENT_E164, "Ivan Petrenko", None);
    let closed = world.seed_closed_deal(&contact, "Last year's order");
    let call = Call::incoming(CLIENT);
    let id = world.post(&call).await.id;
    world.expect_done(&[id]).await;
    assert_eq!(
        scenario(&world.event(id).await),
        "incoming_answered_no_open_deal"
    );

    let crm = world.crm();
    assert_eq!(crm.summary(), "contacts=1 deals=2 calls=1 tasks=0 notes=0");
    let deal = crm
        .all("deals")
        .into_iter()
        .find(|d| d.id != closed)
        .expect("the new deal");
    assert_new_deal(&deal, &olena, id);
    assert_attached(&crm, "deals", &deal.id, Some(&contact), None);
    assert_properties(&crm.get("deals", &closed), &[("dealstage", "closedlost")]);
    let logged = &crm.all("calls")[0];
    assert_answered(logged, &call, "INBOUND", &olena, id);
    assert_attached(&crm, "calls", &logged.id, Some(&contact), Some(&deal.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outgoing_call_to_an_unknown_number_creates_the_contact_and_logs_the_call() {
    let world = World::start().await;
    let call = Call::outgoing(CLIENT);
    let id = world.post(&call).await.id;
    world.expect_done(&[id]).await;
    assert_eq!(
        scenario(&world.event(id).await),
        "outgoing_answered_new_number"
    );

    let crm = world.crm();
    assert_eq!(crm.summary(), "contacts=1 deals=0 calls=1 tasks=0 notes=0");
    let olena = world.owners.olena.as_str();
    let contact = crm.the_contact(&e164(CLIENT));
    assert_new_contact(&contact, Some(olena));
    let logged = &crm.all("calls")[0];
    assert_answered(logged, &call, "OUTBOUND", olena, id);
    assert_attached(&crm, "calls", &logged.id, Some(&contact.id), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outgoing_call_the_client_did_not_answer_is_logged_as_an_attempt_without_recording() {
    let world = World::start().await;
    let olena = world.owners.olena.clone();
    let contact = world.seed_contact("0671234567", "Ivan Petrenko", Some(&olena));
    let deal = world
        .seed_open_deal(&contact, "Kitchen order", Some(&olena))
        .await;
    let call = Call::outgoing(CLIENT).not_answered();
    assert!(call.recording, "Ringostat sent a recording of the ringing");
    let id = world.post(&call).await.id;
    world.expect_done(&[id]).await;
    assert_eq!(scenario(&world.event(id).await), "outgoing_not_answered");

    let crm = world.crm();
    assert_eq!(crm.summary(), "contacts=1 deals=1 calls=1 tasks=0 notes=0");
    let logged = &crm.all("calls")[0];
    assert_unanswered(logged, &call, "OUTBOUND", id);
    assert_properties(logged, &[("hubspot_owner_id", &olena)]);
    assert_attached(&crm, "calls", &logged.id, Some(&contact), Some(&deal));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_without_a_usable_client_number_are_skipped_with_the_reason_and_touch_nothing() {
    let world = World::start().await;
    let hidden = Call::incoming("anonymous");
    // An internal call: the "client" is another employee's SIP login.
    let internal = Call::incoming(PETRO_SIP);
    let ids = world.post_all(&[hidden, internal]).await;
    let settled = world.settle(&ids).await;
    for (id, event) in &settled {
        assert_eq!(event["status"], "skipped", "{event}");
        let detail = world.event(*id).await;
        assert_eq!(scenario(&detail), "no_client_number", "{detail}");
        let reason = detail["status_reason"].as_str().unwrap_or_default();
        assert!(reason.contains("no usable client number"), "{detail}");
    }
    assert_eq!(
        world.crm().summary(),
        "contacts=0 deals=0 calls=0 tasks=0 notes=0"
    );
    let writes: Vec<_> = world
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET" && !r.operation.ends_with(".search"))
        .collect();
    assert!(writes.is_empty(), "no CRM writes: {writes:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pickup_creates_the_records_and_the_after_call_event_completes_the_same_call_log() {
    let world = World::start().await;
    let olena = world.owners.olena.clone();
    let call = Call::incoming(CLIENT);
    let pickup = world.post(&call.pickup()).await.id;
    world.expect_done(&[pickup]).await;
    assert_eq!(
        scenario(&world.event(pickup).await),
        "pickup_by_known_employee"
    );
    {
        let crm = world.crm();
        assert_eq!(crm.summary(), "contacts=1 deals=1 calls=1 tasks=0 notes=0");
        let logged = &crm.all("calls")[0];
        assert_properties(
            logged,
            &[
                ("hs_call_status", "IN_PROGRESS"),
                ("hubspot_owner_id", &olena),
            ],
        );
        assert_absent(logged, &["hs_call_recording_url"]);
    }

    let after = world.post(&call).await;
    assert!(!after.duplicate, "a different moment of the same call");
    world.expect_done(&[after.id]).await;

    let crm = world.crm();
    assert_eq!(crm.summary(), "contacts=1 deals=1 calls=1 tasks=0 notes=0");
    let contact = crm.the_contact(&e164(CLIENT));
    assert_new_contact(&contact, Some(&olena));
    let deal = &crm.all("deals")[0];
    assert_new_deal(deal, &olena, pickup);
    let logged = &crm.all("calls")[0];
    // Created by the pick-up, completed by the after-call event.
    assert_answered(logged, &call, "INBOUND", &olena, pickup);
    assert_attached(&crm, "calls", &logged.id, Some(&contact.id), Some(&deal.id));
}
