//! The `dry-run` connector: a CRM that only writes down what it was asked.
//!
//! `switchboard serve` without a CRM token runs with it, so an integrator can
//! point Ringostat at the service and watch the plans being carried out
//! before HubSpot is connected. It keeps what it "created" in memory and
//! answers lookups from it, so a second call from the same number is an
//! existing client, as it would be in a real CRM. Ids are synthetic
//! (`dry-contact-1`, ...).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::json;

use super::{
    CallLog, Connector, ConnectorError, ContactRecord, CrmId, DealRecord, HealthCheck,
    HealthReport, NewContact, NewDeal, NewNote, NewTask, ObjectKind, ObjectRef, OwnerId, StepKey,
};
use crate::phone::E164;
use crate::plan::OwnerSpec;

/// One operation the connector was asked to perform.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recorded {
    /// The trait method, e.g. `create_contact`.
    pub operation: &'static str,
    /// The object it created or changed, if any.
    pub target: Option<ObjectRef>,
    /// The request, as JSON.
    pub detail: serde_json::Value,
}

#[derive(Default)]
struct Memory {
    next_id: u64,
    contacts: BTreeMap<CrmId, (E164, ContactRecord)>,
    deals: BTreeMap<CrmId, (CrmId, DealRecord)>,
    step_keys: HashMap<(ObjectKind, StepKey), CrmId>,
    recorded: Vec<Recorded>,
}

impl Memory {
    fn new_id(&mut self, kind: ObjectKind) -> CrmId {
        self.next_id += 1;
        CrmId(format!("dry-{kind}-{}", self.next_id))
    }

    fn record(
        &mut self,
        operation: &'static str,
        target: Option<ObjectRef>,
        detail: impl Serialize,
    ) {
        let detail = serde_json::to_value(detail).unwrap_or(serde_json::Value::Null);
        metrics::counter!(
            "switchboard_crm_requests_total",
            "connector" => DryRunConnector::NAME,
            "operation" => operation,
            "outcome" => "ok"
        )
        .increment(1);
        tracing::info!(operation, target = ?target.as_ref().map(|t| &t.id), "dry-run: would call the CRM");
        self.recorded.push(Recorded {
            operation,
            target,
            detail,
        });
    }

    fn create(&mut self, kind: ObjectKind, key: &StepKey) -> CrmId {
        let id = self.new_id(kind);
        self.step_keys.insert((kind, key.clone()), id.clone());
        id
    }
}

/// A connector that records instead of calling a CRM.
#[derive(Default)]
pub struct DryRunConnector {
    memory: Mutex<Memory>,
}

impl DryRunConnector {
    pub const NAME: &'static str = "dry-run";

    pub fn new() -> DryRunConnector {
        DryRunConnector::default()
    }

    /// Everything it was asked to do, in order (lookups included).
    pub fn recorded(&self) -> Vec<Recorded> {
        self.memory().recorded.clone()
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        // A panic while holding the lock cannot leave the maps half-written
        // (every change is one insert), so a poisoned lock is still usable.
        self.memory
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

fn target(kind: ObjectKind, id: &CrmId) -> Option<ObjectRef> {
    Some(ObjectRef {
        kind,
        id: id.clone(),
    })
}

#[async_trait]
impl Connector for DryRunConnector {
    fn name(&self) -> &str {
        Self::NAME
    }

    async fn find_contact_by_phone(
        &self,
        phone: &E164,
    ) -> Result<Option<ContactRecord>, ConnectorError> {
        let mut memory = self.memory();
        memory.record("find_contact_by_phone", None, json!({ "phone": phone }));
        Ok(memory
            .contacts
            .values()
            .find(|(stored, _)| stored == phone)
            .map(|(_, contact)| contact.clone()))
    }

    async fn get_contact(&self, id: &CrmId) -> Result<Option<ContactRecord>, ConnectorError> {
        let mut memory = self.memory();
        memory.record("get_contact", target(ObjectKind::Contact, id), json!({}));
        Ok(memory.contacts.get(id).map(|(_, contact)| contact.clone()))
    }

    async fn create_contact(&self, contact: &NewContact) -> Result<ContactRecord, ConnectorError> {
        let mut memory = self.memory();
        let id = memory.create(ObjectKind::Contact, &contact.step_key);
        let record = ContactRecord {
            id: id.clone(),
            owner: contact.owner.clone(),
            name: Some(contact.name.clone()),
        };
        memory
            .contacts
            .insert(id.clone(), (contact.phone.clone(), record.clone()));
        memory.record("create_contact", target(ObjectKind::Contact, &id), contact);
        Ok(record)
    }

    async fn find_open_deals(&self, contact: &CrmId) -> Result<Vec<DealRecord>, ConnectorError> {
        let mut memory = self.memory();
        memory.record(
            "find_open_deals",
            target(ObjectKind::Contact, contact),
            json!({}),
        );
        // Ids grow with creation, so the highest id is the most recent deal.
        let mut deals: Vec<DealRecord> = memory
            .deals
            .values()
            .filter(|(owner, deal)| owner == contact && deal.is_open)
            .map(|(_, deal)| deal.clone())
            .collect();
        deals.reverse();
        Ok(deals)
    }

    async fn get_deal(&self, id: &CrmId) -> Result<Option<DealRecord>, ConnectorError> {
        let mut memory = self.memory();
        memory.record("get_deal", target(ObjectKind::Deal, id), json!({}));
        Ok(memory.deals.get(id).map(|(_, deal)| deal.clone()))
    }

    async fn create_deal(&self, deal: &NewDeal) -> Result<DealRecord, ConnectorError> {
        let mut memory = self.memory();
        let id = memory.create(ObjectKind::Deal, &deal.step_key);
        let record = DealRecord {
            id: id.clone(),
            owner: deal.owner.clone(),
            name: Some(deal.name.clone()),
            pipeline: Some(deal.pipeline.clone()),
            stage: Some(deal.stage.clone()),
            is_open: true,
        };
        memory
            .deals
            .insert(id.clone(), (deal.contact.clone(), record.clone()));
        memory.record("create_deal", target(ObjectKind::Deal, &id), deal);
        Ok(record)
    }

    async fn log_call(&self, call: &CallLog) -> Result<CrmId, ConnectorError> {
        let mut memory = self.memory();
        let id = memory.create(ObjectKind::Call, &call.step_key);
        memory.record("log_call", target(ObjectKind::Call, &id), call);
        Ok(id)
    }

    async fn update_call(&self, id: &CrmId, call: &CallLog) -> Result<(), ConnectorError> {
        self.memory()
            .record("update_call", target(ObjectKind::Call, id), call);
        Ok(())
    }

    async fn create_task(&self, task: &NewTask) -> Result<CrmId, ConnectorError> {
        let mut memory = self.memory();
        let id = memory.create(ObjectKind::Task, &task.step_key);
        memory.record("create_task", target(ObjectKind::Task, &id), task);
        Ok(id)
    }

    async fn add_note(&self, note: &NewNote) -> Result<CrmId, ConnectorError> {
        let mut memory = self.memory();
        let id = memory.create(ObjectKind::Note, &note.step_key);
        memory.record("add_note", target(ObjectKind::Note, &id), note);
        Ok(id)
    }

    async fn update_properties(
        &self,
        object: &ObjectRef,
        properties: &BTreeMap<String, String>,
    ) -> Result<(), ConnectorError> {
        self.memory()
            .record("update_properties", Some(object.clone()), properties);
        Ok(())
    }

    async fn set_owner(&self, object: &ObjectRef, owner: &OwnerId) -> Result<(), ConnectorError> {
        let mut memory = self.memory();
        match object.kind {
            ObjectKind::Contact => {
                if let Some((_, contact)) = memory.contacts.get_mut(&object.id) {
                    contact.owner = Some(owner.clone());
                }
            }
            ObjectKind::Deal => {
                if let Some((_, deal)) = memory.deals.get_mut(&object.id) {
                    deal.owner = Some(owner.clone());
                }
            }
            _ => {}
        }
        memory.record("set_owner", Some(object.clone()), json!({ "owner": owner }));
        Ok(())
    }

    /// Every owner exists in a dry run: an id stands for itself, an email
    /// for `dry-owner:<email>`, so plans show who would own what.
    async fn resolve_owner(&self, owner: &OwnerSpec) -> Result<Option<OwnerId>, ConnectorError> {
        self.memory()
            .record("resolve_owner", None, json!({ "owner": owner }));
        Ok(Some(match owner {
            OwnerSpec::Id(id) => OwnerId(id.clone()),
            OwnerSpec::Email(email) => OwnerId(format!("dry-owner:{email}")),
        }))
    }

    async fn find_by_step_key(
        &self,
        kind: ObjectKind,
        key: &StepKey,
    ) -> Result<Option<CrmId>, ConnectorError> {
        let mut memory = self.memory();
        memory.record(
            "find_by_step_key",
            None,
            json!({ "kind": kind, "key": key }),
        );
        Ok(memory.step_keys.get(&(kind, key.clone())).cloned())
    }

    async fn health_check(&self) -> Result<HealthReport, ConnectorError> {
        Ok(HealthReport {
            checks: vec![HealthCheck {
                name: "connector".into(),
                ok: true,
                detail: "dry run: nothing is sent to a CRM".into(),
            }],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phone::Region;

    fn phone(raw: &str) -> E164 {
        E164::parse(raw, Region::default()).expect("valid number")
    }

    #[tokio::test]
    async fn remembers_what_it_created_and_records_every_request() {
        let crm = DryRunConnector::new();
        let number = phone("0671234567");
        assert_eq!(crm.find_contact_by_phone(&number).await, Ok(None));
        let contact = crm
            .create_contact(&NewContact {
                step_key: StepKey::new(1, 0, "contact"),
                phone: number.clone(),
                name: "+380 67 123 4567".into(),
                owner: None,
                properties: BTreeMap::new(),
            })
            .await
            .expect("created");
        assert_eq!(
            crm.find_contact_by_phone(&phone("+380 (67) 123-45-67"))
                .await,
            Ok(Some(contact.clone()))
        );
        let deal = crm
            .create_deal(&NewDeal {
                step_key: StepKey::new(1, 1, "deal"),
                name: "Call from +380 67 123 4567".into(),
                pipeline: "default".into(),
                stage: "appointmentscheduled".into(),
                owner: Some(OwnerId("7".into())),
                properties: BTreeMap::new(),
                contact: contact.id.clone(),
            })
            .await
            .expect("created");
        assert_eq!(
            crm.find_open_deals(&contact.id).await,
            Ok(vec![deal.clone()])
        );
        assert_eq!(
            crm.find_by_step_key(ObjectKind::Deal, &StepKey::new(1, 1, "deal"))
                .await,
            Ok(Some(deal.id.clone()))
        );
        assert_eq!(
            crm.find_by_step_key(ObjectKind::Contact, &StepKey::new(1, 1, "deal"))
                .await,
            Ok(None)
        );

        let operations: Vec<&str> = crm.recorded().iter().map(|r| r.operation).collect();
        assert_eq!(
            operations,
            [
                "find_contact_by_phone",
                "create_contact",
                "find_contact_by_phone",
                "create_deal",
                "find_open_deals",
                "find_by_step_key",
                "find_by_step_key"
            ]
        );
        let created = &crm.recorded()[1];
        assert_eq!(created.detail["phone"], "+380671234567");
        assert_eq!(
            created.target.as_ref().map(|t| t.kind),
            Some(ObjectKind::Contact)
        );
    }
}
