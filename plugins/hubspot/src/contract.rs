//! Contract checks against HubSpot's official OpenAPI specs (feature
//! `testkit`).
//!
//! The specs in `openapi/` are compiled in. A request is matched to an
//! operation by method and path template (the deals spec names its path
//! `/crm/v3/objects/0-3`, so `deals` is tried as `0-3`; the generic objects
//! spec is the fallback), its JSON body is validated against the
//! operation's request schema, and a response against the schema of its
//! status (or `default`). Schemas are the spec's `components/schemas`, read
//! as JSON Schema draft 4 (OpenAPI 3.0's base), with `nullable` turned into
//! a `null` type. The spec-vs-reality exceptions are listed in
//! `openapi/README.md` and applied in [`Contract::check_response`].

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use crate::fake::LoggedRequest;

const SPECS: &[(&str, &str)] = &[
    (
        "contacts-v3.json",
        include_str!("../openapi/contacts-v3.json"),
    ),
    ("deals-v3.json", include_str!("../openapi/deals-v3.json")),
    ("calls-v3.json", include_str!("../openapi/calls-v3.json")),
    ("tasks-v3.json", include_str!("../openapi/tasks-v3.json")),
    ("notes-v3.json", include_str!("../openapi/notes-v3.json")),
    ("owners-v3.json", include_str!("../openapi/owners-v3.json")),
    (
        "associations-v4.json",
        include_str!("../openapi/associations-v4.json"),
    ),
    (
        "pipelines-v3.json",
        include_str!("../openapi/pipelines-v3.json"),
    ),
    (
        "properties-v3.json",
        include_str!("../openapi/properties-v3.json"),
    ),
    // Last: the generic `/crm/v3/objects/{objectType}` operations.
    (
        "objects-v3.json",
        include_str!("../openapi/objects-v3.json"),
    ),
];

/// Why the specs could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("spec {file}: {message}")]
pub struct ContractError {
    pub file: &'static str,
    pub message: String,
}

/// One way a request or response departs from the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub method: String,
    pub path: String,
    pub what: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.method, self.path, self.what)
    }
}

struct Spec {
    file: &'static str,
    /// (method, template segments, operation object).
    operations: Vec<(String, Vec<String>, Value)>,
    /// `components`, with `nullable` converted.
    components: Value,
}

/// The matched operation of a request.
struct Matched<'a> {
    spec: &'a Spec,
    template: String,
    operation: &'a Value,
}

/// HubSpot's specs, ready to check requests and responses.
pub struct Contract {
    specs: Vec<Spec>,
    validators: Mutex<HashMap<(String, String), Arc<jsonschema::Validator>>>,
}

impl Contract {
    pub fn load() -> Result<Contract, ContractError> {
        let mut specs = Vec::new();
        for (file, text) in SPECS {
            let doc: Value = serde_json::from_str(text).map_err(|e| ContractError {
                file,
                message: e.to_string(),
            })?;
            let mut operations = Vec::new();
            for (path, item) in doc
                .get("paths")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                for (method, operation) in item.as_object().into_iter().flatten() {
                    if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                        let segments = path
                            .trim_matches('/')
                            .split('/')
                            .map(str::to_string)
                            .collect();
                        operations.push((method.to_ascii_uppercase(), segments, operation.clone()));
                    }
                }
            }
            let mut components = doc.get("components").cloned().unwrap_or_else(|| json!({}));
            convert_nullable(&mut components);
            specs.push(Spec {
                file,
                operations,
                components,
            });
        }
        Ok(Contract {
            specs,
            validators: Mutex::new(HashMap::new()),
        })
    }

    fn find(&self, method: &str, path: &str) -> Option<Matched<'_>> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let aliases: Vec<Vec<&str>> = {
            let mut deal_alias = segments.clone();
            if deal_alias.len() > 3
                && deal_alias[..3] == ["crm", "v3", "objects"]
                && deal_alias[3] == "deals"
            {
                deal_alias[3] = "0-3";
            }
            vec![segments.clone(), deal_alias]
        };
        for spec in &self.specs {
            for (op_method, template, operation) in &spec.operations {
                if op_method != method {
                    continue;
                }
                let fits = |candidate: &Vec<&str>| {
                    candidate.len() == template.len()
                        && template
                            .iter()
                            .zip(candidate)
                            .all(|(t, s)| (t.starts_with('{') && t.ends_with('}')) || t == s)
                };
                if aliases.iter().any(fits) {
                    return Some(Matched {
                        spec,
                        template: format!("/{}", template.join("/")),
                        operation,
                    });
                }
            }
        }
        None
    }

    /// Checks that the operation exists and that the body fits its schema.
    pub fn check_request(&self, method: &str, path: &str, body: Option<&Value>) -> Vec<String> {
        let Some(matched) = self.find(method, path) else {
            return vec!["no such operation in HubSpot's specs".into()];
        };
        let request_body = matched.operation.get("requestBody");
        let schema = request_body.and_then(|b| json_schema(b.get("content")));
        match (schema, body) {
            (Some(schema), Some(body)) => self.validate(matched.spec, schema, body, "request"),
            (Some(_), None)
                if request_body.and_then(|b| b.get("required")) == Some(&Value::Bool(true)) =>
            {
                vec![format!("{} requires a body", matched.template)]
            }
            (None, Some(body)) if !body.is_null() => {
                vec![format!("{} takes no body", matched.template)]
            }
            _ => Vec::new(),
        }
    }

    /// Checks a response body against the schema for its status, after the
    /// documented spec-vs-reality adaptations.
    pub fn check_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: Option<&Value>,
    ) -> Vec<String> {
        let Some(body) = body else {
            return Vec::new();
        };
        if status == 429 {
            return Vec::new();
        }
        let Some(matched) = self.find(method, path) else {
            return vec!["no such operation in HubSpot's specs".into()];
        };
        let responses = matched.operation.get("responses");
        let response = responses
            .and_then(|r| r.get(status.to_string()))
            .or_else(|| responses.and_then(|r| r.get("default")));
        let Some(response) = response else {
            return vec![format!(
                "status {status} is not documented for {}",
                matched.template
            )];
        };
        let response = match response.get("$ref").and_then(Value::as_str) {
            Some(reference) => resolve(&matched.spec.components, reference).unwrap_or(response),
            None => response,
        };
        let Some(schema) = json_schema(response.get("content")) else {
            return Vec::new();
        };
        let mut body = body.clone();
        adapt_to_reality(&mut body);
        self.validate(matched.spec, schema, &body, "response")
    }

    /// Checks every exchange in a fake's request log.
    pub fn check_log(&self, log: &[LoggedRequest]) -> Vec<Violation> {
        let mut violations = Vec::new();
        for entry in log {
            let problems = self
                .check_request(&entry.method, &entry.path, entry.body.as_ref())
                .into_iter()
                .chain(self.check_response(
                    &entry.method,
                    &entry.path,
                    entry.status,
                    entry.response.as_ref(),
                ));
            violations.extend(problems.map(|what| Violation {
                method: entry.method.clone(),
                path: entry.path.clone(),
                what,
            }));
        }
        violations
    }

    fn validate(&self, spec: &Spec, schema: &Value, instance: &Value, side: &str) -> Vec<String> {
        let key = (spec.file.to_string(), schema.to_string());
        let validator = {
            let mut cache = self.validators.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(v) = cache.get(&key) {
                Some(v.clone())
            } else {
                let mut root = schema.as_object().cloned().unwrap_or_default();
                root.insert("components".into(), spec.components.clone());
                match jsonschema::draft4::options()
                    .should_validate_formats(true)
                    .build(&Value::Object(root))
                {
                    Ok(v) => {
                        let v = Arc::new(v);
                        cache.insert(key, v.clone());
                        Some(v)
                    }
                    Err(e) => return vec![format!("{}: schema does not compile: {e}", spec.file)],
                }
            }
        };
        match validator {
            Some(validator) => validator
                .iter_errors(instance)
                .map(|e| format!("{side} {} at {}: {e}", spec.file, e.instance_path()))
                .collect(),
            None => Vec::new(),
        }
    }
}

/// The JSON schema of a `content` map (`application/json`, else `*/*`).
fn json_schema(content: Option<&Value>) -> Option<&Value> {
    let content = content?;
    content
        .get("application/json")
        .or_else(|| content.get("*/*"))
        .and_then(|media| media.get("schema"))
}

fn resolve<'a>(components: &'a Value, reference: &str) -> Option<&'a Value> {
    let path = reference.strip_prefix("#/components/")?;
    path.split('/')
        .try_fold(components, |node, part| node.get(part))
}

/// OpenAPI 3.0 `nullable: true` is a `null` type in JSON Schema.
fn convert_nullable(node: &mut Value) {
    match node {
        Value::Object(map) => {
            if map.remove("nullable") == Some(Value::Bool(true)) {
                match map.get("type").cloned() {
                    Some(Value::String(t)) => {
                        map.insert("type".into(), json!([t, "null"]));
                    }
                    _ => {
                        let inner = Value::Object(std::mem::take(map));
                        map.insert("anyOf".into(), json!([inner, { "type": "null" }]));
                    }
                }
            }
            for value in map.values_mut() {
                convert_nullable(value);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(convert_nullable),
        _ => {}
    }
}

/// Exceptions 1 and 2 of `openapi/README.md`: numeric `toObjectId`s become
/// strings and unlabelled association types drop their `label: null`;
/// `null` property values are dropped.
fn adapt_to_reality(node: &mut Value) {
    match node {
        Value::Object(map) => {
            if let Some(Value::Number(n)) = map.get("toObjectId") {
                let text = n.to_string();
                map.insert("toObjectId".into(), Value::String(text));
            }
            if map.get("label") == Some(&Value::Null) && map.contains_key("typeId") {
                map.remove("label");
            }
            if let Some(Value::Object(properties)) = map.get_mut("properties") {
                let kept: Map<String, Value> = std::mem::take(properties)
                    .into_iter()
                    .filter(|(_, v)| !v.is_null())
                    .collect();
                *properties = kept;
            }
            map.values_mut().for_each(adapt_to_reality);
        }
        Value::Array(items) => items.iter_mut().for_each(adapt_to_reality),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract() -> Contract {
        Contract::load().expect("the specs load")
    }

    #[test]
    fn a_valid_search_passes_and_a_malformed_one_is_caught() {
        let c = contract();
        let good = json!({
            "filterGroups": [{ "filters": [{ "propertyName": "phone", "operator": "EQ", "value": "1" }] }],
            "properties": ["phone"], "sorts": [], "limit": 10, "after": "0"
        });
        assert_eq!(
            c.check_request("POST", "/crm/v3/objects/contacts/search", Some(&good)),
            Vec::<String>::new()
        );
        let bad = json!({ "filterGroups": [{ "filters": [{ "propertyName": "phone", "operator": "EQUALS" }] }], "limit": "ten" });
        let problems = c.check_request("POST", "/crm/v3/objects/contacts/search", Some(&bad));
        assert!(problems.len() >= 3, "{problems:?}");
        assert_eq!(
            c.check_request("POST", "/crm/v3/objects/contacts/find", Some(&good)),
            vec!["no such operation in HubSpot's specs".to_string()]
        );
    }

    #[test]
    fn deals_are_matched_to_the_deals_spec_and_creates_need_associations() {
        let c = contract();
        let create = json!({ "properties": { "dealname": "x" }, "associations": [
            { "to": { "id": "1" }, "types": [{ "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3 }] }
        ]});
        assert!(
            c.check_request("POST", "/crm/v3/objects/deals", Some(&create))
                .is_empty()
        );
        let missing = json!({ "properties": { "dealname": "x" } });
        assert!(
            !c.check_request("POST", "/crm/v3/objects/deals", Some(&missing))
                .is_empty()
        );
        let bad_type = json!({ "properties": { "dealname": "x" }, "associations": [
            { "to": { "id": "1" }, "types": [{ "associationCategory": "SOMETIMES", "associationTypeId": "3" }] }
        ]});
        assert_eq!(
            c.check_request("POST", "/crm/v3/objects/deals", Some(&bad_type))
                .len(),
            2
        );
    }

    #[test]
    fn responses_are_checked_after_the_documented_adaptations() {
        let c = contract();
        let associations = json!({ "results": [{ "toObjectId": 12675602284u64, "associationTypes": [{ "category": "HUBSPOT_DEFINED", "typeId": 4, "label": null }] }] });
        let problems = c.check_response(
            "GET",
            "/crm/v4/objects/contacts/1/associations/deals",
            200,
            Some(&associations),
        );
        assert!(problems.is_empty(), "{problems:?}");
        let wrong = json!({ "results": [{ "toObjectId": 1, "associationTypes": [{ "category": "NONE", "typeId": "4" }] }] });
        let problems = c.check_response(
            "GET",
            "/crm/v4/objects/contacts/1/associations/deals",
            200,
            Some(&wrong),
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        let object = json!({ "id": "1", "properties": { "phone": null, "firstname": "Ivan" }, "createdAt": "2024-03-08T05:44:55.010Z", "updatedAt": "2024-03-08T05:44:55.010Z", "archived": false });
        assert!(
            c.check_response("GET", "/crm/v3/objects/contacts/1", 200, Some(&object))
                .is_empty()
        );
        let not_an_object = json!({ "id": 1, "properties": [] });
        assert!(
            !c.check_response(
                "GET",
                "/crm/v3/objects/contacts/1",
                200,
                Some(&not_an_object)
            )
            .is_empty()
        );
        let error = json!({ "status": "error", "message": "x", "correlationId": "4acd14cf-ade6-4d82-a58c-4a7b4f0e40cd", "category": "INVALID_AUTHENTICATION" });
        assert!(
            c.check_response("GET", "/crm/v3/objects/contacts/1", 401, Some(&error))
                .is_empty()
        );
        let rate = json!({ "status": "error", "message": "You have reached your secondly limit.", "errorType": "RATE_LIMIT", "policyName": "SECONDLY" });
        assert!(
            c.check_response("POST", "/crm/v3/objects/contacts/search", 429, Some(&rate))
                .is_empty()
        );
    }
}
