//! Configuration: one YAML file (every key optional), the environment, and
//! command-line flags, merged with the precedence flag > environment > file >
//! default into one validated [`Settings`] value.
//!
//! Loading is all-or-nothing: the file is parsed and every value checked
//! where it is read (so errors point at the line), then the environment and
//! flags are applied, then cross-key problems are collected together.
//! Secrets never pass through the file as literals and never print.

mod de;
mod environment;
mod ip_range;
mod secret;
mod settings;
mod store_url;
pub mod yaml;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub use environment::{Environment, InterpolationError, interpolate};
pub use ip_range::{BadIpRange, IpRange, canonical as canonical_ip};
pub use secret::Secret;
pub use settings::{
    AdminSettings, CacheSettings, CrmKind, CrmSettings, HubSpotSettings, PhoneSettings,
    ReconcileSettings, RetrySettings, RingostatApiSettings, RingostatSettings, RulesSettings,
    Settings, StoreSettings, WebhookSettings, WorkerSettings,
};
pub use store_url::{BadStoreUrl, StoreUrl};

/// Environment variables the configuration reads directly.
pub mod vars {
    pub const WEBHOOK_TOKEN: &str = "SWITCHBOARD_WEBHOOK_TOKEN";
    pub const ADMIN_TOKEN: &str = "SWITCHBOARD_ADMIN_TOKEN";
    pub const HUBSPOT_TOKEN: &str = "HUBSPOT_TOKEN";
    pub const RINGOSTAT_API_KEY: &str = "RINGOSTAT_API_KEY";
    pub const LISTEN: &str = "SWITCHBOARD_LISTEN";
    pub const STORE_URL: &str = "SWITCHBOARD_STORE_URL";
    pub const RULES_DIR: &str = "SWITCHBOARD_RULES_DIR";
}

/// Values given on the command line; they win over everything else.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub store_url: Option<StoreUrl>,
    pub rules_dir: Option<PathBuf>,
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Syntax, unknown key, bad value or literal secret; the message names the
    /// key and its line.
    #[error("{origin}: {source}")]
    File {
        origin: String,
        source: yaml::YamlError,
    },
    #[error("environment variable {name}: {message}")]
    Environment { name: &'static str, message: String },
    #[error("invalid configuration:{}", Bullets(.0))]
    Invalid(Vec<String>),
}

struct Bullets<'a>(&'a [String]);

impl fmt::Display for Bullets<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0
            .iter()
            .try_for_each(|problem| write!(f, "\n  - {problem}"))
    }
}

impl Settings {
    /// Loads the file (if any), applies the environment and the flags, and
    /// validates the result.
    pub fn load(
        file: Option<&Path>,
        env: &Environment,
        overrides: &Overrides,
    ) -> Result<Settings, ConfigError> {
        let mut settings = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                Settings::from_yaml(&text, &path.display().to_string(), env)?
            }
            None => Settings::default(),
        };
        settings.apply_environment(env)?;
        settings.apply_overrides(overrides);
        settings.validate()?;
        Ok(settings)
    }

    /// Parses a configuration document; `origin` names it in errors (a path).
    /// No environment overrides and no cross-key validation: see [`Settings::load`].
    pub fn from_yaml(text: &str, origin: &str, env: &Environment) -> Result<Settings, ConfigError> {
        environment::with_environment(env, || yaml::from_str(text)).map_err(|source| {
            ConfigError::File {
                origin: origin.to_string(),
                source,
            }
        })
    }

    /// Collects every cross-key problem into one error.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    fn apply_environment(&mut self, env: &Environment) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(
            env: &Environment,
            name: &'static str,
        ) -> Result<Option<T>, ConfigError>
        where
            T::Err: fmt::Display,
        {
            env.get(name)
                .map(|value| value.trim().parse::<T>())
                .transpose()
                .map_err(|e| ConfigError::Environment {
                    name,
                    message: e.to_string(),
                })
        }
        if let Some(listen) = parse(env, vars::LISTEN)? {
            self.listen = listen;
        }
        if let Some(url) = parse(env, vars::STORE_URL)? {
            self.store.url = url;
        }
        if let Some(dir) = env.get(vars::RULES_DIR) {
            self.rules.dir = PathBuf::from(dir);
        }
        let secret = |name| env.get(name).and_then(Secret::new);
        if let Some(token) = secret(vars::WEBHOOK_TOKEN) {
            self.webhook.token = Some(token);
        }
        if let Some(token) = secret(vars::ADMIN_TOKEN) {
            self.admin.token = Some(token);
        }
        if let Some(token) = secret(vars::HUBSPOT_TOKEN) {
            self.crm.hubspot.token = Some(token);
        }
        if let Some(key) = secret(vars::RINGOSTAT_API_KEY) {
            self.ringostat.api.key = Some(key);
        }
        Ok(())
    }

    fn apply_overrides(&mut self, overrides: &Overrides) {
        if let Some(listen) = overrides.listen {
            self.listen = listen;
        }
        if let Some(url) = &overrides.store_url {
            self.store.url = url.clone();
        }
        if let Some(dir) = &overrides.rules_dir {
            self.rules.dir = dir.clone();
        }
    }
}

#[cfg(test)]
mod tests;
