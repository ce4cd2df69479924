//! Events processed while HubSpot fails at random points (server errors,
//! rate limits, answers lost after the write landed) still end with one
//! contact and one deal per number and one call per event.
//!
//! The fault points come from a seeded RNG; the seed is printed and can be
//! replayed with `SWITCHBOARD_FAULT_SEED=<seed>`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::future::join_all;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use secrecy::SecretString;
use switchboard_core::cache::{CacheSettings, LookupCache};
use switchboard_core::connector::{
    CallLog, CallOutcome, ConnectorError, CrmId, NewContact, NewDeal, ObjectKind, StepKey,
};
use switchboard_core::event::Direction;
use switchboard_core::phone::{E164, Region};
use switchboard_hubspot::fake::{FakeHubSpot, FakeOptions, FaultAction as FakeAction};
use switchboard_hubspot::{HubSpotConfig, HubSpotConnector, setup};

const SEARCH_LAG: Duration = Duration::from_millis(300);

async fn process(cache: &LookupCache, event: i64, number: &E164) -> Result<CrmId, ConnectorError> {
    let contact = cache
        .find_or_create_contact(number, || NewContact {
            step_key: StepKey::new(event, 0, "contact"),
            phone: number.clone(),
            name: number.international_format(),
            owner: None,
            properties: BTreeMap::new(),
        })
        .await?
        .record;
    let deal = cache
        .find_or_create_deal(&contact.id, || NewDeal {
            step_key: StepKey::new(event, 1, "deal"),
            name: "Call from a client".into(),
            pipeline: "default".into(),
            stage: "appointmentscheduled".into(),
            owner: None,
            properties: BTreeMap::new(),
            contact: contact.id.clone(),
        })
        .await?
        .record;
    let call = CallLog {
        step_key: StepKey::new(event, 2, "log_call"),
        timestamp: Utc::now(),
        direction: Direction::Incoming,
        outcome: CallOutcome::Connected,
        duration: Some(Duration::from_secs(30)),
        from_number: Some(number.to_string()),
        to_number: None,
        recording_url: None,
        title: "Incoming call".into(),
        body: String::new(),
        owner: None,
        contact: Some(contact.id),
        deal: Some(deal.id),
    };
    let connector = cache.connector();
    match connector.log_call(&call).await {
        Ok(id) => Ok(id),
        Err(error) if error.is_retryable() => {
            // In doubt: reconcile by step key before anything is repeated.
            let deadline = tokio::time::Instant::now() + SEARCH_LAG + Duration::from_secs(1);
            loop {
                if let Ok(Some(id)) = connector
                    .find_by_step_key(ObjectKind::Call, &call.step_key)
                    .await
                {
                    return Ok(id);
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(error);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Err(error) => Err(error),
    }
}

/// Retries an event as the executor would, a bounded number of times.
async fn process_with_retries(
    cache: &LookupCache,
    event: i64,
    number: &E164,
) -> Result<CrmId, String> {
    let mut last = String::new();
    for _ in 0..8 {
        match process(cache, event, number).await {
            Ok(id) => return Ok(id),
            Err(error) if error.is_retryable() => last = error.to_string(),
            Err(error) => return Err(format!("event {event}: {error}")),
        }
    }
    Err(format!("event {event} kept failing: {last}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_faults_never_duplicate_or_lose_records() {
    let seed: u64 = std::env::var("SWITCHBOARD_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("fault seed: {seed} (replay with SWITCHBOARD_FAULT_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);

    let fake = FakeHubSpot::start(FakeOptions {
        search_lag: SEARCH_LAG,
        burst_limit: 30,
        burst_window: Duration::from_secs(1),
        ..FakeOptions::default()
    })
    .await
    .expect("starts");
    let config = HubSpotConfig {
        base_url: fake.base_url().parse().expect("URL"),
        timeout: Duration::from_millis(400),
        initial_backoff: Duration::from_millis(20),
        rate_limit_retries: 8,
        ..HubSpotConfig::default()
    };
    let connector = Arc::new(
        HubSpotConnector::new(config, SecretString::from(fake.token().to_string()))
            .expect("config"),
    );
    setup(&connector, &[]).await.expect("setup");
    let cache = LookupCache::new(connector, CacheSettings::default());

    let numbers: Vec<E164> = ["0671234567", "0501112233", "0937654321", "0631230000"]
        .iter()
        .map(|n| E164::parse(n, Region::default()).expect("valid"))
        .collect();
    let operations = [
        "contacts.search",
        "contacts.upsert",
        "contacts.associations",
        "deals.create",
        "calls.create",
        "calls.search",
    ];
    let mut calls = Vec::new();
    for batch in 0..4 {
        for _ in 0..3 {
            let operation = operations[rng.random_range(0..operations.len())];
            let action = match rng.random_range(0..4) {
                0 => FakeAction::Status(503),
                1 => FakeAction::Status(502),
                2 => FakeAction::RateLimit("TEN_SECONDLY_ROLLING".into()),
                _ => FakeAction::Delay(Duration::from_millis(700)),
            };
            println!("batch {batch}: {action:?} on the next {operation}");
            fake.inject(Some(operation), action, 1);
        }
        let events = (0..4).map(|i| {
            let event = (batch * 4 + i) as i64 + 1;
            let number = numbers[i].clone();
            let cache = cache.clone();
            async move { process_with_retries(&cache, event, &number).await }
        });
        for outcome in join_all(events).await {
            calls.push(outcome.expect("every event ends processed"));
        }
        fake.clear_faults();
    }

    assert_eq!(
        fake.count("contacts"),
        4,
        "one contact per number (seed {seed})"
    );
    assert_eq!(fake.count("deals"), 4, "one deal per number (seed {seed})");
    assert_eq!(fake.count("calls"), 16, "one call per event (seed {seed})");
    let keys: BTreeSet<String> = fake
        .objects("calls")
        .iter()
        .filter_map(|c| c.property("hs_call_external_id").map(str::to_string))
        .collect();
    assert_eq!(
        keys.len(),
        16,
        "every call carries its own step key (seed {seed})"
    );
    let ids: BTreeSet<CrmId> = calls.into_iter().collect();
    assert_eq!(ids.len(), 16, "every event got its own call (seed {seed})");
}
