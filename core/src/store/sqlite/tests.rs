//! The SQLite inbox against a real database file.

use std::sync::Arc;

use chrono::Utc;

use super::*;
use crate::config::Settings;
use crate::intake::{Intake, WebhookRequest};

async fn store(dir: &tempfile::TempDir) -> SqliteStore {
    let url = format!("sqlite://{}", dir.path().join("inbox.db").display());
    SqliteStore::open(&url).await.expect("store opens")
}

fn new_event(call_id: &str, query: &str) -> NewEvent {
    let body = format!(
        r#"{{"uniqueid":"{call_id}","call_type":"in","caller":"380671234567","mystery":"kept"}}"#
    );
    let received = Intake::new(&Settings::default())
        .receive(&WebhookRequest {
            method: "POST",
            query: Some(query),
            content_type: Some("application/json"),
            body: body.as_bytes(),
        })
        .expect("decodable");
    NewEvent::from_received(received, Utc::now())
}

#[tokio::test]
async fn an_event_is_stored_with_everything_later_stages_need() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(&dir).await;
    let inserted = store
        .insert_event(new_event("c-1", "event=after_call"))
        .await
        .expect("inserted");
    assert!(!inserted.duplicate);
    let stored = store
        .event(inserted.id)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(stored.call_id, "c-1");
    assert_eq!(stored.kind, "after_call");
    assert_eq!(stored.status, EventStatus::Queued);
    assert_eq!(stored.client_phone.as_deref(), Some("+380671234567"));
    assert_eq!(stored.raw.query, "event=after_call");
    assert!(String::from_utf8_lossy(&stored.raw.body).contains("\"mystery\":\"kept\""));
    assert_eq!(stored.attempts, 0);
    assert_eq!(stored.plan, None);
    let event = stored.call_event().expect("normalized event reads back");
    assert_eq!(event.extra.get("mystery").map(String::as_str), Some("kept"));
    assert_eq!(
        store.event(EventId(inserted.id.0 + 1)).await.expect("read"),
        None
    );
}

#[tokio::test]
async fn the_same_call_and_kind_is_stored_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(&dir).await;
    let first = store
        .insert_event(new_event("c-1", ""))
        .await
        .expect("first");
    let again = store
        .insert_event(new_event("c-1", ""))
        .await
        .expect("again");
    assert_eq!(
        again,
        Inserted {
            id: first.id,
            duplicate: true
        }
    );
    let pickup = store
        .insert_event(new_event("c-1", "event=pickup"))
        .await
        .expect("another moment");
    assert!(!pickup.duplicate && pickup.id != first.id);
    let all = store
        .list_events(&EventQuery::default())
        .await
        .expect("list");
    assert_eq!(all.len(), 2);
}

#[tokio::test]
async fn concurrent_deliveries_of_one_call_yield_one_row() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(store(&dir).await);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.insert_event(new_event("same", "")).await })
        })
        .collect();
    let mut fresh = 0;
    let mut ids = std::collections::HashSet::new();
    for task in tasks {
        let inserted = task.await.expect("task").expect("inserted");
        fresh += usize::from(!inserted.duplicate);
        ids.insert(inserted.id);
    }
    assert_eq!((fresh, ids.len()), (1, 1));
}

#[tokio::test]
async fn many_concurrent_events_all_commit_with_distinct_ids() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(store(&dir).await);
    let tasks: Vec<_> = (0..400)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.insert_event(new_event(&format!("c-{i}"), "")).await })
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    for task in tasks {
        ids.insert(task.await.expect("task").expect("inserted").id);
    }
    assert_eq!(ids.len(), 400);
}

#[tokio::test]
async fn committed_events_are_there_after_reopening() {
    let dir = tempfile::tempdir().expect("temp dir");
    let id = {
        let store = store(&dir).await;
        store
            .insert_event(new_event("c-1", ""))
            .await
            .expect("inserted")
            .id
    };
    let reopened = store(&dir).await;
    assert!(reopened.event(id).await.expect("read").is_some());
    assert!(
        reopened
            .insert_event(new_event("c-1", ""))
            .await
            .expect("insert")
            .duplicate
    );
}

#[tokio::test]
async fn moments_that_are_not_processed_are_skipped_with_a_reason() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(&dir).await;
    let id = store
        .insert_event(new_event("c-1", "event=before_call"))
        .await
        .expect("inserted")
        .id;
    let stored = store.event(id).await.expect("read").expect("present");
    assert_eq!(stored.status, EventStatus::Skipped);
    assert_eq!(
        stored.status_reason.as_deref(),
        Some("event kind \"before_call\" is not processed")
    );
}

#[tokio::test]
async fn listing_filters_and_pages_newest_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(&dir).await;
    for i in 0..5 {
        store
            .insert_event(new_event(&format!("c-{i}"), ""))
            .await
            .expect("inserted");
    }
    store
        .insert_event(new_event("c-0", "event=ringing"))
        .await
        .expect("inserted");

    let page = store
        .list_events(&EventQuery {
            limit: 2,
            ..EventQuery::default()
        })
        .await
        .expect("page");
    assert_eq!(
        page.iter().map(|e| e.call_id.as_str()).collect::<Vec<_>>(),
        ["c-0", "c-4"]
    );
    let next = store
        .list_events(&EventQuery {
            limit: 2,
            before: Some(page[1].id),
            ..EventQuery::default()
        })
        .await
        .expect("next page");
    assert_eq!(
        next.iter().map(|e| e.call_id.as_str()).collect::<Vec<_>>(),
        ["c-3", "c-2"]
    );

    let skipped = store
        .list_events(&EventQuery {
            status: Some(EventStatus::Skipped),
            ..EventQuery::default()
        })
        .await
        .expect("by status");
    assert_eq!(skipped.len(), 1);
    let by_call = store
        .list_events(&EventQuery {
            call_id: Some("c-0".into()),
            ..EventQuery::default()
        })
        .await
        .expect("by call");
    assert_eq!(by_call.len(), 2);
}

#[tokio::test]
async fn a_rejected_payload_is_stored_once_and_counted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(&dir).await;
    let rejected = || NewRejected {
        raw: RawPayload {
            method: "POST".into(),
            query: String::new(),
            content_type: Some("application/json".into()),
            body: b"{not json".to_vec(),
        },
        reason: "body is not valid JSON".into(),
        received_at: Utc::now(),
    };
    let first = store.insert_rejected(rejected()).await.expect("first");
    let second = store.insert_rejected(rejected()).await.expect("second");
    let third = store.insert_rejected(rejected()).await.expect("third");
    assert_eq!(
        (first.id, second.id, third.id),
        (first.id, first.id, first.id)
    );
    assert_eq!((first.count, third.count), (1, 3));
    let listed = store.list_rejected(10, None).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].raw.body, b"{not json");
    assert_eq!(listed[0].count, 3);
    assert!(listed[0].last_seen_at >= listed[0].first_seen_at);
}

#[tokio::test]
async fn the_database_runs_in_wal_mode_with_normal_sync() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(&dir).await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&store.readers)
        .await
        .expect("pragma");
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&store.readers)
        .await
        .expect("pragma");
    assert_eq!((mode.as_str(), sync), ("wal", 1));
    store.ping().await.expect("ping");
}

#[tokio::test]
async fn a_failing_write_is_reported_not_acknowledged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(&dir).await;
    sqlx::query("CREATE TRIGGER no_space BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk full'); END")
        .execute(&store.readers)
        .await
        .expect("trigger");
    let error = store
        .insert_event(new_event("c-1", ""))
        .await
        .expect_err("refused");
    assert!(error.to_string().contains("disk full"), "{error}");
    sqlx::query("DROP TRIGGER no_space")
        .execute(&store.readers)
        .await
        .expect("drop trigger");
    assert!(
        !store
            .insert_event(new_event("c-1", ""))
            .await
            .expect("recovered")
            .duplicate
    );
}

#[tokio::test]
async fn an_event_remembers_where_it_came_from() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(&dir).await;
    let webhook = store
        .insert_event(new_event("c-src-1", "event=after_call"))
        .await
        .expect("inserted");
    let backfilled = store
        .insert_event(new_event("c-src-2", "").from_call_log())
        .await
        .expect("inserted");
    let source = |id| {
        let store = &store;
        async move {
            store
                .event(id)
                .await
                .expect("read")
                .expect("present")
                .source
        }
    };
    assert_eq!(source(webhook.id).await, EventSource::Webhook);
    assert_eq!(source(backfilled.id).await, EventSource::Backfill);
    let again = store
        .insert_event(new_event("c-src-1", "event=after_call").from_call_log())
        .await
        .expect("inserted");
    assert!(again.duplicate);
    assert_eq!(
        source(webhook.id).await,
        EventSource::Webhook,
        "a call the webhook brought stays the webhook's"
    );
}
