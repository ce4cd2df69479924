//! The matrix (`matrix.yaml`): settings and the ordered scenario rows.
//!
//! Each row has a `name`, conditions (`when`) and either actions (`then`) or
//! a reason to do nothing (`skip`). The first row whose conditions all hold
//! decides. Compiling the matrix checks everything that can be checked
//! without an event: names, operators, values, templates, owners, script
//! references, and rows that can never match because an earlier row with a
//! subset of their conditions always wins first.

use serde::Deserialize;

use super::action::{StepSpec, StepTemplate, TextMode};
use super::condition::{Condition, compile_when};
use super::diagnostic::Diagnostic;
use super::script::{ScriptRef, Scripts};
use super::settings::{Settings, SettingsSpec};
use super::template::Template;
use super::yaml::{Locator, YamlPath};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MatrixFile {
    #[serde(default)]
    settings: SettingsSpec,
    scenarios: Vec<ScenarioSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioSpec {
    name: String,
    description: Option<String>,
    #[serde(default)]
    when: serde_yaml::Mapping,
    then: Option<Vec<StepSpec>>,
    skip: Option<String>,
}

/// One row of the matrix, ready to evaluate.
#[derive(Debug, Clone)]
pub(crate) struct Scenario {
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) conditions: Vec<Condition>,
    pub(crate) outcome: Outcome,
}

#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    Steps(Vec<StepTemplate>),
    Skip(Template),
}

/// The compiled matrix.
#[derive(Debug, Clone)]
pub(crate) struct Matrix {
    pub(crate) settings: Settings,
    pub(crate) scenarios: Vec<Scenario>,
}

/// Script functions called with `(event, facts)`.
const VALUE_ARITY: usize = 2;
/// Script steps are called with `(event, facts, actions)`.
const STEP_ARITY: usize = 3;

impl MatrixFile {
    pub(crate) fn compile(
        &self,
        locator: &Locator,
        scripts: &Scripts,
    ) -> (Matrix, Vec<Diagnostic>) {
        let root = YamlPath::root();
        let (settings, mut diagnostics) = self.settings.compile(&root.key("settings"), locator);
        let mut check_call =
            |call: &ScriptRef, arity: usize, path: &YamlPath, diagnostics: &mut Vec<Diagnostic>| {
                if let Err((message, hint)) = scripts.check(call, arity) {
                    diagnostics.push(locator.error(path, message).with_hint(hint));
                }
            };
        for (path, template) in settings.templates(&root.key("settings")) {
            for call in template.script_calls() {
                check_call(call, VALUE_ARITY, &path, &mut diagnostics);
            }
        }
        if let Some(call) = settings.decide() {
            check_call(
                call,
                VALUE_ARITY,
                &root.key("settings").key("decide"),
                &mut diagnostics,
            );
        }
        if self.scenarios.is_empty() {
            diagnostics.push(
                locator
                    .error(&root.key("scenarios"), "the matrix has no scenarios")
                    .with_hint("add at least one row; a row without `when` matches every call"),
            );
        }

        let mut scenarios: Vec<Scenario> = Vec::new();
        for (index, spec) in self.scenarios.iter().enumerate() {
            let at = root.key("scenarios").index(index);
            let name = spec.name.trim().to_string();
            if name.is_empty() {
                diagnostics.push(locator.error(&at.key("name"), "a scenario needs a name"));
            } else if let Some(first) = self.scenarios[..index]
                .iter()
                .position(|s| s.name.trim() == name)
            {
                let line = locator
                    .value(&root.key("scenarios").index(first).key("name"))
                    .line;
                diagnostics.push(
                    locator
                        .error(
                            &at.key("name"),
                            format!("scenario `{name}` is already defined on line {line}"),
                        )
                        .with_hint(
                            "scenario names appear in plans and rule tests, so each must be unique",
                        ),
                );
            }

            let (conditions, mut errors) = compile_when(&spec.when, &at.key("when"), locator);
            // A row whose conditions did not compile cannot be compared with others.
            let when_ok = errors.is_empty();
            diagnostics.append(&mut errors);
            for (i, condition) in conditions.iter().enumerate() {
                if let Some(call) = condition.script() {
                    let path = match spec.when.get("script") {
                        Some(serde_yaml::Value::Sequence(_)) => at.key("when").key("script").index(
                            conditions[..i]
                                .iter()
                                .filter(|c| c.script().is_some())
                                .count(),
                        ),
                        _ => at.key("when").key("script"),
                    };
                    check_call(call, VALUE_ARITY, &path, &mut diagnostics);
                }
            }

            let outcome = match (&spec.then, &spec.skip) {
                (Some(_), Some(_)) => {
                    diagnostics.push(
                        locator
                            .key_error(
                                &at.key("skip"),
                                format!("scenario `{name}` has both `then` and `skip`"),
                            )
                            .with_hint(
                                "a row either acts (then) or explains why it does nothing (skip)",
                            ),
                    );
                    None
                }
                (None, None) => {
                    diagnostics.push(
                        locator
                            .key_error(
                                &at.key("name"),
                                format!("scenario `{name}` has neither `then` nor `skip`"),
                            )
                            .with_hint("add `then:` with actions, or `skip: \"reason\"`"),
                    );
                    None
                }
                (None, Some(reason)) => match Template::parse(reason) {
                    Ok(template) => {
                        for call in template.script_calls() {
                            check_call(call, VALUE_ARITY, &at.key("skip"), &mut diagnostics);
                        }
                        Some(Outcome::Skip(template))
                    }
                    Err(error) => {
                        diagnostics.push(
                            locator
                                .error(&at.key("skip"), error.message)
                                .with_optional_hint(error.hint),
                        );
                        None
                    }
                },
                (Some(steps), None) => {
                    let mut compiled = Vec::new();
                    for (i, step) in steps.iter().enumerate() {
                        let path = at.key("then").index(i);
                        match step.compile(&path, TextMode::Template) {
                            Ok(step) => {
                                check_step(
                                    &step,
                                    &path,
                                    &settings,
                                    locator,
                                    &mut diagnostics,
                                    &mut check_call,
                                );
                                compiled.push(step);
                            }
                            Err(errors) => diagnostics.extend(errors.into_iter().map(|e| {
                                locator.error(&e.path, e.message).with_optional_hint(e.hint)
                            })),
                        }
                    }
                    Some(Outcome::Steps(compiled))
                }
            };

            if when_ok
                && let Some(earlier) = scenarios.iter().find(|earlier| {
                    earlier
                        .conditions
                        .iter()
                        .all(|c| conditions.iter().any(|mine| mine.same_as(c)))
                })
            {
                let earlier_index = scenarios
                    .iter()
                    .position(|s| s.name == earlier.name)
                    .unwrap_or(0);
                let line = locator
                    .value(&root.key("scenarios").index(earlier_index))
                    .line;
                let why = if earlier.conditions.is_empty() {
                    format!(
                        "`{}` (line {line}) has no conditions and matches every call",
                        earlier.name
                    )
                } else {
                    format!(
                        "`{}` (line {line}) matches every call this row would",
                        earlier.name
                    )
                };
                diagnostics.push(
                    locator
                        .key_error(
                            &at.key("name"),
                            format!("scenario `{name}` can never match: {why}"),
                        )
                        .with_hint(format!(
                            "move `{name}` above `{}`, or make `{}` narrower",
                            earlier.name, earlier.name
                        )),
                );
            }

            if let (Some(outcome), true) = (outcome, when_ok) {
                scenarios.push(Scenario {
                    name,
                    description: spec.description.clone(),
                    conditions,
                    outcome,
                });
            }
        }
        (
            Matrix {
                settings,
                scenarios,
            },
            diagnostics,
        )
    }
}

fn check_step(
    step: &StepTemplate,
    path: &YamlPath,
    settings: &Settings,
    locator: &Locator,
    diagnostics: &mut Vec<Diagnostic>,
    check_call: &mut impl FnMut(&ScriptRef, usize, &YamlPath, &mut Vec<Diagnostic>),
) {
    match step {
        StepTemplate::Script(call) => {
            check_call(call, STEP_ARITY, &path.key("script"), diagnostics)
        }
        StepTemplate::Action(action) => {
            for template in action.templates() {
                for call in template.script_calls() {
                    check_call(call, VALUE_ARITY, path, diagnostics);
                }
            }
            if settings.top_manager().is_none()
                && action.owners().iter().any(|o| o.uses_top_manager())
            {
                diagnostics.push(
                    locator
                        .error(
                            path,
                            "this action names top_manager, but settings.top_manager is not set",
                        )
                        .with_hint(
                            "set settings.top_manager to the TOP manager's CRM email or owner id",
                        ),
                );
            }
        }
    }
}
