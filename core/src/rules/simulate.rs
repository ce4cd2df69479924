//! `switchboard simulate`: what would the rules do with this event, and why.

use std::fmt::{self, Write as _};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::event::CallEvent;
use crate::facts::Facts;
use crate::plan::Plan;

use super::action::to_rule_json;
use super::event_spec::{EventSpec, FactsSpec};
use super::{EvalError, RuleSet, RulesContext};

/// An event file that is not an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadEventError {
    #[error("not JSON or YAML: {0}")]
    Syntax(String),
    #[error("not an event: {0}")]
    Shape(String),
}

/// Reads an event from JSON or YAML text: canonical field names (as in rule
/// tests), or a normalized event as stored by the service.
pub fn read_event(text: &str, ctx: &RulesContext) -> Result<CallEvent, ReadEventError> {
    let value: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| ReadEventError::Syntax(e.to_string()))?;
    match serde_yaml::from_value::<EventSpec>(value.clone()) {
        Ok(spec) => spec
            .into_event(ctx)
            .map_err(|e| ReadEventError::Shape(e.to_string())),
        Err(flat) => serde_yaml::from_value::<CallEvent>(value)
            .map_err(|_| ReadEventError::Shape(flat.to_string())),
    }
}

/// An event, the facts used, and the plan with its trace.
#[derive(Debug, Clone, Serialize)]
pub struct Simulation {
    pub event: CallEvent,
    pub facts: Facts,
    pub plan: Plan,
}

/// Evaluates `event` with facts stated in `facts` (the rest as the executor
/// would find them offline: see [`FactsSpec`]).
pub fn simulate(
    rules: &RuleSet,
    event: CallEvent,
    facts: &FactsSpec,
    now: DateTime<Utc>,
) -> Result<Simulation, EvalError> {
    let facts = facts.resolve(&event, rules.employees());
    let plan = rules.evaluate(&event, &facts, now)?;
    Ok(Simulation { event, facts, plan })
}

impl Simulation {
    /// The plan in JSON: actions in rule syntax, plus the trace.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "rules_version": self.plan.rules_version,
            "facts": self.facts,
            "scenario": self.plan.scenario,
            "skip_reason": self.plan.skip_reason,
            "actions": self.plan.actions.iter().map(to_rule_json).collect::<Vec<_>>(),
            "trace": self.plan.trace,
            "plan": self.plan,
        })
    }
}

impl fmt::Display for Simulation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.event;
        writeln!(f, "rules version {}", self.plan.rules_version)?;
        writeln!(
            f,
            "event:  {} {} call {}, {}, client {}",
            e.kind,
            e.direction,
            e.call_id,
            e.disposition
                .as_ref()
                .map(|d| d.as_str())
                .unwrap_or("no status"),
            e.client
                .e164
                .as_ref()
                .map(|p| p.to_string())
                .or_else(|| e.client.raw.clone())
                .unwrap_or_else(|| "none".to_string()),
        )?;
        writeln!(
            f,
            "facts:  client={} open_deal={} employee={} responsible={}",
            self.facts.client, self.facts.open_deal, self.facts.employee, self.facts.responsible
        )?;
        writeln!(f, "trace:")?;
        let width = self
            .plan
            .trace
            .iter()
            .map(|t| t.subject.len())
            .max()
            .unwrap_or(0);
        for entry in &self.plan.trace {
            writeln!(f, "  {:width$}  {}", entry.subject, entry.outcome)?;
        }
        match &self.plan.scenario {
            Some(name) => writeln!(f, "scenario: {name}")?,
            None => writeln!(f, "scenario: none")?,
        }
        if let Some(reason) = &self.plan.skip_reason {
            writeln!(f, "skip: {reason}")?;
        }
        for (i, action) in self.plan.actions.iter().enumerate() {
            let yaml = serde_yaml::to_string(&to_rule_json(action)).unwrap_or_default();
            let mut lines = yaml.lines();
            let mut text = String::new();
            if let Some(first) = lines.next() {
                let _ = write!(text, "{}. {first}", i + 1);
            }
            for line in lines {
                let _ = write!(text, "\n   {line}");
            }
            writeln!(f, "{text}")?;
        }
        Ok(())
    }
}
