//! The lookup cache: read-your-writes and single flight in front of the CRM.
//!
//! CRM search is slow, rate-limited and eventually consistent: HubSpot does
//! not show a new contact in search for seconds. So every lookup the executor
//! makes (phone → contact, contact → open deal, owner spec → owner id) goes
//! through here first, and every id the connector creates is cached at once.
//!
//! Find-or-create runs one loader per key, however many callers ask at the
//! same time (moka's `or_try_insert_with`): two events for the same new
//! number that arrive together produce one contact and one deal. Failures
//! are never cached, and "not found" is never cached either, because it is
//! followed by a create. An id the CRM no longer has (merged, deleted) is
//! dropped with [`LookupCache::forget_contact`] / [`LookupCache::forget_deal`]
//! and resolved again on the next lookup.
//!
//! Entries are kept in a compact form ([`CachedContact`], [`CachedDeal`]):
//! CRM ids, owner ids, names and stages are short, so they are stored inline
//! instead of in one heap allocation each. That is what lets 100,000 cached
//! clients fit in the service's memory budget; callers only ever see the
//! connector's record types.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use compact_str::CompactString;
use moka::future::Cache;

use crate::connector::{
    Connector, ConnectorError, ContactRecord, CrmId, DealRecord, NewContact, NewDeal, OwnerId,
};
use crate::phone::E164;
use crate::plan::OwnerSpec;

/// How long entries live and how many each cache holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    pub ttl: Duration,
    pub capacity: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            ttl: Duration::from_secs(15 * 60),
            capacity: 100_000,
        }
    }
}

/// A record found or created through the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved<T> {
    pub record: T,
    /// True when this very call created it in the CRM.
    pub created: bool,
}

/// What a loader ends with when there is nothing to cache.
enum Miss {
    Absent,
    Failed(ConnectorError),
}

impl From<ConnectorError> for Miss {
    fn from(error: ConnectorError) -> Self {
        Miss::Failed(error)
    }
}

/// The lookup cache, wrapping the connector it reads through.
#[derive(Clone)]
pub struct LookupCache {
    connector: Arc<dyn Connector>,
    /// Keyed by the number in E.164.
    contacts: Cache<CompactString, CachedContact>,
    /// Keyed by the contact's CRM id.
    open_deals: Cache<CompactString, CachedDeal>,
    owners: Cache<OwnerSpec, OwnerId>,
}

impl LookupCache {
    pub fn new(connector: Arc<dyn Connector>, settings: CacheSettings) -> LookupCache {
        fn build<K, V>(settings: CacheSettings) -> Cache<K, V>
        where
            K: std::hash::Hash + Eq + Send + Sync + 'static,
            V: Clone + Send + Sync + 'static,
        {
            Cache::builder()
                .max_capacity(settings.capacity)
                .time_to_live(settings.ttl)
                .build()
        }
        LookupCache {
            connector,
            contacts: build(settings),
            open_deals: build(settings),
            owners: build(settings),
        }
    }

    /// The connector behind the cache, for the operations it does not cache.
    pub fn connector(&self) -> &Arc<dyn Connector> {
        &self.connector
    }

    /// The client's contact, from the cache or the CRM.
    pub async fn find_contact(
        &self,
        phone: &E164,
    ) -> Result<Option<ContactRecord>, ConnectorError> {
        let loader = async {
            match self.connector.find_contact_by_phone(phone).await? {
                Some(contact) => Ok(CachedContact::from(contact)),
                None => Err(Miss::Absent),
            }
        };
        let outcome = self
            .contacts
            .entry(phone_key(phone))
            .or_try_insert_with(loader)
            .await;
        Ok(settle("contact", outcome)?.map(ContactRecord::from))
    }

    /// The client's contact, created with `new()` when the CRM has none.
    /// Concurrent callers for the same number share one lookup and one create.
    pub async fn find_or_create_contact(
        &self,
        phone: &E164,
        new: impl FnOnce() -> NewContact,
    ) -> Result<Resolved<ContactRecord>, ConnectorError> {
        let created = AtomicBool::new(false);
        let loader = async {
            if let Some(contact) = self.connector.find_contact_by_phone(phone).await? {
                return Ok(CachedContact::from(contact));
            }
            match self.connector.create_contact(&new()).await {
                Ok(contact) => {
                    created.store(true, Ordering::Relaxed);
                    Ok(CachedContact::from(contact))
                }
                Err(ConnectorError::Conflict { existing, message }) => {
                    match self.connector.get_contact(&existing).await? {
                        Some(contact) => Ok(CachedContact::from(contact)),
                        None => Err(ConnectorError::Conflict { existing, message }),
                    }
                }
                Err(error) => Err(error),
            }
        };
        let outcome = self
            .contacts
            .entry(phone_key(phone))
            .or_try_insert_with(loader)
            .await;
        let record = ContactRecord::from(settle_creation("contact", outcome)?);
        Ok(Resolved {
            record,
            created: created.load(Ordering::Relaxed),
        })
    }

    /// The contact's open deal (the most recent one), from the cache or the CRM.
    pub async fn find_open_deal(
        &self,
        contact: &CrmId,
    ) -> Result<Option<DealRecord>, ConnectorError> {
        let loader = async {
            let deals = self.connector.find_open_deals(contact).await?;
            let deal = deals.into_iter().next().ok_or(Miss::Absent)?;
            Ok(CachedDeal::from(deal))
        };
        let outcome = self
            .open_deals
            .entry(id_key(contact))
            .or_try_insert_with(loader)
            .await;
        Ok(settle("deal", outcome)?.map(DealRecord::from))
    }

    /// The contact's open deal, created with `new()` when it has none.
    /// Concurrent callers for the same contact share one lookup and one create.
    pub async fn find_or_create_deal(
        &self,
        contact: &CrmId,
        new: impl FnOnce() -> NewDeal,
    ) -> Result<Resolved<DealRecord>, ConnectorError> {
        let created = AtomicBool::new(false);
        let loader = async {
            if let Some(deal) = self
                .connector
                .find_open_deals(contact)
                .await?
                .into_iter()
                .next()
            {
                return Ok(CachedDeal::from(deal));
            }
            match self.connector.create_deal(&new()).await {
                Ok(deal) => {
                    created.store(true, Ordering::Relaxed);
                    Ok(CachedDeal::from(deal))
                }
                Err(ConnectorError::Conflict { existing, message }) => {
                    match self.connector.get_deal(&existing).await? {
                        Some(deal) => Ok(CachedDeal::from(deal)),
                        None => Err(ConnectorError::Conflict { existing, message }),
                    }
                }
                Err(error) => Err(error),
            }
        };
        let outcome = self
            .open_deals
            .entry(id_key(contact))
            .or_try_insert_with(loader)
            .await;
        let record = DealRecord::from(settle_creation("deal", outcome)?);
        Ok(Resolved {
            record,
            created: created.load(Ordering::Relaxed),
        })
    }

    /// The CRM owner id for an owner named in the rules; `None` when the CRM
    /// has no such owner (not cached, so a newly added owner is seen at once).
    pub async fn resolve_owner(&self, spec: &OwnerSpec) -> Result<Option<OwnerId>, ConnectorError> {
        let loader = async {
            self.connector
                .resolve_owner(spec)
                .await?
                .ok_or(Miss::Absent)
        };
        settle(
            "owner",
            self.owners
                .entry_by_ref(spec)
                .or_try_insert_with(loader)
                .await,
        )
    }

    /// The client's contact if the cache holds it, without asking the CRM
    /// (the executor then tries its stored links before a search).
    pub async fn cached_contact(&self, phone: &E164) -> Option<ContactRecord> {
        let cached = self.contacts.get(&phone_key(phone)).await;
        if cached.is_some() {
            metrics::counter!("switchboard_cache_lookups_total", "cache" => "contact", "result" => "hit")
                .increment(1);
        }
        cached.map(ContactRecord::from)
    }

    /// The contact's open deal if the cache holds it, without asking the CRM.
    pub async fn cached_open_deal(&self, contact: &CrmId) -> Option<DealRecord> {
        let cached = self.open_deals.get(&id_key(contact)).await;
        if cached.is_some() {
            metrics::counter!("switchboard_cache_lookups_total", "cache" => "deal", "result" => "hit")
                .increment(1);
        }
        cached.map(DealRecord::from)
    }

    /// Caches a contact the executor created or found some other way.
    pub async fn remember_contact(&self, phone: &E164, contact: ContactRecord) {
        self.contacts
            .insert(phone_key(phone), CachedContact::from(contact))
            .await;
    }

    /// Caches a deal as the contact's open deal.
    pub async fn remember_open_deal(&self, contact: &CrmId, deal: DealRecord) {
        self.open_deals
            .insert(id_key(contact), CachedDeal::from(deal))
            .await;
    }

    /// Drops a contact id the CRM no longer has, with the open deal cached
    /// for it; the next lookup asks the CRM again.
    pub async fn forget_contact(&self, id: &CrmId) {
        let phones: Vec<Arc<CompactString>> = self
            .contacts
            .iter()
            .filter(|(_, contact)| contact.id == id.0)
            .map(|(phone, _)| phone)
            .collect();
        for phone in phones {
            self.contacts.invalidate(phone.as_ref()).await;
        }
        self.open_deals.invalidate(&id_key(id)).await;
    }

    /// Drops a deal id the CRM no longer has (or that is no longer open).
    pub async fn forget_deal(&self, id: &CrmId) {
        let contacts: Vec<Arc<CompactString>> = self
            .open_deals
            .iter()
            .filter(|(_, deal)| deal.id == id.0)
            .map(|(contact, _)| contact)
            .collect();
        for contact in contacts {
            self.open_deals.invalidate(contact.as_ref()).await;
        }
    }

    /// Drops an owner id the CRM no longer has.
    pub async fn forget_owner(&self, spec: &OwnerSpec) {
        self.owners.invalidate(spec).await;
    }
}

fn phone_key(phone: &E164) -> CompactString {
    CompactString::from(phone.as_str())
}

fn id_key(id: &CrmId) -> CompactString {
    CompactString::from(id.0.as_str())
}

/// A [`ContactRecord`] as the cache keeps it.
#[derive(Debug, Clone)]
struct CachedContact {
    id: CompactString,
    owner: Option<CompactString>,
    name: Option<CompactString>,
}

impl From<ContactRecord> for CachedContact {
    fn from(contact: ContactRecord) -> Self {
        CachedContact {
            id: contact.id.0.into(),
            owner: contact.owner.map(|owner| owner.0.into()),
            name: contact.name.map(CompactString::from),
        }
    }
}

impl From<CachedContact> for ContactRecord {
    fn from(cached: CachedContact) -> Self {
        ContactRecord {
            id: CrmId(cached.id.into()),
            owner: cached.owner.map(|owner| OwnerId(owner.into())),
            name: cached.name.map(String::from),
        }
    }
}

/// A [`DealRecord`] as the cache keeps it.
#[derive(Debug, Clone)]
struct CachedDeal {
    id: CompactString,
    owner: Option<CompactString>,
    name: Option<CompactString>,
    pipeline: Option<CompactString>,
    stage: Option<CompactString>,
    is_open: bool,
}

impl From<DealRecord> for CachedDeal {
    fn from(deal: DealRecord) -> Self {
        CachedDeal {
            id: deal.id.0.into(),
            owner: deal.owner.map(|owner| owner.0.into()),
            name: deal.name.map(CompactString::from),
            pipeline: deal.pipeline.map(CompactString::from),
            stage: deal.stage.map(CompactString::from),
            is_open: deal.is_open,
        }
    }
}

impl From<CachedDeal> for DealRecord {
    fn from(cached: CachedDeal) -> Self {
        DealRecord {
            id: CrmId(cached.id.into()),
            owner: cached.owner.map(|owner| OwnerId(owner.into())),
            name: cached.name.map(String::from),
            pipeline: cached.pipeline.map(String::from),
            stage: cached.stage.map(String::from),
            is_open: cached.is_open,
        }
    }
}

/// Turns a lookup's outcome into the caller's answer, counting hits
/// (answered without a request of this caller's), misses, absences and
/// errors.
fn settle<K, V>(
    cache: &'static str,
    outcome: Result<moka::Entry<K, V>, Arc<Miss>>,
) -> Result<Option<V>, ConnectorError> {
    let result = match &outcome {
        Ok(entry) if !entry.is_fresh() => "hit",
        Ok(_) => "miss",
        Err(miss) => match miss.as_ref() {
            Miss::Absent => "absent",
            Miss::Failed(_) => "error",
        },
    };
    metrics::counter!("switchboard_cache_lookups_total", "cache" => cache, "result" => result)
        .increment(1);
    match outcome {
        Ok(entry) => Ok(Some(entry.into_value())),
        Err(miss) => match miss.as_ref() {
            Miss::Absent => Ok(None),
            Miss::Failed(error) => Err(error.clone()),
        },
    }
}

/// Like [`settle`], for find-or-create loaders, which end with a record or
/// an error. Their error type differs from the lookups' on purpose: moka
/// coalesces concurrent loaders per key *and* error type, so a plain lookup
/// that ends "absent" is never handed to a caller that wanted a create.
fn settle_creation<K, V>(
    cache: &'static str,
    outcome: Result<moka::Entry<K, V>, Arc<ConnectorError>>,
) -> Result<V, ConnectorError> {
    let result = match &outcome {
        Ok(entry) if !entry.is_fresh() => "hit",
        Ok(_) => "miss",
        Err(_) => "error",
    };
    metrics::counter!("switchboard_cache_lookups_total", "cache" => cache, "result" => result)
        .increment(1);
    outcome
        .map(moka::Entry::into_value)
        .map_err(|error| error.as_ref().clone())
}
