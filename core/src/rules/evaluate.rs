//! Evaluation: one event and its facts in, one [`Plan`] out.
//!
//! The optional `decide` script may settle the plan alone; otherwise the
//! first scenario whose conditions all hold renders its actions, and script
//! steps among them may change the list. Everything that happened (rows tried
//! and why they failed, what each script returned) goes into the plan's
//! trace, so `simulate` and `GET /api/events/{id}` can explain any decision.

use chrono::{DateTime, Utc};
use rhai::{Array, Dynamic, Map};
use serde::{Deserialize, Serialize};

use crate::event::CallEvent;
use crate::facts::Facts;
use crate::plan::{Action, Plan, TraceEntry};

use super::RuleSet;
use super::action::{StepSpec, StepTemplate, TextMode, to_rule_json};
use super::matrix::{Outcome, Scenario};
use super::script::{ScriptError, ScriptRef, Scripts, event_map, facts_map, show};
use super::situation::Situation;

/// Why a rule set could not make a plan for an event (only scripts can fail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum EvalError {
    #[error("script failed: {0}")]
    Script(#[from] ScriptError),
    #[error("{call} returned {returned}: {expected}")]
    ScriptReturn {
        call: String,
        returned: String,
        expected: String,
    },
}

/// The state of one evaluation: what rules read, and the trace so far.
pub(crate) struct Evaluation<'a> {
    pub(crate) situation: Situation<'a>,
    scripts: &'a Scripts,
    trace: Vec<TraceEntry>,
    /// The `event` and `facts` maps for scripts, built on first use.
    script_args: Option<(Dynamic, Dynamic)>,
}

impl<'a> Evaluation<'a> {
    pub(crate) fn new(situation: Situation<'a>, scripts: &'a Scripts) -> Evaluation<'a> {
        Evaluation {
            situation,
            scripts,
            trace: Vec::new(),
            script_args: None,
        }
    }

    fn note(&mut self, subject: impl Into<String>, outcome: impl Into<String>) {
        self.trace.push(TraceEntry {
            subject: subject.into(),
            outcome: outcome.into(),
        });
    }

    /// Calls a script function with `(event, facts, extra...)` and traces the result.
    fn call(&mut self, call: &ScriptRef, extra: Vec<Dynamic>) -> Result<Dynamic, EvalError> {
        let (event, facts) = match &self.script_args {
            Some(args) => args.clone(),
            None => {
                let args = (
                    Dynamic::from_map(event_map(&self.situation)),
                    Dynamic::from_map(facts_map(&self.situation)),
                );
                self.script_args = Some(args.clone());
                args
            }
        };
        let mut args = vec![event, facts];
        args.extend(extra);
        match self.scripts.call(call, args) {
            Ok(value) => {
                self.note(
                    format!("script {call}"),
                    format!("returned {}", show(&value)),
                );
                Ok(value)
            }
            Err(error) => {
                self.note(format!("script {call}"), format!("failed: {error}"));
                Err(error.into())
            }
        }
    }

    pub(crate) fn call_for_bool(&mut self, call: &ScriptRef) -> Result<bool, EvalError> {
        let value = self.call(call, Vec::new())?;
        value.as_bool().map_err(|_| EvalError::ScriptReturn {
            call: call.to_string(),
            returned: show(&value),
            expected: "a condition script must return true or false".to_string(),
        })
    }

    /// A value for a template; `()` means "no value" (the fallback applies).
    pub(crate) fn call_for_text(&mut self, call: &ScriptRef) -> Result<Option<String>, EvalError> {
        let value = self.call(call, Vec::new())?;
        if value.is_unit() {
            return Ok(None);
        }
        if value.is_string() || value.is_int() || value.is_float() || value.is_bool() {
            return Ok(Some(value.to_string()));
        }
        Err(EvalError::ScriptReturn {
            call: call.to_string(),
            returned: show(&value),
            expected: "a template script must return text, a number, true/false or ()".to_string(),
        })
    }
}

/// What an evaluation settled on, before it becomes a plan.
struct Decision {
    scenario: Option<String>,
    actions: Vec<Action>,
    skip_reason: Option<String>,
}

impl RuleSet {
    /// Decides what to do for `event`. `now` stands in for the call time
    /// when the event has none (time-of-day and weekday conditions).
    pub fn evaluate(
        &self,
        event: &CallEvent,
        facts: &Facts,
        now: DateTime<Utc>,
    ) -> Result<Plan, EvalError> {
        let parsed_phone = std::sync::OnceLock::new();
        let situation = Situation::new(event, facts, self.context().time_zone, now, &parsed_phone);
        let mut ev = Evaluation::new(situation, &self.scripts);
        let decision = self.decide(&mut ev)?;
        Ok(Plan {
            scenario: decision.scenario,
            actions: decision.actions,
            rules_version: self.version().to_string(),
            top_manager: self.settings().top_manager().cloned(),
            skip_reason: decision.skip_reason,
            trace: ev.trace,
        })
    }

    fn decide(&self, ev: &mut Evaluation<'_>) -> Result<Decision, EvalError> {
        if let Some(call) = self.settings().decide() {
            let value = ev.call(call, Vec::new())?;
            if !value.is_unit() {
                return self.decided_by_script(call, value, ev);
            }
        }
        for scenario in &self.matrix.scenarios {
            let mut failed = None;
            for condition in &scenario.conditions {
                if let Some(why) = condition.check(ev)? {
                    failed = Some(why);
                    break;
                }
            }
            match failed {
                Some(why) => ev.note(scenario.name.as_str(), why),
                None => {
                    ev.note(scenario.name.as_str(), "matched");
                    return self.outcome(scenario, ev);
                }
            }
        }
        Ok(Decision {
            scenario: None,
            actions: Vec::new(),
            skip_reason: Some("no scenario matched".to_string()),
        })
    }

    fn outcome(&self, scenario: &Scenario, ev: &mut Evaluation<'_>) -> Result<Decision, EvalError> {
        let steps = match &scenario.outcome {
            Outcome::Skip(reason) => {
                return Ok(Decision {
                    scenario: Some(scenario.name.clone()),
                    actions: Vec::new(),
                    skip_reason: Some(reason.render(ev)?),
                });
            }
            Outcome::Steps(steps) => steps,
        };
        let mut actions = Vec::with_capacity(steps.len());
        for step in steps {
            match step {
                StepTemplate::Action(action) => actions.push(action.render(self.settings(), ev)?),
                StepTemplate::Script(call) => {
                    let current: Array = actions
                        .iter()
                        .map(action_to_dynamic)
                        .collect::<Result<_, _>>()?;
                    let value = ev.call(call, vec![Dynamic::from_array(current)])?;
                    if value.is_unit() {
                        continue;
                    }
                    if value.is_string() {
                        return Ok(Decision {
                            scenario: Some(scenario.name.clone()),
                            actions: Vec::new(),
                            skip_reason: Some(value.to_string()),
                        });
                    }
                    actions = self.actions_from_script(call, &value, ev)?;
                }
            }
        }
        let skip_reason = actions
            .is_empty()
            .then(|| format!("scenario {} planned no actions", scenario.name));
        Ok(Decision {
            scenario: Some(scenario.name.clone()),
            actions,
            skip_reason,
        })
    }

    /// Reads the actions a script returned (rule syntax, literal text).
    fn actions_from_script(
        &self,
        call: &ScriptRef,
        value: &Dynamic,
        ev: &mut Evaluation<'_>,
    ) -> Result<Vec<Action>, EvalError> {
        let wrong = |expected: String| EvalError::ScriptReturn {
            call: call.to_string(),
            returned: show(value),
            expected,
        };
        let Some(items) = value.read_lock::<Array>().map(|a| a.clone()) else {
            return Err(wrong(
                "expected () to keep the actions, a list of actions, or text to skip".to_string(),
            ));
        };
        let mut actions = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let spec: StepSpec =
                rhai::serde::from_dynamic(item).map_err(|e| wrong(format!("action {i}: {e}")))?;
            let step = spec
                .compile(&Default::default(), TextMode::Literal)
                .map_err(|errors| {
                    let text = errors
                        .iter()
                        .map(|e| e.message.clone())
                        .collect::<Vec<_>>()
                        .join("; ");
                    wrong(format!("action {i}: {text}"))
                })?;
            match step {
                StepTemplate::Action(action) => actions.push(action.render(self.settings(), ev)?),
                StepTemplate::Script(_) => {
                    return Err(wrong(format!(
                        "action {i}: a script cannot return a script step"
                    )));
                }
            }
        }
        Ok(actions)
    }

    /// The `decide` script's map: `#{scenario, actions}` or `#{scenario, skip}`.
    fn decided_by_script(
        &self,
        call: &ScriptRef,
        value: Dynamic,
        ev: &mut Evaluation<'_>,
    ) -> Result<Decision, EvalError> {
        let wrong = |expected: &str| EvalError::ScriptReturn {
            call: call.to_string(),
            returned: show(&value),
            expected: expected.to_string(),
        };
        const SHAPE: &str = "decide must return () to let the matrix decide, #{scenario: \"name\", actions: [...]} or #{scenario: \"name\", skip: \"reason\"}";
        let Some(map) = value.read_lock::<Map>().map(|m| m.clone()) else {
            return Err(wrong(SHAPE));
        };
        if map
            .keys()
            .any(|k| !matches!(k.as_str(), "scenario" | "actions" | "skip"))
        {
            return Err(wrong(SHAPE));
        }
        let scenario = match map.get("scenario") {
            None => format!("decided by {call}"),
            Some(name) if name.is_string() => name.to_string(),
            Some(_) => return Err(wrong(SHAPE)),
        };
        match (map.get("actions"), map.get("skip")) {
            (Some(actions), None) => {
                let actions = self.actions_from_script(call, actions, ev)?;
                let skip_reason = actions
                    .is_empty()
                    .then(|| format!("{call} planned no actions"));
                Ok(Decision {
                    scenario: Some(scenario),
                    actions,
                    skip_reason,
                })
            }
            (None, Some(reason)) if reason.is_string() => Ok(Decision {
                scenario: Some(scenario),
                actions: Vec::new(),
                skip_reason: Some(reason.to_string()),
            }),
            _ => Err(wrong(SHAPE)),
        }
    }
}

fn action_to_dynamic(action: &Action) -> Result<Dynamic, EvalError> {
    rhai::serde::to_dynamic(to_rule_json(action)).map_err(|e| EvalError::ScriptReturn {
        call: "(actions for a script)".to_string(),
        returned: action.name().to_string(),
        expected: e.to_string(),
    })
}
