//! `FakeRingostat`: Ringostat's call log API in-process, for tests.
//!
//! It serves `GET /calls/list` on `127.0.0.1:0` the way the reference
//! describes it (reference/ringostat-webhooks.md §2.1): the `Auth-key`
//! header, `x-project-id` when the project asks for it, `export_type=json`,
//! `from`/`to` as `YYYY-MM-DD HH:MM:SS` wall-clock times of the project's
//! time zone (both included), `fields=` selecting the columns, and at most
//! 6,500 calls an answer in `calldate` order. A field the project does not
//! know is refused with "incorrect field name". Records come in the real
//! shape: `calldate` with a numeric offset and no colon, and whatever mix of
//! strings and numbers the test gave each field.
//!
//! Tests grow the call log while the service runs or not
//! ([`FakeRingostat::add_call`]), inject errors and delays
//! ([`FakeRingostat::fail_next`], [`FakeRingostat::delay_next`]), and read
//! the requests it answered ([`FakeRingostat::requests`]).
//!
//! Where the reference says nothing, the fake assumes: a wrong key is `401`,
//! a wrong or missing project id `403`, an unknown field `400` with
//! `{"status":"error","message":"incorrect field name: NAME"}`, a list is a
//! JSON array, and `from`/`to` compare wall-clock times (so the hour that
//! happens twice when clocks go back is in one window).

mod log;
mod routes;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value};
use tokio::sync::oneshot;

use log::CallLog;

/// The key a default fake accepts.
pub const TEST_KEY: &str = "ringostat-test-key-0123456789";

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct FakeOptions {
    pub key: String,
    /// When set, requests must carry this `x-project-id`.
    pub project_id: Option<String>,
    /// The project's time zone: `from`/`to` and `calldate` are in it.
    pub zone: Tz,
    /// Fields this project does not know, on top of the sheet's unknowns.
    pub unknown_fields: Vec<String>,
}

impl Default for FakeOptions {
    fn default() -> Self {
        FakeOptions {
            key: TEST_KEY.to_string(),
            project_id: None,
            zone: chrono_tz::Europe::Kyiv,
            unknown_fields: Vec::new(),
        }
    }
}

/// An injected fault: the next `remaining` requests get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status (429 with `Retry-After: 0`).
    Status(u16),
    /// Answer normally, after this delay.
    Delay(Duration),
}

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    pub from: Option<String>,
    pub to: Option<String>,
    pub fields: Vec<String>,
    pub project_id: Option<String>,
    pub status: u16,
    /// Calls in the answer.
    pub calls: usize,
    /// When the request arrived.
    pub at: std::time::Instant,
}

pub(crate) struct Inner {
    key: String,
    project_id: Option<String>,
    zone: Tz,
    unknown_fields: Vec<String>,
    log: CallLog,
    faults: Vec<(Fault, usize)>,
    requests: Vec<LoggedRequest>,
}

pub(crate) struct Shared(Mutex<Inner>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every change under the lock is complete before it is released.
        self.0.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}

/// A running fake; stops when dropped.
pub struct FakeRingostat {
    shared: Arc<Shared>,
    addr: SocketAddr,
    key: String,
    shutdown: Option<oneshot::Sender<()>>,
}

impl FakeRingostat {
    pub async fn start(options: FakeOptions) -> Result<FakeRingostat, std::io::Error> {
        let inner = Inner {
            key: options.key.clone(),
            project_id: options.project_id,
            zone: options.zone,
            unknown_fields: options.unknown_fields,
            log: CallLog::default(),
            faults: Vec::new(),
            requests: Vec::new(),
        };
        let shared = Arc::new(Shared(Mutex::new(inner)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new()
            .route("/calls/list", axum::routing::get(routes::calls_list))
            .with_state(shared.clone());
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                tracing::warn!(%error, "fake Ringostat stopped");
            }
        });
        Ok(FakeRingostat {
            shared,
            addr,
            key: options.key,
            shutdown: Some(shutdown),
        })
    }

    /// `http://127.0.0.1:PORT`, for `ringostat.api.base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The key it accepts.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// A call happened at `started`: its record has `fields` (in the call
    /// log's names, with the types Ringostat uses) and a `calldate` the fake
    /// writes in the project's zone.
    pub fn add_call(&self, started: DateTime<Utc>, fields: Map<String, Value>) {
        self.shared.lock().log.add(started, fields);
    }

    /// Calls in the log.
    pub fn call_count(&self) -> usize {
        self.shared.lock().log.len()
    }

    /// The next `times` requests answer `status`.
    pub fn fail_next(&self, times: usize, status: u16) {
        self.shared
            .lock()
            .faults
            .push((Fault::Status(status), times));
    }

    /// The next `times` requests answer only after `delay`.
    pub fn delay_next(&self, times: usize, delay: Duration) {
        self.shared.lock().faults.push((Fault::Delay(delay), times));
    }

    /// From now on only `key` is accepted (the old one was revoked).
    pub fn rotate_key(&self, key: &str) {
        self.shared.lock().key = key.to_string();
    }

    /// The requests answered so far, oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.lock().requests.clone()
    }
}

impl Drop for FakeRingostat {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
