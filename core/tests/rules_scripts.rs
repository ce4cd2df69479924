//! Rhai scripts in rules: conditions, template values, steps that change the
//! actions, a `decide` hook, and limits that stop runaway scripts.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use switchboard_core::event::CallEvent;
use switchboard_core::facts::{ClientFact, EmployeeFact, Facts, ResponsibleFact};
use switchboard_core::plan::{Action, Owner, Plan};
use switchboard_core::rules::{EvalError, EventSpec, RuleSet, RulesContext, ScriptError};

fn rules(matrix: &str, script: &str) -> RuleSet {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("matrix.yaml"), matrix).expect("write");
    std::fs::write(dir.path().join("s.rhai"), script).expect("write");
    match RuleSet::load(dir.path(), &RulesContext::default()) {
        Ok(rules) => rules,
        Err(diagnostics) => panic!("{diagnostics}"),
    }
}

fn event() -> CallEvent {
    EventSpec::sample()
        .into_event(&RulesContext::default())
        .expect("valid")
}

fn facts() -> Facts {
    Facts {
        client: ClientFact::Existing,
        open_deal: true,
        employee: EmployeeFact::Known,
        responsible: ResponsibleFact::Other,
        ..Facts::default()
    }
}

fn evaluate(rules: &RuleSet) -> Result<Plan, EvalError> {
    let now = Utc
        .with_ymd_and_hms(2025, 1, 6, 10, 0, 0)
        .single()
        .expect("valid");
    rules.evaluate(&event(), &facts(), now)
}

const SETTINGS: &str = "settings: {top_manager: boss@acme.ua}\n";

#[test]
fn condition_scripts_decide_and_are_traced() {
    let rules = rules(
        &format!(
            "{SETTINGS}scenarios:\n  - name: paid\n    when: {{script: s::is_paid}}\n    then: [log_call]\n  - name: other\n    skip: organic\n"
        ),
        "fn is_paid(event, facts) { event.utm_medium == \"cpc\" && facts.client == \"existing\" }\n",
    );
    let plan = evaluate(&rules).expect("evaluates");
    assert_eq!(plan.scenario.as_deref(), Some("paid"));
    assert_eq!(plan.trace[0].subject, "script s::is_paid");
    assert_eq!(plan.trace[0].outcome, "returned true");
}

#[test]
fn template_scripts_fill_values_and_fall_back_on_unit() {
    let rules = rules(
        &format!(
            "{SETTINGS}scenarios:\n  - name: d\n    then:\n      - deal: {{pipeline: \"{{s::pipeline|default}}\", name: \"{{s::name}} / {{s::nothing|none}}\"}}\n"
        ),
        concat!(
            "fn pipeline(event, facts) { if event.utm_source == \"google\" { \"google-ads\" } else { () } }\n",
            "fn name(event, facts) { `${phone_national(event.phone)} (${event.talk_seconds} s, ${event.hour}h)` }\n",
            "fn nothing(event, facts) { () }\n",
        ),
    );
    let plan = evaluate(&rules).expect("evaluates");
    match &plan.actions[..] {
        [Action::Deal(deal)] => {
            assert_eq!(deal.pipeline, "google-ads");
            assert_eq!(deal.name, "073 213 5997 (61 s, 14h) / none");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn step_scripts_keep_drop_add_replace_or_skip() {
    let script = concat!(
        "fn keep(event, facts, actions) { () }\n",
        "fn drop_calls(event, facts, actions) { actions.filter(|a| !a.contains(\"log_call\")) }\n",
        "fn add_task(event, facts, actions) {\n",
        "  actions.push(#{ task: #{ owner: \"responsible\", subject: \"Follow up \" + event.phone, due: \"1h\" } });\n",
        "  actions\n",
        "}\n",
        "fn retitle(event, facts, actions) {\n",
        "  for i in 0..actions.len() { if actions[i].contains(\"log_call\") { actions[i].log_call.title = \"{not a template}\"; } }\n",
        "  actions\n",
        "}\n",
        "fn skip_short(event, facts, actions) { if event.talk_seconds < 100 { \"short call\" } else { () } }\n",
    );
    let row = |step: &str| {
        format!(
            "{SETTINGS}scenarios:\n  - name: r\n    then:\n      - contact\n      - log_call\n      - script: s::{step}\n"
        )
    };
    let names = |plan: &Plan| plan.actions.iter().map(|a| a.name()).collect::<Vec<_>>();

    let plan = evaluate(&rules(&row("keep"), script)).expect("evaluates");
    assert_eq!(names(&plan), ["contact", "log_call"]);

    let plan = evaluate(&rules(&row("drop_calls"), script)).expect("evaluates");
    assert_eq!(names(&plan), ["contact"]);

    let plan = evaluate(&rules(&row("add_task"), script)).expect("evaluates");
    assert_eq!(names(&plan), ["contact", "log_call", "task"]);
    match &plan.actions[2] {
        Action::Task(task) => {
            assert_eq!(task.owner, Owner::Responsible);
            assert_eq!(task.subject, "Follow up +380732135997");
            assert_eq!(task.due_in, Duration::from_secs(3600));
        }
        other => panic!("{other:?}"),
    }
    // What scripts return is taken literally, never as a template.
    let plan = evaluate(&rules(&row("retitle"), script)).expect("evaluates");
    assert!(
        matches!(&plan.actions[1], Action::LogCall(c) if c.title == "{not a template}"),
        "{plan:?}"
    );

    let plan = evaluate(&rules(&row("skip_short"), script)).expect("evaluates");
    assert!(plan.actions.is_empty());
    assert_eq!(plan.skip_reason.as_deref(), Some("short call"));
    assert_eq!(plan.scenario.as_deref(), Some("r"));
}

#[test]
fn decide_settles_the_plan_or_leaves_it_to_the_matrix() {
    let matrix = "settings: {top_manager: boss@acme.ua, decide: s::decide}\nscenarios:\n  - name: matrix_row\n    then: [log_call]\n";
    let script = concat!(
        "fn decide(event, facts) {\n",
        "  if event.extra.userfield == \"380732135997\" {\n",
        "    #{ scenario: \"vip\", actions: [#{ task: #{ owner: \"top_manager\", subject: \"VIP called\" } }, \"log_call\"] }\n",
        "  } else { () }\n",
        "}\n",
    );
    let plan = evaluate(&rules(matrix, script)).expect("evaluates");
    assert_eq!(plan.scenario.as_deref(), Some("vip"));
    assert_eq!(
        plan.actions.iter().map(|a| a.name()).collect::<Vec<_>>(),
        ["task", "log_call"]
    );
    assert!(
        !plan.trace.iter().any(|t| t.subject == "matrix_row"),
        "the matrix was not consulted"
    );

    let skipping =
        "fn decide(event, facts) { #{ scenario: \"test_call\", skip: \"a test call\" } }\n";
    let plan = evaluate(&rules(matrix, skipping)).expect("evaluates");
    assert_eq!(
        (plan.scenario.as_deref(), plan.skip_reason.as_deref()),
        (Some("test_call"), Some("a test call"))
    );

    let deferring = "fn decide(event, facts) { () }\n";
    let plan = evaluate(&rules(matrix, deferring)).expect("evaluates");
    assert_eq!(plan.scenario.as_deref(), Some("matrix_row"));

    let wrong = "fn decide(event, facts) { 42 }\n";
    match evaluate(&rules(matrix, wrong)) {
        Err(EvalError::ScriptReturn {
            call,
            returned,
            expected,
        }) => {
            assert_eq!(call, "s::decide");
            assert_eq!(returned, "42");
            assert!(expected.contains("#{scenario"), "{expected}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn scripts_get_copies_of_the_event_and_facts() {
    let rules = rules(
        &format!(
            "{SETTINGS}scenarios:\n  - name: r\n    when:\n      script: s::vandal\n      client: existing\n    then: [{{note: {{body: \"{{utm_source}} {{s::look}}\"}}}}]\n"
        ),
        concat!(
            "fn vandal(event, facts) { event.utm_source = \"x\"; facts.client = \"new\"; true }\n",
            "fn look(event, facts) { event.utm_source + \"/\" + facts.client }\n",
        ),
    );
    let plan = evaluate(&rules).expect("evaluates");
    assert!(
        matches!(&plan.actions[..], [Action::Note(n)] if n.body == "google google/existing"),
        "{plan:?}"
    );
}

fn script_error(result: Result<Plan, EvalError>) -> ScriptError {
    match result {
        Err(EvalError::Script(error)) => error,
        other => panic!("expected a script error, got {other:?}"),
    }
}

#[test]
fn a_runaway_loop_is_stopped_and_the_next_event_is_fine() {
    let rules = rules(
        &format!(
            "{SETTINGS}scenarios:\n  - name: spin\n    when: {{utm_source: google, script: s::spin}}\n    then: [log_call]\n  - name: calm\n    skip: calm\n"
        ),
        "fn spin(event, facts) {\n  let n = 0;\n  while true {\n    n += 1;\n  }\n  true\n}\n",
    );
    let started = Instant::now();
    let error = script_error(evaluate(&rules));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "stopped in {:?}",
        started.elapsed()
    );
    assert_eq!(
        (error.file.as_str(), error.function.as_str()),
        ("s.rhai", "spin")
    );
    assert!(matches!(error.line, Some(3..=4)), "{error}");
    assert!(error.to_string().starts_with("s.rhai:"), "{error}");
    assert!(error.message.contains("runaway loop"), "{error}");

    // The same rule set keeps working for events that do not reach the script.
    let mut organic = EventSpec::sample();
    organic.utm_source = Some("bing".into());
    let organic = organic.into_event(&RulesContext::default()).expect("valid");
    let now = Utc
        .with_ymd_and_hms(2025, 1, 6, 10, 0, 0)
        .single()
        .expect("valid");
    let plan = rules.evaluate(&organic, &facts(), now).expect("evaluates");
    assert_eq!(plan.scenario.as_deref(), Some("calm"));
}

#[test]
fn deep_recursion_is_stopped_with_the_function_and_line() {
    let rules = rules(
        &format!(
            "{SETTINGS}scenarios:\n  - name: r\n    then:\n      - note: {{body: \"{{s::start}}\"}}\n"
        ),
        "fn start(event, facts) {\n  down(0)\n}\n\nfn down(n) {\n  down(n + 1) + 1\n}\n",
    );
    let error = script_error(evaluate(&rules));
    assert_eq!(error.function, "down");
    assert_eq!(error.line, Some(6), "{error}");
    assert!(error.message.contains("runaway recursion"), "{error}");
}

#[test]
fn script_failures_name_script_function_and_line() {
    let rules = rules(
        &format!(
            "{SETTINGS}scenarios:\n  - name: r\n    then:\n      - log_call\n      - script: s::step\n"
        ),
        "fn step(event, facts, actions) {\n  helper(event)\n}\n\nfn helper(event) {\n  let x = event.talk_seconds;\n  throw \"no way: \" + x;\n}\n",
    );
    let error = script_error(evaluate(&rules));
    assert_eq!(
        (error.function.as_str(), error.line),
        ("helper", Some(7)),
        "{error}"
    );
    assert!(error.message.contains("no way: 61"), "{error}");
}

#[test]
fn wrong_return_types_are_typed_errors() {
    let cases = [
        (
            "    when: {script: s::f}\n    then: [log_call]\n",
            "fn f(event, facts) { \"yes\" }",
            "true or false",
        ),
        (
            "    then: [{note: {body: \"{s::f}\"}}]\n",
            "fn f(event, facts) { [1, 2] }",
            "text, a number",
        ),
        (
            "    then: [{script: s::g}]\n",
            "fn g(event, facts, actions) { 5 }",
            "a list of actions",
        ),
        (
            "    then: [{script: s::g}]\n",
            "fn g(event, facts, actions) { [#{ task: #{ subject: \"x\" } }] }",
            "missing field `owner`",
        ),
        (
            "    then: [{script: s::g}]\n",
            "fn g(event, facts, actions) { [#{ deal: #{ owner: \"nobody\" } }] }",
            "`nobody` is not an owner",
        ),
    ];
    for (row, script, expected) in cases {
        let rules = rules(&format!("{SETTINGS}scenarios:\n  - name: r\n{row}"), script);
        match evaluate(&rules) {
            Err(EvalError::ScriptReturn { expected: why, .. }) => {
                assert!(why.contains(expected), "{script}: {why}")
            }
            other => panic!("{script}: {other:?}"),
        }
    }
}
