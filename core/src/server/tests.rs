//! The router in-process, for what is hard to provoke over a real socket: a
//! store that cannot commit, and readiness checks added by later stages.

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;
use crate::config::Settings;
use crate::store::SqliteStore;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    state: ServerState,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("inbox.db").display());
    let store = Arc::new(SqliteStore::open(&url).await.expect("store"));
    let settings = Settings::default();
    let mut readiness = Readiness::default();
    readiness.add("store", Arc::new(StoreReachable(store.clone())));
    let state = ServerState {
        intake: Arc::new(Intake::new(&settings)),
        store: store.clone(),
        access: Arc::new(Access::new(&settings)),
        readiness,
        max_body: 64 * 1024,
        rules: crate::rules::RulesHandle::new(),
        wake: Arc::new(tokio::sync::Notify::new()),
        metrics: None,
    };
    Fixture {
        _dir: dir,
        store,
        state,
    }
}

async fn call(state: ServerState, request: Request<Body>) -> (StatusCode, Value) {
    let peer: SocketAddr = "127.0.0.1:50000".parse().expect("address");
    let response = router(state)
        .layer(MockConnectInfo(peer))
        .oneshot(request)
        .await
        .expect("infallible");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, serde_json::from_slice(&bytes).expect("JSON body"))
}

fn webhook(call_id: &str) -> Request<Body> {
    Request::post("/webhooks/ringostat")
        .header("content-type", "application/json")
        .body(Body::from(format!(
            r#"{{"uniqueid":"{call_id}","call_type":"in"}}"#
        )))
        .expect("request")
}

#[tokio::test]
async fn a_store_that_cannot_commit_answers_503_and_acknowledges_nothing() {
    let fixture = fixture().await;
    let trigger = "CREATE TRIGGER no_space BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk full'); END";
    fixture.store.execute_for_tests(trigger).await;
    let (status, answer) = call(fixture.state.clone(), webhook("c-1")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot commit")),
        "{answer}"
    );

    fixture
        .store
        .execute_for_tests("DROP TRIGGER no_space")
        .await;
    let (status, answer) = call(fixture.state.clone(), webhook("c-1")).await;
    assert_eq!(
        (status, answer),
        (StatusCode::OK, json!({ "id": 1, "duplicate": false }))
    );
}

struct RulesLoaded(bool);

#[async_trait]
impl ReadinessCheck for RulesLoaded {
    async fn check(&self) -> Result<(), String> {
        if self.0 {
            Ok(())
        } else {
            Err("rules/matrix.yaml:3:5: unknown fact `clint`".into())
        }
    }
}

#[tokio::test]
async fn readiness_reports_every_named_check() {
    let fixture = fixture().await;
    let mut ready = fixture.state.clone();
    ready.readiness.add("rules", Arc::new(RulesLoaded(true)));
    let readyz = || {
        Request::get("/readyz")
            .body(Body::empty())
            .expect("request")
    };
    let (status, answer) = call(ready, readyz()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["checks"].as_array().map(Vec::len), Some(2));

    let mut broken = fixture.state.clone();
    broken.readiness.add("rules", Arc::new(RulesLoaded(false)));
    let (status, answer) = call(broken, readyz()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        answer,
        json!({ "ready": false, "checks": [
            { "name": "store", "ok": true },
            { "name": "rules", "ok": false, "error": "rules/matrix.yaml:3:5: unknown fact `clint`" },
        ]})
    );
}

#[tokio::test]
async fn an_advisory_check_is_shown_but_leaves_the_service_ready() {
    let fixture = fixture().await;
    let mut state = fixture.state.clone();
    state
        .readiness
        .add_advisory("reconcile", Arc::new(RulesLoaded(false)));
    let request = Request::get("/readyz")
        .body(Body::empty())
        .expect("request");
    let (status, answer) = call(state, request).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer,
        json!({ "ready": true, "checks": [
            { "name": "store", "ok": true },
            { "name": "reconcile", "ok": false, "critical": false,
              "error": "rules/matrix.yaml:3:5: unknown fact `clint`" },
        ]})
    );
}
