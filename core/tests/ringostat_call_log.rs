//! Reading Ringostat's call log into the inbox, against the fake Ringostat
//! API and a real SQLite file: windows under the 6,500-call cap, the day
//! boundary and both changes of the clocks in Europe/Kyiv, the fields a
//! project refuses, retries, a bad key, dry runs, and calls the inbox
//! already has.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::{Map, Value, json};
use switchboard_core::config::{RingostatApiSettings, Secret, Settings};
use switchboard_core::intake::Intake;
use switchboard_core::ringostat::{
    Backfill, CallLogClient, Destination, MAX_CALLS_PER_ANSWER, Period, Retries, RingostatError,
    Summary,
};
use switchboard_core::store::{self, EventQuery, EventSource, EventStatus, NewEvent, Store};
use switchboard_core::testkit::ringostat::{FakeOptions, FakeRingostat};

const KYIV: chrono_tz::Tz = chrono_tz::Europe::Kyiv;

/// A call log record in the shape `calls/list` has: some numbers as
/// numbers, some as strings, `-1` for no employee id.
fn record(call_id: &str, client: &str) -> Map<String, Value> {
    let Value::Object(record) = json!({
        "uniqueid": call_id,
        "call_type": "in",
        "caller": client,
        "dst": "380443334455",
        "disposition": "ANSWERED",
        "billsec": 61,
        "duration": 74,
        "waittime": "13",
        "connected_with": "acmecom_ivanenko",
        "employee_number": -1,
        "recording": format!("https://app.ringostat.com/recordings/{call_id}.ogg?token=t"),
        "recording_wav": format!("https://app.ringostat.com/recordings/{call_id}.wav?token=t"),
        "utm_source": "google",
        "proper_flag": 0,
    }) else {
        unreachable!("a literal object")
    };
    record
}

fn at(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").expect("a time")
}

fn utc(text: &str) -> DateTime<Utc> {
    Utc.from_utc_datetime(&at(text))
}

fn period(from: &str, to: &str) -> Period {
    Period::new(at(from), at(to), KYIV).expect("a period")
}

fn api(fake: &FakeRingostat) -> RingostatApiSettings {
    RingostatApiSettings {
        key: Secret::new(fake.key()),
        base_url: fake.base_url().parse().expect("a URL"),
        timeout: Duration::from_millis(500),
        ..RingostatApiSettings::default()
    }
}

fn quick() -> Retries {
    Retries {
        initial: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        times: 3,
    }
}

fn backfill(api: &RingostatApiSettings) -> Backfill {
    let client = CallLogClient::new(api)
        .expect("a client")
        .with_retries(quick());
    Backfill::new(Arc::new(client), Intake::call_log(&Settings::default()))
}

async fn inbox(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    let url = format!("sqlite://{}", dir.path().join("inbox.db").display())
        .parse()
        .expect("a store URL");
    store::open(&url).await.expect("the store opens")
}

async fn run(backfill: &Backfill, period: &Period, to: &Destination) -> Summary {
    backfill
        .run(period, to, None, &mut |_| {})
        .await
        .expect("the backfill runs")
}

async fn fake() -> FakeRingostat {
    FakeRingostat::start(FakeOptions::default())
        .await
        .expect("the fake starts")
}

#[tokio::test]
async fn more_calls_than_one_answer_holds_are_read_in_halved_windows() {
    let fake = fake().await;
    let start = utc("2025-09-30 07:00:00");
    let calls = MAX_CALLS_PER_ANSWER + 700;
    for i in 0..calls {
        let started = start + chrono::Duration::seconds(i as i64);
        fake.add_call(started, record(&format!("ua9_-{i}.1"), "380671234567"));
    }
    let summary = run(
        &backfill(&api(&fake)),
        &period("2025-09-30 00:00:00", "2025-09-30 23:59:59"),
        &Destination::DryRun { store: None },
    )
    .await;
    assert_eq!((summary.found, summary.new), (calls, calls), "{summary:?}");
    let requests = fake.requests();
    assert!(
        requests.iter().any(|r| r.calls == MAX_CALLS_PER_ANSWER),
        "the first answer was full"
    );
    assert!(summary.windows >= 2, "{summary:?}");
    assert!(
        requests.iter().all(|r| r.calls <= MAX_CALLS_PER_ANSWER),
        "no answer is over the cap"
    );
}

#[tokio::test]
async fn a_day_boundary_and_both_changes_of_the_clocks_lose_no_call() {
    let fake = fake().await;
    // A call every 7 minutes from 22:00 the evening before to 06:00, in
    // UTC: on 2025-10-26 Kyiv's 03:00-04:00 happens twice, on 2025-03-30
    // 03:00-04:00 does not happen at all.
    let mut expected = Vec::new();
    for (night, first) in [
        ("autumn", "2025-10-25 19:00:00"),
        ("spring", "2025-03-29 20:00:00"),
    ] {
        for i in 0..(8 * 60 / 7) {
            let started = utc(first) + chrono::Duration::minutes(i * 7);
            let id = format!("{night}-{i}");
            fake.add_call(started, record(&id, "380671234567"));
            expected.push(id);
        }
    }
    // And one a second from 03:00 summer time to 04:00 winter time: 7,200
    // calls within the wall-clock hour 03:00-04:00, more than one answer.
    for i in 0..7200 {
        let started = utc("2025-10-26 00:00:00") + chrono::Duration::seconds(i);
        let id = format!("overlap-{i}");
        fake.add_call(started, record(&id, "380671234567"));
        expected.push(id);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let store = inbox(&dir).await;
    let to = Destination::Inbox {
        store: store.clone(),
        wake: None,
    };
    let backfill = backfill(&api(&fake));
    let autumn = run(
        &backfill,
        &period("2025-10-25 22:00:00", "2025-10-26 06:00:00"),
        &to,
    )
    .await;
    let spring = run(
        &backfill,
        &period("2025-03-29 22:00:00", "2025-03-30 07:00:00"),
        &to,
    )
    .await;
    assert_eq!(
        autumn.new + spring.new,
        expected.len(),
        "{autumn:?} {spring:?}"
    );
    let all = EventQuery {
        limit: 500,
        ..EventQuery::default()
    };
    let mut stored = std::collections::BTreeMap::new();
    let mut page = all.clone();
    loop {
        let events = store.list_events(&page).await.expect("listed");
        let Some(last) = events.last().map(|e| e.id) else {
            break;
        };
        for event in events {
            assert_eq!(event.source, EventSource::Backfill);
            assert_eq!(event.status, EventStatus::Queued);
            *stored.entry(event.call_id).or_insert(0) += 1;
        }
        page.before = Some(last);
    }
    for id in &expected {
        assert_eq!(stored.get(id), Some(&1), "call {id} is in the inbox once");
    }
    let halved = fake
        .requests()
        .iter()
        .any(|r| r.calls == MAX_CALLS_PER_ANSWER);
    assert!(halved, "the hour that happens twice needed halved windows");
}

#[tokio::test]
async fn the_records_become_the_events_their_webhooks_would_be() {
    let fake = fake().await;
    fake.add_call(
        utc("2025-09-30 11:05:12"),
        record("ua9_-1.2", "380732135997"),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let store = inbox(&dir).await;
    let to = Destination::Inbox {
        store: store.clone(),
        wake: None,
    };
    let summary = run(
        &backfill(&api(&fake)),
        &period("2025-09-30 00:00:00", "2025-10-01 00:00:00"),
        &to,
    )
    .await;
    let id = summary.queued[0];
    let stored = store.event(id).await.expect("read").expect("stored");
    let event = stored.call_event().expect("an event");
    assert_eq!(stored.kind, "after_call");
    assert_eq!(stored.client_phone.as_deref(), Some("+380732135997"));
    assert_eq!(
        event.call_time.map(|t| t.to_rfc3339()).as_deref(),
        Some("2025-09-30T14:05:12+03:00"),
        "calldate with +0300 is read with its offset"
    );
    assert_eq!(
        (event.talk_seconds, event.total_seconds, event.wait_seconds),
        (Some(61), Some(74), Some(13)),
        "numbers and strings alike"
    );
    assert_eq!(
        event.employee.sip_login.as_deref(),
        Some("acmecom_ivanenko")
    );
    assert_eq!(event.employee.staff_id, None, "-1 is no employee id");
    assert!(event.recording_url.is_some_and(|u| u.contains(".wav")));
    let raw: Value = serde_json::from_slice(&stored.raw.body).expect("the record as JSON");
    assert_eq!(raw["calldate"], "2025-09-30T14:05:12+0300");
}

#[tokio::test]
async fn calls_the_inbox_has_change_nothing_and_a_dry_run_stores_nothing() {
    let fake = fake().await;
    for i in 0..5 {
        fake.add_call(
            utc("2025-09-30 08:00:00") + chrono::Duration::minutes(i),
            record(&format!("c-{i}"), "380671234567"),
        );
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let store = inbox(&dir).await;
    // The webhook of c-0 came.
    let mut webhook_record = record("c-0", "380671234567");
    webhook_record.insert("calldate".into(), json!("2025-09-30 11:00:00"));
    let received = Intake::call_log(&Settings::default())
        .receive_record(&webhook_record)
        .expect("decodable");
    let webhook = store
        .insert_event(NewEvent::from_received(received, Utc::now()))
        .await
        .expect("stored");
    let backfill = backfill(&api(&fake));
    let day = period("2025-09-30 00:00:00", "2025-09-30 23:00:00");

    let dry = run(
        &backfill,
        &day,
        &Destination::DryRun {
            store: Some(store.clone()),
        },
    )
    .await;
    assert_eq!((dry.found, dry.new, dry.known), (5, 4, 1), "{dry:?}");
    assert!(dry.queued.is_empty());
    let all = EventQuery {
        limit: 500,
        ..EventQuery::default()
    };
    assert_eq!(
        store.list_events(&all).await.expect("listed").len(),
        1,
        "a dry run stores nothing"
    );

    let to = Destination::Inbox {
        store: store.clone(),
        wake: None,
    };
    let first = run(&backfill, &day, &to).await;
    assert_eq!(
        (first.new, first.known, first.queued.len()),
        (4, 1, 4),
        "{first:?}"
    );
    let again = run(&backfill, &day, &to).await;
    assert_eq!(
        (again.new, again.known),
        (0, 5),
        "a second backfill finds all known"
    );
    let stored = store.event(webhook.id).await.expect("read").expect("there");
    assert_eq!(
        stored.source,
        EventSource::Webhook,
        "the webhook's event is untouched"
    );
}

#[tokio::test]
async fn a_field_the_project_refuses_is_dropped_and_reported_once() {
    let fake = FakeRingostat::start(FakeOptions {
        unknown_fields: vec!["recording_wav".into(), "employee_fio".into()],
        ..FakeOptions::default()
    })
    .await
    .expect("the fake starts");
    for (i, day) in ["2025-09-29", "2025-09-30"].iter().enumerate() {
        fake.add_call(
            utc(&format!("{day} 09:00:00")),
            record(&format!("f-{i}"), "380671234567"),
        );
    }
    let summary = run(
        &backfill(&api(&fake)),
        &period("2025-09-29 00:00:00", "2025-09-30 23:59:59"),
        &Destination::DryRun { store: None },
    )
    .await;
    assert_eq!(summary.found, 2);
    assert_eq!(summary.refused_fields, ["recording_wav", "employee_fio"]);
    let requests = fake.requests();
    let refused: Vec<_> = requests.iter().filter(|r| r.status == 400).collect();
    assert_eq!(
        refused.len(),
        2,
        "one refusal per unknown field: {requests:?}"
    );
    let answered: Vec<_> = requests.iter().filter(|r| r.status == 200).collect();
    assert!(answered.len() >= 2, "later windows ask without them");
    assert!(
        answered
            .iter()
            .all(|r| !r.fields.iter().any(|f| f == "recording_wav"))
    );
}

#[tokio::test]
async fn busy_and_failing_answers_are_retried_and_a_lasting_outage_is_an_error() {
    let fake = fake().await;
    fake.add_call(utc("2025-09-30 09:00:00"), record("r-1", "380671234567"));
    let backfill = backfill(&api(&fake));
    let day = period("2025-09-30 00:00:00", "2025-09-30 23:00:00");
    let nowhere = Destination::DryRun { store: None };

    fake.fail_next(1, 429);
    fake.fail_next(1, 503);
    fake.delay_next(1, Duration::from_secs(2));
    let summary = run(&backfill, &day, &nowhere).await;
    assert_eq!(summary.found, 1, "found after a 429, a 503 and a timeout");

    fake.fail_next(10, 502);
    let error = backfill
        .run(&day, &nowhere, None, &mut |_| {})
        .await
        .expect_err("Ringostat stays down");
    assert!(
        error.to_string().contains("unavailable after 4 attempts"),
        "{error}"
    );
}

#[tokio::test]
async fn a_bad_key_or_project_names_the_settings() {
    let fake = FakeRingostat::start(FakeOptions {
        project_id: Some("247726".into()),
        ..FakeOptions::default()
    })
    .await
    .expect("the fake starts");
    let day = period("2025-09-30 00:00:00", "2025-09-30 23:00:00");
    let window = day_window(&day);

    let mut wrong_key = api(&fake);
    wrong_key.key = Secret::new("not-the-key");
    wrong_key.project_id = Some("247726".into());
    let error = CallLogClient::new(&wrong_key)
        .expect("a client")
        .calls(&window)
        .await
        .expect_err("refused");
    assert!(
        matches!(error, RingostatError::BadKey { status: 401, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("ringostat.api.key"), "{error}");
    assert!(
        !format!("{error} {error:?}").contains("not-the-key"),
        "the key never shows"
    );

    let no_project = CallLogClient::new(&api(&fake)).expect("a client");
    let error = no_project.calls(&window).await.expect_err("refused");
    assert!(
        error.to_string().contains("ringostat.api.project_id"),
        "{error}"
    );

    let mut right = api(&fake);
    right.project_id = Some("247726".into());
    let calls = CallLogClient::new(&right)
        .expect("a client")
        .calls(&window)
        .await
        .expect("read");
    assert!(calls.is_empty());
    assert_eq!(
        fake.requests()
            .last()
            .and_then(|r| r.project_id.clone())
            .as_deref(),
        Some("247726")
    );
    let no_key = RingostatApiSettings::default();
    assert_eq!(
        CallLogClient::new(&no_key).expect_err("no key"),
        RingostatError::NoKey
    );
}

fn day_window(period: &Period) -> switchboard_core::ringostat::Window {
    period.windows().next_window().expect("a window")
}

#[tokio::test]
async fn records_that_cannot_be_events_are_counted_with_their_reason_and_kept() {
    let fake = fake().await;
    let mut no_id = record("x", "380671234567");
    no_id.remove("uniqueid");
    fake.add_call(utc("2025-09-30 09:00:00"), no_id);
    fake.add_call(utc("2025-09-30 09:01:00"), record("ok-1", "380671234567"));
    let dir = tempfile::tempdir().expect("temp dir");
    let store = inbox(&dir).await;
    let summary = run(
        &backfill(&api(&fake)),
        &period("2025-09-30 00:00:00", "2025-09-30 23:00:00"),
        &Destination::Inbox {
            store: store.clone(),
            wake: None,
        },
    )
    .await;
    assert_eq!(
        (summary.found, summary.new, summary.rejected_total()),
        (2, 1, 1)
    );
    let reason = summary.rejected.keys().next().expect("a reason");
    assert!(reason.starts_with("no call id"), "{reason}");
    let rejected = store.list_rejected(10, None).await.expect("listed");
    assert_eq!(rejected.len(), 1, "kept for inspection");
}

#[tokio::test]
async fn calls_after_the_settling_limit_are_left_to_their_webhook() {
    let fake = fake().await;
    fake.add_call(utc("2025-09-30 09:00:00"), record("old", "380671234567"));
    fake.add_call(utc("2025-09-30 09:50:00"), record("young", "380671234568"));
    let summary = backfill(&api(&fake))
        .run(
            &period("2025-09-30 00:00:00", "2025-09-30 23:00:00"),
            &Destination::DryRun { store: None },
            Some(utc("2025-09-30 09:45:00")),
            &mut |_| {},
        )
        .await
        .expect("runs");
    assert_eq!((summary.found, summary.new, summary.settling), (2, 1, 1));
}

#[tokio::test]
async fn two_instances_on_one_store_reconcile_one_at_a_time() {
    use switchboard_core::ringostat::reconcile::{Reconciler, Schedule};
    let fake = fake().await;
    fake.add_call(
        Utc::now() - chrono::Duration::minutes(5),
        record("shared-1", "380671234567"),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let store = inbox(&dir).await;
    let every = Duration::from_millis(400);
    let schedule = Schedule {
        every,
        window: Duration::from_secs(3600),
        settle: Duration::from_secs(1),
        zone: KYIV,
    };
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let instances: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|instance| {
            let reconciler = Reconciler::new(
                backfill(&api(&fake)),
                store.clone(),
                Arc::new(tokio::sync::Notify::new()),
                schedule,
                instance,
            );
            tokio::spawn(reconciler.run(stopping.clone()))
        })
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while fake.requests().len() < 4 {
        assert!(std::time::Instant::now() < deadline, "four runs within 20s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(true);
    for instance in instances {
        instance.await.expect("the reconciler stops");
    }
    let runs = fake.requests();
    for pair in runs.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= every / 2,
            "runs are one `every` apart whoever makes them, not one per instance: {gap:?}"
        );
    }
    let events = store
        .list_events(&EventQuery {
            call_id: Some("shared-1".into()),
            ..EventQuery::default()
        })
        .await
        .expect("listed");
    assert_eq!(events.len(), 1);
    let left = store
        .live_leases("ringostat.reconcile", Utc::now())
        .await
        .expect("leases");
    assert!(
        left.is_empty(),
        "a stopping instance gives the lease up: {left:?}"
    );
}
