//! Switchboard's HubSpot connector, and (feature `testkit`) a spec-true fake
//! HubSpot to test it and the whole service against.
//!
//! # Layout
//!
//! - [`config`]: `HubSpotConfig`, the `crm.hubspot.*` settings.
//! - [`connector`]: `HubSpotConnector`, the `Connector` trait in HubSpot's API.
//! - [`phone_search`]: the contact search by phone, its verification and the
//!   deterministic choice among duplicates.
//! - [`properties`]: what each create writes (calls, tasks, notes, contacts).
//! - [`model`]: HubSpot's response shapes and association type ids.
//! - [`client`]: one request: budget, retries, metrics.
//! - [`budget`]: the client-side rate budget (burst and search limits).
//! - [`error`]: HubSpot error bodies sorted into `ConnectorError`.
//! - [`setup`] / [`doctor`]: the `switchboard hubspot setup | doctor` commands.
//! - `fake` (feature `testkit`): `FakeHubSpot`, an in-process HubSpot.
//! - `contract` (feature `testkit`): validation against HubSpot's OpenAPI specs.

pub mod budget;
pub mod client;
pub mod config;
pub mod connector;
#[cfg(feature = "testkit")]
pub mod contract;
pub mod doctor;
pub mod error;
#[cfg(feature = "testkit")]
pub mod fake;
pub mod model;
pub mod phone_search;
pub mod properties;
pub mod setup;

use std::sync::Arc;

use switchboard_core::connector::Connector;
use switchboard_core::connector::registry::{BuildError, ConnectorConfig};

pub use config::HubSpotConfig;
pub use connector::HubSpotConnector;
pub use doctor::{DoctorReport, doctor};
pub use setup::{SetupReport, setup};

/// The registry factory: `registry.register(switchboard_hubspot::NAME, switchboard_hubspot::build)`.
pub const NAME: &str = HubSpotConnector::NAME;

/// Builds the connector from its config section and token.
pub fn build(config: ConnectorConfig) -> Result<Arc<dyn Connector>, BuildError> {
    let invalid = |message: String| BuildError::InvalidConfig {
        connector: NAME.into(),
        message,
    };
    let token = config.secret.ok_or_else(|| BuildError::MissingSecret {
        connector: NAME.into(),
    })?;
    let settings =
        HubSpotConfig::from_section(config.section).map_err(|e| invalid(e.to_string()))?;
    let connector = HubSpotConnector::new(settings, token).map_err(|e| invalid(e.to_string()))?;
    Ok(Arc::new(connector))
}
