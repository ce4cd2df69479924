//! Plans: what the rules decided to do for one event.
//!
//! A [`Plan`] is the only thing that passes from the rules to the executor. It
//! is plain data (serializable, comparable in rule tests, stored with the
//! event), with every template already rendered, so that the executor never
//! evaluates rules and the rules never touch the CRM.
//!
//! Owners stay symbolic ([`Owner::Employee`], [`Owner::Responsible`], ...): the
//! executor turns them into CRM owner ids from the facts it gathered.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A CRM owner as written in rules: an email address or a CRM owner id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerSpec {
    Email(String),
    Id(String),
}

impl OwnerSpec {
    /// `boss@acme.ua` is an email, anything else an owner id.
    pub fn parse(value: &str) -> OwnerSpec {
        let value = value.trim();
        if value.contains('@') {
            OwnerSpec::Email(value.to_ascii_lowercase())
        } else {
            OwnerSpec::Id(value.to_string())
        }
    }
}

impl std::fmt::Display for OwnerSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OwnerSpec::Email(email) => f.write_str(email),
            OwnerSpec::Id(id) => write!(f, "owner {id}"),
        }
    }
}

/// Who should own a record or a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Owner {
    /// The CRM owner of the employee who took part in the call.
    Employee,
    /// The owner of the client's open deal, else of the contact.
    Responsible,
    /// The TOP manager named in the matrix settings.
    TopManager,
    /// A specific owner.
    Explicit(OwnerSpec),
}

/// Which of the event's records an engagement (call, task, note) is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attach {
    pub contact: bool,
    pub deal: bool,
}

impl Default for Attach {
    fn default() -> Self {
        Attach {
            contact: true,
            deal: true,
        }
    }
}

/// A record the event is about, for owner changes and property updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Contact,
    Deal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Medium,
    High,
}

/// Find the client's contact by phone, or create it when `create` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactAction {
    pub create: bool,
    /// Name for a created contact (already rendered from its template).
    pub name: String,
    /// Owner of a created contact.
    pub owner: Option<Owner>,
    /// Properties written on a created contact.
    pub properties: BTreeMap<String, String>,
}

/// Use the client's open deal, or create one when `create` is set and there is
/// none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DealAction {
    pub create: bool,
    pub name: String,
    pub pipeline: String,
    pub stage: String,
    pub owner: Option<Owner>,
    /// Properties written on a created deal (UTM tags, ...).
    pub properties: BTreeMap<String, String>,
}

/// Log the call on the client's records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallLogAction {
    pub title: String,
    pub body: String,
    /// Attach the recording link when the event has one.
    pub recording: bool,
    pub owner: Option<Owner>,
    pub attach: Attach,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskAction {
    pub owner: Owner,
    pub subject: String,
    pub body: String,
    /// Due this long after the call.
    #[serde(with = "humantime_serde")]
    pub due_in: Duration,
    pub priority: Priority,
    pub attach: Attach,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoteAction {
    pub body: String,
    pub owner: Option<Owner>,
    pub attach: Attach,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeOwnerAction {
    pub target: Target,
    pub owner: Owner,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdatePropertiesAction {
    pub target: Target,
    pub properties: BTreeMap<String, String>,
}

/// The closed set of things rules can ask for. Adding an action means one
/// variant here, its rule syntax, and one arm in the executor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Contact(ContactAction),
    Deal(DealAction),
    LogCall(CallLogAction),
    Task(TaskAction),
    Note(NoteAction),
    ChangeOwner(ChangeOwnerAction),
    UpdateProperties(UpdatePropertiesAction),
}

impl Action {
    /// The action's name as written in rules (`contact`, `log_call`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Action::Contact(_) => "contact",
            Action::Deal(_) => "deal",
            Action::LogCall(_) => "log_call",
            Action::Task(_) => "task",
            Action::Note(_) => "note",
            Action::ChangeOwner(_) => "change_owner",
            Action::UpdateProperties(_) => "update_properties",
        }
    }
}

/// One line of the explanation of a plan: what was tried and why it matched
/// or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceEntry {
    /// The scenario row (or script) the entry is about.
    pub subject: String,
    pub outcome: String,
}

/// The rules' decision for one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Name of the scenario row that matched; `None` when nothing matched.
    pub scenario: Option<String>,
    pub actions: Vec<Action>,
    /// Content hash of the rule set that made the plan.
    pub rules_version: String,
    /// The TOP manager of the rule set, for [`Owner::TopManager`].
    pub top_manager: Option<OwnerSpec>,
    /// Why no actions are planned (no scenario matched, or the row skips on purpose).
    pub skip_reason: Option<String>,
    pub trace: Vec<TraceEntry>,
}

impl Plan {
    pub fn is_skip(&self) -> bool {
        self.actions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_spec_reads_emails_and_ids() {
        assert_eq!(
            OwnerSpec::parse(" Boss@Acme.UA "),
            OwnerSpec::Email("boss@acme.ua".into())
        );
        assert_eq!(OwnerSpec::parse("6166860"), OwnerSpec::Id("6166860".into()));
    }

    #[test]
    fn plan_serializes_with_readable_durations() {
        let plan = Plan {
            scenario: Some("missed_new_client".into()),
            actions: vec![Action::Task(TaskAction {
                owner: Owner::TopManager,
                subject: "Call back".into(),
                body: String::new(),
                due_in: Duration::from_secs(4 * 3600),
                priority: Priority::High,
                attach: Attach::default(),
            })],
            rules_version: "abc".into(),
            top_manager: Some(OwnerSpec::parse("boss@acme.ua")),
            skip_reason: None,
            trace: vec![],
        };
        let json = serde_json::to_value(&plan).expect("serializes");
        assert_eq!(json["actions"][0]["task"]["due_in"], "4h");
        assert_eq!(json["actions"][0]["task"]["owner"], "top_manager");
        let back: Plan = serde_json::from_value(json).expect("deserializes");
        assert_eq!(back, plan);
    }
}
