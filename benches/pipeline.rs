//! The whole pipeline, measured: the real `switchboard` binary, configured
//! as a user would (shipped rules, `hubspot setup`), against the in-process
//! fake HubSpot with its rate limits raised, so that the figures are the
//! service's own and not HubSpot's budget.
//!
//! Run: `cargo bench --bench pipeline -- [--only requests|throughput|memory]
//! [--new-clients N] [--known-calls N] [--rate R] [--seconds S] [--cached-phones N]
//! [--memory-rounds N] [--memory-clients N]`
//!
//! - `requests`: HubSpot requests per event for each situation of the
//!   default matrix, with the client not yet cached and cached, beside a
//!   naive search-then-create integration doing the same against the same
//!   fake (each pair is checked to have created the same records);
//! - `throughput`: events per second and latency from posting the webhook to
//!   the event's last CRM write (read from the fake's records), for a burst
//!   of new clients, a burst of calls from known clients, and a steady rate;
//! - `memory`: resident memory of the idle service, after rounds of
//!   `--rate` calls per second for `--seconds` from `--memory-clients` known
//!   clients (does it settle or grow, and does latency?), and of the lookup
//!   cache holding `--cached-phones` phones.

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use common::calls::Call;
use common::crm::e164;
use common::world::World;
use support::measure::{self, last_writes, latencies, millis, percentile};
use support::naive::Naive;
use support::rows::Row;
use switchboard_core::cache::{CacheSettings, LookupCache};
use switchboard_core::connector::dry_run::DryRunConnector;
use switchboard_core::connector::{ContactRecord, CrmId, DealRecord, OwnerId};

struct Options {
    only: Option<String>,
    new_clients: usize,
    known_calls: usize,
    rate: u64,
    seconds: u64,
    cached_phones: usize,
    memory_clients: usize,
    memory_rounds: usize,
}

fn options() -> Options {
    let mut options = Options {
        only: None,
        new_clients: 200,
        known_calls: 1_000,
        rate: 20,
        seconds: 30,
        cached_phones: 100_000,
        memory_clients: 20,
        memory_rounds: 4,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> String {
            args.next()
                .unwrap_or_else(|| panic!("{name} needs a value"))
        };
        let number = |name: &str, text: String| -> usize {
            text.parse()
                .unwrap_or_else(|_| panic!("{name} needs a number"))
        };
        match arg.as_str() {
            "--only" => options.only = Some(value("--only")),
            "--new-clients" => options.new_clients = number(&arg, value(&arg)),
            "--known-calls" => options.known_calls = number(&arg, value(&arg)),
            "--rate" => options.rate = number(&arg, value(&arg)) as u64,
            "--seconds" => options.seconds = number(&arg, value(&arg)) as u64,
            "--cached-phones" => options.cached_phones = number(&arg, value(&arg)),
            "--memory-rounds" => options.memory_rounds = number(&arg, value(&arg)),
            "--memory-clients" => options.memory_clients = number(&arg, value(&arg)),
            _ => {} // `cargo bench` passes `--bench`
        }
    }
    options
}

impl Options {
    fn runs(&self, section: &str) -> bool {
        self.only.as_deref().is_none_or(|only| only == section)
    }
}

/// Numbers never used by two measurements of one run.
fn phone(n: usize) -> String {
    format!("38097{:07}", n)
}

/// A service and a fake whose limits are out of the way.
async fn world() -> World {
    World::builder()
        .fake(|f| {
            f.burst_limit = 1_000_000;
            f.search_limit = 1_000_000;
        })
        .tuning(|t| {
            t.concurrency = 8;
            t.lease = "30s";
            t.burst_per_10s = 1_000_000;
        })
        .start()
        .await
}

/// One event so that the one-off reads (the account's custom properties,
/// the owners) are behind us, as in a service that has been running.
async fn warm_up(world: &World, n: usize) {
    let id = world.post(&Call::incoming(&phone(n))).await.id;
    world.expect_done(&[id]).await;
}

fn created(world: &World) -> [usize; 5] {
    ["contacts", "deals", "calls", "tasks", "notes"].map(|t| world.fake.count(t))
}

fn difference(after: [usize; 5], before: [usize; 5]) -> [usize; 5] {
    [0, 1, 2, 3, 4].map(|i| after[i] - before[i])
}

fn operations(world: &World) -> String {
    world
        .fake
        .request_counts()
        .iter()
        .map(|(operation, n)| format!("{operation} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Requests the service makes for one event.
async fn service_requests(world: &World, call: &Call) -> (usize, String, String) {
    world.fake.clear_requests();
    let id = world.post(call).await.id;
    world.settle(&[id]).await;
    let event = world.event(id).await;
    let scenario = event["plan"]["scenario"]
        .as_str()
        .unwrap_or("-")
        .to_string();
    (world.fake.requests().len(), scenario, operations(world))
}

async fn requests_per_event() {
    println!("## HubSpot requests per event\n");
    let world = world().await;
    warm_up(&world, 1).await;
    let naive = Naive::new(&world.fake);
    println!(
        "| situation | scenario | Switchboard, client not cached | Switchboard, client cached | naive integration |"
    );
    println!("|---|---|---|---|---|");
    let mut details = Vec::new();
    for (n, row) in Row::ALL.iter().enumerate() {
        let number = phone(1_000 + 2 * n);
        let call = row.prepare(&world, &number).await;
        let before = created(&world);
        let (cold, scenario, cold_operations) = service_requests(&world, &call).await;
        let by_service = difference(created(&world), before);
        let warm = if row.repeats() {
            let (warm, _, warm_operations) = service_requests(&world, &call.again()).await;
            details.push(format!("- {} (cached): {warm_operations}", row.label()));
            warm.to_string()
        } else {
            "-".to_string()
        };
        details.push(format!("- {}: {cold_operations}", row.label()));

        let twin = phone(1_000 + 2 * n + 1);
        let twin_call = row.prepare(&world, &twin).await;
        world.fake.clear_requests();
        let before = created(&world);
        naive.handle(*row, &twin_call, &e164(&twin)).await;
        let by_naive = difference(created(&world), before);
        let naive_requests = world.fake.requests().len();
        details.push(format!("- {} (naive): {}", row.label(), operations(&world)));
        assert_eq!(
            by_service,
            by_naive,
            "{}: both create the same records (contacts, deals, calls, tasks, notes)",
            row.label()
        );
        println!(
            "| {} | `{scenario}` | {cold} | {warm} | {naive_requests} |",
            row.label()
        );
    }
    println!("\nPer operation:\n\n{}\n", details.join("\n"));
}

/// Senders of a burst, each on its own kept-alive connection.
const LANES: usize = 16;

/// Posts `calls` as fast as the service answers, from [`LANES`] senders at
/// once (so that the pipeline, not the sender, is the bottleneck); returns
/// each inbox id with its posting moment.
async fn burst(world: &World, calls: &[Call]) -> Vec<(i64, chrono::DateTime<Utc>)> {
    let url = world.url("/webhooks/ringostat");
    let lanes: Vec<_> = (0..LANES)
        .map(|lane| {
            let calls: Vec<Call> = calls.iter().skip(lane).step_by(LANES).cloned().collect();
            let url = url.clone();
            tokio::spawn(async move {
                let http = common::client();
                let mut posted = Vec::with_capacity(calls.len());
                for call in calls {
                    let at = Utc::now();
                    let answer: serde_json::Value = http
                        .post(format!("{url}?{}", call.query()))
                        .header("content-type", "application/json")
                        .body(call.body())
                        .send()
                        .await
                        .expect("the webhook answers")
                        .json()
                        .await
                        .expect("JSON answer");
                    posted.push((answer["id"].as_i64().expect("inbox id"), at));
                }
                posted
            })
        })
        .collect();
    let mut posted = Vec::with_capacity(calls.len());
    for lane in lanes {
        posted.extend(lane.await.expect("sender"));
    }
    posted
}

fn report(name: &str, world: &World, posted: &[(i64, chrono::DateTime<Utc>)]) {
    let last = last_writes(&world.fake);
    let latencies = latencies(posted, &last);
    assert_eq!(
        latencies.len(),
        posted.len(),
        "every event wrote to the CRM"
    );
    let first = posted
        .iter()
        .map(|(_, at)| *at)
        .min()
        .unwrap_or_else(Utc::now);
    let end = posted
        .iter()
        .filter_map(|(id, _)| last.get(id))
        .max()
        .copied()
        .unwrap_or_else(Utc::now);
    let seconds = (end - first).num_milliseconds() as f64 / 1000.0;
    println!(
        "| {name} | {} | {:.1} | {} | {} | {} |",
        posted.len(),
        posted.len() as f64 / seconds,
        millis(percentile(&latencies, 0.5)),
        millis(percentile(&latencies, 0.99)),
        millis(percentile(&latencies, 1.0)),
    );
}

async fn throughput(options: &Options) {
    println!("## End to end: events per second and latency to the last CRM write\n");
    let world = world().await;
    warm_up(&world, 2).await;
    println!("| run | events | events/s | p50 | p99 | max |");
    println!("|---|---|---|---|---|---|");

    let new: Vec<Call> = (0..options.new_clients)
        .map(|n| Call::incoming(&phone(100_000 + n)))
        .collect();
    let posted = burst(&world, &new).await;
    let ids: Vec<i64> = posted.iter().map(|(id, _)| *id).collect();
    world
        .expect_done_within(&ids, Duration::from_secs(60 + options.new_clients as u64))
        .await;
    report("burst of new clients (row 1)", &world, &posted);

    // Known clients: the ones just created, now in the lookup cache.
    let known: Vec<Call> = (0..options.known_calls)
        .map(|n| new[n % new.len()].again())
        .collect();
    let posted = burst(&world, &known).await;
    let ids: Vec<i64> = posted.iter().map(|(id, _)| *id).collect();
    world
        .expect_done_within(&ids, Duration::from_secs(120))
        .await;
    report("burst of known clients (row 2a)", &world, &posted);

    // Steady rates: latency without a queue in front.
    let posted = steady(&world, options.rate as f64, options.seconds, |n| {
        new[n % new.len()].again()
    })
    .await;
    report(
        &format!(
            "{}/s of known clients for {} s",
            options.rate, options.seconds
        ),
        &world,
        &posted,
    );
    let posted = steady(&world, 1.0, options.seconds, |n| {
        Call::incoming(&phone(300_000 + n))
    })
    .await;
    report(
        &format!("1/s of new clients for {} s", options.seconds),
        &world,
        &posted,
    );
    println!();
}

/// Posts `make(n)` on a fixed schedule of `rate` per second for `seconds`
/// (open loop: latency counts from the scheduled moment), then waits until
/// all are done.
async fn steady(
    world: &World,
    rate: f64,
    seconds: u64,
    make: impl Fn(usize) -> Call,
) -> Vec<(i64, chrono::DateTime<Utc>)> {
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    let mut posted = Vec::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(seconds) {
        ticks.tick().await;
        let at = Utc::now();
        posted.push((world.post(&make(posted.len())).await.id, at));
    }
    let ids: Vec<i64> = posted.iter().map(|(id, _)| *id).collect();
    world
        .expect_done_within(&ids, Duration::from_secs(120))
        .await;
    posted
}

/// RSS of the bench process after the lookup cache was given `phones`
/// clients, each with a contact and an open deal, as the executor caches them.
async fn cache_memory(phones: usize) -> (u64, u64) {
    let own = std::process::id().to_string();
    let before = measure::rss_kib(&own).unwrap_or(0);
    let cache = LookupCache::new(
        Arc::new(DryRunConnector::new()),
        CacheSettings {
            ttl: Duration::from_secs(15 * 60),
            capacity: phones as u64,
        },
    );
    for n in 0..phones {
        let number = e164(&format!("38067{n:07}"));
        let contact = CrmId(format!("{}", 80_000_000_000u64 + n as u64));
        cache
            .remember_contact(
                &number,
                ContactRecord {
                    id: contact.clone(),
                    owner: Some(OwnerId("76543210".into())),
                    name: Some(number.international_format()),
                },
            )
            .await;
        cache
            .remember_open_deal(
                &contact,
                DealRecord {
                    id: CrmId(format!("{}", 40_000_000_000u64 + n as u64)),
                    owner: Some(OwnerId("76543210".into())),
                    name: Some(format!("Call from {}", number.as_str())),
                    pipeline: Some("default".into()),
                    stage: Some("appointmentscheduled".into()),
                    is_open: true,
                },
            )
            .await;
    }
    let after = measure::rss_kib(&own).unwrap_or(0);
    drop(cache);
    (before, after)
}

async fn memory(options: &Options) {
    println!("## Memory (VmRSS)\n");
    let world = world().await;
    let pid = world.server().pid().to_string();
    // Settled: the first reads of the rules and the account are done.
    warm_up(&world, 3).await;
    println!("| what | RSS | that round's latency p50 / p99 |");
    println!("|---|---|---|");
    let idle = measure::rss_kib(&pid).unwrap_or(0);
    println!(
        "| idle service (after one event) | {} | |",
        measure::mib(idle)
    );

    let clients: Vec<Call> = (0..options.memory_clients)
        .map(|n| Call::incoming(&phone(200_000 + n)))
        .collect();
    let posted = burst(&world, &clients).await;
    let ids: Vec<i64> = posted.iter().map(|(id, _)| *id).collect();
    world
        .expect_done_within(
            &ids,
            Duration::from_secs(60 + options.memory_clients as u64),
        )
        .await;
    let mut events = 1 + clients.len();
    println!(
        "| after {events} events ({} new clients) | {} | |",
        clients.len(),
        measure::mib(measure::rss_kib(&pid).unwrap_or(0))
    );
    for _ in 0..options.memory_rounds {
        let posted = steady(&world, options.rate as f64, options.seconds, |n| {
            clients[n % clients.len()].again()
        })
        .await;
        events += posted.len();
        let latencies = latencies(&posted, &last_writes(&world.fake));
        println!(
            "| after {events} events (then {}/s from those clients for {} s) | {} | {} / {} |",
            options.rate,
            options.seconds,
            measure::mib(measure::rss_kib(&pid).unwrap_or(0)),
            millis(percentile(&latencies, 0.5)),
            millis(percentile(&latencies, 0.99)),
        );
    }

    let (before, after) = cache_memory(options.cached_phones).await;
    let grown = after.saturating_sub(before);
    println!(
        "| lookup cache with {} phones (contact and open deal each), in-process | +{} ({} bytes per phone) | |",
        options.cached_phones,
        measure::mib(grown),
        grown * 1024 / options.cached_phones.max(1) as u64
    );
    println!(
        "| idle service + that cache | {} | |",
        measure::mib(idle + grown)
    );
    println!();
}

fn main() {
    let options = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        if options.runs("requests") {
            requests_per_event().await;
        }
        if options.runs("throughput") {
            throughput(&options).await;
        }
        if options.runs("memory") {
            memory(&options).await;
        }
    });
}
