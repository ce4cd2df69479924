//! CRM search as HubSpot evaluates it: OR of filter groups, AND of the
//! filters in a group, HubSpot's operators, the `associations.<type>`
//! pseudo-properties, and the 5 groups / 6 filters per group / 18 filters
//! limits (a 400 `VALIDATION_ERROR` beyond them).

use serde::Deserialize;

pub const MAX_GROUPS: usize = 5;
pub const MAX_FILTERS_PER_GROUP: usize = 6;
pub const MAX_FILTERS: usize = 18;
pub const MAX_LIMIT: usize = 200;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    #[serde(default)]
    pub filter_groups: Vec<FilterGroup>,
    #[serde(default)]
    pub properties: Vec<String>,
    pub limit: Option<usize>,
    pub after: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct FilterGroup {
    #[serde(default)]
    pub filters: Vec<Filter>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    pub property_name: String,
    pub operator: String,
    pub value: Option<String>,
    pub high_value: Option<String>,
    pub values: Option<Vec<String>>,
}

/// What a filter needs to know about one object.
pub trait Searchable {
    /// A stored property value (`None` when unset).
    fn value(&self, property: &str) -> Option<String>;
    /// Whether the object is associated with `object_type` `id`.
    fn associated_with(&self, object_type: &str, id: &str) -> bool;
}

/// Checks HubSpot's limits; the error message is HubSpot-like.
pub fn check_limits(request: &SearchRequest) -> Result<(), String> {
    if request.filter_groups.len() > MAX_GROUPS {
        return Err(format!(
            "Too many filter groups ({}). The maximum number of filter groups is {MAX_GROUPS}.",
            request.filter_groups.len()
        ));
    }
    let mut total = 0;
    for group in &request.filter_groups {
        if group.filters.len() > MAX_FILTERS_PER_GROUP {
            return Err(format!(
                "Too many filters in a group ({}). The maximum number of filters per group is {MAX_FILTERS_PER_GROUP}.",
                group.filters.len()
            ));
        }
        total += group.filters.len();
    }
    if total > MAX_FILTERS {
        return Err(format!(
            "Too many filters ({total}). The maximum number of filters in total is {MAX_FILTERS}."
        ));
    }
    if request.limit.unwrap_or(10) > MAX_LIMIT {
        return Err(format!("limit must be less than or equal to {MAX_LIMIT}"));
    }
    for filter in request.filter_groups.iter().flat_map(|g| &g.filters) {
        let needs_values = matches!(filter.operator.as_str(), "IN" | "NOT_IN");
        let needs_value = !needs_values
            && !matches!(
                filter.operator.as_str(),
                "HAS_PROPERTY" | "NOT_HAS_PROPERTY"
            );
        if needs_values && filter.values.is_none() {
            return Err(format!("{} needs `values`", filter.operator));
        }
        if needs_value && filter.value.is_none() {
            return Err(format!("{} needs `value`", filter.operator));
        }
        if !OPERATORS.contains(&filter.operator.as_str()) {
            return Err(format!("Unknown operator {}", filter.operator));
        }
    }
    Ok(())
}

const OPERATORS: &[&str] = &[
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
];

/// True when the object matches the request's filters (no groups: all match).
pub fn matches(object: &impl Searchable, request: &SearchRequest) -> bool {
    request.filter_groups.is_empty()
        || request
            .filter_groups
            .iter()
            .any(|group| group.filters.iter().all(|f| filter_matches(object, f)))
}

fn filter_matches(object: &impl Searchable, filter: &Filter) -> bool {
    if let Some(object_type) = filter.property_name.strip_prefix("associations.") {
        let plural = format!("{object_type}s");
        let id = filter.value.as_deref().unwrap_or_default();
        let linked = object.associated_with(&plural, id);
        return match filter.operator.as_str() {
            "EQ" | "IN" => linked,
            "NEQ" | "NOT_IN" => !linked,
            _ => false,
        };
    }
    let stored = object.value(&filter.property_name);
    let value = filter.value.clone().unwrap_or_default();
    match filter.operator.as_str() {
        "HAS_PROPERTY" => stored.is_some(),
        "NOT_HAS_PROPERTY" => stored.is_none(),
        operator => {
            let Some(stored) = stored else {
                return matches!(operator, "NEQ" | "NOT_IN" | "NOT_CONTAINS_TOKEN");
            };
            match operator {
                "EQ" => {
                    stored.eq_ignore_ascii_case(&value)
                        || stored.to_lowercase() == value.to_lowercase()
                }
                "NEQ" => stored.to_lowercase() != value.to_lowercase(),
                "LT" => compare(&stored, &value).is_lt(),
                "LTE" => compare(&stored, &value).is_le(),
                "GT" => compare(&stored, &value).is_gt(),
                "GTE" => compare(&stored, &value).is_ge(),
                "BETWEEN" => {
                    let high = filter.high_value.clone().unwrap_or_default();
                    compare(&stored, &value).is_ge() && compare(&stored, &high).is_le()
                }
                // "Inputted values must be in lowercase": the stored value is
                // lowercased, the given values are taken as they are.
                "IN" => filter
                    .values
                    .iter()
                    .flatten()
                    .any(|v| *v == stored.to_lowercase()),
                "NOT_IN" => !filter
                    .values
                    .iter()
                    .flatten()
                    .any(|v| *v == stored.to_lowercase()),
                "CONTAINS_TOKEN" => contains_token(&stored, &value),
                "NOT_CONTAINS_TOKEN" => !contains_token(&stored, &value),
                _ => false,
            }
        }
    }
}

fn compare(stored: &str, value: &str) -> std::cmp::Ordering {
    match (stored.parse::<f64>(), value.parse::<f64>()) {
        (Ok(a), Ok(b)) => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
        _ => stored.cmp(value),
    }
}

/// Token match with `*` wildcards, against the whole value or any word.
fn contains_token(stored: &str, pattern: &str) -> bool {
    let stored = stored.to_lowercase();
    let pattern = pattern.to_lowercase();
    std::iter::once(stored.as_str())
        .chain(stored.split(|c: char| c.is_whitespace() || c == ',' || c == ';'))
        .any(|token| glob(token, &pattern))
}

fn glob(text: &str, pattern: &str) -> bool {
    match pattern.split_once('*') {
        None => text == pattern,
        Some((head, tail)) => {
            let Some(rest) = text.strip_prefix(head) else {
                return false;
            };
            if tail.is_empty() {
                return true;
            }
            (0..=rest.len())
                .filter(|i| rest.is_char_boundary(*i))
                .any(|i| glob(&rest[i..], tail))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct Object(
        BTreeMap<&'static str, &'static str>,
        Vec<(&'static str, &'static str)>,
    );

    impl Searchable for Object {
        fn value(&self, property: &str) -> Option<String> {
            self.0.get(property).map(|v| v.to_string())
        }
        fn associated_with(&self, object_type: &str, id: &str) -> bool {
            self.1.iter().any(|(t, i)| *t == object_type && *i == id)
        }
    }

    fn request(json: serde_json::Value) -> SearchRequest {
        serde_json::from_value(json).expect("valid request")
    }

    #[test]
    fn groups_are_ored_and_filters_anded() {
        let object = Object(
            BTreeMap::from([("phone", "+380671234567"), ("email", "A@B.UA")]),
            vec![("contacts", "7")],
        );
        let r = request(serde_json::json!({ "filterGroups": [
            { "filters": [{ "propertyName": "phone", "operator": "EQ", "value": "nope" }] },
            { "filters": [
                { "propertyName": "email", "operator": "EQ", "value": "a@b.ua" },
                { "propertyName": "associations.contact", "operator": "EQ", "value": "7" }
            ] }
        ]}));
        assert!(matches(&object, &r));
        let r = request(serde_json::json!({ "filterGroups": [
            { "filters": [{ "propertyName": "phone", "operator": "IN", "values": ["+380671234567"] }, { "propertyName": "mobilephone", "operator": "HAS_PROPERTY" }] }
        ]}));
        assert!(!matches(&object, &r));
        let upper = request(serde_json::json!({ "filterGroups": [
            { "filters": [{ "propertyName": "email", "operator": "IN", "values": ["A@B.UA"] }] }
        ]}));
        assert!(!matches(&object, &upper), "IN values must be lowercase");
        let token = request(serde_json::json!({ "filterGroups": [
            { "filters": [{ "propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "*@b.ua" }] }
        ]}));
        assert!(matches(&object, &token));
    }

    #[test]
    fn limits_are_five_groups_six_filters_eighteen_in_total() {
        let filter = serde_json::json!({ "propertyName": "phone", "operator": "EQ", "value": "1" });
        let group = |n: usize| serde_json::json!({ "filters": vec![filter.clone(); n] });
        assert!(
            check_limits(&request(
                serde_json::json!({ "filterGroups": vec![group(3); 5] })
            ))
            .is_ok()
        );
        assert!(
            check_limits(&request(
                serde_json::json!({ "filterGroups": vec![group(1); 6] })
            ))
            .is_err()
        );
        assert!(check_limits(&request(serde_json::json!({ "filterGroups": [group(7)] }))).is_err());
        assert!(
            check_limits(&request(
                serde_json::json!({ "filterGroups": vec![group(6); 3] })
            ))
            .is_ok()
        );
        assert!(
            check_limits(&request(
                serde_json::json!({ "filterGroups": [group(6), group(6), group(6), group(1)] })
            ))
            .is_err()
        );
        assert!(check_limits(&request(serde_json::json!({ "limit": 201 }))).is_err());
    }
}
