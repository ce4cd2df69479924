//! The pipeline across the things that happen around it: rules that do not
//! load yet, a process that died holding an event, a shutdown with events in
//! flight, records deleted in the CRM behind the service's back.

mod pipeline_support;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use pipeline_support::{Service, fake, incoming, prepare_account, write_rules};
use serde_json::json;
use switchboard_core::config::Settings;
use switchboard_core::intake::{Intake, WebhookRequest};
use switchboard_core::store::{Claim, EventId, LeaseToken, NewEvent, SqliteStore, Store};
use switchboard_hubspot::fake::{FakeOptions, FaultAction};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_held_until_rules_load_then_run_in_arrival_order() {
    let (fake, owners) = fake(FakeOptions::default()).await;
    prepare_account(&fake);
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let rules = write_rules(dir.path());
    let matrix = std::fs::read_to_string(rules.join("matrix.yaml")).expect("matrix");
    std::fs::write(
        rules.join("matrix.yaml"),
        "scenarios:\n  - name: broken\n    when: {client: maybe}\n",
    )
    .expect("broken");
    let service = Service::start_with(fake, owners, dir, rules.clone(), |_| {}).await;

    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(
            service
                .post(
                    "after_call",
                    &incoming(&format!("h-{n}"), "380671234567", "acmecom_ivan"),
                )
                .await,
        );
    }
    for id in &ids {
        let event = service.event(*id).await;
        assert_eq!(event["status"], json!("held"), "{event:#}");
    }
    let (status, ready) = service.get("/readyz").await;
    assert_eq!(status, 503);
    let rules_check = ready["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == json!("rules")))
        .cloned()
        .expect("rules check");
    assert!(
        rules_check["error"]
            .as_str()
            .is_some_and(|e| e.contains("matrix.yaml")),
        "{ready:#}"
    );
    let (_, shown) = service.get("/api/rules").await;
    assert_eq!(shown["loaded"], json!(false));
    let locations: Vec<&str> = shown["last_error"]["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(|p| p["location"].as_str())
        .collect();
    assert!(locations.contains(&"matrix.yaml:3:20"), "{shown:#}");

    // The first good load releases them.
    std::fs::write(rules.join("matrix.yaml"), matrix).expect("fixed");
    let mut finished = Vec::new();
    for id in &ids {
        let event = service.wait_for(*id, &["done"]).await;
        finished.push(event["finished_at"].as_str().expect("finished").to_string());
    }
    let mut sorted = finished.clone();
    sorted.sort();
    assert_eq!(finished, sorted, "held events run in arrival order");
    let (_, shown) = service.get("/api/rules").await;
    assert_eq!(shown["loaded"], json!(true));
    assert!(shown["version"].is_string());
    assert_eq!(service.fake.count("contacts"), 1);
    assert_eq!(service.fake.count("calls"), 3);
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_held_by_a_process_that_died_is_taken_again_when_its_lease_expires() {
    let (fake, owners) = fake(FakeOptions::default()).await;
    prepare_account(&fake);
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let rules = write_rules(dir.path());
    let service = Service::start_with(fake, owners, dir, rules, |_| {}).await;
    let first = service
        .post(
            "after_call",
            &incoming("d-1", "380671234567", "acmecom_ivan"),
        )
        .await;
    service.wait_for(first, &["done"]).await;
    let (fake, owners, dir, rules) = service.stop().await;

    // Another process stores the next event, claims it and dies without a word.
    let url = format!("sqlite://{}/inbox.db", dir.path().display());
    let store = SqliteStore::open(&url).await.expect("store");
    let body = incoming("d-2", "380671234567", "acmecom_ivan").to_string();
    let received = Intake::new(&Settings::default())
        .receive(&WebhookRequest {
            method: "POST",
            query: Some("event=after_call"),
            content_type: Some("application/json"),
            body: body.as_bytes(),
        })
        .expect("decodable");
    let second = store
        .insert_event(NewEvent::from_received(received, Utc::now()))
        .await
        .expect("stored")
        .id;
    let now = Utc::now();
    let claimed = store
        .claim(&Claim {
            token: LeaseToken("a-process-that-died".into()),
            now,
            until: now + chrono::Duration::seconds(2),
            limit: 1,
        })
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, second);

    let service = Service::start_with(fake, owners, dir, rules, |_| {}).await;
    let event = service.wait_for(second.0, &["done"]).await;
    assert_eq!(
        event["attempts"],
        json!(2),
        "the dead process's attempt counts: {event:#}"
    );
    assert_eq!(service.fake.count("contacts"), 1);
    assert_eq!(service.fake.count("calls"), 2);
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_or_releases_events_in_flight() {
    let service =
        Service::start(|settings| settings.worker.shutdown_grace = Duration::from_millis(200))
            .await;
    prepare_account(&service.fake);
    service.fake.inject_for(
        None,
        FaultAction::Delay(Duration::from_millis(300)),
        Duration::from_secs(3),
    );
    let id = service
        .post(
            "after_call",
            &incoming("s-1", "380671234567", "acmecom_ivan"),
        )
        .await;
    service.wait_for(id, &["processing"]).await;
    let (fake, owners, dir, rules) = service.stop().await;

    let url = format!("sqlite://{}/inbox.db", dir.path().display());
    let store = SqliteStore::open(&url).await.expect("store");
    let stored = store
        .event(EventId(id))
        .await
        .expect("read")
        .expect("present");
    // Every request takes longer than the grace: the event cannot finish,
    // so it is released, unharmed, for the next start.
    assert_eq!(stored.status.as_str(), "queued", "{stored:?}");
    assert_eq!(
        stored.status_reason.as_deref(),
        Some("released at shutdown")
    );
    assert_eq!(stored.attempts, 0, "a release is not an attempt");
    assert_eq!(stored.lease_owner, None, "no lease left behind");
    drop(store);

    fake.clear_faults();
    let service = Service::start_with(fake, owners, dir, rules, |_| {}).await;
    service.wait_for(id, &["done"]).await;
    assert_eq!(
        service.fake.count("calls"),
        1,
        "the restart did not repeat a finished step"
    );
    assert_eq!(service.fake.count("contacts"), 1);
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_contact_the_crm_no_longer_has_is_dropped_and_resolved_again() {
    let service = Service::start(|_| {}).await;
    prepare_account(&service.fake);
    let first = service
        .post(
            "after_call",
            &incoming("g-1", "380671234567", "acmecom_ivan"),
        )
        .await;
    service.wait_for(first, &["done"]).await;
    let old = service.fake.objects("contacts")[0].id.clone();
    // A fresh process: nothing cached, only the stored link remembers it.
    let (fake, owners, dir, rules) = service.stop().await;
    assert!(fake.archive("contacts", &old), "merged away in the CRM");

    let service = Service::start_with(fake, owners, dir, rules, |_| {}).await;
    let second = service
        .post(
            "after_call",
            &incoming("g-2", "380671234567", "acmecom_ivan"),
        )
        .await;
    let event = service.wait_for(second, &["done"]).await;
    assert_eq!(event["facts"]["client"], json!("new"), "{event:#}");
    let contacts = service.fake.objects("contacts");
    assert_eq!(contacts.len(), 1);
    assert_ne!(contacts[0].id, old);
    let contact_step = event["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["action"] == json!("contact")))
        .cloned()
        .expect("contact step");
    assert_eq!(contact_step["crm_id"], json!(contacts[0].id));

    // The link now points at the new contact: a third call finds it without a search.
    service.fake.clear_requests();
    let third = service
        .post(
            "after_call",
            &incoming("g-3", "380671234567", "acmecom_ivan"),
        )
        .await;
    let event = service.wait_for(third, &["done"]).await;
    assert_eq!(event["facts"]["client"], json!("existing"));
    assert_eq!(service.fake.request_count("contacts.search"), 0);
    assert_eq!(service.fake.count("contacts"), 1);
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_written_to_the_store_by_another_process_is_picked_up_by_the_poll() {
    let service = Service::start(|_| {}).await;
    prepare_account(&service.fake);
    let id = service
        .post(
            "after_call",
            &incoming("r-1", "380671234567", "acmecom_ivan"),
        )
        .await;
    service.wait_for(id, &["done"]).await;
    let calls_before = service.fake.count("calls");

    // `switchboard replay ID` opens the store itself while the service runs.
    let url = format!("sqlite://{}/inbox.db", service.dir.path().display());
    let cli = SqliteStore::open(&url).await.expect("store");
    let outcome = cli.replay(EventId(id), Utc::now()).await.expect("replay");
    assert_eq!(outcome, switchboard_core::store::ReplayOutcome::Requeued);
    service
        .until("the replayed event ran again", async |service| {
            let event = service.event(id).await;
            event["status"] == json!("done")
                && event["attempts"] == json!(1)
                && event["status_reason"].is_null()
        })
        .await;
    let event = service.event(id).await;
    let steps = event["steps"].as_array().expect("steps");
    assert!(
        steps
            .iter()
            .any(|s| s["action"] == json!("log_call") && s["outcome"] == json!("created")),
        "{event:#}"
    );
    assert_eq!(
        service.fake.count("calls"),
        calls_before,
        "the replay skipped the logged call"
    );
    assert_eq!(service.fake.count("contacts"), 1);
    assert_eq!(service.fake.count("deals"), 1);
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_rules_script_dead_letters_the_event_with_its_error() {
    let (fake, owners) = fake(FakeOptions::default()).await;
    prepare_account(&fake);
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    std::fs::write(
        rules.join("matrix.yaml"),
        "scenarios:\n  - name: scripted\n    when:\n      script: checks::explode\n    then:\n      - contact\n",
    )
    .expect("matrix");
    std::fs::write(
        rules.join("checks.rhai"),
        "fn explode(event, facts) {\n    throw \"exploded on purpose\";\n}\n",
    )
    .expect("script");
    let service = Service::start_with(fake, owners, dir, rules, |_| {}).await;
    let id = service
        .post(
            "after_call",
            &incoming("x-1", "380671234567", "acmecom_ivan"),
        )
        .await;
    let dead = service.wait_for(id, &["dead"]).await;
    assert_eq!(dead["attempts"], json!(1), "not retried: {dead:#}");
    let error = dead["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("exploded on purpose"), "{dead:#}");
    assert!(error.contains("checks"), "names the script: {dead:#}");
    assert_eq!(service.fake.count("contacts"), 0);
    service.stop().await;
}
