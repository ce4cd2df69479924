//! Finding a contact by phone the way HubSpot stores numbers.
//!
//! HubSpot keeps `phone`/`mobilephone` exactly as typed (`067 123 45 67`,
//! `+380 (67) 123-45-67`, `380671234567`) and derives
//! `hs_searchable_calculated_phone_number` / `..._mobile_number`: the
//! national number when it could read the country, else the digits without
//! leading zeros. One search covers every spelling:
//!
//! 1. `hs_searchable_calculated_phone_number IN [national, all digits]`
//! 2. `hs_searchable_calculated_mobile_number IN [national, all digits]`
//! 3. `phone IN [E.164, digits, national format, compact national]`
//! 4. `mobilephone IN [...the same]`
//! 5. `phone_e164 EQ E.164`, when the account has that unique property
//!
//! (5 groups of one filter: within HubSpot's 5 groups / 6 per group / 18 in
//! total.) A national number alone also matches other countries' numbers,
//! so every hit is verified: one of its stored numbers must parse (with
//! `E164::parse`, in the configured region) to the number searched for.
//!
//! When several contacts share the number, the **oldest** wins (earliest
//! `createdate`, then the lowest id): it is the original record, duplicates
//! come later, and the choice is the same on every call and every instance.

use serde_json::{Value, json};
use switchboard_core::phone::{E164, Region};

use crate::model::HubObject;

/// HubSpot's search limits (current documentation).
pub const MAX_GROUPS: usize = 5;
pub const MAX_FILTERS_PER_GROUP: usize = 6;
pub const MAX_FILTERS: usize = 18;
/// Results per search page; matches are few, so one page almost always does.
pub const PAGE_SIZE: u32 = 100;

/// Properties read from every candidate.
pub const PROPERTIES: &[&str] = &[
    "firstname",
    "lastname",
    "phone",
    "mobilephone",
    "hubspot_owner_id",
    "createdate",
    "hs_searchable_calculated_phone_number",
    "hs_searchable_calculated_mobile_number",
];

/// The values searched for, derived from one number.
fn spellings(phone: &E164) -> (Vec<String>, Vec<String>) {
    let national = phone.national_number();
    let mut searchable = vec![national.clone(), phone.digits().to_string()];
    searchable.dedup();
    let national_format = phone.national_format();
    let compact_national: String = national_format
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let mut typed = vec![
        phone.as_str().to_string(),
        phone.digits().to_string(),
        national_format.to_lowercase(),
        compact_national,
    ];
    typed.dedup();
    (searchable, typed)
}

/// The `POST /crm/v3/objects/contacts/search` body for `phone`.
pub fn request(phone: &E164, phone_property: Option<&str>, after: Option<&str>) -> Value {
    let (searchable, typed) = spellings(phone);
    let mut groups = vec![
        json!({ "filters": [{ "propertyName": "hs_searchable_calculated_phone_number", "operator": "IN", "values": searchable }] }),
        json!({ "filters": [{ "propertyName": "hs_searchable_calculated_mobile_number", "operator": "IN", "values": searchable }] }),
        json!({ "filters": [{ "propertyName": "phone", "operator": "IN", "values": typed }] }),
        json!({ "filters": [{ "propertyName": "mobilephone", "operator": "IN", "values": typed }] }),
    ];
    if let Some(property) = phone_property {
        groups.push(json!({ "filters": [{ "propertyName": property, "operator": "EQ", "value": phone.as_str() }] }));
    }
    let mut properties: Vec<&str> = PROPERTIES.to_vec();
    if let Some(property) = phone_property {
        properties.push(property);
    }
    json!({
        "filterGroups": groups,
        "properties": properties,
        "sorts": [],
        "limit": PAGE_SIZE,
        "after": after.unwrap_or("0"),
    })
}

/// True when one of the contact's stored numbers is `phone`.
pub fn stores_number(contact: &HubObject, phone: &E164, region: Region) -> bool {
    ["phone", "mobilephone"]
        .iter()
        .filter_map(|name| contact.property(name))
        .any(|stored| E164::parse(stored, region).is_ok_and(|parsed| &parsed == phone))
}

/// The contact to use among verified matches: oldest first, then lowest id.
pub fn choose<'a>(candidates: impl IntoIterator<Item = &'a HubObject>) -> Option<&'a HubObject> {
    candidates.into_iter().min_by_key(|c| {
        let created = c
            .property("createdate")
            .or(c.created_at.as_deref())
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_millis())
            .unwrap_or(i64::MAX);
        let id: u128 = c.id.parse().unwrap_or(u128::MAX);
        (created, id, c.id.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn ua(raw: &str) -> E164 {
        E164::parse(raw, Region::default()).expect("valid")
    }

    fn contact(id: &str, created: &str, phone: Option<&str>, mobile: Option<&str>) -> HubObject {
        let mut properties = BTreeMap::new();
        properties.insert("createdate".to_string(), Some(created.to_string()));
        properties.insert("phone".to_string(), phone.map(str::to_string));
        properties.insert("mobilephone".to_string(), mobile.map(str::to_string));
        HubObject {
            id: id.into(),
            properties,
            created_at: Some(created.into()),
        }
    }

    #[test]
    fn the_request_stays_within_hubspots_filter_limits() {
        for phone_property in [None, Some("phone_e164")] {
            let body = request(&ua("0671234567"), phone_property, None);
            let groups = body["filterGroups"].as_array().expect("groups");
            assert!(groups.len() <= MAX_GROUPS);
            let mut total = 0;
            for group in groups {
                let filters = group["filters"].as_array().expect("filters").len();
                assert!((1..=MAX_FILTERS_PER_GROUP).contains(&filters));
                total += filters;
            }
            assert!(total <= MAX_FILTERS);
        }
        assert_eq!(
            request(&ua("0671234567"), Some("phone_e164"), None)["filterGroups"]
                .as_array()
                .map(Vec::len),
            Some(5)
        );
    }

    #[test]
    fn the_request_covers_every_spelling() {
        let body = request(&ua("+380 (67) 123-45-67"), None, Some("100"));
        assert_eq!(
            body["filterGroups"][0]["filters"][0],
            json!({ "propertyName": "hs_searchable_calculated_phone_number", "operator": "IN", "values": ["671234567", "380671234567"] })
        );
        assert_eq!(
            body["filterGroups"][3]["filters"][0],
            json!({ "propertyName": "mobilephone", "operator": "IN", "values": ["+380671234567", "380671234567", "067 123 4567", "0671234567"] })
        );
        assert_eq!(body["after"], "100");
        assert_eq!(body["limit"], 100);
        assert_eq!(body["sorts"], json!([]));
    }

    #[test]
    fn only_contacts_that_store_the_number_are_matches() {
        let phone = ua("0671234567");
        let region = Region::default();
        for stored in [
            "067 123 45 67",
            "+380 (67) 123-45-67",
            "380671234567",
            "+380671234567",
            "671234567",
        ] {
            assert!(
                stores_number(
                    &contact("1", "2024-01-01T00:00:00Z", Some(stored), None),
                    &phone,
                    region
                ),
                "{stored}"
            );
        }
        assert!(stores_number(
            &contact("1", "2024-01-01T00:00:00Z", None, Some("0671234567")),
            &phone,
            region
        ));
        // Same national number, another country; a typo; nothing stored.
        assert!(!stores_number(
            &contact("2", "2024-01-01T00:00:00Z", Some("+48 671 234 567"), None),
            &phone,
            region
        ));
        assert!(!stores_number(
            &contact("3", "2024-01-01T00:00:00Z", Some("067 123 45 68"), None),
            &phone,
            region
        ));
        assert!(!stores_number(
            &contact("4", "2024-01-01T00:00:00Z", None, None),
            &phone,
            region
        ));
    }

    #[test]
    fn the_oldest_contact_wins_then_the_lowest_id() {
        let a = contact("900", "2024-05-01T10:00:00.000Z", Some("0671234567"), None);
        let b = contact("1000", "2023-01-01T10:00:00.000Z", Some("0671234567"), None);
        let c = contact("999", "2023-01-01T10:00:00.000Z", Some("0671234567"), None);
        assert_eq!(choose([&a, &b, &c]).map(|x| x.id.as_str()), Some("999"));
        assert_eq!(choose([&c, &b, &a]).map(|x| x.id.as_str()), Some("999"));
        assert_eq!(choose([&a]).map(|x| x.id.as_str()), Some("900"));
        assert_eq!(choose(std::iter::empty()), None);
    }
}
