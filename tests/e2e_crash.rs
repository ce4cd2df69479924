//! Exactly once across crashes (DESIGN §8): while about a hundred calls
//! flow, the service is killed with SIGKILL at three points drawn from a
//! seeded RNG and restarted each time. Every acknowledged event ends in the
//! CRM exactly once: no missing call log, no duplicate call, contact or deal.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use common::calls::Call;
use common::crm::assert_exactly_once;
use common::inbox::Ack;
use common::world::World;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::Value;

const CALLS: usize = 96;
const CLIENTS: usize = 12;
/// Webhooks acknowledged but not yet logged in the CRM, at most.
const IN_FLIGHT: usize = 24;
const DEADLINE: Duration = Duration::from_secs(90);

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

/// Three kill points, as numbers of call logs in the CRM, at least ten apart.
fn kill_points(rng: &mut StdRng) -> Vec<usize> {
    loop {
        let mut points: Vec<usize> = (0..3).map(|_| rng.random_range(5..CALLS - 6)).collect();
        points.sort();
        if points.windows(2).all(|w| w[1] - w[0] >= 10) {
            return points;
        }
    }
}

/// The service's address, `None` while it is down.
type Address = Arc<RwLock<Option<String>>>;

/// Posts every call in order as Ringostat would: a call not acknowledged
/// (the service is down, or died before answering) is sent again until it
/// is. Keeps at most [`IN_FLIGHT`] calls ahead of the CRM.
async fn deliver(calls: Vec<Call>, address: Address, logged: Arc<AtomicUsize>) -> Vec<Ack> {
    let http = common::client();
    let mut acks = Vec::with_capacity(calls.len());
    let deadline = Instant::now() + DEADLINE;
    for call in &calls {
        loop {
            assert!(
                Instant::now() < deadline,
                "{} never acknowledged",
                call.call_id
            );
            let base = address.read().expect("address").clone();
            let ahead = acks.len().saturating_sub(logged.load(Ordering::SeqCst));
            let Some(base) = base.filter(|_| ahead < IN_FLIGHT) else {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            let answer = http
                .post(format!("{base}/webhooks/ringostat?{}", call.query()))
                .header("content-type", "application/json")
                .body(call.body())
                .send()
                .await;
            if let Some(ack) = acknowledgement(answer).await {
                acks.push(ack);
                break;
            }
            // Refused or unanswered: the service is going down; try again.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    acks
}

async fn acknowledgement(answer: reqwest::Result<reqwest::Response>) -> Option<Ack> {
    let response = answer.ok()?;
    if response.status() != 200 {
        return None;
    }
    let body: Value = response.json().await.ok()?;
    Some(Ack {
        id: body["id"].as_i64()?,
        duplicate: body["duplicate"].as_bool()?,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_event_reaches_the_crm_exactly_once_across_three_kill_9s() {
    let seed = seed();
    println!("seed {seed} (set SWITCHBOARD_TEST_SEED to repeat)");
    let mut rng = StdRng::seed_from_u64(seed);
    let kills = kill_points(&mut rng);
    println!("killing when {kills:?} call logs are in the CRM");

    let mut world = World::builder()
        .fake(|f| {
            f.burst_limit = 100_000;
            f.search_limit = 1_000;
        })
        .start()
        .await;
    let calls: Vec<Call> = (0..CALLS)
        .map(|n| Call::incoming(&format!("38050{:07}", 3_000_000 + n % CLIENTS)))
        .collect();
    let address: Address = Arc::new(RwLock::new(Some(world.url(""))));
    let logged = Arc::new(AtomicUsize::new(0));
    let sender = tokio::spawn(deliver(calls.clone(), address.clone(), logged.clone()));

    for (n, kill_at) in kills.iter().enumerate() {
        common::wait::until(DEADLINE, &format!("{kill_at} call logs"), || async {
            let count = world.crm().count("calls");
            logged.store(count, Ordering::SeqCst);
            count >= *kill_at
        })
        .await
        .unwrap_or_else(|e| panic!("{e} (seed {seed})\n{}", world.log_tail(30)));
        *address.write().expect("address") = None;
        world.kill_hard().await;
        println!("kill {} at {} call logs", n + 1, world.crm().count("calls"));
        world.restart().await;
        *address.write().expect("address") = Some(world.url(""));
    }
    common::wait::until(DEADLINE, "every call is acknowledged", || async {
        logged.store(world.crm().count("calls"), Ordering::SeqCst);
        sender.is_finished()
    })
    .await
    .unwrap_or_else(|e| panic!("{e} (seed {seed})"));
    let acks = sender.await.expect("sender");

    let ids: Vec<i64> = acks.iter().map(|a| a.id).collect();
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        CALLS,
        "one inbox event per call (seed {seed})"
    );
    world.expect_done(&ids).await;
    let crm = world.crm();
    assert_eq!(
        crm.summary(),
        format!("contacts={CLIENTS} deals={CLIENTS} calls={CALLS} tasks=0 notes=0"),
        "seed {seed}"
    );
    assert_exactly_once(&crm, &calls, &ids);
}
