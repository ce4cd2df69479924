//! `GET /metrics` (DESIGN §7): after traffic that exercises each of them (a
//! processed call, a retried one, a dead-lettered one, a rules reload), every
//! metric the design names is exposed, with its labels.

mod common;

use std::time::Duration;

use common::calls::Call;
use common::wait;
use common::world::{World, edit_file};
use switchboard_hubspot::fake::FaultAction;

const NAMES: [&str; 8] = [
    "switchboard_events_total",
    "switchboard_event_seconds",
    "switchboard_crm_requests_total",
    "switchboard_cache_lookups_total",
    "switchboard_retries_total",
    "switchboard_dead_letters",
    "switchboard_rules_reloads_total",
    "switchboard_rules_version_info",
];

/// Samples of `name` (a histogram's `_bucket`, `_sum`, `_count` included).
fn samples<'a>(metrics: &'a str, name: &str) -> Vec<&'a str> {
    metrics
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(['{', ' ', '_']))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_design_metric_is_exposed_after_some_traffic() {
    let world = World::start().await;
    let done = world.post(&Call::incoming("380671234567")).await.id;
    world.expect_done(&[done]).await;
    // One 503 more than the connector retries a search inside one attempt:
    // the event itself is retried.
    world
        .fake
        .inject(Some("contacts.search"), FaultAction::Status(503), 4);
    let retried = world.post(&Call::incoming("380671234568")).await.id;
    world.expect_done(&[retried]).await;
    world
        .fake
        .inject(Some("calls.create"), FaultAction::Status(400), 1);
    let dead = world.post(&Call::incoming("380671234569")).await.id;
    world
        .wait_event(dead, "dead-lettered", |e| e["status"] == "dead")
        .await;
    let before = world.rules().await["version"].clone();
    edit_file(&world.rules_dir().join("matrix.yaml"), |text| {
        format!("{text}\n# reviewed\n")
    });
    wait::until(Duration::from_secs(20), "the edited rules load", || async {
        world.rules().await["version"] != before
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", world.log_tail(20)));

    let metrics = world.metrics().await;
    for name in NAMES {
        assert!(
            !samples(&metrics, name).is_empty(),
            "{name} is missing:\n{metrics}"
        );
    }
    let has = |name: &str, labels: &[&str]| {
        samples(&metrics, name)
            .iter()
            .any(|line| labels.iter().all(|label| line.contains(label)))
    };
    assert!(
        has("switchboard_events_total", &[r#"status="done""#]),
        "{metrics}"
    );
    assert!(
        has("switchboard_events_total", &[r#"status="dead""#]),
        "{metrics}"
    );
    assert!(
        has("switchboard_event_seconds_bucket", &["le="]),
        "{metrics}"
    );
    assert!(
        has(
            "switchboard_crm_requests_total",
            &[r#"connector="hubspot""#, "operation=", "outcome="]
        ),
        "{metrics}"
    );
    assert!(
        has("switchboard_cache_lookups_total", &["cache=", "result="]),
        "{metrics}"
    );
    assert!(
        samples(&metrics, "switchboard_rules_reloads_total")
            .iter()
            .any(|line| line.contains("result=") && !line.contains(r#"result="error""#)),
        "the successful reload is counted: {metrics}"
    );
    let version = world.rules().await["version"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        has("switchboard_rules_version_info", &[&version]),
        "{metrics}"
    );
    let dead_letters: Vec<f64> = samples(&metrics, "switchboard_dead_letters")
        .iter()
        .filter_map(|line| line.rsplit(' ').next()?.parse().ok())
        .collect();
    assert_eq!(dead_letters, [1.0], "one dead letter: {metrics}");
    let retries: f64 = samples(&metrics, "switchboard_retries_total")
        .iter()
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(retries >= 1.0, "the retried event is counted: {metrics}");
}
