//! `FakeHubSpot`: an in-process HubSpot for tests (feature `testkit`).
//!
//! It serves, on `127.0.0.1:0`, every endpoint the connector, `setup` and
//! `doctor` use (and the separate association request of integrations that
//! do not associate on create, for benchmarks), with HubSpot's shapes and rules (reference §7): bearer
//! tokens (revocable, with optional scopes), property validation per object
//! type, unique values and their 409s, the computed
//! `hs_searchable_calculated_*` phone properties, search with its operators
//! and 5/6/18 limits, search-index lag, the rolling burst and per-second
//! search limits with HubSpot's 429 bodies and headers, and injectable
//! faults. Tests read its state and its request log; seed helpers create the
//! account a scenario needs.
//!
//! ```no_run
//! # async fn demo() {
//! use switchboard_hubspot::fake::{FakeHubSpot, FakeOptions};
//! let fake = FakeHubSpot::start(FakeOptions::default()).await.expect("fake starts");
//! let id = fake.seed_contact("067 123 45 67", "Ivan Petrenko");
//! assert_eq!(fake.count("contacts"), 1);
//! # let _ = id;
//! # }
//! ```

mod faults;
mod limits;
mod replies;
mod routes;
mod schema;
mod search;
mod searchable;
mod store;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use phonenumber::country::Id as CountryId;
use serde_json::Value;
use tokio::sync::oneshot;

pub use faults::FaultAction;
pub use store::{FakeAssociation, FakeObject, FakeOwner};

use faults::Fault;
use limits::Window;
use store::Store;

/// The token a default fake accepts.
pub const TEST_TOKEN: &str = "pat-na1-11111111-2222-3333-4444-555555555555";

/// How the fake behaves. Every field has a default that mirrors HubSpot.
#[derive(Debug, Clone)]
pub struct FakeOptions {
    /// The token accepted with all scopes.
    pub token: String,
    /// How long a created object stays invisible to search.
    pub search_lag: Duration,
    /// Requests (other than search) per `burst_window` (HubSpot: 100 per 10 s).
    pub burst_limit: u32,
    pub burst_window: Duration,
    /// Searches per `search_window` (HubSpot: 5 per second).
    pub search_limit: u32,
    pub search_window: Duration,
    /// The portal's region, used to read numbers typed without a country
    /// code when computing `hs_searchable_calculated_*`.
    pub portal_region: String,
}

impl Default for FakeOptions {
    fn default() -> Self {
        FakeOptions {
            token: TEST_TOKEN.into(),
            search_lag: Duration::ZERO,
            burst_limit: 100,
            burst_window: Duration::from_secs(10),
            search_limit: 5,
            search_window: Duration::from_secs(1),
            portal_region: "US".into(),
        }
    }
}

/// Why the fake could not start.
#[derive(Debug, thiserror::Error)]
pub enum FakeError {
    #[error("cannot bind the fake HubSpot: {0}")]
    Bind(#[from] std::io::Error),
    #[error("unknown portal region {0:?}")]
    Region(String),
}

/// One request the fake received, with its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedRequest {
    /// `contacts.search`, `calls.create`, `owners.list`, ...
    pub operation: String,
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
    pub status: u16,
    pub response: Option<Value>,
    /// An injected fault shaped the answer.
    pub faulted: bool,
}

pub(crate) struct Inner {
    store: Store,
    /// Valid tokens and their scopes (`None`: every scope).
    tokens: BTreeMap<String, Option<BTreeSet<String>>>,
    faults: Vec<Fault>,
    general: Window,
    search: Window,
    log: Vec<LoggedRequest>,
}

pub(crate) struct Shared(Mutex<Inner>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every change under the lock is complete before it is released, so
        // a panicked test thread cannot leave half-written state behind.
        self.0.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}

/// A running fake HubSpot; stops when dropped.
pub struct FakeHubSpot {
    shared: Arc<Shared>,
    addr: SocketAddr,
    token: String,
    shutdown: Option<oneshot::Sender<()>>,
}

impl FakeHubSpot {
    pub async fn start(options: FakeOptions) -> Result<FakeHubSpot, FakeError> {
        let region: CountryId = options
            .portal_region
            .to_ascii_uppercase()
            .parse()
            .map_err(|_| FakeError::Region(options.portal_region.clone()))?;
        let inner = Inner {
            store: Store::new(region, options.search_lag),
            tokens: BTreeMap::from([(options.token.clone(), None)]),
            faults: Vec::new(),
            general: Window::new(options.burst_limit, options.burst_window),
            search: Window::new(options.search_limit, options.search_window),
            log: Vec::new(),
        };
        let shared = Arc::new(Shared(Mutex::new(inner)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new()
            .fallback(routes::handle)
            .with_state(shared.clone());
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                tracing::warn!(%error, "fake HubSpot stopped");
            }
        });
        Ok(FakeHubSpot {
            shared,
            addr,
            token: options.token,
            shutdown: Some(shutdown),
        })
    }

    /// `http://127.0.0.1:PORT`, for `crm.hubspot.base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The token it accepts with every scope.
    pub fn token(&self) -> &str {
        &self.token
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.shared.lock()
    }

    // ---- auth -------------------------------------------------------------

    /// Accepts another token, with only these scopes (`None`: all).
    pub fn add_token(&self, token: &str, scopes: Option<&[&str]>) {
        let scopes = scopes.map(|s| s.iter().map(|x| x.to_string()).collect());
        self.lock().tokens.insert(token.to_string(), scopes);
    }

    /// Stops accepting a token (the private app was rotated or deleted).
    pub fn revoke_token(&self, token: &str) {
        self.lock().tokens.remove(token);
    }

    // ---- seeds ------------------------------------------------------------

    /// A contact with `phone` stored exactly as typed, visible to search at once.
    pub fn seed_contact(&self, phone: &str, name: &str) -> String {
        self.seed_object(
            "contacts",
            contact_properties(Some(phone), None, name),
            Utc::now(),
        )
    }

    /// A contact with `phone` stored as typed, created at `created_at`.
    pub fn seed_contact_at(&self, phone: &str, name: &str, created_at: DateTime<Utc>) -> String {
        self.seed_object(
            "contacts",
            contact_properties(Some(phone), None, name),
            created_at,
        )
    }

    /// A contact with a mobile number only.
    pub fn seed_mobile_contact(&self, mobile: &str, name: &str) -> String {
        self.seed_object(
            "contacts",
            contact_properties(None, Some(mobile), name),
            Utc::now(),
        )
    }

    /// Any object with these properties and creation time, visible to search
    /// at once, bypassing validation (data that was already in the account).
    pub fn seed_object(
        &self,
        object_type: &str,
        properties: BTreeMap<String, String>,
        created_at: DateTime<Utc>,
    ) -> String {
        let Some(object_type) = store::object_type(object_type) else {
            return String::new();
        };
        self.lock()
            .store
            .insert(object_type, properties, created_at, Instant::now())
    }

    /// A deal of `contact` in the default pipeline, open or closed (lost).
    pub fn seed_deal(
        &self,
        contact: &str,
        name: &str,
        open: bool,
        created_at: DateTime<Utc>,
    ) -> String {
        let properties = BTreeMap::from([
            ("dealname".to_string(), name.to_string()),
            ("pipeline".to_string(), "default".to_string()),
            (
                "dealstage".to_string(),
                if open {
                    "appointmentscheduled"
                } else {
                    "closedlost"
                }
                .to_string(),
            ),
        ]);
        let mut inner = self.lock();
        let id = inner
            .store
            .insert("deals", properties, created_at, Instant::now());
        let _ = inner.store.link("deals", &id, 3, contact);
        id
    }

    /// A deal pipeline with these open stages, plus a won and a lost stage
    /// (`<id>_won`, `<id>_lost`), as an admin would add it.
    pub fn seed_pipeline(&self, id: &str, label: &str, open_stages: &[&str]) {
        let stage = |id: String, closed: bool, won: bool| store::FakeStage {
            label: id.clone(),
            id,
            closed,
            won,
        };
        let mut stages: Vec<store::FakeStage> = open_stages
            .iter()
            .map(|s| stage(s.to_string(), false, false))
            .collect();
        stages.push(stage(format!("{id}_won"), true, true));
        stages.push(stage(format!("{id}_lost"), true, false));
        self.lock().store.pipelines.push(store::FakePipeline {
            id: id.to_string(),
            label: label.to_string(),
            stages,
        });
    }

    /// An active owner; returns its id.
    pub fn seed_owner(&self, email: &str, first_name: &str, last_name: &str) -> String {
        self.lock().store.add_owner(email, first_name, last_name)
    }

    /// Deactivates an owner (it leaves the owners list; its id is refused).
    pub fn archive_owner(&self, id: &str) {
        for owner in self.lock().store.owners.iter_mut().filter(|o| o.id == id) {
            owner.archived = true;
        }
    }

    /// Defines a custom property, as `hubspot setup` or an admin would.
    pub fn define_property(&self, object_type: &str, name: &str, unique: bool) {
        let Some(object_type) = store::object_type(object_type) else {
            return;
        };
        let group = schema::groups(object_type)
            .first()
            .copied()
            .unwrap_or("information");
        let body = serde_json::json!({ "name": name, "label": name, "type": "string", "fieldType": "text", "groupName": group, "hasUniqueValue": unique });
        let _ = self.lock().store.create_property(object_type, &body);
    }

    /// Deletes (archives) an object, as a merge or a user would.
    pub fn archive(&self, object_type: &str, id: &str) -> bool {
        match store::object_type(object_type) {
            Some(t) => self.lock().store.archive(t, id),
            None => false,
        }
    }

    pub fn set_search_lag(&self, lag: Duration) {
        self.lock().store.search_lag = lag;
    }

    // ---- state ------------------------------------------------------------

    /// Live (not archived) objects of a type, by id.
    pub fn objects(&self, object_type: &str) -> Vec<FakeObject> {
        let Some(object_type) = store::object_type(object_type) else {
            return Vec::new();
        };
        self.lock()
            .store
            .objects
            .get(object_type)
            .map(|m| m.values().filter(|o| !o.archived).cloned().collect())
            .unwrap_or_default()
    }

    pub fn object(&self, object_type: &str, id: &str) -> Option<FakeObject> {
        let object_type = store::object_type(object_type)?;
        self.lock().store.object(object_type, id).cloned()
    }

    /// How many live objects of a type exist.
    pub fn count(&self, object_type: &str) -> usize {
        self.objects(object_type).len()
    }

    /// Associations from an object (each link is stored in both directions).
    pub fn associations(&self, object_type: &str, id: &str) -> Vec<FakeAssociation> {
        let Some(object_type) = store::object_type(object_type) else {
            return Vec::new();
        };
        self.lock()
            .store
            .associations
            .iter()
            .filter(|a| a.from_type == object_type && a.from_id == id)
            .cloned()
            .collect()
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.lock().log.clone()
    }

    /// Requests so far per operation.
    pub fn request_counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for request in &self.lock().log {
            *counts.entry(request.operation.clone()).or_default() += 1;
        }
        counts
    }

    /// Requests so far of one operation (`contacts.search`).
    pub fn request_count(&self, operation: &str) -> usize {
        self.lock()
            .log
            .iter()
            .filter(|r| r.operation == operation)
            .count()
    }

    pub fn clear_requests(&self) {
        self.lock().log.clear();
    }

    // ---- faults -----------------------------------------------------------

    /// Injects `action` into the next `count` requests (of `operation`, or all).
    pub fn inject(&self, operation: Option<&str>, action: FaultAction, count: usize) {
        self.lock().faults.push(Fault {
            operation: operation.map(str::to_string),
            action,
            remaining: Some(count),
            until: None,
        });
    }

    /// Injects `action` into every request (of `operation`, or all) for a while.
    pub fn inject_for(&self, operation: Option<&str>, action: FaultAction, duration: Duration) {
        self.lock().faults.push(Fault {
            operation: operation.map(str::to_string),
            action,
            remaining: None,
            until: Some(Instant::now() + duration),
        });
    }

    /// The next `count` requests answer with `status` (5xx).
    pub fn fail_next(&self, count: usize, status: u16) {
        self.inject(None, FaultAction::Status(status), count);
    }

    /// HubSpot is down (503) for `duration`.
    pub fn outage(&self, duration: Duration) {
        self.inject_for(None, FaultAction::Status(503), duration);
    }

    /// The next `count` requests are processed but answered after `delay`.
    pub fn delay_next(&self, count: usize, delay: Duration) {
        self.inject(None, FaultAction::Delay(delay), count);
    }

    /// The next `count` requests answer 429 with `policy`.
    pub fn rate_limit_next(&self, count: usize, policy: &str) {
        self.inject(None, FaultAction::RateLimit(policy.to_string()), count);
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }
}

impl Drop for FakeHubSpot {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

fn contact_properties(
    phone: Option<&str>,
    mobile: Option<&str>,
    name: &str,
) -> BTreeMap<String, String> {
    let mut properties = BTreeMap::new();
    let mut words = name.split_whitespace();
    if let Some(first) = words.next() {
        properties.insert("firstname".to_string(), first.to_string());
    }
    let rest: Vec<&str> = words.collect();
    if !rest.is_empty() {
        properties.insert("lastname".to_string(), rest.join(" "));
    }
    if let Some(phone) = phone {
        properties.insert("phone".to_string(), phone.to_string());
    }
    if let Some(mobile) = mobile {
        properties.insert("mobilephone".to_string(), mobile.to_string());
    }
    properties
}
