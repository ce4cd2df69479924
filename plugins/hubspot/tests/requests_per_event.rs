//! HubSpot requests per event, counted from the fake's log, for the
//! situations of the default matrix. These are the figures BENCHMARKS.md
//! quotes; a change that adds a request to a hot path fails here.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use secrecy::SecretString;
use switchboard_core::cache::{CacheSettings, LookupCache};
use switchboard_core::connector::{
    CallLog, CallOutcome, CrmId, NewContact, NewDeal, NewTask, StepKey,
};
use switchboard_core::event::Direction;
use switchboard_core::phone::{E164, Region};
use switchboard_core::plan::{OwnerSpec, Priority};
use switchboard_hubspot::fake::{FakeHubSpot, FakeOptions};
use switchboard_hubspot::{HubSpotConfig, HubSpotConnector, setup};

struct Bench {
    fake: FakeHubSpot,
    cache: LookupCache,
    events: i64,
}

impl Bench {
    async fn start(with_setup: bool) -> Bench {
        let fake = FakeHubSpot::start(FakeOptions::default())
            .await
            .expect("starts");
        fake.seed_owner("olena@acme.ua", "Olena", "Manager");
        fake.seed_owner("boss@acme.ua", "Top", "Manager");
        let config = HubSpotConfig {
            base_url: fake.base_url().parse().expect("URL"),
            timeout: Duration::from_secs(2),
            ..HubSpotConfig::default()
        };
        let connector = Arc::new(
            HubSpotConnector::new(config, SecretString::from(fake.token().to_string()))
                .expect("config"),
        );
        if with_setup {
            setup(&connector, &[]).await.expect("setup");
        }
        // The one-off read of the account's custom properties.
        connector.capabilities().await.expect("capabilities");
        let cache = LookupCache::new(connector, CacheSettings::default());
        Bench {
            fake,
            cache,
            events: 0,
        }
    }

    fn phone(raw: &str) -> E164 {
        E164::parse(raw, Region::default()).expect("valid")
    }

    /// One answered incoming call: contact and deal found or created, the
    /// employee's owner resolved, the call logged on both.
    async fn answered_call(&mut self, number: &E164) -> BTreeMap<String, usize> {
        self.events += 1;
        let event = self.events;
        self.fake.clear_requests();
        let owner = self
            .cache
            .resolve_owner(&OwnerSpec::parse("olena@acme.ua"))
            .await
            .expect("owner");
        let contact = self
            .cache
            .find_or_create_contact(number, || NewContact {
                step_key: StepKey::new(event, 0, "contact"),
                phone: number.clone(),
                name: number.international_format(),
                owner: owner.clone(),
                properties: BTreeMap::new(),
            })
            .await
            .expect("contact")
            .record;
        let deal = self
            .cache
            .find_or_create_deal(&contact.id, || NewDeal {
                step_key: StepKey::new(event, 1, "deal"),
                name: "Call from a client".into(),
                pipeline: "default".into(),
                stage: "appointmentscheduled".into(),
                owner: owner.clone(),
                properties: BTreeMap::new(),
                contact: contact.id.clone(),
            })
            .await
            .expect("deal")
            .record;
        self.cache
            .connector()
            .log_call(&call(event, &contact.id, &deal.id))
            .await
            .expect("call");
        self.fake.request_counts()
    }

    /// A missed call from a new client: contact and deal for the TOP
    /// manager, and a call-back task on both.
    async fn missed_call(&mut self, number: &E164) -> BTreeMap<String, usize> {
        let mut counts = self.answered_call_without_log(number).await;
        let event = self.events;
        let (contact, deal) = self.records(number).await;
        self.cache
            .connector()
            .create_task(&NewTask {
                step_key: StepKey::new(event, 2, "task"),
                subject: "Missed call: call back".into(),
                body: "Hand the client to an agent".into(),
                due: Utc::now(),
                priority: Priority::High,
                owner: None,
                contact: Some(contact),
                deal: Some(deal),
            })
            .await
            .expect("task");
        for (operation, count) in self.fake.request_counts() {
            *counts.entry(operation).or_default() += count;
        }
        counts
    }

    async fn answered_call_without_log(&mut self, number: &E164) -> BTreeMap<String, usize> {
        self.events += 1;
        let event = self.events;
        self.fake.clear_requests();
        self.cache
            .resolve_owner(&OwnerSpec::parse("boss@acme.ua"))
            .await
            .expect("owner");
        let contact = self
            .cache
            .find_or_create_contact(number, || NewContact {
                step_key: StepKey::new(event, 0, "contact"),
                phone: number.clone(),
                name: number.international_format(),
                owner: None,
                properties: BTreeMap::new(),
            })
            .await
            .expect("contact")
            .record;
        self.cache
            .find_or_create_deal(&contact.id, || NewDeal {
                step_key: StepKey::new(event, 1, "deal"),
                name: "Missed call".into(),
                pipeline: "default".into(),
                stage: "appointmentscheduled".into(),
                owner: None,
                properties: BTreeMap::new(),
                contact: contact.id.clone(),
            })
            .await
            .expect("deal");
        let counts = self.fake.request_counts();
        self.fake.clear_requests();
        counts
    }

    async fn records(&self, number: &E164) -> (CrmId, CrmId) {
        let contact = self
            .cache
            .find_contact(number)
            .await
            .expect("lookup")
            .expect("cached");
        let deal = self
            .cache
            .find_open_deal(&contact.id)
            .await
            .expect("lookup")
            .expect("cached");
        (contact.id, deal.id)
    }
}

fn call(event: i64, contact: &CrmId, deal: &CrmId) -> CallLog {
    CallLog {
        step_key: StepKey::new(event, 2, "log_call"),
        timestamp: Utc::now(),
        direction: Direction::Incoming,
        outcome: CallOutcome::Connected,
        duration: Some(Duration::from_secs(60)),
        from_number: Some("+380671234567".into()),
        to_number: Some("+380443334455".into()),
        recording_url: Some("https://records.example/a.mp3".into()),
        title: "Incoming call".into(),
        body: String::new(),
        owner: None,
        contact: Some(contact.clone()),
        deal: Some(deal.clone()),
    }
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn total(counts: &BTreeMap<String, usize>) -> usize {
    counts.values().sum()
}

#[tokio::test]
async fn requests_per_event_on_a_set_up_account() {
    let mut bench = Bench::start(true).await;

    let known = Bench::phone("0671234567");
    let contact = bench.fake.seed_contact("067 123 45 67", "Ivan Petrenko");
    bench
        .fake
        .seed_deal(&contact, "Open deal", true, Utc::now());

    let cold = bench.answered_call(&known).await;
    assert_eq!(
        cold,
        counts(&[
            ("calls.create", 1),
            ("contacts.associations", 1),
            ("contacts.search", 1),
            ("deals.batch_read", 1),
            ("owners.list", 1)
        ]),
        "known client, cold cache"
    );
    let warm = bench.answered_call(&known).await;
    assert_eq!(
        warm,
        counts(&[("calls.create", 1)]),
        "known client with an open deal, warm cache"
    );

    let new = bench.answered_call(&Bench::phone("0509998877")).await;
    assert_eq!(
        new,
        counts(&[
            ("calls.create", 1),
            ("contacts.associations", 1),
            ("contacts.search", 1),
            ("contacts.upsert", 1),
            ("deals.create", 1)
        ]),
        "new client (the owner is cached)"
    );
    let missed = bench.missed_call(&Bench::phone("0631112233")).await;
    assert_eq!(
        missed,
        counts(&[
            ("contacts.associations", 1),
            ("contacts.search", 1),
            ("contacts.upsert", 1),
            ("deals.create", 1),
            ("owners.list", 1),
            ("tasks.create", 1)
        ]),
        "missed call from a new client"
    );
    println!(
        "requests per event (set-up account): known client cold {}, warm {}, new client {}, missed new client {}",
        total(&cold),
        total(&warm),
        total(&new),
        total(&missed)
    );
}

#[tokio::test]
async fn requests_per_event_without_the_phone_property() {
    let mut bench = Bench::start(false).await;
    let new = bench.answered_call(&Bench::phone("0509998877")).await;
    assert_eq!(
        new,
        counts(&[
            ("calls.create", 1),
            ("contacts.associations", 1),
            ("contacts.create", 1),
            ("contacts.search", 1),
            ("deals.create", 1),
            ("owners.list", 1)
        ]),
        "new client, plain create"
    );
    let warm = bench.answered_call(&Bench::phone("0509998877")).await;
    assert_eq!(
        warm,
        counts(&[("calls.create", 1)]),
        "the records it created are cached"
    );
    println!(
        "requests per event (no phone_e164): new client {}, then {}",
        total(&new),
        total(&warm)
    );
}
