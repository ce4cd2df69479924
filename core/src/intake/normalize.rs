//! Normalization: a decoded [`Payload`] becomes a [`CallEvent`].
//!
//! Only three things make a payload undecodable: no call id, and a missing or
//! unknown call type (without them the event cannot be deduplicated or
//! routed). Everything else is taken as far as it goes: a missing, hidden or
//! SIP-only client number is accepted with the reason recorded, because the
//! rules decide what such a call means; an unreadable date or duration is
//! left empty (the raw payload still has it).

use std::collections::{BTreeMap, HashSet};

use chrono_tz::Tz;

use super::fields::{Field, FieldMap};
use super::payload::{Payload, text_of};
use super::values;
use crate::event::{
    CallEvent, CallType, ClientNumber, Direction, Disposition, EmployeeIdentity, EventKind,
    UnknownCallType, Utm, Visit,
};
use crate::phone::{E164, PhoneError, Region};

/// Longer call ids are refused: Ringostat's are under 40 characters, and the
/// id is part of the inbox's unique key.
pub const MAX_CALL_ID_LEN: usize = 200;

/// Why a payload cannot become an event. The message is what the 422 answer
/// and the rejected-payload record say.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Undecodable {
    #[error(transparent)]
    Body(#[from] super::payload::BodyError),
    #[error("no call id: none of the fields {0} is present")]
    NoCallId(String),
    #[error("call id is longer than {MAX_CALL_ID_LEN} characters")]
    CallIdTooLong,
    #[error("no call type: none of the fields {0} is present")]
    NoCallType(String),
    #[error(transparent)]
    UnknownCallType(#[from] UnknownCallType),
}

/// Values that stand for a withheld caller id.
const HIDDEN: &[&str] = &[
    "anonymous",
    "hidden",
    "private",
    "unknown",
    "restricted",
    "unavailable",
    "withheld",
];

/// Turns payloads into events with one project's field names, time zone and
/// phone region.
#[derive(Debug, Clone)]
pub struct Normalizer {
    fields: FieldMap,
    time_zone: Tz,
    region: Region,
}

impl Normalizer {
    pub fn new(fields: FieldMap, time_zone: Tz, region: Region) -> Normalizer {
        Normalizer {
            fields,
            time_zone,
            region,
        }
    }

    pub fn normalize(&self, payload: &Payload, kind: EventKind) -> Result<CallEvent, Undecodable> {
        let read = Reader {
            payload,
            fields: &self.fields,
        };

        let call_id = read
            .first(Field::CallId, Direction::Incoming)
            .ok_or_else(|| {
                Undecodable::NoCallId(read.looked_for(Field::CallId, Direction::Incoming))
            })?;
        if call_id.chars().count() > MAX_CALL_ID_LEN {
            return Err(Undecodable::CallIdTooLong);
        }
        let call_type: CallType = read
            .first(Field::CallType, Direction::Incoming)
            .ok_or_else(|| {
                Undecodable::NoCallType(read.looked_for(Field::CallType, Direction::Incoming))
            })?
            .parse()?;
        let direction = call_type.direction();
        let first = |field| read.first(field, direction);

        let client = self.client_number(&read, direction);
        let employee = self.employee(&read, direction, client.e164.as_ref());
        let disposition = first(Field::Disposition).map(|d| Disposition::new(&d));
        let talk_seconds = first(Field::TalkSeconds).and_then(|t| values::seconds(&t));
        let answered = match &disposition {
            Some(disposition) => disposition.is_answered(),
            // No status: a pick-up means someone answered; otherwise trust talk time.
            None => kind == EventKind::Pickup || talk_seconds.is_some_and(|s| s > 0),
        };
        let flag = |field| first(field).and_then(|f| values::flag(&f));

        Ok(CallEvent {
            call_id,
            kind,
            call_type,
            direction,
            disposition,
            answered,
            tracking_number: first(Field::TrackingNumber).map(|raw| {
                match E164::parse(&raw, self.region) {
                    Ok(number) => number.to_string(),
                    Err(_) => raw,
                }
            }),
            talk_seconds,
            total_seconds: first(Field::TotalSeconds).and_then(|t| values::seconds(&t)),
            wait_seconds: first(Field::WaitSeconds).and_then(|t| values::seconds(&t)),
            call_time: first(Field::CallTime).and_then(|t| values::call_time(&t, self.time_zone)),
            recording_url: values::recording(&read.all(Field::RecordingUrl, direction)),
            call_card_url: first(Field::CallCardUrl),
            utm: Utm {
                source: first(Field::UtmSource),
                medium: first(Field::UtmMedium),
                campaign: first(Field::UtmCampaign),
                term: first(Field::UtmTerm),
                content: first(Field::UtmContent),
            },
            visit: Visit {
                pool_name: first(Field::PoolName),
                landing: first(Field::Landing),
                referrer: first(Field::Referrer),
                ga_client_id: first(Field::GaClientId),
                remote_ip: first(Field::RemoteIp),
                substitution_type: first(Field::SubstitutionType),
                scheme_name: first(Field::SchemeName),
                proper: flag(Field::Proper),
                repeated: flag(Field::Repeated),
            },
            extra: read.extra(direction),
            client,
            employee,
        })
    }

    /// The first candidate that is a real number wins; if none is, the first
    /// value is kept as raw with the reason it is unusable.
    fn client_number(&self, read: &Reader, direction: Direction) -> ClientNumber {
        let mut refused = Vec::new();
        for candidate in read.all(Field::ClientPhone, direction) {
            match E164::parse(&candidate, self.region) {
                Ok(number) => {
                    return ClientNumber {
                        raw: Some(candidate),
                        e164: Some(number),
                        unusable_reason: None,
                    };
                }
                Err(error) => refused.push((candidate, error)),
            }
        }
        let Some((raw, error)) = refused.into_iter().next() else {
            return ClientNumber {
                raw: None,
                e164: None,
                unusable_reason: Some(format!(
                    "no client number in the payload (looked for {})",
                    read.looked_for(Field::ClientPhone, direction)
                )),
            };
        };
        let reason = match error {
            _ if is_hidden(&raw) => "the client's number is hidden".to_string(),
            PhoneError::NotANumber(_) => {
                format!("{raw:?} is a SIP login or a name, not a phone number")
            }
            other => other.to_string(),
        };
        ClientNumber {
            raw: Some(raw),
            e164: None,
            unusable_reason: Some(reason),
        }
    }

    /// Who took part for the company: `connected_with` (a SIP login or a
    /// number; on outgoing calls the number that answered may be the client's
    /// own), the caller of outgoing calls (`"login" <login>`), and the
    /// directory fields (staff id, name, email, extension, department).
    fn employee(
        &self,
        read: &Reader,
        direction: Direction,
        client: Option<&E164>,
    ) -> EmployeeIdentity {
        let first = |field| read.first(field, direction);
        let mut employee = EmployeeIdentity {
            staff_id: first(Field::EmployeeId).and_then(|id| values::staff_id(&id)),
            name: first(Field::EmployeeName),
            email: first(Field::EmployeeEmail),
            extension: first(Field::EmployeeExtension),
            department: first(Field::Department),
            connected_with: first(Field::ConnectedWith),
            ..EmployeeIdentity::default()
        };
        let sides = employee
            .connected_with
            .iter()
            .cloned()
            .chain(first(Field::EmployeeSip));
        for value in sides {
            let inner = display_inner(&value);
            if inner.is_empty() || is_hidden(inner) {
                continue;
            }
            match E164::parse(inner, self.region) {
                Ok(number) if Some(&number) == client => {}
                Ok(number) => {
                    employee.phone.get_or_insert(number);
                }
                Err(PhoneError::TooShort(_)) if inner.bytes().all(|b| b.is_ascii_digit()) => {
                    employee.extension.get_or_insert_with(|| inner.to_string());
                }
                Err(PhoneError::NotANumber(_)) => {
                    employee.sip_login.get_or_insert_with(|| inner.to_string());
                }
                Err(_) => {}
            }
        }
        employee
    }
}

fn is_hidden(value: &str) -> bool {
    HIDDEN.contains(&value.trim().to_ascii_lowercase().as_str())
}

/// `"login" <login>` → `login`; anything else as it is.
fn display_inner(value: &str) -> &str {
    match (value.rfind('<'), value.rfind('>')) {
        (Some(open), Some(close)) if open < close => value[open + 1..close].trim(),
        _ => value.trim().trim_matches('"').trim(),
    }
}

/// Field lookups through the alias map.
struct Reader<'a> {
    payload: &'a Payload,
    fields: &'a FieldMap,
}

impl Reader<'_> {
    fn first(&self, field: Field, direction: Direction) -> Option<String> {
        self.fields
            .aliases(field, direction)
            .iter()
            .find_map(|alias| self.payload.text(alias))
    }

    fn all(&self, field: Field, direction: Direction) -> Vec<String> {
        self.fields
            .aliases(field, direction)
            .iter()
            .filter_map(|alias| self.payload.text(alias))
            .collect()
    }

    fn looked_for(&self, field: Field, direction: Direction) -> String {
        self.fields.aliases(field, direction).join(", ")
    }

    /// Fields no alias claims (for this direction), by their original names.
    fn extra(&self, direction: Direction) -> BTreeMap<String, String> {
        let claimed: HashSet<&str> = Field::ALL
            .iter()
            .flat_map(|f| self.fields.aliases(*f, direction))
            .map(String::as_str)
            .collect();
        self.payload
            .fields()
            .filter(|(name, _)| !claimed.contains(name.to_lowercase().as_str()))
            .filter_map(|(name, value)| {
                Some((name.to_string(), text_of(value).filter(|t| !t.is_empty())?))
            })
            .collect()
    }
}
