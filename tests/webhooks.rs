//! The webhook over real HTTP against the real binary and a real SQLite file:
//! every payload shape of the reference, and every way a delivery can be
//! wrong.

mod common;

use common::{Server, client, example};
use reqwest::StatusCode;
use serde_json::{Value, json};

const TOKEN: &str = "hook-secret-4e1f";
const ADMIN: &str = "admin-secret-9a2b";

fn secured() -> Server {
    Server::start(
        "webhook:\n  token: ${HOOK}\nadmin:\n  token: ${ADMIN}\n",
        &[("HOOK", TOKEN), ("ADMIN", ADMIN)],
    )
}

async fn post_json(server: &Server, query: &str, body: &str) -> (StatusCode, Value) {
    let response = client()
        .post(server.url(&format!("/webhooks/ringostat?{query}")))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.expect("JSON answer"))
}

async fn api(server: &Server, path: &str) -> (StatusCode, Value) {
    let response = client()
        .get(server.url(path))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.expect("JSON answer"))
}

async fn stored(server: &Server, id: &Value) -> Value {
    let (status, event) = api(server, &format!("/api/events/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{event}");
    event
}

fn accepted(answer: &(StatusCode, Value)) -> Value {
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.1);
    assert_eq!(answer.1["duplicate"], json!(false), "{}", answer.1);
    answer.1["id"].clone()
}

#[tokio::test]
async fn the_reference_payloads_are_accepted_and_normalized() {
    let server = secured();
    let query = format!("token={TOKEN}&event=after_call");
    let cases = [
        ("calls-list-record.json", "unique_call_id", "+380441112233"),
        (
            "classic-webhook.json",
            "3333333333.3333333",
            "+380441112233",
        ),
        (
            "webhooks-2.0.json",
            "ua9_-1790775458.2139025",
            "+380732135997",
        ),
        ("user-named.json", "1640989006.1111111", "+380671234567"),
    ];
    for (file, call_id, phone) in cases {
        let id = accepted(&post_json(&server, &query, &example(file)).await);
        let event = stored(&server, &id).await;
        assert_eq!(event["call_id"], json!(call_id), "{file}");
        assert_eq!(event["client_phone"], json!(phone), "{file}");
        // Accepted for processing (workers may already have taken it).
        let status = event["status"].as_str().unwrap_or_default();
        assert!(
            ["queued", "processing", "done", "skipped"].contains(&status),
            "{file}: {status}"
        );
        assert_eq!(event["normalized"]["call_id"], json!(call_id), "{file}");
    }
}

#[tokio::test]
async fn form_bodies_and_get_queries_are_accepted() {
    let server = secured();
    let form = client()
        .post(server.url(&format!("/webhooks/ringostat?token={TOKEN}")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(example("after-call.form").trim().to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(form.status(), StatusCode::OK);
    let form_id = form.json::<Value>().await.expect("json")["id"].clone();
    let form_event = stored(&server, &form_id).await;
    assert_eq!(
        form_event["normalized"]["employee"]["sip_login"],
        json!("acmecom_ivanenko")
    );
    assert_eq!(
        form_event["normalized"]["call_time"],
        json!("2025-09-30T14:05:12+03:00")
    );

    let query = example("after-call.query");
    let get = client()
        .get(server.url(&format!(
            "/webhooks/ringostat?{}&event=pickup&token={TOKEN}",
            query.trim()
        )))
        .send()
        .await
        .expect("request");
    assert_eq!(get.status(), StatusCode::OK);
    let get_id = get.json::<Value>().await.expect("json")["id"].clone();
    let get_event = stored(&server, &get_id).await;
    assert_eq!(get_event["event"], json!("pickup"));
    assert_eq!(get_event["client_phone"], json!("+380732135997"));
    assert_eq!(get_event["raw"]["method"], json!("GET"));
    assert!(
        !get_event["raw"]["query"]
            .as_str()
            .expect("query")
            .contains(TOKEN)
    );
}

#[tokio::test]
async fn a_repeated_delivery_is_a_duplicate_and_changes_nothing() {
    let server = secured();
    let query = format!("token={TOKEN}");
    let body = example("webhooks-2.0.json");
    let id = accepted(&post_json(&server, &query, &body).await);
    for _ in 0..2 {
        let (status, answer) = post_json(&server, &query, &body).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answer, json!({ "id": id, "duplicate": true }));
    }
    let pickup = accepted(&post_json(&server, &format!("{query}&event=pickup"), &body).await);
    assert_ne!(
        pickup, id,
        "another moment of the same call is another event"
    );
    let (_, list) = api(&server, "/api/events").await;
    assert_eq!(list["events"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn a_wrong_or_missing_token_is_refused_and_nothing_is_stored() {
    let server = secured();
    let body = example("webhooks-2.0.json");
    let (missing, answer) = post_json(&server, "", &body).await;
    assert_eq!(missing, StatusCode::UNAUTHORIZED);
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("missing token")),
        "{answer}"
    );
    let (wrong, answer) = post_json(&server, "token=guess", &body).await;
    assert_eq!(wrong, StatusCode::UNAUTHORIZED);
    assert_eq!(answer["error"], json!("invalid token"));
    let (_, list) = api(&server, "/api/events").await;
    assert_eq!(list["events"], json!([]));
    let (_, rejected) = api(&server, "/api/rejected").await;
    assert_eq!(rejected["rejected"], json!([]));
}

#[tokio::test]
async fn the_token_is_never_stored_logged_or_shown() {
    let server = secured();
    let body = r#"{"uniqueid":"t-1","call_type":"in","caller":"380671234567","token":"hook-secret-4e1f","note":"hook-secret-4e1f"}"#;
    let id = accepted(&post_json(&server, &format!("event=after_call&token={TOKEN}"), body).await);
    let event = stored(&server, &id).await;
    let (_, list) = api(&server, "/api/events").await;
    let (status, _) = post_json(
        &server,
        &format!("token={TOKEN}"),
        r#"{"token":"hook-secret-4e1f"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, rejected) = api(&server, "/api/rejected").await;
    for shown in [
        event.to_string(),
        list.to_string(),
        rejected.to_string(),
        server.log(),
    ] {
        assert!(!shown.contains(TOKEN), "token leaked: {shown}");
    }
    assert_eq!(event["raw"]["query"], json!("event=after_call"));
    let database = std::fs::read(server.dir.path().join("inbox.db")).expect("db file");
    let wal = std::fs::read(server.dir.path().join("inbox.db-wal")).unwrap_or_default();
    for bytes in [database, wal] {
        assert!(
            !bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
            "token in the database file"
        );
    }
}

#[tokio::test]
async fn unknown_fields_are_kept_in_raw_and_in_extra() {
    let server = secured();
    let body = r#"{"uniqueid":"u-1","call_type":"in","caller":"380671234567","crm_hint":"vip","{{назва}}":"значення"}"#;
    let id = accepted(&post_json(&server, &format!("token={TOKEN}"), body).await);
    let event = stored(&server, &id).await;
    assert_eq!(
        event["raw"]["body"],
        json!(body),
        "raw body kept byte for byte"
    );
    assert_eq!(event["normalized"]["extra"]["crm_hint"], json!("vip"));
    assert_eq!(event["normalized"]["extra"]["{{назва}}"], json!("значення"));
}

#[tokio::test]
async fn calls_without_a_usable_client_number_are_accepted() {
    let server = secured();
    let query = format!("token={TOKEN}");
    let cases = [
        (
            r#"{"uniqueid":"n-1","call_type":"in","disposition":"ANSWERED"}"#,
            "no client number",
        ),
        (
            r#"{"uniqueid":"n-2","call_type":"in","caller":"acmecom_petrenko"}"#,
            "SIP login",
        ),
        (
            r#"{"uniqueid":"n-3","call_type":"in","caller":"\"acmecom_x\" <acmecom_x>"}"#,
            "SIP login",
        ),
        (
            r#"{"uniqueid":"n-4","call_type":"in","caller":"anonymous"}"#,
            "hidden",
        ),
    ];
    for (body, reason) in cases {
        let id = accepted(&post_json(&server, &query, body).await);
        let event = stored(&server, &id).await;
        assert_eq!(event["client_phone"], Value::Null, "{body}");
        let unusable = event["normalized"]["client"]["unusable_reason"]
            .as_str()
            .unwrap_or_default();
        assert!(unusable.contains(reason), "{body}: {unusable}");
    }
}

#[tokio::test]
async fn a_named_caller_is_read_as_its_number() {
    let server = secured();
    let body =
        r#"{"uniqueid":"d-1","call_type":"in","caller":"\"Support PhonerLite\" <380671234567>"}"#;
    let id = accepted(&post_json(&server, &format!("token={TOKEN}"), body).await);
    let event = stored(&server, &id).await;
    assert_eq!(event["client_phone"], json!("+380671234567"));
    assert_eq!(
        event["normalized"]["client"]["raw"],
        json!("\"Support PhonerLite\" <380671234567>")
    );
}

#[tokio::test]
async fn malformed_json_is_rejected_and_stored_once() {
    let server = secured();
    let query = format!("token={TOKEN}");
    for _ in 0..3 {
        let (status, answer) =
            post_json(&server, &query, r#"{"uniqueid": "m-1", "call_type": "in""#).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            answer["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("body is not valid JSON")),
            "{answer}"
        );
    }
    let (_, rejected) = api(&server, "/api/rejected").await;
    let rejected = rejected["rejected"].as_array().expect("list").clone();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["count"], json!(3));
    assert_eq!(
        rejected[0]["raw"]["body"],
        json!(r#"{"uniqueid": "m-1", "call_type": "in""#)
    );
    let (_, events) = api(&server, "/api/events").await;
    assert_eq!(events["events"], json!([]));
}

#[tokio::test]
async fn payloads_without_call_id_or_call_type_are_rejected_by_name() {
    let server = secured();
    let query = format!("token={TOKEN}");
    let (status, answer) = post_json(&server, &query, r#"{"call_type":"in"}"#).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("no call id")),
        "{answer}"
    );
    let (status, answer) = post_json(
        &server,
        &query,
        r#"{"uniqueid":"x","call_type":"sideways"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("unknown call type")),
        "{answer}"
    );
}

#[tokio::test]
async fn an_oversize_body_is_refused() {
    let server = Server::start("webhook:\n  max_body: 2KiB\n", &[]);
    let big = format!(
        r#"{{"uniqueid":"big","call_type":"in","pad":"{}"}}"#,
        "x".repeat(4096)
    );
    let (status, answer) = post_json(&server, "", &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("webhook.max_body")),
        "{answer}"
    );
    let small = r#"{"uniqueid":"small","call_type":"in"}"#;
    assert_eq!(post_json(&server, "", small).await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_allow_list_refuses_other_addresses() {
    let server = Server::start("webhook:\n  allow_ips: [203.0.113.0/24]\n", &[]);
    let body = example("webhooks-2.0.json");
    let (status, answer) = post_json(&server, "", &body).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("127.0.0.1")),
        "{answer}"
    );
    // Without trusted proxies a forged header changes nothing.
    let forged = client()
        .post(server.url("/webhooks/ringostat"))
        .header("x-forwarded-for", "203.0.113.7")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_trusted_proxy_passes_on_the_client_address() {
    let server = Server::start(
        "webhook:\n  allow_ips: [203.0.113.0/24]\n  trusted_proxies: [127.0.0.1]\n",
        &[],
    );
    let send = |forwarded_for: &'static str, call_id: &'static str| {
        let url = server.url("/webhooks/ringostat");
        async move {
            client()
                .post(url)
                .header("x-forwarded-for", forwarded_for)
                .header("content-type", "application/json")
                .body(format!(r#"{{"uniqueid":"{call_id}","call_type":"in"}}"#))
                .send()
                .await
                .expect("request")
                .status()
        }
    };
    assert_eq!(send("203.0.113.7", "p-1").await, StatusCode::OK);
    assert_eq!(send("198.51.100.1", "p-2").await, StatusCode::FORBIDDEN);
    // The client cannot smuggle an allowed address in front of its own.
    assert_eq!(
        send("203.0.113.7, 198.51.100.1", "p-3").await,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn moments_other_than_after_call_and_pickup_are_stored_as_skipped() {
    let server = secured();
    let id = accepted(
        &post_json(
            &server,
            &format!("token={TOKEN}&event=before_call"),
            &example("webhooks-2.0.json"),
        )
        .await,
    );
    let event = stored(&server, &id).await;
    assert_eq!(event["status"], json!("skipped"));
    assert!(
        event["status_reason"]
            .as_str()
            .is_some_and(|r| r.contains("before_call"))
    );
}

#[tokio::test]
async fn the_api_needs_the_admin_token() {
    let server = secured();
    let anonymous = client()
        .get(server.url("/api/events"))
        .send()
        .await
        .expect("request");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let wrong = client()
        .get(server.url("/api/events"))
        .bearer_auth("nope")
        .send()
        .await
        .expect("request");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(api(&server, "/api/events").await.0, StatusCode::OK);
    let (status, answer) = api(&server, "/api/events/999").await;
    assert_eq!(
        (status, answer),
        (StatusCode::NOT_FOUND, json!({ "error": "no event 999" }))
    );
    let (status, answer) = api(&server, "/api/events?status=finished").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("unknown status")),
        "{answer}"
    );
    assert_eq!(
        api(&server, "/api/events?limit=0").await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn without_an_admin_token_the_api_is_loopback_only() {
    let server = Server::start("", &[]);
    let direct = client()
        .get(server.url("/api/events"))
        .send()
        .await
        .expect("request");
    assert_eq!(direct.status(), StatusCode::OK);
    // A local reverse proxy that is not trusted: the real client is unknown.
    let proxied = client()
        .get(server.url("/api/events"))
        .header("x-forwarded-for", "198.51.100.1")
        .send()
        .await
        .expect("request");
    assert_eq!(proxied.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn listing_pages_and_filters() {
    let server = secured();
    let query = format!("token={TOKEN}");
    for i in 0..5 {
        accepted(
            &post_json(
                &server,
                &query,
                &format!(r#"{{"uniqueid":"l-{i}","call_type":"in"}}"#),
            )
            .await,
        );
    }
    let (_, first) = api(&server, "/api/events?limit=2").await;
    let ids: Vec<&Value> = first["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| &e["id"])
        .collect();
    assert_eq!(ids, [&json!(5), &json!(4)]);
    let (_, second) = api(
        &server,
        &format!("/api/events?limit=2&before={}", first["next_before"]),
    )
    .await;
    let calls: Vec<&Value> = second["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| &e["call_id"])
        .collect();
    assert_eq!(calls, [&json!("l-2"), &json!("l-1")]);
    // Workers process the events meanwhile, so the status filter is checked
    // with a status none of them can have.
    let (_, by_call) = api(&server, "/api/events?call_id=l-3").await;
    assert_eq!(by_call["events"].as_array().map(Vec::len), Some(1));
    let (_, none) = api(&server, "/api/events?call_id=l-3&status=rejected").await;
    assert_eq!(none["events"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn health_and_readiness() {
    let server = Server::start("", &[]);
    let health: Value = client()
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(health, json!({ "status": "ok" }));
    let ready = client()
        .get(server.url("/readyz"))
        .send()
        .await
        .expect("request");
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: Value = ready.json().await.expect("json");
    assert_eq!(
        ready,
        json!({ "ready": true, "checks": [
            { "name": "store", "ok": true },
            { "name": "rules", "ok": true },
            { "name": "crm", "ok": true },
        ] })
    );
    let missing = client()
        .get(server.url("/nowhere"))
        .send()
        .await
        .expect("request");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        missing.json::<Value>().await.expect("json"),
        json!({ "error": "no route for GET /nowhere" })
    );
}
