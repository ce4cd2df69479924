//! Rule tests (`tests/*.yaml`): examples that pin down what the rules do.
//!
//! Each file is a list of cases. A case gives an event (inline, under the
//! canonical field names, or a path to a JSON/YAML file relative to the rules
//! directory), the CRM facts, and what the plan must be: the scenario, a
//! skip reason, and the actions in order, each compared on the fields the
//! case lists (unlisted fields are not compared). Tests run in `check` and
//! before every hot swap: a rule set that fails its own tests never runs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value as Json;

use crate::event::CallEvent;
use crate::plan::Plan;

use super::RuleSet;
use super::RulesContext;
use super::action::to_rule_json;
use super::diagnostic::{Diagnostic, Position};
use super::event_spec::{EventSpec, FactsSpec};
use super::files::RuleFiles;
use super::yaml::{self, Locator, YamlPath};

/// Time of a test event without `call_time` and without `now`: Monday
/// 2025-01-06 10:00 UTC, so time-dependent rules test the same every day.
pub const DEFAULT_TEST_TIME: &str = "2025-01-06T10:00:00Z";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseSpec {
    name: String,
    event: serde_yaml::Value,
    #[serde(default)]
    facts: FactsSpec,
    now: Option<DateTime<Utc>>,
    expect: ExpectSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectSpec {
    /// Absent: not checked; `null`: no scenario may match; text: its name.
    #[serde(default, deserialize_with = "present")]
    scenario: Option<Option<String>>,
    /// Text the skip reason must contain.
    skip_reason: Option<String>,
    actions: Option<Vec<serde_yaml::Value>>,
}

fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// One parsed rule test.
#[derive(Debug, Clone)]
pub(crate) struct RuleTest {
    file: String,
    name: String,
    at: Position,
    event: CallEvent,
    facts: FactsSpec,
    now: DateTime<Utc>,
    expect: Expectation,
}

#[derive(Debug, Clone)]
struct Expectation {
    scenario: Option<Option<String>>,
    skip_reason: Option<String>,
    actions: Option<Vec<(String, Json)>>,
}

/// The result of one rule test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestOutcome {
    pub file: String,
    pub name: String,
    pub line: usize,
    pub column: usize,
    /// What did not match; empty when the test passed.
    pub failures: Vec<String>,
}

impl TestOutcome {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    pub(crate) fn to_diagnostic(&self) -> Diagnostic {
        let mut lines = self.failures.iter();
        let first = lines.next().cloned().unwrap_or_default();
        let rest: Vec<String> = lines.cloned().collect();
        Diagnostic::new(
            &self.file,
            Position {
                line: self.line,
                column: self.column,
            },
            format!("rule test `{}` failed: {first}", self.name),
        )
        .with_optional_hint((!rest.is_empty()).then(|| rest.join("\n    ")))
    }
}

/// Parses every test file; problems become diagnostics.
pub(crate) fn parse_tests(
    files: &RuleFiles,
    ctx: &RulesContext,
) -> (Vec<RuleTest>, Vec<Diagnostic>) {
    let mut tests = Vec::new();
    let mut diagnostics = Vec::new();
    let default_now = DateTime::parse_from_rfc3339(DEFAULT_TEST_TIME)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    for (file, text) in files.test_files() {
        let cases: Vec<CaseSpec> = match yaml::parse(file, text) {
            Ok(cases) => cases,
            Err(diagnostic) => {
                diagnostics.push(diagnostic);
                continue;
            }
        };
        let locator = Locator::new(file, text);
        for (index, case) in cases.into_iter().enumerate() {
            let at = YamlPath::root().index(index);
            let event = match read_event(&case.event, files, ctx) {
                Ok(event) => event,
                Err(message) => {
                    diagnostics.push(
                        locator
                            .error(&at.key("event"), format!("test `{}`: {message}", case.name))
                            .with_hint("an event is a mapping of canonical fields (client_phone, disposition, ...) or a path to a JSON/YAML file relative to the rules directory"),
                    );
                    continue;
                }
            };
            let actions = match case
                .expect
                .actions
                .map(|list| expected_actions(list, &at, &locator))
            {
                Some(Ok(actions)) => Some(actions),
                Some(Err(diagnostic)) => {
                    diagnostics.push(diagnostic);
                    continue;
                }
                None => None,
            };
            tests.push(RuleTest {
                file: file.to_string(),
                name: case.name,
                at: locator.value(&at),
                now: case
                    .now
                    .or_else(|| event.call_time.map(|t| t.with_timezone(&Utc)))
                    .unwrap_or(default_now),
                event,
                facts: case.facts,
                expect: Expectation {
                    scenario: case.expect.scenario,
                    skip_reason: case.expect.skip_reason,
                    actions,
                },
            });
        }
    }
    (tests, diagnostics)
}

fn read_event(
    value: &serde_yaml::Value,
    files: &RuleFiles,
    ctx: &RulesContext,
) -> Result<CallEvent, String> {
    let spec: EventSpec = match value {
        serde_yaml::Value::String(path) => {
            let text = files.fixture(path)?;
            yaml::convert(
                serde_yaml::from_str::<serde_yaml::Value>(&text)
                    .map_err(|e| format!("{path}: {e}"))?,
            )
            .map_err(|e| format!("{path}: {e}"))?
        }
        other => yaml::convert(other.clone())?,
    };
    spec.into_event(ctx).map_err(|e| e.to_string())
}

fn expected_actions(
    list: Vec<serde_yaml::Value>,
    at: &YamlPath,
    locator: &Locator,
) -> Result<Vec<(String, Json)>, Diagnostic> {
    let mut out = Vec::new();
    for (i, item) in list.into_iter().enumerate() {
        let path = at.key("expect").key("actions").index(i);
        let entry = match item {
            serde_yaml::Value::String(name) => (name, Json::Object(Default::default())),
            serde_yaml::Value::Mapping(map) if map.len() == 1 => {
                let Some((key, body)) = map.into_iter().next() else {
                    continue;
                };
                let name = key.as_str().unwrap_or("").to_string();
                let body =
                    serde_json::to_value(&body).map_err(|e| locator.error(&path, e.to_string()))?;
                let body = if body.is_null() {
                    Json::Object(Default::default())
                } else {
                    body
                };
                (name, body)
            }
            _ => {
                return Err(locator
                    .error(
                        &path,
                        "an expected action is a name (log_call) or one `name: {fields}` mapping",
                    )
                    .with_hint("- deal: {owner: employee}"));
            }
        };
        if !super::action::ACTION_NAMES.contains(&entry.0.as_str()) || entry.0 == "script" {
            return Err(locator
                .error(&path, format!("`{}` is not an action", entry.0))
                .with_hint(
                    "actions: contact, deal, log_call, task, note, change_owner, update_properties",
                ));
        }
        out.push(entry);
    }
    Ok(out)
}

impl RuleTest {
    pub(crate) fn run(&self, rules: &RuleSet) -> TestOutcome {
        let facts = self.facts.resolve(&self.event, rules.employees());
        let failures = match rules.evaluate(&self.event, &facts, self.now) {
            Ok(plan) => self.compare(&plan),
            Err(error) => vec![format!("evaluation failed: {error}")],
        };
        TestOutcome {
            file: self.file.clone(),
            name: self.name.clone(),
            line: self.at.line,
            column: self.at.column,
            failures,
        }
    }

    fn compare(&self, plan: &Plan) -> Vec<String> {
        let mut failures = Vec::new();
        if let Some(expected) = &self.expect.scenario
            && expected != &plan.scenario
        {
            let shown = |s: &Option<String>| {
                s.clone()
                    .map(|s| format!("`{s}`"))
                    .unwrap_or_else(|| "no scenario".into())
            };
            failures.push(format!(
                "expected {}, got {}",
                shown(expected),
                shown(&plan.scenario)
            ));
            if let Some(name) = expected
                && let Some(entry) = plan.trace.iter().find(|t| &t.subject == name)
            {
                failures.push(format!("`{name}`: {}", entry.outcome));
            }
        }
        if let Some(expected) = &self.expect.skip_reason {
            match &plan.skip_reason {
                Some(reason) if reason.contains(expected.as_str()) => {}
                other => failures.push(format!(
                    "expected a skip reason containing {expected:?}, got {other:?}"
                )),
            }
        }
        if let Some(expected) = &self.expect.actions {
            let actual: Vec<&str> = plan.actions.iter().map(|a| a.name()).collect();
            let wanted: Vec<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
            if actual != wanted {
                failures.push(format!(
                    "expected actions [{}], got [{}]",
                    wanted.join(", "),
                    actual.join(", ")
                ));
            } else {
                for (i, ((name, fields), action)) in expected.iter().zip(&plan.actions).enumerate()
                {
                    let json = to_rule_json(action);
                    if let Err(why) = contains(fields, &json[name.as_str()], name) {
                        failures.push(format!("action {} ({name}): {why}", i + 1));
                    }
                }
            }
        }
        failures
    }
}

/// Whether `actual` has every field of `expected` with the same value.
fn contains(expected: &Json, actual: &Json, path: &str) -> Result<(), String> {
    match (expected, actual) {
        (Json::Object(wanted), Json::Object(got)) => {
            for (key, value) in wanted {
                let child = format!("{path}.{key}");
                match got.get(key) {
                    Some(actual) => contains(value, actual, &child)?,
                    None if value.is_null() => {}
                    None => return Err(format!("{child} is not set, expected {value}")),
                }
            }
            Ok(())
        }
        (Json::Array(wanted), Json::Array(got)) if wanted.len() == got.len() => {
            for (i, (w, g)) in wanted.iter().zip(got).enumerate() {
                contains(w, g, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (Json::String(w), Json::String(g)) if w == g || same_duration(path, w, g) => Ok(()),
        (Json::Number(w), g) | (g, Json::Number(w))
            if g.as_str() == Some(w.to_string().as_str()) =>
        {
            Ok(())
        }
        (w, g) if w == g => Ok(()),
        (w, g) => Err(format!("{path} is {g}, expected {w}")),
    }
}

/// `due: 1d` and `due: 24h` are the same due delay.
fn same_duration(path: &str, wanted: &str, got: &str) -> bool {
    path.ends_with(".due")
        && matches!(
            (humantime::parse_duration(wanted), humantime::parse_duration(got)),
            (Ok(a), Ok(b)) if a == b
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn partial_matching_compares_only_listed_fields() {
        let actual = json!({"owner": "employee", "properties": {"utm_source": "google", "utm_medium": "cpc"}, "attach": ["contact", "deal"]});
        assert!(contains(&json!({"owner": "employee"}), &actual, "deal").is_ok());
        assert!(
            contains(
                &json!({"properties": {"utm_source": "google"}}),
                &actual,
                "deal"
            )
            .is_ok()
        );
        assert!(contains(&json!({"owner": null}), &json!({}), "deal").is_ok());
        let error =
            contains(&json!({"owner": "top_manager"}), &actual, "deal").expect_err("differs");
        assert_eq!(
            error,
            "deal.owner is \"employee\", expected \"top_manager\""
        );
        assert!(contains(&json!({"attach": ["contact"]}), &actual, "log_call").is_err());
        assert!(contains(&json!({"missing": 1}), &actual, "deal").is_err());
        assert!(contains(&json!({"n": 30}), &json!({"n": "30"}), "x").is_ok());
        assert!(contains(&json!({"due": "1d"}), &json!({"due": "1day"}), "task").is_ok());
        assert!(contains(&json!({"due": "2h"}), &json!({"due": "1day"}), "task").is_err());
    }
}
