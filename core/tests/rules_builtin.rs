//! The shipped default rules: they load, pass their own tests, reproduce
//! DESIGN §1 row by row, and never fail on any event.

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use switchboard_core::facts::{ClientFact, EmployeeFact, Facts, ResponsibleFact};
use switchboard_core::rules::{
    BUILTIN_FILES, EventSpec, FactsSpec, RuleSet, RulesContext, check, init_rules, simulate,
};

fn rules_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rules")
}

#[test]
fn shipped_rules_pass_check_with_every_rule_test() {
    let report = check(&rules_dir(), &RulesContext::default());
    assert!(report.is_ok(), "{report}");
    assert!(
        report.tests.len() >= 20,
        "{} rule tests",
        report.tests.len()
    );
    let text = report.to_string();
    assert!(text.contains("OK: the rules load and"), "{text}");
}

#[test]
fn every_scenario_of_the_default_matrix_has_a_rule_test() {
    let rules = RuleSet::builtin(&RulesContext::default()).expect("built-in rules load");
    let mut tested = BTreeSet::new();
    for (path, text) in BUILTIN_FILES
        .iter()
        .filter(|(p, _)| p.starts_with("tests/") && p.ends_with(".yaml"))
    {
        let cases: Vec<serde_yaml::Value> = serde_yaml::from_str(text).expect(path);
        for case in cases {
            if let Some(name) = case["expect"]["scenario"].as_str() {
                tested.insert(name.to_string());
            }
        }
    }
    for name in rules.scenario_names() {
        assert!(tested.contains(name), "scenario {name} has no rule test");
    }
}

#[test]
fn the_embedded_rules_are_exactly_the_shipped_directory() {
    let mut on_disk = BTreeSet::new();
    let root = rules_dir();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path
                    .strip_prefix(&root)
                    .expect("inside")
                    .to_string_lossy()
                    .replace('\\', "/");
                on_disk.insert(relative);
            }
        }
    }
    let embedded: BTreeSet<String> = BUILTIN_FILES.iter().map(|(p, _)| p.to_string()).collect();
    assert_eq!(
        embedded, on_disk,
        "BUILTIN_FILES must list every file of rules/"
    );
    for (path, text) in BUILTIN_FILES {
        let disk = std::fs::read_to_string(root.join(path)).expect("readable");
        assert_eq!(&disk, text, "{path}");
    }
}

#[test]
fn builtin_and_directory_rules_are_the_same_version() {
    let ctx = RulesContext::default();
    let builtin = RuleSet::builtin(&ctx).expect("loads");
    let dir = RuleSet::load(&rules_dir(), &ctx).expect("loads");
    assert_eq!(builtin.version(), dir.version());
    assert_eq!(builtin.settings().pipeline(), "default");
    assert_eq!(builtin.settings().stage(), "appointmentscheduled");
    assert_eq!(
        builtin.settings().task_due(),
        std::time::Duration::from_secs(4 * 3600)
    );
    assert_eq!(
        builtin.settings().top_manager().map(|o| o.to_string()),
        Some("top.manager@example.com".to_string())
    );
}

#[test]
fn init_writes_rules_that_load_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("rules");
    let written = init_rules(&target).expect("writes");
    assert_eq!(written.len(), BUILTIN_FILES.len());
    let report = check(&target, &RulesContext::default());
    assert!(report.is_ok(), "{report}");
    let again = init_rules(&target).expect_err("refuses to overwrite");
    assert!(again.to_string().contains("already exist"), "{again}");
}

/// DESIGN §1, row by row: (situation, facts, expected scenario, action names).
#[test]
fn default_matrix_reproduces_the_seed_table() {
    let rules = RuleSet::builtin(&RulesContext::default()).expect("loads");
    let answered = |call_type: &str| EventSpec {
        call_type: Some(call_type.into()),
        disposition: Some("ANSWERED".into()),
        client_phone: Some("380671234567".into()),
        employee_sip: Some("acmecom_ivanenko".into()),
        ..EventSpec::default()
    };
    let missed = EventSpec {
        disposition: Some("NO ANSWER".into()),
        client_phone: Some("380671234567".into()),
        ..EventSpec::default()
    };
    let facts = |client, open_deal, employee, responsible| Facts {
        client,
        open_deal,
        employee,
        responsible,
        ..Facts::default()
    };
    use ClientFact::{Existing, New};
    use EmployeeFact::{Known, Unknown};
    let rows: Vec<(&str, EventSpec, Facts, &str, Vec<&str>)> = vec![
        (
            "1",
            answered("in"),
            facts(New, false, Known, ResponsibleFact::None),
            "incoming_answered_new_client",
            vec!["contact", "deal", "log_call"],
        ),
        (
            "2a",
            answered("in"),
            facts(Existing, true, Known, ResponsibleFact::Employee),
            "incoming_answered_by_responsible",
            vec!["contact", "deal", "log_call"],
        ),
        (
            "2b",
            answered("in"),
            facts(Existing, true, Known, ResponsibleFact::Other),
            "incoming_answered_by_other_manager",
            vec!["contact", "deal", "log_call", "note"],
        ),
        (
            "3",
            missed.clone(),
            facts(New, false, EmployeeFact::None, ResponsibleFact::None),
            "incoming_missed_new_client",
            vec!["contact", "deal", "log_call", "task"],
        ),
        (
            "4",
            missed.clone(),
            facts(Existing, true, EmployeeFact::None, ResponsibleFact::Other),
            "incoming_missed_existing_client",
            vec!["contact", "deal", "log_call", "task"],
        ),
        (
            "5",
            answered("out"),
            facts(Existing, true, Known, ResponsibleFact::Employee),
            "outgoing_answered_existing_client",
            vec!["contact", "deal", "log_call"],
        ),
        (
            "6 in",
            answered("in"),
            facts(New, false, Unknown, ResponsibleFact::None),
            "unknown_employee",
            vec!["task"],
        ),
        (
            "6 out",
            answered("out"),
            facts(Existing, true, Unknown, ResponsibleFact::Other),
            "unknown_employee",
            vec!["task"],
        ),
    ];
    let now = Utc
        .with_ymd_and_hms(2025, 1, 6, 10, 0, 0)
        .single()
        .expect("valid time");
    for (row, spec, facts, scenario, actions) in rows {
        let event = spec.into_event(rules.context()).expect("valid event");
        let plan = rules.evaluate(&event, &facts, now).expect("evaluates");
        assert_eq!(
            plan.scenario.as_deref(),
            Some(scenario),
            "row {row}: {:#?}",
            plan.trace
        );
        let names: Vec<&str> = plan.actions.iter().map(|a| a.name()).collect();
        assert_eq!(names, actions, "row {row}");
        assert_eq!(plan.rules_version, rules.version());
    }
}

/// Random events with random facts through the default matrix: every one
/// gets a plan (never an error or a panic), every plan names a scenario of
/// the matrix, and a plan without actions always says why.
#[test]
fn random_events_always_get_a_plan() {
    let seed: u64 = rand::rng().random();
    println!("seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let rules = RuleSet::builtin(&RulesContext::default()).expect("loads");
    let scenarios: BTreeSet<&str> = rules.scenario_names().into_iter().collect();
    let pick = |rng: &mut StdRng, options: &[&str]| -> Option<String> {
        let i = rng.random_range(0..=options.len());
        options.get(i).map(|s| s.to_string())
    };
    for _ in 0..2000 {
        let spec = EventSpec {
            event: pick(&mut rng, &["after_call", "pickup", "before_call"]),
            call_type: pick(
                &mut rng,
                &["in", "out", "callback", "transitin", "transitout"],
            ),
            disposition: pick(
                &mut rng,
                &[
                    "ANSWERED",
                    "NO ANSWER",
                    "BUSY",
                    "VOICEMAIL",
                    "PROPER",
                    "CLIENT NO ANSWER",
                    "FAILED",
                ],
            ),
            client_phone: pick(
                &mut rng,
                &[
                    "380671234567",
                    "067 123 45 67",
                    "anonymous",
                    "101",
                    "\"x\" <acmecom_x>",
                    "+48512345678",
                ],
            ),
            employee_sip: pick(&mut rng, &["acmecom_ivanenko", "acmecom_new"]),
            connected_with: pick(&mut rng, &["380671112233", "acmecom_ivanenko"]),
            talk_seconds: rng.random_bool(0.7).then(|| rng.random_range(0..4000)),
            wait_seconds: rng.random_bool(0.7).then(|| rng.random_range(0..120)),
            utm_source: pick(&mut rng, &["google", "(direct)", "facebook"]),
            call_time: pick(
                &mut rng,
                &[
                    "2025-09-30 14:05:12",
                    "2025-03-30 03:30:00",
                    "2025-12-31T23:59:59Z",
                ],
            ),
            ..EventSpec::default()
        };
        let event = spec.into_event(rules.context()).expect("valid event");
        let mut facts = FactsSpec::default();
        for (name, words) in [
            ("client", &["new", "existing", "none"][..]),
            ("employee", &["known", "unknown", "none"][..]),
            ("responsible", &["employee", "other", "none"][..]),
            ("open_deal", &["true", "false"][..]),
        ] {
            if let Some(word) = pick(&mut rng, words) {
                facts.assign(&format!("{name}={word}")).expect("valid fact");
            }
        }
        let now = Utc
            .timestamp_opt(rng.random_range(1_600_000_000..1_900_000_000), 0)
            .single()
            .expect("valid");
        let simulation = simulate(&rules, event, &facts, now).expect("default rules never fail");
        let plan = &simulation.plan;
        if let Some(name) = &plan.scenario {
            assert!(scenarios.contains(name.as_str()), "{name}");
        }
        if plan.actions.is_empty() {
            assert!(
                plan.skip_reason.is_some(),
                "a plan without actions says why: {plan:#?}"
            );
        }
        let json = serde_json::to_value(plan).expect("plans serialize");
        let back: switchboard_core::plan::Plan =
            serde_json::from_value(json).expect("and deserialize");
        assert_eq!(&back, plan);
    }
}

/// The commented functions of the shipped `examples.rhai` do what their
/// comments say once the matrix names them.
#[test]
fn the_shipped_example_script_works_as_documented() {
    let dir = tempfile::tempdir().expect("temp dir");
    let script = BUILTIN_FILES
        .iter()
        .find(|(p, _)| *p == "examples.rhai")
        .map(|(_, t)| *t)
        .expect("shipped");
    std::fs::write(dir.path().join("examples.rhai"), script).expect("write");
    std::fs::write(
        dir.path().join("matrix.yaml"),
        concat!(
            "settings: {top_manager: boss@acme.ua, decide: examples::decide}\n",
            "scenarios:\n",
            "  - name: short\n",
            "    when: {script: examples::is_short_call}\n",
            "    skip: short\n",
            "  - name: calls\n",
            "    then:\n",
            "      - deal: {pipeline: \"{examples::deal_pipeline|default}\"}\n",
            "      - task: {owner: top_manager, subject: check}\n",
            "      - script: examples::without_short_call_tasks\n",
        ),
    )
    .expect("write");
    let ctx = RulesContext::default();
    let rules = RuleSet::load(dir.path(), &ctx).unwrap_or_else(|d| panic!("{d}"));
    let now = Utc
        .with_ymd_and_hms(2025, 1, 6, 10, 0, 0)
        .single()
        .expect("valid");
    let run = |change: fn(&mut EventSpec)| {
        let mut spec = EventSpec::sample();
        change(&mut spec);
        let event = spec.into_event(&ctx).expect("valid");
        rules
            .evaluate(&event, &Facts::default(), now)
            .expect("evaluates")
    };
    let google = run(|_| {});
    assert_eq!(google.scenario.as_deref(), Some("calls"));
    assert!(
        matches!(&google.actions[0], switchboard_core::plan::Action::Deal(d) if d.pipeline == "google-ads")
    );
    assert_eq!(google.actions.len(), 2);
    let bing = run(|e| e.utm_source = Some("bing".into()));
    assert!(
        matches!(&bing.actions[0], switchboard_core::plan::Action::Deal(d) if d.pipeline == "default")
    );
    let short = run(|e| e.talk_seconds = Some(3));
    assert_eq!(short.scenario.as_deref(), Some("short"));
    let test_call = run(|e| {
        e.extra.insert("test_call".into(), "1".into());
    });
    assert_eq!(test_call.scenario.as_deref(), Some("test_call"));
}
