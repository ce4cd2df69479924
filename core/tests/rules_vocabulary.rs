//! Table-driven checks of the rule vocabulary: every fact, operator,
//! template placeholder and action, evaluated for real.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use switchboard_core::event::CallEvent;
use switchboard_core::facts::{ClientFact, EmployeeFact, Facts, ResponsibleFact};
use switchboard_core::plan::{
    Action, Attach, CallLogAction, ChangeOwnerAction, ContactAction, DealAction, NoteAction, Owner,
    OwnerSpec, Plan, Priority, Target, TaskAction, UpdatePropertiesAction,
};
use switchboard_core::rules::{EventSpec, RuleSet, RulesContext};

fn rules(matrix: &str, scripts: &[(&str, &str)]) -> RuleSet {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("matrix.yaml"), matrix).expect("write");
    for (name, text) in scripts {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    match RuleSet::load(dir.path(), &RulesContext::default()) {
        Ok(rules) => rules,
        Err(diagnostics) => panic!("{matrix}\n{diagnostics}"),
    }
}

/// The sample event: an answered incoming call, Tuesday 2025-09-30 14:05 in Kyiv.
fn sample() -> EventSpec {
    EventSpec::sample()
}

fn event(spec: EventSpec) -> CallEvent {
    spec.into_event(&RulesContext::default())
        .expect("valid event")
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("valid")
        .with_timezone(&Utc)
}

fn known_existing() -> Facts {
    Facts {
        client: ClientFact::Existing,
        open_deal: true,
        employee: EmployeeFact::Known,
        responsible: ResponsibleFact::Other,
        ..Facts::default()
    }
}

fn plan(rules: &RuleSet, event: &CallEvent, facts: &Facts) -> Plan {
    let now = Utc
        .with_ymd_and_hms(2025, 1, 6, 10, 0, 0)
        .single()
        .expect("valid");
    rules.evaluate(event, facts, now).expect("evaluates")
}

#[test]
fn every_fact_and_operator_decides_as_written() {
    // (condition, change to the sample event, facts, matches?)
    type Change = fn(&mut EventSpec);
    let same: Change = |_| {};
    let f = known_existing;
    let cases: Vec<(&str, Change, Facts, bool)> = vec![
        ("event: after_call", same, f(), true),
        ("event: pickup", same, f(), false),
        (
            "event: pickup",
            |e| e.event = Some("pickup".into()),
            f(),
            true,
        ),
        ("direction: incoming", same, f(), true),
        (
            "direction: outgoing",
            |e| e.call_type = Some("transitout".into()),
            f(),
            true,
        ),
        (
            "callback: true",
            |e| e.call_type = Some("callback".into()),
            f(),
            true,
        ),
        ("callback: true", same, f(), false),
        (
            "transit: true",
            |e| e.call_type = Some("transitin".into()),
            f(),
            true,
        ),
        ("transit: false", same, f(), true),
        ("answered: true", same, f(), true),
        (
            "answered: false",
            |e| e.disposition = Some("NO ANSWER".into()),
            f(),
            true,
        ),
        ("client: existing", same, f(), true),
        ("client: new", same, f(), false),
        (
            "client: none",
            same,
            Facts {
                client: ClientFact::None,
                ..f()
            },
            true,
        ),
        ("open_deal: true", same, f(), true),
        (
            "open_deal: false",
            same,
            Facts {
                open_deal: false,
                ..f()
            },
            true,
        ),
        ("employee: known", same, f(), true),
        (
            "employee: unknown",
            same,
            Facts {
                employee: EmployeeFact::Unknown,
                ..f()
            },
            true,
        ),
        (
            "employee: none",
            same,
            Facts {
                employee: EmployeeFact::None,
                ..f()
            },
            true,
        ),
        (
            "employee: none",
            same,
            Facts {
                employee: EmployeeFact::Unknown,
                ..f()
            },
            false,
        ),
        ("responsible: other", same, f(), true),
        (
            "responsible: employee",
            same,
            Facts {
                responsible: ResponsibleFact::Employee,
                ..f()
            },
            true,
        ),
        ("responsible: none", same, f(), false),
        // Canonical event fields.
        ("call_id: ua9_-1790775458.2139025", same, f(), true),
        ("call_type: in", same, f(), true),
        ("disposition: answered", same, f(), true),
        (
            "disposition: no answer",
            |e| e.disposition = Some("no_answer".into()),
            f(),
            true,
        ),
        ("client_phone: \"+380732135997\"", same, f(), true),
        ("client_phone_raw: \"380732135997\"", same, f(), true),
        ("tracking_number: \"380736506881\"", same, f(), true),
        ("employee_sip: ACMECOM_IVANENKO", same, f(), true),
        ("employee_phone: \"+380671112233\"", same, f(), true),
        ("employee_id: 111111", same, f(), true),
        ("employee_name: іваненко олена", same, f(), true),
        ("employee_email: olena@acme.ua", same, f(), true),
        ("employee_extension: 101", same, f(), true),
        ("department: sales", same, f(), true),
        ("connected_with: acmecom_ivanenko", same, f(), true),
        ("talk_seconds: 61", same, f(), true),
        ("total_seconds: 74", same, f(), true),
        ("wait_seconds: 13", same, f(), true),
        ("call_time: {regex: \"^2025-09-30T14:05\"}", same, f(), true),
        ("recording_url: {regex: \"\\\\.wav\"}", same, f(), true),
        ("call_card_url: {exists: true}", same, f(), true),
        ("utm_source: google", same, f(), true),
        ("utm_medium: cpc", same, f(), true),
        ("utm_campaign: brand", same, f(), true),
        ("utm_term: crm", same, f(), true),
        ("utm_content: ad1", same, f(), true),
        ("pool_name: google ads", same, f(), true),
        ("landing: {regex: pricing}", same, f(), true),
        ("referrer: {regex: google}", same, f(), true),
        ("ga_client_id: \"1169999034.1555555510\"", same, f(), true),
        ("remote_ip: 10.10.10.10", same, f(), true),
        ("substitution_type: dynamic", same, f(), true),
        ("scheme_name: main", same, f(), true),
        ("proper: true", same, f(), true),
        ("repeated: false", same, f(), true),
        ("extra.userfield: \"380732135997\"", same, f(), true),
        ("phone: \"+380732135997\"", same, f(), true),
        // Operators.
        ("utm_source: {equals: Google}", same, f(), true),
        ("utm_source: {not: google}", same, f(), false),
        (
            "utm_source: {not: google}",
            |e| e.utm_source = None,
            f(),
            true,
        ),
        ("utm_source: [facebook, google]", same, f(), true),
        ("utm_source: {one_of: [facebook, bing]}", same, f(), false),
        (
            "utm_source: {not_one_of: [facebook, bing]}",
            same,
            f(),
            true,
        ),
        ("utm_source: {regex: \"^goo\"}", same, f(), true),
        ("utm_source: {regex: \"^oo\"}", same, f(), false),
        (
            "utm_source: {regex: \"^goo\"}",
            |e| e.utm_source = None,
            f(),
            false,
        ),
        ("talk_seconds: {gt: 60}", same, f(), true),
        ("talk_seconds: {gt: 61}", same, f(), false),
        ("talk_seconds: {gte: 61}", same, f(), true),
        ("talk_seconds: {lt: 61}", same, f(), false),
        ("talk_seconds: {lte: 61}", same, f(), true),
        ("talk_seconds: {gt: 30, lt: 120}", same, f(), true),
        (
            "talk_seconds: {gt: 30}",
            |e| e.talk_seconds = None,
            f(),
            false,
        ),
        ("talk_seconds: [0, 61]", same, f(), true),
        ("utm_term: {exists: true}", same, f(), true),
        (
            "utm_term: {exists: false}",
            |e| e.utm_term = None,
            f(),
            true,
        ),
        ("utm_term: null", |e| e.utm_term = None, f(), true),
        ("utm_term: null", same, f(), false),
        (
            "extra.score: {gte: 5}",
            |e| {
                e.extra.insert("score".into(), "7".into());
            },
            f(),
            true,
        ),
        (
            "extra.score: {gte: 5}",
            |e| {
                e.extra.insert("score".into(), "high".into());
            },
            f(),
            false,
        ),
        ("client: [new, existing]", same, f(), true),
        ("client: {not: new}", same, f(), true),
        // Time of day and weekday of the call, in Europe/Kyiv (the sample is Tuesday 14:05).
        (
            "time_of_day: {from: \"09:00\", to: \"18:00\"}",
            same,
            f(),
            true,
        ),
        (
            "time_of_day: {from: \"14:06\", to: \"18:00\"}",
            same,
            f(),
            false,
        ),
        (
            "time_of_day: {from: \"14:05\", to: \"14:06\"}",
            same,
            f(),
            true,
        ),
        (
            "time_of_day: {from: \"20:00\", to: \"08:00\"}",
            same,
            f(),
            false,
        ),
        (
            "time_of_day: {from: \"20:00\", to: \"08:00\"}",
            |e| e.call_time = Some("2025-09-30T23:30:00+03:00".into()),
            f(),
            true,
        ),
        (
            "time_of_day: {from: \"20:00\", to: \"08:00\"}",
            |e| e.call_time = Some("2025-09-30T21:30:00Z".into()),
            f(),
            true,
        ),
        ("weekday: tue", same, f(), true),
        ("weekday: [sat, sun]", same, f(), false),
        ("weekday: {from: mon, to: fri}", same, f(), true),
        ("weekday: {from: fri, to: mon}", same, f(), false),
        (
            "weekday: {from: fri, to: mon}",
            |e| e.call_time = Some("2025-10-05 10:00:00".into()),
            f(),
            true,
        ),
        ("weekday: {not: tuesday}", same, f(), false),
        ("weekday: {not_one_of: [sat, sun]}", same, f(), true),
    ];
    let mut failures = Vec::new();
    for (condition, change, facts, expected) in cases {
        let matrix = format!(
            "scenarios:\n  - name: hit\n    when:\n      {condition}\n    then: [log_call]\n  - name: miss\n    skip: no\n"
        );
        let rules = rules(&matrix, &[]);
        let mut spec = sample();
        change(&mut spec);
        let plan = plan(&rules, &event(spec), &facts);
        let hit = plan.scenario.as_deref() == Some("hit");
        if hit != expected {
            failures.push(format!(
                "{condition}: expected {expected}, trace {:?}",
                plan.trace
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_placeholder_renders_its_value() {
    let cases = [
        ("{phone}", "+380732135997"),
        ("{phone_national}", "073 213 5997"),
        ("{phone_international}", "+380 73 213 5997"),
        ("{phone_digits}", "380732135997"),
        ("{client_phone_raw}", "380732135997"),
        ("{talk_seconds} s", "61 s"),
        ("{answered}/{proper}/{repeated}", "true/true/false"),
        ("{direction} {call_type} {event}", "incoming in after_call"),
        ("{employee_name}", "Іваненко Олена"),
        (
            "{utm_source}/{utm_medium}/{utm_campaign}",
            "google/cpc/brand",
        ),
        ("{utm_term|none}", "crm"),
        ("{extra.userfield}", "380732135997"),
        ("{extra.missing|n/a}", "n/a"),
        ("{time_of_day} {weekday} {date}", "14:05 tue 2025-09-30"),
        ("{datetime}", "2025-09-30 14:05"),
        (
            "{client} {open_deal} {employee} {responsible}",
            "existing true known other",
        ),
        ("{{literal}} {{ {phone} }}", "{literal} { +380732135997 }"),
        ("{ phone }", "+380732135997"),
        ("{disposition|no status}", "ANSWERED"),
        ("no placeholders", "no placeholders"),
    ];
    for (template, expected) in cases {
        let matrix = format!(
            "scenarios:\n  - name: note\n    then:\n      - note: {{body: {template:?}}}\n"
        );
        let rules = rules(&matrix, &[]);
        let plan = plan(&rules, &event(sample()), &known_existing());
        match plan.actions.as_slice() {
            [Action::Note(note)] => assert_eq!(note.body, expected, "{template}"),
            other => panic!("{template}: {other:?}"),
        }
    }
    let mut empty = sample();
    empty.utm_source = None;
    empty.client_phone = None;
    let rules = rules(
        "scenarios:\n  - name: note\n    then: [{note: {body: \"[{utm_source}] [{phone|hidden}]\"}}]\n",
        &[],
    );
    let plan = plan(&rules, &event(empty), &known_existing());
    assert!(
        matches!(&plan.actions[..], [Action::Note(n)] if n.body == "[] [hidden]"),
        "{plan:?}"
    );
}

#[test]
fn every_action_renders_with_defaults_and_options() {
    let settings = "settings:\n  top_manager: boss@acme.ua\n  utm_properties: {utm_source: hs_source, utm_campaign: hs_campaign}\n";
    let props = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let top = Owner::Explicit(OwnerSpec::Email("x@acme.ua".into()));
    let cases: Vec<(&str, Facts, Action)> = vec![
        (
            "contact",
            known_existing(),
            Action::Contact(ContactAction {
                create: true,
                name: "+380 73 213 5997".into(),
                owner: None,
                properties: BTreeMap::new(),
            }),
        ),
        (
            "contact: {create: false, name: \"Client {phone_national}\", owner: employee, properties: {source: \"{utm_source}\", term: \"{extra.none}\"}}",
            known_existing(),
            Action::Contact(ContactAction {
                create: false,
                name: "Client 073 213 5997".into(),
                owner: Some(Owner::Employee),
                properties: props(&[("source", "google")]),
            }),
        ),
        (
            "deal",
            known_existing(),
            Action::Deal(DealAction {
                create: true,
                name: "Call from +380732135997".into(),
                pipeline: "default".into(),
                stage: "appointmentscheduled".into(),
                owner: None,
                properties: props(&[("hs_campaign", "brand"), ("hs_source", "google")]),
            }),
        ),
        (
            "deal: {create: false, utm: false, name: \"{pool_name}\", pipeline: sales, stage: \"{utm_medium}\", owner: [responsible, top_manager], properties: {amount: 0}}",
            Facts {
                responsible: ResponsibleFact::None,
                ..known_existing()
            },
            Action::Deal(DealAction {
                create: false,
                name: "Google Ads".into(),
                pipeline: "sales".into(),
                stage: "cpc".into(),
                owner: Some(Owner::TopManager),
                properties: props(&[("amount", "0")]),
            }),
        ),
        (
            "log_call: {title: \"{direction} call\", body: \"{talk_seconds} s\", recording: false, owner: [employee, x@acme.ua], attach: [contact]}",
            Facts {
                employee: EmployeeFact::Unknown,
                ..known_existing()
            },
            Action::LogCall(CallLogAction {
                title: "incoming call".into(),
                body: "61 s".into(),
                recording: false,
                owner: Some(top.clone()),
                attach: Attach {
                    contact: true,
                    deal: false,
                },
            }),
        ),
        (
            "task: {owner: 6166860, subject: \"Call {phone} back\", body: b, due: 30m, priority: low, attach: []}",
            known_existing(),
            Action::Task(TaskAction {
                owner: Owner::Explicit(OwnerSpec::Id("6166860".into())),
                subject: "Call +380732135997 back".into(),
                body: "b".into(),
                due_in: Duration::from_secs(1800),
                priority: Priority::Low,
                attach: Attach {
                    contact: false,
                    deal: false,
                },
            }),
        ),
        (
            "note",
            known_existing(),
            Action::Note(NoteAction {
                body: "Answered by Іваненко Олена, not by the responsible manager.".into(),
                owner: None,
                attach: Attach::default(),
            }),
        ),
        (
            "change_owner: {target: contact, owner: Boss@Acme.ua}",
            known_existing(),
            Action::ChangeOwner(ChangeOwnerAction {
                target: Target::Contact,
                owner: Owner::Explicit(OwnerSpec::Email("boss@acme.ua".into())),
            }),
        ),
        (
            "update_properties: {target: deal, properties: {lead_source: \"{utm_source}/{utm_medium}\"}}",
            known_existing(),
            Action::UpdateProperties(UpdatePropertiesAction {
                target: Target::Deal,
                properties: props(&[("lead_source", "google/cpc")]),
            }),
        ),
    ];
    for (written, facts, expected) in cases {
        let matrix = format!("{settings}scenarios:\n  - name: act\n    then:\n      - {written}\n");
        let rules = rules(&matrix, &[]);
        let plan = plan(&rules, &event(sample()), &facts);
        assert_eq!(plan.actions, vec![expected], "{written}");
        assert_eq!(
            plan.top_manager,
            Some(OwnerSpec::Email("boss@acme.ua".into()))
        );
    }
    // Task defaults come from the settings.
    let rules = rules(
        "settings: {top_manager: boss@acme.ua, task_due: 2h 30m, task_priority: medium, call_body: \"body {phone}\"}\nscenarios:\n  - name: t\n    then: [{task: {owner: top_manager, subject: s}}]\n",
        &[],
    );
    let plan = plan(&rules, &event(sample()), &known_existing());
    assert_eq!(
        plan.actions,
        vec![Action::Task(TaskAction {
            owner: Owner::TopManager,
            subject: "s".into(),
            body: "body +380732135997".into(),
            due_in: Duration::from_secs(9000),
            priority: Priority::Medium,
            attach: Attach::default(),
        })]
    );
}

#[test]
fn skip_rows_and_unmatched_events_explain_themselves() {
    let rules = rules(
        "scenarios:\n  - name: quiet\n    when: {utm_source: spam}\n    skip: \"spam from {pool_name}\"\n  - name: answered\n    when: {answered: true}\n    then: [log_call]\n",
        &[],
    );
    let mut spam = sample();
    spam.utm_source = Some("spam".into());
    let plan_spam = plan(&rules, &event(spam), &known_existing());
    assert_eq!(plan_spam.scenario.as_deref(), Some("quiet"));
    assert_eq!(
        plan_spam.skip_reason.as_deref(),
        Some("spam from Google Ads")
    );
    assert!(plan_spam.is_skip());

    let mut missed = sample();
    missed.disposition = Some("BUSY".into());
    let plan_missed = plan(&rules, &event(missed), &known_existing());
    assert_eq!(plan_missed.scenario, None);
    assert_eq!(
        plan_missed.skip_reason.as_deref(),
        Some("no scenario matched")
    );
    let trace: Vec<(&str, &str)> = plan_missed
        .trace
        .iter()
        .map(|t| (t.subject.as_str(), t.outcome.as_str()))
        .collect();
    assert_eq!(
        trace,
        vec![
            ("quiet", "no match: utm_source is google, not spam"),
            ("answered", "no match: answered is false, not true"),
        ]
    );
}

#[test]
fn events_without_a_call_time_use_now_for_time_conditions() {
    let rules = rules(
        "scenarios:\n  - name: night\n    when: {time_of_day: {from: \"22:00\", to: \"06:00\"}}\n    skip: night\n",
        &[],
    );
    let mut spec = sample();
    spec.call_time = None;
    let event = event(spec);
    let night = rules
        .evaluate(&event, &known_existing(), at("2025-09-30T21:00:00Z"))
        .expect("evaluates");
    assert_eq!(night.scenario.as_deref(), Some("night"));
    let day = rules
        .evaluate(&event, &known_existing(), at("2025-09-30T09:00:00Z"))
        .expect("evaluates");
    assert_eq!(day.scenario, None);
}
