//! Settings: the matrix's defaults (TOP manager, pipeline, stage, name
//! templates, task due delay and priority, UTM property names, the note for
//! "answered by another manager") and the optional `decide` script.
//!
//! Actions that leave a field out take it from here, so the common choices
//! are made once, at the top of `matrix.yaml`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::plan::{OwnerSpec, Priority};

use super::action::parse_owner_spec;
use super::diagnostic::Diagnostic;
use super::script::ScriptRef;
use super::situation::Name;
use super::template::Template;
use super::yaml::{Locator, YamlPath};

pub(crate) const DEFAULT_PIPELINE: &str = "default";
pub(crate) const DEFAULT_STAGE: &str = "appointmentscheduled";
pub(crate) const DEFAULT_DEAL_NAME: &str = "Call from {phone}";
pub(crate) const DEFAULT_CONTACT_NAME: &str = "{phone_international|phone}";
pub(crate) const DEFAULT_CALL_TITLE: &str = "Ringostat: {direction} call, {disposition|no status}";
pub(crate) const DEFAULT_CALL_BODY: &str = "{direction} call {disposition|}, talk {talk_seconds|0} s, wait {wait_seconds|0} s; employee: {employee_name|-}";
pub(crate) const DEFAULT_OTHER_MANAGER_NOTE: &str =
    "Answered by {employee_name|another employee}, not by the responsible manager.";
pub(crate) const DEFAULT_TASK_DUE: Duration = Duration::from_secs(4 * 3600);

/// The UTM fields a deal can carry.
pub(crate) const UTM_FIELDS: &[&str] = &[
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
];

/// `settings:` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SettingsSpec {
    top_manager: Option<String>,
    pipeline: Option<String>,
    stage: Option<String>,
    deal_name: Option<String>,
    contact_name: Option<String>,
    call_title: Option<String>,
    call_body: Option<String>,
    answered_by_other_note: Option<String>,
    #[serde(default, with = "humantime_serde::option")]
    task_due: Option<Duration>,
    task_priority: Option<Priority>,
    utm_properties: Option<BTreeMap<String, String>>,
    decide: Option<String>,
}

/// The settings of a loaded rule set.
#[derive(Debug, Clone)]
pub struct Settings {
    top_manager: Option<OwnerSpec>,
    pipeline: Template,
    stage: Template,
    deal_name: Template,
    contact_name: Template,
    call_title: Template,
    call_body: Template,
    answered_by_other_note: Template,
    task_due: Duration,
    task_priority: Priority,
    utm_properties: Vec<(Name, String)>,
    decide: Option<ScriptRef>,
}

impl Settings {
    /// The TOP manager: owner of missed new clients and of integration tasks.
    pub fn top_manager(&self) -> Option<&OwnerSpec> {
        self.top_manager.as_ref()
    }

    /// The default pipeline (a template: may hold placeholders).
    pub fn pipeline(&self) -> &str {
        self.pipeline.source()
    }

    /// The default deal stage (a template).
    pub fn stage(&self) -> &str {
        self.stage.source()
    }

    pub fn task_due(&self) -> Duration {
        self.task_due
    }

    pub fn task_priority(&self) -> Priority {
        self.task_priority
    }

    /// UTM field → deal property written on created deals.
    pub fn utm_property_names(&self) -> BTreeMap<String, String> {
        self.utm_properties
            .iter()
            .filter_map(|(name, property)| match name {
                Name::Field(field) => Some((field.to_string(), property.clone())),
                _ => None,
            })
            .collect()
    }

    pub(crate) fn utm_properties(&self) -> &[(Name, String)] {
        &self.utm_properties
    }

    pub(crate) fn pipeline_template(&self) -> &Template {
        &self.pipeline
    }

    pub(crate) fn stage_template(&self) -> &Template {
        &self.stage
    }

    pub(crate) fn deal_name(&self) -> &Template {
        &self.deal_name
    }

    pub(crate) fn contact_name(&self) -> &Template {
        &self.contact_name
    }

    pub(crate) fn call_title(&self) -> &Template {
        &self.call_title
    }

    pub(crate) fn call_body(&self) -> &Template {
        &self.call_body
    }

    pub(crate) fn answered_by_other_note(&self) -> &Template {
        &self.answered_by_other_note
    }

    pub(crate) fn decide(&self) -> Option<&ScriptRef> {
        self.decide.as_ref()
    }

    /// Every template, with the path of the setting it came from.
    pub(crate) fn templates(&self, at: &YamlPath) -> Vec<(YamlPath, &Template)> {
        vec![
            (at.key("pipeline"), &self.pipeline),
            (at.key("stage"), &self.stage),
            (at.key("deal_name"), &self.deal_name),
            (at.key("contact_name"), &self.contact_name),
            (at.key("call_title"), &self.call_title),
            (at.key("call_body"), &self.call_body),
            (
                at.key("answered_by_other_note"),
                &self.answered_by_other_note,
            ),
        ]
    }
}

impl SettingsSpec {
    /// Compiles the settings found at `at`, collecting every problem.
    pub(crate) fn compile(&self, at: &YamlPath, locator: &Locator) -> (Settings, Vec<Diagnostic>) {
        let mut diagnostics = Vec::new();
        let mut template = |text: &Option<String>, key: &str, default: &str| {
            let source = text.as_deref().unwrap_or(default);
            Template::parse(source).unwrap_or_else(|error| {
                diagnostics.push(
                    locator
                        .error(&at.key(key), error.message)
                        .with_optional_hint(error.hint),
                );
                Template::literal(source)
            })
        };
        let pipeline = template(&self.pipeline, "pipeline", DEFAULT_PIPELINE);
        let stage = template(&self.stage, "stage", DEFAULT_STAGE);
        let deal_name = template(&self.deal_name, "deal_name", DEFAULT_DEAL_NAME);
        let contact_name = template(&self.contact_name, "contact_name", DEFAULT_CONTACT_NAME);
        let call_title = template(&self.call_title, "call_title", DEFAULT_CALL_TITLE);
        let call_body = template(&self.call_body, "call_body", DEFAULT_CALL_BODY);
        let answered_by_other_note = template(
            &self.answered_by_other_note,
            "answered_by_other_note",
            DEFAULT_OTHER_MANAGER_NOTE,
        );

        let top_manager = self.top_manager.as_deref().and_then(|text| {
            parse_owner_spec(text)
                .map_err(|_| {
                    diagnostics.push(
                        locator
                            .error(&at.key("top_manager"), format!("top_manager `{text}` is not an owner"))
                            .with_hint("write the TOP manager's CRM email (boss@acme.ua) or numeric owner id"),
                    )
                })
                .ok()
        });

        let mut utm_properties = Vec::new();
        let written = self.utm_properties.clone().unwrap_or_else(|| {
            UTM_FIELDS
                .iter()
                .map(|f| (f.to_string(), f.to_string()))
                .collect()
        });
        for (field, property) in written {
            if !UTM_FIELDS.contains(&field.as_str()) {
                diagnostics.push(
                    locator
                        .key_error(
                            &at.key("utm_properties").key(&field),
                            format!("`{field}` is not a UTM field"),
                        )
                        .with_hint(format!("UTM fields: {}", UTM_FIELDS.join(", "))),
                );
            } else if property.trim().is_empty() {
                diagnostics.push(locator.error(
                    &at.key("utm_properties").key(&field),
                    format!("the deal property for `{field}` is empty"),
                ));
            } else if let Some(name) = Name::resolve(&field) {
                utm_properties.push((name, property));
            }
        }

        let decide = self.decide.as_deref().and_then(|text| {
            ScriptRef::parse(text)
                .map_err(|message| diagnostics.push(locator.error(&at.key("decide"), message)))
                .ok()
        });

        let settings = Settings {
            top_manager,
            pipeline,
            stage,
            deal_name,
            contact_name,
            call_title,
            call_body,
            answered_by_other_note,
            task_due: self.task_due.unwrap_or(DEFAULT_TASK_DUE),
            task_priority: self.task_priority.unwrap_or(Priority::High),
            utm_properties,
            decide,
        };
        (settings, diagnostics)
    }
}
