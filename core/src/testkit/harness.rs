//! What the conformance suite needs from a connector's test fake.
//!
//! A plugin implements [`Harness`] over its own fake CRM: it hands out the
//! connector under test (pointed at the fake), seeds data the way a person
//! would have typed it into the CRM, reads back what exists, and injects
//! the failures a real CRM has.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::connector::{Connector, CrmId, ObjectKind, ObjectRef, OwnerId};

#[async_trait]
pub trait Harness: Send + Sync {
    /// The connector under test, talking to this harness's fake.
    fn connector(&self) -> Arc<dyn Connector>;

    /// The longest the fake's search takes to show a new record; the suite
    /// polls lookups that go through search at most this long (plus margin).
    fn search_lag(&self) -> Duration;

    /// A contact whose phone was typed exactly as `phone` (`067 123 45 67`),
    /// already visible to search.
    async fn seed_contact(&self, phone: &str, name: &str, created_at: DateTime<Utc>) -> CrmId;

    /// A contact whose *mobile* number was typed as `mobile`.
    async fn seed_mobile_contact(&self, mobile: &str, name: &str) -> CrmId;

    /// A deal of `contact`, open or closed (lost), created at `created_at`.
    async fn seed_deal(
        &self,
        contact: &CrmId,
        name: &str,
        open: bool,
        created_at: DateTime<Utc>,
    ) -> CrmId;

    /// An active CRM user; returns the owner id the connector should resolve.
    async fn seed_owner(&self, email: &str) -> OwnerId;

    /// Deletes a record, as a merge or a user would.
    async fn delete(&self, kind: ObjectKind, id: &CrmId);

    /// How many records of a kind exist.
    async fn count(&self, kind: ObjectKind) -> usize;

    /// The records an object is associated with.
    async fn linked(&self, kind: ObjectKind, id: &CrmId) -> Vec<ObjectRef>;

    /// The next `requests` requests fail with a server error (5xx).
    async fn fail_next(&self, requests: usize);

    /// The next `requests` requests hit the CRM's short-term rate limit.
    async fn rate_limit_next(&self, requests: usize);

    /// The next `requests` requests are carried out but answered only
    /// after `delay` (longer than the connector's timeout: a lost answer).
    async fn answer_late(&self, requests: usize, delay: Duration);

    /// The connector's credentials stop working (revoked token).
    async fn revoke_credentials(&self);
}
