//! The CRM connectors this build ships, and how the configuration chooses and
//! configures one.
//!
//! The core knows connectors only through `ConnectorRegistry`; this file is
//! the one place that names the plugins. Adding a CRM is a crate under
//! `plugins/`, one `register` line here, and its `crm.<name>` section.

use std::sync::Arc;

use anyhow::Context;
use secrecy::SecretString;
use serde_json::json;
use switchboard_core::config::{CrmKind, Settings};
use switchboard_core::connector::Connector;
use switchboard_core::connector::dry_run::DryRunConnector;
use switchboard_core::connector::registry::{ConnectorConfig, ConnectorRegistry};
use switchboard_hubspot::HubSpotConfig;

/// Every connector linked into this binary, by name.
pub fn registry() -> ConnectorRegistry {
    let mut registry = ConnectorRegistry::new();
    registry.register(switchboard_hubspot::NAME, switchboard_hubspot::build);
    registry.register(DryRunConnector::NAME, |_| {
        Ok(Arc::new(DryRunConnector::new()))
    });
    registry
}

/// Builds the connector `crm.kind` names (HubSpot when a token is present,
/// else dry-run).
pub fn build_connector(settings: &Settings) -> anyhow::Result<Arc<dyn Connector>> {
    let kind = settings.crm.effective_kind();
    let config = match kind {
        CrmKind::HubSpot => ConnectorConfig {
            section: hubspot_section(settings),
            secret: hubspot_token(settings),
        },
        CrmKind::DryRun => ConnectorConfig {
            section: serde_json::Value::Null,
            secret: None,
        },
    };
    let connector = registry()
        .build(kind.as_str(), config)
        .with_context(|| format!("cannot build the {} connector", kind.as_str()))?;
    if kind == CrmKind::DryRun {
        tracing::warn!(
            "no HubSpot token is configured: the dry-run connector records plans instead of writing to a CRM"
        );
    }
    Ok(connector)
}

/// The HubSpot connector's own settings, for `hubspot setup` and `doctor`.
pub fn hubspot_config(settings: &Settings) -> anyhow::Result<(HubSpotConfig, SecretString)> {
    let token = hubspot_token(settings)
        .context("no HubSpot token: set HUBSPOT_TOKEN (or crm.hubspot.token: ${VAR})")?;
    let config = HubSpotConfig::from_section(hubspot_section(settings))
        .context("invalid crm.hubspot settings")?;
    Ok((config, token))
}

/// `crm.hubspot.*` of the Switchboard configuration, in the plugin's words.
fn hubspot_section(settings: &Settings) -> serde_json::Value {
    let hubspot = &settings.crm.hubspot;
    json!({
        "base_url": hubspot.base_url.as_str(),
        "burst_per_10s": hubspot.burst_per_10s,
        "search_per_second": hubspot.search_per_second,
        "timeout": humantime::format_duration(hubspot.timeout).to_string(),
        "default_region": settings.phone.default_region.code(),
    })
}

fn hubspot_token(settings: &Settings) -> Option<SecretString> {
    settings
        .crm
        .hubspot
        .token
        .as_ref()
        .map(|token| SecretString::from(token.expose().to_string()))
}
