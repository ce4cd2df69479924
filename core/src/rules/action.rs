//! Actions: the `then` of a scenario row, from rule syntax to plan values.
//!
//! Rules write actions in a short form (`- log_call`, `- task: {owner:
//! top_manager, subject: ...}`) with templates and symbolic owners; at load
//! time each becomes an [`ActionTemplate`] with parsed templates, and for each
//! event it renders into a [`crate::plan::Action`] with plain text. Scripts
//! see and return actions in the same rule syntax ([`to_rule_json`] and
//! [`StepSpec`]), so there is one vocabulary to learn.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::{Value as Json, json};

use crate::facts::{EmployeeFact, ResponsibleFact};
use crate::plan::{
    Action, Attach, CallLogAction, ChangeOwnerAction, ContactAction, DealAction, NoteAction, Owner,
    OwnerSpec, Priority, Target, TaskAction, UpdatePropertiesAction,
};

use super::evaluate::{EvalError, Evaluation};
use super::script::ScriptRef;
use super::settings::Settings;
use super::template::{Template, TemplateError};
use super::yaml::{YamlPath, forms};

/// The action names rules may use.
pub(crate) const ACTION_NAMES: &[&str] = &[
    "contact",
    "deal",
    "log_call",
    "task",
    "note",
    "change_owner",
    "update_properties",
    "script",
];

/// The owner keywords; anything else must be an email or a numeric owner id.
pub(crate) const OWNER_WORDS: &[&str] = &["employee", "responsible", "top_manager"];

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ContactSpec {
    create: Option<bool>,
    name: Option<String>,
    #[serde(default, deserialize_with = "forms::optional_texts")]
    owner: Option<Vec<String>>,
    #[serde(default, deserialize_with = "forms::text_map")]
    properties: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DealSpec {
    create: Option<bool>,
    name: Option<String>,
    pipeline: Option<String>,
    stage: Option<String>,
    #[serde(default, deserialize_with = "forms::optional_texts")]
    owner: Option<Vec<String>>,
    #[serde(default, deserialize_with = "forms::text_map")]
    properties: BTreeMap<String, String>,
    utm: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CallSpec {
    title: Option<String>,
    body: Option<String>,
    recording: Option<bool>,
    #[serde(default, deserialize_with = "forms::optional_texts")]
    owner: Option<Vec<String>>,
    attach: Option<Vec<Target>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TaskSpec {
    #[serde(deserialize_with = "forms::texts")]
    owner: Vec<String>,
    subject: String,
    body: Option<String>,
    #[serde(default, with = "humantime_serde::option")]
    due: Option<Duration>,
    priority: Option<Priority>,
    attach: Option<Vec<Target>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoteSpec {
    body: Option<String>,
    #[serde(default, deserialize_with = "forms::optional_texts")]
    owner: Option<Vec<String>>,
    attach: Option<Vec<Target>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangeOwnerSpec {
    target: Target,
    #[serde(deserialize_with = "forms::texts")]
    owner: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PropertiesSpec {
    target: Target,
    #[serde(deserialize_with = "forms::text_map")]
    properties: BTreeMap<String, String>,
}

/// One item of a `then` list: an action, or a script step.
#[derive(Debug, Clone)]
pub(crate) enum StepSpec {
    Contact(ContactSpec),
    Deal(DealSpec),
    LogCall(CallSpec),
    Task(TaskSpec),
    Note(NoteSpec),
    ChangeOwner(ChangeOwnerSpec),
    UpdateProperties(PropertiesSpec),
    Script(String),
}

impl<'de> Deserialize<'de> for StepSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StepVisitor)
    }
}

struct StepVisitor;

impl<'de> Visitor<'de> for StepVisitor {
    type Value = StepSpec;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an action: a name such as `log_call`, or `name: {options}`")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<StepSpec, E> {
        match name {
            "contact" => Ok(StepSpec::Contact(ContactSpec::default())),
            "deal" => Ok(StepSpec::Deal(DealSpec::default())),
            "log_call" => Ok(StepSpec::LogCall(CallSpec::default())),
            "note" => Ok(StepSpec::Note(NoteSpec::default())),
            "task" | "change_owner" | "update_properties" | "script" => Err(E::custom(format!(
                "`{name}` needs options: write `- {name}: {{...}}` (see the guide)"
            ))),
            other => Err(E::unknown_variant(other, ACTION_NAMES)),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StepSpec, A::Error> {
        let Some(name) = map.next_key::<String>()? else {
            return Err(de::Error::custom("an empty mapping is not an action"));
        };
        let step = match name.as_str() {
            "contact" => {
                StepSpec::Contact(map.next_value::<Option<ContactSpec>>()?.unwrap_or_default())
            }
            "deal" => StepSpec::Deal(map.next_value::<Option<DealSpec>>()?.unwrap_or_default()),
            "log_call" => {
                StepSpec::LogCall(map.next_value::<Option<CallSpec>>()?.unwrap_or_default())
            }
            "task" => StepSpec::Task(map.next_value()?),
            "note" => StepSpec::Note(map.next_value::<Option<NoteSpec>>()?.unwrap_or_default()),
            "change_owner" => StepSpec::ChangeOwner(map.next_value()?),
            "update_properties" => StepSpec::UpdateProperties(map.next_value()?),
            "script" => StepSpec::Script(map.next_value()?),
            other => return Err(de::Error::unknown_variant(other, ACTION_NAMES)),
        };
        if let Some(extra) = map.next_key::<String>()? {
            return Err(de::Error::custom(format!(
                "one action per list item: `{extra}` must start its own `- ` item"
            )));
        }
        Ok(step)
    }
}

/// A choice of owners: the first one available for the event is used.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OwnerChoice(Vec<Owner>);

impl OwnerChoice {
    fn parse(words: &[String]) -> Result<OwnerChoice, String> {
        if words.is_empty() {
            return Err("an owner list cannot be empty".to_string());
        }
        words
            .iter()
            .map(|w| parse_owner(w))
            .collect::<Result<_, _>>()
            .map(OwnerChoice)
    }

    pub(crate) fn uses_top_manager(&self) -> bool {
        self.0.contains(&Owner::TopManager)
    }

    /// The first owner the event can provide; the last one listed when none can.
    fn pick(&self, evaluation: &Evaluation<'_>, settings: &Settings) -> Owner {
        let facts = evaluation.situation.facts;
        let available = |owner: &&Owner| match owner {
            Owner::Employee => facts.employee == EmployeeFact::Known,
            Owner::Responsible => facts.responsible != ResponsibleFact::None,
            Owner::TopManager => settings.top_manager().is_some(),
            Owner::Explicit(_) => true,
        };
        self.0
            .iter()
            .find(available)
            .or(self.0.last())
            .cloned()
            .unwrap_or(Owner::TopManager)
    }
}

/// `employee`, `responsible`, `top_manager`, an email, or a numeric owner id.
pub(crate) fn parse_owner(word: &str) -> Result<Owner, String> {
    let word = word.trim();
    match word {
        "employee" => Ok(Owner::Employee),
        "responsible" => Ok(Owner::Responsible),
        "top_manager" => Ok(Owner::TopManager),
        _ => parse_owner_spec(word)
            .map(Owner::Explicit)
            .map_err(|message| {
                match super::diagnostic::did_you_mean(word, OWNER_WORDS.iter().copied()) {
                    Some(hint) => format!("{message} ({hint})"),
                    None => message,
                }
            }),
    }
}

/// An explicit owner: an email or a numeric CRM owner id.
pub(crate) fn parse_owner_spec(word: &str) -> Result<OwnerSpec, String> {
    let word = word.trim();
    let is_email = word.split_once('@').is_some_and(|(user, domain)| {
        !user.is_empty() && domain.contains('.') && !word.contains(char::is_whitespace)
    });
    if is_email || (!word.is_empty() && word.chars().all(|c| c.is_ascii_digit())) {
        Ok(OwnerSpec::parse(word))
    } else {
        Err(format!(
            "`{word}` is not an owner: expected employee, responsible, top_manager, an email or a numeric owner id"
        ))
    }
}

fn owner_word(owner: &Owner) -> String {
    match owner {
        Owner::Employee => "employee".to_string(),
        Owner::Responsible => "responsible".to_string(),
        Owner::TopManager => "top_manager".to_string(),
        Owner::Explicit(OwnerSpec::Email(email)) => email.clone(),
        Owner::Explicit(OwnerSpec::Id(id)) => id.clone(),
    }
}

/// A step ready to render: an action with parsed templates, or a script.
#[derive(Debug, Clone)]
pub(crate) enum StepTemplate {
    Action(ActionTemplate),
    Script(ScriptRef),
}

/// An action with its templates parsed; `None` fields take the settings' defaults.
#[derive(Debug, Clone)]
pub(crate) enum ActionTemplate {
    Contact {
        create: bool,
        name: Option<Template>,
        owner: Option<OwnerChoice>,
        properties: Vec<(String, Template)>,
    },
    Deal {
        create: bool,
        name: Option<Template>,
        pipeline: Option<Template>,
        stage: Option<Template>,
        owner: Option<OwnerChoice>,
        properties: Vec<(String, Template)>,
        utm: bool,
    },
    LogCall {
        title: Option<Template>,
        body: Option<Template>,
        recording: bool,
        owner: Option<OwnerChoice>,
        attach: Attach,
    },
    Task {
        owner: OwnerChoice,
        subject: Template,
        body: Option<Template>,
        due: Option<Duration>,
        priority: Option<Priority>,
        attach: Attach,
    },
    Note {
        body: Option<Template>,
        owner: Option<OwnerChoice>,
        attach: Attach,
    },
    ChangeOwner {
        target: Target,
        owner: OwnerChoice,
    },
    UpdateProperties {
        target: Target,
        properties: Vec<(String, Template)>,
    },
}

/// What went wrong compiling one field of an action.
#[derive(Debug, Clone)]
pub(crate) struct FieldError {
    pub(crate) path: YamlPath,
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
}

/// How text fields become templates: parsed (rules) or taken literally (script output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextMode {
    Template,
    Literal,
}

impl StepSpec {
    /// Compiles the step found at `path`; every problem is returned, not just the first.
    pub(crate) fn compile(
        &self,
        path: &YamlPath,
        mode: TextMode,
    ) -> Result<StepTemplate, Vec<FieldError>> {
        let mut errors = Vec::new();
        let step = {
            let mut c = Compiler {
                errors: &mut errors,
                mode,
            };
            c.step(self, path)
        };
        match step {
            Some(step) if errors.is_empty() => Ok(step),
            _ => Err(errors),
        }
    }
}

struct Compiler<'e> {
    errors: &'e mut Vec<FieldError>,
    mode: TextMode,
}

impl Compiler<'_> {
    fn step(&mut self, spec: &StepSpec, path: &YamlPath) -> Option<StepTemplate> {
        let action = match spec {
            StepSpec::Script(text) => {
                return match ScriptRef::parse(text) {
                    Ok(call) => Some(StepTemplate::Script(call)),
                    Err(message) => {
                        self.fail(path.key("script"), message, None);
                        None
                    }
                };
            }
            StepSpec::Contact(c) => {
                let at = path.key("contact");
                ActionTemplate::Contact {
                    create: c.create.unwrap_or(true),
                    name: self.text(&c.name, &at.key("name")),
                    owner: self.owner(&c.owner, &at.key("owner")),
                    properties: self.properties(&c.properties, &at.key("properties")),
                }
            }
            StepSpec::Deal(d) => {
                let at = path.key("deal");
                ActionTemplate::Deal {
                    create: d.create.unwrap_or(true),
                    name: self.text(&d.name, &at.key("name")),
                    pipeline: self.text(&d.pipeline, &at.key("pipeline")),
                    stage: self.text(&d.stage, &at.key("stage")),
                    owner: self.owner(&d.owner, &at.key("owner")),
                    properties: self.properties(&d.properties, &at.key("properties")),
                    utm: d.utm.unwrap_or(true),
                }
            }
            StepSpec::LogCall(c) => {
                let at = path.key("log_call");
                ActionTemplate::LogCall {
                    title: self.text(&c.title, &at.key("title")),
                    body: self.text(&c.body, &at.key("body")),
                    recording: c.recording.unwrap_or(true),
                    owner: self.owner(&c.owner, &at.key("owner")),
                    attach: attach(&c.attach),
                }
            }
            StepSpec::Task(t) => {
                let at = path.key("task");
                ActionTemplate::Task {
                    owner: self.owner(&Some(t.owner.clone()), &at.key("owner"))?,
                    subject: self.text(&Some(t.subject.clone()), &at.key("subject"))?,
                    body: self.text(&t.body, &at.key("body")),
                    due: t.due,
                    priority: t.priority,
                    attach: attach(&t.attach),
                }
            }
            StepSpec::Note(n) => {
                let at = path.key("note");
                ActionTemplate::Note {
                    body: self.text(&n.body, &at.key("body")),
                    owner: self.owner(&n.owner, &at.key("owner")),
                    attach: attach(&n.attach),
                }
            }
            StepSpec::ChangeOwner(c) => {
                let at = path.key("change_owner");
                ActionTemplate::ChangeOwner {
                    target: c.target,
                    owner: self.owner(&Some(c.owner.clone()), &at.key("owner"))?,
                }
            }
            StepSpec::UpdateProperties(u) => {
                let at = path.key("update_properties");
                if u.properties.is_empty() {
                    self.fail(
                        at.key("properties"),
                        "update_properties needs at least one property".to_string(),
                        None,
                    );
                }
                ActionTemplate::UpdateProperties {
                    target: u.target,
                    properties: self.properties(&u.properties, &at.key("properties")),
                }
            }
        };
        Some(StepTemplate::Action(action))
    }

    fn fail(&mut self, path: YamlPath, message: String, hint: Option<String>) {
        self.errors.push(FieldError {
            path,
            message,
            hint,
        });
    }

    fn text(&mut self, text: &Option<String>, path: &YamlPath) -> Option<Template> {
        let text = text.as_ref()?;
        match self.mode {
            TextMode::Literal => Some(Template::literal(text)),
            TextMode::Template => match Template::parse(text) {
                Ok(template) => Some(template),
                Err(TemplateError { message, hint }) => {
                    self.fail(path.clone(), message, hint);
                    None
                }
            },
        }
    }

    fn owner(&mut self, words: &Option<Vec<String>>, path: &YamlPath) -> Option<OwnerChoice> {
        let words = words.as_ref()?;
        match OwnerChoice::parse(words) {
            Ok(choice) => Some(choice),
            Err(message) => {
                self.fail(
                    path.clone(),
                    message,
                    Some("owners: employee, responsible, top_manager, boss@acme.ua, 6166860; a list tries each in turn".to_string()),
                );
                None
            }
        }
    }

    fn properties(
        &mut self,
        properties: &BTreeMap<String, String>,
        path: &YamlPath,
    ) -> Vec<(String, Template)> {
        properties
            .iter()
            .filter_map(|(name, text)| {
                let template = self.text(&Some(text.clone()), &path.key(name))?;
                Some((name.clone(), template))
            })
            .collect()
    }
}

fn attach(targets: &Option<Vec<Target>>) -> Attach {
    match targets {
        None => Attach::default(),
        Some(targets) => Attach {
            contact: targets.contains(&Target::Contact),
            deal: targets.contains(&Target::Deal),
        },
    }
}

impl ActionTemplate {
    /// Templates in this action (for load-time script checks).
    pub(crate) fn templates(&self) -> Vec<&Template> {
        fn props(p: &[(String, Template)]) -> Vec<&Template> {
            p.iter().map(|(_, t)| t).collect()
        }
        let mut out: Vec<&Template> = Vec::new();
        match self {
            ActionTemplate::Contact {
                name, properties, ..
            } => {
                out.extend(name);
                out.extend(props(properties));
            }
            ActionTemplate::Deal {
                name,
                pipeline,
                stage,
                properties,
                ..
            } => {
                out.extend(name);
                out.extend(pipeline);
                out.extend(stage);
                out.extend(props(properties));
            }
            ActionTemplate::LogCall { title, body, .. } => {
                out.extend(title);
                out.extend(body);
            }
            ActionTemplate::Task { subject, body, .. } => {
                out.push(subject);
                out.extend(body);
            }
            ActionTemplate::Note { body, .. } => out.extend(body),
            ActionTemplate::ChangeOwner { .. } => {}
            ActionTemplate::UpdateProperties { properties, .. } => out.extend(props(properties)),
        }
        out
    }

    /// Owner choices in this action (for the top-manager check).
    pub(crate) fn owners(&self) -> Vec<&OwnerChoice> {
        match self {
            ActionTemplate::Contact { owner, .. }
            | ActionTemplate::Deal { owner, .. }
            | ActionTemplate::LogCall { owner, .. }
            | ActionTemplate::Note { owner, .. } => owner.iter().collect(),
            ActionTemplate::Task { owner, .. } | ActionTemplate::ChangeOwner { owner, .. } => {
                vec![owner]
            }
            ActionTemplate::UpdateProperties { .. } => vec![],
        }
    }

    pub(crate) fn render(
        &self,
        settings: &Settings,
        ev: &mut Evaluation<'_>,
    ) -> Result<Action, EvalError> {
        let owner = |choice: &Option<OwnerChoice>, ev: &Evaluation<'_>| {
            choice.as_ref().map(|c| c.pick(ev, settings))
        };
        let or_default =
            |template: &Option<Template>, default: &Template, ev: &mut Evaluation<'_>| {
                template.as_ref().unwrap_or(default).render(ev)
            };
        Ok(match self {
            ActionTemplate::Contact {
                create,
                name,
                owner: o,
                properties,
            } => Action::Contact(ContactAction {
                create: *create,
                name: or_default(name, settings.contact_name(), ev)?,
                owner: owner(o, ev),
                properties: render_properties(properties, ev)?,
            }),
            ActionTemplate::Deal {
                create,
                name,
                pipeline,
                stage,
                owner: o,
                properties,
                utm,
            } => {
                let mut rendered = BTreeMap::new();
                if *utm {
                    for (name, property) in settings.utm_properties() {
                        if let Some(value) = ev.situation.value(name) {
                            let text = value.to_text();
                            if !text.trim().is_empty() {
                                rendered.insert(property.clone(), text.into_owned());
                            }
                        }
                    }
                }
                rendered.extend(render_properties(properties, ev)?);
                Action::Deal(DealAction {
                    create: *create,
                    name: or_default(name, settings.deal_name(), ev)?,
                    pipeline: or_default(pipeline, settings.pipeline_template(), ev)?,
                    stage: or_default(stage, settings.stage_template(), ev)?,
                    owner: owner(o, ev),
                    properties: rendered,
                })
            }
            ActionTemplate::LogCall {
                title,
                body,
                recording,
                owner: o,
                attach,
            } => Action::LogCall(CallLogAction {
                title: or_default(title, settings.call_title(), ev)?,
                body: or_default(body, settings.call_body(), ev)?,
                recording: *recording,
                owner: owner(o, ev),
                attach: *attach,
            }),
            ActionTemplate::Task {
                owner: o,
                subject,
                body,
                due,
                priority,
                attach,
            } => Action::Task(TaskAction {
                owner: o.pick(ev, settings),
                subject: subject.render(ev)?,
                body: or_default(body, settings.call_body(), ev)?,
                due_in: due.unwrap_or(settings.task_due()),
                priority: priority.unwrap_or(settings.task_priority()),
                attach: *attach,
            }),
            ActionTemplate::Note {
                body,
                owner: o,
                attach,
            } => Action::Note(NoteAction {
                body: or_default(body, settings.answered_by_other_note(), ev)?,
                owner: owner(o, ev),
                attach: *attach,
            }),
            ActionTemplate::ChangeOwner { target, owner: o } => {
                Action::ChangeOwner(ChangeOwnerAction {
                    target: *target,
                    owner: o.pick(ev, settings),
                })
            }
            ActionTemplate::UpdateProperties { target, properties } => {
                Action::UpdateProperties(UpdatePropertiesAction {
                    target: *target,
                    properties: render_properties(properties, ev)?,
                })
            }
        })
    }
}

/// Renders properties; a property whose value renders empty is left out, so
/// a missing field never blanks a CRM property.
fn render_properties(
    properties: &[(String, Template)],
    ev: &mut Evaluation<'_>,
) -> Result<BTreeMap<String, String>, EvalError> {
    let mut out = BTreeMap::new();
    for (name, template) in properties {
        let value = template.render(ev)?;
        if !value.trim().is_empty() {
            out.insert(name.clone(), value);
        }
    }
    Ok(out)
}

/// An action in rule syntax, as scripts receive it and rule tests compare it.
pub fn to_rule_json(action: &Action) -> Json {
    let owner = |o: &Option<Owner>| o.as_ref().map(owner_word);
    let attach = |a: &Attach| {
        let mut targets = Vec::new();
        if a.contact {
            targets.push("contact");
        }
        if a.deal {
            targets.push("deal");
        }
        targets
    };
    let target = |t: &Target| match t {
        Target::Contact => "contact",
        Target::Deal => "deal",
    };
    let mut body = match action {
        Action::Contact(c) => {
            json!({"create": c.create, "name": c.name, "owner": owner(&c.owner), "properties": c.properties})
        }
        Action::Deal(d) => json!({
            "create": d.create, "name": d.name, "pipeline": d.pipeline, "stage": d.stage,
            "owner": owner(&d.owner), "properties": d.properties, "utm": false,
        }),
        Action::LogCall(c) => json!({
            "title": c.title, "body": c.body, "recording": c.recording,
            "owner": owner(&c.owner), "attach": attach(&c.attach),
        }),
        Action::Task(t) => json!({
            "owner": owner_word(&t.owner), "subject": t.subject, "body": t.body,
            "due": humantime::format_duration(t.due_in).to_string(),
            "priority": match t.priority { Priority::Low => "low", Priority::Medium => "medium", Priority::High => "high" },
            "attach": attach(&t.attach),
        }),
        Action::Note(n) => {
            json!({"body": n.body, "owner": owner(&n.owner), "attach": attach(&n.attach)})
        }
        Action::ChangeOwner(c) => {
            json!({"target": target(&c.target), "owner": owner_word(&c.owner)})
        }
        Action::UpdateProperties(u) => {
            json!({"target": target(&u.target), "properties": u.properties})
        }
    };
    if let Json::Object(map) = &mut body {
        map.retain(|_, v| !v.is_null());
    }
    json!({ action.name(): body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_parse_words_emails_and_ids() {
        let cases = [
            ("employee", Some(Owner::Employee)),
            ("responsible", Some(Owner::Responsible)),
            ("top_manager", Some(Owner::TopManager)),
            (
                "Boss@Acme.UA",
                Some(Owner::Explicit(OwnerSpec::Email("boss@acme.ua".into()))),
            ),
            (
                "6166860",
                Some(Owner::Explicit(OwnerSpec::Id("6166860".into()))),
            ),
            ("top manager", None),
            ("boss@", None),
            ("someone", None),
            ("", None),
        ];
        for (word, expected) in cases {
            assert_eq!(parse_owner(word).ok(), expected, "{word:?}");
        }
    }

    #[test]
    fn steps_read_bare_names_and_option_maps() {
        let steps: Vec<StepSpec> = serde_yaml::from_str(
            "- log_call\n- deal: {pipeline: sales}\n- task: {owner: [responsible, top_manager], subject: Call back, due: 30m}\n- script: routing::adjust\n",
        )
        .expect("valid");
        assert!(matches!(steps[0], StepSpec::LogCall(_)));
        assert!(matches!(&steps[1], StepSpec::Deal(d) if d.pipeline.as_deref() == Some("sales")));
        assert!(
            matches!(&steps[2], StepSpec::Task(t) if t.owner.len() == 2 && t.due == Some(Duration::from_secs(1800)))
        );
        assert!(matches!(&steps[3], StepSpec::Script(s) if s == "routing::adjust"));
    }

    #[test]
    fn step_errors_say_what_is_wrong() {
        let cases = [
            ("- lgo_call\n", "unknown variant `lgo_call`"),
            ("- task\n", "`task` needs options"),
            ("- deal: {pipline: x}\n", "unknown field `pipline`"),
            ("- {deal: {}, log_call: {}}\n", "one action per list item"),
            ("- task: {owner: employee}\n", "missing field `subject`"),
            ("- task: {owner: employee, subject: x, due: soon}\n", "due"),
        ];
        for (text, expected) in cases {
            let error = serde_yaml::from_str::<Vec<StepSpec>>(text)
                .expect_err(text)
                .to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
