//! `hubspot setup` and `hubspot doctor`: prepare and verify the HubSpot
//! account the service will write to, with the settings the service uses.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use switchboard_hubspot::HubSpotConnector;

use super::{load_rules, load_settings};
use crate::connectors::hubspot_config;

fn connector(settings: &switchboard_core::config::Settings) -> anyhow::Result<HubSpotConnector> {
    let (config, token) = hubspot_config(settings)?;
    HubSpotConnector::new(config, token).context("invalid crm.hubspot settings")
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")
}

/// Creates the custom properties (step keys, `phone_e164`, the UTM deal
/// properties the matrix names). Safe to run again.
pub fn setup(config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let settings = load_settings(config, None)?;
    let rules = load_rules(&settings)?;
    let utm_properties: Vec<String> = rules
        .settings()
        .utm_property_names()
        .into_values()
        .collect();
    let connector = connector(&settings)?;
    let report = runtime()?
        .block_on(switchboard_hubspot::setup(&connector, &utm_properties))
        .context("HubSpot setup failed")?;
    println!("{}", report.to_string().trim_end());
    Ok(ExitCode::SUCCESS)
}

/// Checks token, scopes, pipeline and stage, and every owner the rules name.
pub fn doctor(config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let settings = load_settings(config, None)?;
    let rules = load_rules(&settings)?;
    let mut owners: Vec<_> = rules.employees().owners().into_iter().cloned().collect();
    owners.extend(rules.settings().top_manager().cloned());
    owners.sort();
    owners.dedup();
    let connector = connector(&settings)?;
    let report = runtime()?
        .block_on(switchboard_hubspot::doctor(
            &connector,
            &owners,
            rules.settings().pipeline(),
            rules.settings().stage(),
        ))
        .context("HubSpot doctor could not run")?;
    println!("{}", report.to_string().trim_end());
    Ok(if report.is_healthy() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
