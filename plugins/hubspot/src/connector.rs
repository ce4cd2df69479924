//! `HubSpotConnector`: the [`Connector`] trait in HubSpot's API.
//!
//! Requests per operation (what BENCHMARKS.md counts): a phone lookup is one
//! search; open deals are a v4 association read plus one `deals/batch/read`;
//! every create is one request with its associations inline; an owner is one
//! owners read. The first operation also reads, once, which of Switchboard's
//! custom properties the account has (`hubspot setup` creates them).

use std::collections::BTreeMap;

use async_trait::async_trait;
use secrecy::SecretString;
use serde_json::{Value, json};
use switchboard_core::connector::{
    CallLog, Connector, ConnectorError, ContactRecord, CrmId, DealRecord, HealthCheck,
    HealthReport, NewContact, NewDeal, NewNote, NewTask, ObjectKind, ObjectRef, OwnerId, StepKey,
};
use switchboard_core::phone::{E164, Region};
use switchboard_core::plan::OwnerSpec;
use tokio::sync::OnceCell;

use crate::client::{Client, Request};
use crate::config::{ConfigError, HubSpotConfig};
use crate::model::{
    self, Associated, HubObject, Owner, Page, PropertyDefinition, Upserted, association,
    object_type,
};
use crate::{phone_search, properties};

/// Deal properties read for open-deal lookups.
const DEAL_PROPERTIES: &[&str] = &[
    "dealname",
    "dealstage",
    "pipeline",
    "hubspot_owner_id",
    "createdate",
    "hs_is_closed",
];
const CONTACT_PROPERTIES: &str = "firstname,lastname,hubspot_owner_id";
/// Search pages read for one phone number before choosing among what was seen.
const MAX_SEARCH_PAGES: usize = 5;
/// HubSpot's batch endpoints take at most 100 inputs.
const BATCH_SIZE: usize = 100;

/// Which of Switchboard's custom properties the account has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// The unique `phone_e164` contact property (atomic create-or-find).
    pub phone_property: bool,
    /// Objects whose step-key property exists, and whether it is unique.
    pub step_keys: BTreeMap<&'static str, StepKeyProperty>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepKeyProperty {
    pub unique: bool,
}

impl Capabilities {
    fn step_key(&self, kind: ObjectKind) -> Option<StepKeyProperty> {
        self.step_keys.get(object_type(kind)).copied()
    }
}

/// Object types that carry the step-key custom property (calls use
/// `hs_call_external_id`).
pub const STEP_KEY_OBJECTS: [ObjectKind; 4] = [
    ObjectKind::Contact,
    ObjectKind::Deal,
    ObjectKind::Task,
    ObjectKind::Note,
];

/// The HubSpot connector.
#[derive(Debug)]
pub struct HubSpotConnector {
    client: Client,
    config: HubSpotConfig,
    region: Region,
    capabilities: OnceCell<Capabilities>,
}

impl HubSpotConnector {
    pub const NAME: &'static str = "hubspot";

    pub fn new(
        config: HubSpotConfig,
        token: SecretString,
    ) -> Result<HubSpotConnector, ConfigError> {
        config.validate()?;
        let region = config.region()?;
        let client = Client::new(&config, token)
            .map_err(|e| ConfigError::Invalid(format!("cannot build the HTTP client: {e}")))?;
        Ok(HubSpotConnector {
            client,
            config,
            region,
            capabilities: OnceCell::new(),
        })
    }

    pub fn config(&self) -> &HubSpotConfig {
        &self.config
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// The account's custom properties, read once and remembered (a failed
    /// read is not remembered).
    pub async fn capabilities(&self) -> Result<&Capabilities, ConnectorError> {
        self.capabilities
            .get_or_try_init(|| async {
                let phone = self
                    .property("contacts", &self.config.phone_property)
                    .await?
                    .is_some_and(|p| p.has_unique_value);
                let mut step_keys = BTreeMap::new();
                for kind in STEP_KEY_OBJECTS {
                    let object = object_type(kind);
                    if let Some(definition) = self.property(object, &self.config.step_key_property).await? {
                        step_keys.insert(
                            object,
                            StepKeyProperty {
                                unique: definition.has_unique_value,
                            },
                        );
                    } else {
                        tracing::warn!(
                            object,
                            property = self.config.step_key_property.as_str(),
                            "step-key property missing: run `switchboard hubspot setup`; creates of this type cannot be reconciled after a crash"
                        );
                    }
                }
                Ok(Capabilities {
                    phone_property: phone,
                    step_keys,
                })
            })
            .await
    }

    /// A property definition, `None` when the account does not have it.
    pub(crate) async fn property(
        &self,
        object: &str,
        name: &str,
    ) -> Result<Option<PropertyDefinition>, ConnectorError> {
        let request = Request::get(
            "read_property",
            format!("/crm/v3/properties/{object}/{name}"),
        )
        .absent_ok();
        match self.client.send(&request).await? {
            Some(body) => model::decode("read_property", &body).map(Some),
            None => Ok(None),
        }
    }

    async fn get_object(
        &self,
        kind: ObjectKind,
        id: &CrmId,
        properties: &str,
    ) -> Result<Option<HubObject>, ConnectorError> {
        let request = Request::get(
            "get_object",
            format!("/crm/v3/objects/{}/{}", object_type(kind), id),
        )
        .query("properties", properties)
        .absent_ok();
        match self.client.send(&request).await? {
            Some(body) => model::decode("get_object", &body).map(Some),
            None => Ok(None),
        }
    }

    async fn create_object(
        &self,
        kind: ObjectKind,
        properties: properties::Properties,
        associations: Value,
        guarded: bool,
    ) -> Result<HubObject, ConnectorError> {
        let operation = match kind {
            ObjectKind::Contact => "create_contact",
            ObjectKind::Deal => "create_deal",
            ObjectKind::Call => "create_call",
            ObjectKind::Task => "create_task",
            ObjectKind::Note => "create_note",
        };
        let mut request = Request::post(
            operation,
            format!("/crm/v3/objects/{}", object_type(kind)),
            json!({ "properties": properties, "associations": associations }),
        );
        if !guarded {
            request = request.unsafe_to_repeat();
        }
        let body = self.client.send(&request).await?.unwrap_or_default();
        model::decode(operation, &body)
    }

    async fn patch(
        &self,
        target: &ObjectRef,
        properties: &BTreeMap<String, String>,
    ) -> Result<(), ConnectorError> {
        let request = Request::patch(
            "update_object",
            format!("/crm/v3/objects/{}/{}", object_type(target.kind), target.id),
            json!({ "properties": properties }),
        )
        .about(target.clone());
        self.client.send(&request).await.map(drop)
    }

    /// Adds the step-key property when the account has it for `kind`, and
    /// tells whether a repeat of the create is guarded by its uniqueness.
    async fn with_step_key(
        &self,
        kind: ObjectKind,
        key: &StepKey,
        mut properties: properties::Properties,
    ) -> Result<(properties::Properties, bool), ConnectorError> {
        let property = self.capabilities().await?.step_key(kind);
        match property {
            Some(step_key) => {
                properties.insert(self.config.step_key_property.clone(), key.0.clone());
                Ok((properties, step_key.unique))
            }
            None => {
                properties.remove(&self.config.step_key_property);
                Ok((properties, false))
            }
        }
    }

    async fn search_one(
        &self,
        kind: ObjectKind,
        property: &str,
        value: &str,
    ) -> Result<Option<CrmId>, ConnectorError> {
        let body = json!({
            "filterGroups": [{ "filters": [{ "propertyName": property, "operator": "EQ", "value": value }] }],
            "properties": ["hs_object_id"],
            "sorts": [],
            "limit": 10,
            "after": "0",
        });
        let request = Request::post(
            "search_step_key",
            format!("/crm/v3/objects/{}/search", object_type(kind)),
            body,
        )
        .search();
        let body = self.client.send(&request).await?.unwrap_or_default();
        let page: Page<HubObject> = model::decode("search_step_key", &body)?;
        Ok(page
            .results
            .into_iter()
            .min_by_key(|o| (o.id.parse::<u128>().unwrap_or(u128::MAX), o.id.clone()))
            .map(|o| CrmId(o.id)))
    }
}

fn contact_record(object: HubObject) -> ContactRecord {
    let name = [object.property("firstname"), object.property("lastname")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    ContactRecord {
        owner: object
            .property("hubspot_owner_id")
            .map(|o| OwnerId(o.to_string())),
        name: (!name.is_empty()).then_some(name),
        id: CrmId(object.id),
    }
}

fn deal_record(object: HubObject) -> DealRecord {
    DealRecord {
        owner: object
            .property("hubspot_owner_id")
            .map(|o| OwnerId(o.to_string())),
        name: object.property("dealname").map(str::to_string),
        pipeline: object.property("pipeline").map(str::to_string),
        stage: object.property("dealstage").map(str::to_string),
        is_open: object.property("hs_is_closed") != Some("true"),
        id: CrmId(object.id),
    }
}

/// Newest first by `createdate`, then by id (higher ids are newer).
fn newest_first(deals: &mut [HubObject]) {
    deals.sort_by_key(|d| {
        let created = d
            .property("createdate")
            .or(d.created_at.as_deref())
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_millis())
            .unwrap_or(i64::MIN);
        let id = d.id.parse::<u128>().unwrap_or(0);
        std::cmp::Reverse((created, id))
    });
}

fn target(kind: ObjectKind, id: &CrmId) -> ObjectRef {
    ObjectRef {
        kind,
        id: id.clone(),
    }
}

#[async_trait]
impl Connector for HubSpotConnector {
    fn name(&self) -> &str {
        Self::NAME
    }

    async fn find_contact_by_phone(
        &self,
        phone: &E164,
    ) -> Result<Option<ContactRecord>, ConnectorError> {
        let phone_property = self
            .capabilities()
            .await?
            .phone_property
            .then_some(self.config.phone_property.as_str());
        let mut matches: Vec<HubObject> = Vec::new();
        let mut seen = 0;
        let mut after: Option<String> = None;
        for _ in 0..MAX_SEARCH_PAGES {
            let body = phone_search::request(phone, phone_property, after.as_deref());
            let request =
                Request::post("search_contacts", "/crm/v3/objects/contacts/search", body).search();
            let body = self.client.send(&request).await?.unwrap_or_default();
            let page: Page<HubObject> = model::decode("search_contacts", &body)?;
            after = page.next_after().map(str::to_string);
            seen += page.results.len();
            matches.extend(
                page.results
                    .into_iter()
                    .filter(|c| phone_search::stores_number(c, phone, self.region)),
            );
            if after.is_none() {
                break;
            }
        }
        if after.is_some() {
            tracing::warn!(phone = %phone.masked(), seen, "more contacts match this number than one lookup reads; choosing among the first");
        }
        let chosen = phone_search::choose(&matches).cloned();
        tracing::debug!(
            phone = %phone.masked(),
            candidates = seen,
            verified = matches.len(),
            chosen = chosen.as_ref().map(|c| c.id.as_str()),
            "contact lookup by phone"
        );
        Ok(chosen.map(contact_record))
    }

    async fn get_contact(&self, id: &CrmId) -> Result<Option<ContactRecord>, ConnectorError> {
        Ok(self
            .get_object(ObjectKind::Contact, id, CONTACT_PROPERTIES)
            .await?
            .map(contact_record))
    }

    async fn create_contact(&self, contact: &NewContact) -> Result<ContactRecord, ConnectorError> {
        let capabilities = self.capabilities().await?;
        let phone_property = capabilities
            .phone_property
            .then_some(self.config.phone_property.as_str());
        let built = properties::contact(contact, &self.config.step_key_property, phone_property);
        let (built, guarded) = self
            .with_step_key(ObjectKind::Contact, &contact.step_key, built)
            .await?;
        let Some(phone_property) = phone_property else {
            let created = self
                .create_object(ObjectKind::Contact, built, json!([]), guarded)
                .await?;
            tracing::info!(phone = %contact.phone.masked(), id = created.id.as_str(), "created HubSpot contact");
            return Ok(contact_record(created));
        };
        // Atomic create-or-find on the unique phone property: two instances
        // racing on one number end with one contact.
        let request = Request::post(
            "upsert_contact",
            "/crm/v3/objects/contacts/batch/upsert",
            json!({ "inputs": [{ "id": contact.phone.as_str(), "idProperty": phone_property, "properties": built }] }),
        );
        let body = self.client.send(&request).await?.unwrap_or_default();
        let page: Page<Upserted> = model::decode("upsert_contact", &body)?;
        let upserted =
            page.results
                .into_iter()
                .next()
                .ok_or_else(|| ConnectorError::InvalidRequest {
                    code: Some("UNEXPECTED_RESPONSE".into()),
                    message: "HubSpot's upsert answer has no result".into(),
                })?;
        tracing::info!(
            phone = %contact.phone.masked(),
            id = upserted.object.id.as_str(),
            new = upserted.new,
            "upserted HubSpot contact by {}", phone_property
        );
        Ok(contact_record(upserted.object))
    }

    async fn find_open_deals(&self, contact: &CrmId) -> Result<Vec<DealRecord>, ConnectorError> {
        let mut ids: Vec<String> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut request = Request::get(
                "read_contact_deals",
                format!("/crm/v4/objects/contacts/{contact}/associations/deals"),
            )
            .query("limit", "500")
            .about(target(ObjectKind::Contact, contact));
            if let Some(after) = &after {
                request = request.query("after", after.clone());
            }
            let body = self.client.send(&request).await?.unwrap_or_default();
            let page: Page<Associated> = model::decode("read_contact_deals", &body)?;
            ids.extend(page.results.iter().filter_map(Associated::id));
            after = page.next_after().map(str::to_string);
            if after.is_none() {
                break;
            }
        }
        ids.sort();
        ids.dedup();
        let mut deals: Vec<HubObject> = Vec::new();
        for chunk in ids.chunks(BATCH_SIZE) {
            let inputs: Vec<Value> = chunk.iter().map(|id| json!({ "id": id })).collect();
            let request = Request::post(
                "read_deals",
                "/crm/v3/objects/deals/batch/read",
                json!({ "properties": DEAL_PROPERTIES, "propertiesWithHistory": [], "inputs": inputs }),
            );
            let body = self.client.send(&request).await?.unwrap_or_default();
            let page: Page<HubObject> = model::decode("read_deals", &body)?;
            deals.extend(page.results);
        }
        deals.retain(|d| d.property("hs_is_closed") != Some("true"));
        newest_first(&mut deals);
        Ok(deals.into_iter().map(deal_record).collect())
    }

    async fn get_deal(&self, id: &CrmId) -> Result<Option<DealRecord>, ConnectorError> {
        Ok(self
            .get_object(ObjectKind::Deal, id, &DEAL_PROPERTIES.join(","))
            .await?
            .map(deal_record))
    }

    async fn create_deal(&self, deal: &NewDeal) -> Result<DealRecord, ConnectorError> {
        let mut built = deal.properties.clone();
        built.insert("dealname".into(), deal.name.clone());
        built.insert("pipeline".into(), deal.pipeline.clone());
        built.insert("dealstage".into(), deal.stage.clone());
        if let Some(owner) = &deal.owner {
            built.insert("hubspot_owner_id".into(), owner.0.clone());
        }
        let (built, guarded) = self
            .with_step_key(ObjectKind::Deal, &deal.step_key, built)
            .await?;
        let associations =
            properties::associations(&[(Some(&deal.contact), association::DEAL_TO_CONTACT)]);
        let created = self
            .create_object(ObjectKind::Deal, built, associations, guarded)
            .await?;
        tracing::info!(id = created.id.as_str(), contact = %deal.contact, "created HubSpot deal");
        Ok(deal_record(created))
    }

    async fn log_call(&self, call: &CallLog) -> Result<CrmId, ConnectorError> {
        let associations = properties::associations(&[
            (call.contact.as_ref(), association::CALL_TO_CONTACT),
            (call.deal.as_ref(), association::CALL_TO_DEAL),
        ]);
        let created = self
            .create_object(
                ObjectKind::Call,
                properties::call(call),
                associations,
                false,
            )
            .await?;
        tracing::info!(id = created.id.as_str(), step = %call.step_key, "logged HubSpot call");
        Ok(CrmId(created.id))
    }

    async fn update_call(&self, id: &CrmId, call: &CallLog) -> Result<(), ConnectorError> {
        let mut built = properties::call(call);
        // The call keeps the step key of the event that created it.
        built.remove("hs_call_external_id");
        self.patch(&target(ObjectKind::Call, id), &built).await
    }

    async fn create_task(&self, task: &NewTask) -> Result<CrmId, ConnectorError> {
        let built = properties::task(task, &self.config.step_key_property);
        let (built, guarded) = self
            .with_step_key(ObjectKind::Task, &task.step_key, built)
            .await?;
        let associations = properties::associations(&[
            (task.contact.as_ref(), association::TASK_TO_CONTACT),
            (task.deal.as_ref(), association::TASK_TO_DEAL),
        ]);
        let created = self
            .create_object(ObjectKind::Task, built, associations, guarded)
            .await?;
        tracing::info!(id = created.id.as_str(), step = %task.step_key, "created HubSpot task");
        Ok(CrmId(created.id))
    }

    async fn add_note(&self, note: &NewNote) -> Result<CrmId, ConnectorError> {
        let built = properties::note(note, &self.config.step_key_property);
        let (built, guarded) = self
            .with_step_key(ObjectKind::Note, &note.step_key, built)
            .await?;
        let associations = properties::associations(&[
            (note.contact.as_ref(), association::NOTE_TO_CONTACT),
            (note.deal.as_ref(), association::NOTE_TO_DEAL),
        ]);
        let created = self
            .create_object(ObjectKind::Note, built, associations, guarded)
            .await?;
        tracing::info!(id = created.id.as_str(), step = %note.step_key, "added HubSpot note");
        Ok(CrmId(created.id))
    }

    async fn update_properties(
        &self,
        object: &ObjectRef,
        properties: &BTreeMap<String, String>,
    ) -> Result<(), ConnectorError> {
        self.patch(object, properties).await
    }

    async fn set_owner(&self, object: &ObjectRef, owner: &OwnerId) -> Result<(), ConnectorError> {
        let properties = BTreeMap::from([("hubspot_owner_id".to_string(), owner.0.clone())]);
        self.patch(object, &properties).await
    }

    async fn resolve_owner(&self, owner: &OwnerSpec) -> Result<Option<OwnerId>, ConnectorError> {
        match owner {
            OwnerSpec::Email(email) => {
                let request = Request::get("read_owners", "/crm/v3/owners")
                    .query("email", email.clone())
                    .query("limit", "100");
                let body = self.client.send(&request).await?.unwrap_or_default();
                let page: Page<Owner> = model::decode("read_owners", &body)?;
                Ok(page
                    .results
                    .into_iter()
                    .filter(|o| !o.archived)
                    .find(|o| {
                        o.email
                            .as_deref()
                            .is_some_and(|e| e.eq_ignore_ascii_case(email))
                    })
                    .map(|o| OwnerId(o.id)))
            }
            OwnerSpec::Id(id) => {
                let request = Request::get("read_owner", format!("/crm/v3/owners/{id}"))
                    .query("idProperty", "id")
                    .absent_ok();
                match self.client.send(&request).await? {
                    Some(body) => {
                        let owner: Owner = model::decode("read_owner", &body)?;
                        Ok((!owner.archived).then_some(OwnerId(owner.id)))
                    }
                    None => Ok(None),
                }
            }
        }
    }

    async fn find_by_step_key(
        &self,
        kind: ObjectKind,
        key: &StepKey,
    ) -> Result<Option<CrmId>, ConnectorError> {
        if kind == ObjectKind::Call {
            return self
                .search_one(kind, "hs_call_external_id", key.as_str())
                .await;
        }
        match self.capabilities().await?.step_key(kind) {
            // A unique property can be read directly, which (unlike search)
            // sees a record the moment it is created.
            Some(StepKeyProperty { unique: true }) => {
                let request = Request::get(
                    "get_by_step_key",
                    format!("/crm/v3/objects/{}/{}", object_type(kind), key),
                )
                .query("idProperty", self.config.step_key_property.clone())
                .query("properties", "hs_object_id")
                .absent_ok();
                match self.client.send(&request).await? {
                    Some(body) => {
                        let object: HubObject = model::decode("get_by_step_key", &body)?;
                        Ok(Some(CrmId(object.id)))
                    }
                    None => Ok(None),
                }
            }
            Some(StepKeyProperty { unique: false }) => {
                self.search_one(kind, &self.config.step_key_property, key.as_str())
                    .await
            }
            None => Ok(None),
        }
    }

    async fn health_check(&self) -> Result<HealthReport, ConnectorError> {
        let request = Request::get("read_owners", "/crm/v3/owners").query("limit", "1");
        self.client.send(&request).await?;
        let capabilities = self.capabilities().await?;
        let mut checks = vec![HealthCheck {
            name: "token".into(),
            ok: true,
            detail: "HubSpot accepts the token".into(),
        }];
        for kind in STEP_KEY_OBJECTS {
            let object = object_type(kind);
            let property = capabilities.step_keys.get(object);
            checks.push(HealthCheck {
                name: format!("{object}.{}", self.config.step_key_property),
                ok: property.is_some(),
                detail: match property {
                    Some(StepKeyProperty { unique: true }) => "present, unique".into(),
                    Some(StepKeyProperty { unique: false }) => "present".into(),
                    None => "missing: run `switchboard hubspot setup`".into(),
                },
            });
        }
        Ok(HealthReport { checks })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deal(id: &str, created: &str) -> HubObject {
        HubObject {
            id: id.into(),
            properties: BTreeMap::from([("createdate".to_string(), Some(created.to_string()))]),
            created_at: None,
        }
    }

    #[test]
    fn open_deals_come_newest_first_then_by_higher_id() {
        let mut deals = vec![
            deal("5", "2024-01-01T00:00:00.000Z"),
            deal("7", "2025-01-01T00:00:00.000Z"),
            deal("6", "2025-01-01T00:00:00.000Z"),
        ];
        newest_first(&mut deals);
        let ids: Vec<&str> = deals.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["7", "6", "5"]);
    }

    #[test]
    fn records_read_names_owners_and_closed_state() {
        let contact = HubObject {
            id: "1".into(),
            properties: BTreeMap::from([
                ("firstname".to_string(), Some("Ivan".to_string())),
                ("lastname".to_string(), None),
                ("hubspot_owner_id".to_string(), Some("".to_string())),
            ]),
            created_at: None,
        };
        assert_eq!(
            contact_record(contact),
            ContactRecord {
                id: CrmId("1".into()),
                owner: None,
                name: Some("Ivan".into())
            }
        );
        let closed = HubObject {
            id: "2".into(),
            properties: BTreeMap::from([("hs_is_closed".to_string(), Some("true".to_string()))]),
            created_at: None,
        };
        assert!(!deal_record(closed).is_open);
    }
}
