//! The HubSpot connector's settings (`crm.hubspot.*`), parsed and checked
//! before a connector is built.
//!
//! The token is not here: it travels as a `SecretString` beside the settings,
//! so that printing or serializing a config never shows it.

use std::time::Duration;

use serde::Deserialize;
use switchboard_core::phone::Region;
use url::Url;

/// HubSpot allows 5 searches per second per account; the budget must stay
/// below that because other apps of the account share it.
pub const SEARCH_LIMIT_PER_SECOND: u32 = 5;

pub const DEFAULT_BASE_URL: &str = "https://api.hubapi.com";

/// Why a HubSpot config section is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Invalid(String),
    #[error("crm.hubspot: {0}")]
    Unreadable(String),
}

/// Settings of the HubSpot connector. Every field has a default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HubSpotConfig {
    /// `https://api.hubapi.com`; tests point it at the fake.
    pub base_url: Url,
    /// Requests per rolling 10 seconds the connector allows itself (the
    /// private-app burst limit: 100, or 190 on Professional and Enterprise).
    pub burst_per_10s: u32,
    /// Searches per second the connector allows itself (below 5).
    pub search_per_second: u32,
    /// Time limit of one HTTP request.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// How often a 5xx, a timeout or a dropped connection is retried inside
    /// the connector before it reports a transient failure.
    pub max_retries: u32,
    /// How often a 429 (burst or search limit) is waited out and retried
    /// before it reports `RateLimited`.
    pub rate_limit_retries: u32,
    /// First backoff delay after a 5xx or timeout (doubled each retry, with jitter).
    #[serde(with = "humantime_serde")]
    pub initial_backoff: Duration,
    /// Region used to read numbers typed in HubSpot without a country code.
    pub default_region: String,
    /// Custom property holding the step key on contacts, deals, tasks and notes.
    pub step_key_property: String,
    /// Unique contact property holding the number in E.164, when set up.
    pub phone_property: String,
}

impl Default for HubSpotConfig {
    fn default() -> Self {
        HubSpotConfig {
            base_url: Url::parse(DEFAULT_BASE_URL).expect("the default URL is valid"),
            burst_per_10s: 100,
            search_per_second: 4,
            timeout: Duration::from_secs(10),
            max_retries: 3,
            rate_limit_retries: 3,
            initial_backoff: Duration::from_millis(200),
            default_region: "UA".into(),
            step_key_property: "switchboard_step_key".into(),
            phone_property: "phone_e164".into(),
        }
    }
}

impl HubSpotConfig {
    /// Reads the `crm.hubspot` section (`Null` means all defaults) and checks it.
    pub fn from_section(section: serde_json::Value) -> Result<HubSpotConfig, ConfigError> {
        let config: HubSpotConfig = if section.is_null() {
            HubSpotConfig::default()
        } else {
            serde_json::from_value(section).map_err(|e| ConfigError::Unreadable(e.to_string()))?
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks the values that deserialization cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !matches!(self.base_url.scheme(), "http" | "https") {
            return Err(ConfigError::Invalid(format!(
                "crm.hubspot.base_url must be an http(s) URL, not {}",
                self.base_url
            )));
        }
        if self.burst_per_10s == 0 {
            return Err(ConfigError::Invalid(
                "crm.hubspot.burst_per_10s must be at least 1".into(),
            ));
        }
        if self.search_per_second == 0 || self.search_per_second >= SEARCH_LIMIT_PER_SECOND {
            return Err(ConfigError::Invalid(format!(
                "crm.hubspot.search_per_second must be between 1 and {} (HubSpot allows {} per account)",
                SEARCH_LIMIT_PER_SECOND - 1,
                SEARCH_LIMIT_PER_SECOND
            )));
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::Invalid(
                "crm.hubspot.timeout must be longer than 0s".into(),
            ));
        }
        self.region()?;
        Ok(())
    }

    /// The parsed `default_region`.
    pub fn region(&self) -> Result<Region, ConfigError> {
        self.default_region
            .parse()
            .map_err(|e: switchboard_core::phone::UnknownRegion| {
                ConfigError::Invalid(format!("crm.hubspot.default_region: {e}"))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_follow_hubspot_limits() {
        let config = HubSpotConfig::from_section(serde_json::Value::Null).expect("defaults");
        assert_eq!(config.base_url.as_str(), "https://api.hubapi.com/");
        assert_eq!(config.burst_per_10s, 100);
        assert_eq!(config.search_per_second, 4);
        assert_eq!(config.timeout, Duration::from_secs(10));
    }

    #[test]
    fn reads_a_section_with_readable_durations() {
        let config = HubSpotConfig::from_section(json!({
            "base_url": "http://127.0.0.1:4010",
            "burst_per_10s": 190,
            "timeout": "2s 500ms"
        }))
        .expect("valid");
        assert_eq!(config.burst_per_10s, 190);
        assert_eq!(config.timeout, Duration::from_millis(2500));
    }

    #[test]
    fn refuses_what_would_break_the_account_limits() {
        let err = HubSpotConfig::from_section(json!({ "search_per_second": 5 }))
            .expect_err("5 is the limit");
        assert!(err.to_string().contains("between 1 and 4"), "{err}");
        let err = HubSpotConfig::from_section(json!({ "burst_per_10s": 0 })).expect_err("zero");
        assert!(err.to_string().contains("at least 1"), "{err}");
        let err = HubSpotConfig::from_section(json!({ "tokne": "x" })).expect_err("unknown key");
        assert!(err.to_string().contains("unknown field"), "{err}");
        let err =
            HubSpotConfig::from_section(json!({ "default_region": "XX" })).expect_err("region");
        assert!(err.to_string().contains("unknown region"), "{err}");
    }
}
