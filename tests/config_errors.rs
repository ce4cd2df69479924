//! Configuration mistakes stop the binary before it listens, with a message
//! that names the problem (and the line, for the file).

mod common;

use common::{config_path, run};

fn serve_with(config: &str, env: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = config_path(dir.path());
    std::fs::write(&path, config).expect("write config");
    let path = path.to_string_lossy().into_owned();
    let (status, _, stderr) = run(dir.path(), &["--config", &path, "serve"], env);
    assert!(!stderr.contains("listening on"), "{stderr}");
    (status.success(), stderr)
}

#[test]
fn an_unknown_key_is_named_with_its_line() {
    let (ok, stderr) = serve_with(
        "listen: 127.0.0.1:0\nwebhook:\n  max_body: 64KiB\n  tokn: ${X}\n",
        &[],
    );
    assert!(!ok);
    assert!(
        stderr.contains("unknown field `tokn`") && stderr.contains("line 4"),
        "{stderr}"
    );
}

#[test]
fn a_literal_secret_is_refused_without_being_repeated() {
    let (ok, stderr) = serve_with(
        "listen: 127.0.0.1:0\ncrm:\n  hubspot:\n    token: pat-na1-0000-secret\n",
        &[],
    );
    assert!(!ok);
    assert!(
        stderr.contains("a secret cannot be written in the file"),
        "{stderr}"
    );
    assert!(
        stderr.contains("crm.hubspot.token") && stderr.contains("line 4"),
        "{stderr}"
    );
    assert!(!stderr.contains("0000-secret"), "{stderr}");
}

#[test]
fn a_postgres_store_is_refused() {
    let (ok, stderr) = serve_with(
        "listen: 127.0.0.1:0\nstore:\n  url: postgres://sb@localhost/sb\n",
        &[],
    );
    assert!(!ok);
    assert!(
        stderr.contains("PostgreSQL store is not available yet; use sqlite://"),
        "{stderr}"
    );
}

#[test]
fn a_public_address_without_a_webhook_token_is_refused() {
    let (ok, stderr) = serve_with("listen: 0.0.0.0:0\n", &[]);
    assert!(!ok);
    assert!(
        stderr.contains("not a loopback address and no webhook token"),
        "{stderr}"
    );
}

#[test]
fn a_bad_value_points_at_its_line() {
    let (ok, stderr) = serve_with(
        "listen: 127.0.0.1:0\n\nwebhook:\n  allow_ips: []\n  max_body: plenty\n",
        &[],
    );
    assert!(!ok);
    assert!(
        stderr.contains("line 5") && stderr.contains("webhook.max_body"),
        "{stderr}"
    );
}

#[test]
fn a_bad_environment_override_is_named() {
    let (ok, stderr) = serve_with(
        "listen: 127.0.0.1:0\n",
        &[("SWITCHBOARD_LISTEN", "everywhere")],
    );
    assert!(!ok);
    assert!(stderr.contains("SWITCHBOARD_LISTEN"), "{stderr}");
}
