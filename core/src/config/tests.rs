//! Loading configuration: defaults, the shipped example, precedence, and the
//! errors a person will actually make.

use std::path::PathBuf;
use std::time::Duration;

use super::*;

const EXAMPLE: &str = include_str!("../../../examples/switchboard.yaml");

fn env(pairs: &[(&str, &str)]) -> Environment {
    Environment::from_pairs(pairs.iter().copied())
}

fn parse(yaml: &str, env: &Environment) -> Result<Settings, ConfigError> {
    let settings = Settings::from_yaml(yaml, "switchboard.yaml", env)?;
    settings.validate()?;
    Ok(settings)
}

fn error(yaml: &str) -> String {
    match parse(yaml, &Environment::default()) {
        Ok(settings) => panic!("accepted: {settings:?}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn no_file_means_the_documented_defaults() {
    let settings =
        Settings::load(None, &Environment::default(), &Overrides::default()).expect("defaults");
    assert_eq!(settings.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(settings.store.url.to_string(), "sqlite://switchboard.db");
    assert_eq!(settings.rules.dir, PathBuf::from("rules"));
    assert_eq!(settings.time_zone, chrono_tz::Europe::Kyiv);
    assert_eq!(settings.phone.default_region.code(), "UA");
    assert_eq!(settings.webhook.max_body.as_u64(), 64 * 1024);
    assert_eq!(settings.crm.effective_kind(), CrmKind::DryRun);
    assert_eq!(
        settings.crm.hubspot.base_url.as_str(),
        "https://api.hubapi.com/"
    );
    assert!(settings.webhook.token.is_none() && settings.admin.token.is_none());
}

#[test]
fn empty_and_comment_only_files_are_defaults() {
    for text in ["", "\n", "# nothing here\n", "---\n"] {
        let settings = parse(text, &Environment::default()).expect("defaults");
        assert_eq!(settings.listen.to_string(), "127.0.0.1:8080", "{text:?}");
    }
}

#[test]
fn the_example_file_is_valid_and_states_the_defaults() {
    let example = parse(EXAMPLE, &Environment::default()).expect("the example loads");
    let defaults = Settings::default();
    assert_eq!(
        format!("{example:?}"),
        format!("{defaults:?}"),
        "every default in the example is the real one"
    );
}

#[test]
fn every_key_is_read() {
    let yaml = r#"
listen: 127.0.0.1:9000
time_zone: Europe/Warsaw
phone:
  default_region: PL
webhook:
  token: ${HOOK}
  allow_ips: [203.0.113.0/24, 198.51.100.7]
  trusted_proxies: 127.0.0.1
  max_body: 1MiB
  fields:
    call_id: [id]
store:
  url: sqlite:///tmp/sb.db
  retention: 30d
rules:
  dir: /etc/switchboard/rules
worker:
  concurrency: 8
  lease: 2m
retry:
  max_attempts: 5
  initial_backoff: 1s
  max_backoff: 1h
crm:
  kind: hubspot
  hubspot:
    base_url: http://127.0.0.1:9999
    token: ${HS}
    burst_per_10s: 190
    search_per_second: 4
    timeout: 10s
cache:
  ttl: 5m
  capacity: 5000
admin:
  token: ${ADMIN}
ringostat:
  api:
    key: ${RS_KEY}
    project_id: 247726
    base_url: http://127.0.0.1:9998
    timeout: 5s
  reconcile:
    every: 2m
    window: 6h
    settle: 5m
"#;
    let settings = parse(
        yaml,
        &env(&[
            ("HOOK", "h-secret"),
            ("HS", "pat-secret"),
            ("ADMIN", "a-secret"),
            ("RS_KEY", "r-secret"),
        ]),
    )
    .expect("valid");
    assert_eq!(settings.listen.port(), 9000);
    assert_eq!(settings.time_zone, chrono_tz::Europe::Warsaw);
    assert_eq!(settings.phone.default_region.code(), "PL");
    assert!(
        settings
            .webhook
            .token
            .as_ref()
            .is_some_and(|t| t.matches("h-secret"))
    );
    assert_eq!(settings.webhook.allow_ips.len(), 2);
    assert_eq!(settings.webhook.trusted_proxies.len(), 1);
    assert_eq!(settings.webhook.max_body.as_u64(), 1024 * 1024);
    assert_eq!(settings.store.retention, Duration::from_secs(30 * 86400));
    assert_eq!(settings.worker.concurrency, 8);
    assert_eq!(settings.worker.lease, Duration::from_secs(120));
    assert_eq!(settings.retry.max_attempts, 5);
    assert_eq!(settings.retry.max_backoff, Duration::from_secs(3600));
    assert_eq!(settings.crm.effective_kind(), CrmKind::HubSpot);
    assert_eq!(settings.crm.hubspot.burst_per_10s, 190);
    assert_eq!(settings.crm.hubspot.timeout, Duration::from_secs(10));
    assert_eq!(settings.cache.ttl, Duration::from_secs(300));
    assert_eq!(settings.cache.capacity, 5000);
    assert!(
        settings
            .admin
            .token
            .as_ref()
            .is_some_and(|t| t.matches("a-secret"))
    );
    let ringostat = &settings.ringostat;
    assert!(
        ringostat
            .api
            .key
            .as_ref()
            .is_some_and(|k| k.matches("r-secret"))
    );
    assert_eq!(ringostat.api.project_id.as_deref(), Some("247726"));
    assert_eq!(ringostat.api.base_url.as_str(), "http://127.0.0.1:9998/");
    assert_eq!(ringostat.api.timeout, Duration::from_secs(5));
    assert_eq!(ringostat.reconcile_every(), Some(Duration::from_secs(120)));
    assert_eq!(ringostat.reconcile.window, Duration::from_secs(6 * 3600));
    assert_eq!(ringostat.reconcile.settle, Duration::from_secs(300));
    let debug = format!("{settings:?}");
    for secret in ["h-secret", "pat-secret", "a-secret", "r-secret"] {
        assert!(!debug.contains(secret), "{secret} leaked into Debug");
    }
}

#[test]
fn an_unknown_key_names_the_key_and_its_line() {
    let message = error("listen: 127.0.0.1:8080\nwebhook:\n  max_body: 64KiB\n  tokn: x\n");
    assert!(message.contains("unknown field `tokn`"), "{message}");
    assert!(message.contains("line 4"), "{message}");
    let top = error("\n\nlisten: 127.0.0.1:8080\nlisen: x\n");
    assert!(
        top.contains("unknown field `lisen`") && top.contains("line 4"),
        "{top}"
    );
}

#[test]
fn a_literal_secret_is_an_error_that_does_not_repeat_it() {
    for key in [
        "webhook:\n  token",
        "admin:\n  token",
        "crm:\n  hubspot:\n    token",
        "ringostat:\n  api:\n    key",
    ] {
        let message = error(&format!("{key}: pat-na1-very-secret\n"));
        assert!(
            message.contains("a secret cannot be written in the file"),
            "{message}"
        );
        let leaf = key.rsplit(' ').next().unwrap_or(key);
        assert!(message.contains(leaf), "{message}");
        assert!(!message.contains("very-secret"), "{message}");
    }
}

#[test]
fn a_secret_reference_to_an_unset_variable_is_an_error() {
    let message = error("webhook:\n  token: ${NOT_SET_ANYWHERE}\n");
    assert!(
        message.contains("environment variable `NOT_SET_ANYWHERE` is not set"),
        "{message}"
    );
    assert!(message.contains("webhook.token"), "{message}");
}

#[test]
fn values_interpolate_the_environment() {
    let settings = parse(
        "listen: ${HOST:-127.0.0.1}:${PORT}\nworker:\n  concurrency: ${WORKERS}\n",
        &env(&[("PORT", "7000"), ("WORKERS", "3")]),
    )
    .expect("valid");
    assert_eq!(settings.listen.to_string(), "127.0.0.1:7000");
    assert_eq!(settings.worker.concurrency, 3);
    let message = error("listen: 127.0.0.1:${PORT}\n");
    assert!(
        message.contains("`PORT` is not set") && message.contains("line 1"),
        "{message}"
    );
}

#[test]
fn bad_values_point_at_their_line() {
    let cases = [
        ("webhook:\n  max_body: lots\n", "webhook.max_body", 2),
        ("time_zone: Mars/Olympus\n", "time_zone", 1),
        ("phone:\n  default_region: XX\n", "unknown region", 2),
        ("worker:\n  lease: soon\n", "worker.lease", 2),
        (
            "webhook:\n  allow_ips: [10.0.0.0/33]\n",
            "not an IP address or CIDR block",
            2,
        ),
        ("crm:\n  kind: salesforce\n", "unknown CRM", 2),
        ("listen: localhost\n", "listen", 1),
    ];
    for (yaml, needle, line) in cases {
        let message = error(yaml);
        assert!(message.contains(needle), "{yaml:?}: {message}");
        assert!(
            message.contains(&format!("line {line}")),
            "{yaml:?}: {message}"
        );
    }
}

#[test]
fn a_postgres_store_is_refused_clearly() {
    let message = error("store:\n  url: postgres://sb:pw@db/sb\n");
    assert!(
        message.contains("PostgreSQL store is not available yet; use sqlite://"),
        "{message}"
    );
    let from_env = Settings::load(
        None,
        &env(&[("SWITCHBOARD_STORE_URL", "postgresql://db/sb")]),
        &Overrides::default(),
    )
    .expect_err("refused");
    assert!(
        from_env.to_string().contains("SWITCHBOARD_STORE_URL"),
        "{from_env}"
    );
}

#[test]
fn listening_beyond_loopback_needs_a_webhook_token() {
    let message = error("listen: 0.0.0.0:8080\n");
    assert!(
        message.contains("not a loopback address and no webhook token"),
        "{message}"
    );
    let with_token = Settings::load(
        None,
        &env(&[
            ("SWITCHBOARD_LISTEN", "0.0.0.0:8080"),
            ("SWITCHBOARD_WEBHOOK_TOKEN", "t0ken"),
        ]),
        &Overrides::default(),
    );
    assert!(with_token.is_ok(), "{with_token:?}");
}

#[test]
fn all_cross_key_problems_are_reported_together() {
    let message = error(
        "listen: 0.0.0.0:1\nworker:\n  concurrency: 0\nretry:\n  initial_backoff: 1h\n  max_backoff: 1m\n",
    );
    assert!(message.contains("listen:"), "{message}");
    assert!(message.contains("worker.concurrency"), "{message}");
    assert!(message.contains("retry.initial_backoff"), "{message}");
}

#[test]
fn hubspot_without_a_token_is_refused() {
    let message = error("crm:\n  kind: hubspot\n");
    assert!(
        message.contains("crm.kind: hubspot needs a token"),
        "{message}"
    );
}

#[test]
fn precedence_is_flag_then_environment_then_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("switchboard.yaml");
    std::fs::write(
        &file,
        "listen: 127.0.0.1:1001\nstore:\n  url: sqlite://file.db\nrules:\n  dir: file-rules\n",
    )
    .expect("write config");
    let environment = env(&[
        ("SWITCHBOARD_LISTEN", "127.0.0.1:1002"),
        ("SWITCHBOARD_STORE_URL", "sqlite://env.db"),
        ("SWITCHBOARD_RULES_DIR", "env-rules"),
    ]);

    let from_file =
        Settings::load(Some(&file), &Environment::default(), &Overrides::default()).expect("file");
    assert_eq!(from_file.listen.port(), 1001);
    assert_eq!(from_file.rules.dir, PathBuf::from("file-rules"));

    let from_env = Settings::load(Some(&file), &environment, &Overrides::default()).expect("env");
    assert_eq!(from_env.listen.port(), 1002);
    assert_eq!(from_env.store.url.to_string(), "sqlite://env.db");
    assert_eq!(from_env.rules.dir, PathBuf::from("env-rules"));

    let flags = Overrides {
        listen: Some("127.0.0.1:1003".parse().expect("address")),
        store_url: Some("sqlite://flag.db".parse().expect("url")),
        rules_dir: Some(PathBuf::from("flag-rules")),
    };
    let from_flags = Settings::load(Some(&file), &environment, &flags).expect("flags");
    assert_eq!(from_flags.listen.port(), 1003);
    assert_eq!(from_flags.store.url.to_string(), "sqlite://flag.db");
    assert_eq!(from_flags.rules.dir, PathBuf::from("flag-rules"));
}

#[test]
fn secrets_come_from_their_environment_variables_too() {
    let settings = Settings::load(
        None,
        &env(&[
            ("SWITCHBOARD_WEBHOOK_TOKEN", "w"),
            ("SWITCHBOARD_ADMIN_TOKEN", "a"),
            ("HUBSPOT_TOKEN", "h"),
        ]),
        &Overrides::default(),
    )
    .expect("valid");
    assert!(
        settings
            .webhook
            .token
            .as_ref()
            .is_some_and(|t| t.matches("w"))
    );
    assert!(
        settings
            .admin
            .token
            .as_ref()
            .is_some_and(|t| t.matches("a"))
    );
    assert!(
        settings
            .crm
            .hubspot
            .token
            .as_ref()
            .is_some_and(|t| t.matches("h"))
    );
    assert_eq!(settings.crm.effective_kind(), CrmKind::HubSpot);
}

#[test]
fn a_missing_file_is_named() {
    let message = Settings::load(
        Some(std::path::Path::new("/nonexistent/sb.yaml")),
        &Environment::default(),
        &Overrides::default(),
    )
    .expect_err("missing")
    .to_string();
    assert!(message.contains("/nonexistent/sb.yaml"), "{message}");
}

#[test]
fn reconciliation_runs_only_with_a_key_and_can_be_turned_off() {
    let defaults = Settings::default();
    assert_eq!(
        defaults.ringostat.reconcile_every(),
        None,
        "no key, no runs"
    );
    assert_eq!(
        defaults.ringostat.api.base_url.as_str(),
        "https://api.ringostat.net/"
    );
    let with_key = Settings::load(
        None,
        &env(&[("RINGOSTAT_API_KEY", "k")]),
        &Overrides::default(),
    )
    .expect("valid");
    assert_eq!(
        with_key.ringostat.reconcile_every(),
        Some(Duration::from_secs(600)),
        "on by default once a key is set"
    );
    for off in ["off", "never", "false"] {
        let settings = parse(
            &format!("ringostat:\n  api:\n    key: ${{K}}\n  reconcile:\n    every: {off}\n"),
            &env(&[("K", "k")]),
        )
        .expect("valid");
        assert_eq!(settings.ringostat.reconcile_every(), None, "{off}");
    }
}

#[test]
fn bad_reconciliation_settings_are_refused() {
    let message = error("ringostat:\n  reconcile:\n    every: sometimes\n");
    assert!(
        message.contains("ringostat.reconcile.every") && message.contains("line 3"),
        "{message}"
    );
    assert!(message.contains("or `off`"), "{message}");
    let message = error(
        "ringostat:\n  api:\n    base_url: ftp://x\n    project_id: \"\"\n  reconcile:\n    every: 0s\n    window: 10m\n    settle: 15m\n",
    );
    for needle in [
        "ringostat.api.base_url: must be an http(s) URL",
        "ringostat.api.project_id: must not be empty",
        "ringostat.reconcile.every: must be more than 0s",
        "ringostat.reconcile.window: must be longer than ringostat.reconcile.settle",
    ] {
        assert!(message.contains(needle), "{needle}: {message}");
    }
}
