//! The integration Switchboard is measured against: what a straightforward
//! webhook-to-HubSpot script does for each call. It searches the contact by
//! phone, creates what is missing, creates each engagement, and then
//! associates records in separate requests; it caches nothing (not even
//! owners) and never sends associations inline. It lives only here, and
//! runs against the same fake HubSpot as the service.

use serde_json::{Value, json};
use switchboard_core::phone::E164;
use switchboard_hubspot::fake::FakeHubSpot;

use super::rows::Row;
use crate::common::calls::Call;
use crate::common::world::{OLENA, TOP_MANAGER};

pub struct Naive {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// A contact and its open deal, as the naive integration finds them.
struct Client {
    contact: String,
    deal: Option<(String, Option<String>)>,
}

impl Naive {
    pub fn new(fake: &FakeHubSpot) -> Naive {
        Naive {
            http: reqwest::Client::new(),
            base: fake.base_url(),
            token: fake.token().to_string(),
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the fake answers");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(
            status.is_success(),
            "naive {method} {path}: {status} {body}"
        );
        body
    }

    async fn owner(&self, email: &str) -> String {
        let page = self
            .send(
                reqwest::Method::GET,
                &format!("/crm/v3/owners?email={email}"),
                None,
            )
            .await;
        page["results"][0]["id"]
            .as_str()
            .expect("owner id")
            .to_string()
    }

    async fn find_client(&self, phone: &E164) -> Option<Client> {
        let body = json!({
            "filterGroups": [{ "filters": [{ "propertyName": "hs_searchable_calculated_phone_number", "operator": "EQ", "value": phone.national_number() }] }],
            "properties": ["phone", "hubspot_owner_id"], "sorts": [], "limit": 10, "after": "0",
        });
        let page = self
            .send(
                reqwest::Method::POST,
                "/crm/v3/objects/contacts/search",
                Some(body),
            )
            .await;
        let contact = page["results"][0]["id"].as_str()?.to_string();
        let links = self
            .send(
                reqwest::Method::GET,
                &format!("/crm/v4/objects/contacts/{contact}/associations/deals"),
                None,
            )
            .await;
        let ids: Vec<Value> = links["results"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|l| l["toObjectId"].as_u64())
            .map(|id| json!({ "id": id.to_string() }))
            .collect();
        let mut deal = None;
        if !ids.is_empty() {
            let read = json!({ "properties": ["hs_is_closed", "hubspot_owner_id"], "propertiesWithHistory": [], "inputs": ids });
            let deals = self
                .send(
                    reqwest::Method::POST,
                    "/crm/v3/objects/deals/batch/read",
                    Some(read),
                )
                .await;
            deal = deals["results"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .find(|d| d["properties"]["hs_is_closed"] != "true")
                .map(|d| {
                    (
                        d["id"].as_str().unwrap_or_default().to_string(),
                        d["properties"]["hubspot_owner_id"]
                            .as_str()
                            .map(str::to_string),
                    )
                });
        }
        Some(Client { contact, deal })
    }

    async fn create(&self, object_type: &str, properties: Value) -> String {
        let body = json!({ "properties": properties, "associations": [] });
        let created = self
            .send(
                reqwest::Method::POST,
                &format!("/crm/v3/objects/{object_type}"),
                Some(body),
            )
            .await;
        created["id"].as_str().expect("created id").to_string()
    }

    async fn associate(&self, from_type: &str, from: &str, to_type: &str, to: &str) {
        self.send(
            reqwest::Method::PUT,
            &format!("/crm/v4/objects/{from_type}/{from}/associations/default/{to_type}/{to}"),
            None,
        )
        .await;
    }

    /// An engagement created, then associated with the contact and the deal.
    async fn engagement(
        &self,
        object_type: &str,
        properties: Value,
        contact: Option<&str>,
        deal: Option<&str>,
    ) {
        let id = self.create(object_type, properties).await;
        for (to_type, to) in [("contacts", contact), ("deals", deal)] {
            if let Some(to) = to {
                self.associate(object_type, &id, to_type, to).await;
            }
        }
    }

    fn call_properties(call: &Call, owner: Option<&str>, answered: bool) -> Value {
        let mut properties = json!({
            "hs_timestamp": call.started.to_rfc3339(),
            "hs_call_title": "Ringostat call",
            "hs_call_direction": if call.call_type == "in" { "INBOUND" } else { "OUTBOUND" },
            "hs_call_status": if answered { "COMPLETED" } else { "NO_ANSWER" },
        });
        if answered {
            properties["hs_call_duration"] = json!((call.talk_seconds * 1000).to_string());
            properties["hs_call_recording_url"] = json!(call.recording_url());
        }
        if let Some(owner) = owner {
            properties["hubspot_owner_id"] = json!(owner);
        }
        properties
    }

    fn task_properties(subject: &str, owner: &str) -> Value {
        json!({
            "hs_timestamp": chrono::Utc::now().to_rfc3339(),
            "hs_task_subject": subject,
            "hubspot_owner_id": owner,
            "hs_task_priority": "HIGH",
        })
    }

    async fn new_contact(&self, phone: &E164, owner: &str) -> String {
        self.create(
            "contacts",
            json!({ "phone": phone.as_str(), "firstname": phone.international_format(), "hubspot_owner_id": owner }),
        )
        .await
    }

    async fn new_deal(&self, phone: &E164, contact: &str, owner: &str) -> String {
        let deal = self
            .create(
                "deals",
                json!({ "dealname": format!("Call from {}", phone.as_str()), "pipeline": "default",
                        "dealstage": "appointmentscheduled", "hubspot_owner_id": owner, "utm_source": "google" }),
            )
            .await;
        self.associate("deals", &deal, "contacts", contact).await;
        deal
    }

    /// Does for one call what the default matrix asks for `row`.
    pub async fn handle(&self, row: Row, call: &Call, phone: &E164) {
        match row {
            Row::NoNumber => {}
            Row::UnknownEmployee => {
                let top = self.owner(TOP_MANAGER).await;
                let task = Self::task_properties("Check the integration", &top);
                self.engagement("tasks", task, None, None).await;
            }
            Row::NewClient | Row::OutgoingNewNumber => {
                let employee = self.owner(OLENA).await;
                if self.find_client(phone).await.is_some() {
                    return;
                }
                let contact = self.new_contact(phone, &employee).await;
                let deal = match row {
                    Row::NewClient => Some(self.new_deal(phone, &contact, &employee).await),
                    _ => None,
                };
                let properties = Self::call_properties(call, Some(&employee), true);
                self.engagement("calls", properties, Some(&contact), deal.as_deref())
                    .await;
            }
            Row::MissedNewClient => {
                let top = self.owner(TOP_MANAGER).await;
                if self.find_client(phone).await.is_some() {
                    return;
                }
                let contact = self.new_contact(phone, &top).await;
                let deal = self.new_deal(phone, &contact, &top).await;
                let properties = Self::call_properties(call, None, false);
                self.engagement("calls", properties, Some(&contact), Some(&deal))
                    .await;
                let task = Self::task_properties("Missed call: assign an agent", &top);
                self.engagement("tasks", task, Some(&contact), Some(&deal))
                    .await;
            }
            Row::Responsible
            | Row::OtherManager
            | Row::Outgoing
            | Row::OutgoingNotAnswered
            | Row::NoOpenDeal => {
                let employee = self.owner(OLENA).await;
                let Some(client) = self.find_client(phone).await else {
                    return;
                };
                let deal = match (row, client.deal) {
                    (Row::NoOpenDeal, _) | (_, None) => {
                        Some(self.new_deal(phone, &client.contact, &employee).await)
                    }
                    (_, Some((deal, _))) => Some(deal),
                };
                let answered = row != Row::OutgoingNotAnswered;
                let properties = Self::call_properties(call, Some(&employee), answered);
                self.engagement("calls", properties, Some(&client.contact), deal.as_deref())
                    .await;
                if row == Row::OtherManager {
                    let note = json!({ "hs_timestamp": chrono::Utc::now().to_rfc3339(), "hs_note_body": "Answered by another manager", "hubspot_owner_id": employee });
                    self.engagement("notes", note, Some(&client.contact), deal.as_deref())
                        .await;
                }
            }
            Row::MissedExistingClient => {
                let Some(client) = self.find_client(phone).await else {
                    return;
                };
                let (deal, owner) = match client.deal {
                    Some((deal, owner)) => (deal, owner),
                    None => {
                        let top = self.owner(TOP_MANAGER).await;
                        (self.new_deal(phone, &client.contact, &top).await, Some(top))
                    }
                };
                let owner = match owner {
                    Some(owner) => owner,
                    None => self.owner(TOP_MANAGER).await,
                };
                let properties = Self::call_properties(call, None, false);
                self.engagement("calls", properties, Some(&client.contact), Some(&deal))
                    .await;
                let task = Self::task_properties("Missed call: call back", &owner);
                self.engagement("tasks", task, Some(&client.contact), Some(&deal))
                    .await;
            }
        }
    }
}
