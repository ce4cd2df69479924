//! The subcommands other than `serve`: each loads the configuration the same
//! way as the service (flag > environment > file > default), then calls one
//! library function and prints its report.

pub mod backfill;
pub mod hubspot;
pub mod rules;

use std::path::{Path, PathBuf};

use anyhow::Context;
use switchboard_core::config::{Environment, Overrides, Settings};
use switchboard_core::rules::{RuleSet, RulesContext};

/// The configuration as `serve` would see it, with `--rules` applied.
pub fn load_settings(
    config: Option<&Path>,
    rules_dir: Option<PathBuf>,
) -> anyhow::Result<Settings> {
    let overrides = Overrides {
        rules_dir,
        ..Overrides::default()
    };
    Settings::load(config, &Environment::from_process(), &overrides)
        .context("invalid configuration")
}

pub fn rules_context(settings: &Settings) -> RulesContext {
    RulesContext {
        time_zone: settings.time_zone,
        region: settings.phone.default_region,
    }
}

/// The rules `serve` would run: the rules directory, or the built-in defaults
/// when it does not exist.
pub fn load_rules(settings: &Settings) -> anyhow::Result<RuleSet> {
    let ctx = rules_context(settings);
    let dir = &settings.rules.dir;
    if dir.is_dir() {
        RuleSet::load(dir, &ctx).map_err(|diagnostics| {
            anyhow::anyhow!("the rules in {} do not load:\n{diagnostics}", dir.display())
        })
    } else {
        eprintln!(
            "no rules directory at {}: using the built-in default rules",
            dir.display()
        );
        RuleSet::builtin(&ctx).map_err(|diagnostics| {
            anyhow::anyhow!("the built-in rules do not load:\n{diagnostics}")
        })
    }
}
