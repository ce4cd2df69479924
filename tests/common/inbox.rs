//! The service's HTTP interface as the end-to-end tests drive it: webhooks
//! in; the inbox, the rules, readiness and metrics out; and waiting for
//! events to settle, with a deadline.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use super::calls::Call;
use super::wait;
use super::world::World;

/// How long a test waits for the events it sent to be processed.
pub const SETTLE_DEADLINE: Duration = Duration::from_secs(60);

/// Statuses after which nothing happens to an event unless it is replayed.
pub const FINAL_STATUSES: [&str; 4] = ["done", "skipped", "dead", "rejected"];

/// The service's answer to a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    pub id: i64,
    pub duplicate: bool,
}

impl World {
    /// Posts a webhook; `Err` when it was not acknowledged with 200.
    pub async fn try_post(&self, call: &Call) -> Result<Ack, String> {
        let response = self
            .http
            .post(self.url(&format!("/webhooks/ringostat?{}", call.query())))
            .header("content-type", "application/json")
            .body(call.body())
            .send()
            .await
            .map_err(|e| format!("no answer: {e}"))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|e| format!("{status}: unreadable answer: {e}"))?;
        if status != 200 {
            return Err(format!("{status}: {body}"));
        }
        match (body["id"].as_i64(), body["duplicate"].as_bool()) {
            (Some(id), Some(duplicate)) => Ok(Ack { id, duplicate }),
            _ => Err(format!("unexpected answer {body}")),
        }
    }

    /// Posts a webhook that must be acknowledged.
    pub async fn post(&self, call: &Call) -> Ack {
        self.try_post(call)
            .await
            .unwrap_or_else(|e| panic!("webhook {} not acknowledged: {e}", call.call_id))
    }

    /// Posts webhooks all at once, each on its own connection; returns the
    /// answers in the order of `calls`.
    pub async fn post_concurrently(&self, calls: &[Call]) -> Vec<Ack> {
        let url = self.url("/webhooks/ringostat");
        let sends: Vec<_> = calls
            .iter()
            .map(|call| {
                let (http, call) = (super::client(), call.clone());
                let url = format!("{url}?{}", call.query());
                tokio::spawn(async move {
                    let response = http
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(call.body())
                        .send()
                        .await
                        .expect("the webhook answers");
                    assert_eq!(response.status(), 200, "{}", call.call_id);
                    let body: Value = response.json().await.expect("JSON answer");
                    Ack {
                        id: body["id"].as_i64().expect("id"),
                        duplicate: body["duplicate"].as_bool().expect("duplicate"),
                    }
                })
            })
            .collect();
        let mut acks = Vec::with_capacity(sends.len());
        for send in sends {
            acks.push(send.await.expect("sender"));
        }
        acks
    }

    /// Posts webhooks one after the other; returns their inbox ids.
    pub async fn post_all(&self, calls: &[Call]) -> Vec<i64> {
        let mut ids = Vec::with_capacity(calls.len());
        for call in calls {
            let ack = self.post(call).await;
            assert!(!ack.duplicate, "{} is new", call.call_id);
            ids.push(ack.id);
        }
        ids
    }

    /// `GET path` on the operators' API (loopback needs no admin token).
    pub async fn api(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// `GET /api/events/{id}`: status, attempts, plan, steps.
    pub async fn event(&self, id: i64) -> Value {
        let (status, event) = self.api(&format!("/api/events/{id}")).await;
        assert_eq!(status, 200, "event {id}: {event}");
        event
    }

    /// Every event in the inbox, by id (summaries from `GET /api/events`).
    pub async fn events(&self) -> BTreeMap<i64, Value> {
        let mut events = BTreeMap::new();
        let mut before: Option<i64> = None;
        loop {
            let path = match before {
                Some(id) => format!("/api/events?limit=500&before={id}"),
                None => "/api/events?limit=500".to_string(),
            };
            let (status, page) = self.api(&path).await;
            assert_eq!(status, 200, "{path}: {page}");
            for event in page["events"].as_array().cloned().unwrap_or_default() {
                if let Some(id) = event["id"].as_i64() {
                    events.insert(id, event);
                }
            }
            match page["next_before"].as_i64() {
                Some(id) => before = Some(id),
                None => return events,
            }
        }
    }

    /// Waits until each event has a final status; returns their summaries.
    pub async fn settle(&self, ids: &[i64]) -> BTreeMap<i64, Value> {
        self.settle_within(ids, SETTLE_DEADLINE).await
    }

    pub async fn settle_within(&self, ids: &[i64], deadline: Duration) -> BTreeMap<i64, Value> {
        let found = wait::until_some(deadline, "events settle", || async {
            let events = self.events().await;
            let settled: BTreeMap<i64, Value> = ids
                .iter()
                .filter_map(|id| events.get(id).map(|e| (*id, e.clone())))
                .filter(|(_, e)| FINAL_STATUSES.iter().any(|s| e["status"] == *s))
                .collect();
            (settled.len() == ids.len()).then_some(settled)
        })
        .await;
        match found {
            Ok(settled) => settled,
            Err(error) => {
                let events = self.events().await;
                let pending: Vec<String> = ids
                    .iter()
                    .filter_map(|id| events.get(id))
                    .filter(|e| !FINAL_STATUSES.iter().any(|s| e["status"] == *s))
                    .map(|e| {
                        format!(
                            "  {} {} attempts={} last_error={}",
                            e["id"], e["status"], e["attempts"], e["last_error"]
                        )
                    })
                    .collect();
                panic!(
                    "{error}; still pending:\n{}\nCRM: {}\nlog tail:\n{}",
                    pending.join("\n"),
                    self.crm().summary(),
                    self.log_tail(40)
                );
            }
        }
    }

    /// Waits until the events settle and asserts that each ended `done`.
    pub async fn expect_done(&self, ids: &[i64]) -> BTreeMap<i64, Value> {
        self.expect_done_within(ids, SETTLE_DEADLINE).await
    }

    pub async fn expect_done_within(
        &self,
        ids: &[i64],
        deadline: Duration,
    ) -> BTreeMap<i64, Value> {
        let settled = self.settle_within(ids, deadline).await;
        let failed: Vec<String> = settled
            .values()
            .filter(|e| e["status"] != "done")
            .map(|e| {
                format!(
                    "  {} {} reason={} last_error={}",
                    e["id"], e["status"], e["status_reason"], e["last_error"]
                )
            })
            .collect();
        assert!(
            failed.is_empty(),
            "events that did not end done:\n{}\nlog tail:\n{}",
            failed.join("\n"),
            self.log_tail(40)
        );
        settled
    }

    /// Waits until event `id` satisfies `holds`; returns its detail.
    pub async fn wait_event(&self, id: i64, what: &str, holds: impl Fn(&Value) -> bool) -> Value {
        let found = wait::until_some(SETTLE_DEADLINE, what, || async {
            let event = self.event(id).await;
            holds(&event).then_some(event)
        })
        .await;
        match found {
            Ok(event) => event,
            Err(error) => panic!(
                "event {id}: {error}; now: {}\nlog tail:\n{}",
                self.event(id).await,
                self.log_tail(40)
            ),
        }
    }

    /// `GET /api/rules`.
    pub async fn rules(&self) -> Value {
        let (status, rules) = self.api("/api/rules").await;
        assert_eq!(status, 200, "/api/rules: {rules}");
        rules
    }

    /// `GET /readyz`: the status code and the checks.
    pub async fn readyz(&self) -> (u16, Value) {
        let response = self
            .http
            .get(self.url("/readyz"))
            .send()
            .await
            .expect("/readyz answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `GET /metrics` (Prometheus text).
    pub async fn metrics(&self) -> String {
        let response = self
            .http
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("/metrics answers");
        assert_eq!(response.status(), 200);
        response.text().await.expect("metrics text")
    }

    /// `POST /api/events/{id}/replay`.
    pub async fn replay(&self, id: i64) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(&format!("/api/events/{id}/replay")))
            .send()
            .await
            .expect("replay answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The last `lines` lines the service logged.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.server().log();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// The rules version a processed event's plan was made with.
pub fn plan_version(event: &Value) -> String {
    let in_plan = event["plan"]["rules_version"].as_str();
    let on_event = event["rules_version"].as_str();
    if let (Some(a), Some(b)) = (in_plan, on_event) {
        assert_eq!(
            a, b,
            "the plan and the event disagree on the rules version: {event}"
        );
    }
    in_plan
        .or(on_event)
        .unwrap_or_else(|| panic!("no rules version on {event}"))
        .to_string()
}
