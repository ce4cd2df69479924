//! The application in-process against the fake HubSpot, for the pipeline's
//! tests: the default rules with test employees, short leases, backoffs and
//! reconcile delays, a helper to post webhooks and one to wait (polling
//! with a deadline) for an event to reach a status.

#![allow(dead_code)] // each test file uses a different part of this module

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde_json::{Value, json};
use switchboard_core::config::{Environment, Settings};
use switchboard_core::connector::Connector;
use switchboard_core::startup::Application;
use switchboard_hubspot::fake::{FakeHubSpot, FakeOptions};
use switchboard_hubspot::{HubSpotConfig, HubSpotConnector};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const DEADLINE: Duration = Duration::from_secs(20);
pub const TOP: &str = "top.manager@example.com";
pub const IVAN: &str = "ivan@acme.ua";
pub const OLHA: &str = "olha@acme.ua";

/// The service settings every test starts from.
pub fn settings_yaml(dir: &Path, rules: &Path) -> String {
    format!(
        "listen: 127.0.0.1:0
store:
  url: sqlite://{}/inbox.db
rules:
  dir: {}
worker:
  concurrency: 4
  lease: 2s
  poll_interval: 100ms
  reconcile_delay: 1s
  pause_probe: 200ms
  shutdown_grace: 2s
retry:
  max_attempts: 4
  initial_backoff: 100ms
  max_backoff: 400ms
",
        dir.display(),
        rules.display()
    )
}

/// The shipped rules with two employees mapped to owners of the fake.
pub fn write_rules(dir: &Path) -> PathBuf {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    std::fs::copy(shipped.join("matrix.yaml"), rules.join("matrix.yaml")).expect("matrix");
    std::fs::write(
        rules.join("employees.yaml"),
        format!(
            "employees:
  - name: Ivan Petrenko
    owner: {IVAN}
    sip: acmecom_ivan
  - name: Olha Shevchenko
    owner: {OLHA}
    sip: acmecom_olha
"
        ),
    )
    .expect("employees");
    rules
}

/// A running application and the fake it talks to.
pub struct Service {
    pub fake: Arc<FakeHubSpot>,
    pub dir: Arc<tempfile::TempDir>,
    pub rules: PathBuf,
    pub base: String,
    pub owners: Owners,
    stop: Option<oneshot::Sender<()>>,
    serving: Option<JoinHandle<()>>,
    http: reqwest::Client,
}

/// The owner ids the fake gave the test owners.
#[derive(Debug, Clone)]
pub struct Owners {
    pub top: String,
    pub ivan: String,
    pub olha: String,
}

pub async fn fake(options: FakeOptions) -> (Arc<FakeHubSpot>, Owners) {
    let fake = FakeHubSpot::start(options).await.expect("fake starts");
    let owners = Owners {
        top: fake.seed_owner(TOP, "Top", "Manager"),
        ivan: fake.seed_owner(IVAN, "Ivan", "Petrenko"),
        olha: fake.seed_owner(OLHA, "Olha", "Shevchenko"),
    };
    (Arc::new(fake), owners)
}

pub fn connector(fake: &FakeHubSpot) -> Arc<dyn Connector> {
    let config = HubSpotConfig::from_section(json!({
        "base_url": fake.base_url(),
        "timeout": "1s",
        "initial_backoff": "20ms",
        "max_retries": 1,
        "rate_limit_retries": 1,
    }))
    .expect("connector config");
    Arc::new(
        HubSpotConnector::new(config, SecretString::from(fake.token().to_string()))
            .expect("connector"),
    )
}

impl Service {
    /// Starts with the test settings, changed by `tune`.
    pub async fn start(tune: impl FnOnce(&mut Settings)) -> Service {
        let (fake, owners) = fake(FakeOptions::default()).await;
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let rules = write_rules(dir.path());
        Service::start_with(fake, owners, dir, rules, tune).await
    }

    /// Starts on an existing directory (its database and rules).
    pub async fn start_with(
        fake: Arc<FakeHubSpot>,
        owners: Owners,
        dir: Arc<tempfile::TempDir>,
        rules: PathBuf,
        tune: impl FnOnce(&mut Settings),
    ) -> Service {
        let yaml = settings_yaml(dir.path(), &rules);
        let mut settings =
            Settings::from_yaml(&yaml, "test", &Environment::default()).expect("settings");
        tune(&mut settings);
        let application = Application::build(settings, connector(&fake))
            .await
            .expect("application");
        let base = format!("http://{}", application.local_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(async move {
            application
                .run_until(async {
                    let _ = stopped.await;
                })
                .await
                .expect("serves");
        });
        Service {
            fake,
            dir,
            rules,
            base,
            owners,
            stop: Some(stop),
            serving: Some(serving),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client"),
        }
    }

    /// Shuts down gracefully and waits for it.
    pub async fn stop(mut self) -> (Arc<FakeHubSpot>, Owners, Arc<tempfile::TempDir>, PathBuf) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(serving) = self.serving.take() {
            tokio::time::timeout(DEADLINE, serving)
                .await
                .expect("stops within the deadline")
                .expect("serving task");
        }
        (
            self.fake.clone(),
            self.owners.clone(),
            self.dir.clone(),
            self.rules.clone(),
        )
    }

    /// Posts a Ringostat JSON payload; returns the event id.
    pub async fn post(&self, event_kind: &str, payload: &Value) -> i64 {
        let response = self
            .http
            .post(format!(
                "{}/webhooks/ringostat?event={event_kind}",
                self.base
            ))
            .json(payload)
            .send()
            .await
            .expect("webhook");
        assert_eq!(response.status(), 200);
        let answer: Value = response.json().await.expect("json");
        answer["id"].as_i64().expect("id")
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn post_path(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.expect("json"))
    }

    pub async fn event(&self, id: i64) -> Value {
        self.get(&format!("/api/events/{id}")).await.1
    }

    /// Polls until the event has one of `statuses`, or panics at the deadline.
    pub async fn wait_for(&self, id: i64, statuses: &[&str]) -> Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let event = self.event(id).await;
            if statuses.iter().any(|s| event["status"] == json!(s)) {
                return event;
            }
            assert!(
                Instant::now() < deadline,
                "event {id} never reached {statuses:?}: {event:#}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Polls until `check` holds, or panics at the deadline with `what`.
    pub async fn until(&self, what: &str, mut check: impl AsyncFnMut(&Service) -> bool) {
        let deadline = Instant::now() + DEADLINE;
        while !check(self).await {
            assert!(Instant::now() < deadline, "never: {what}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// An after-call payload: an incoming call from `client`, answered by
/// `sip` (or missed when `sip` is empty).
pub fn incoming(call_id: &str, client: &str, sip: &str) -> Value {
    let answered = !sip.is_empty();
    json!({
        "uniqueid": call_id,
        "call_type": "in",
        "calldate": "2026-03-01 10:15:00",
        "caller": client,
        "dst": "380441112233",
        "connected_with": sip,
        "disposition": if answered { "ANSWERED" } else { "NO ANSWER" },
        "duration": "74",
        "billsec": if answered { "61" } else { "0" },
        "waittime": "13",
        "recording": if answered { format!("https://records.example.com/{call_id}.mp3") } else { String::new() },
        "utm_source": "google",
    })
}

/// What `switchboard hubspot setup` would create, plus the UTM deal
/// properties the default rules write.
pub fn prepare_account(fake: &FakeHubSpot) {
    for object in ["contacts", "deals", "tasks", "notes"] {
        fake.define_property(object, "switchboard_step_key", true);
    }
    fake.define_property("contacts", "phone_e164", true);
    for utm in [
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
    ] {
        fake.define_property("deals", utm, false);
    }
}

/// The ids of the objects of a type the fake associates `id` with.
pub fn linked(fake: &FakeHubSpot, object_type: &str, id: &str, to: &str) -> Vec<String> {
    let mut ids: Vec<String> = fake
        .associations(object_type, id)
        .into_iter()
        .filter(|a| a.to_type == to)
        .map(|a| a.to_id)
        .collect();
    ids.sort();
    ids.dedup();
    ids
}
