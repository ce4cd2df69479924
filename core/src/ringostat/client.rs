//! The client of Ringostat's call log: `GET {base}/calls/list` for one
//! window, authenticated with the `Auth-key` header (and `x-project-id` when
//! a project id is set), retried with backoff while Ringostat is busy or
//! down (429, 5xx, timeouts), and adapted to the project's field set: a
//! field the project refuses ("incorrect field name") is dropped from every
//! later request and reported once, not treated as fatal.
//!
//! The key travels only in its header: it is never part of a URL, a log
//! line or an error.

use std::sync::Mutex;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use reqwest::header::RETRY_AFTER;
use serde_json::{Map, Value};
use url::Url;

use super::error::RingostatError;
use super::fields;
use super::windows::Window;
use crate::config::{RingostatApiSettings, Secret};

/// One call of the call log, as Ringostat sent it.
pub type Record = Map<String, Value>;

/// What Ringostat says when a project does not know a field.
const UNKNOWN_FIELD: &str = "incorrect field name";

/// How long error bodies may be when they are quoted in an error.
const QUOTE: usize = 300;

/// How requests that fail transiently are retried.
#[derive(Debug, Clone, Copy)]
pub struct Retries {
    pub initial: Duration,
    pub max_delay: Duration,
    pub times: usize,
}

impl Default for Retries {
    fn default() -> Self {
        Retries {
            initial: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
            times: 6,
        }
    }
}

/// A client of one project's call log.
pub struct CallLogClient {
    http: reqwest::Client,
    url: Url,
    key: Secret,
    project_id: Option<String>,
    /// The fields asked for; shrinks when the project refuses one.
    fields: Mutex<Vec<&'static str>>,
    /// The fields the project refused, in the order it did.
    refused: Mutex<Vec<String>>,
    retries: Retries,
}

impl std::fmt::Debug for CallLogClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallLogClient")
            .field("url", &self.url.as_str())
            .field("key", &self.key)
            .field("project_id", &self.project_id)
            .finish()
    }
}

/// What one request came back with.
enum Attempt {
    Calls(Vec<Record>),
    UnknownField(String),
    Transient {
        message: String,
        retry_after: Option<Duration>,
    },
    Failed(RingostatError),
}

impl CallLogClient {
    /// A client for `ringostat.api`; [`RingostatError::NoKey`] without a key.
    pub fn new(api: &RingostatApiSettings) -> Result<CallLogClient, RingostatError> {
        let key = api.key.clone().ok_or(RingostatError::NoKey)?;
        let mut base = api.base_url.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let url = base
            .join("calls/list")
            .map_err(|e| RingostatError::Client(e.to_string()))?;
        let http = reqwest::Client::builder()
            .timeout(api.timeout)
            .connect_timeout(api.timeout)
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RingostatError::Client(e.to_string()))?;
        Ok(CallLogClient {
            http,
            url,
            key,
            project_id: api.project_id.clone(),
            fields: Mutex::new(fields::requested()),
            refused: Mutex::new(Vec::new()),
            retries: Retries::default(),
        })
    }

    /// Retries other than the defaults (tests keep them short).
    pub fn with_retries(mut self, retries: Retries) -> CallLogClient {
        self.retries = retries;
        self
    }

    /// The fields the project refused so far.
    pub fn refused_fields(&self) -> Vec<String> {
        lock(&self.refused).clone()
    }

    /// The calls of one window, in Ringostat's order (`calldate asc`), at
    /// most [`super::MAX_CALLS_PER_ANSWER`] of them.
    pub async fn calls(&self, window: &Window) -> Result<Vec<Record>, RingostatError> {
        loop {
            let fields = lock(&self.fields).clone();
            match self.fetch(window, &fields).await? {
                Ok(calls) => return Ok(calls),
                Err(message) => self.drop_refused(&message, &fields)?,
            }
        }
    }

    /// One window, retried while Ringostat fails transiently; the inner
    /// `Err` is a refusal of some field.
    async fn fetch(
        &self,
        window: &Window,
        fields: &[&'static str],
    ) -> Result<Result<Vec<Record>, String>, RingostatError> {
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(self.retries.initial)
            .with_max_delay(self.retries.max_delay)
            .with_jitter()
            .with_max_times(self.retries.times)
            .build();
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.attempt(window, fields).await {
                Attempt::Calls(calls) => {
                    record_request("ok");
                    return Ok(Ok(calls));
                }
                Attempt::UnknownField(message) => {
                    record_request("unknown_field");
                    return Ok(Err(message));
                }
                Attempt::Failed(error) => {
                    record_request("refused");
                    return Err(error);
                }
                Attempt::Transient {
                    message,
                    retry_after,
                } => {
                    record_request("transient");
                    let Some(delay) = backoff.next() else {
                        return Err(RingostatError::Unavailable { attempts, message });
                    };
                    let delay = delay.max(retry_after.unwrap_or_default());
                    tracing::warn!(
                        window = %window, error = %message, retry_in_ms = delay.as_millis() as u64,
                        "Ringostat's call log did not answer; trying again"
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    async fn attempt(&self, window: &Window, fields: &[&'static str]) -> Attempt {
        let mut url = self.url.clone();
        url.query_pairs_mut()
            .append_pair("export_type", "json")
            .append_pair("from", &window.from_param())
            .append_pair("to", &window.to_param())
            .append_pair("fields", &fields.join(","))
            .append_pair("order", "calldate asc")
            .append_pair("merge", "0");
        let mut request = self.http.get(url).header("Auth-key", self.key.expose());
        if let Some(project) = &self.project_id {
            request = request.header("x-project-id", project);
        }
        tracing::debug!(window = %window, fields = fields.len(), "reading Ringostat's call log");
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                return Attempt::Transient {
                    message: without_url(&error),
                    retry_after: None,
                };
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(error) => {
                return Attempt::Transient {
                    message: without_url(&error),
                    retry_after: None,
                };
            }
        };
        let message = message_of(&body);
        match status {
            200..=299 => match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Array(items)) => records(items),
                _ if refuses_a_field(&message) => Attempt::UnknownField(message),
                Ok(other) => Attempt::Failed(RingostatError::BadAnswer(quote(&other.to_string()))),
                Err(error) => Attempt::Failed(RingostatError::BadAnswer(format!(
                    "{error}: {}",
                    quote(&String::from_utf8_lossy(&body))
                ))),
            },
            401 | 403 => Attempt::Failed(RingostatError::BadKey {
                status,
                message,
                project_id_set: self.project_id.is_some(),
            }),
            429 | 500..=599 => Attempt::Transient {
                message: format!("HTTP {status}: {message}"),
                retry_after,
            },
            _ if refuses_a_field(&message) => Attempt::UnknownField(message),
            _ => Attempt::Failed(RingostatError::Refused { status, message }),
        }
    }

    /// Drops the fields a refusal names (or, when it names none, the
    /// undocumented ones still asked for) from every later request.
    fn drop_refused(&self, message: &str, asked: &[&'static str]) -> Result<(), RingostatError> {
        let named: Vec<&'static str> = asked
            .iter()
            .copied()
            .filter(|field| mentions(message, field))
            .collect();
        let dropped: Vec<&'static str> = if named.is_empty() {
            asked
                .iter()
                .copied()
                .filter(|field| fields::UNDOCUMENTED.contains(field))
                .collect()
        } else {
            named
        };
        if dropped.is_empty() || dropped.iter().any(|f| fields::ESSENTIAL.contains(f)) {
            return Err(RingostatError::NoFieldsLeft(message.to_string()));
        }
        lock(&self.fields).retain(|field| !dropped.contains(field));
        let mut refused = lock(&self.refused);
        for field in dropped {
            if !refused.iter().any(|f| f == field) {
                tracing::warn!(
                    field,
                    answer = message,
                    "Ringostat does not know this call log field in this project; asking without it"
                );
                refused.push(field.to_string());
            }
        }
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Nothing under these locks can panic half-way.
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

fn record_request(outcome: &'static str) {
    metrics::counter!("switchboard_ringostat_requests_total", "outcome" => outcome).increment(1);
}

/// The calls of a JSON array; anything in it that is not an object is not
/// a call, and the answer is not trusted.
fn records(items: Vec<Value>) -> Attempt {
    let mut calls = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::Object(record) => calls.push(record),
            other => {
                return Attempt::Failed(RingostatError::BadAnswer(format!(
                    "an element of the list is not a call: {}",
                    quote(&other.to_string())
                )));
            }
        }
    }
    Attempt::Calls(calls)
}

fn refuses_a_field(message: &str) -> bool {
    message.to_ascii_lowercase().contains(UNKNOWN_FIELD)
}

/// Whether `message` names `field` as a word of its own (`caller` is not
/// named by `caller_number`).
fn mentions(message: &str, field: &str) -> bool {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    message.match_indices(field).any(|(at, _)| {
        let before = message[..at].chars().next_back();
        let after = message[at + field.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

/// What an error body says: its `message` or `error` when it is JSON, else
/// its text, shortened.
fn message_of(body: &[u8]) -> String {
    if let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) {
        for key in ["message", "error", "detail", "description"] {
            if let Some(Value::String(text)) = object.get(key) {
                return quote(text);
            }
        }
    }
    quote(String::from_utf8_lossy(body).trim())
}

fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// A transport error without its URL: the URL is harmless, but long.
fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(error);
    let mut detail = String::new();
    while let Some(cause) = source {
        detail = cause.to_string();
        source = cause.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_fields_as_whole_words() {
        let message = "incorrect field name: caller_number";
        assert!(mentions(message, "caller_number"));
        assert!(!mentions(message, "caller"));
        assert!(mentions(
            "Incorrect field name 'recording_wav'",
            "recording_wav"
        ));
        assert!(refuses_a_field("Incorrect Field Name: x"));
        assert!(!refuses_a_field("invalid key"));
    }

    #[test]
    fn error_bodies_are_read_and_kept_short() {
        assert_eq!(message_of(br#"{"message":"invalid key"}"#), "invalid key");
        assert_eq!(message_of(b"  Forbidden\n"), "Forbidden");
        let long = "x".repeat(1000);
        assert_eq!(message_of(long.as_bytes()).chars().count(), QUOTE + 1);
    }
}
