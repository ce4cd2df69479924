//! The command line: documented, and honest about what is not built yet.

mod common;

use common::{Server, run};

#[test]
fn every_subcommand_has_help() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (status, stdout, _) = run(dir.path(), &["--help"], &[]);
    assert!(status.success());
    for command in [
        "serve", "init", "check", "simulate", "replay", "hubspot", "--config",
    ] {
        assert!(
            stdout.contains(command),
            "--help lacks {command}:\n{stdout}"
        );
    }
    let cases: [(&[&str], &str); 7] = [
        (&["serve", "--help"], "--listen"),
        (&["init", "--help"], "DIR"),
        (&["check", "--help"], "--rules"),
        (&["simulate", "--help"], "--fact"),
        (&["replay", "--help"], "--dead"),
        (&["hubspot", "setup", "--help"], "custom properties"),
        (&["hubspot", "doctor", "--help"], "Verify"),
    ];
    for (args, needle) in cases {
        let (status, stdout, _) = run(dir.path(), args, &[]);
        assert!(status.success(), "{args:?}");
        assert!(
            stdout.contains(needle),
            "{args:?} help lacks {needle}:\n{stdout}"
        );
    }
}

#[test]
fn replay_works_on_the_store_without_a_running_service() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("switchboard.yaml");
    std::fs::write(
        &config,
        format!(
            "store:\n  url: sqlite://{}/inbox.db\n",
            dir.path().display()
        ),
    )
    .expect("config");
    let config = config.to_string_lossy().into_owned();
    let (status, stdout, stderr) = run(dir.path(), &["--config", &config, "replay", "--dead"], &[]);
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("no dead-lettered events"), "{stdout}");
    let (status, _, stderr) = run(dir.path(), &["--config", &config, "replay", "42"], &[]);
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("no event 42"), "{stderr}");
}

#[test]
fn replay_needs_an_id_or_dead() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (status, _, stderr) = run(dir.path(), &["replay"], &[]);
    assert_eq!(status.code(), Some(2));
    assert!(stderr.contains("required"), "{stderr}");
}

#[test]
fn serve_runs_on_the_embedded_defaults() {
    // No config file at all. Port 8080 may be taken on a shared machine, so
    // only the address comes from the environment; the store is the default
    // switchboard.db in the working directory.
    let dir = std::sync::Arc::new(tempfile::tempdir().expect("temp dir"));
    let server = Server::spawn(
        dir.clone(),
        &["serve"],
        &[("SWITCHBOARD_LISTEN", "127.0.0.1:0")],
    );
    assert!(
        server.log().contains("no webhook token is configured"),
        "{}",
        server.log()
    );
    assert!(
        server.log().contains("sqlite://switchboard.db"),
        "{}",
        server.log()
    );
    assert!(dir.path().join("switchboard.db").exists());
}

#[test]
fn logs_can_be_json() {
    let server = Server::start("", &[("SWITCHBOARD_LOG_FORMAT", "json")]);
    let line = server
        .log()
        .lines()
        .find(|l| l.contains("listening on"))
        .map(str::to_string)
        .expect("line");
    let parsed: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
    assert_eq!(
        parsed["fields"]["message"],
        serde_json::json!(format!("listening on {}", server.addr))
    );
}
