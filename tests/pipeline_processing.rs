//! The pipeline against the fake HubSpot, in-process: what one event does in
//! the CRM, exactly once, whatever fails on the way.

mod pipeline_support;

use std::time::Duration;

use pipeline_support::{Service, incoming, linked, prepare_account};
use serde_json::json;
use switchboard_hubspot::fake::FaultAction;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_clients_answered_call_becomes_contact_deal_and_call() {
    let service = Service::start(|_| {}).await;
    prepare_account(&service.fake);
    let id = service
        .post(
            "after_call",
            &incoming("c-1", "380671234567", "acmecom_ivan"),
        )
        .await;
    let event = service.wait_for(id, &["done"]).await;

    let fake = &service.fake;
    let contacts = fake.objects("contacts");
    let deals = fake.objects("deals");
    let calls = fake.objects("calls");
    assert_eq!((contacts.len(), deals.len(), calls.len()), (1, 1, 1));
    let (contact, deal, call) = (&contacts[0], &deals[0], &calls[0]);
    assert_eq!(contact.property("phone"), Some("+380671234567"));
    assert_eq!(
        contact.property("hubspot_owner_id"),
        Some(service.owners.ivan.as_str())
    );
    assert_eq!(
        deal.property("hubspot_owner_id"),
        Some(service.owners.ivan.as_str())
    );
    assert_eq!(deal.property("utm_source"), Some("google"));
    assert_eq!(call.property("hs_call_status"), Some("COMPLETED"));
    assert_eq!(call.property("hs_call_duration"), Some("61000"));
    assert_eq!(call.property("hs_call_direction"), Some("INBOUND"));
    assert_eq!(call.property("hs_call_from_number"), Some("+380671234567"));
    assert_eq!(
        call.property("hs_call_recording_url"),
        Some("https://records.example.com/c-1.mp3")
    );
    assert_eq!(
        linked(fake, "calls", &call.id, "contacts"),
        vec![contact.id.clone()]
    );
    assert_eq!(
        linked(fake, "calls", &call.id, "deals"),
        vec![deal.id.clone()]
    );
    assert_eq!(
        linked(fake, "deals", &deal.id, "contacts"),
        vec![contact.id.clone()]
    );

    // The operator's view: plan, trace, facts, and every step with its CRM id.
    assert_eq!(
        event["plan"]["scenario"],
        json!("incoming_answered_new_client")
    );
    assert!(
        event["plan"]["trace"]
            .as_array()
            .is_some_and(|t| !t.is_empty())
    );
    assert_eq!(event["rules_version"], event["plan"]["rules_version"]);
    assert_eq!(event["facts"]["client"], json!("new"));
    assert_eq!(event["facts"]["employee"], json!("known"));
    assert_eq!(event["attempts"], json!(1));
    let steps: Vec<(String, String, String)> = event["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["key"].as_str().unwrap_or_default().to_string(),
                s["outcome"].as_str().unwrap_or_default().to_string(),
                s["crm_id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            (
                format!("sb-{id}-0-contact"),
                "created".into(),
                contact.id.clone()
            ),
            (format!("sb-{id}-0-deal"), "created".into(), deal.id.clone()),
            (
                format!("sb-{id}-0-log_call"),
                "created".into(),
                call.id.clone()
            ),
        ]
    );
    assert_eq!(
        call.property("hs_call_external_id"),
        Some(format!("sb-{id}-0-log_call").as_str())
    );
    // Every metric of DESIGN §7 is exposed after this traffic.
    let (status, metrics) = service.get("/metrics").await;
    assert_eq!(status, 200);
    let metrics = metrics.as_str().unwrap_or_default().to_string();
    for name in [
        "switchboard_events_total{status=\"done\"}",
        "switchboard_event_seconds_bucket",
        "switchboard_crm_requests_total{connector=\"hubspot\"",
        "switchboard_cache_lookups_total{",
        "switchboard_retries_total",
        "switchboard_dead_letters",
        "switchboard_rules_reloads_total{result=\"ok\"}",
        "switchboard_rules_version_info{version=",
    ] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pickup_then_after_call_completes_the_same_call_log() {
    let service = Service::start(|_| {}).await;
    prepare_account(&service.fake);
    let mut pickup = incoming("c-7", "380671234567", "acmecom_ivan");
    pickup["disposition"] = json!("");
    pickup["billsec"] = json!("0");
    pickup["recording"] = json!("");
    let first = service.post("pickup", &pickup).await;
    service.wait_for(first, &["done"]).await;
    let calls = service.fake.objects("calls");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].property("hs_call_status"), Some("IN_PROGRESS"));

    let second = service
        .post(
            "after_call",
            &incoming("c-7", "380671234567", "acmecom_ivan"),
        )
        .await;
    let event = service.wait_for(second, &["done"]).await;
    let fake = &service.fake;
    assert_eq!((fake.count("contacts"), fake.count("deals")), (1, 1));
    let calls = fake.objects("calls");
    assert_eq!(
        calls.len(),
        1,
        "the after-call event completes the pick-up's call log"
    );
    let call = &calls[0];
    assert_eq!(call.property("hs_call_status"), Some("COMPLETED"));
    assert_eq!(call.property("hs_call_duration"), Some("61000"));
    assert_eq!(
        call.property("hs_call_recording_url"),
        Some("https://records.example.com/c-7.mp3")
    );
    assert_eq!(
        call.property("hs_call_external_id"),
        Some(format!("sb-{first}-0-log_call").as_str())
    );
    let log_step = event["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["action"] == json!("log_call")))
        .cloned()
        .expect("log_call step");
    assert_eq!(log_step["outcome"], json!("updated"));
    assert_eq!(log_step["crm_id"], json!(call.id));
    assert_eq!(fake.request_count("calls.create"), 1);
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_one_number_run_one_at_a_time_in_arrival_order() {
    let service = Service::start(|_| {}).await;
    prepare_account(&service.fake);
    // Every request is slow, so overlapping work would show.
    service.fake.inject_for(
        None,
        FaultAction::Delay(Duration::from_millis(30)),
        Duration::from_secs(60),
    );
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            service
                .post(
                    "after_call",
                    &incoming(&format!("o-{n}"), "380671234567", "acmecom_ivan"),
                )
                .await,
        );
    }
    let mut finished = Vec::new();
    for id in &ids {
        let event = service.wait_for(*id, &["done"]).await;
        finished.push(event["finished_at"].as_str().expect("finished").to_string());
    }
    let mut sorted = finished.clone();
    sorted.sort();
    assert_eq!(finished, sorted, "finished in arrival order");
    let fake = &service.fake;
    assert_eq!(
        (
            fake.count("contacts"),
            fake.count("deals"),
            fake.count("calls")
        ),
        (1, 1, 5)
    );
    // Each event's CRM work began after the previous one's had ended.
    let calls = fake.objects("calls");
    let mut by_event: Vec<(i64, chrono::DateTime<chrono::Utc>)> = calls
        .iter()
        .map(|c| {
            let key = c.property("hs_call_external_id").unwrap_or_default();
            let event: i64 = key
                .split('-')
                .nth(1)
                .and_then(|n| n.parse().ok())
                .expect("key");
            (event, c.created_at)
        })
        .collect();
    by_event.sort();
    assert!(
        by_event.windows(2).all(|w| w[0].1 <= w[1].1),
        "{by_event:?}"
    );
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_is_reconciled_by_step_key_and_never_logs_the_call_twice() {
    let service = Service::start(|_| {}).await;
    prepare_account(&service.fake);
    // The fake makes the call but answers after the connector's timeout.
    service.fake.inject(
        Some("calls.create"),
        FaultAction::Delay(Duration::from_millis(1500)),
        1,
    );
    let id = service
        .post(
            "after_call",
            &incoming("c-2", "380671234567", "acmecom_ivan"),
        )
        .await;
    let event = service.wait_for(id, &["done"]).await;
    assert_eq!(service.fake.count("calls"), 1, "{event:#}");
    let call = &service.fake.objects("calls")[0];
    let log_step = event["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["action"] == json!("log_call")))
        .cloned()
        .expect("log_call step");
    assert_eq!(log_step["outcome"], json!("created"));
    assert_eq!(
        log_step["crm_id"],
        json!(call.id),
        "reconciled to the call the lost answer made"
    );
    assert!(
        event["attempts"].as_i64().unwrap_or_default() >= 2,
        "{event:#}"
    );
    assert!(
        event["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("in time")),
        "{event:#}"
    );
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_and_dead_lettered_after_the_limit() {
    let service = Service::start(|_| {}).await;
    prepare_account(&service.fake);
    service.fake.inject_for(
        Some("tasks.create"),
        FaultAction::Status(503),
        Duration::from_secs(60),
    );
    // A missed call from a new client: contact, deal, call, then a task that fails.
    let id = service
        .post("after_call", &incoming("c-3", "380671234567", ""))
        .await;
    let dead = service.wait_for(id, &["dead"]).await;
    assert_eq!(dead["attempts"], json!(4));
    assert!(
        dead["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("gave up after 4 attempts")),
        "{dead:#}"
    );
    let (_, metrics) = service.get("/metrics").await;
    let metrics = metrics.as_str().unwrap_or_default().to_string();
    assert!(metrics.contains("switchboard_dead_letters"), "{metrics}");
    assert!(metrics.contains("switchboard_retries_total"), "{metrics}");

    // The earlier steps were each done once, however often the task failed.
    let fake = &service.fake;
    assert_eq!(
        (
            fake.count("contacts"),
            fake.count("deals"),
            fake.count("calls")
        ),
        (1, 1, 1)
    );
    assert_eq!(fake.count("tasks"), 0);

    // HubSpot is back: the replay creates only the task.
    fake.clear_faults();
    let (status, _) = service.post_path(&format!("/api/events/{id}/replay")).await;
    assert_eq!(status, 200);
    let done = service.wait_for(id, &["done"]).await;
    assert_eq!(
        (
            fake.count("contacts"),
            fake.count("deals"),
            fake.count("calls")
        ),
        (1, 1, 1)
    );
    assert_eq!(fake.count("tasks"), 1, "{done:#}");
    let task = &fake.objects("tasks")[0];
    assert_eq!(
        task.property("hubspot_owner_id"),
        Some(service.owners.top.as_str())
    );
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_request_dead_letters_at_once_and_the_others_go_on() {
    let service = Service::start(|_| {}).await;
    // No UTM properties on deals: HubSpot refuses the deal (400).
    for object in ["contacts", "deals", "tasks", "notes"] {
        service
            .fake
            .define_property(object, "switchboard_step_key", true);
    }
    let refused = service
        .post(
            "after_call",
            &incoming("c-4", "380671234567", "acmecom_ivan"),
        )
        .await;
    let mut other = incoming("c-5", "380679999999", "acmecom_ivan");
    other.as_object_mut().map(|o| o.remove("utm_source"));
    let fine = service.post("after_call", &other).await;
    let dead = service.wait_for(refused, &["dead"]).await;
    assert_eq!(dead["attempts"], json!(1), "not retried: {dead:#}");
    assert!(
        dead["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("utm_source")),
        "{dead:#}"
    );
    service.wait_for(fine, &["done"]).await;

    // The account is fixed; the replay reuses the contact it made.
    for utm in [
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
    ] {
        service.fake.define_property("deals", utm, false);
    }
    let (status, answer) = service
        .post_path(&format!("/api/events/{refused}/replay"))
        .await;
    assert_eq!((status, answer["status"].clone()), (200, json!("queued")));
    let replayed = service.wait_for(refused, &["done"]).await;
    // Its own contact does not make the caller an existing client.
    assert_eq!(
        replayed["plan"]["scenario"],
        json!("incoming_answered_new_client"),
        "{replayed:#}"
    );
    assert_eq!(service.fake.count("contacts"), 2);
    assert_eq!(service.fake.count("deals"), 2);
    assert_eq!(service.fake.count("calls"), 2);
    let (status, _) = service.post_path("/api/events/99999/replay").await;
    assert_eq!(status, 404);
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_pauses_processing_until_the_account_works_again() {
    let service = Service::start(|_| {}).await;
    prepare_account(&service.fake);
    let token = service.fake.token().to_string();
    service.fake.revoke_token(&token);
    let id = service
        .post(
            "after_call",
            &incoming("c-6", "380671234567", "acmecom_ivan"),
        )
        .await;
    let paused = service.wait_for(id, &["paused"]).await;
    assert_eq!(paused["attempts"], json!(0), "a pause is not an attempt");
    let (status, ready) = service.get("/readyz").await;
    assert_eq!(status, 503);
    let crm = ready["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == json!("crm")))
        .cloned()
        .expect("crm check");
    assert!(
        crm["error"].as_str().is_some_and(|e| e.contains("paused")),
        "{ready:#}"
    );
    let (_, metrics) = service.get("/metrics").await;
    assert!(
        metrics
            .as_str()
            .is_some_and(|m| m.contains("switchboard_crm_paused{issue=\"bad_token\"} 1")),
        "{metrics}"
    );
    // More events wait too, untouched.
    let later = service
        .post(
            "after_call",
            &incoming("c-8", "380670000001", "acmecom_ivan"),
        )
        .await;
    service.wait_for(later, &["queued", "paused"]).await;

    service.fake.add_token(&token, None);
    service.wait_for(id, &["done"]).await;
    service.wait_for(later, &["done"]).await;
    let (status, _) = service.get("/readyz").await;
    assert_eq!(status, 200);
    assert_eq!(service.fake.count("calls"), 2);
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_that_cannot_be_resolved_is_left_out_and_traced() {
    let service = Service::start(|_| {}).await;
    prepare_account(&service.fake);
    // The TOP manager left the company; the rules still name them.
    service.fake.archive_owner(&service.owners.top);
    let id = service
        .post(
            "after_call",
            &incoming("u-1", "380671234567", "acmecom_stranger"),
        )
        .await;
    let event = service.wait_for(id, &["done"]).await;
    assert_eq!(event["plan"]["scenario"], json!("unknown_employee"));
    let tasks = service.fake.objects("tasks");
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].property("hubspot_owner_id"), None);
    let traced = event["plan"]["trace"]
        .as_array()
        .expect("trace")
        .iter()
        .any(|entry| {
            entry["subject"] == json!(format!("step sb-{id}-0-task"))
                && entry["outcome"]
                    .as_str()
                    .is_some_and(|o| o.contains("top.manager@example.com"))
        });
    assert!(traced, "{:#}", event["plan"]["trace"]);
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_from_a_known_client_costs_one_request_when_the_cache_is_warm() {
    let service = Service::start(|_| {}).await;
    prepare_account(&service.fake);
    let first = service
        .post(
            "after_call",
            &incoming("w-1", "380671234567", "acmecom_ivan"),
        )
        .await;
    service.wait_for(first, &["done"]).await;
    let cold = service.fake.request_counts();
    println!("new client, cold cache: {cold:?}");

    service.fake.clear_requests();
    let second = service
        .post(
            "after_call",
            &incoming("w-2", "380671234567", "acmecom_ivan"),
        )
        .await;
    let event = service.wait_for(second, &["done"]).await;
    assert_eq!(
        event["plan"]["scenario"],
        json!("incoming_answered_by_responsible")
    );
    let warm = service.fake.request_counts();
    println!("known client, warm cache: {warm:?}");
    assert_eq!(warm.values().sum::<usize>(), 1, "{warm:?}");
    assert_eq!(warm.get("calls.create"), Some(&1));
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_resumes_the_plan_its_first_attempt_made() {
    let service = Service::start(|_| {}).await;
    prepare_account(&service.fake);
    // Row 3 fails at its last step, after contact, deal and call exist.
    service
        .fake
        .inject(Some("tasks.create"), FaultAction::Status(503), 4);
    let id = service
        .post("after_call", &incoming("m-1", "380671234567", ""))
        .await;
    let event = service.wait_for(id, &["done"]).await;
    assert!(event["attempts"].as_i64() > Some(1), "{event:#}");
    // The contact the first attempt made does not turn the retry into row 4.
    assert_eq!(
        event["plan"]["scenario"],
        json!("incoming_missed_new_client")
    );
    assert_eq!(event["facts"]["client"], json!("new"));
    let fake = &service.fake;
    assert_eq!(
        (
            fake.count("contacts"),
            fake.count("deals"),
            fake.count("calls")
        ),
        (1, 1, 1)
    );
    let tasks = fake.objects("tasks");
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        tasks[0].property("hs_task_subject"),
        Some("Missed call from +380671234567: assign an agent to call back")
    );
    service.stop().await;
}
