//! Nothing acknowledged is lost: events answered 200 before a `kill -9` are
//! all in the inbox after a restart, and a redelivery answers `duplicate`.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Server, client};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

const SENDERS: usize = 16;

fn seed() -> u64 {
    std::env::var("SWITCHBOARD_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
}

fn body(n: usize) -> String {
    format!(
        r#"{{"uniqueid":"r-{n}","call_type":"in","caller":"38067{:07}","disposition":"ANSWERED"}}"#,
        n
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_kill_9() {
    let seed = seed();
    println!("seed {seed} (set SWITCHBOARD_TEST_SEED to repeat)");
    let mut rng = StdRng::seed_from_u64(seed);
    let kill_after = rng.random_range(50..400);

    let server = Server::start("", &[]);
    let url = server.url("/webhooks/ringostat");
    let acknowledged = Arc::new(tokio::sync::Mutex::new(BTreeMap::new()));
    let next = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (url, acknowledged, next) = (url.clone(), acknowledged.clone(), next.clone());
            tokio::spawn(async move {
                let client = client();
                loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    if n > 100_000 {
                        return;
                    }
                    let response = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body(n))
                        .send()
                        .await;
                    // After the kill, requests fail: that sender is done.
                    let Ok(response) = response else { return };
                    if response.status() != 200 {
                        return;
                    }
                    let Ok(answer) = response.json::<Value>().await else {
                        return;
                    };
                    acknowledged.lock().await.insert(n, answer["id"].clone());
                }
            })
        })
        .collect();

    // Kill at a random point while all senders are busy.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while acknowledged.lock().await.len() < kill_after {
        assert!(
            std::time::Instant::now() < deadline,
            "too slow to reach {kill_after} events"
        );
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let dir = server.kill_hard();
    for sender in senders {
        sender.await.expect("sender task");
    }
    let acknowledged = acknowledged.lock().await.clone();
    println!(
        "killed after {} acknowledged events (target {kill_after})",
        acknowledged.len()
    );

    let restarted = Server::start_in(dir, "", &[]);
    let http = client();
    let mut stored = BTreeMap::new();
    let mut before: Option<Value> = None;
    loop {
        let page = match &before {
            Some(id) => format!("/api/events?limit=500&before={id}"),
            None => "/api/events?limit=500".to_string(),
        };
        let list: Value = http
            .get(restarted.url(&page))
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json");
        for event in list["events"].as_array().expect("events") {
            stored.insert(
                event["call_id"].as_str().expect("call id").to_string(),
                event["id"].clone(),
            );
        }
        match list["next_before"].clone() {
            Value::Null => break,
            id => before = Some(id),
        }
    }
    for (n, id) in &acknowledged {
        assert_eq!(
            stored.get(&format!("r-{n}")),
            Some(id),
            "acknowledged event r-{n} (seed {seed}) is missing"
        );
    }

    let (&n, id) = acknowledged
        .iter()
        .next()
        .expect("at least one acknowledged event");
    let again: Value = http
        .post(restarted.url("/webhooks/ringostat"))
        .header("content-type", "application/json")
        .body(body(n))
        .send()
        .await
        .expect("redelivery")
        .json()
        .await
        .expect("json");
    assert_eq!(again, json!({ "id": id, "duplicate": true }));
}

#[test]
fn sigterm_stops_gracefully() {
    let server = Server::start("", &[]);
    let log = server.log.clone();
    let status = server.terminate();
    assert!(status.success(), "exit status {status}");
    let log = log.lock().expect("log").clone();
    assert!(log.contains("SIGTERM received: shutting down"), "{log}");
}
