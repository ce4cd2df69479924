//! Which payload field holds what: the canonical fields the intake fills, the
//! default aliases that cover the payload shapes Ringostat is known to send,
//! and the `webhook.fields` overrides for projects that named their
//! parameters differently.
//!
//! Ringostat lets every project name its webhook parameters, so there is no
//! schema to code against. The defaults cover Ringostat's call-log names
//! (`uniqueid`, `caller`, `dst`, `disposition`, `billsec`, ...), the classic
//! webhook names (`call_id`, `callee`, `status`, `dialog`, ...), Webhooks 2.0
//! (`cdr_id`, `E164`, `userfield`) and common hand-picked ones. Names match
//! without regard to case.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::event::Direction;

/// A canonical event field that the intake reads from the payload. The names
/// are those of [`crate::event::CANONICAL_FIELDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    CallId,
    CallType,
    Disposition,
    ClientPhone,
    TrackingNumber,
    CallTime,
    TalkSeconds,
    TotalSeconds,
    WaitSeconds,
    RecordingUrl,
    CallCardUrl,
    ConnectedWith,
    EmployeeSip,
    EmployeeId,
    EmployeeName,
    EmployeeEmail,
    EmployeeExtension,
    Department,
    UtmSource,
    UtmMedium,
    UtmCampaign,
    UtmTerm,
    UtmContent,
    PoolName,
    Landing,
    Referrer,
    GaClientId,
    RemoteIp,
    SubstitutionType,
    SchemeName,
    Proper,
    Repeated,
}

impl Field {
    pub const ALL: [Field; 32] = [
        Field::CallId,
        Field::CallType,
        Field::Disposition,
        Field::ClientPhone,
        Field::TrackingNumber,
        Field::CallTime,
        Field::TalkSeconds,
        Field::TotalSeconds,
        Field::WaitSeconds,
        Field::RecordingUrl,
        Field::CallCardUrl,
        Field::ConnectedWith,
        Field::EmployeeSip,
        Field::EmployeeId,
        Field::EmployeeName,
        Field::EmployeeEmail,
        Field::EmployeeExtension,
        Field::Department,
        Field::UtmSource,
        Field::UtmMedium,
        Field::UtmCampaign,
        Field::UtmTerm,
        Field::UtmContent,
        Field::PoolName,
        Field::Landing,
        Field::Referrer,
        Field::GaClientId,
        Field::RemoteIp,
        Field::SubstitutionType,
        Field::SchemeName,
        Field::Proper,
        Field::Repeated,
    ];

    /// The canonical name, as written in `webhook.fields` and read by rules.
    pub fn name(&self) -> &'static str {
        match self {
            Field::CallId => "call_id",
            Field::CallType => "call_type",
            Field::Disposition => "disposition",
            Field::ClientPhone => "client_phone",
            Field::TrackingNumber => "tracking_number",
            Field::CallTime => "call_time",
            Field::TalkSeconds => "talk_seconds",
            Field::TotalSeconds => "total_seconds",
            Field::WaitSeconds => "wait_seconds",
            Field::RecordingUrl => "recording_url",
            Field::CallCardUrl => "call_card_url",
            Field::ConnectedWith => "connected_with",
            Field::EmployeeSip => "employee_sip",
            Field::EmployeeId => "employee_id",
            Field::EmployeeName => "employee_name",
            Field::EmployeeEmail => "employee_email",
            Field::EmployeeExtension => "employee_extension",
            Field::Department => "department",
            Field::UtmSource => "utm_source",
            Field::UtmMedium => "utm_medium",
            Field::UtmCampaign => "utm_campaign",
            Field::UtmTerm => "utm_term",
            Field::UtmContent => "utm_content",
            Field::PoolName => "pool_name",
            Field::Landing => "landing",
            Field::Referrer => "referrer",
            Field::GaClientId => "ga_client_id",
            Field::RemoteIp => "remote_ip",
            Field::SubstitutionType => "substitution_type",
            Field::SchemeName => "scheme_name",
            Field::Proper => "proper",
            Field::Repeated => "repeated",
        }
    }

    /// Read before the direction is known, so they cannot differ by direction.
    pub fn is_direction_independent(&self) -> bool {
        matches!(self, Field::CallId | Field::CallType)
    }

    /// The payload names tried, in order, when the configuration says nothing.
    pub fn default_aliases(&self, direction: Direction) -> &'static [&'static str] {
        use Direction::{Incoming, Outgoing};
        match (self, direction) {
            (Field::CallId, _) => &[
                "uniqueid",
                "call_id",
                "cdr_id",
                "unique_call",
                "callid",
                "unique_id",
            ],
            (Field::CallType, _) => &["call_type", "type", "calltype", "direction"],
            (Field::Disposition, _) => &["disposition", "status", "call_status", "dialstatus"],
            // The client is the caller on incoming calls...
            (Field::ClientPhone, Incoming) => &[
                "caller",
                "e164",
                "userfield",
                "caller_number",
                "number_e164",
                "client_number",
                "client_phone",
                "phone",
                "callerid",
                "from",
            ],
            // ...and the destination on outgoing ones.
            (Field::ClientPhone, Outgoing) => &[
                "dst",
                "callee",
                "destination",
                "call_destination",
                "number_e164",
                "e164",
                "client_number",
                "client_phone",
                "phone",
                "to",
            ],
            // On incoming calls `dst` is the company number the client dialled.
            (Field::TrackingNumber, Incoming) => &[
                "dst",
                "callee",
                "destination",
                "call_destination",
                "tracking_number",
                "did",
            ],
            (Field::TrackingNumber, Outgoing) => &["outbound_number", "tracking_number"],
            (Field::CallTime, _) => &[
                "calldate",
                "call_date",
                "date",
                "call_start",
                "start_time",
                "datetime",
                "call_timestamp",
                "timestamp",
            ],
            (Field::TalkSeconds, _) => &[
                "billsec",
                "dialog",
                "duration_conversation",
                "talk_time",
                "talk_seconds",
                "conversation_duration",
            ],
            (Field::TotalSeconds, _) => &[
                "duration",
                "call_duration",
                "duration_call",
                "total_seconds",
            ],
            (Field::WaitSeconds, _) => &[
                "waittime",
                "waiting",
                "duration_waiting",
                "wait_time",
                "wait_seconds",
            ],
            (Field::RecordingUrl, _) => &[
                "recording_wav",
                "recording_mp3",
                "recording",
                "call_recording",
                "recording_url",
                "record_link",
                "record_url",
            ],
            (Field::CallCardUrl, _) => {
                &["call_card", "call_card_link", "call_card_url", "callcard"]
            }
            (Field::ConnectedWith, _) => &["connected_with", "answered_by"],
            // On outgoing calls the caller is the employee (`"login" <login>`).
            (Field::EmployeeSip, Incoming) => &["employee_sip", "sip_login"],
            (Field::EmployeeSip, Outgoing) => {
                &["caller", "employee_sip", "sip_login", "caller_number"]
            }
            (Field::EmployeeId, _) => &["employee_number", "staffid", "employee_id", "staff_id"],
            (Field::EmployeeName, _) => &["employee_fio", "employee", "employee_name"],
            (Field::EmployeeEmail, _) => &["employee_email", "user_email"],
            (Field::EmployeeExtension, _) => &[
                "employee_extension",
                "employee_estension",
                "extension",
                "internal_number",
            ],
            (Field::Department, _) => &["department", "employee_department"],
            (Field::UtmSource, _) => &["utm_source"],
            (Field::UtmMedium, _) => &["utm_medium"],
            (Field::UtmCampaign, _) => &["utm_campaign"],
            (Field::UtmTerm, _) => &["utm_term"],
            (Field::UtmContent, _) => &["utm_content"],
            (Field::PoolName, _) => &["pool_name", "pool"],
            (Field::Landing, _) => &["landing", "landing_page"],
            (Field::Referrer, _) => &["refferrer", "referrer", "referer"],
            (Field::GaClientId, _) => &["client_id", "ga_client_id", "ga"],
            (Field::RemoteIp, _) => &["remote_ip", "visitor_ip", "ip"],
            (Field::SubstitutionType, _) => &["substitution_type", "insertion_type"],
            (Field::SchemeName, _) => &["scheme_name", "scheme"],
            (Field::Proper, _) => &["proper_flag", "proper"],
            (Field::Repeated, _) => &["repeated_flag", "repeated"],
        }
    }
}

/// `webhook.fields`: for some canonical fields, the payload names to use
/// instead of the defaults, for both directions or per direction:
///
/// ```yaml
/// fields:
///   call_id: my_call_id
///   client_phone:
///     incoming: [client, caller]
///     outgoing: [callee]
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldOverrides(BTreeMap<Field, Aliases>);

/// Replacement aliases of one field; a direction left out keeps its defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aliases {
    pub incoming: Option<Vec<String>>,
    pub outgoing: Option<Vec<String>>,
}

impl FieldOverrides {
    pub fn set(&mut self, field: Field, aliases: Aliases) {
        self.0.insert(field, aliases);
    }
}

/// The resolved aliases (defaults plus overrides), lower-cased, per field and
/// direction.
#[derive(Debug, Clone)]
pub struct FieldMap(HashMap<(Field, Direction), Vec<String>>);

impl FieldMap {
    pub fn new(overrides: &FieldOverrides) -> FieldMap {
        let mut map = HashMap::new();
        for field in Field::ALL {
            for direction in [Direction::Incoming, Direction::Outgoing] {
                let chosen = overrides.0.get(&field).and_then(|aliases| match direction {
                    Direction::Incoming => aliases.incoming.clone(),
                    Direction::Outgoing => aliases.outgoing.clone(),
                });
                let aliases = chosen.unwrap_or_else(|| {
                    field
                        .default_aliases(direction)
                        .iter()
                        .map(|a| a.to_string())
                        .collect()
                });
                map.insert(
                    (field, direction),
                    aliases.iter().map(|a| a.to_lowercase()).collect(),
                );
            }
        }
        FieldMap(map)
    }

    /// The payload names tried for `field` on calls in `direction`, in order.
    pub fn aliases(&self, field: Field, direction: Direction) -> &[String] {
        self.0
            .get(&(field, direction))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

impl Default for FieldMap {
    fn default() -> Self {
        FieldMap::new(&FieldOverrides::default())
    }
}

impl<'de> Deserialize<'de> for FieldOverrides {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OverridesVisitor;

        impl<'de> Visitor<'de> for OverridesVisitor {
            type Value = FieldOverrides;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map from canonical field names to payload field names")
            }

            fn visit_unit<E: de::Error>(self) -> Result<FieldOverrides, E> {
                Ok(FieldOverrides::default())
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FieldOverrides, A::Error> {
                let mut overrides = FieldOverrides::default();
                while let Some(field) = map.next_key::<Field>()? {
                    let aliases: Aliases = map.next_value()?;
                    if field.is_direction_independent() && aliases.incoming != aliases.outgoing {
                        return Err(de::Error::custom(format_args!(
                            "{} is read before the direction is known: give one list, not incoming/outgoing",
                            field.name()
                        )));
                    }
                    overrides.set(field, aliases);
                }
                Ok(overrides)
            }
        }

        deserializer.deserialize_any(OverridesVisitor)
    }
}

impl<'de> Deserialize<'de> for Aliases {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AliasesVisitor;

        fn both(names: Vec<String>) -> Aliases {
            Aliases {
                incoming: Some(names.clone()),
                outgoing: Some(names),
            }
        }

        impl<'de> Visitor<'de> for AliasesVisitor {
            type Value = Aliases;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name, a list of field names, or `incoming:`/`outgoing:` lists")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Aliases, E> {
                Ok(both(vec![v.to_string()]))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Aliases, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = seq.next_element::<String>()? {
                    names.push(name);
                }
                if names.is_empty() {
                    return Err(de::Error::custom(
                        "an empty list would never find the field",
                    ));
                }
                Ok(both(names))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Aliases, A::Error> {
                #[derive(Deserialize)]
                #[serde(rename_all = "snake_case")]
                enum Side {
                    Incoming,
                    Outgoing,
                }
                let mut aliases = Aliases::default();
                while let Some(side) = map.next_key::<Side>()? {
                    let names = map.next_value::<OneOrMany>()?.0;
                    match side {
                        Side::Incoming => aliases.incoming = Some(names),
                        Side::Outgoing => aliases.outgoing = Some(names),
                    }
                }
                Ok(aliases)
            }
        }

        deserializer.deserialize_any(AliasesVisitor)
    }
}

/// `name` or `[name, ...]`.
struct OneOrMany(Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let aliases = Aliases::deserialize(deserializer)?;
        Ok(OneOrMany(aliases.incoming.unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overrides(yaml: &str) -> Result<FieldOverrides, crate::config::yaml::YamlError> {
        crate::config::yaml::from_str(yaml)
    }

    #[test]
    fn defaults_put_the_client_on_the_callers_side_of_incoming_calls() {
        let map = FieldMap::default();
        assert_eq!(
            map.aliases(Field::ClientPhone, Direction::Incoming)[0],
            "caller"
        );
        assert_eq!(
            map.aliases(Field::ClientPhone, Direction::Outgoing)[0],
            "dst"
        );
        assert_eq!(
            map.aliases(Field::TrackingNumber, Direction::Incoming)[0],
            "dst"
        );
        assert!(
            map.aliases(Field::EmployeeSip, Direction::Outgoing)
                .contains(&"caller".to_string())
        );
        assert!(
            !map.aliases(Field::EmployeeSip, Direction::Incoming)
                .contains(&"caller".to_string())
        );
    }

    #[test]
    fn every_field_has_default_aliases_in_both_directions() {
        for field in Field::ALL {
            for direction in [Direction::Incoming, Direction::Outgoing] {
                assert!(
                    !field.default_aliases(direction).is_empty(),
                    "{field:?} {direction}"
                );
                for alias in field.default_aliases(direction) {
                    assert_eq!(
                        alias.to_lowercase(),
                        *alias,
                        "aliases are matched lower-cased"
                    );
                }
            }
        }
    }

    #[test]
    fn every_field_is_a_canonical_event_field() {
        for field in Field::ALL {
            assert!(
                crate::event::CallEvent::is_canonical_field(field.name()),
                "{field:?}"
            );
        }
    }

    #[test]
    fn overrides_replace_defaults_per_direction() {
        let parsed = overrides(
            "call_id: My_Call\nclient_phone:\n  outgoing: [callee_number, dst]\nemployee_name: [manager, employee_fio]\n",
        )
        .expect("valid overrides");
        let map = FieldMap::new(&parsed);
        assert_eq!(map.aliases(Field::CallId, Direction::Incoming), ["my_call"]);
        assert_eq!(map.aliases(Field::CallId, Direction::Outgoing), ["my_call"]);
        assert_eq!(
            map.aliases(Field::ClientPhone, Direction::Outgoing),
            ["callee_number", "dst"]
        );
        assert_eq!(
            map.aliases(Field::ClientPhone, Direction::Incoming)[0],
            "caller",
            "incoming keeps its defaults"
        );
        assert_eq!(
            map.aliases(Field::EmployeeName, Direction::Incoming),
            ["manager", "employee_fio"]
        );
    }

    #[test]
    fn bad_overrides_are_refused_with_their_line() {
        let unknown = overrides("call_id: x\nclient_fone: [a]\n").expect_err("unknown field");
        assert!(
            unknown
                .to_string()
                .contains("unknown variant `client_fone`"),
            "{unknown}"
        );
        assert_eq!(unknown.line(), Some(2));
        let per_direction =
            overrides("call_type:\n  incoming: [t]\n").expect_err("direction independent");
        assert!(
            per_direction
                .to_string()
                .contains("before the direction is known"),
            "{per_direction}"
        );
        let side = overrides("client_phone:\n  inbound: [a]\n").expect_err("unknown side");
        assert!(side.to_string().contains("inbound"), "{side}");
    }
}
