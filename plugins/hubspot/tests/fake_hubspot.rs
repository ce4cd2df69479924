//! The fake HubSpot answers as HubSpot does: checked here over plain HTTP,
//! without the connector, so that the connector's tests rest on a fake
//! that is itself tested.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_hubspot::fake::{FakeHubSpot, FakeOptions};

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    fn new(fake: &FakeHubSpot) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: fake.base_url(),
            token: fake.token().to_string(),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the fake answers");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a body");
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn post(
        &self,
        path: &str,
        body: Value,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }
}

fn phone_search(value: &str) -> Value {
    json!({ "filterGroups": [{ "filters": [{ "propertyName": "hs_searchable_calculated_phone_number", "operator": "EQ", "value": value }] }],
            "properties": ["phone", "hs_searchable_calculated_phone_number"], "sorts": [], "limit": 10, "after": "0" })
}

#[tokio::test]
async fn phones_are_stored_as_typed_and_searchable_by_national_number() {
    let fake = FakeHubSpot::start(FakeOptions::default())
        .await
        .expect("starts");
    let client = Client::new(&fake);
    let (status, _, created) = client
        .post("/crm/v3/objects/contacts", json!({ "properties": { "phone": "+380 (67) 123-45-67", "firstname": "Ivan" }, "associations": [] }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["properties"]["phone"], "+380 (67) 123-45-67");
    assert_eq!(
        created["properties"]["hs_searchable_calculated_phone_number"],
        "671234567"
    );
    assert_eq!(
        created["properties"]["hs_calculated_phone_number"],
        "+380671234567"
    );
    assert_eq!(created["properties"]["hs_object_id"], created["id"]);

    let (status, _, found) = client
        .post("/crm/v3/objects/contacts/search", phone_search("671234567"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["total"], 1);
    assert_eq!(
        found["results"][0]["properties"]["phone"],
        "+380 (67) 123-45-67"
    );
    let (_, _, none) = client
        .post(
            "/crm/v3/objects/contacts/search",
            phone_search("380671234567"),
        )
        .await;
    assert_eq!(
        none["total"], 0,
        "the country code is not part of the searchable number"
    );
}

#[tokio::test]
async fn search_does_not_see_new_records_until_the_index_catches_up() {
    let fake = FakeHubSpot::start(FakeOptions {
        search_lag: Duration::from_millis(400),
        ..FakeOptions::default()
    })
    .await
    .expect("starts");
    let client = Client::new(&fake);
    client
        .post(
            "/crm/v3/objects/contacts",
            json!({ "properties": { "phone": "0671234567" }, "associations": [] }),
        )
        .await;
    let (_, _, early) = client
        .post("/crm/v3/objects/contacts/search", phone_search("671234567"))
        .await;
    assert_eq!(early["total"], 0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (_, _, later) = client
            .post("/crm/v3/objects/contacts/search", phone_search("671234567"))
            .await;
        if later["total"] == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the record never became searchable"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn searches_beyond_hubspots_filter_limits_are_refused() {
    let fake = FakeHubSpot::start(FakeOptions::default())
        .await
        .expect("starts");
    let client = Client::new(&fake);
    let filter = json!({ "propertyName": "phone", "operator": "EQ", "value": "1" });
    let groups = vec![json!({ "filters": [filter.clone()] }); 6];
    let (status, _, body) = client
        .post("/crm/v3/objects/contacts/search", json!({ "filterGroups": groups, "properties": [], "sorts": [], "limit": 10, "after": "0" }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["category"], "VALIDATION_ERROR");
    let groups = vec![json!({ "filters": vec![filter.clone(); 6] }); 4];
    let (status, _, _) = client
        .post("/crm/v3/objects/contacts/search", json!({ "filterGroups": groups, "properties": [], "sorts": [], "limit": 10, "after": "0" }))
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "24 filters exceed the 18 in total"
    );
}

#[tokio::test]
async fn property_names_enums_and_required_timestamps_are_validated() {
    let fake = FakeHubSpot::start(FakeOptions::default())
        .await
        .expect("starts");
    let client = Client::new(&fake);
    let (status, _, body) = client
        .post(
            "/crm/v3/objects/contacts",
            json!({ "properties": { "description": "x" }, "associations": [] }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"][0]["code"], "PROPERTY_DOESNT_EXIST");
    assert_eq!(body["category"], "VALIDATION_ERROR");

    let (status, _, body) = client
        .post("/crm/v3/objects/calls", json!({ "properties": { "hs_timestamp": "2026-01-01T10:00:00.000Z", "hs_call_direction": "SIDEWAYS" }, "associations": [] }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"][0]["code"], "INVALID_OPTION");

    let (status, _, body) = client
        .post(
            "/crm/v3/objects/tasks",
            json!({ "properties": { "hs_task_subject": "Call back" }, "associations": [] }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["errors"][0]["context"]["propertyName"][0],
        "hs_timestamp"
    );

    let (status, _, body) = client
        .post("/crm/v3/objects/deals", json!({ "properties": { "dealname": "x", "dealstage": "nowhere" }, "associations": [] }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"][0]["code"], "INVALID_OPTION");
}

#[tokio::test]
async fn unique_values_conflict_with_the_existing_id() {
    let fake = FakeHubSpot::start(FakeOptions::default())
        .await
        .expect("starts");
    let client = Client::new(&fake);
    let (_, _, first) = client
        .post(
            "/crm/v3/objects/contacts",
            json!({ "properties": { "email": "ivan@acme.ua" }, "associations": [] }),
        )
        .await;
    let (status, _, body) = client
        .post(
            "/crm/v3/objects/contacts",
            json!({ "properties": { "email": "IVAN@acme.ua" }, "associations": [] }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["category"], "CONFLICT");
    assert_eq!(
        body["message"],
        format!(
            "Contact already exists. Existing ID: {}",
            first["id"].as_str().expect("id")
        )
    );
    assert_eq!(fake.count("contacts"), 1);
}

#[tokio::test]
async fn associations_are_stored_both_ways_and_read_with_numeric_ids() {
    let fake = FakeHubSpot::start(FakeOptions::default())
        .await
        .expect("starts");
    let client = Client::new(&fake);
    let contact = fake.seed_contact("0671234567", "Ivan");
    let (status, _, deal) = client
        .post("/crm/v3/objects/deals", json!({ "properties": { "dealname": "x", "dealstage": "appointmentscheduled" },
            "associations": [{ "to": { "id": contact }, "types": [{ "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3 }] }] }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(deal["properties"]["hs_is_closed"], "false");
    let (status, _, links) = client
        .get(&format!(
            "/crm/v4/objects/contacts/{contact}/associations/deals"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        links["results"][0]["toObjectId"]
            .as_u64()
            .map(|n| n.to_string()),
        deal["id"].as_str().map(str::to_string)
    );
    assert_eq!(links["results"][0]["associationTypes"][0]["typeId"], 4);

    let (status, _, body) = client
        .post("/crm/v3/objects/calls", json!({ "properties": { "hs_timestamp": "2026-01-01T10:00:00.000Z" },
            "associations": [{ "to": { "id": "999999" }, "types": [{ "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 194 }] }] }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["message"], "One or more associations are invalid");
    assert_eq!(body["context"]["objectType"][0], "CONTACT");
    assert_eq!(fake.count("calls"), 0);
}

#[tokio::test]
async fn records_can_be_associated_in_a_separate_request() {
    let fake = FakeHubSpot::start(FakeOptions::default())
        .await
        .expect("starts");
    let client = Client::new(&fake);
    let contact = fake.seed_contact("0671234567", "Ivan");
    let (_, _, call) = client
        .post(
            "/crm/v3/objects/calls",
            json!({ "properties": { "hs_timestamp": "2026-01-01T10:00:00.000Z" }, "associations": [] }),
        )
        .await;
    let call = call["id"].as_str().expect("call id").to_string();
    let (status, _, body) = client
        .send(
            reqwest::Method::PUT,
            &format!("/crm/v4/objects/calls/{call}/associations/default/contacts/{contact}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["results"][0]["associationSpec"]["associationTypeId"],
        194
    );
    let links = fake.associations("contacts", &contact);
    assert_eq!(links.len(), 1);
    assert_eq!(
        (links[0].to_id.as_str(), links[0].type_id),
        (call.as_str(), 193)
    );
    assert_eq!(fake.request_count("calls.associate"), 1);

    let (status, _, _) = client
        .send(
            reqwest::Method::PUT,
            &format!("/crm/v4/objects/calls/{call}/associations/default/contacts/999999"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn seeded_pipelines_are_listed_and_accepted_on_deals() {
    let fake = FakeHubSpot::start(FakeOptions::default())
        .await
        .expect("starts");
    fake.seed_pipeline("partners", "Partners", &["partnerrequest"]);
    let client = Client::new(&fake);
    let (_, _, pipelines) = client.get("/crm/v3/pipelines/deals").await;
    let partners = pipelines["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|p| p["id"] == "partners")
        .expect("the seeded pipeline is listed")
        .clone();
    let stages: Vec<&str> = partners["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(stages, ["partnerrequest", "partners_won", "partners_lost"]);
    let (status, _, deal) = client
        .post("/crm/v3/objects/deals", json!({ "properties": { "dealname": "x", "pipeline": "partners", "dealstage": "partnerrequest" }, "associations": [] }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{deal}");
    let (status, _, _) = client
        .post("/crm/v3/objects/deals", json!({ "properties": { "dealname": "x", "pipeline": "partners", "dealstage": "appointmentscheduled" }, "associations": [] }))
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a stage of another pipeline"
    );
}

#[tokio::test]
async fn auth_failures_have_hubspots_bodies() {
    let fake = FakeHubSpot::start(FakeOptions::default())
        .await
        .expect("starts");
    fake.add_token("pat-na1-readonly", Some(&["crm.objects.contacts.read"]));
    let mut client = Client::new(&fake);
    client.token = "pat-na1-readonly".into();
    let (status, _, body) = client
        .post(
            "/crm/v3/objects/deals",
            json!({ "properties": { "dealname": "x" }, "associations": [] }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["category"], "MISSING_SCOPES");
    assert_eq!(
        body["errors"][0]["context"]["requiredGranularScopes"][0],
        "crm.objects.deals.write"
    );
    fake.revoke_token("pat-na1-readonly");
    let (status, headers, body) = client.get("/crm/v3/owners").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["category"], "INVALID_AUTHENTICATION");
    assert!(headers.contains_key("x-hubspot-correlation-id"));
}

#[tokio::test]
async fn burst_and_search_limits_answer_429_with_their_policies() {
    let fake = FakeHubSpot::start(FakeOptions {
        burst_limit: 3,
        burst_window: Duration::from_millis(500),
        search_limit: 2,
        search_window: Duration::from_millis(500),
        ..FakeOptions::default()
    })
    .await
    .expect("starts");
    let client = Client::new(&fake);
    for _ in 0..3 {
        let (status, headers, _) = client.get("/crm/v3/owners").await;
        assert_eq!(status, StatusCode::OK);
        assert!(headers.contains_key("x-hubspot-ratelimit-remaining"));
    }
    let (status, headers, body) = client.get("/crm/v3/owners").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["policyName"], "TEN_SECONDLY_ROLLING");
    assert_eq!(body["errorType"], "RATE_LIMIT");
    assert_eq!(headers["x-hubspot-ratelimit-interval-milliseconds"], "500");

    for _ in 0..2 {
        let (status, _, _) = client
            .post("/crm/v3/objects/contacts/search", phone_search("1"))
            .await;
        assert_eq!(status, StatusCode::OK, "search has its own budget");
    }
    let (status, headers, body) = client
        .post("/crm/v3/objects/contacts/search", phone_search("1"))
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["policyName"], "SECONDLY");
    assert!(
        !headers.contains_key("x-hubspot-ratelimit-remaining"),
        "search 429s carry no rate headers"
    );
}

#[tokio::test]
async fn injected_faults_run_out_and_late_answers_still_write() {
    let fake = FakeHubSpot::start(FakeOptions::default())
        .await
        .expect("starts");
    let client = Client::new(&fake);
    fake.fail_next(1, 502);
    let (status, _, body) = client.get("/crm/v3/owners").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(
        body.as_str().is_some_and(|html| html.contains("<html>")),
        "gateway errors are HTML"
    );
    let (status, _, _) = client.get("/crm/v3/owners").await;
    assert_eq!(status, StatusCode::OK);

    fake.delay_next(1, Duration::from_secs(5));
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .expect("client");
    let lost = quick
        .post(format!("{}/crm/v3/objects/notes", fake.base_url()))
        .bearer_auth(fake.token())
        .json(&json!({ "properties": { "hs_timestamp": "2026-01-01T10:00:00.000Z", "hs_note_body": "x" }, "associations": [] }))
        .send()
        .await;
    assert!(lost.is_err_and(|e| e.is_timeout()));
    assert_eq!(
        fake.count("notes"),
        1,
        "the write landed although its answer was lost"
    );
    assert_eq!(
        fake.request_count("notes.create"),
        0,
        "the exchange is logged when it is answered"
    );
}
