//! The README walkthrough, step by step, so that it keeps working: `init`,
//! the example employees, `check`, `serve` with no CRM token (the dry-run
//! connector), the example payloads posted, and the plans the README shows.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{Server, client, run, wait};
use serde_json::Value;

fn repository(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_walkthrough_plans_every_example_call_on_the_dry_run_connector() {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let (status, _, stderr) = run(dir.path(), &["init", "."], &[]);
    assert!(status.success(), "init: {stderr}");
    std::fs::copy(
        repository("examples/walkthrough/employees.yaml"),
        dir.path().join("rules/employees.yaml"),
    )
    .expect("copy employees.yaml");
    let (status, stdout, stderr) = run(dir.path(), &["check"], &[]);
    assert!(status.success(), "check: {stdout}{stderr}");
    assert!(stdout.contains("rule tests pass"), "{stdout}");

    let server = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || {
            Server::spawn(
                dir,
                &[
                    "--config",
                    "switchboard.yaml",
                    "serve",
                    "--listen",
                    "127.0.0.1:0",
                ],
                &[],
            )
        })
        .await
        .expect("serve starts")
    };
    assert!(
        server.log().contains("dry-run connector"),
        "{}",
        server.log()
    );

    let http = client();
    let hook = server.url("/webhooks/ringostat?event=after_call");
    let calls = [
        ("payloads/after-call.json", "incoming_answered_new_client"),
        (
            "walkthrough/second-call.json",
            "incoming_answered_by_responsible",
        ),
        ("payloads/user-named.json", "incoming_missed_new_client"),
        ("payloads/classic-webhook.json", "unknown_employee"),
        ("walkthrough/hidden-number.json", "no_client_number"),
    ];
    let mut ids = Vec::new();
    for (file, _) in calls {
        let body = std::fs::read(repository(&format!("examples/{file}"))).expect("example");
        let answer: Value = http
            .post(&hook)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("webhook answers")
            .json()
            .await
            .expect("JSON");
        assert_eq!(answer["duplicate"], false, "{file}: {answer}");
        ids.push(answer["id"].as_i64().expect("id"));
    }

    let mut events = Vec::new();
    for id in &ids {
        let url = server.url(&format!("/api/events/{id}"));
        let event = wait::until_some(Duration::from_secs(30), "the event is processed", || {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let event: Value = http.get(&url).send().await.ok()?.json().await.ok()?;
                ["done", "skipped"]
                    .iter()
                    .any(|s| event["status"] == *s)
                    .then_some(event)
            }
        })
        .await
        .unwrap_or_else(|e| panic!("event {id}: {e}\n{}", server.log()));
        events.push(event);
    }
    for ((file, scenario), event) in calls.iter().zip(&events) {
        assert_eq!(event["plan"]["scenario"], *scenario, "{file}: {event}");
    }
    let statuses: Vec<&str> = events.iter().filter_map(|e| e["status"].as_str()).collect();
    assert_eq!(statuses, ["done", "done", "done", "done", "skipped"]);

    // The second call found what the first one created.
    let ids_of = |event: &Value, action: &str| -> Vec<Value> {
        event["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["action"] == action)
            .map(|s| s["crm_id"].clone())
            .collect()
    };
    for action in ["contact", "deal"] {
        assert_eq!(
            ids_of(&events[1], action),
            ids_of(&events[0], action),
            "{action}"
        );
    }
    let outcomes: Vec<&str> = events[1]["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["outcome"].as_str())
        .collect();
    assert_eq!(outcomes, ["found", "found", "created"]);
}
