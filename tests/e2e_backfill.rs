//! Calls whose webhook never came, recovered from Ringostat's call log:
//! reconciliation in `serve` after an outage, webhooks that arrive after
//! reconciliation (and before it), `switchboard backfill` by hand with and
//! without a running service, over the cap, midnight and the clock changes
//! of Europe/Kyiv, dry runs, and a bad key. The real binary, the shipped
//! rules, the fake HubSpot and the fake Ringostat API.

mod common;

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use common::calls::Call;
use common::crm::{assert_properties, e164};
use common::wait;
use common::world::World;
use serde_json::Value;
use switchboard_core::config::Settings;
use switchboard_core::ringostat::windows::wall_clock;
use switchboard_core::testkit::ringostat::{FakeOptions, FakeRingostat};

const DEADLINE: Duration = Duration::from_secs(30);

async fn fake_ringostat() -> FakeRingostat {
    FakeRingostat::start(FakeOptions::default())
        .await
        .expect("the fake Ringostat starts")
}

/// `ringostat:` for a service reading `fake`, reconciling `every`.
fn ringostat_config(fake: &FakeRingostat, every: &str) -> String {
    format!(
        "ringostat:\n  api:\n    base_url: {}\n    timeout: 2s\n  reconcile:\n    every: {every}\n    window: 1h\n    settle: 1s\n",
        fake.base_url()
    )
}

async fn world(fake: &FakeRingostat, every: &str) -> World {
    World::builder()
        .config(&ringostat_config(fake, every))
        .env("RINGOSTAT_API_KEY", fake.key())
        .start()
        .await
}

/// The call happened: Ringostat has it in its call log.
fn happened(fake: &FakeRingostat, call: &Call) {
    fake.add_call(call.started, call.call_log_record());
}

/// The inbox's events of a call (summaries).
async fn events_of(world: &World, call: &Call) -> Vec<Value> {
    let (status, page) = world
        .api(&format!("/api/events?call_id={}", call.call_id))
        .await;
    assert_eq!(status, 200, "{page}");
    page["events"].as_array().cloned().unwrap_or_default()
}

/// Waits until the call has an event; returns its id.
async fn event_id(world: &World, call: &Call) -> i64 {
    let found = wait::until_some(DEADLINE, "the call reaches the inbox", || async {
        events_of(world, call).await.first()?["id"].as_i64()
    })
    .await;
    found.unwrap_or_else(|e| panic!("{}: {e}\n{}", call.call_id, world.log_tail(40)))
}

fn hubspot_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[tokio::test]
async fn calls_missed_while_the_service_was_down_reach_the_crm_once_after_restart() {
    let ringostat = fake_ringostat().await;
    let mut world = world(&ringostat, "300ms").await;
    let before = Call::incoming("380671110001");
    let first = world.post(&before).await;
    happened(&ringostat, &before);
    world.expect_done(&[first.id]).await;
    let logged_before = world.crm().created_by("calls", first.id);
    assert_eq!(logged_before.len(), 1);

    // Down: every call of this stretch has its webhook fail.
    world.kill_hard().await;
    let new_client = Call::incoming("380671110002");
    let missed = Call::incoming("380671110003").missed();
    let again = before.again();
    for call in [&new_client, &missed, &again] {
        happened(&ringostat, call);
    }
    world.restart().await;

    let mut ids = Vec::new();
    for call in [&new_client, &missed, &again] {
        ids.push(event_id(&world, call).await);
    }
    world.expect_done(&ids).await;
    let expected = [
        "incoming_answered_new_client",
        "incoming_missed_new_client",
        "incoming_answered_by_responsible",
    ];
    for (id, scenario) in ids.iter().zip(expected) {
        let event = world.event(*id).await;
        assert_eq!(event["source"], "backfill", "{event}");
        assert_eq!(event["event"], "after_call");
        assert_eq!(
            event["plan"]["scenario"], scenario,
            "the plan its webhook would make"
        );
    }
    // A few more reconciliations find everything known.
    let asked = ringostat.requests().len();
    wait::until(DEADLINE, "more reconciliations run", || async {
        ringostat.requests().len() >= asked + 3
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));

    let crm = world.crm();
    for (call, id) in [&new_client, &missed, &again].into_iter().zip(&ids) {
        let logged = crm.created_by("calls", *id);
        assert_eq!(
            logged.len(),
            1,
            "{} logged once: {}",
            call.call_id,
            crm.summary()
        );
        assert_properties(&logged[0], &[("hs_timestamp", &hubspot_time(call.started))]);
        assert_eq!(events_of(&world, call).await.len(), 1);
    }
    assert_properties(
        &crm.created_by("calls", ids[0])[0],
        &[
            ("hs_call_status", "COMPLETED"),
            ("hs_call_recording_url", &new_client.recording_url()),
            ("hubspot_owner_id", &world.owners.olena),
        ],
    );
    assert_eq!(
        crm.created_by("tasks", ids[1]).len(),
        1,
        "the missed call's task for the TOP manager"
    );
    let contact = crm.the_contact(&e164(&before.client));
    assert_eq!(
        crm.linked("contacts", &contact.id, "calls").len(),
        2,
        "the returning client: the webhook's call and the recovered one"
    );
    for number in [&new_client.client, &missed.client] {
        crm.the_contact(&e164(number));
    }

    // The call whose webhook came is not touched again.
    let first_events = events_of(&world, &before).await;
    assert_eq!(first_events.len(), 1);
    assert_eq!(first_events[0]["attempts"], 1);
    assert_eq!(world.event(first.id).await["source"], "webhook");
    let logged_after = crm.created_by("calls", first.id);
    assert_eq!(logged_after, logged_before, "unchanged in the CRM");
}

#[tokio::test]
async fn a_webhook_after_reconciliation_and_the_reverse_make_one_call_log() {
    let ringostat = fake_ringostat().await;
    let world = world(&ringostat, "200ms").await;

    // Reconciliation first: the webhook comes late (Ringostat resent it).
    let late = Call {
        started: Call::incoming("380672220001").started - chrono::Duration::seconds(30),
        ..Call::incoming("380672220001")
    };
    happened(&ringostat, &late);
    let reconciled = event_id(&world, &late).await;
    let ack = world.post(&late).await;
    assert!(ack.duplicate, "the webhook finds the reconciled call");
    assert_eq!(ack.id, reconciled);
    world.expect_done(&[reconciled]).await;
    assert_eq!(world.event(reconciled).await["source"], "backfill");

    // The webhook first: reconciliation finds it known.
    let on_time = Call::incoming("380672220002");
    let ack = world.post(&on_time).await;
    happened(&ringostat, &on_time);
    world.expect_done(&[ack.id]).await;
    let zone = Settings::default().time_zone;
    let covers = wall_clock(on_time.started, zone)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let asked = ringostat.requests().len();
    wait::until(DEADLINE, "a reconciliation covers the call", || async {
        ringostat.requests()[asked..]
            .iter()
            .any(|r| r.status == 200 && r.to.as_deref() >= Some(covers.as_str()))
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", world.log_tail(30)));

    let crm = world.crm();
    for (call, id) in [(&late, reconciled), (&on_time, ack.id)] {
        assert_eq!(events_of(&world, call).await.len(), 1, "one event per call");
        assert_eq!(crm.created_by("calls", id).len(), 1, "one call log");
        let contact = crm.the_contact(&e164(&call.client));
        assert_eq!(crm.linked("contacts", &contact.id, "calls").len(), 1);
    }
    let event = world.event(ack.id).await;
    assert_eq!(
        (event["source"].as_str(), event["attempts"].as_i64()),
        (Some("webhook"), Some(1))
    );
}

fn an_hour_ago() -> String {
    (Utc::now() - chrono::Duration::hours(1)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[tokio::test]
async fn backfill_by_hand_processes_here_without_a_service_and_leaves_it_to_a_running_one() {
    let ringostat = fake_ringostat().await;
    let mut world = world(&ringostat, "off").await;
    world.stop().await;
    let calls = [
        Call::incoming("380673330001"),
        Call::incoming("380673330002").missed(),
    ];
    for call in &calls {
        happened(&ringostat, call);
    }
    let from = an_hour_ago();
    let (status, stdout, stderr) = world
        .command(&["backfill", "--from", &from, "--to", "now"])
        .await;
    assert!(status.success(), "{stdout}\n{stderr}");
    for line in [
        "found:         2",
        "new:           2 (queued)",
        "already known: 0",
        "no service runs on this store: processing the 2 new call(s) here with the hubspot connector",
        "processed: 2 done",
    ] {
        assert!(stdout.contains(line), "{line:?} in:\n{stdout}");
    }
    assert!(
        !stderr.contains("window "),
        "no progress lines off a terminal: {stderr}"
    );
    for call in &calls {
        world.crm().the_contact(&e164(&call.client));
    }

    world.restart().await;
    let third = Call::incoming("380673330003");
    happened(&ringostat, &third);
    let (status, stdout, _) = world
        .command(&["backfill", "--from", &from, "--to", "now", "--dry-run"])
        .await;
    assert!(status.success(), "{stdout}");
    assert!(stdout.contains("dry run: nothing is stored"), "{stdout}");
    assert!(
        stdout.contains("new:           1 (would be queued)"),
        "{stdout}"
    );
    assert!(stdout.contains("already known: 2"), "{stdout}");
    assert!(
        events_of(&world, &third).await.is_empty(),
        "a dry run stores nothing"
    );

    let (status, stdout, stderr) = world
        .command(&["backfill", "--from", &from, "--to", "now"])
        .await;
    assert!(status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("a service runs on this store"), "{stdout}");
    assert!(
        stdout.contains("it processes the 1 new call(s)"),
        "{stdout}"
    );
    let id = event_id(&world, &third).await;
    world.expect_done(&[id]).await;
    assert_eq!(world.event(id).await["source"], "backfill");
    assert_eq!(world.crm().created_by("calls", id).len(), 1);
}

fn kyiv_utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("a time")
}

#[tokio::test]
async fn backfill_over_the_cap_midnight_and_the_clock_changes() {
    let ringostat = fake_ringostat().await;
    let world = world(&ringostat, "off").await;
    // 2025-10-26: Kyiv's 03:00-04:00 happens twice. One call a second from
    // 00:00 UTC (03:00 summer time) for two hours: 7,200 calls in one
    // wall-clock hour, more than one answer holds.
    let busy = Call::incoming("380674440000");
    for i in 0..7200 {
        let call = Call {
            started: kyiv_utc(2025, 10, 26, 0, 0) + chrono::Duration::seconds(i),
            ..busy.again()
        };
        happened(&ringostat, &call);
    }
    let (status, stdout, stderr) = world
        .command(&[
            "backfill",
            "--from",
            "2025-10-25 22:00",
            "--to",
            "2025-10-26 06:00",
            "--dry-run",
        ])
        .await;
    assert!(status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("found:         7200"), "{stdout}");
    assert!(
        stdout.contains("new:           7200 (would be queued)"),
        "{stdout}"
    );
    let windows: usize = stdout
        .split(": ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_default();
    assert!(windows >= 2, "read in split windows: {stdout}");
    assert!(
        ringostat.requests().iter().any(|r| r.calls == 6500),
        "a full answer was halved"
    );
    assert!(world.events().await.is_empty(), "a dry run stores nothing");

    // 2025-03-30: 03:00-04:00 does not happen. Calls before midnight, after
    // it, and on both sides of the change, from three clients.
    let night = [
        kyiv_utc(2025, 3, 29, 21, 40), // 23:40 EET
        kyiv_utc(2025, 3, 29, 22, 20), // 00:20 EET, the next day
        kyiv_utc(2025, 3, 30, 0, 55),  // 02:55 EET
        kyiv_utc(2025, 3, 30, 1, 5),   // 04:05 EEST
        kyiv_utc(2025, 3, 30, 2, 30),  // 05:30 EEST
    ];
    let calls: Vec<Call> = night
        .iter()
        .enumerate()
        .map(|(i, started)| Call {
            started: *started,
            ..Call::incoming(&format!("38067555000{}", i % 3))
        })
        .collect();
    for call in &calls {
        happened(&ringostat, call);
    }
    let (status, stdout, stderr) = world
        .command(&[
            "backfill",
            "--from",
            "2025-03-29 23:00",
            "--to",
            "2025-03-30 06:00",
        ])
        .await;
    assert!(status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("new:           5 (queued)"), "{stdout}");
    let mut ids = Vec::new();
    for call in &calls {
        ids.push(event_id(&world, call).await);
    }
    world.expect_done(&ids).await;
    let crm = world.crm();
    for (call, id) in calls.iter().zip(&ids) {
        let logged = crm.created_by("calls", *id);
        assert_eq!(logged.len(), 1, "{}", call.call_id);
        assert_properties(&logged[0], &[("hs_timestamp", &hubspot_time(call.started))]);
    }
    assert_eq!(crm.count("contacts"), 3, "{}", crm.summary());
}

#[tokio::test]
async fn a_bad_key_is_named_and_webhooks_keep_working() {
    let ringostat = fake_ringostat().await;
    let wrong_key = "revoked-key-9876";
    let world = World::builder()
        .config(&ringostat_config(&ringostat, "200ms"))
        .env("RINGOSTAT_API_KEY", wrong_key)
        .start()
        .await;
    let check = wait::until_some(
        DEADLINE,
        "/readyz reports the failing reconciliation",
        || async {
            let (status, body) = world.readyz().await;
            let check = body["checks"]
                .as_array()?
                .iter()
                .find(|c| c["name"] == "reconcile" && c["ok"] == false)?
                .clone();
            Some((status, body["ready"].clone(), check))
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", world.log_tail(30)));
    let (status, ready, check) = check;
    assert_eq!(
        (status, ready),
        (200, Value::Bool(true)),
        "ready for webhooks"
    );
    assert_eq!(check["critical"], false);
    let error = check["error"].as_str().unwrap_or_default();
    assert!(error.contains("ringostat.api.key"), "{error}");

    let call = Call::incoming("380676660001");
    let ack = world.post(&call).await;
    world.expect_done(&[ack.id]).await;
    assert!(
        world
            .metrics()
            .await
            .contains(r#"switchboard_reconcile_runs_total{outcome="failed"}"#)
    );
    assert!(
        !world.server().log().contains(wrong_key),
        "the key is never logged"
    );

    let (status, stdout, stderr) = world
        .command(&["backfill", "--from", &an_hour_ago(), "--to", "now"])
        .await;
    assert!(!status.success(), "{stdout}");
    assert!(
        stderr.contains("Ringostat refused the API key (HTTP 401"),
        "{stderr}"
    );
    assert!(
        stderr.contains("check ringostat.api.key (RINGOSTAT_API_KEY)"),
        "{stderr}"
    );
    assert!(!stderr.contains(wrong_key), "{stderr}");

    let dir = tempfile::tempdir().expect("temp dir");
    let (status, _, stderr) = common::run(
        dir.path(),
        &["backfill", "--from", "2025-10-26", "--to", "now"],
        &[],
    );
    assert!(!status.success());
    assert!(
        stderr.contains("no Ringostat API key is configured: set RINGOSTAT_API_KEY"),
        "{stderr}"
    );
}
