//! HubSpot's JSON shapes, as far as the connector reads them.
//!
//! Only responses are typed here; requests are built where they are sent
//! (and checked against the official specs by the contract tests). Reads are
//! lenient: unknown fields are ignored, and ids may come as numbers where the
//! spec says strings (v4 associations do).

use std::collections::BTreeMap;

use serde::Deserialize;
use switchboard_core::connector::{ConnectorError, ObjectKind};

/// HubSpot's object type name in URLs.
pub fn object_type(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Contact => "contacts",
        ObjectKind::Deal => "deals",
        ObjectKind::Call => "calls",
        ObjectKind::Task => "tasks",
        ObjectKind::Note => "notes",
    }
}

/// HUBSPOT_DEFINED association type ids, in the direction of the request.
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

/// A CRM object (`SimplePublicObject`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HubObject {
    pub id: String,
    #[serde(default)]
    pub properties: BTreeMap<String, Option<String>>,
    pub created_at: Option<String>,
}

impl HubObject {
    /// A property's value; `null` and empty strings are absent.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .get(name)
            .and_then(|v| v.as_deref())
            .filter(|v| !v.is_empty())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Paging {
    pub next: Option<NextPage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NextPage {
    pub after: String,
}

/// A page of results (`search`, list endpoints, batch reads).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub results: Vec<T>,
    #[serde(default)]
    pub paging: Option<Paging>,
}

impl<T> Page<T> {
    pub fn next_after(&self) -> Option<&str> {
        self.paging
            .as_ref()
            .and_then(|p| p.next.as_ref())
            .map(|n| n.after.as_str())
    }
}

/// One item of a batch upsert answer (`SimplePublicUpsertObject`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Upserted {
    #[serde(flatten)]
    pub object: HubObject,
    #[serde(default)]
    pub new: bool,
}

/// One associated object of a v4 association read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Associated {
    pub to_object_id: serde_json::Value,
}

impl Associated {
    /// The id as a string, whether HubSpot sent a number or a string.
    pub fn id(&self) -> Option<String> {
        match &self.to_object_id {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

/// An owner (`PublicOwner`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Owner {
    pub id: String,
    pub email: Option<String>,
    #[serde(default)]
    pub archived: bool,
}

/// A pipeline with its stages.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Pipeline {
    pub id: String,
    pub label: String,
    #[serde(default)]
    pub stages: Vec<Stage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Stage {
    pub id: String,
    pub label: String,
}

/// A property definition (only what setup and doctor look at).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyDefinition {
    pub name: String,
    #[serde(default)]
    pub has_unique_value: bool,
}

/// A property group (setup puts new properties in the object's first group).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PropertyGroup {
    pub name: String,
}

/// Decodes a successful response body; a shape HubSpot should never send
/// is reported as an invalid exchange, not retried.
pub fn decode<T: serde::de::DeserializeOwned>(
    operation: &str,
    body: &[u8],
) -> Result<T, ConnectorError> {
    serde_json::from_slice(body).map_err(|e| ConnectorError::InvalidRequest {
        code: Some("UNEXPECTED_RESPONSE".into()),
        message: format!("HubSpot's answer to {operation} could not be read: {e}"),
    })
}
