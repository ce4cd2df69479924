//! Rule evaluation and reload times.
//!
//! `cargo bench -p switchboard-core --bench rules`
//!
//! - `evaluate/default/*`: the shipped matrix, events that match an early,
//!   a middle and the last row (the last tries every row first); `*_e164_name`
//!   the same with contacts named `{phone}` instead of the formatted number.
//! - `evaluate/rhai_hook`: a small matrix whose first row asks a Rhai
//!   function, the event reaching it.
//! - `reload/default_rules`: read, compile, validate and run the rule tests
//!   of the shipped rules directory, as a hot swap does.

use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use switchboard_core::facts::{ClientFact, EmployeeFact, Facts, ResponsibleFact};
use switchboard_core::rules::{EventSpec, RuleSet, RulesContext};

fn rules_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rules")
}

fn evaluate(c: &mut Criterion) {
    let ctx = RulesContext::default();
    let rules = match RuleSet::load(&rules_dir(), &ctx) {
        Ok(rules) => rules,
        Err(diagnostics) => panic!("{diagnostics}"),
    };
    let now = Utc
        .with_ymd_and_hms(2025, 9, 30, 11, 0, 0)
        .single()
        .unwrap_or_default();
    let event = |spec: EventSpec| spec.into_event(&ctx).unwrap_or_else(|e| panic!("{e}"));
    let answered = event(EventSpec::sample());
    let outgoing_missed = event(EventSpec {
        call_type: Some("out".into()),
        disposition: Some("CLIENT NO ANSWER".into()),
        ..EventSpec::sample()
    });
    let known_new = Facts {
        client: ClientFact::New,
        employee: EmployeeFact::Known,
        ..Facts::default()
    };
    let unknown = Facts {
        employee: EmployeeFact::Unknown,
        ..known_new.clone()
    };
    let existing = Facts {
        client: ClientFact::Existing,
        open_deal: true,
        employee: EmployeeFact::Known,
        responsible: ResponsibleFact::Employee,
        ..Facts::default()
    };

    let mut group = c.benchmark_group("evaluate/default");
    group.bench_function("row_3_unknown_employee", |b| {
        b.iter(|| rules.evaluate(&answered, &unknown, now))
    });
    group.bench_function("row_5_answered_new_client", |b| {
        b.iter(|| rules.evaluate(&answered, &known_new, now))
    });
    group.bench_function("row_14_outgoing_not_answered", |b| {
        b.iter(|| rules.evaluate(&outgoing_missed, &existing, now))
    });

    // The same rules with contacts named by the E.164 number: shows what
    // formatting the number for `phone_international` costs (a phonenumber parse).
    let plain_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for entry in ["matrix.yaml", "employees.yaml", "examples.rhai"] {
        let text =
            std::fs::read_to_string(rules_dir().join(entry)).unwrap_or_else(|e| panic!("{e}"));
        let text = text.replace(
            "contact_name: \"{phone_international|phone}\"",
            "contact_name: \"{phone}\"",
        );
        std::fs::write(plain_dir.path().join(entry), text).unwrap_or_else(|e| panic!("{e}"));
    }
    let plain = match RuleSet::load(plain_dir.path(), &ctx) {
        Ok(rules) => rules,
        Err(diagnostics) => panic!("{diagnostics}"),
    };
    group.bench_function("row_5_answered_new_client_e164_name", |b| {
        b.iter(|| plain.evaluate(&answered, &known_new, now))
    });
    group.bench_function("row_14_outgoing_not_answered_e164_name", |b| {
        b.iter(|| plain.evaluate(&outgoing_missed, &existing, now))
    });
    group.finish();

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let write = |name: &str, text: &str| {
        std::fs::write(dir.path().join(name), text).unwrap_or_else(|e| panic!("{e}"))
    };
    write(
        "matrix.yaml",
        "scenarios:\n  - name: short\n    when: {answered: true, script: hooks::is_short}\n    skip: short call\n  - name: answered\n    when: {answered: true}\n    then: [contact, deal, log_call]\n",
    );
    write(
        "hooks.rhai",
        "fn is_short(event, facts) { event.talk_seconds != () && event.talk_seconds < 10 }\n",
    );
    let hooked = match RuleSet::load(dir.path(), &ctx) {
        Ok(rules) => rules,
        Err(diagnostics) => panic!("{diagnostics}"),
    };
    c.bench_function("evaluate/rhai_hook", |b| {
        b.iter(|| hooked.evaluate(&answered, &known_new, now))
    });
}

fn reload(c: &mut Criterion) {
    let ctx = RulesContext::default();
    let dir = rules_dir();
    c.bench_function("reload/default_rules", |b| {
        b.iter(|| RuleSet::load(&dir, &ctx).map(|rules| rules.version().len()))
    });
}

criterion_group!(benches, evaluate, reload);
criterion_main!(benches);
