//! The fake's property definitions per object type: which properties exist,
//! their enums, which are unique, which are required, which HubSpot
//! computes. Properties created through the properties API join them.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// One property definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyDef {
    pub name: String,
    pub label: String,
    pub group: String,
    /// HubSpot's data type (`string`, `number`, `enumeration`, `datetime`, ...).
    pub kind: String,
    pub field_type: String,
    /// Allowed values of an enumeration.
    pub options: Option<Vec<String>>,
    pub unique: bool,
    /// Computed by HubSpot; written values are ignored.
    pub calculated: bool,
    pub hubspot_defined: bool,
}

impl PropertyDef {
    fn builtin(name: &str, group: &str, kind: &str) -> PropertyDef {
        PropertyDef {
            name: name.into(),
            label: name.replace('_', " "),
            group: group.into(),
            kind: kind.into(),
            field_type: match kind {
                "enumeration" => "select",
                "number" => "number",
                "datetime" => "date",
                _ => "text",
            }
            .into(),
            options: None,
            unique: false,
            calculated: false,
            hubspot_defined: true,
        }
    }

    fn options(mut self, options: &[&str]) -> PropertyDef {
        self.options = Some(options.iter().map(|o| o.to_string()).collect());
        self
    }

    fn calculated(mut self) -> PropertyDef {
        self.calculated = true;
        self
    }

    fn unique(mut self) -> PropertyDef {
        self.unique = true;
        self
    }

    /// The `Property` JSON HubSpot returns.
    pub fn to_json(&self, created_at: &str) -> Value {
        let options: Vec<Value> = self
            .options
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, o)| json!({ "label": o, "value": o, "displayOrder": i, "hidden": false }))
            .collect();
        json!({
            "name": self.name,
            "label": self.label,
            "type": self.kind,
            "fieldType": self.field_type,
            "description": "",
            "groupName": self.group,
            "options": options,
            "displayOrder": -1,
            "calculated": self.calculated,
            "externalOptions": false,
            "hasUniqueValue": self.unique,
            "hidden": false,
            "hubspotDefined": self.hubspot_defined,
            "formField": !self.calculated,
            "archived": false,
            "createdAt": created_at,
            "updatedAt": created_at,
        })
    }
}

/// Property groups per object type (new properties need one).
pub fn groups(object: &str) -> Vec<&'static str> {
    match object {
        "contacts" => vec!["contactinformation", "conversioninformation"],
        "deals" => vec!["dealinformation"],
        "calls" => vec!["call"],
        "tasks" => vec!["task"],
        "notes" => vec!["note"],
        _ => vec![],
    }
}

pub const CALL_STATUSES: &[&str] = &[
    "BUSY",
    "CALLING_CRM_USER",
    "CANCELED",
    "COMPLETED",
    "CONNECTING",
    "FAILED",
    "IN_PROGRESS",
    "MISSED",
    "NO_ANSWER",
    "QUEUED",
    "RINGING",
];

/// HubSpot's default call outcomes.
pub const DISPOSITIONS: &[&str] = &[
    "9d9162e7-6cf3-4944-bf63-4dff82258764",
    "f240bbac-87c9-4f6e-bf70-924b57d47db7",
    "a4c4c377-d246-4b32-a13b-75a56a4cd0ff",
    "b2cf5968-551e-4856-9783-52b3da59a7d0",
    "73a0d17f-1163-4015-bdd5-ec830791da20",
    "17b47fee-58de-441e-a44c-c6300d46f273",
];

/// The built-in properties of each object type the fake serves.
pub fn builtin(object: &str) -> BTreeMap<String, PropertyDef> {
    let group = groups(object).first().copied().unwrap_or("information");
    let p = |name: &str, kind: &str| PropertyDef::builtin(name, group, kind);
    let mut defs = vec![
        p("hs_object_id", "number").calculated(),
        p("hubspot_owner_id", "enumeration"),
        p("hs_createdate", "datetime").calculated(),
        p("hs_lastmodifieddate", "datetime").calculated(),
    ];
    match object {
        "contacts" => defs.extend([
            p("createdate", "datetime").calculated(),
            p("lastmodifieddate", "datetime").calculated(),
            p("firstname", "string"),
            p("lastname", "string"),
            p("email", "string").unique(),
            p("phone", "string"),
            p("mobilephone", "string"),
            p("company", "string"),
            p("lifecyclestage", "enumeration").options(&[
                "subscriber",
                "lead",
                "marketingqualifiedlead",
                "salesqualifiedlead",
                "opportunity",
                "customer",
                "evangelist",
                "other",
            ]),
            p("hs_calculated_phone_number", "string").calculated(),
            p("hs_calculated_mobile_number", "string").calculated(),
            p("hs_searchable_calculated_phone_number", "string").calculated(),
            p("hs_searchable_calculated_mobile_number", "string").calculated(),
        ]),
        "deals" => defs.extend([
            p("createdate", "datetime").calculated(),
            p("dealname", "string"),
            p("dealstage", "enumeration"),
            p("pipeline", "enumeration"),
            p("amount", "number"),
            p("closedate", "datetime"),
            p("dealtype", "enumeration").options(&["newbusiness", "existingbusiness"]),
            p("description", "string"),
            p("hs_is_closed", "bool").calculated(),
            p("hs_is_closed_won", "bool").calculated(),
        ]),
        "calls" => defs.extend([
            p("hs_timestamp", "datetime"),
            p("hs_call_title", "string"),
            p("hs_call_body", "string"),
            p("hs_call_direction", "enumeration").options(&["INBOUND", "OUTBOUND"]),
            p("hs_call_disposition", "enumeration").options(DISPOSITIONS),
            p("hs_call_duration", "number"),
            p("hs_call_from_number", "string"),
            p("hs_call_to_number", "string"),
            p("hs_call_recording_url", "string"),
            p("hs_call_status", "enumeration").options(CALL_STATUSES),
            p("hs_call_external_id", "string"),
            p("hs_call_external_account_id", "string"),
            p("hs_call_source", "enumeration").options(&["INTEGRATIONS_PLATFORM"]),
            p("hs_call_has_voicemail", "bool"),
            p("hs_activity_type", "string"),
        ]),
        "tasks" => defs.extend([
            p("hs_timestamp", "datetime"),
            p("hs_task_subject", "string"),
            p("hs_task_body", "string"),
            p("hs_task_status", "enumeration").options(&[
                "NOT_STARTED",
                "IN_PROGRESS",
                "WAITING",
                "COMPLETED",
                "DEFERRED",
            ]),
            p("hs_task_priority", "enumeration").options(&["LOW", "MEDIUM", "HIGH"]),
            p("hs_task_type", "enumeration").options(&["EMAIL", "CALL", "TODO"]),
            p("hs_task_reminders", "string"),
        ]),
        "notes" => defs.extend([
            p("hs_timestamp", "datetime"),
            p("hs_note_body", "string"),
            p("hs_attachment_ids", "string"),
        ]),
        _ => {}
    }
    defs.into_iter().map(|d| (d.name.clone(), d)).collect()
}

/// Engagements refuse a create without `hs_timestamp`.
pub fn required(object: &str) -> &'static [&'static str] {
    match object {
        "calls" | "tasks" | "notes" => &["hs_timestamp"],
        "deals" => &["dealname", "dealstage"],
        _ => &[],
    }
}

/// A property definition created through `POST /crm/v3/properties/{type}`.
pub fn custom(body: &Value) -> Result<PropertyDef, String> {
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_string);
    let mut missing = Vec::new();
    for key in ["name", "label", "type", "fieldType", "groupName"] {
        if text(key).is_none() {
            missing.push(key);
        }
    }
    if !missing.is_empty() {
        return Err(format!("missing required fields: {}", missing.join(", ")));
    }
    let kind = text("type").unwrap_or_default();
    let allowed = [
        "bool",
        "date",
        "datetime",
        "enumeration",
        "number",
        "phone_number",
        "string",
    ];
    if !allowed.contains(&kind.as_str()) {
        return Err(format!("type {kind} is not one of {}", allowed.join(", ")));
    }
    let options = body
        .get("options")
        .and_then(Value::as_array)
        .map(|options| {
            options
                .iter()
                .filter_map(|o| o.get("value").and_then(Value::as_str).map(str::to_string))
                .collect::<Vec<_>>()
        });
    Ok(PropertyDef {
        name: text("name").unwrap_or_default(),
        label: text("label").unwrap_or_default(),
        group: text("groupName").unwrap_or_default(),
        kind,
        field_type: text("fieldType").unwrap_or_default(),
        options: options.filter(|o| !o.is_empty()),
        unique: body
            .get("hasUniqueValue")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        calculated: false,
        hubspot_defined: false,
    })
}
