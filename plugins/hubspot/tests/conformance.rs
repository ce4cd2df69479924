//! The HubSpot connector passes the connector conformance suite against the
//! fake HubSpot with a 3-second search lag and a tight burst limit (20
//! requests per 2-second window), and every request it sends (and every
//! answer of the fake) conforms to HubSpot's OpenAPI specs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use switchboard_core::connector::{Connector, CrmId, ObjectKind, ObjectRef, OwnerId};
use switchboard_core::testkit::{Harness, run_suite};
use switchboard_hubspot::contract::Contract;
use switchboard_hubspot::fake::{FakeHubSpot, FakeOptions, LoggedRequest};
use switchboard_hubspot::{HubSpotConfig, HubSpotConnector, setup};

/// Which custom properties the account has when a scenario starts.
#[derive(Clone, Copy, Debug)]
enum Account {
    /// `switchboard hubspot setup` was run: step keys and `phone_e164`.
    SetUp,
    /// Step-key properties only: contacts are created with a plain POST.
    StepKeysOnly,
}

struct HubSpotHarness {
    fake: FakeHubSpot,
    connector: Arc<HubSpotConnector>,
    logs: Arc<Mutex<Vec<LoggedRequest>>>,
}

const SEARCH_LAG: Duration = Duration::from_secs(3);

fn fake_options() -> FakeOptions {
    FakeOptions {
        search_lag: SEARCH_LAG,
        burst_limit: 20,
        burst_window: Duration::from_secs(2),
        ..FakeOptions::default()
    }
}

fn connector_for(fake: &FakeHubSpot) -> HubSpotConnector {
    let config = HubSpotConfig {
        base_url: fake.base_url().parse().expect("the fake's URL parses"),
        timeout: Duration::from_secs(1),
        initial_backoff: Duration::from_millis(50),
        rate_limit_retries: 8,
        ..HubSpotConfig::default()
    };
    HubSpotConnector::new(config, SecretString::from(fake.token().to_string()))
        .expect("valid config")
}

impl HubSpotHarness {
    async fn start(account: Account, logs: Arc<Mutex<Vec<LoggedRequest>>>) -> HubSpotHarness {
        let fake = FakeHubSpot::start(fake_options())
            .await
            .expect("the fake starts");
        let connector = Arc::new(connector_for(&fake));
        match account {
            Account::SetUp => {
                let report = setup(&connector, &["utm_source".to_string()])
                    .await
                    .expect("setup runs");
                assert!(report.is_ok(), "{report}");
            }
            Account::StepKeysOnly => {
                for object in ["contacts", "deals"] {
                    fake.define_property(object, "switchboard_step_key", true);
                }
                for object in ["tasks", "notes"] {
                    fake.define_property(object, "switchboard_step_key", false);
                }
            }
        }
        HubSpotHarness {
            fake,
            connector,
            logs,
        }
    }
}

impl Drop for HubSpotHarness {
    fn drop(&mut self) {
        let requests = self.fake.requests();
        self.logs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(requests);
    }
}

fn object_type(kind: ObjectKind) -> &'static str {
    switchboard_hubspot::model::object_type(kind)
}

fn kind_of(object_type: &str) -> Option<ObjectKind> {
    Some(match object_type {
        "contacts" => ObjectKind::Contact,
        "deals" => ObjectKind::Deal,
        "calls" => ObjectKind::Call,
        "tasks" => ObjectKind::Task,
        "notes" => ObjectKind::Note,
        _ => return None,
    })
}

#[async_trait]
impl Harness for HubSpotHarness {
    fn connector(&self) -> Arc<dyn Connector> {
        self.connector.clone()
    }

    fn search_lag(&self) -> Duration {
        SEARCH_LAG
    }

    async fn seed_contact(&self, phone: &str, name: &str, created_at: DateTime<Utc>) -> CrmId {
        CrmId(self.fake.seed_contact_at(phone, name, created_at))
    }

    async fn seed_mobile_contact(&self, mobile: &str, name: &str) -> CrmId {
        CrmId(self.fake.seed_mobile_contact(mobile, name))
    }

    async fn seed_deal(
        &self,
        contact: &CrmId,
        name: &str,
        open: bool,
        created_at: DateTime<Utc>,
    ) -> CrmId {
        CrmId(self.fake.seed_deal(&contact.0, name, open, created_at))
    }

    async fn seed_owner(&self, email: &str) -> OwnerId {
        OwnerId(self.fake.seed_owner(email, "Olena", "Manager"))
    }

    async fn delete(&self, kind: ObjectKind, id: &CrmId) {
        self.fake.archive(object_type(kind), &id.0);
    }

    async fn count(&self, kind: ObjectKind) -> usize {
        self.fake.count(object_type(kind))
    }

    async fn linked(&self, kind: ObjectKind, id: &CrmId) -> Vec<ObjectRef> {
        self.fake
            .associations(object_type(kind), &id.0)
            .into_iter()
            .filter_map(|a| {
                Some(ObjectRef {
                    kind: kind_of(&a.to_type)?,
                    id: CrmId(a.to_id),
                })
            })
            .collect()
    }

    async fn fail_next(&self, requests: usize) {
        self.fake.fail_next(requests, 502);
    }

    async fn rate_limit_next(&self, requests: usize) {
        self.fake.rate_limit_next(requests, "TEN_SECONDLY_ROLLING");
    }

    async fn answer_late(&self, requests: usize, delay: Duration) {
        self.fake.delay_next(requests, delay);
    }

    async fn revoke_credentials(&self) {
        self.fake.revoke_token(self.fake.token());
    }
}

async fn conformance(account: Account) {
    let logs = Arc::new(Mutex::new(Vec::new()));
    let report = run_suite(|| HubSpotHarness::start(account, logs.clone())).await;
    println!("{account:?}:\n{report}");
    assert!(report.passed(), "{account:?}:\n{report}");

    let contract = Contract::load().expect("the specs load");
    let logs = logs.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert!(logs.len() > 100, "only {} requests were logged", logs.len());
    let violations = contract.check_log(&logs);
    let listed: Vec<String> = violations
        .iter()
        .take(20)
        .map(ToString::to_string)
        .collect();
    assert!(
        violations.is_empty(),
        "{} of {} exchanges depart from HubSpot's specs:\n{}",
        violations.len(),
        logs.len(),
        listed.join("\n")
    );
    println!("{} exchanges checked against HubSpot's specs", logs.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_passes_the_conformance_suite_on_a_set_up_account() {
    conformance(Account::SetUp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_passes_the_conformance_suite_without_the_phone_property() {
    conformance(Account::StepKeysOnly).await;
}
