//! The integrator's and the administrator's commands: init, check, simulate,
//! and HubSpot setup / doctor against the fake HubSpot.

mod common;

use std::fs;
use std::path::Path;

use common::run;
use serde_json::Value;
use switchboard_hubspot::fake::{FakeHubSpot, FakeOptions};

const PAYLOADS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/payloads");

fn init_into(dir: &Path) -> std::path::PathBuf {
    let target = dir.join("project");
    let target_arg = target.to_str().expect("utf-8 path");
    let (status, stdout, stderr) = run(dir, &["init", target_arg], &[]);
    assert!(status.success(), "init failed: {stderr}");
    assert!(stdout.contains("matrix.yaml"), "{stdout}");
    target
}

#[test]
fn init_writes_rules_that_pass_check_and_never_overwrites() {
    let dir = tempfile::tempdir().expect("temp dir");
    let project = init_into(dir.path());
    for file in [
        "rules/matrix.yaml",
        "rules/employees.yaml",
        "switchboard.yaml",
    ] {
        assert!(project.join(file).is_file(), "{file} was not written");
    }

    let (status, stdout, stderr) = run(&project, &["check", "--config", "switchboard.yaml"], &[]);
    assert!(
        status.success(),
        "check of fresh defaults failed:\n{stdout}{stderr}"
    );

    let matrix_before = fs::read_to_string(project.join("rules/matrix.yaml")).expect("matrix");
    fs::write(project.join("rules/matrix.yaml"), "edited").expect("edit");
    let (status, _, stderr) = run(dir.path(), &["init", "project"], &[]);
    assert!(!status.success(), "a second init must refuse");
    assert!(stderr.contains("already exists"), "{stderr}");
    let matrix_after = fs::read_to_string(project.join("rules/matrix.yaml")).expect("matrix");
    assert_eq!(matrix_after, "edited", "init overwrote an edited file");
    assert_ne!(matrix_before, matrix_after);
}

#[test]
fn check_reports_the_file_line_and_column_of_a_mistake() {
    let dir = tempfile::tempdir().expect("temp dir");
    let project = init_into(dir.path());
    let matrix_path = project.join("rules/matrix.yaml");
    let matrix = fs::read_to_string(&matrix_path).expect("matrix");
    let broken = matrix.replacen("      client: new\n", "      client: brand_new\n", 1);
    assert_ne!(
        broken, matrix,
        "the default matrix has a `client: new` condition"
    );
    fs::write(&matrix_path, &broken).expect("write");
    let line = broken
        .lines()
        .position(|l| l.contains("brand_new"))
        .expect("edited line")
        + 1;

    let (status, stdout, stderr) = run(&project, &["check", "--rules", "rules"], &[]);
    assert_eq!(status.code(), Some(1), "{stdout}{stderr}");
    let expected = format!("matrix.yaml:{line}:");
    assert!(
        stdout.contains(&expected) && stdout.contains("brand_new"),
        "check output lacks {expected} and the bad value:\n{stdout}"
    );

    let (status, _, stderr) = run(&project, &["check", "--rules", "missing"], &[]);
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("no rules directory"), "{stderr}");
}

fn simulate(dir: &Path, args: &[&str]) -> Value {
    let mut full = vec!["simulate"];
    full.extend_from_slice(args);
    full.push("--json");
    let (status, stdout, stderr) = run(dir, &full, &[]);
    assert!(status.success(), "simulate {args:?} failed: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"))
}

#[test]
fn simulate_reads_ringostat_payloads_and_assumed_facts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let payload = format!("{PAYLOADS}/after-call.json");

    // The shipped employees.yaml maps nobody, so the answering employee is unknown.
    let plan = simulate(dir.path(), &[&payload]);
    assert_eq!(plan["plan"]["scenario"], "unknown_employee", "{plan:#}");

    let plan = simulate(dir.path(), &[&payload, "--fact", "employee=known"]);
    assert_eq!(
        plan["plan"]["scenario"], "incoming_answered_new_client",
        "{plan:#}"
    );
    let actions = plan["plan"]["actions"].as_array().expect("actions");
    let names: Vec<String> = actions
        .iter()
        .filter_map(|a| a.as_object().and_then(|o| o.keys().next().cloned()))
        .collect();
    assert_eq!(names, ["contact", "deal", "log_call"], "{plan:#}");

    let (status, stdout, _) = run(
        dir.path(),
        &["simulate", &payload, "--fact", "employee=known"],
        &[],
    );
    assert!(status.success());
    assert!(stdout.contains("incoming_answered_new_client"), "{stdout}");

    let (status, _, stderr) = run(
        dir.path(),
        &["simulate", &payload, "--fact", "client=maybe"],
        &[],
    );
    assert!(!status.success());
    assert!(stderr.contains("client cannot be \"maybe\""), "{stderr}");
}

#[test]
fn hubspot_setup_prepares_the_account_doctor_then_approves() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let fake = runtime
        .block_on(FakeHubSpot::start(FakeOptions::default()))
        .expect("fake HubSpot");
    fake.seed_owner("top.manager@example.com", "Top", "Manager");
    let dir = tempfile::tempdir().expect("temp dir");
    fs::write(
        dir.path().join("switchboard.yaml"),
        format!("crm:\n  hubspot:\n    base_url: {}\n", fake.base_url()),
    )
    .expect("config");
    let env = [("HUBSPOT_TOKEN", fake.token())];
    let args = |command: &'static str| ["--config", "switchboard.yaml", "hubspot", command];

    let (status, before, _) = run(dir.path(), &args("doctor"), &env);
    assert_eq!(
        status.code(),
        Some(1),
        "doctor must fail before setup:\n{before}"
    );

    let (status, stdout, stderr) = run(dir.path(), &args("setup"), &env);
    assert!(status.success(), "setup failed:\n{stdout}{stderr}");
    let (status, again, stderr) = run(dir.path(), &args("setup"), &env);
    assert!(
        status.success(),
        "a second setup must succeed:\n{again}{stderr}"
    );

    let (status, after, stderr) = run(dir.path(), &args("doctor"), &env);
    assert!(status.success(), "doctor after setup:\n{after}{stderr}");

    let (status, _, stderr) = run(
        dir.path(),
        &args("doctor"),
        &[("HUBSPOT_TOKEN", "pat-na1-wrong")],
    );
    assert_eq!(status.code(), Some(1));
    assert!(
        !stderr.contains("pat-na1-wrong"),
        "the token leaked: {stderr}"
    );
    drop(fake);
}
