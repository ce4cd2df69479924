//! Hot reload with the real file watcher on a temporary directory: edits by
//! rewrite, by rename-over (as editors save) and by delete-and-recreate; a
//! broken edit keeps the running rules and reports; a fixed edit swaps; and
//! evaluations running during swaps always see one complete version.
//!
//! Swaps are awaited by polling the handle with a deadline, never by sleeping
//! a fixed time.

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use chrono::Utc;
use switchboard_core::facts::Facts;
use switchboard_core::rules::{
    EventSpec, ReloadOutcome, RulesContext, RulesHandle, RulesSource, load_initial,
    watch_with_debounce,
};

const DEADLINE: Duration = Duration::from_secs(20);

fn matrix(marker: &str) -> String {
    format!("scenarios:\n  - name: {marker}\n    then: [log_call]\n")
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < DEADLINE, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

fn running_marker(handle: &RulesHandle) -> Option<String> {
    handle
        .current()
        .and_then(|rules| rules.scenario_names().first().map(|s| s.to_string()))
}

fn wait_for_marker(handle: &RulesHandle, marker: &str) {
    wait_until(&format!("rules `{marker}`"), || {
        running_marker(handle).as_deref() == Some(marker)
    });
}

fn write_by_rename(dir: &Path, name: &str, text: &str) {
    let temp = dir.join(format!(".{name}.swp"));
    fs::write(&temp, text).expect("write temp");
    fs::rename(&temp, dir.join(name)).expect("rename over");
}

#[test]
fn hot_reload_follows_every_way_of_saving() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("matrix.yaml");
    fs::write(&path, matrix("v1")).expect("write");
    let ctx = RulesContext::default();
    let handle = load_initial(dir.path(), &ctx);
    assert_eq!(running_marker(&handle).as_deref(), Some("v1"));
    let first_version = handle.status().version.expect("loaded");
    let mut versions = handle.subscribe();
    let _watcher = watch_with_debounce(dir.path(), handle.clone(), ctx, Duration::from_millis(50))
        .expect("watching");

    // Rewrite in place.
    fs::write(&path, matrix("v2")).expect("write");
    wait_for_marker(&handle, "v2");
    assert!(
        versions.has_changed().unwrap_or(false),
        "subscribers see the new version"
    );
    assert_ne!(
        versions.borrow_and_update().as_deref(),
        Some(first_version.as_str())
    );

    // Rename over, as editors save.
    write_by_rename(dir.path(), "matrix.yaml", &matrix("v3"));
    wait_for_marker(&handle, "v3");

    // Delete: the reload fails (no matrix), the running rules stay.
    fs::remove_file(&path).expect("remove");
    wait_until("the missing matrix to be reported", || {
        handle.status().last_error.is_some()
    });
    assert_eq!(running_marker(&handle).as_deref(), Some("v3"));
    // Recreate: the new file loads.
    fs::write(&path, matrix("v4")).expect("write");
    wait_for_marker(&handle, "v4");
    assert_eq!(
        handle.status().last_error,
        None,
        "a good load clears the error"
    );

    // A broken edit keeps v4 and says exactly what is wrong.
    fs::write(
        &path,
        "scenarios:\n  - name: v5\n    when: {clinet: new}\n    then: [log_call]\n",
    )
    .expect("write");
    wait_until("the broken edit to be reported", || {
        handle.status().last_error.is_some()
    });
    let status = handle.status();
    let failure = status.last_error.clone().expect("reported");
    assert_eq!(
        failure.source,
        RulesSource::Directory(dir.path().to_path_buf())
    );
    let first = failure.diagnostics.iter().next().expect("a diagnostic");
    assert_eq!(
        (first.file.as_str(), first.line, first.column),
        ("matrix.yaml", 3, 12)
    );
    assert_eq!(running_marker(&handle).as_deref(), Some("v4"));
    assert!(status.is_ready());

    // Fixing it swaps.
    write_by_rename(dir.path(), "matrix.yaml", &matrix("v6"));
    wait_for_marker(&handle, "v6");
    assert_eq!(handle.status().last_error, None);

    // Editors' leftovers and saves without a change are no new version.
    let version = handle.status().version;
    fs::write(dir.path().join(".matrix.yaml.swp"), "junk").expect("write");
    fs::write(dir.path().join("matrix.yaml~"), "junk").expect("write");
    assert_eq!(
        handle.reload_from(dir.path(), &ctx),
        ReloadOutcome::Unchanged
    );
    assert_eq!(handle.status().version, version);

    // A broken rule test also refuses the swap.
    fs::create_dir_all(dir.path().join("tests")).expect("mkdir");
    fs::write(
        dir.path().join("tests/t.yaml"),
        "- name: pinned\n  event: {}\n  expect: {scenario: v7}\n",
    )
    .expect("write");
    wait_until("the failing rule test to be reported", || {
        handle.status().last_error.is_some_and(|f| {
            f.diagnostics
                .to_string()
                .contains("rule test `pinned` failed")
        })
    });
    assert_eq!(running_marker(&handle).as_deref(), Some("v6"));
    fs::write(&path, matrix("v7")).expect("write");
    wait_for_marker(&handle, "v7");
}

#[test]
fn a_service_that_starts_with_broken_rules_has_none_until_they_are_fixed() {
    let dir = tempfile::tempdir().expect("temp dir");
    fs::write(dir.path().join("matrix.yaml"), "scenarios: [").expect("write");
    let ctx = RulesContext::default();
    let handle = load_initial(dir.path(), &ctx);
    assert!(handle.current().is_none());
    let status = handle.status();
    assert!(!status.is_ready());
    let reason = status.not_ready_reason().expect("says why");
    assert!(
        reason.contains("matrix.yaml:") && reason.contains("do not load"),
        "{reason}"
    );

    let _watcher = watch_with_debounce(dir.path(), handle.clone(), ctx, Duration::from_millis(50))
        .expect("watching");
    fs::write(dir.path().join("matrix.yaml"), matrix("fixed")).expect("write");
    wait_for_marker(&handle, "fixed");
    assert!(handle.status().not_ready_reason().is_none());
}

#[test]
fn without_a_directory_the_builtin_rules_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let handle = load_initial(&dir.path().join("nowhere"), &RulesContext::default());
    let status = handle.status();
    assert_eq!(status.source, Some(RulesSource::Builtin));
    assert!(
        status
            .scenarios
            .contains(&"incoming_answered_new_client".to_string())
    );
}

/// 100 threads evaluate without pause while the watcher swaps the rules
/// back and forth: every plan carries the version of the set that made it,
/// and the scenario that set names, so no reader ever saw a mix.
#[test]
fn concurrent_evaluations_during_swaps_see_one_complete_version() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("matrix.yaml");
    fs::write(&path, matrix("round_0")).expect("write");
    let ctx = RulesContext::default();
    let handle = load_initial(dir.path(), &ctx);
    let _watcher = watch_with_debounce(dir.path(), handle.clone(), ctx, Duration::from_millis(20))
        .expect("watching");

    let stop = Arc::new(AtomicBool::new(false));
    let evaluations = Arc::new(AtomicUsize::new(0));
    let event = EventSpec::sample().into_event(&ctx).expect("valid");
    let readers: Vec<_> = (0..100)
        .map(|_| {
            let (handle, stop, evaluations, event) = (
                handle.clone(),
                stop.clone(),
                evaluations.clone(),
                event.clone(),
            );
            thread::spawn(move || {
                let mut seen = std::collections::BTreeSet::new();
                while !stop.load(Ordering::Relaxed) {
                    let rules = handle.current().expect("rules are always there");
                    let plan = rules
                        .evaluate(&event, &Facts::default(), Utc::now())
                        .expect("evaluates");
                    assert_eq!(plan.rules_version, rules.version());
                    assert_eq!(
                        plan.scenario.as_deref(),
                        rules.scenario_names().first().copied()
                    );
                    seen.insert(plan.rules_version);
                    evaluations.fetch_add(1, Ordering::Relaxed);
                }
                seen
            })
        })
        .collect();

    for round in 1..=6 {
        let marker = format!("round_{round}");
        fs::write(&path, matrix(&marker)).expect("write");
        wait_for_marker(&handle, &marker);
    }
    stop.store(true, Ordering::Relaxed);
    let mut versions = std::collections::BTreeSet::new();
    for reader in readers {
        versions.extend(reader.join().expect("no reader panicked"));
    }
    assert!(
        versions.len() >= 2,
        "readers saw {} versions",
        versions.len()
    );
    assert!(evaluations.load(Ordering::Relaxed) >= 100);
}
