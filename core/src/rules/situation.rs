//! The situation rules look at: one call event, the CRM facts about it, and
//! the moment of the call in the project's time zone.
//!
//! Conditions, templates and scripts all read values through the same names
//! (the vocabulary below), so a name that works in `when` works in a template
//! and means the same thing. Names are resolved once at load time into
//! [`Name`]; an unknown name is a load error, never a silent empty value.

use std::borrow::Cow;
use std::sync::OnceLock;

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use chrono_tz::Tz;

use crate::event::{CANONICAL_FIELDS, CallEvent, FieldValue};
use crate::facts::{ClientFact, EmployeeFact, Facts, ResponsibleFact};

/// A name rules can read, resolved at load time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Name {
    /// `client`: new, existing or none.
    Client,
    /// `open_deal`: the client has an open deal.
    OpenDeal,
    /// `employee`: known, unknown or none.
    Employee,
    /// `responsible`: employee, other or none.
    Responsible,
    /// A canonical event field (`talk_seconds`, `utm_source`, ...).
    Field(&'static str),
    /// `extra.NAME`: a payload field outside the model, by its original name.
    Extra(String),
    /// `phone`: the client's number in E.164, else as sent.
    Phone,
    /// `phone_national`: `067 123 4567`.
    PhoneNational,
    /// `phone_international`: `+380 67 123 4567`.
    PhoneInternational,
    /// `phone_digits`: `380671234567`, Ringostat's own spelling.
    PhoneDigits,
    /// `time_of_day`: local `HH:MM` of the call.
    TimeOfDay,
    /// `weekday`: local `mon` ... `sun`.
    Weekday,
    /// `date`: local `YYYY-MM-DD`.
    Date,
    /// `datetime`: local `YYYY-MM-DD HH:MM`.
    DateTime,
}

/// What kind of value a name holds, for load-time checks of conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// One word out of a closed vocabulary.
    Word(&'static [&'static str]),
    Bool,
    Number,
    Text,
    TimeOfDay,
    Weekday,
}

pub(crate) const EVENT_WORDS: &[&str] = &["after_call", "pickup"];
pub(crate) const DIRECTION_WORDS: &[&str] = &["incoming", "outgoing"];
pub(crate) const CALL_TYPE_WORDS: &[&str] = &["in", "out", "callback", "transitin", "transitout"];
pub(crate) const WEEKDAY_WORDS: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Names that are not event fields, with their meaning (for the guide and hints).
pub(crate) const DERIVED_NAMES: &[(&str, &str)] = &[
    ("client", "new, existing or none (no usable number)"),
    ("open_deal", "true when the client has an open deal"),
    ("employee", "known, unknown or none (nobody took the call)"),
    ("responsible", "employee, other or none"),
    ("phone", "client number in E.164, else as sent"),
    ("phone_national", "client number as written in its country"),
    (
        "phone_international",
        "client number with spaces, +380 67 123 4567",
    ),
    ("phone_digits", "client number without +, 380671234567"),
    ("time_of_day", "local time of the call, HH:MM"),
    ("weekday", "local weekday of the call, mon ... sun"),
    ("date", "local date of the call, YYYY-MM-DD"),
    (
        "datetime",
        "local date and time of the call, YYYY-MM-DD HH:MM",
    ),
];

impl Name {
    /// Resolves a name as written in a rule; `None` when it means nothing.
    pub(crate) fn resolve(name: &str) -> Option<Name> {
        Some(match name {
            "client" => Name::Client,
            "open_deal" => Name::OpenDeal,
            "employee" => Name::Employee,
            "responsible" => Name::Responsible,
            "phone" => Name::Phone,
            "phone_national" => Name::PhoneNational,
            "phone_international" => Name::PhoneInternational,
            "phone_digits" => Name::PhoneDigits,
            "time_of_day" => Name::TimeOfDay,
            "weekday" => Name::Weekday,
            "date" => Name::Date,
            "datetime" => Name::DateTime,
            other => {
                if let Some(extra) = other.strip_prefix("extra.") {
                    if extra.is_empty() {
                        return None;
                    }
                    return Some(Name::Extra(extra.to_string()));
                }
                let (field, _) = CANONICAL_FIELDS.iter().find(|(f, _)| *f == other)?;
                Name::Field(field)
            }
        })
    }

    /// Every name a rule may use (without `extra.*`), for hints.
    pub(crate) fn all() -> impl Iterator<Item = &'static str> {
        DERIVED_NAMES
            .iter()
            .chain(CANONICAL_FIELDS.iter())
            .map(|(name, _)| *name)
    }

    pub(crate) fn kind(&self) -> Kind {
        match self {
            Name::Client => Kind::Word(ClientFact::WORDS),
            Name::Employee => Kind::Word(EmployeeFact::WORDS),
            Name::Responsible => Kind::Word(ResponsibleFact::WORDS),
            Name::OpenDeal => Kind::Bool,
            Name::TimeOfDay => Kind::TimeOfDay,
            Name::Weekday => Kind::Weekday,
            Name::Field(field) => match *field {
                "event" => Kind::Word(EVENT_WORDS),
                "direction" => Kind::Word(DIRECTION_WORDS),
                "call_type" => Kind::Word(CALL_TYPE_WORDS),
                "callback" | "transit" | "answered" | "proper" | "repeated" => Kind::Bool,
                "talk_seconds" | "total_seconds" | "wait_seconds" => Kind::Number,
                _ => Kind::Text,
            },
            _ => Kind::Text,
        }
    }
}

/// A value as rules see it, borrowed from the event where possible.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value<'a> {
    Text(Cow<'a, str>),
    Number(f64),
    Bool(bool),
}

impl Value<'_> {
    /// The value as a template writes it: numbers without a needless `.0`.
    pub(crate) fn to_text(&self) -> Cow<'_, str> {
        match self {
            Value::Text(text) => Cow::Borrowed(text.as_ref()),
            Value::Number(n) => Cow::Owned(format_number(*n)),
            Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        }
    }

    /// The value as a number, when it is one (text that reads as a number counts).
    pub(crate) fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            Value::Text(text) => text.trim().parse().ok(),
            Value::Bool(_) => None,
        }
    }
}

pub(crate) fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// One event, its facts, and the local moment of the call.
#[derive(Debug, Clone)]
pub(crate) struct Situation<'a> {
    pub(crate) event: &'a CallEvent,
    pub(crate) facts: &'a Facts,
    /// When the call started (or `now` when the event does not say), local.
    pub(crate) local: DateTime<Tz>,
    parsed_phone: &'a OnceLock<Option<phonenumber::PhoneNumber>>,
}

impl<'a> Situation<'a> {
    /// `parsed_phone` is the evaluation's cache for the parsed client number.
    pub(crate) fn new(
        event: &'a CallEvent,
        facts: &'a Facts,
        zone: Tz,
        now: DateTime<Utc>,
        parsed_phone: &'a OnceLock<Option<phonenumber::PhoneNumber>>,
    ) -> Situation<'a> {
        let local = match event.call_time {
            Some(at) => at.with_timezone(&zone),
            None => now.with_timezone(&zone),
        };
        Situation {
            event,
            facts,
            local,
            parsed_phone,
        }
    }

    /// The value of `name`; `None` when the event has no such value.
    pub(crate) fn value(&self, name: &Name) -> Option<Value<'a>> {
        let event = self.event;
        let text = |s: &'a str| Some(Value::Text(Cow::Borrowed(s)));
        match name {
            Name::Client => text(self.facts.client.as_str()),
            Name::OpenDeal => Some(Value::Bool(self.facts.open_deal)),
            Name::Employee => text(self.facts.employee.as_str()),
            Name::Responsible => text(self.facts.responsible.as_str()),
            Name::Field(field) => self.field(field),
            Name::Extra(key) => event.extra.get(key).map(|v| Value::Text(Cow::Borrowed(v))),
            Name::Phone => match (&event.client.e164, &event.client.raw) {
                (Some(phone), _) => text(phone.as_str()),
                (None, Some(raw)) => text(raw),
                (None, None) => None,
            },
            Name::PhoneNational => self.format_phone(phonenumber::Mode::National),
            Name::PhoneInternational => self.format_phone(phonenumber::Mode::International),
            Name::PhoneDigits => event.client.e164.as_ref().and_then(|p| text(p.digits())),
            Name::TimeOfDay => Some(owned(self.local.format("%H:%M").to_string())),
            Name::Weekday => text(weekday_word(self.local.weekday())),
            Name::Date => Some(owned(self.local.format("%Y-%m-%d").to_string())),
            Name::DateTime => Some(owned(self.local.format("%Y-%m-%d %H:%M").to_string())),
        }
    }

    /// Minutes since local midnight, for time-of-day windows.
    pub(crate) fn minute_of_day(&self) -> u32 {
        self.local.hour() * 60 + self.local.minute()
    }

    pub(crate) fn weekday(&self) -> Weekday {
        self.local.weekday()
    }

    /// The client number in a readable format. The number is parsed once
    /// per evaluation: parsing is the dearest thing a template can ask for.
    fn format_phone(&self, mode: phonenumber::Mode) -> Option<Value<'a>> {
        let phone = self.event.client.e164.as_ref()?;
        let parsed = self
            .parsed_phone
            .get_or_init(|| phonenumber::parse(None, phone.as_str()).ok())
            .as_ref()?;
        Some(owned(parsed.format().mode(mode).to_string()))
    }

    /// Canonical fields, read without copying (`call_time` is formatted).
    /// A test checks that this agrees with [`CallEvent::field`] for every field.
    fn field(&self, field: &'static str) -> Option<Value<'a>> {
        let event = self.event;
        let text = |s: &'a str| Some(Value::Text(Cow::Borrowed(s)));
        let borrowed = |s: &'a Option<String>| s.as_deref().map(|s| Value::Text(Cow::Borrowed(s)));
        let seconds = |s: Option<u32>| s.map(|s| Value::Number(f64::from(s)));
        match field {
            "call_id" => text(&event.call_id),
            "event" => text(event.kind.as_str()),
            "direction" => text(event.direction.as_str()),
            "call_type" => text(event.call_type.as_str()),
            "callback" => Some(Value::Bool(event.call_type.is_callback())),
            "transit" => Some(Value::Bool(event.call_type.is_transit())),
            "answered" => Some(Value::Bool(event.answered)),
            "disposition" => event.disposition.as_ref().and_then(|d| text(d.as_str())),
            "client_phone" => event.client.e164.as_ref().and_then(|p| text(p.as_str())),
            "client_phone_raw" => borrowed(&event.client.raw),
            "tracking_number" => borrowed(&event.tracking_number),
            "employee_sip" => borrowed(&event.employee.sip_login),
            "employee_phone" => event.employee.phone.as_ref().and_then(|p| text(p.as_str())),
            "employee_id" => borrowed(&event.employee.staff_id),
            "employee_name" => borrowed(&event.employee.name),
            "employee_email" => borrowed(&event.employee.email),
            "employee_extension" => borrowed(&event.employee.extension),
            "department" => borrowed(&event.employee.department),
            "connected_with" => borrowed(&event.employee.connected_with),
            "talk_seconds" => seconds(event.talk_seconds),
            "total_seconds" => seconds(event.total_seconds),
            "wait_seconds" => seconds(event.wait_seconds),
            "recording_url" => borrowed(&event.recording_url),
            "call_card_url" => borrowed(&event.call_card_url),
            "utm_source" => borrowed(&event.utm.source),
            "utm_medium" => borrowed(&event.utm.medium),
            "utm_campaign" => borrowed(&event.utm.campaign),
            "utm_term" => borrowed(&event.utm.term),
            "utm_content" => borrowed(&event.utm.content),
            "pool_name" => borrowed(&event.visit.pool_name),
            "landing" => borrowed(&event.visit.landing),
            "referrer" => borrowed(&event.visit.referrer),
            "ga_client_id" => borrowed(&event.visit.ga_client_id),
            "remote_ip" => borrowed(&event.visit.remote_ip),
            "substitution_type" => borrowed(&event.visit.substitution_type),
            "scheme_name" => borrowed(&event.visit.scheme_name),
            "proper" => event.visit.proper.map(Value::Bool),
            "repeated" => event.visit.repeated.map(Value::Bool),
            other => event.field(other).map(|value| match value {
                FieldValue::Bool(b) => Value::Bool(b),
                FieldValue::Number(n) => Value::Number(n),
                FieldValue::Text(s) => owned(s),
            }),
        }
    }
}

fn owned(text: String) -> Value<'static> {
    Value::Text(Cow::Owned(text))
}

pub(crate) fn weekday_word(day: Weekday) -> &'static str {
    WEEKDAY_WORDS[day.num_days_from_monday() as usize]
}

/// `mon`, `Monday`, `monday` → Monday.
pub(crate) fn parse_weekday(word: &str) -> Option<Weekday> {
    let lower = word.trim().to_ascii_lowercase();
    let short = lower.get(..3)?;
    let index = WEEKDAY_WORDS.iter().position(|w| *w == short)?;
    let full = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ][index];
    (lower == short || lower == full).then(|| Weekday::try_from(index as u8).ok())?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::event_spec::EventSpec;

    #[test]
    fn every_canonical_field_reads_as_the_event_says() {
        let event = EventSpec::sample()
            .into_event(&Default::default())
            .expect("valid");
        let facts = Facts::default();
        let parsed = OnceLock::new();
        let situation =
            Situation::new(&event, &facts, chrono_tz::Europe::Kyiv, Utc::now(), &parsed);
        for (field, _) in CANONICAL_FIELDS {
            let name = Name::resolve(field).expect("canonical names resolve");
            let ours = situation.value(&name).map(|v| v.to_text().into_owned());
            let theirs = event.field(field).map(|v| match v {
                FieldValue::Number(n) => format_number(n),
                other => other.to_string(),
            });
            assert_eq!(ours, theirs, "field {field}");
        }
    }

    #[test]
    fn weekdays_read_short_and_long() {
        assert_eq!(parse_weekday("mon"), Some(Weekday::Mon));
        assert_eq!(parse_weekday("Sunday"), Some(Weekday::Sun));
        assert_eq!(parse_weekday("thurs"), None);
        assert_eq!(parse_weekday("mo"), None);
        assert_eq!(parse_weekday("пн"), None);
    }

    #[test]
    fn names_resolve_or_not() {
        assert_eq!(Name::resolve("client"), Some(Name::Client));
        assert_eq!(
            Name::resolve("talk_seconds"),
            Some(Name::Field("talk_seconds"))
        );
        assert_eq!(
            Name::resolve("extra.userfield"),
            Some(Name::Extra("userfield".into()))
        );
        assert_eq!(Name::resolve("extra."), None);
        assert_eq!(Name::resolve("clinet"), None);
        assert_eq!(
            Name::resolve("talk_seconds").map(|n| n.kind()),
            Some(Kind::Number)
        );
    }
}
