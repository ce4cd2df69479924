//! The HTTP layer: one HubSpot request, within budget, retried as HubSpot
//! asks, and its failure sorted into a [`ConnectorError`].
//!
//! Retries happen here, not in the executor, for what HubSpot itself tells
//! us to wait out: 429 with the burst or search policy (wait `Retry-After`,
//! else the policy's window) and, for requests that are safe to repeat, 5xx
//! and timeouts (jittered exponential backoff). A create that may have
//! reached HubSpot is not blindly repeated unless a unique property guards
//! it: the error goes to the executor, which reconciles by step key first.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use switchboard_core::connector::{ConnectorError, ObjectRef};
use url::Url;

use crate::budget::{Budget, Lane};
use crate::config::HubSpotConfig;
use crate::error::{SECONDLY_POLICY, classify};

/// Whether a request may be sent twice without doubling its effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// Reads, searches, updates, and creates guarded by a unique property.
    Safe,
    /// Creates that nothing deduplicates: only retried when HubSpot surely
    /// did not process them (429, connection refused).
    Unsafe,
}

/// One request to HubSpot.
#[derive(Debug)]
pub struct Request {
    /// Name in metrics and logs, e.g. `search_contacts`.
    pub operation: &'static str,
    pub method: Method,
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<serde_json::Value>,
    pub lane: Lane,
    pub repeat: Repeat,
    /// The object the request is about: a 404 becomes `NotFound` for it.
    pub target: Option<ObjectRef>,
    /// Answer `Ok(None)` on 404 instead of an error (gets).
    pub absent_ok: bool,
}

impl Request {
    pub fn get(operation: &'static str, path: impl Into<String>) -> Request {
        Request::new(operation, Method::GET, path, None)
    }

    pub fn post(
        operation: &'static str,
        path: impl Into<String>,
        body: serde_json::Value,
    ) -> Request {
        Request::new(operation, Method::POST, path, Some(body))
    }

    pub fn patch(
        operation: &'static str,
        path: impl Into<String>,
        body: serde_json::Value,
    ) -> Request {
        Request::new(operation, Method::PATCH, path, Some(body))
    }

    fn new(
        operation: &'static str,
        method: Method,
        path: impl Into<String>,
        body: Option<serde_json::Value>,
    ) -> Request {
        Request {
            operation,
            method,
            path: path.into(),
            query: Vec::new(),
            body,
            lane: Lane::General,
            repeat: Repeat::Safe,
            target: None,
            absent_ok: false,
        }
    }

    pub fn query(mut self, name: &'static str, value: impl Into<String>) -> Request {
        self.query.push((name, value.into()));
        self
    }

    pub fn search(mut self) -> Request {
        self.lane = Lane::Search;
        self
    }

    pub fn unsafe_to_repeat(mut self) -> Request {
        self.repeat = Repeat::Unsafe;
        self
    }

    pub fn about(mut self, target: ObjectRef) -> Request {
        self.target = Some(target);
        self
    }

    pub fn absent_ok(mut self) -> Request {
        self.absent_ok = true;
        self
    }
}

/// What came back from one attempt.
enum Attempt {
    Answered {
        status: u16,
        headers: HeaderMap,
        body: Bytes,
    },
    /// Connection refused or reset before the request was sent.
    NotSent(String),
    /// Timeout or a connection lost mid-request: HubSpot may have processed it.
    Lost(String),
}

/// The HubSpot HTTP client with its budget and retry policy.
pub struct Client {
    http: reqwest::Client,
    base_url: Url,
    token: SecretString,
    budget: Budget,
    max_retries: u32,
    rate_limit_retries: u32,
    initial_backoff: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url.as_str())
            .field("token", &"[redacted]")
            .finish()
    }
}

impl Client {
    pub fn new(config: &HubSpotConfig, token: SecretString) -> Result<Client, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Client {
            http,
            base_url: config.base_url.clone(),
            token,
            budget: Budget::new(config.burst_per_10s, config.search_per_second),
            max_retries: config.max_retries,
            rate_limit_retries: config.rate_limit_retries,
            initial_backoff: config.initial_backoff,
        })
    }

    /// Sends the request, waiting and retrying as described in the module
    /// doc. `Ok(None)` only for a 404 on a request marked `absent_ok`.
    pub async fn send(&self, request: &Request) -> Result<Option<Bytes>, ConnectorError> {
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(self.initial_backoff)
            .with_max_delay(self.initial_backoff * 32)
            .with_jitter()
            .with_max_times(self.max_retries as usize)
            .build();
        let mut rate_limited = 0;
        loop {
            self.budget.acquire(request.lane).await;
            let started = std::time::Instant::now();
            let attempt = self.attempt(request).await;
            let error = match attempt {
                Attempt::Answered { status, body, .. } if (200..300).contains(&status) => {
                    record(request, "ok", started, Some(status));
                    return Ok(Some(body));
                }
                Attempt::Answered { status: 404, .. } if request.absent_ok => {
                    record(request, "not_found", started, Some(404));
                    return Ok(None);
                }
                Attempt::Answered {
                    status,
                    headers,
                    body,
                } => {
                    let error = classify(
                        status,
                        retry_after(&headers),
                        &body,
                        request.target.as_ref(),
                    );
                    record(request, outcome(&error), started, Some(status));
                    if let ConnectorError::RateLimited {
                        policy,
                        retry_after,
                    } = &error
                        && rate_limited < self.rate_limit_retries
                    {
                        rate_limited += 1;
                        // Jitter, so requests that were refused together do not return together.
                        let wait = retry_after.unwrap_or_else(|| policy_wait(policy, &headers));
                        let wait = wait + wait.mul_f64(rand::random::<f64>() * 0.2);
                        tracing::warn!(
                            operation = request.operation,
                            policy = policy.as_str(),
                            wait_ms = wait.as_millis() as u64,
                            "HubSpot rate limit reached, waiting"
                        );
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    if error.is_retryable() && request.repeat == Repeat::Unsafe {
                        return Err(error);
                    }
                    error
                }
                Attempt::NotSent(message) => {
                    record(request, "transient", started, None);
                    ConnectorError::Transient {
                        message,
                        retry_after: None,
                    }
                }
                Attempt::Lost(message) => {
                    record(request, "transient", started, None);
                    let error = ConnectorError::Transient {
                        message,
                        retry_after: None,
                    };
                    if request.repeat == Repeat::Unsafe {
                        return Err(error);
                    }
                    error
                }
            };
            let retryable = matches!(error, ConnectorError::Transient { .. });
            match backoff.next() {
                Some(delay) if retryable => {
                    let delay = delay.max(error.retry_after().unwrap_or_default());
                    tracing::warn!(
                        operation = request.operation,
                        error = %error,
                        delay_ms = delay.as_millis() as u64,
                        "HubSpot request failed, retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
                _ => return Err(error),
            }
        }
    }

    async fn attempt(&self, request: &Request) -> Attempt {
        let mut url = self.base_url.clone();
        url.set_path(&request.path);
        if !request.query.is_empty() {
            url.query_pairs_mut().extend_pairs(request.query.iter());
        }
        let mut builder = self
            .http
            .request(request.method.clone(), url)
            .bearer_auth(self.token.expose_secret());
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        let response = match builder.send().await {
            Ok(response) => response,
            Err(error) if error.is_connect() => {
                return Attempt::NotSent(format!(
                    "cannot connect to HubSpot: {}",
                    without_url(&error)
                ));
            }
            Err(error) => return Attempt::Lost(lost_message(&error)),
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        match response.bytes().await {
            Ok(body) => Attempt::Answered {
                status,
                headers,
                body,
            },
            Err(error) => Attempt::Lost(lost_message(&error)),
        }
    }
}

fn lost_message(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "HubSpot did not answer in time".to_string()
    } else {
        format!("HubSpot request failed: {}", without_url(error))
    }
}

/// reqwest errors print the URL, which may carry query values; the path is
/// in the log fields already.
fn without_url(error: &reqwest::Error) -> String {
    let mut error = error.to_string();
    if let Some(start) = error.find(" for url (") {
        error.truncate(start);
    }
    error
}

/// `Retry-After` in seconds (HubSpot sends seconds; an HTTP date is ignored).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// How long to wait after a 429 without `Retry-After`: one search second,
/// or the burst window HubSpot reports (10 s unless it says otherwise).
fn policy_wait(policy: &str, headers: &HeaderMap) -> Duration {
    if policy == SECONDLY_POLICY {
        return Duration::from_secs(1);
    }
    headers
        .get("x-hubspot-ratelimit-interval-milliseconds")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(10))
}

fn outcome(error: &ConnectorError) -> &'static str {
    match error {
        ConnectorError::Transient { .. } => "transient",
        ConnectorError::RateLimited { .. } => "rate_limited",
        ConnectorError::Conflict { .. } => "conflict",
        ConnectorError::NotFound { .. } => "not_found",
        ConnectorError::InvalidRequest { .. } => "invalid",
        ConnectorError::AccountWide { .. } => "account",
    }
}

fn record(
    request: &Request,
    outcome: &'static str,
    started: std::time::Instant,
    status: Option<u16>,
) {
    metrics::counter!(
        "switchboard_crm_requests_total",
        "connector" => "hubspot",
        "operation" => request.operation,
        "outcome" => outcome
    )
    .increment(1);
    tracing::debug!(
        operation = request.operation,
        method = %request.method,
        path = request.path.as_str(),
        status,
        outcome,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "HubSpot request"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ROLLING_POLICY;
    use reqwest::header::HeaderValue;

    #[test]
    fn waits_follow_the_policy_and_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            policy_wait(SECONDLY_POLICY, &headers),
            Duration::from_secs(1)
        );
        assert_eq!(
            policy_wait(ROLLING_POLICY, &headers),
            Duration::from_secs(10)
        );
        headers.insert(
            "x-hubspot-ratelimit-interval-milliseconds",
            HeaderValue::from_static("2000"),
        );
        assert_eq!(
            policy_wait(ROLLING_POLICY, &headers),
            Duration::from_secs(2)
        );
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), None);
    }
}
