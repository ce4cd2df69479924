//! Clients the CRM already has before a test's calls: contacts with their
//! number typed as a person would, and their deals, open or closed, owned
//! by someone or by no one.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use super::world::World;

impl World {
    /// A contact created a month ago, `phone` stored exactly as typed.
    pub fn seed_contact(&self, phone: &str, name: &str, owner: Option<&str>) -> String {
        let mut properties = std::collections::BTreeMap::from([
            ("phone".to_string(), phone.to_string()),
            ("firstname".to_string(), name.to_string()),
        ]);
        if let Some(owner) = owner {
            properties.insert("hubspot_owner_id".into(), owner.to_string());
        }
        self.fake
            .seed_object("contacts", properties, Utc::now() - Duration::days(30))
    }

    /// An open deal of `contact` in the default pipeline, created through
    /// HubSpot's API as a salesperson's tool would.
    pub async fn seed_open_deal(&self, contact: &str, name: &str, owner: Option<&str>) -> String {
        let mut properties = json!({
            "dealname": name,
            "pipeline": "default",
            "dealstage": "qualifiedtobuy",
        });
        if let Some(owner) = owner {
            properties["hubspot_owner_id"] = json!(owner);
        }
        let body = json!({
            "properties": properties,
            "associations": [{ "to": { "id": contact }, "types": [{ "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3 }] }],
        });
        let response = self
            .http
            .post(format!("{}/crm/v3/objects/deals", self.fake.base_url()))
            .bearer_auth(self.fake.token())
            .json(&body)
            .send()
            .await
            .expect("the fake answers");
        assert_eq!(response.status(), 201, "seeding a deal");
        let created: Value = response.json().await.expect("deal JSON");
        created["id"].as_str().expect("deal id").to_string()
    }

    /// A lost deal of `contact`, closed two weeks ago.
    pub fn seed_closed_deal(&self, contact: &str, name: &str) -> String {
        self.fake
            .seed_deal(contact, name, false, Utc::now() - Duration::days(14))
    }
}
