//! The call event: what one Ringostat webhook means, once its field names,
//! number formats and value vocabularies have been normalized.
//!
//! Ringostat has no fixed schema (every project names its own parameters), so
//! the intake maps whatever arrived onto this one shape. Everything after the
//! intake (rules, facts, execution) reads only a [`CallEvent`], never the raw
//! payload; the raw payload is kept for people and for replays.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::phone::E164;

/// The moment of the call the webhook was configured for (`?event=` on the
/// webhook URL). Only `after_call` and `pickup` are processed; other moments
/// are stored as they came.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    AfterCall,
    Pickup,
    Other(String),
}

impl EventKind {
    pub fn as_str(&self) -> &str {
        match self {
            EventKind::AfterCall => "after_call",
            EventKind::Pickup => "pickup",
            EventKind::Other(name) => name,
        }
    }

    /// Whether events of this kind go through the rules at all.
    pub fn is_processed(&self) -> bool {
        matches!(self, EventKind::AfterCall | EventKind::Pickup)
    }
}

impl FromStr for EventKind {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let normalized = s.trim().to_ascii_lowercase().replace('-', "_");
        Ok(match normalized.as_str() {
            "" | "after_call" | "aftercall" | "after" => EventKind::AfterCall,
            "pickup" | "pick_up" | "answer" | "answered" => EventKind::Pickup,
            _ => EventKind::Other(normalized),
        })
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who started the call, seen from the company: `incoming` (the client called;
/// also Ringostat's `callback` and `transitin`) or `outgoing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Incoming,
    Outgoing,
}

impl Direction {
    pub fn as_str(&self) -> &'static str {
        match self {
            Direction::Incoming => "incoming",
            Direction::Outgoing => "outgoing",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Ringostat's `call_type`, kept because `callback` and `transit` calls are
/// incoming calls that rules may want to tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallType {
    In,
    Out,
    Callback,
    TransitIn,
    TransitOut,
}

/// A `call_type` value outside Ringostat's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown call type {0:?}: expected in, out, callback, transitin or transitout")]
pub struct UnknownCallType(pub String);

impl FromStr for CallType {
    type Err = UnknownCallType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "in" | "incoming" | "inbound" => Ok(CallType::In),
            "out" | "outgoing" | "outbound" => Ok(CallType::Out),
            "callback" => Ok(CallType::Callback),
            "transitin" | "transit_in" => Ok(CallType::TransitIn),
            "transitout" | "transit_out" => Ok(CallType::TransitOut),
            _ => Err(UnknownCallType(s.to_string())),
        }
    }
}

impl CallType {
    pub fn direction(&self) -> Direction {
        match self {
            CallType::In | CallType::Callback | CallType::TransitIn => Direction::Incoming,
            CallType::Out | CallType::TransitOut => Direction::Outgoing,
        }
    }

    pub fn is_callback(&self) -> bool {
        matches!(self, CallType::Callback)
    }

    pub fn is_transit(&self) -> bool {
        matches!(self, CallType::TransitIn | CallType::TransitOut)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            CallType::In => "in",
            CallType::Out => "out",
            CallType::Callback => "callback",
            CallType::TransitIn => "transitin",
            CallType::TransitOut => "transitout",
        }
    }
}

/// Ringostat's call status (`disposition` / `status`), upper-cased as Ringostat
/// writes it (`ANSWERED`, `NO ANSWER`, `CLIENT NO ANSWER`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Disposition(String);

impl Disposition {
    pub fn new(raw: &str) -> Disposition {
        let words: Vec<&str> = raw
            .split(['_', '-', ' '])
            .filter(|w| !w.is_empty())
            .collect();
        Disposition(words.join(" ").to_ascii_uppercase())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A conversation took place: ANSWERED, PROPER (target call) or REPEATED.
    /// VOICEMAIL is never answered, even with talk time.
    pub fn is_answered(&self) -> bool {
        matches!(self.0.as_str(), "ANSWERED" | "PROPER" | "REPEATED")
    }
}

impl fmt::Display for Disposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The client's number as it arrived, and as E.164 when it is a real number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientNumber {
    /// The value exactly as Ringostat sent it (kept even when it is not a number).
    pub raw: Option<String>,
    /// `None` when there was no value, or it was a SIP login, hidden or invalid.
    pub e164: Option<E164>,
    /// Why `e164` is empty although a value arrived.
    pub unusable_reason: Option<String>,
}

/// The employee who took part in the call, in Ringostat's words. The rules'
/// employee directory maps these onto a CRM owner.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmployeeIdentity {
    /// SIP login (`acmecom_ivanenko`), from `connected_with` or an outgoing `caller`.
    pub sip_login: Option<String>,
    /// A phone number the employee answered on (`connected_with` = number).
    pub phone: Option<E164>,
    /// Ringostat staff id (`employee_number`, `staffid`, `employee_id`); `-1` means none.
    pub staff_id: Option<String>,
    /// Full name (`employee_fio`, `employee`).
    pub name: Option<String>,
    pub email: Option<String>,
    /// Internal extension (`101`).
    pub extension: Option<String>,
    pub department: Option<String>,
    /// `connected_with` as sent: a SIP login or a number.
    pub connected_with: Option<String>,
}

impl EmployeeIdentity {
    /// No employee took part (a missed call): nothing identifies anyone.
    pub fn is_empty(&self) -> bool {
        self.sip_login.is_none()
            && self.phone.is_none()
            && self.staff_id.is_none()
            && self.name.is_none()
            && self.email.is_none()
            && self.extension.is_none()
    }
}

/// UTM tags of the visit that led to the call. Ringostat's "no value" markers
/// (`(direct)`, `(none)`, `(not set)`) are kept as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Utm {
    pub source: Option<String>,
    pub medium: Option<String>,
    pub campaign: Option<String>,
    pub term: Option<String>,
    pub content: Option<String>,
}

/// What call tracking knows about the visit behind the call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    /// Number substitution pool (`pool_name`).
    pub pool_name: Option<String>,
    pub landing: Option<String>,
    /// `refferrer` in Ringostat's own spelling.
    pub referrer: Option<String>,
    /// Google Analytics client id (`client_id`).
    pub ga_client_id: Option<String>,
    pub remote_ip: Option<String>,
    /// `dynamic`, `static` or `callback` (Ringostat's insertion type).
    pub substitution_type: Option<String>,
    pub scheme_name: Option<String>,
    /// Target call (`proper_flag`).
    pub proper: Option<bool>,
    /// Repeat call (`repeated_flag`).
    pub repeated: Option<bool>,
}

/// One normalized Ringostat call event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallEvent {
    /// Ringostat's call id (`uniqueid`, `call_id`, `cdr_id`).
    pub call_id: String,
    pub kind: EventKind,
    pub call_type: CallType,
    pub direction: Direction,
    /// `None` when the payload carried no status (a pick-up event, say).
    pub disposition: Option<Disposition>,
    pub answered: bool,
    pub client: ClientNumber,
    pub employee: EmployeeIdentity,
    /// The company's tracking number the client dialled (`dst` on incoming calls).
    pub tracking_number: Option<String>,
    /// Talk time (`billsec`, `dialog`).
    pub talk_seconds: Option<u32>,
    /// Whole call including ringing (`duration`, `call_duration`).
    pub total_seconds: Option<u32>,
    /// Ringing / waiting (`waittime`, `waiting`).
    pub wait_seconds: Option<u32>,
    /// When the call started, in the project's time zone when the payload had none.
    pub call_time: Option<DateTime<FixedOffset>>,
    /// The recording, preferring the `.wav`/`.mp3` variant (HubSpot plays those inline).
    pub recording_url: Option<String>,
    pub call_card_url: Option<String>,
    pub utm: Utm,
    pub visit: Visit,
    /// Fields that arrived and are not part of the model, by their original name
    /// (scalars as text), so rules can still reach them.
    pub extra: BTreeMap<String, String>,
}

/// A value of an event field as rules see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldValue {
    Bool(bool),
    Number(f64),
    Text(String),
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Bool(b) => write!(f, "{b}"),
            FieldValue::Number(n) => write!(f, "{n}"),
            FieldValue::Text(s) => f.write_str(s),
        }
    }
}

/// The canonical names under which rules, templates and scripts read event
/// fields, each with a one-line meaning (shown by the integrator's guide and by
/// diagnostics that suggest a name).
pub const CANONICAL_FIELDS: &[(&str, &str)] = &[
    ("call_id", "Ringostat's call id"),
    ("event", "after_call, pickup, or another moment"),
    ("call_type", "in, out, callback, transitin, transitout"),
    ("direction", "incoming or outgoing"),
    ("callback", "true for Ringostat callback calls"),
    ("transit", "true for transitin/transitout calls"),
    (
        "disposition",
        "ANSWERED, PROPER, REPEATED, NO ANSWER, BUSY, ...",
    ),
    ("answered", "true when a conversation took place"),
    (
        "client_phone",
        "the client's number in E.164 (+380671234567)",
    ),
    (
        "client_phone_raw",
        "the client's number as Ringostat sent it",
    ),
    ("tracking_number", "the company number the client dialled"),
    ("employee_sip", "SIP login of the employee"),
    ("employee_phone", "the number the employee answered on"),
    ("employee_id", "Ringostat staff id"),
    ("employee_name", "employee's full name"),
    ("employee_email", "employee's email"),
    ("employee_extension", "employee's internal extension"),
    ("department", "Ringostat department"),
    (
        "connected_with",
        "SIP login or number that answered, as sent",
    ),
    ("talk_seconds", "talk time (Ringostat's billsec)"),
    ("total_seconds", "whole call including ringing (duration)"),
    ("wait_seconds", "ringing / waiting time"),
    ("call_time", "call start, RFC 3339"),
    ("recording_url", "link to the recording"),
    ("call_card_url", "link to Ringostat's call card"),
    ("utm_source", "UTM source"),
    ("utm_medium", "UTM medium"),
    ("utm_campaign", "UTM campaign"),
    ("utm_term", "UTM term"),
    ("utm_content", "UTM content"),
    ("pool_name", "number substitution pool"),
    ("landing", "landing page of the visit"),
    ("referrer", "referrer of the visit"),
    ("ga_client_id", "Google Analytics client id"),
    ("remote_ip", "visitor's IP address"),
    ("substitution_type", "dynamic, static or callback"),
    ("scheme_name", "call forwarding scheme"),
    ("proper", "true for a target call"),
    ("repeated", "true for a repeat call"),
];

impl CallEvent {
    /// The value of a canonical field (see [`CANONICAL_FIELDS`]), or of an
    /// extra field by its original name. `None` when the event has no value.
    pub fn field(&self, name: &str) -> Option<FieldValue> {
        use FieldValue::{Bool, Number, Text};
        let text = |v: &Option<String>| v.clone().map(Text);
        let seconds = |v: Option<u32>| v.map(|s| Number(f64::from(s)));
        match name {
            "call_id" => Some(Text(self.call_id.clone())),
            "event" => Some(Text(self.kind.to_string())),
            "call_type" => Some(Text(self.call_type.as_str().to_string())),
            "direction" => Some(Text(self.direction.to_string())),
            "callback" => Some(Bool(self.call_type.is_callback())),
            "transit" => Some(Bool(self.call_type.is_transit())),
            "disposition" => self.disposition.as_ref().map(|d| Text(d.to_string())),
            "answered" => Some(Bool(self.answered)),
            "client_phone" => self.client.e164.as_ref().map(|p| Text(p.to_string())),
            "client_phone_raw" => text(&self.client.raw),
            "tracking_number" => text(&self.tracking_number),
            "employee_sip" => text(&self.employee.sip_login),
            "employee_phone" => self.employee.phone.as_ref().map(|p| Text(p.to_string())),
            "employee_id" => text(&self.employee.staff_id),
            "employee_name" => text(&self.employee.name),
            "employee_email" => text(&self.employee.email),
            "employee_extension" => text(&self.employee.extension),
            "department" => text(&self.employee.department),
            "connected_with" => text(&self.employee.connected_with),
            "talk_seconds" => seconds(self.talk_seconds),
            "total_seconds" => seconds(self.total_seconds),
            "wait_seconds" => seconds(self.wait_seconds),
            "call_time" => self.call_time.map(|t| Text(t.to_rfc3339())),
            "recording_url" => text(&self.recording_url),
            "call_card_url" => text(&self.call_card_url),
            "utm_source" => text(&self.utm.source),
            "utm_medium" => text(&self.utm.medium),
            "utm_campaign" => text(&self.utm.campaign),
            "utm_term" => text(&self.utm.term),
            "utm_content" => text(&self.utm.content),
            "pool_name" => text(&self.visit.pool_name),
            "landing" => text(&self.visit.landing),
            "referrer" => text(&self.visit.referrer),
            "ga_client_id" => text(&self.visit.ga_client_id),
            "remote_ip" => text(&self.visit.remote_ip),
            "substitution_type" => text(&self.visit.substitution_type),
            "scheme_name" => text(&self.visit.scheme_name),
            "proper" => self.visit.proper.map(Bool),
            "repeated" => self.visit.repeated.map(Bool),
            other => self.extra.get(other).cloned().map(Text),
        }
    }

    /// Whether `name` is a canonical field name.
    pub fn is_canonical_field(name: &str) -> bool {
        CANONICAL_FIELDS.iter().any(|(field, _)| *field == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_kind_from_url_parameter() {
        assert_eq!("".parse::<EventKind>(), Ok(EventKind::AfterCall));
        assert_eq!("after_call".parse::<EventKind>(), Ok(EventKind::AfterCall));
        assert_eq!("after-call".parse::<EventKind>(), Ok(EventKind::AfterCall));
        assert_eq!("pickup".parse::<EventKind>(), Ok(EventKind::Pickup));
        assert_eq!(
            "before_call".parse::<EventKind>(),
            Ok(EventKind::Other("before_call".into()))
        );
        assert!(!EventKind::Other("before_call".into()).is_processed());
    }

    #[test]
    fn call_types_map_to_directions() {
        let cases = [
            ("in", Direction::Incoming, false, false),
            ("IN", Direction::Incoming, false, false),
            ("out", Direction::Outgoing, false, false),
            ("callback", Direction::Incoming, true, false),
            ("transitin", Direction::Incoming, false, true),
            ("transitout", Direction::Outgoing, false, true),
        ];
        for (raw, direction, callback, transit) in cases {
            let t: CallType = raw.parse().expect("known call type");
            assert_eq!(t.direction(), direction, "{raw}");
            assert_eq!(t.is_callback(), callback, "{raw}");
            assert_eq!(t.is_transit(), transit, "{raw}");
        }
        assert!("sideways".parse::<CallType>().is_err());
    }

    #[test]
    fn answered_dispositions() {
        for answered in ["ANSWERED", "answered", "PROPER", "REPEATED"] {
            assert!(Disposition::new(answered).is_answered(), "{answered}");
        }
        for missed in [
            "NO ANSWER",
            "no_answer",
            "NOANSWER",
            "BUSY",
            "FAILED",
            "VOICEMAIL",
            "CLIENT NO ANSWER",
            "NO FORWARD",
            "NO-FORWARD",
        ] {
            assert!(!Disposition::new(missed).is_answered(), "{missed}");
        }
        assert_eq!(Disposition::new("no-forward").as_str(), "NO FORWARD");
    }
}
