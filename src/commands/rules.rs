//! `init`, `check` and `simulate`: the integrator's feedback loop, without a
//! running service or a CRM.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use switchboard_core::intake::{Intake, WebhookRequest};
use switchboard_core::rules::{self, FactsSpec};

use super::{load_rules, load_settings, rules_context};

/// The commented configuration `init` writes beside the rules.
const CONFIG_TEMPLATE: &str = include_str!("../../examples/switchboard.yaml");

/// `switchboard init DIR`: `DIR/rules/` with the default rules and
/// `DIR/switchboard.yaml`, refusing to overwrite anything.
pub fn init(dir: &Path) -> anyhow::Result<ExitCode> {
    let config_path = dir.join("switchboard.yaml");
    if config_path.exists() {
        anyhow::bail!(
            "{} already exists; nothing was written",
            config_path.display()
        );
    }
    let written = rules::init_rules(&dir.join("rules"))?;
    fs::write(&config_path, CONFIG_TEMPLATE)
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    for path in written.iter().chain([&config_path]) {
        println!("wrote {}", path.display());
    }
    println!(
        "\nNext: cd {} && switchboard check && switchboard serve --config switchboard.yaml",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `switchboard check`: validation and rule tests, exit 1 on any failure.
pub fn check(config: Option<&Path>, rules_dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let settings = load_settings(config, rules_dir)?;
    let dir = &settings.rules.dir;
    if !dir.is_dir() {
        anyhow::bail!(
            "no rules directory at {} (switchboard init DIR writes the defaults)",
            dir.display()
        );
    }
    let report = rules::check(dir, &rules_context(&settings));
    println!("{}", report.to_string().trim_end());
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `switchboard simulate EVENT.json`: the plan and its trace.
pub fn simulate(
    config: Option<&Path>,
    rules_dir: Option<PathBuf>,
    event_file: &Path,
    fact_assignments: &[String],
    json: bool,
) -> anyhow::Result<ExitCode> {
    let settings = load_settings(config, rules_dir)?;
    let rules = load_rules(&settings)?;
    let text = fs::read_to_string(event_file)
        .with_context(|| format!("cannot read {}", event_file.display()))?;
    let event = match rules::read_event(&text, rules.context()) {
        Ok(event) => event,
        // Not in the canonical format: read it as Ringostat sent it.
        Err(canonical_error) => {
            let request = WebhookRequest {
                method: "POST",
                query: None,
                content_type: Some("application/json"),
                body: text.as_bytes(),
            };
            Intake::new(&settings)
                .receive(&request)
                .map(|received| received.event)
                .map_err(|refused| {
                    anyhow::anyhow!(
                        "{} is neither an event in canonical field names ({canonical_error}) nor a \
                         Ringostat payload ({})",
                        event_file.display(),
                        refused.reason
                    )
                })?
        }
    };
    let mut facts = FactsSpec::default();
    for assignment in fact_assignments {
        facts.assign(assignment)?;
    }
    let simulation = rules::simulate(&rules, event, &facts, chrono::Utc::now())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&simulation.to_json())?);
    } else {
        println!("{}", simulation.to_string().trim_end());
    }
    Ok(ExitCode::SUCCESS)
}
