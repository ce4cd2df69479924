//! What the fake HubSpot holds, read the way the assertions speak: the
//! contacts of a number, what an object is associated with, what an event
//! created (found by the step key written into each object).

use std::collections::BTreeMap;

use super::calls::Call;

use switchboard_core::phone::{E164, Region};
use switchboard_hubspot::fake::{FakeHubSpot, FakeObject};

use super::world::World;

/// The contact property `switchboard hubspot setup` creates for step keys
/// (calls carry theirs in `hs_call_external_id`).
pub const STEP_KEY_PROPERTY: &str = "switchboard_step_key";

/// HubSpot's association type ids (DESIGN §5, reference §2.3).
pub mod association {
    pub const DEAL_TO_CONTACT: u32 = 3;
    pub const CONTACT_TO_DEAL: u32 = 4;
    pub const CALL_TO_CONTACT: u32 = 194;
    pub const CALL_TO_DEAL: u32 = 206;
    pub const TASK_TO_CONTACT: u32 = 204;
    pub const TASK_TO_DEAL: u32 = 216;
    pub const NOTE_TO_CONTACT: u32 = 202;
    pub const NOTE_TO_DEAL: u32 = 214;
}

/// A read-only view of the fake's records.
pub struct Crm<'a> {
    fake: &'a FakeHubSpot,
}

impl World {
    pub fn crm(&self) -> Crm<'_> {
        Crm { fake: &self.fake }
    }
}

/// `380671234567` → `+380671234567`.
pub fn e164(raw: &str) -> E164 {
    E164::parse(raw, Region::default()).unwrap_or_else(|e| panic!("{raw}: {e}"))
}

impl Crm<'_> {
    /// Live objects of a type, oldest first.
    pub fn all(&self, object_type: &str) -> Vec<FakeObject> {
        let mut objects = self.fake.objects(object_type);
        objects.sort_by_key(|o| o.id.parse::<u64>().unwrap_or(u64::MAX));
        objects
    }

    pub fn count(&self, object_type: &str) -> usize {
        self.fake.count(object_type)
    }

    pub fn get(&self, object_type: &str, id: &str) -> FakeObject {
        self.fake
            .object(object_type, id)
            .unwrap_or_else(|| panic!("no {object_type} {id}"))
    }

    /// Contacts whose `phone` or `mobilephone`, in whatever format it was
    /// typed, is this number.
    pub fn contacts_of(&self, phone: &E164) -> Vec<FakeObject> {
        self.all("contacts")
            .into_iter()
            .filter(|c| {
                ["phone", "mobilephone"].iter().any(|p| {
                    c.property(p)
                        .and_then(|raw| E164::parse(raw, Region::default()).ok())
                        .is_some_and(|n| &n == phone)
                })
            })
            .collect()
    }

    /// The one contact of a number (fails on none or several).
    pub fn the_contact(&self, phone: &E164) -> FakeObject {
        let contacts = self.contacts_of(phone);
        assert_eq!(
            contacts.len(),
            1,
            "contacts of {phone:?}: {contacts:#?}\n{}",
            self.summary()
        );
        contacts.into_iter().next().expect("one")
    }

    /// Ids of `to_type` objects `object_type`/`id` is associated with, and
    /// the association type of each.
    pub fn links(&self, object_type: &str, id: &str, to_type: &str) -> BTreeMap<String, u32> {
        self.fake
            .associations(object_type, id)
            .into_iter()
            .filter(|a| a.to_type == to_type)
            .map(|a| (a.to_id, a.type_id))
            .collect()
    }

    /// Objects of a type associated with `object_type`/`id`.
    pub fn linked(&self, object_type: &str, id: &str, to_type: &str) -> Vec<FakeObject> {
        self.links(object_type, id, to_type)
            .keys()
            .filter_map(|to| self.fake.object(to_type, to))
            .filter(|o| !o.archived)
            .collect()
    }

    /// Objects a given inbox event created: their step key starts with
    /// `sb-<event id>-`.
    pub fn created_by(&self, object_type: &str, event_id: i64) -> Vec<FakeObject> {
        let property = if object_type == "calls" {
            "hs_call_external_id"
        } else {
            STEP_KEY_PROPERTY
        };
        let prefix = format!("sb-{event_id}-");
        self.all(object_type)
            .into_iter()
            .filter(|o| o.property(property).is_some_and(|k| k.starts_with(&prefix)))
            .collect()
    }

    /// Counts per object type, for failure messages.
    pub fn summary(&self) -> String {
        ["contacts", "deals", "calls", "tasks", "notes"]
            .iter()
            .map(|t| format!("{t}={}", self.count(t)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Asserts that `object` has these properties (others are not compared).
#[track_caller]
pub fn assert_properties(object: &FakeObject, expected: &[(&str, &str)]) {
    for (name, value) in expected {
        assert_eq!(
            object.property(name),
            Some(*value),
            "{} {} property {name}; all: {:#?}",
            object.object_type,
            object.id,
            object.properties
        );
    }
}

/// Asserts that `object` lacks these properties (or has them empty).
#[track_caller]
pub fn assert_absent(object: &FakeObject, names: &[&str]) {
    for name in names {
        assert!(
            object.property(name).is_none_or(str::is_empty),
            "{} {} should have no {name}; all: {:#?}",
            object.object_type,
            object.id,
            object.properties
        );
    }
}

/// Each client has one contact and one deal, and each call of `ids` is
/// logged exactly once on them.
#[track_caller]
pub fn assert_exactly_once(crm: &Crm<'_>, calls: &[Call], ids: &[i64]) {
    let mut per_client: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for (call, id) in calls.iter().zip(ids) {
        per_client
            .entry(call.client.as_str())
            .or_default()
            .push(*id);
    }
    for (client, ids) in per_client {
        let contact = crm.the_contact(&e164(client));
        let deals = crm.linked("contacts", &contact.id, "deals");
        assert_eq!(deals.len(), 1, "deals of {client}");
        for id in ids {
            let logged = crm.created_by("calls", id);
            assert_eq!(logged.len(), 1, "call logs of event {id}");
            assert_eq!(
                crm.links("calls", &logged[0].id, "contacts")
                    .keys()
                    .collect::<Vec<_>>(),
                [&contact.id]
            );
            assert_eq!(
                crm.links("calls", &logged[0].id, "deals")
                    .keys()
                    .collect::<Vec<_>>(),
                [&deals[0].id]
            );
        }
    }
}
