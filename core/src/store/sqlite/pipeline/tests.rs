//! Claims, leases, conclusions, replays, the step journal and links against
//! a real SQLite file. Times are passed in, so lease expiry needs no waiting.

use chrono::{Duration, Utc};

use super::super::super::*;
use super::super::SqliteStore;
use crate::config::Settings;
use crate::connector::{CrmId, ObjectKind, StepKey};
use crate::intake::{Intake, WebhookRequest};

async fn store(dir: &tempfile::TempDir) -> SqliteStore {
    let url = format!("sqlite://{}", dir.path().join("inbox.db").display());
    SqliteStore::open(&url).await.expect("store opens")
}

/// An after-call event of `call_id` from `caller` (a number, or empty for none).
async fn insert(store: &SqliteStore, call_id: &str, caller: &str) -> EventId {
    let body = format!(r#"{{"uniqueid":"{call_id}","call_type":"in","caller":"{caller}"}}"#);
    let received = Intake::new(&Settings::default())
        .receive(&WebhookRequest {
            method: "POST",
            query: None,
            content_type: Some("application/json"),
            body: body.as_bytes(),
        })
        .expect("decodable");
    store
        .insert_event(NewEvent::from_received(received, Utc::now()))
        .await
        .expect("inserted")
        .id
}

fn claim_at(token: &str, now: chrono::DateTime<Utc>, limit: usize) -> Claim {
    Claim {
        token: LeaseToken(token.to_string()),
        now,
        until: now + Duration::seconds(60),
        limit,
    }
}

fn ids(events: &[StoredEvent]) -> Vec<EventId> {
    events.iter().map(|e| e.id).collect()
}

const X: &str = "380671111111";
const Y: &str = "380672222222";

#[tokio::test]
async fn claims_take_one_event_per_number_in_arrival_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(&dir).await;
    let x1 = insert(&store, "x1", X).await;
    let y1 = insert(&store, "y1", Y).await;
    let x2 = insert(&store, "x2", X).await;
    let n1 = insert(&store, "n1", "").await;
    let n2 = insert(&store, "n2", "").await;
    let x3 = insert(&store, "x3", X).await;
    let now = Utc::now();

    let first = store.claim(&claim_at("a", now, 10)).await.expect("claim");
    // Events without a number do not block each other.
    assert_eq!(ids(&first), [x1, y1, n1, n2]);
    assert!(
        first
            .iter()
            .all(|e| e.status == EventStatus::Processing && e.attempts == 1)
    );
    assert!(
        store
            .claim(&claim_at("b", now, 10))
            .await
            .expect("claim")
            .is_empty()
    );

    let token = LeaseToken("a".into());
    assert!(
        store
            .conclude(x1, &token, Conclusion::Done, now)
            .await
            .expect("done")
    );
    let second = store.claim(&claim_at("c", now, 10)).await.expect("claim");
    assert_eq!(
        ids(&second),
        [x2],
        "the next event of the number, and only it"
    );
    let token = LeaseToken("c".into());
    assert!(
        store
            .conclude(x2, &token, Conclusion::Done, now)
            .await
            .expect("done")
    );
    assert_eq!(
        ids(&store.claim(&claim_at("d", now, 10)).await.expect("claim")),
        [x3]
    );
}

#[tokio::test]
async fn the_limit_bounds_a_claim() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(&dir).await;
    let a = insert(&store, "a", X).await;
    let b = insert(&store, "b", Y).await;
    let now = Utc::now();
    assert_eq!(
        ids(&store.claim(&claim_at("t1", now, 1)).await.expect("claim")),
        [a]
    );
    assert_eq!(
        ids(&store.claim(&claim_at("t2", now, 1)).await.expect("claim")),
        [b]
    );
}

#[tokio::test]
async fn a_retrying_event_holds_back_its_number_and_a_dead_one_does_not() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(&dir).await;
    let first = insert(&store, "x1", X).await;
    let second = insert(&store, "x2", X).await;
    let now = Utc::now();
    store.claim(&claim_at("a", now, 10)).await.expect("claim");
    let retry = Conclusion::Retry {
        at: now + Duration::seconds(30),
        error: "HubSpot answered 503".into(),
    };
    assert!(
        store
            .conclude(first, &LeaseToken("a".into()), retry, now)
            .await
            .expect("retry")
    );
    let stored = store.event(first).await.expect("read").expect("present");
    assert_eq!(stored.status, EventStatus::Retrying);
    assert_eq!(stored.last_error.as_deref(), Some("HubSpot answered 503"));

    // Not due yet, and the later event of the number waits behind it.
    assert!(
        store
            .claim(&claim_at("b", now, 10))
            .await
            .expect("claim")
            .is_empty()
    );
    // Due: the earlier event goes first, counting its second attempt.
    let later = now + Duration::seconds(31);
    let again = store.claim(&claim_at("c", later, 10)).await.expect("claim");
    assert_eq!(ids(&again), [first]);
    assert_eq!(again[0].attempts, 2);

    let dead = Conclusion::Dead {
        error: "gave up".into(),
    };
    assert!(
        store
            .conclude(first, &LeaseToken("c".into()), dead, later)
            .await
            .expect("dead")
    );
    assert_eq!(
        store.count_status(EventStatus::Dead).await.expect("count"),
        1
    );
    assert_eq!(
        ids(&store.claim(&claim_at("d", later, 10)).await.expect("claim")),
        [second]
    );
}

#[tokio::test]
async fn an_expired_lease_is_claimed_again_and_the_old_holder_loses_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(&dir).await;
    let id = insert(&store, "x1", X).await;
    let now = Utc::now();
    let short = Claim {
        token: LeaseToken("dead-process".into()),
        now,
        until: now + Duration::seconds(2),
        limit: 10,
    };
    assert_eq!(ids(&store.claim(&short).await.expect("claim")), [id]);
    assert!(
        store
            .claim(&claim_at("other", now + Duration::seconds(1), 10))
            .await
            .expect("claim")
            .is_empty(),
        "a live lease is respected"
    );
    let after = now + Duration::seconds(3);
    let reclaimed = store
        .claim(&claim_at("other", after, 10))
        .await
        .expect("claim");
    assert_eq!(ids(&reclaimed), [id]);
    assert_eq!(reclaimed[0].attempts, 2);
    assert_eq!(reclaimed[0].lease_owner.as_deref(), Some("other"));

    let old = LeaseToken("dead-process".into());
    assert!(
        !store
            .renew_lease(id, &old, after + Duration::seconds(60))
            .await
            .expect("renew")
    );
    assert!(
        !store
            .conclude(id, &old, Conclusion::Done, after)
            .await
            .expect("conclude")
    );
    let new = LeaseToken("other".into());
    assert!(
        store
            .renew_lease(id, &new, after + Duration::seconds(60))
            .await
            .expect("renew")
    );
    assert!(
        store
            .conclude(id, &new, Conclusion::Done, after)
            .await
            .expect("conclude")
    );
    let stored = store.event(id).await.expect("read").expect("present");
    assert_eq!(stored.status, EventStatus::Done);
    assert_eq!(stored.lease_owner, None);
    assert!(stored.finished_at.is_some());
}

#[tokio::test]
async fn a_release_is_not_an_attempt() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(&dir).await;
    let id = insert(&store, "x1", X).await;
    let now = Utc::now();
    store.claim(&claim_at("a", now, 10)).await.expect("claim");
    let pause = Conclusion::Release {
        status: EventStatus::Paused,
        at: None,
        reason: Some("the CRM token is invalid or revoked".into()),
    };
    assert!(
        store
            .conclude(id, &LeaseToken("a".into()), pause, now)
            .await
            .expect("release")
    );
    let stored = store.event(id).await.expect("read").expect("present");
    assert_eq!((stored.status, stored.attempts), (EventStatus::Paused, 0));
    assert!(
        store
            .claim(&claim_at("b", now, 10))
            .await
            .expect("claim")
            .is_empty()
    );
    assert_eq!(store.requeue_paused(now).await.expect("requeue"), 1);
    assert_eq!(
        ids(&store.claim(&claim_at("c", now, 10)).await.expect("claim")),
        [id]
    );
}

#[tokio::test]
async fn held_events_are_released_in_arrival_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(&dir).await;
    let mut held = Vec::new();
    for (call, caller) in [("h1", X), ("h2", Y), ("h3", X)] {
        let body = format!(r#"{{"uniqueid":"{call}","call_type":"in","caller":"{caller}"}}"#);
        let received = Intake::new(&Settings::default())
            .receive(&WebhookRequest {
                method: "POST",
                query: None,
                content_type: Some("application/json"),
                body: body.as_bytes(),
            })
            .expect("decodable");
        let new = NewEvent::from_received(received, Utc::now()).held();
        assert_eq!(new.status, EventStatus::Held);
        held.push(store.insert_event(new).await.expect("inserted").id);
    }
    let now = Utc::now();
    assert!(
        store
            .claim(&claim_at("a", now, 10))
            .await
            .expect("claim")
            .is_empty()
    );
    assert_eq!(store.release_held(now).await.expect("release"), 3);
    assert_eq!(
        ids(&store.claim(&claim_at("b", now, 10)).await.expect("claim")),
        [held[0], held[1]]
    );
}

#[tokio::test]
async fn replays_queue_events_again_with_a_fresh_budget() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(&dir).await;
    let dead = insert(&store, "x1", X).await;
    let busy = insert(&store, "y1", Y).await;
    let now = Utc::now();
    store.claim(&claim_at("a", now, 10)).await.expect("claim");
    let plan = serde_json::json!({ "scenario": "row" });
    let recorded = store
        .record_plan(
            dead,
            &LeaseToken("a".into()),
            &plan,
            &serde_json::json!({}),
            "v1",
        )
        .await
        .expect("plan");
    assert!(recorded);
    let error = Conclusion::Dead {
        error: "400 PROPERTY_DOESNT_EXIST".into(),
    };
    store
        .conclude(dead, &LeaseToken("a".into()), error, now)
        .await
        .expect("dead");

    assert_eq!(
        store.replay(busy, now).await.expect("replay"),
        ReplayOutcome::Refused(EventStatus::Processing)
    );
    assert_eq!(
        store.replay(EventId(999), now).await.expect("replay"),
        ReplayOutcome::NotFound
    );
    assert_eq!(store.replay_dead(now).await.expect("replay"), [dead]);
    let stored = store.event(dead).await.expect("read").expect("present");
    assert_eq!((stored.status, stored.attempts), (EventStatus::Queued, 0));
    assert_eq!(stored.status_reason.as_deref(), Some("replayed"));
    assert_eq!(stored.finished_at, None);
    // Decided again with the current rules, not resumed.
    assert_eq!(
        (stored.plan, stored.facts, stored.rules_version),
        (None, None, None)
    );
    // The error of the attempt that failed stays visible.
    assert_eq!(
        stored.last_error.as_deref(),
        Some("400 PROPERTY_DOESNT_EXIST")
    );
    assert!(store.replay_dead(now).await.expect("replay").is_empty());
    assert_eq!(
        store.replay(dead, now).await.expect("replay"),
        ReplayOutcome::Requeued
    );
}

#[tokio::test]
async fn a_replayed_older_event_waits_for_the_later_one_that_is_running() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(&dir).await;
    let x1 = insert(&store, "x1", X).await;
    let x2 = insert(&store, "x2", X).await;
    let now = Utc::now();
    assert_eq!(
        ids(&store.claim(&claim_at("a", now, 10)).await.expect("claim")),
        [x1]
    );
    let dead = Conclusion::Dead {
        error: "400".into(),
    };
    store
        .conclude(x1, &LeaseToken("a".into()), dead, now)
        .await
        .expect("dead");
    assert_eq!(
        ids(&store.claim(&claim_at("b", now, 10)).await.expect("claim")),
        [x2]
    );

    assert_eq!(
        store.replay(x1, now).await.expect("replay"),
        ReplayOutcome::Requeued
    );
    assert!(
        store
            .claim(&claim_at("c", now, 10))
            .await
            .expect("claim")
            .is_empty(),
        "x1 is the oldest unfinished event again, but x2 holds a live lease on the same number"
    );
    store
        .conclude(x2, &LeaseToken("b".into()), Conclusion::Done, now)
        .await
        .expect("done");
    assert_eq!(
        ids(&store.claim(&claim_at("d", now, 10)).await.expect("claim")),
        [x1]
    );
}

#[tokio::test]
async fn the_step_journal_and_links_round_trip() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(&dir).await;
    let id = insert(&store, "x1", X).await;
    let now = Utc::now();
    let mut step = StepRecord {
        key: StepKey::new(id.0, 0, "log_call"),
        event_id: id,
        position: 2,
        action: "log_call".into(),
        object_kind: Some(ObjectKind::Call),
        outcome: StepOutcome::Intent,
        crm_id: None,
        detail: None,
        intent_at: now,
        done_at: None,
    };
    store.record_step(&step).await.expect("intent");
    let found = store.steps(id).await.expect("steps");
    assert_eq!(found.len(), 1);
    assert!(found[0].in_doubt());
    step.outcome = StepOutcome::Created;
    step.crm_id = Some(CrmId("901".into()));
    step.done_at = Some(now);
    store.record_step(&step).await.expect("created");
    let found = store.steps(id).await.expect("steps");
    assert_eq!(found.len(), 1, "one row per step key");
    assert_eq!(found[0].crm_id, Some(CrmId("901".into())));
    assert_eq!(found[0].object_kind, Some(ObjectKind::Call));
    assert!(!found[0].in_doubt());

    let link = Link {
        crm_id: CrmId("51".into()),
        event_id: Some(id),
    };
    store
        .set_link(LinkKind::PhoneContact, "+380671111111", &link, now)
        .await
        .expect("link");
    assert_eq!(
        store
            .link(LinkKind::PhoneContact, "+380671111111")
            .await
            .expect("read"),
        Some(link)
    );
    assert_eq!(
        store
            .link(LinkKind::ContactDeal, "+380671111111")
            .await
            .expect("read"),
        None
    );
    store
        .drop_links_to(LinkKind::PhoneContact, &CrmId("51".into()))
        .await
        .expect("drop");
    assert_eq!(
        store
            .link(LinkKind::PhoneContact, "+380671111111")
            .await
            .expect("read"),
        None
    );
}
