//! Hot reload under load (DESIGN §4): the integrator moves new deals to
//! another pipeline while calls flow. Every event records the rules version
//! of its plan; events accepted once `GET /api/rules` shows the new version
//! use it, and every deal is in the pipeline of the version that made it.
//! A broken edit afterwards changes nothing.

mod common;

use std::time::Duration;

use common::calls::Call;
use common::crm::assert_properties;
use common::inbox::plan_version;
use common::wait;
use common::world::{World, edit_file, replaced};
use serde_json::Value;

/// Calls waiting to be processed, at most: the traffic keeps flowing but
/// never races far ahead of the CRM.
const IN_FLIGHT: usize = 4;

fn phone(n: usize) -> String {
    format!("38063{:07}", 4_000_000 + n)
}

async fn version(world: &World) -> String {
    world.rules().await["version"]
        .as_str()
        .unwrap_or_else(|| panic!("no rules version: {}", world.log_tail(20)))
        .to_string()
}

/// Waits until fewer than [`IN_FLIGHT`] events are unsettled.
async fn make_room(world: &World) {
    wait::until(Duration::from_secs(30), "the service keeps up", || async {
        let events = world.events().await;
        let pending = events
            .values()
            .filter(|e| {
                !common::inbox::FINAL_STATUSES
                    .iter()
                    .any(|s| e["status"] == *s)
            })
            .count();
        pending < IN_FLIGHT
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", world.log_tail(30)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_change_under_load_applies_to_events_accepted_after_the_new_version_shows() {
    let world = World::builder()
        // The shipped rule tests pin the default pipeline; an integrator who
        // moves deals elsewhere updates them too, so here they are unpinned.
        .rules(|dir| {
            edit_file(&dir.join("tests/incoming.yaml"), |text| {
                replaced(
                    &text,
                    "          pipeline: default\n          stage: appointmentscheduled\n",
                    "",
                )
            })
        })
        .start()
        .await;
    world
        .fake
        .seed_pipeline("partners", "Partners", &["partnerrequest"]);
    let first_version = version(&world).await;

    let mut calls = (0..).map(|n| Call::incoming(&phone(n)));
    // (inbox id, the rules version `GET /api/rules` showed before it was posted)
    let mut sent: Vec<(i64, String)> = Vec::new();
    for _ in 0..6 {
        make_room(&world).await;
        let call = calls.next().expect("endless");
        sent.push((world.post(&call).await.id, first_version.clone()));
    }
    wait::until(Duration::from_secs(30), "some deals exist", || async {
        world.crm().count("deals") >= 3
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", world.log_tail(30)));

    edit_file(&world.rules_dir().join("matrix.yaml"), |text| {
        let text = replaced(&text, "  pipeline: default\n", "  pipeline: partners\n");
        replaced(
            &text,
            "  stage: appointmentscheduled\n",
            "  stage: partnerrequest\n",
        )
    });
    let mut after_swap = 0;
    while after_swap < 5 {
        assert!(sent.len() < 200, "the new rules never showed in /api/rules");
        make_room(&world).await;
        let shown = version(&world).await;
        if shown != first_version {
            after_swap += 1;
        }
        let call = calls.next().expect("endless");
        sent.push((world.post(&call).await.id, shown));
    }
    let second_version = version(&world).await;
    assert_ne!(second_version, first_version);

    let ids: Vec<i64> = sent.iter().map(|(id, _)| *id).collect();
    world.expect_done(&ids).await;
    let mut used = std::collections::BTreeMap::<String, usize>::new();
    for (id, shown) in &sent {
        let event = world.event(*id).await;
        let made_with = plan_version(&event);
        if *shown == second_version {
            assert_eq!(
                made_with, second_version,
                "event {id} was accepted after the swap"
            );
        }
        let (pipeline, stage) = if made_with == second_version {
            ("partners", "partnerrequest")
        } else {
            assert_eq!(made_with, first_version, "event {id}");
            ("default", "appointmentscheduled")
        };
        let deals = world.crm().created_by("deals", *id);
        assert_eq!(deals.len(), 1, "event {id} created one deal");
        assert_properties(&deals[0], &[("pipeline", pipeline), ("dealstage", stage)]);
        *used.entry(made_with).or_default() += 1;
    }
    assert_eq!(used.len(), 2, "both versions made plans: {used:?}");

    // A broken edit is refused: the running rules stay, and say why.
    edit_file(&world.rules_dir().join("matrix.yaml"), |text| {
        replaced(&text, "      client: new\n", "      client: maybe\n")
    });
    let refused: Value = wait::until_some(
        Duration::from_secs(20),
        "the broken edit is refused",
        || async {
            let rules = world.rules().await;
            (!rules["last_error"].is_null()).then_some(rules)
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", world.log_tail(20)));
    assert_eq!(refused["version"], second_version.as_str(), "{refused}");
    assert!(
        refused["last_error"].to_string().contains("maybe"),
        "{refused}"
    );
    let (status, ready) = world.readyz().await;
    assert_eq!(status, 200, "still ready with the running rules: {ready}");

    let late = calls.next().expect("endless");
    let late_id = world.post(&late).await.id;
    world.expect_done(&[late_id]).await;
    assert_eq!(plan_version(&world.event(late_id).await), second_version);
    let deals = world.crm().created_by("deals", late_id);
    assert_properties(&deals[0], &[("pipeline", "partners")]);
    let metrics = world.metrics().await;
    assert!(
        metrics.contains(r#"switchboard_rules_reloads_total{result="error"}"#),
        "the refused reload is counted:\n{metrics}"
    );
}
