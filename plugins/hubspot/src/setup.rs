//! `switchboard hubspot setup`: creates the custom properties Switchboard
//! needs, and leaves alone those that exist. Safe to run again.
//!
//! - the step-key property on contacts, deals, tasks and notes, unique on
//!   contacts and deals (HubSpot allows unique values there; on engagement
//!   objects it is not documented, so tasks and notes get a plain property,
//!   and calls use HubSpot's own `hs_call_external_id`);
//! - `phone_e164`, a unique contact property that makes contact creation
//!   an atomic create-or-find (`batch/upsert` by it);
//! - the deal properties that carry UTM tags, as plain text, by name.

use std::fmt;

use serde_json::json;
use switchboard_core::connector::{ConnectorError, ObjectKind};

use crate::client::Request;
use crate::connector::HubSpotConnector;
use crate::model::{self, Page, PropertyGroup, object_type};

/// One property setup looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyOutcome {
    pub object: &'static str,
    pub name: String,
    pub state: PropertyState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropertyState {
    Created,
    AlreadyThere,
    /// Exists, but not unique as Switchboard wants; HubSpot cannot change
    /// that on an existing property, so it is reported, not altered.
    ExistsNotUnique,
    Failed(String),
}

/// What `setup` did, printable for the CLI.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetupReport {
    pub properties: Vec<PropertyOutcome>,
}

impl SetupReport {
    pub fn is_ok(&self) -> bool {
        self.properties
            .iter()
            .all(|p| !matches!(p.state, PropertyState::Failed(_)))
    }
}

impl fmt::Display for SetupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.properties {
            let (mark, text) = match &p.state {
                PropertyState::Created => ("+", "created".to_string()),
                PropertyState::AlreadyThere => ("=", "already there".to_string()),
                PropertyState::ExistsNotUnique => (
                    "!",
                    "exists but is not unique; duplicates are still prevented by search and the lookup cache".to_string(),
                ),
                PropertyState::Failed(why) => ("x", format!("failed: {why}")),
            };
            writeln!(f, "{mark} {}.{}: {text}", p.object, p.name)?;
        }
        Ok(())
    }
}

/// A property setup wants.
struct Wanted {
    object: &'static str,
    name: String,
    label: String,
    unique: bool,
}

/// Creates what is missing: step-key properties, `phone_e164`, and the
/// deal properties named in `utm_properties`.
pub async fn setup(
    connector: &HubSpotConnector,
    utm_properties: &[String],
) -> Result<SetupReport, ConnectorError> {
    let config = connector.config();
    let mut wanted = Vec::new();
    for kind in crate::connector::STEP_KEY_OBJECTS {
        wanted.push(Wanted {
            object: object_type(kind),
            name: config.step_key_property.clone(),
            label: "Switchboard step key".into(),
            unique: matches!(kind, ObjectKind::Contact | ObjectKind::Deal),
        });
    }
    wanted.push(Wanted {
        object: "contacts",
        name: config.phone_property.clone(),
        label: "Phone (E.164)".into(),
        unique: true,
    });
    for name in utm_properties {
        wanted.push(Wanted {
            object: "deals",
            name: name.clone(),
            label: name.replace('_', " "),
            unique: false,
        });
    }
    let mut report = SetupReport::default();
    for property in wanted {
        let state = ensure(connector, &property).await?;
        report.properties.push(PropertyOutcome {
            object: property.object,
            name: property.name,
            state,
        });
    }
    Ok(report)
}

async fn ensure(
    connector: &HubSpotConnector,
    wanted: &Wanted,
) -> Result<PropertyState, ConnectorError> {
    if let Some(existing) = connector.property(wanted.object, &wanted.name).await? {
        return Ok(if wanted.unique && !existing.has_unique_value {
            PropertyState::ExistsNotUnique
        } else {
            PropertyState::AlreadyThere
        });
    }
    let group = first_group(connector, wanted.object).await?;
    let body = json!({
        "name": wanted.name,
        "label": wanted.label,
        "type": "string",
        "fieldType": "text",
        "groupName": group,
        "hasUniqueValue": wanted.unique,
        "description": "Written by Switchboard (Ringostat call integration).",
    });
    let request = Request::post(
        "create_property",
        format!("/crm/v3/properties/{}", wanted.object),
        body,
    );
    match connector.client().send(&request).await {
        Ok(_) => Ok(PropertyState::Created),
        // Created meanwhile by another run.
        Err(ConnectorError::Conflict { .. }) => Ok(PropertyState::AlreadyThere),
        Err(ConnectorError::InvalidRequest { code, message }) => {
            Ok(PropertyState::Failed(match code {
                Some(code) => format!("{code}: {message}"),
                None => message,
            }))
        }
        Err(other) => Err(other),
    }
}

/// New properties go into the object's first property group (every object
/// type has at least one; their names differ per type).
async fn first_group(connector: &HubSpotConnector, object: &str) -> Result<String, ConnectorError> {
    let request = Request::get(
        "read_property_groups",
        format!("/crm/v3/properties/{object}/groups"),
    );
    let body = connector.client().send(&request).await?.unwrap_or_default();
    let page: Page<PropertyGroup> = model::decode("read_property_groups", &body)?;
    page.results
        .into_iter()
        .next()
        .map(|g| g.name)
        .ok_or_else(|| ConnectorError::InvalidRequest {
            code: None,
            message: format!("HubSpot lists no property group for {object}"),
        })
}
