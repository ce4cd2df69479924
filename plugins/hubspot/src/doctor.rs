//! `switchboard hubspot doctor`: is this HubSpot account ready for the
//! rules? Token, read access per object type, Switchboard's custom
//! properties, the pipeline and stage the rules create deals in, and every
//! owner that `employees.yaml` and the matrix name.
//!
//! Every check runs, so one report lists everything to fix. Write scopes
//! cannot be checked without writing; they show on the first create.

use std::fmt;

use switchboard_core::connector::{AccountIssue, Connector, ConnectorError, HealthCheck};
use switchboard_core::plan::OwnerSpec;

use crate::client::Request;
use crate::connector::{HubSpotConnector, STEP_KEY_OBJECTS};
use crate::model::{self, Page, Pipeline, object_type};

/// The doctor's findings, printable for the CLI.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DoctorReport {
    pub checks: Vec<HealthCheck>,
}

impl DoctorReport {
    pub fn is_healthy(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    fn push(&mut self, name: impl Into<String>, ok: bool, detail: impl Into<String>) {
        self.checks.push(HealthCheck {
            name: name.into(),
            ok,
            detail: detail.into(),
        });
    }
}

impl fmt::Display for DoctorReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for check in &self.checks {
            let mark = if check.ok { "ok  " } else { "FAIL" };
            writeln!(f, "[{mark}] {}: {}", check.name, check.detail)?;
        }
        let failed = self.checks.iter().filter(|c| !c.ok).count();
        if failed == 0 {
            writeln!(f, "all {} checks passed", self.checks.len())
        } else {
            writeln!(f, "{failed} of {} checks failed", self.checks.len())
        }
    }
}

/// Runs every check. Only a failure to reach HubSpot at all is an error;
/// everything HubSpot says no to is a failed check in the report.
pub async fn doctor(
    connector: &HubSpotConnector,
    owners: &[OwnerSpec],
    pipeline: &str,
    stage: &str,
) -> Result<DoctorReport, ConnectorError> {
    let mut report = DoctorReport::default();
    let probe = Request::get("read_owners", "/crm/v3/owners").query("limit", "1");
    match connector.client().send(&probe).await {
        Ok(_) => report.push(
            "token",
            true,
            "HubSpot accepts the token; owners are readable",
        ),
        Err(ConnectorError::AccountWide {
            issue: AccountIssue::BadToken,
            message,
        }) => {
            report.push(
                "token",
                false,
                format!("HubSpot refuses the token: {message}"),
            );
            return Ok(report);
        }
        Err(error) => report.push("token", false, error.to_string()),
    }

    for object in ["contacts", "deals", "calls", "tasks", "notes"] {
        let probe =
            Request::get("read_objects", format!("/crm/v3/objects/{object}")).query("limit", "1");
        match connector.client().send(&probe).await {
            Ok(_) => report.push(format!("scope: read {object}"), true, "readable"),
            Err(error @ ConnectorError::AccountWide { .. }) => {
                report.push(format!("scope: read {object}"), false, error.to_string())
            }
            Err(error) => return Err(error),
        }
    }

    let config = connector.config();
    for kind in STEP_KEY_OBJECTS {
        let object = object_type(kind);
        let name = format!("property {object}.{}", config.step_key_property);
        match refused(connector.property(object, &config.step_key_property).await)? {
            Ok(Some(p)) => report.push(
                name,
                true,
                if p.has_unique_value {
                    "present, unique"
                } else {
                    "present"
                },
            ),
            Ok(None) => report.push(name, false, "missing: run `switchboard hubspot setup`"),
            Err(why) => report.push(name, false, why),
        }
    }
    let name = format!("property contacts.{}", config.phone_property);
    match refused(connector.property("contacts", &config.phone_property).await)? {
        Ok(Some(p)) if p.has_unique_value => report.push(
            name,
            true,
            "present, unique: contacts are created with an atomic upsert",
        ),
        // Optional: without it, search and the lookup cache prevent duplicates.
        Ok(_) => report.push(
            name,
            true,
            "not set up (optional): run `switchboard hubspot setup` for atomic contact creation",
        ),
        Err(why) => report.push(name, false, why),
    }

    let request = Request::get("read_pipelines", "/crm/v3/pipelines/deals");
    match refused(connector.client().send(&request).await)? {
        Ok(body) => {
            let pipelines: Page<Pipeline> =
                model::decode("read_pipelines", &body.unwrap_or_default())?;
            check_pipeline(&mut report, &pipelines.results, pipeline, stage);
        }
        Err(why) => report.push(format!("pipeline {pipeline}"), false, why),
    }

    for owner in owners {
        match refused(connector.resolve_owner(owner).await)? {
            Ok(Some(id)) => report.push(
                format!("owner {owner}"),
                true,
                format!("HubSpot owner {id}"),
            ),
            Ok(None) => report.push(
                format!("owner {owner}"),
                false,
                "no active HubSpot owner; calls of this employee count as unknown",
            ),
            Err(why) => report.push(format!("owner {owner}"), false, why),
        }
    }
    Ok(report)
}

/// An account-wide refusal (scopes, token) fails one check; anything else
/// (HubSpot unreachable) stops the doctor.
fn refused<T>(result: Result<T, ConnectorError>) -> Result<Result<T, String>, ConnectorError> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(error @ ConnectorError::AccountWide { .. }) => Ok(Err(error.to_string())),
        Err(error) => Err(error),
    }
}

fn check_pipeline(report: &mut DoctorReport, pipelines: &[Pipeline], pipeline: &str, stage: &str) {
    let Some(found) = pipelines.iter().find(|p| p.id == pipeline) else {
        let known: Vec<String> = pipelines
            .iter()
            .map(|p| format!("{} (\"{}\")", p.id, p.label))
            .collect();
        report.push(
            format!("pipeline {pipeline}"),
            false,
            format!(
                "no such deal pipeline; the account has: {}",
                known.join(", ")
            ),
        );
        return;
    };
    report.push(
        format!("pipeline {pipeline}"),
        true,
        format!("\"{}\"", found.label),
    );
    match found.stages.iter().find(|s| s.id == stage) {
        Some(s) => report.push(format!("stage {stage}"), true, format!("\"{}\"", s.label)),
        None => {
            let known: Vec<String> = found
                .stages
                .iter()
                .map(|s| format!("{} (\"{}\")", s.id, s.label))
                .collect();
            report.push(
                format!("stage {stage}"),
                false,
                format!(
                    "not in pipeline {pipeline}; its stages are: {}",
                    known.join(", ")
                ),
            );
        }
    }
}
