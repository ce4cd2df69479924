//! No duplicates (DESIGN §1, §3): repeated deliveries, simultaneous calls
//! from one new number, a second call before HubSpot's search index has
//! caught up (also across a restart), and clients stored in other number
//! formats. In every case: one contact, one deal, one call log per call.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::calls::Call;
use common::crm::{assert_exactly_once, assert_properties, e164};
use common::world::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_webhook_delivered_three_times_is_one_event_and_one_call_log() {
    let world = World::start().await;
    let call = Call::incoming("380671234567");
    let acks = world
        .post_concurrently(&[call.clone(), call.clone(), call.clone()])
        .await;
    let ids: BTreeSet<i64> = acks.iter().map(|a| a.id).collect();
    assert_eq!(ids.len(), 1, "one inbox event: {acks:?}");
    assert_eq!(acks.iter().filter(|a| !a.duplicate).count(), 1, "{acks:?}");
    let id = acks[0].id;
    world.expect_done(&[id]).await;

    // Ringostat retrying long after the event was processed changes nothing.
    let late = world.post(&call).await;
    assert!(late.duplicate && late.id == id, "{late:?}");
    assert_eq!(world.event(id).await["status"], "done");

    let crm = world.crm();
    assert_eq!(crm.summary(), "contacts=1 deals=1 calls=1 tasks=0 notes=0");
    assert_exactly_once(&crm, &[call], &[id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_simultaneous_calls_from_one_new_number_make_one_contact_and_one_deal() {
    let world = World::start().await;
    let first = Call::incoming("380671234567");
    let calls: Vec<Call> = std::iter::once(first.clone())
        .chain((1..10).map(|_| first.again()))
        .collect();
    let acks = world.post_concurrently(&calls).await;
    assert!(acks.iter().all(|a| !a.duplicate), "{acks:?}");
    let ids: Vec<i64> = acks.iter().map(|a| a.id).collect();
    world.expect_done(&ids).await;

    let crm = world.crm();
    assert_eq!(crm.summary(), "contacts=1 deals=1 calls=10 tasks=0 notes=0");
    assert_exactly_once(&crm, &calls, &ids);

    // In arrival order: the first event met a new client, the others found
    // what it created.
    let mut in_order = ids.clone();
    in_order.sort();
    let mut scenarios = Vec::new();
    for id in &in_order {
        let event = world.event(*id).await;
        scenarios.push(
            event["plan"]["scenario"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    assert_eq!(
        scenarios[0], "incoming_answered_new_client",
        "{scenarios:?}"
    );
    assert!(
        scenarios[1..]
            .iter()
            .all(|s| s == "incoming_answered_by_responsible"),
        "{scenarios:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_before_search_catches_up_find_the_records_even_across_a_restart() {
    let lag = Duration::from_secs(10);
    let mut world = World::builder().fake(|f| f.search_lag = lag).start().await;
    let first = Call::incoming("380671234567");
    let first_id = world.post(&first).await.id;
    world.expect_done(&[first_id]).await;
    let contact = world.crm().the_contact(&e164("380671234567"));
    let searchable_from = contact.visible_from;

    let second = first.again();
    let second_id = world.post(&second).await.id;
    world.expect_done(&[second_id]).await;

    // A new process has an empty cache; the stored links still know the client.
    world.kill_hard().await;
    world.restart().await;
    let third = first.again().missed();
    let third_id = world.post(&third).await.id;
    world.expect_done(&[third_id]).await;
    assert!(
        Instant::now() < searchable_from,
        "all three calls were processed while search could not see the contact yet \
         (lag {lag:?}); the test machine was too slow to show it"
    );

    let crm = world.crm();
    assert_eq!(crm.summary(), "contacts=1 deals=1 calls=3 tasks=1 notes=0");
    assert_exactly_once(
        &crm,
        &[first, second, third],
        &[first_id, second_id, third_id],
    );
    let task = crm.all("tasks").remove(0);
    assert_properties(&task, &[("hubspot_owner_id", &world.owners.olena)]);
    assert_eq!(
        world.event(third_id).await["plan"]["scenario"],
        "incoming_missed_existing_client"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_stored_in_other_number_formats_are_found_not_duplicated() {
    let world = World::start().await;
    let stored = [
        ("067 123 45 67", "380671234567"),
        ("+380 (50) 765-43-21", "380507654321"),
        ("380931112233", "380931112233"),
    ];
    let mut contacts = Vec::new();
    for (typed, _) in stored {
        contacts.push(world.seed_contact(typed, "Existing Client", None));
    }
    let mobile = world
        .fake
        .seed_mobile_contact("(096) 123 45 67", "Mobile Only");
    contacts.push(mobile);

    let calls: Vec<Call> = stored
        .iter()
        .map(|(_, ringostat)| Call::incoming(ringostat))
        .chain([Call::incoming("380961234567")])
        .collect();
    let ids = world.post_all(&calls).await;
    world.expect_done(&ids).await;
    // A second call from the first client finds the deal the first call opened.
    let repeat = calls[0].again();
    let again = world.post(&repeat).await.id;
    world.expect_done(&[again]).await;

    let crm = world.crm();
    assert_eq!(crm.summary(), "contacts=4 deals=4 calls=5 tasks=0 notes=0");
    let mut all_calls = calls.clone();
    all_calls.push(repeat);
    let mut all_ids = ids.clone();
    all_ids.push(again);
    assert_exactly_once(&crm, &all_calls, &all_ids);
    // Each stored contact is the one its calls went on.
    for (contact, call) in contacts.iter().zip(&calls) {
        assert_eq!(&crm.the_contact(&e164(&call.client)).id, contact);
    }
}
