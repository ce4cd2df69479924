//! The typed settings: every key of the configuration file, with its
//! default. A key the model does not know is an error that names it and its
//! line (`deny_unknown_fields`), so a typo never silently falls back to a
//! default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytesize::ByteSize;
use chrono_tz::Tz;
use serde::Deserialize;
use url::Url;

use super::de;
use super::ip_range::IpRange;
use super::secret::Secret;
use super::store_url::StoreUrl;
use crate::intake::FieldOverrides;
use crate::phone::Region;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address the HTTP server listens on.
    #[serde(deserialize_with = "de::parsed")]
    pub listen: SocketAddr,
    /// The project's time zone: dates that arrive without a zone are read in it.
    #[serde(deserialize_with = "de::parsed")]
    pub time_zone: Tz,
    pub phone: PhoneSettings,
    pub webhook: WebhookSettings,
    pub store: StoreSettings,
    pub rules: RulesSettings,
    pub worker: WorkerSettings,
    pub retry: RetrySettings,
    pub crm: CrmSettings,
    pub cache: CacheSettings,
    pub admin: AdminSettings,
    pub ringostat: RingostatSettings,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PhoneSettings {
    /// Region for numbers written without a country code (`067…`).
    #[serde(deserialize_with = "de::parsed")]
    pub default_region: Region,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// The `?token=` Ringostat must send. Only `${VAR}` in the file.
    #[serde(deserialize_with = "de::secret")]
    pub token: Option<Secret>,
    /// Client addresses allowed to post webhooks; empty allows all.
    #[serde(deserialize_with = "de::parsed_list")]
    pub allow_ips: Vec<IpRange>,
    /// Proxies whose `X-Forwarded-For` is believed.
    #[serde(deserialize_with = "de::parsed_list")]
    pub trusted_proxies: Vec<IpRange>,
    /// Larger bodies are answered 413.
    #[serde(deserialize_with = "de::parsed")]
    pub max_body: ByteSize,
    /// Payload field names per canonical field, replacing the defaults.
    pub fields: FieldOverrides,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    #[serde(deserialize_with = "de::parsed")]
    pub url: StoreUrl,
    /// How long raw payloads are kept.
    #[serde(deserialize_with = "de::duration")]
    pub retention: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesSettings {
    #[serde(deserialize_with = "de::parsed")]
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerSettings {
    /// Events processed at once (never two for the same client number).
    #[serde(deserialize_with = "de::parsed")]
    pub concurrency: usize,
    /// How long a claimed event stays claimed without progress.
    #[serde(deserialize_with = "de::duration")]
    pub lease: Duration,
    /// How often idle workers look for retries that became due and for
    /// events queued by another process (`switchboard replay`).
    #[serde(deserialize_with = "de::duration")]
    pub poll_interval: Duration,
    /// How old a create's recorded intent must be before a lookup of its
    /// step key that finds nothing is believed (CRM search lags behind writes).
    #[serde(deserialize_with = "de::duration")]
    pub reconcile_delay: Duration,
    /// How often a paused service checks whether the CRM account works again.
    #[serde(deserialize_with = "de::duration")]
    pub pause_probe: Duration,
    /// How long shutdown waits for events in flight before releasing them.
    #[serde(deserialize_with = "de::duration")]
    pub shutdown_grace: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrySettings {
    #[serde(deserialize_with = "de::parsed")]
    pub max_attempts: u32,
    #[serde(deserialize_with = "de::duration")]
    pub initial_backoff: Duration,
    #[serde(deserialize_with = "de::duration")]
    pub max_backoff: Duration,
}

/// Which connector runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrmKind {
    HubSpot,
    /// Records plans instead of calling a CRM.
    DryRun,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown CRM {0:?}: expected hubspot or dry-run")]
pub struct UnknownCrm(String);

impl std::str::FromStr for CrmKind {
    type Err = UnknownCrm;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "hubspot" => Ok(CrmKind::HubSpot),
            "dry-run" | "dry_run" | "dryrun" => Ok(CrmKind::DryRun),
            _ => Err(UnknownCrm(s.to_string())),
        }
    }
}

impl CrmKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            CrmKind::HubSpot => "hubspot",
            CrmKind::DryRun => "dry-run",
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrmSettings {
    /// `None` means: HubSpot when a HubSpot token is present, else dry-run.
    #[serde(deserialize_with = "de::parsed_option")]
    pub kind: Option<CrmKind>,
    pub hubspot: HubSpotSettings,
}

impl CrmSettings {
    /// The connector that runs, after the "HubSpot when a token is present" default.
    pub fn effective_kind(&self) -> CrmKind {
        match (self.kind, &self.hubspot.token) {
            (Some(kind), _) => kind,
            (None, Some(_)) => CrmKind::HubSpot,
            (None, None) => CrmKind::DryRun,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HubSpotSettings {
    #[serde(deserialize_with = "de::parsed")]
    pub base_url: Url,
    /// Private app token. Only `${VAR}` in the file.
    #[serde(deserialize_with = "de::secret")]
    pub token: Option<Secret>,
    /// Client-side request budget per 10 seconds.
    #[serde(deserialize_with = "de::parsed")]
    pub burst_per_10s: u32,
    /// Client-side budget of search requests per second.
    #[serde(deserialize_with = "de::parsed")]
    pub search_per_second: u32,
    #[serde(deserialize_with = "de::duration")]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheSettings {
    /// How long a phone → CRM ids lookup is trusted.
    #[serde(deserialize_with = "de::duration")]
    pub ttl: Duration,
    /// Entries kept per lookup cache (client numbers, open deals, owners);
    /// the least recently used go first.
    #[serde(deserialize_with = "de::parsed")]
    pub capacity: u64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminSettings {
    /// Bearer token of `/api/*`. Only `${VAR}` in the file.
    #[serde(deserialize_with = "de::secret")]
    pub token: Option<Secret>,
}

/// `ringostat.*`: Ringostat's own API, read to recover calls whose webhook
/// never arrived (`switchboard backfill`, reconciliation in `serve`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RingostatSettings {
    pub api: RingostatApiSettings,
    pub reconcile: ReconcileSettings,
}

impl RingostatSettings {
    /// How often `serve` reconciles: only with an API key, and unless
    /// `ringostat.reconcile.every` is `off`.
    pub fn reconcile_every(&self) -> Option<Duration> {
        self.api.key.as_ref().and(self.reconcile.every)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RingostatApiSettings {
    /// The project's API key (sent as `Auth-key`). Only `${VAR}` in the file.
    #[serde(deserialize_with = "de::secret")]
    pub key: Option<Secret>,
    /// Sent as `x-project-id`, for a key that reaches several projects.
    #[serde(deserialize_with = "de::parsed_option")]
    pub project_id: Option<String>,
    #[serde(deserialize_with = "de::parsed")]
    pub base_url: Url,
    /// Timeout of one request to the API.
    #[serde(deserialize_with = "de::duration")]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReconcileSettings {
    /// How often `serve` backfills the recent past; `None` (`off`) never.
    #[serde(deserialize_with = "de::duration_or_off")]
    pub every: Option<Duration>,
    /// How far back each reconciliation looks.
    #[serde(deserialize_with = "de::duration")]
    pub window: Duration,
    /// Calls younger than this are left to their webhook: Ringostat still
    /// changes a call's disposition and talk time for a while after it ends.
    #[serde(deserialize_with = "de::duration")]
    pub settle: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            time_zone: chrono_tz::Europe::Kyiv,
            phone: PhoneSettings::default(),
            webhook: WebhookSettings::default(),
            store: StoreSettings::default(),
            rules: RulesSettings::default(),
            worker: WorkerSettings::default(),
            retry: RetrySettings::default(),
            crm: CrmSettings::default(),
            cache: CacheSettings::default(),
            admin: AdminSettings::default(),
            ringostat: RingostatSettings::default(),
        }
    }
}

impl Default for RingostatApiSettings {
    fn default() -> Self {
        RingostatApiSettings {
            key: None,
            project_id: None,
            base_url: Url::parse("https://api.ringostat.net").expect("a valid constant URL"),
            timeout: Duration::from_secs(30),
        }
    }
}

impl Default for ReconcileSettings {
    fn default() -> Self {
        ReconcileSettings {
            every: Some(Duration::from_secs(10 * 60)),
            window: Duration::from_secs(3 * 3600),
            settle: Duration::from_secs(15 * 60),
        }
    }
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            token: None,
            allow_ips: Vec::new(),
            trusted_proxies: Vec::new(),
            max_body: ByteSize::kib(64),
            fields: FieldOverrides::default(),
        }
    }
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            url: StoreUrl::Sqlite("sqlite://switchboard.db".to_string()),
            retention: Duration::from_secs(90 * 24 * 3600),
        }
    }
}

impl Default for RulesSettings {
    fn default() -> Self {
        RulesSettings {
            dir: PathBuf::from("rules"),
        }
    }
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            concurrency: 4,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
            reconcile_delay: Duration::from_secs(30),
            pause_probe: Duration::from_secs(15),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

impl Default for RetrySettings {
    fn default() -> Self {
        RetrySettings {
            max_attempts: 10,
            initial_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(600),
        }
    }
}

impl Default for HubSpotSettings {
    fn default() -> Self {
        HubSpotSettings {
            base_url: Url::parse("https://api.hubapi.com").expect("a valid constant URL"),
            token: None,
            burst_per_10s: 100,
            search_per_second: 4,
            timeout: Duration::from_secs(30),
        }
    }
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            ttl: Duration::from_secs(15 * 60),
            capacity: 100_000,
        }
    }
}

impl Settings {
    /// Checks what no single key can check alone, collecting every problem
    /// so that one run shows them all.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, problem: String| {
            if !ok {
                problems.push(problem);
            }
        };
        check(
            self.listen.ip().is_loopback() || self.webhook.token.is_some(),
            format!(
                "listen: {} is not a loopback address and no webhook token is configured; \
                 set SWITCHBOARD_WEBHOOK_TOKEN (or webhook.token: ${{VAR}}), or listen on 127.0.0.1",
                self.listen
            ),
        );
        check(
            self.webhook.max_body.as_u64() >= 1024,
            "webhook.max_body: must be at least 1KiB".into(),
        );
        check(
            self.worker.concurrency >= 1,
            "worker.concurrency: must be at least 1".into(),
        );
        check(
            self.worker.lease >= Duration::from_secs(1),
            "worker.lease: must be at least 1s".into(),
        );
        check(
            !self.worker.poll_interval.is_zero(),
            "worker.poll_interval: must be more than 0s".into(),
        );
        check(
            !self.worker.pause_probe.is_zero(),
            "worker.pause_probe: must be more than 0s".into(),
        );
        check(
            self.retry.max_attempts >= 1,
            "retry.max_attempts: must be at least 1".into(),
        );
        check(
            !self.retry.initial_backoff.is_zero(),
            "retry.initial_backoff: must be more than 0s".into(),
        );
        check(
            self.retry.initial_backoff <= self.retry.max_backoff,
            "retry.initial_backoff: must not exceed retry.max_backoff".into(),
        );
        check(
            !self.store.retention.is_zero(),
            "store.retention: must be more than 0s".into(),
        );
        check(
            self.cache.capacity >= 1,
            "cache.capacity: must be at least 1".into(),
        );
        check(
            self.crm.hubspot.burst_per_10s >= 1,
            "crm.hubspot.burst_per_10s: must be at least 1".into(),
        );
        check(
            (1..=4).contains(&self.crm.hubspot.search_per_second),
            "crm.hubspot.search_per_second: must be between 1 and 4 (HubSpot allows 5 per account, \
             shared with its other apps)"
                .into(),
        );
        check(
            !self.crm.hubspot.timeout.is_zero(),
            "crm.hubspot.timeout: must be more than 0s".into(),
        );
        check(
            matches!(self.crm.hubspot.base_url.scheme(), "http" | "https"),
            "crm.hubspot.base_url: must be an http(s) URL".into(),
        );
        check(
            !(self.crm.kind == Some(CrmKind::HubSpot) && self.crm.hubspot.token.is_none()),
            "crm.kind: hubspot needs a token: set HUBSPOT_TOKEN (or crm.hubspot.token: ${VAR})"
                .into(),
        );
        let ringostat = &self.ringostat;
        check(
            matches!(ringostat.api.base_url.scheme(), "http" | "https"),
            "ringostat.api.base_url: must be an http(s) URL".into(),
        );
        check(
            !ringostat.api.timeout.is_zero(),
            "ringostat.api.timeout: must be more than 0s".into(),
        );
        check(
            ringostat
                .api
                .project_id
                .as_ref()
                .is_none_or(|id| !id.trim().is_empty()),
            "ringostat.api.project_id: must not be empty (leave it out instead)".into(),
        );
        check(
            ringostat.reconcile.every.is_none_or(|every| !every.is_zero()),
            "ringostat.reconcile.every: must be more than 0s (write `off` to turn reconciliation off)"
                .into(),
        );
        check(
            ringostat.reconcile.window > ringostat.reconcile.settle,
            "ringostat.reconcile.window: must be longer than ringostat.reconcile.settle".into(),
        );
        problems
    }
}
