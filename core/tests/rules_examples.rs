//! The examples in the repository work: the custom rule set passes `check`,
//! and every example event simulates under the default rules.

use std::path::PathBuf;

use chrono::Utc;
use switchboard_core::rules::{FactsSpec, RuleSet, RulesContext, check, read_event, simulate};

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

#[test]
fn the_example_rule_set_passes_check() {
    let report = check(&examples().join("rules"), &RulesContext::default());
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.tests.len(), 10);
}

#[test]
fn every_example_event_simulates_with_the_default_rules() {
    let ctx = RulesContext::default();
    let rules = RuleSet::builtin(&ctx).expect("loads");
    let expected = [
        ("answered_new_client.json", "incoming_answered_new_client"),
        ("missed_call.json", "incoming_missed_new_client"),
        ("outgoing_no_answer.json", "outgoing_not_answered"),
        ("hidden_number.json", "no_client_number"),
        ("pickup.json", "pickup_by_known_employee"),
    ];
    // The default employees.yaml maps nobody: say that the employees are known.
    let mut facts = FactsSpec::default();
    facts.assign("employee=known").expect("fact");
    for (file, scenario) in expected {
        let text = std::fs::read_to_string(examples().join("events").join(file)).expect("readable");
        let event = read_event(&text, &ctx).expect(file);
        let facts = if event.employee.is_empty() {
            FactsSpec::default()
        } else {
            facts.clone()
        };
        let simulation = simulate(&rules, event, &facts, Utc::now()).expect("evaluates");
        assert_eq!(
            simulation.plan.scenario.as_deref(),
            Some(scenario),
            "{file}"
        );
        let shown = simulation.to_string();
        assert!(shown.contains(&format!("scenario: {scenario}")), "{shown}");
        assert!(shown.contains("trace:"), "{shown}");
        let json = simulation.to_json();
        assert_eq!(json["scenario"], scenario);
        assert_eq!(json["rules_version"], rules.version());
    }
}

#[test]
fn simulate_prints_the_trace_and_the_actions_in_rule_syntax() {
    let ctx = RulesContext::default();
    let rules = RuleSet::builtin(&ctx).expect("loads");
    let text = std::fs::read_to_string(examples().join("events/answered_new_client.json"))
        .expect("readable");
    let event = read_event(&text, &ctx).expect("event");
    let mut facts = FactsSpec::default();
    facts.assign("client=existing").expect("fact");
    facts.assign("open_deal=true").expect("fact");
    facts.assign("employee=known").expect("fact");
    facts.assign("responsible=other").expect("fact");
    let simulation = simulate(&rules, event, &facts, Utc::now()).expect("evaluates");
    let shown = simulation.to_string();
    for line in [
        "facts:  client=existing open_deal=true employee=known responsible=other",
        "no match: event is after_call, not pickup",
        "incoming_answered_by_other_manager  matched",
        "scenario: incoming_answered_by_other_manager",
        "4. note:",
    ] {
        assert!(shown.contains(line), "missing {line:?} in\n{shown}");
    }
}

#[test]
fn read_event_accepts_stored_events_and_explains_bad_ones() {
    let ctx = RulesContext::default();
    let event = read_event("{\"client_phone\": \"0671234567\"}", &ctx).expect("flat");
    let stored = serde_json::to_string(&event).expect("serializes");
    assert_eq!(read_event(&stored, &ctx).expect("stored form"), event);
    let error = read_event("{\"talk_secs\": 3}", &ctx).expect_err("unknown field");
    assert!(
        error.to_string().contains("unknown field `talk_secs`"),
        "{error}"
    );
    assert!(read_event("{", &ctx).is_err());
}
