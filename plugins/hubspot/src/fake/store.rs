//! The fake's CRM data and HubSpot's rules for it: objects with validated
//! properties, unique values, computed phone and deal properties,
//! associations with their inverse types, owners, pipelines, and property
//! definitions. Every operation answers with the JSON HubSpot would send,
//! or a [`Failure`] that becomes HubSpot's error body.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use phonenumber::country::Id as CountryId;
use serde_json::{Map, Value, json};

use super::schema::{self, PropertyDef};
use super::search::{self, SearchRequest, Searchable};
use super::searchable;

/// A stored CRM object.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeObject {
    pub object_type: String,
    pub id: String,
    pub properties: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub archived: bool,
    /// Search sees the object from this moment on (index lag).
    pub visible_from: Instant,
}

impl FakeObject {
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties.get(name).map(String::as_str)
    }
}

/// One directed association (each link is stored in both directions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeAssociation {
    pub from_type: String,
    pub from_id: String,
    pub to_type: String,
    pub to_id: String,
    pub type_id: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeOwner {
    pub id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub user_id: u64,
    pub archived: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakePipeline {
    pub id: String,
    pub label: String,
    pub stages: Vec<FakeStage>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeStage {
    pub id: String,
    pub label: String,
    pub closed: bool,
    pub won: bool,
}

/// Why an operation is refused, before it becomes HubSpot's error body.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Per-property problems: (code, property, message).
    Properties(Vec<(String, String, String)>),
    /// A 400 `VALIDATION_ERROR` with an optional `context`.
    BadRequest {
        message: String,
        context: Option<Value>,
    },
    /// A 409 `CONFLICT` (the message names the existing id).
    Conflict(String),
    /// A 409 with another category (`OBJECT_ALREADY_EXISTS`).
    AlreadyExists(String),
    NotFound,
}

type Outcome = Result<Value, Failure>;

/// HUBSPOT_DEFINED association types the fake knows:
/// (from type, type id) → (to type, inverse type id).
const ASSOCIATION_TYPES: &[(&str, u32, &str, u32)] = &[
    ("contacts", 4, "deals", 3),
    ("deals", 3, "contacts", 4),
    ("calls", 194, "contacts", 193),
    ("contacts", 193, "calls", 194),
    ("calls", 206, "deals", 205),
    ("deals", 205, "calls", 206),
    ("tasks", 204, "contacts", 203),
    ("contacts", 203, "tasks", 204),
    ("tasks", 216, "deals", 215),
    ("deals", 215, "tasks", 216),
    ("notes", 202, "contacts", 201),
    ("contacts", 201, "notes", 202),
    ("notes", 214, "deals", 213),
    ("deals", 213, "notes", 214),
];

pub const OBJECT_TYPES: &[&str] = &["contacts", "deals", "calls", "tasks", "notes"];

/// `contacts`, `contact` or `0-1` → `contacts`.
pub fn object_type(raw: &str) -> Option<&'static str> {
    Some(match raw.to_ascii_lowercase().as_str() {
        "contacts" | "contact" | "0-1" => "contacts",
        "deals" | "deal" | "0-3" => "deals",
        "calls" | "call" | "0-48" => "calls",
        "tasks" | "task" | "0-27" => "tasks",
        "notes" | "note" | "0-46" => "notes",
        _ => return None,
    })
}

fn singular_upper(object_type: &str) -> String {
    object_type.trim_end_matches('s').to_ascii_uppercase()
}

pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The fake account.
pub struct Store {
    pub region: CountryId,
    pub search_lag: Duration,
    next_id: u64,
    pub objects: BTreeMap<&'static str, BTreeMap<u64, FakeObject>>,
    pub associations: Vec<FakeAssociation>,
    pub schema: BTreeMap<&'static str, BTreeMap<String, PropertyDef>>,
    pub owners: Vec<FakeOwner>,
    pub pipelines: Vec<FakePipeline>,
    created: DateTime<Utc>,
}

struct Record<'a> {
    object: &'a FakeObject,
    associations: &'a [FakeAssociation],
}

impl Searchable for Record<'_> {
    fn value(&self, property: &str) -> Option<String> {
        self.object
            .properties
            .get(property)
            .filter(|v| !v.is_empty())
            .cloned()
    }

    fn associated_with(&self, object_type: &str, id: &str) -> bool {
        self.associations.iter().any(|a| {
            a.from_type == self.object.object_type
                && a.from_id == self.object.id
                && a.to_type == object_type
                && a.to_id == id
        })
    }
}

impl Store {
    pub fn new(region: CountryId, search_lag: Duration) -> Store {
        let schema = OBJECT_TYPES
            .iter()
            .map(|t| (*t, schema::builtin(t)))
            .collect();
        let stage = |id: &str, label: &str, closed: bool, won: bool| FakeStage {
            id: id.into(),
            label: label.into(),
            closed,
            won,
        };
        Store {
            region,
            search_lag,
            next_id: 1000,
            objects: OBJECT_TYPES.iter().map(|t| (*t, BTreeMap::new())).collect(),
            associations: Vec::new(),
            schema,
            owners: Vec::new(),
            pipelines: vec![FakePipeline {
                id: "default".into(),
                label: "Sales Pipeline".into(),
                stages: vec![
                    stage(
                        "appointmentscheduled",
                        "Appointment Scheduled",
                        false,
                        false,
                    ),
                    stage("qualifiedtobuy", "Qualified To Buy", false, false),
                    stage(
                        "presentationscheduled",
                        "Presentation Scheduled",
                        false,
                        false,
                    ),
                    stage(
                        "decisionmakerboughtin",
                        "Decision Maker Bought-In",
                        false,
                        false,
                    ),
                    stage("contractsent", "Contract Sent", false, false),
                    stage("closedwon", "Closed Won", true, true),
                    stage("closedlost", "Closed Lost", true, false),
                ],
            }],
            created: Utc::now(),
        }
    }

    fn new_id(&mut self) -> u64 {
        self.next_id += 1 + u64::from(rand::random::<u8>() % 7);
        self.next_id
    }

    pub fn add_owner(&mut self, email: &str, first_name: &str, last_name: &str) -> String {
        let id = self.new_id();
        self.owners.push(FakeOwner {
            id: id.to_string(),
            email: email.to_string(),
            first_name: first_name.into(),
            last_name: last_name.into(),
            user_id: id + 7_000_000,
            archived: false,
        });
        id.to_string()
    }

    pub fn object(&self, object_type: &str, id: &str) -> Option<&FakeObject> {
        let id: u64 = id.parse().ok()?;
        self.objects
            .get(object_type)?
            .get(&id)
            .filter(|o| !o.archived)
    }

    fn live(&self, object_type: &str) -> impl Iterator<Item = &FakeObject> {
        self.objects
            .get(object_type)
            .into_iter()
            .flat_map(|m| m.values())
            .filter(|o| !o.archived)
    }

    // ---- property rules ------------------------------------------------

    /// Checks names, enums, owners, pipelines and stages; returns the
    /// writable properties (computed ones are ignored, as HubSpot does).
    fn validate(
        &self,
        object_type: &str,
        properties: &Map<String, Value>,
        existing: Option<&FakeObject>,
    ) -> Result<BTreeMap<String, String>, Failure> {
        let defs = self.schema.get(object_type).cloned().unwrap_or_default();
        let mut problems = Vec::new();
        let mut accepted = BTreeMap::new();
        for (name, value) in properties {
            let value = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            let Some(def) = defs.get(name) else {
                problems.push((
                    "PROPERTY_DOESNT_EXIST".to_string(),
                    name.clone(),
                    format!("Property \"{name}\" does not exist"),
                ));
                continue;
            };
            if def.calculated {
                continue;
            }
            if !value.is_empty()
                && let Some(problem) =
                    self.check_value(object_type, def, &value, properties, existing)
            {
                problems.push(problem);
                continue;
            }
            accepted.insert(name.clone(), value);
        }
        if existing.is_none() {
            for required in schema::required(object_type) {
                if accepted.get(*required).is_none_or(String::is_empty) {
                    problems.push((
                        "REQUIRED_PROPERTY".to_string(),
                        required.to_string(),
                        format!("Property \"{required}\" is required"),
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(accepted)
        } else {
            Err(Failure::Properties(problems))
        }
    }

    fn check_value(
        &self,
        object_type: &str,
        def: &PropertyDef,
        value: &str,
        properties: &Map<String, Value>,
        existing: Option<&FakeObject>,
    ) -> Option<(String, String, String)> {
        let invalid_option = |allowed: &[String]| {
            Some((
                "INVALID_OPTION".to_string(),
                def.name.clone(),
                format!(
                    "{value} was not one of the allowed options: [{}]",
                    allowed.join(", ")
                ),
            ))
        };
        match def.name.as_str() {
            "hubspot_owner_id" => {
                let owners: Vec<String> = self
                    .owners
                    .iter()
                    .filter(|o| !o.archived)
                    .map(|o| o.id.clone())
                    .collect();
                return if owners.iter().any(|o| o == value) {
                    None
                } else {
                    invalid_option(&owners)
                };
            }
            "pipeline" if object_type == "deals" => {
                let ids: Vec<String> = self.pipelines.iter().map(|p| p.id.clone()).collect();
                return if ids.iter().any(|p| p == value) {
                    None
                } else {
                    invalid_option(&ids)
                };
            }
            "dealstage" if object_type == "deals" => {
                let pipeline = properties
                    .get("pipeline")
                    .and_then(Value::as_str)
                    .or_else(|| existing.and_then(|e| e.property("pipeline")))
                    .unwrap_or("default");
                let stages: Vec<String> = self
                    .pipelines
                    .iter()
                    .find(|p| p.id == pipeline)
                    .map(|p| p.stages.iter().map(|s| s.id.clone()).collect())
                    .unwrap_or_default();
                return if stages.iter().any(|s| s == value) {
                    None
                } else {
                    invalid_option(&stages)
                };
            }
            "hs_call_recording_url" if !value.starts_with("https://") => {
                return Some((
                    "INVALID_URL".into(),
                    def.name.clone(),
                    format!("{value} is not a valid HTTPS URL"),
                ));
            }
            _ => {}
        }
        if let Some(options) = &def.options
            && !options.iter().any(|o| o == value)
        {
            return invalid_option(options);
        }
        match def.kind.as_str() {
            "number" if value.parse::<f64>().is_err() => Some((
                "INVALID_DECIMAL".into(),
                def.name.clone(),
                format!("{value} is not a valid number"),
            )),
            "bool" if value != "true" && value != "false" => Some((
                "INVALID_BOOLEAN".into(),
                def.name.clone(),
                format!("{value} is not a valid boolean"),
            )),
            "datetime"
                if DateTime::parse_from_rfc3339(value).is_err()
                    && value.parse::<i64>().is_err() =>
            {
                Some((
                    "INVALID_DATE".into(),
                    def.name.clone(),
                    format!("{value} is not a valid date (ISO 8601 or epoch milliseconds)"),
                ))
            }
            _ => None,
        }
    }

    /// The live object (other than `except`) that holds a unique value.
    fn holder(
        &self,
        object_type: &str,
        properties: &BTreeMap<String, String>,
        except: Option<&str>,
    ) -> Option<(String, String)> {
        let defs = self.schema.get(object_type)?;
        for (name, value) in properties {
            if value.is_empty() || !defs.get(name).is_some_and(|d| d.unique) {
                continue;
            }
            let holder = self.live(object_type).find(|o| {
                Some(o.id.as_str()) != except
                    && o.property(name)
                        .is_some_and(|v| v.eq_ignore_ascii_case(value))
            });
            if let Some(holder) = holder {
                return Some((holder.id.clone(), name.clone()));
            }
        }
        None
    }

    /// Properties HubSpot computes on every write.
    fn compute(&self, object: &mut FakeObject) {
        let id = object.id.clone();
        let created = timestamp(object.created_at);
        let updated = timestamp(object.updated_at);
        let p = &mut object.properties;
        p.insert("hs_object_id".into(), id);
        p.insert("hs_createdate".into(), created.clone());
        p.insert("hs_lastmodifieddate".into(), updated.clone());
        match object.object_type.as_str() {
            "contacts" => {
                p.insert("createdate".into(), created);
                p.insert("lastmodifieddate".into(), updated);
                for (stored, calculated, searchable) in [
                    (
                        "phone",
                        "hs_calculated_phone_number",
                        "hs_searchable_calculated_phone_number",
                    ),
                    (
                        "mobilephone",
                        "hs_calculated_mobile_number",
                        "hs_searchable_calculated_mobile_number",
                    ),
                ] {
                    p.remove(calculated);
                    p.remove(searchable);
                    let value = p.get(stored).cloned().unwrap_or_default();
                    if let Some(c) = searchable::calculate(&value, self.region) {
                        if let Some(e164) = c.e164 {
                            p.insert(calculated.into(), e164);
                        }
                        p.insert(searchable.into(), c.searchable);
                    }
                }
            }
            "deals" => {
                p.insert("createdate".into(), created);
                let pipeline = p
                    .entry("pipeline".into())
                    .or_insert_with(|| "default".into())
                    .clone();
                let stage = p.get("dealstage").cloned().unwrap_or_default();
                let found = self
                    .pipelines
                    .iter()
                    .find(|x| x.id == pipeline)
                    .and_then(|x| x.stages.iter().find(|s| s.id == stage));
                let (closed, won) = found.map(|s| (s.closed, s.won)).unwrap_or((false, false));
                p.insert("hs_is_closed".into(), closed.to_string());
                p.insert("hs_is_closed_won".into(), won.to_string());
            }
            _ => {}
        }
    }

    // ---- JSON views ----------------------------------------------------

    fn default_properties(object_type: &str) -> &'static [&'static str] {
        match object_type {
            "contacts" => &[
                "firstname",
                "lastname",
                "email",
                "createdate",
                "lastmodifieddate",
                "hs_object_id",
            ],
            "deals" => &[
                "dealname",
                "amount",
                "closedate",
                "pipeline",
                "dealstage",
                "createdate",
                "hs_lastmodifieddate",
                "hs_object_id",
            ],
            _ => &["hs_createdate", "hs_lastmodifieddate", "hs_object_id"],
        }
    }

    /// `SimplePublicObject` with the requested properties (`None`: all stored).
    pub fn object_json(&self, object: &FakeObject, requested: Option<&[String]>) -> Value {
        let defs = self.schema.get(object.object_type.as_str());
        let properties: Map<String, Value> = match requested {
            None => object
                .properties
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
            Some(names) => names
                .iter()
                .filter(|n| defs.is_some_and(|d| d.contains_key(n.as_str())))
                .map(|n| {
                    let value = object.property(n).filter(|v| !v.is_empty());
                    (
                        n.clone(),
                        value.map_or(Value::Null, |v| Value::String(v.to_string())),
                    )
                })
                .collect(),
        };
        json!({
            "id": object.id,
            "properties": properties,
            "createdAt": timestamp(object.created_at),
            "updatedAt": timestamp(object.updated_at),
            "archived": false,
        })
    }

    fn requested(object_type: &str, names: &[String]) -> Vec<String> {
        if names.is_empty() {
            Self::default_properties(object_type)
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            names.to_vec()
        }
    }

    // ---- objects -------------------------------------------------------

    /// Inserts an object as given (seed data and creates share this path).
    pub fn insert(
        &mut self,
        object_type: &'static str,
        properties: BTreeMap<String, String>,
        created_at: DateTime<Utc>,
        visible_from: Instant,
    ) -> String {
        let id = self.new_id();
        let mut object = FakeObject {
            object_type: object_type.into(),
            id: id.to_string(),
            properties,
            created_at,
            updated_at: created_at,
            archived: false,
            visible_from,
        };
        self.compute(&mut object);
        self.objects
            .entry(object_type)
            .or_default()
            .insert(id, object);
        id.to_string()
    }

    pub fn link(
        &mut self,
        from_type: &str,
        from_id: &str,
        type_id: u32,
        to_id: &str,
    ) -> Result<(), Failure> {
        let Some((_, _, to_type, inverse)) = ASSOCIATION_TYPES
            .iter()
            .find(|(from, id, _, _)| *from == from_type && *id == type_id)
        else {
            return Err(Failure::BadRequest {
                message: format!("associationTypeId {type_id} is not valid from {from_type}"),
                context: None,
            });
        };
        if self.object(to_type, to_id).is_none() {
            let kind = singular_upper(to_type);
            return Err(Failure::BadRequest {
                message: "One or more associations are invalid".into(),
                context: Some(json!({
                    "INVALID_OBJECT_IDS": [format!("{kind}={to_id} is not valid")],
                    "objectId": [to_id],
                    "objectType": [kind],
                })),
            });
        }
        for (from_type, from_id, to_type, to_id, type_id) in [
            (from_type, from_id, *to_type, to_id, type_id),
            (to_type, to_id, from_type, from_id, *inverse),
        ] {
            let edge = FakeAssociation {
                from_type: from_type.into(),
                from_id: from_id.into(),
                to_type: to_type.into(),
                to_id: to_id.into(),
                type_id,
            };
            if !self.associations.contains(&edge) {
                self.associations.push(edge);
            }
        }
        Ok(())
    }

    /// `POST /crm/v3/objects/{type}`.
    pub fn create(&mut self, object_type: &'static str, body: &Value) -> Outcome {
        let empty = Map::new();
        let properties = body
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let accepted = self.validate(object_type, properties, None)?;
        if let Some((existing, _)) = self.holder(object_type, &accepted, None) {
            let what = match object_type {
                "contacts" => "Contact".to_string(),
                other => singular_upper(other).to_lowercase(),
            };
            return Err(Failure::Conflict(format!(
                "{what} already exists. Existing ID: {existing}"
            )));
        }
        let links = parse_associations(body.get("associations"))?;
        for (to_id, type_id) in &links {
            let to_type = ASSOCIATION_TYPES
                .iter()
                .find(|(from, id, _, _)| *from == object_type && id == type_id)
                .map(|(_, _, to, _)| *to);
            match to_type {
                Some(to_type) if self.object(to_type, to_id).is_some() => {}
                Some(to_type) => {
                    let kind = singular_upper(to_type);
                    return Err(Failure::BadRequest {
                        message: "One or more associations are invalid".into(),
                        context: Some(json!({
                            "INVALID_OBJECT_IDS": [format!("{kind}={to_id} is not valid")],
                            "objectId": [to_id],
                            "objectType": [kind],
                        })),
                    });
                }
                None => {
                    return Err(Failure::BadRequest {
                        message: format!(
                            "associationTypeId {type_id} is not valid from {object_type}"
                        ),
                        context: None,
                    });
                }
            }
        }
        let visible_from = Instant::now() + self.search_lag;
        let id = self.insert(object_type, accepted, Utc::now(), visible_from);
        for (to_id, type_id) in links {
            self.link(object_type, &id, type_id, &to_id)?;
        }
        let object = self.object(object_type, &id).ok_or(Failure::NotFound)?;
        Ok(self.object_json(object, None))
    }

    /// `PATCH /crm/v3/objects/{type}/{id}`.
    pub fn update(&mut self, object_type: &'static str, id: &str, body: &Value) -> Outcome {
        let existing = self
            .object(object_type, id)
            .cloned()
            .ok_or(Failure::NotFound)?;
        let empty = Map::new();
        let properties = body
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let accepted = self.validate(object_type, properties, Some(&existing))?;
        if let Some((holder, property)) = self.holder(object_type, &accepted, Some(id)) {
            let value = accepted.get(&property).cloned().unwrap_or_default();
            return Err(Failure::BadRequest {
                message: format!(
                    "Cannot set PropertyValueCoordinates{{portalId=1, objectTypeId={object_type}, objectId={id}, propertyName={property}, value={value}}} on {id}. {holder} already has that value."
                ),
                context: None,
            });
        }
        let mut object = existing;
        for (name, value) in accepted {
            if value.is_empty() {
                object.properties.remove(&name);
            } else {
                object.properties.insert(name, value);
            }
        }
        object.updated_at = Utc::now();
        self.compute(&mut object);
        let json = self.object_json(&object, None);
        if let (Some(map), Ok(key)) = (self.objects.get_mut(object_type), id.parse::<u64>()) {
            map.insert(key, object);
        }
        Ok(json)
    }

    /// Archives (deletes) an object and its associations.
    pub fn archive(&mut self, object_type: &str, id: &str) -> bool {
        let found = id
            .parse::<u64>()
            .ok()
            .and_then(|key| self.objects.get_mut(object_type)?.get_mut(&key))
            .filter(|o| !o.archived);
        match found {
            Some(object) => {
                object.archived = true;
                self.associations.retain(|a| {
                    !((a.from_type == object_type && a.from_id == id)
                        || (a.to_type == object_type && a.to_id == id))
                });
                true
            }
            None => false,
        }
    }

    /// `GET /crm/v3/objects/{type}/{id}` (also by a unique `idProperty`).
    pub fn get(
        &self,
        object_type: &str,
        id: &str,
        id_property: Option<&str>,
        properties: &[String],
    ) -> Outcome {
        let object = match id_property.filter(|p| *p != "hs_object_id") {
            None => self.object(object_type, id),
            Some(property) => {
                let unique = self
                    .schema
                    .get(object_type)
                    .and_then(|d| d.get(property))
                    .is_some_and(|d| d.unique);
                if !unique {
                    return Err(Failure::BadRequest {
                        message: format!("{property} is not a unique property of {object_type}"),
                        context: None,
                    });
                }
                self.live(object_type)
                    .find(|o| o.property(property) == Some(id))
            }
        }
        .ok_or(Failure::NotFound)?;
        Ok(self.object_json(object, Some(&Self::requested(object_type, properties))))
    }

    /// `GET /crm/v3/objects/{type}` (one page, by id).
    pub fn list(&self, object_type: &str, limit: usize, after: usize) -> Outcome {
        let objects: Vec<&FakeObject> = self.live(object_type).collect();
        let page: Vec<Value> = objects
            .iter()
            .skip(after)
            .take(limit)
            .map(|o| self.object_json(o, Some(&Self::requested(object_type, &[]))))
            .collect();
        let mut body = json!({ "results": page });
        if after + limit < objects.len() {
            let next = (after + limit).to_string();
            body["paging"] = json!({ "next": { "after": next, "link": format!("?after={next}") } });
        }
        Ok(body)
    }

    /// `POST /crm/v3/objects/{type}/search`.
    pub fn search(&self, object_type: &str, body: &Value, now: Instant) -> Outcome {
        let request: SearchRequest =
            serde_json::from_value(body.clone()).map_err(|e| Failure::BadRequest {
                message: format!("Invalid input JSON on line 1: {e}"),
                context: None,
            })?;
        search::check_limits(&request).map_err(|message| Failure::BadRequest {
            message,
            context: None,
        })?;
        let after: usize = match request.after.as_deref() {
            None | Some("") => 0,
            Some(after) => after.parse().map_err(|_| Failure::BadRequest {
                message: format!("after must be an integer, got {after}"),
                context: None,
            })?,
        };
        let limit = request.limit.unwrap_or(10);
        let hits: Vec<&FakeObject> = self
            .live(object_type)
            .filter(|o| o.visible_from <= now)
            .filter(|o| {
                search::matches(
                    &Record {
                        object: o,
                        associations: &self.associations,
                    },
                    &request,
                )
            })
            .collect();
        let requested = Self::requested(object_type, &request.properties);
        let results: Vec<Value> = hits
            .iter()
            .skip(after)
            .take(limit)
            .map(|o| self.object_json(o, Some(&requested)))
            .collect();
        let mut body = json!({ "total": hits.len(), "results": results });
        if after + limit < hits.len() {
            let next = (after + limit).to_string();
            body["paging"] = json!({ "next": { "after": next, "link": format!("?after={next}") } });
        }
        Ok(body)
    }

    /// `POST /crm/v3/objects/{type}/batch/read`: 200, or 207 when some ids are missing.
    pub fn batch_read(&self, object_type: &str, body: &Value) -> Result<(bool, Value), Failure> {
        let names: Vec<String> = strings(body.get("properties"));
        let requested = Self::requested(object_type, &names);
        let inputs = body
            .get("inputs")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if inputs.len() > 100 {
            return Err(Failure::BadRequest {
                message: "Batch size must be less than or equal to 100".into(),
                context: None,
            });
        }
        let now = timestamp(Utc::now());
        let mut results = Vec::new();
        let mut missing = Vec::new();
        for input in inputs {
            let id = input.get("id").map(id_text).unwrap_or_default();
            match self.object(object_type, &id) {
                Some(object) => results.push(self.object_json(object, Some(&requested))),
                None => missing.push(id),
            }
        }
        let mut answer = json!({ "status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now });
        if !missing.is_empty() {
            answer["numErrors"] = json!(1);
            answer["errors"] = json!([{
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": format!("Could not get some {} objects, they may be deleted or not exist. Check that ids are valid.", singular_upper(object_type)),
                "context": { "ids": missing },
            }]);
        }
        Ok((!missing.is_empty(), answer))
    }

    /// `POST /crm/v3/objects/{type}/batch/upsert` by a unique `idProperty`.
    pub fn upsert(&mut self, object_type: &'static str, body: &Value) -> Outcome {
        let inputs = body
            .get("inputs")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut results = Vec::new();
        let started = timestamp(Utc::now());
        for input in inputs {
            let id_value = input.get("id").map(id_text).unwrap_or_default();
            let Some(id_property) = input.get("idProperty").and_then(Value::as_str) else {
                return Err(Failure::BadRequest {
                    message: "idProperty is required for upsert".into(),
                    context: None,
                });
            };
            let unique = self
                .schema
                .get(object_type)
                .and_then(|d| d.get(id_property))
                .is_some_and(|d| d.unique);
            if !unique {
                return Err(Failure::BadRequest {
                    message: format!("{id_property} is not a unique property of {object_type}"),
                    context: None,
                });
            }
            let mut properties = input
                .get("properties")
                .cloned()
                .unwrap_or_else(|| json!({}));
            properties[id_property] = Value::String(id_value.clone());
            let existing = self
                .live(object_type)
                .find(|o| {
                    o.property(id_property)
                        .is_some_and(|v| v.eq_ignore_ascii_case(&id_value))
                })
                .map(|o| o.id.clone());
            let (object, new) = match existing {
                Some(id) => (
                    self.update(object_type, &id, &json!({ "properties": properties }))?,
                    false,
                ),
                None => (
                    self.create(
                        object_type,
                        &json!({ "properties": properties, "associations": [] }),
                    )?,
                    true,
                ),
            };
            let mut object = object;
            object["new"] = json!(new);
            results.push(object);
        }
        Ok(
            json!({ "status": "COMPLETE", "results": results, "startedAt": started, "completedAt": timestamp(Utc::now()) }),
        )
    }

    /// `GET /crm/v4/objects/{type}/{id}/associations/{toType}`.
    pub fn associations_of(
        &self,
        object_type: &str,
        id: &str,
        to_type: &str,
        limit: usize,
        after: usize,
    ) -> Outcome {
        if self.object(object_type, id).is_none() {
            return Err(Failure::NotFound);
        }
        let mut grouped: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
        for a in self
            .associations
            .iter()
            .filter(|a| a.from_type == object_type && a.from_id == id && a.to_type == to_type)
        {
            if let Ok(to) = a.to_id.parse::<u64>() {
                grouped.entry(to).or_default().push(a.type_id);
            }
        }
        let results: Vec<Value> = grouped
            .iter()
            .skip(after)
            .take(limit)
            .map(|(to, types)| {
                let types: Vec<Value> = types
                    .iter()
                    .map(|t| json!({ "category": "HUBSPOT_DEFINED", "typeId": t, "label": null }))
                    .collect();
                // A JSON number, as real v4 responses send it.
                json!({ "toObjectId": to, "associationTypes": types })
            })
            .collect();
        let mut body = json!({ "results": results });
        if after + limit < grouped.len() {
            let next = (after + limit).to_string();
            body["paging"] = json!({ "next": { "after": next, "link": format!("?after={next}") } });
        }
        Ok(body)
    }

    /// `PUT /crm/v4/objects/{type}/{id}/associations/default/{toType}/{toId}`:
    /// links two records with the default type of their pair, in a separate
    /// request (what integrations do that do not associate on create).
    pub fn associate_default(
        &mut self,
        from_type: &'static str,
        from_id: &str,
        to_type: &'static str,
        to_id: &str,
    ) -> Outcome {
        if self.object(from_type, from_id).is_none() {
            return Err(Failure::NotFound);
        }
        let Some((_, type_id, _, _)) = ASSOCIATION_TYPES
            .iter()
            .find(|(from, _, to, _)| *from == from_type && *to == to_type)
        else {
            return Err(Failure::BadRequest {
                message: format!("no default association from {from_type} to {to_type}"),
                context: None,
            });
        };
        self.link(from_type, from_id, *type_id, to_id)?;
        let now = timestamp(Utc::now());
        Ok(json!({
            "status": "COMPLETE",
            "results": [{
                "from": { "id": from_id },
                "to": { "id": to_id },
                "associationSpec": { "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id },
            }],
            "startedAt": now,
            "completedAt": now,
        }))
    }

    // ---- owners, pipelines, properties ----------------------------------

    fn owner_json(&self, owner: &FakeOwner) -> Value {
        let at = timestamp(self.created);
        json!({
            "id": owner.id,
            "email": owner.email,
            "firstName": owner.first_name,
            "lastName": owner.last_name,
            "userId": if owner.archived { Value::Null } else { json!(owner.user_id) },
            "userIdIncludingInactive": owner.user_id,
            "type": "PERSON",
            "createdAt": at,
            "updatedAt": at,
            "archived": owner.archived,
            "teams": [],
        })
    }

    pub fn owners_page(
        &self,
        email: Option<&str>,
        archived: bool,
        limit: usize,
        after: usize,
    ) -> Outcome {
        if limit > 500 {
            return Err(Failure::BadRequest {
                message: "limit: Must be less than or equal to 500".into(),
                context: None,
            });
        }
        let owners: Vec<&FakeOwner> = self
            .owners
            .iter()
            .filter(|o| o.archived == archived)
            .filter(|o| email.is_none_or(|e| o.email.eq_ignore_ascii_case(e)))
            .collect();
        let results: Vec<Value> = owners
            .iter()
            .skip(after)
            .take(limit)
            .map(|o| self.owner_json(o))
            .collect();
        let mut body = json!({ "results": results });
        if after + limit < owners.len() {
            let next = (after + limit).to_string();
            body["paging"] = json!({ "next": { "after": next, "link": format!("?after={next}") } });
        }
        Ok(body)
    }

    pub fn owner(&self, id: &str, by_user_id: bool, archived: bool) -> Outcome {
        self.owners
            .iter()
            .filter(|o| o.archived == archived)
            .find(|o| {
                if by_user_id {
                    o.user_id.to_string() == id
                } else {
                    o.id == id
                }
            })
            .map(|o| self.owner_json(o))
            .ok_or(Failure::NotFound)
    }

    pub fn pipelines_json(&self) -> Value {
        let at = timestamp(self.created);
        let results: Vec<Value> = self
            .pipelines
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let stages: Vec<Value> = p
                    .stages
                    .iter()
                    .enumerate()
                    .map(|(j, s)| {
                        json!({
                            "id": s.id, "label": s.label, "displayOrder": j, "archived": false,
                            "createdAt": at, "updatedAt": at, "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                            "metadata": { "isClosed": s.closed.to_string(), "probability": if s.won { "1.0" } else if s.closed { "0.0" } else { "0.2" } },
                        })
                    })
                    .collect();
                json!({ "id": p.id, "label": p.label, "displayOrder": i, "archived": false, "createdAt": at, "updatedAt": at, "stages": stages })
            })
            .collect();
        json!({ "results": results })
    }

    pub fn property(&self, object_type: &str, name: &str) -> Outcome {
        self.schema
            .get(object_type)
            .and_then(|d| d.get(name))
            .map(|d| d.to_json(&timestamp(self.created)))
            .ok_or(Failure::NotFound)
    }

    pub fn create_property(&mut self, object_type: &'static str, body: &Value) -> Outcome {
        let def = schema::custom(body).map_err(|message| Failure::BadRequest {
            message,
            context: None,
        })?;
        if !schema::groups(object_type).contains(&def.group.as_str()) {
            return Err(Failure::BadRequest {
                message: format!("groupName {} does not exist for {object_type}", def.group),
                context: None,
            });
        }
        let defs = self.schema.entry(object_type).or_default();
        if defs.contains_key(&def.name) {
            return Err(Failure::AlreadyExists(format!(
                "A property named '{}' already exists.",
                def.name
            )));
        }
        let json = def.to_json(&timestamp(Utc::now()));
        defs.insert(def.name.clone(), def);
        Ok(json)
    }

    pub fn groups_json(&self, object_type: &str) -> Value {
        let results: Vec<Value> = schema::groups(object_type)
            .iter()
            .enumerate()
            .map(|(i, g)| json!({ "name": g, "label": g, "displayOrder": i, "archived": false }))
            .collect();
        json!({ "results": results })
    }
}

/// An id sent as a string or a number.
fn id_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Inline associations of a create: (target id, type id) pairs.
fn parse_associations(value: Option<&Value>) -> Result<Vec<(String, u32)>, Failure> {
    let mut links = Vec::new();
    for association in value.and_then(Value::as_array).into_iter().flatten() {
        let to = association.get("to").and_then(|t| t.get("id")).map(id_text);
        let types = association.get("types").and_then(Value::as_array);
        let (Some(to), Some(types)) = (to, types) else {
            return Err(Failure::BadRequest {
                message: "Invalid input JSON: an association needs `to.id` and `types`".into(),
                context: None,
            });
        };
        for spec in types {
            let category = spec.get("associationCategory").and_then(Value::as_str);
            let type_id = spec.get("associationTypeId").and_then(Value::as_u64);
            match (category, type_id) {
                (Some("HUBSPOT_DEFINED"), Some(type_id)) => {
                    links.push((to.clone(), type_id as u32))
                }
                _ => {
                    return Err(Failure::BadRequest {
                        message: format!("Invalid association type {spec}"),
                        context: None,
                    });
                }
            }
        }
    }
    Ok(links)
}
