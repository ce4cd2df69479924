//! Every load-time diagnostic points at the file, line and column of the
//! problem, says what is wrong, and offers a hint.

use switchboard_core::rules::{Diagnostics, RuleSet, RulesContext};

/// Writes `files` into a fresh rules directory and loads it.
fn load(files: &[(&str, &str)]) -> Result<RuleSet, Diagnostics> {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, text) in files {
        let path = dir.path().join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, text).expect("write");
    }
    RuleSet::load(dir.path(), &RulesContext::default())
}

/// A matrix whose scenarios start on line 4.
fn matrix(scenarios: &str) -> String {
    format!("settings:\n  top_manager: boss@acme.ua\nscenarios:\n{scenarios}")
}

const OK_ROW: &str = "  - name: ok\n    then: [log_call]\n";

struct Case {
    what: &'static str,
    files: Vec<(&'static str, String)>,
    file: &'static str,
    line: usize,
    column: usize,
    message: &'static str,
}

fn case(
    what: &'static str,
    files: Vec<(&'static str, String)>,
    at: (&'static str, usize, usize),
    message: &'static str,
) -> Case {
    Case {
        what,
        files,
        file: at.0,
        line: at.1,
        column: at.2,
        message,
    }
}

fn m(scenarios: &str) -> Vec<(&'static str, String)> {
    vec![("matrix.yaml", matrix(scenarios))]
}

#[test]
fn every_diagnostic_points_at_its_place() {
    let cases = vec![
        case("yaml syntax", m("  - name: a\n    then: [log_call\n"), ("matrix.yaml", 6, 1), "did not find expected"),
        case("unknown top-level key", vec![("matrix.yaml", "settings: {}\nscenaros: []\n".into())], ("matrix.yaml", 2, 1), "unknown field `scenaros`"),
        case("unknown setting", vec![("matrix.yaml", "settings:\n  pipline: x\nscenarios: []\n".into())], ("matrix.yaml", 2, 3), "unknown field `pipline`"),
        case("bad duration", vec![("matrix.yaml", "settings:\n  task_due: four hours\nscenarios: []\n".into())], ("matrix.yaml", 2, 13), "task_due"),
        case("bad priority", vec![("matrix.yaml", "settings:\n  task_priority: urgent\nscenarios: []\n".into())], ("matrix.yaml", 2, 18), "unknown variant `urgent`"),
        case("unknown fact", m("  - name: a\n    when:\n      clinet: new\n    then: [log_call]\n"), ("matrix.yaml", 6, 7), "unknown fact or field `clinet`"),
        case("bad fact word", m("  - name: a\n    when:\n      client: maybe\n    then: [log_call]\n"), ("matrix.yaml", 6, 15), "`client` cannot be `maybe`"),
        case("bool fact given text", m("  - name: a\n    when:\n      answered: yes\n    then: [log_call]\n"), ("matrix.yaml", 6, 17), "`answered` cannot be `yes`"),
        case("unknown operator", m("  - name: a\n    when:\n      talk_seconds: {gtt: 30}\n    then: [log_call]\n"), ("matrix.yaml", 6, 22), "unknown operator `gtt`"),
        case("number compared as text", m("  - name: a\n    when:\n      utm_source: {gt: 3}\n    then: [log_call]\n"), ("matrix.yaml", 6, 20), "not a number"),
        case("bad regex", m("  - name: a\n    when:\n      utm_source: {regex: \"[a-\"}\n    then: [log_call]\n"), ("matrix.yaml", 6, 27), "bad regex"),
        case("bad time of day", m("  - name: a\n    when:\n      time_of_day: {from: 9am, to: \"18:00\"}\n    then: [log_call]\n"), ("matrix.yaml", 6, 27), "must be a time HH:MM"),
        case("bad weekday", m("  - name: a\n    when:\n      weekday: [mon, funday]\n    then: [log_call]\n"), ("matrix.yaml", 6, 22), "not a weekday"),
        case("unknown placeholder", m("  - name: a\n    then:\n      - deal: {name: \"Call {phnoe}\"}\n"), ("matrix.yaml", 6, 22), "unknown placeholder `{phnoe}`"),
        case("unknown placeholder in settings", vec![("matrix.yaml", format!("settings:\n  deal_name: \"Call from {{phone_nmuber}}\"\nscenarios:\n{OK_ROW}"))], ("matrix.yaml", 2, 14), "unknown placeholder"),
        case("unknown action", m("  - name: a\n    then:\n      - lgo_call\n"), ("matrix.yaml", 6, 9), "unknown variant `lgo_call`"),
        case("unknown action field", m("  - name: a\n    then:\n      - deal: {pipline: sales}\n"), ("matrix.yaml", 6, 16), "unknown field `pipline`"),
        case("bad owner", m("  - name: a\n    then:\n      - deal: {owner: boss}\n"), ("matrix.yaml", 6, 23), "`boss` is not an owner"),
        case("top manager not set", vec![("matrix.yaml", "scenarios:\n  - name: a\n    then:\n      - task: {owner: top_manager, subject: x}\n".into())], ("matrix.yaml", 4, 9), "settings.top_manager is not set"),
        case("shadowed by a catch-all", m("  - name: everything\n    then: [log_call]\n  - name: never\n    when: {client: new}\n    then: [log_call]\n"), ("matrix.yaml", 6, 5), "scenario `never` can never match"),
        case("shadowed by a narrower row", m("  - name: new\n    when: {client: new}\n    then: [log_call]\n  - name: new_answered\n    when: {client: new, answered: true}\n    then: [log_call]\n"), ("matrix.yaml", 7, 5), "`new` (line 4) matches every call"),
        case("duplicate name", m("  - name: a\n    when: {client: new}\n    then: [log_call]\n  - name: a\n    when: {client: none}\n    then: [log_call]\n"), ("matrix.yaml", 7, 11), "already defined on line 4"),
        case("then and skip", m("  - name: a\n    then: [log_call]\n    skip: why\n"), ("matrix.yaml", 6, 5), "both `then` and `skip`"),
        case("neither then nor skip", m("  - name: a\n    when: {client: new}\n"), ("matrix.yaml", 4, 5), "neither `then` nor `skip`"),
        case("missing script", m("  - name: a\n    when:\n      script: routing::is_paid\n    then: [log_call]\n"), ("matrix.yaml", 6, 15), "there is no script `routing.rhai`"),
        case(
            "missing script function",
            vec![("matrix.yaml", matrix("  - name: a\n    when:\n      script: routing::is_piad\n    then: [log_call]\n")), ("routing.rhai", "fn is_paid(event, facts) { true }\n".into())],
            ("matrix.yaml", 6, 15),
            "routing.rhai has no function `is_piad`",
        ),
        case(
            "script step arity",
            vec![("matrix.yaml", matrix("  - name: a\n    then:\n      - script: routing::adjust\n")), ("routing.rhai", "fn adjust(event, facts) { () }\n".into())],
            ("matrix.yaml", 6, 17),
            "takes 2 parameter(s)",
        ),
        case("rhai syntax", vec![("matrix.yaml", matrix(OK_ROW)), ("routing.rhai", "fn a(event, facts) {\n  let = 1;\n}\n".into())], ("routing.rhai", 2, 7), "Rhai syntax error"),
        case("utm property for a non-UTM field", vec![("matrix.yaml", format!("settings:\n  utm_properties:\n    utm_sorce: source\nscenarios:\n{OK_ROW}"))], ("matrix.yaml", 3, 5), "`utm_sorce` is not a UTM field"),
        case("employee owner", vec![("matrix.yaml", matrix(OK_ROW)), ("employees.yaml", "employees:\n  - owner: olena\n    sip: x\n".into())], ("employees.yaml", 2, 12), "not a CRM owner"),
        case(
            "employee identity listed twice",
            vec![("matrix.yaml", matrix(OK_ROW)), ("employees.yaml", "employees:\n  - owner: a@acme.ua\n    sip: x\n  - owner: b@acme.ua\n    sip: [y, x]\n".into())],
            ("employees.yaml", 5, 14),
            "already listed for a@acme.ua",
        ),
        case("employee number", vec![("matrix.yaml", matrix(OK_ROW)), ("employees.yaml", "employees:\n  - owner: a@acme.ua\n    numbers: [\"12\"]\n".into())], ("employees.yaml", 3, 15), "too few digits"),
        case("employees unknown key", vec![("matrix.yaml", matrix(OK_ROW)), ("employees.yaml", "employees:\n  - owner: a@acme.ua\n    sips: x\n".into())], ("employees.yaml", 3, 5), "unknown field `sips`"),
        case(
            "rule test fails",
            vec![("matrix.yaml", matrix(OK_ROW)), ("tests/t.yaml", "- name: first\n  event: {}\n  expect: {scenario: ok}\n- name: second\n  event: {}\n  expect: {scenario: other}\n".into())],
            ("tests/t.yaml", 4, 3),
            "rule test `second` failed: expected `other`, got `ok`",
        ),
        case(
            "rule test event field",
            vec![("matrix.yaml", matrix(OK_ROW)), ("tests/t.yaml", "- name: first\n  event: {talk_secs: 3}\n  expect: {scenario: ok}\n".into())],
            ("tests/t.yaml", 2, 10),
            "unknown field `talk_secs`",
        ),
        case(
            "rule test event file",
            vec![("matrix.yaml", matrix(OK_ROW)), ("tests/t.yaml", "- name: first\n  event: tests/events/missing.json\n  expect: {scenario: ok}\n".into())],
            ("tests/t.yaml", 2, 10),
            "cannot read",
        ),
        case(
            "rule test expects an unknown action",
            vec![("matrix.yaml", matrix(OK_ROW)), ("tests/t.yaml", "- name: first\n  event: {}\n  expect:\n    actions: [lgo_call]\n".into())],
            ("tests/t.yaml", 4, 15),
            "`lgo_call` is not an action",
        ),
        case("no matrix", vec![("employees.yaml", "employees: []\n".into())], ("matrix.yaml", 1, 1), "has no matrix.yaml"),
    ];
    let mut failures = Vec::new();
    for case in &cases {
        let files: Vec<(&str, &str)> = case.files.iter().map(|(p, t)| (*p, t.as_str())).collect();
        let diagnostics = match load(&files) {
            Ok(_) => {
                failures.push(format!("{}: loaded without error", case.what));
                continue;
            }
            Err(diagnostics) => diagnostics,
        };
        let found = diagnostics
            .iter()
            .find(|d| d.message.contains(case.message));
        match found {
            None => failures.push(format!(
                "{}: no diagnostic contains {:?}:\n{diagnostics}",
                case.what, case.message
            )),
            Some(d)
                if (d.file.as_str(), d.line, d.column) != (case.file, case.line, case.column) =>
            {
                failures.push(format!(
                    "{}: expected {}:{}:{}, got {d}",
                    case.what, case.file, case.line, case.column
                ))
            }
            Some(d) => {
                let shown = d.to_string();
                assert!(
                    shown.starts_with(&format!("{}:{}:{}: ", case.file, case.line, case.column)),
                    "{shown}"
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn loading_collects_every_problem_at_once() {
    let text = matrix(concat!(
        "  - name: a\n",
        "    when:\n",
        "      clinet: new\n",
        "      answered: maybe\n",
        "    then:\n",
        "      - deal: {name: \"{nope}\", owner: someone}\n",
        "  - name: b\n",
        "    when: {weekday: noday}\n",
        "    then: [log_call]\n",
    ));
    let diagnostics = load(&[("matrix.yaml", &text), ("broken.rhai", "fn (")]).expect_err("broken");
    let lines: Vec<(String, usize)> = diagnostics
        .iter()
        .map(|d| (d.file.clone(), d.line))
        .collect();
    assert_eq!(
        lines,
        vec![
            ("broken.rhai".to_string(), 1),
            ("matrix.yaml".to_string(), 6),
            ("matrix.yaml".to_string(), 7),
            ("matrix.yaml".to_string(), 9),
            ("matrix.yaml".to_string(), 9),
            ("matrix.yaml".to_string(), 11),
        ],
        "{diagnostics}"
    );
    assert!(
        diagnostics.iter().all(|d| d.hint.is_some()),
        "every one has a hint:\n{diagnostics}"
    );
}

#[test]
fn hints_suggest_the_closest_name() {
    let diagnostics = load(&[(
        "matrix.yaml",
        &matrix("  - name: a\n    when: {talk_second: 3, client: exsting}\n    then: [log_call]\n"),
    )])
    .expect_err("typos");
    let hints: Vec<&str> = diagnostics
        .iter()
        .filter_map(|d| d.hint.as_deref())
        .collect();
    assert!(hints.contains(&"did you mean `talk_seconds`?"), "{hints:?}");
    assert!(hints.contains(&"did you mean `existing`?"), "{hints:?}");
}

#[test]
fn garbage_never_panics() {
    let inputs = [
        "",
        "\u{0}",
        "[",
        "{{{{",
        "- - - -",
        "scenarios: 5",
        "scenarios: [[[]]]",
        "*alias",
        "a: &x [*x]",
        "scenarios:\n  - name: a\n    when: {client: [[new]]}\n    then: [log_call]\n",
        "scenarios:\n  - name: a\n    when: {42: new}\n    then: [log_call]\n",
        "scenarios:\n  - name: a\n    when: {time_of_day: \"09:00\"}\n    then: [{task: {owner: [], subject: x}}]\n",
        "scenarios:\n  - name: ''\n    then: [{deal: {name: \"}{\"}}]\n",
        &"[".repeat(10_000),
        &format!(
            "scenarios:\n  - name: a\n    then: [{{note: {{body: \"{}\"}}}}]\n",
            "{".repeat(5000)
        ),
    ];
    for input in inputs {
        let result = load(&[
            ("matrix.yaml", input),
            ("employees.yaml", input),
            ("tests/x.yaml", input),
        ]);
        let diagnostics = result.expect_err("garbage does not load");
        assert!(!diagnostics.is_empty());
    }
    let huge = "#".repeat(2 * 1024 * 1024);
    let diagnostics = load(&[("matrix.yaml", &huge)]).expect_err("too big");
    assert!(diagnostics.to_string().contains("at most"), "{diagnostics}");
}
