//! The connector registry: which CRM plugins this build ships, by name.
//!
//! The binary registers each plugin it links (`hubspot`, `dry-run`) with a
//! factory; configuration names one (`crm.kind`) and hands over that plugin's
//! own config section, as JSON, plus its secret. The core never knows which
//! CRMs exist, so adding one is a crate and a `register` line.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use secrecy::SecretString;

use super::Connector;

/// Why a connector could not be built from configuration.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("unknown CRM connector {name:?}; this build knows: {known}")]
    UnknownConnector { name: String, known: String },
    #[error("invalid {connector} configuration: {message}")]
    InvalidConfig { connector: String, message: String },
    #[error("the {connector} connector needs a secret (token), and none is configured")]
    MissingSecret { connector: String },
}

/// What a factory receives: the plugin's config section and its secret.
pub struct ConnectorConfig {
    /// The plugin's section of the config file (`crm.<name>`), `Null` when absent.
    pub section: serde_json::Value,
    /// The plugin's secret (an API token), if one is configured.
    pub secret: Option<SecretString>,
}

/// Builds one connector from its configuration.
pub type ConnectorFactory =
    Box<dyn Fn(ConnectorConfig) -> Result<Arc<dyn Connector>, BuildError> + Send + Sync>;

/// Connector factories by name.
#[derive(Default)]
pub struct ConnectorRegistry {
    factories: BTreeMap<String, ConnectorFactory>,
}

impl ConnectorRegistry {
    pub fn new() -> ConnectorRegistry {
        ConnectorRegistry::default()
    }

    /// Registers `factory` under `name`, replacing an earlier one of that name.
    pub fn register<F>(&mut self, name: &str, factory: F)
    where
        F: Fn(ConnectorConfig) -> Result<Arc<dyn Connector>, BuildError> + Send + Sync + 'static,
    {
        self.factories.insert(name.to_string(), Box::new(factory));
    }

    /// The registered names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.factories.keys().map(String::as_str).collect()
    }

    /// Builds the connector registered as `name`.
    pub fn build(
        &self,
        name: &str,
        config: ConnectorConfig,
    ) -> Result<Arc<dyn Connector>, BuildError> {
        match self.factories.get(name) {
            Some(factory) => factory(config),
            None => Err(BuildError::UnknownConnector {
                name: name.to_string(),
                known: self.names().join(", "),
            }),
        }
    }
}

impl fmt::Debug for ConnectorRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectorRegistry")
            .field("connectors", &self.names())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::dry_run::DryRunConnector;

    fn registry() -> ConnectorRegistry {
        let mut registry = ConnectorRegistry::new();
        registry.register(DryRunConnector::NAME, |config| {
            if !config.section.is_null() && !config.section.is_object() {
                return Err(BuildError::InvalidConfig {
                    connector: DryRunConnector::NAME.into(),
                    message: "expected a mapping".into(),
                });
            }
            Ok(Arc::new(DryRunConnector::new()) as Arc<dyn Connector>)
        });
        registry
    }

    #[test]
    fn builds_a_registered_connector_by_name() {
        let connector = registry()
            .build(
                "dry-run",
                ConnectorConfig {
                    section: serde_json::Value::Null,
                    secret: None,
                },
            )
            .expect("dry-run is registered");
        assert_eq!(connector.name(), "dry-run");
    }

    #[test]
    fn unknown_names_list_what_is_known() {
        let mut registry = registry();
        registry.register("hubspot", |config| {
            Err(BuildError::MissingSecret {
                connector: format!("hubspot{}", if config.secret.is_none() { "" } else { "!" }),
            })
        });
        let err = registry
            .build(
                "pipedrive",
                ConnectorConfig {
                    section: serde_json::Value::Null,
                    secret: None,
                },
            )
            .err()
            .expect("not registered");
        assert_eq!(
            err.to_string(),
            "unknown CRM connector \"pipedrive\"; this build knows: dry-run, hubspot"
        );
        let err = registry
            .build(
                "dry-run",
                ConnectorConfig {
                    section: serde_json::json!(["not", "a", "mapping"]),
                    secret: None,
                },
            )
            .err()
            .expect("bad section");
        assert!(matches!(err, BuildError::InvalidConfig { .. }), "{err}");
    }
}
