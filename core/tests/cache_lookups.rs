//! The lookup cache in front of a CRM whose search lags behind its writes,
//! answers slowly and fails on demand.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::join_all;
use switchboard_core::cache::{CacheSettings, LookupCache};
use switchboard_core::connector::dry_run::DryRunConnector;
use switchboard_core::connector::{
    CallLog, Connector, ConnectorError, ContactRecord, CrmId, DealRecord, HealthReport, NewContact,
    NewDeal, NewNote, NewTask, ObjectKind, ObjectRef, OwnerId, StepKey,
};
use switchboard_core::phone::{E164, Region};
use switchboard_core::plan::OwnerSpec;

/// An in-memory CRM (the dry-run connector) whose search never sees its own
/// writes unless told to, whose reads take a while (so concurrent callers
/// really overlap), and which fails the next N requests on demand.
struct LaggingCrm {
    inner: DryRunConnector,
    search_sees_writes: AtomicBool,
    failures_left: AtomicUsize,
    conflict_with: std::sync::Mutex<Option<CrmId>>,
    latency: Duration,
}

impl LaggingCrm {
    fn new() -> Arc<LaggingCrm> {
        Arc::new(LaggingCrm {
            inner: DryRunConnector::new(),
            search_sees_writes: AtomicBool::new(false),
            failures_left: AtomicUsize::new(0),
            conflict_with: std::sync::Mutex::new(None),
            latency: Duration::from_millis(30),
        })
    }

    fn count(&self, operation: &str) -> usize {
        self.inner
            .recorded()
            .iter()
            .filter(|r| r.operation == operation)
            .count()
    }

    async fn answer(&self) -> Result<(), ConnectorError> {
        tokio::time::sleep(self.latency).await;
        let failing = self
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            Err(ConnectorError::Transient {
                message: "HTTP 502".into(),
                retry_after: None,
            })
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Connector for LaggingCrm {
    fn name(&self) -> &str {
        "lagging"
    }
    async fn find_contact_by_phone(
        &self,
        phone: &E164,
    ) -> Result<Option<ContactRecord>, ConnectorError> {
        self.answer().await?;
        let found = self.inner.find_contact_by_phone(phone).await?;
        Ok(found.filter(|_| self.search_sees_writes.load(Ordering::SeqCst)))
    }
    async fn get_contact(&self, id: &CrmId) -> Result<Option<ContactRecord>, ConnectorError> {
        self.answer().await?;
        self.inner.get_contact(id).await
    }
    async fn create_contact(&self, contact: &NewContact) -> Result<ContactRecord, ConnectorError> {
        self.answer().await?;
        let conflict = self
            .conflict_with
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(existing) = conflict {
            return Err(ConnectorError::Conflict {
                existing,
                message: "already exists".into(),
            });
        }
        self.inner.create_contact(contact).await
    }
    async fn find_open_deals(&self, contact: &CrmId) -> Result<Vec<DealRecord>, ConnectorError> {
        self.answer().await?;
        let deals = self.inner.find_open_deals(contact).await?;
        Ok(if self.search_sees_writes.load(Ordering::SeqCst) {
            deals
        } else {
            Vec::new()
        })
    }
    async fn get_deal(&self, id: &CrmId) -> Result<Option<DealRecord>, ConnectorError> {
        self.answer().await?;
        self.inner.get_deal(id).await
    }
    async fn create_deal(&self, deal: &NewDeal) -> Result<DealRecord, ConnectorError> {
        self.answer().await?;
        self.inner.create_deal(deal).await
    }
    async fn log_call(&self, call: &CallLog) -> Result<CrmId, ConnectorError> {
        self.inner.log_call(call).await
    }
    async fn update_call(&self, id: &CrmId, call: &CallLog) -> Result<(), ConnectorError> {
        self.inner.update_call(id, call).await
    }
    async fn create_task(&self, task: &NewTask) -> Result<CrmId, ConnectorError> {
        self.inner.create_task(task).await
    }
    async fn add_note(&self, note: &NewNote) -> Result<CrmId, ConnectorError> {
        self.inner.add_note(note).await
    }
    async fn update_properties(
        &self,
        target: &ObjectRef,
        properties: &BTreeMap<String, String>,
    ) -> Result<(), ConnectorError> {
        self.inner.update_properties(target, properties).await
    }
    async fn set_owner(&self, target: &ObjectRef, owner: &OwnerId) -> Result<(), ConnectorError> {
        self.inner.set_owner(target, owner).await
    }
    async fn resolve_owner(&self, owner: &OwnerSpec) -> Result<Option<OwnerId>, ConnectorError> {
        self.answer().await?;
        self.inner.resolve_owner(owner).await
    }
    async fn find_by_step_key(
        &self,
        kind: ObjectKind,
        key: &StepKey,
    ) -> Result<Option<CrmId>, ConnectorError> {
        self.inner.find_by_step_key(kind, key).await
    }
    async fn health_check(&self) -> Result<HealthReport, ConnectorError> {
        self.inner.health_check().await
    }
}

fn phone(raw: &str) -> E164 {
    E164::parse(raw, Region::default()).expect("valid number")
}

fn new_contact(number: &E164, step: usize) -> NewContact {
    NewContact {
        step_key: StepKey::new(1, step, "contact"),
        phone: number.clone(),
        name: number.international_format(),
        owner: None,
        properties: BTreeMap::new(),
    }
}

fn new_deal(contact: &CrmId, step: usize) -> NewDeal {
    NewDeal {
        step_key: StepKey::new(1, step, "deal"),
        name: "Call from a client".into(),
        pipeline: "default".into(),
        stage: "appointmentscheduled".into(),
        owner: None,
        properties: BTreeMap::new(),
        contact: contact.clone(),
    }
}

fn cache(crm: &Arc<LaggingCrm>) -> LookupCache {
    LookupCache::new(crm.clone(), CacheSettings::default())
}

#[tokio::test]
async fn ten_concurrent_callers_for_a_new_number_create_one_contact_and_one_deal() {
    let crm = LaggingCrm::new();
    let cache = cache(&crm);
    let number = phone("0671234567");

    let outcomes = join_all((0..10).map(|caller| {
        let cache = cache.clone();
        let number = number.clone();
        async move {
            let contact = cache
                .find_or_create_contact(&number, || new_contact(&number, caller))
                .await?;
            let deal = cache
                .find_or_create_deal(&contact.record.id, || new_deal(&contact.record.id, caller))
                .await?;
            Ok::<_, ConnectorError>((contact, deal))
        }
    }))
    .await;

    let outcomes: Vec<_> = outcomes
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("every caller succeeds");
    assert_eq!(crm.count("create_contact"), 1);
    assert_eq!(crm.count("create_deal"), 1);
    assert_eq!(
        crm.count("find_contact_by_phone"),
        1,
        "one search for ten callers"
    );
    let first = &outcomes[0];
    assert!(
        outcomes
            .iter()
            .all(|(c, d)| c.record == first.0.record && d.record == first.1.record)
    );
    assert_eq!(outcomes.iter().filter(|(c, _)| c.created).count(), 1);
    assert_eq!(outcomes.iter().filter(|(_, d)| d.created).count(), 1);
}

#[tokio::test]
async fn created_records_are_found_while_search_cannot_see_them_yet() {
    let crm = LaggingCrm::new();
    let cache = cache(&crm);
    let number = phone("+380 (50) 111-22-33");

    let created = cache
        .find_or_create_contact(&number, || new_contact(&number, 0))
        .await
        .expect("created");
    assert!(created.created);
    let deal = cache
        .find_or_create_deal(&created.record.id, || new_deal(&created.record.id, 1))
        .await
        .expect("created");
    let searches = crm.count("find_contact_by_phone");

    // The CRM's search still does not show them; the cache does.
    assert_eq!(crm.find_contact_by_phone(&number).await, Ok(None));
    assert_eq!(
        cache.find_contact(&phone("0501112233")).await,
        Ok(Some(created.record.clone()))
    );
    assert_eq!(
        cache.find_open_deal(&created.record.id).await,
        Ok(Some(deal.record.clone()))
    );
    let again = cache
        .find_or_create_contact(&number, || new_contact(&number, 2))
        .await
        .expect("found");
    assert!(!again.created);
    assert_eq!(again.record, created.record);
    assert_eq!(crm.count("create_contact"), 1);
    assert_eq!(
        crm.count("find_contact_by_phone"),
        searches + 1,
        "only the direct probe above"
    );
}

#[tokio::test]
async fn failures_and_absences_are_not_cached() {
    let crm = LaggingCrm::new();
    let cache = cache(&crm);
    let number = phone("0931234567");

    crm.failures_left.store(1, Ordering::SeqCst);
    let failed = cache
        .find_or_create_contact(&number, || new_contact(&number, 0))
        .await;
    assert!(
        matches!(failed, Err(ConnectorError::Transient { .. })),
        "{failed:?}"
    );
    assert_eq!(crm.count("create_contact"), 0);

    assert_eq!(cache.find_contact(&number).await, Ok(None));
    assert_eq!(cache.find_contact(&number).await, Ok(None));
    assert_eq!(
        crm.count("find_contact_by_phone"),
        2,
        "absence is asked again"
    );

    let created = cache
        .find_or_create_contact(&number, || new_contact(&number, 1))
        .await
        .expect("the retry goes to the CRM again");
    assert!(created.created);
    assert_eq!(crm.count("create_contact"), 1);
}

#[tokio::test]
async fn a_forgotten_contact_is_resolved_again() {
    let crm = LaggingCrm::new();
    crm.search_sees_writes.store(true, Ordering::SeqCst);
    let cache = cache(&crm);
    let number = phone("0671112233");

    let first = crm
        .create_contact(&new_contact(&number, 0))
        .await
        .expect("seeded");
    assert_eq!(cache.find_contact(&number).await, Ok(Some(first.clone())));
    let deal = crm
        .create_deal(&new_deal(&first.id, 1))
        .await
        .expect("seeded");
    assert_eq!(
        cache.find_open_deal(&first.id).await,
        Ok(Some(deal.clone()))
    );
    let searches = crm.count("find_contact_by_phone");
    assert_eq!(cache.find_contact(&number).await, Ok(Some(first.clone())));
    assert_eq!(
        crm.count("find_contact_by_phone"),
        searches,
        "served from cache"
    );

    cache.forget_contact(&first.id).await;
    assert_eq!(cache.find_contact(&number).await, Ok(Some(first.clone())));
    assert_eq!(
        crm.count("find_contact_by_phone"),
        searches + 1,
        "asked the CRM again"
    );
    let deal_lookups = crm.count("find_open_deals");
    assert_eq!(
        cache.find_open_deal(&first.id).await,
        Ok(Some(deal.clone()))
    );
    assert_eq!(
        crm.count("find_open_deals"),
        deal_lookups + 1,
        "the deal went with it"
    );

    cache.forget_deal(&deal.id).await;
    assert_eq!(cache.find_open_deal(&first.id).await, Ok(Some(deal)));
    assert_eq!(crm.count("find_open_deals"), deal_lookups + 2);
}

#[tokio::test]
async fn a_conflicting_create_resolves_to_the_existing_contact() {
    let crm = LaggingCrm::new();
    let cache = cache(&crm);
    let number = phone("0671234500");
    let existing = crm
        .inner
        .create_contact(&new_contact(&number, 0))
        .await
        .expect("seeded");
    *crm.conflict_with.lock().expect("lock") = Some(existing.id.clone());

    let resolved = cache
        .find_or_create_contact(&number, || new_contact(&number, 1))
        .await
        .expect("resolved through the conflict");
    assert_eq!(resolved.record, existing);
    assert!(!resolved.created);
}

#[tokio::test]
async fn owners_are_resolved_once_and_can_be_forgotten() {
    let crm = LaggingCrm::new();
    let cache = cache(&crm);
    let boss = OwnerSpec::parse("boss@acme.ua");

    let owners = join_all((0..5).map(|_| cache.resolve_owner(&boss))).await;
    assert!(
        owners
            .iter()
            .all(|o| o == &Ok(Some(OwnerId("dry-owner:boss@acme.ua".into()))))
    );
    assert_eq!(crm.count("resolve_owner"), 1);

    cache.forget_owner(&boss).await;
    assert!(cache.resolve_owner(&boss).await.is_ok());
    assert_eq!(crm.count("resolve_owner"), 2);
}
