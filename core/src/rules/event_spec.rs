//! Events and facts as people write them in rule tests and for `simulate`:
//! flat, under the canonical field names, with everything optional.
//!
//! The intake builds [`CallEvent`]s from Ringostat payloads; people testing a
//! rule should not have to write that nested shape, so an [`EventSpec`] uses
//! the same names as conditions and templates (`client_phone`,
//! `talk_seconds`, `utm_source`) and fills in what follows from them
//! (direction from the call type, `answered` from the disposition).

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone};
use serde::{Deserialize, Serialize};

use crate::event::{
    CallEvent, CallType, ClientNumber, Direction, Disposition, EmployeeIdentity, EventKind, Utm,
    Visit,
};
use crate::facts::{ClientFact, EmployeeFact, Facts, ResponsibleFact};
use crate::phone::E164;

use super::RulesContext;
use super::employees::EmployeeDirectory;

/// Why an [`EventSpec`] does not describe a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventSpecError {
    #[error("call_type {call_type:?} is {actual} but direction says {stated}")]
    DirectionMismatch {
        call_type: String,
        actual: Direction,
        stated: Direction,
    },
    #[error("{0}")]
    CallType(#[from] crate::event::UnknownCallType),
    #[error("employee_phone {value:?}: {reason}")]
    EmployeePhone { value: String, reason: String },
    #[error(
        "call_time {0:?} is neither RFC 3339 (2025-09-30T14:05:12+03:00) nor local YYYY-MM-DD HH:MM:SS"
    )]
    CallTime(String),
}

/// A call event under canonical field names; absent fields are absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSpec {
    pub call_id: Option<String>,
    /// `after_call` (default) or `pickup`.
    pub event: Option<String>,
    /// `in` (default), `out`, `callback`, `transitin`, `transitout`.
    pub call_type: Option<String>,
    /// Used when `call_type` is not given (`outgoing` means `out`).
    pub direction: Option<Direction>,
    pub disposition: Option<String>,
    /// Defaults to what the disposition says (ANSWERED, PROPER, REPEATED).
    pub answered: Option<bool>,
    /// Any spelling; read in the project's phone region.
    pub client_phone: Option<String>,
    pub tracking_number: Option<String>,
    pub employee_sip: Option<String>,
    pub employee_phone: Option<String>,
    pub employee_id: Option<String>,
    pub employee_name: Option<String>,
    pub employee_email: Option<String>,
    pub employee_extension: Option<String>,
    pub department: Option<String>,
    pub connected_with: Option<String>,
    pub talk_seconds: Option<u32>,
    pub total_seconds: Option<u32>,
    pub wait_seconds: Option<u32>,
    /// RFC 3339, or `YYYY-MM-DD HH:MM:SS` in the project's time zone.
    pub call_time: Option<String>,
    pub recording_url: Option<String>,
    pub call_card_url: Option<String>,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub utm_term: Option<String>,
    pub utm_content: Option<String>,
    pub pool_name: Option<String>,
    pub landing: Option<String>,
    pub referrer: Option<String>,
    pub ga_client_id: Option<String>,
    pub remote_ip: Option<String>,
    pub substitution_type: Option<String>,
    pub scheme_name: Option<String>,
    pub proper: Option<bool>,
    pub repeated: Option<bool>,
    /// Payload fields outside the model, by their original names.
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
}

impl EventSpec {
    /// Builds the call event the intake would have built.
    pub fn into_event(self, ctx: &RulesContext) -> Result<CallEvent, EventSpecError> {
        let call_type = match (&self.call_type, self.direction) {
            (Some(raw), stated) => {
                let call_type = CallType::from_str(raw)?;
                if let Some(stated) = stated
                    && stated != call_type.direction()
                {
                    return Err(EventSpecError::DirectionMismatch {
                        call_type: raw.clone(),
                        actual: call_type.direction(),
                        stated,
                    });
                }
                call_type
            }
            (None, Some(Direction::Outgoing)) => CallType::Out,
            (None, _) => CallType::In,
        };
        let disposition = self.disposition.as_deref().map(Disposition::new);
        let answered = self.answered.unwrap_or_else(|| {
            disposition
                .as_ref()
                .map(Disposition::is_answered)
                .unwrap_or(false)
        });
        let client = match self.client_phone {
            None => ClientNumber::default(),
            Some(raw) => match E164::parse(&raw, ctx.region) {
                Ok(phone) => ClientNumber {
                    raw: Some(raw),
                    e164: Some(phone),
                    unusable_reason: None,
                },
                Err(reason) => ClientNumber {
                    raw: Some(raw),
                    e164: None,
                    unusable_reason: Some(reason.to_string()),
                },
            },
        };
        let employee_phone = match self.employee_phone {
            None => None,
            Some(raw) => Some(E164::parse(&raw, ctx.region).map_err(|reason| {
                EventSpecError::EmployeePhone {
                    value: raw.clone(),
                    reason: reason.to_string(),
                }
            })?),
        };
        let call_time = match self.call_time {
            None => None,
            Some(raw) => Some(parse_call_time(&raw, ctx.time_zone)?),
        };
        Ok(CallEvent {
            call_id: self.call_id.unwrap_or_else(|| "simulated".to_string()),
            kind: self
                .event
                .as_deref()
                .map(|e| EventKind::from_str(e).unwrap_or(EventKind::AfterCall))
                .unwrap_or(EventKind::AfterCall),
            call_type,
            direction: call_type.direction(),
            disposition,
            answered,
            client,
            employee: EmployeeIdentity {
                sip_login: self.employee_sip,
                phone: employee_phone,
                staff_id: self.employee_id,
                name: self.employee_name,
                email: self.employee_email,
                extension: self.employee_extension,
                department: self.department,
                connected_with: self.connected_with,
            },
            tracking_number: self.tracking_number,
            talk_seconds: self.talk_seconds,
            total_seconds: self.total_seconds,
            wait_seconds: self.wait_seconds,
            call_time,
            recording_url: self.recording_url,
            call_card_url: self.call_card_url,
            utm: Utm {
                source: self.utm_source,
                medium: self.utm_medium,
                campaign: self.utm_campaign,
                term: self.utm_term,
                content: self.utm_content,
            },
            visit: Visit {
                pool_name: self.pool_name,
                landing: self.landing,
                referrer: self.referrer,
                ga_client_id: self.ga_client_id,
                remote_ip: self.remote_ip,
                substitution_type: self.substitution_type,
                scheme_name: self.scheme_name,
                proper: self.proper,
                repeated: self.repeated,
            },
            extra: self.extra,
        })
    }

    /// An answered incoming call with every field set, for tests and docs.
    pub fn sample() -> EventSpec {
        EventSpec {
            call_id: Some("ua9_-1790775458.2139025".into()),
            event: Some("after_call".into()),
            call_type: Some("in".into()),
            disposition: Some("ANSWERED".into()),
            client_phone: Some("380732135997".into()),
            tracking_number: Some("380736506881".into()),
            employee_sip: Some("acmecom_ivanenko".into()),
            employee_phone: Some("+380671112233".into()),
            employee_id: Some("111111".into()),
            employee_name: Some("Іваненко Олена".into()),
            employee_email: Some("olena@acme.ua".into()),
            employee_extension: Some("101".into()),
            department: Some("Sales".into()),
            connected_with: Some("acmecom_ivanenko".into()),
            talk_seconds: Some(61),
            total_seconds: Some(74),
            wait_seconds: Some(13),
            call_time: Some("2025-09-30 14:05:12".into()),
            recording_url: Some(
                "https://app.ringostat.com/recordings/ua9_-1790775458.2139025.wav?token=t".into(),
            ),
            call_card_url: Some(
                "https://app.ringostat.com/project/callcards/card/ua9_-1790775458.2139025/?project_id=247726"
                    .into(),
            ),
            utm_source: Some("google".into()),
            utm_medium: Some("cpc".into()),
            utm_campaign: Some("brand".into()),
            utm_term: Some("crm".into()),
            utm_content: Some("ad1".into()),
            pool_name: Some("Google Ads".into()),
            landing: Some("https://acme.ua/pricing".into()),
            referrer: Some("https://www.google.com/".into()),
            ga_client_id: Some("1169999034.1555555510".into()),
            remote_ip: Some("10.10.10.10".into()),
            substitution_type: Some("dynamic".into()),
            scheme_name: Some("Main".into()),
            proper: Some(true),
            repeated: Some(false),
            extra: BTreeMap::from([("userfield".to_string(), "380732135997".to_string())]),
            ..EventSpec::default()
        }
    }
}

fn parse_call_time(
    raw: &str,
    zone: chrono_tz::Tz,
) -> Result<DateTime<FixedOffset>, EventSpecError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(raw.trim()) {
        return Ok(at);
    }
    let naive = NaiveDateTime::parse_from_str(raw.trim(), "%Y-%m-%d %H:%M:%S")
        .map_err(|_| EventSpecError::CallTime(raw.to_string()))?;
    // A time inside a daylight-saving gap (03:30 when clocks jump from 03:00
    // to 04:00) does not exist; read it as the same wall time an hour later.
    zone.from_local_datetime(&naive)
        .earliest()
        .or_else(|| {
            zone.from_local_datetime(&(naive + chrono::Duration::hours(1)))
                .earliest()
        })
        .map(|at| at.fixed_offset())
        .ok_or_else(|| EventSpecError::CallTime(raw.to_string()))
}

/// Facts as people state them; what is not stated follows from the event
/// and the employee directory, as the executor would find it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactsSpec {
    /// Default: `new` when the event has a usable number, else `none`.
    pub client: Option<ClientFact>,
    /// Default: false.
    pub open_deal: Option<bool>,
    /// Default: `none` without an employee, `known` when `employees.yaml`
    /// maps them, else `unknown`.
    pub employee: Option<EmployeeFact>,
    /// Default: `none`.
    pub responsible: Option<ResponsibleFact>,
}

/// A `--fact name=value` that cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactAssignmentError {
    #[error("expected NAME=VALUE, got {0:?}")]
    Shape(String),
    #[error("unknown fact {0:?}: expected client, open_deal, employee or responsible")]
    UnknownFact(String),
    #[error("{0}")]
    Value(#[from] crate::facts::BadFactValue),
    #[error("open_deal cannot be {0:?}; expected true or false")]
    OpenDeal(String),
}

impl FactsSpec {
    /// Applies one `name=value` (`client=existing`, `open_deal=true`).
    pub fn assign(&mut self, assignment: &str) -> Result<(), FactAssignmentError> {
        let (name, value) = assignment
            .split_once('=')
            .ok_or_else(|| FactAssignmentError::Shape(assignment.to_string()))?;
        let value = value.trim();
        match name.trim() {
            "client" => self.client = Some(value.parse()?),
            "employee" => self.employee = Some(value.parse()?),
            "responsible" => self.responsible = Some(value.parse()?),
            "open_deal" => {
                self.open_deal = Some(match value {
                    "true" | "yes" | "1" => true,
                    "false" | "no" | "0" => false,
                    other => return Err(FactAssignmentError::OpenDeal(other.to_string())),
                })
            }
            other => return Err(FactAssignmentError::UnknownFact(other.to_string())),
        }
        Ok(())
    }

    /// The facts for `event`, filling what is not stated.
    pub(crate) fn resolve(&self, event: &CallEvent, employees: &EmployeeDirectory) -> Facts {
        let client = self.client.unwrap_or(if event.client.e164.is_some() {
            ClientFact::New
        } else {
            ClientFact::None
        });
        let employee = self.employee.unwrap_or_else(|| {
            if event.employee.is_empty() {
                EmployeeFact::None
            } else if employees.lookup(&event.employee).is_some() {
                EmployeeFact::Known
            } else {
                EmployeeFact::Unknown
            }
        });
        Facts {
            client,
            open_deal: self.open_deal.unwrap_or(false),
            employee,
            responsible: self.responsible.unwrap_or(ResponsibleFact::None),
            ..Facts::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> RulesContext {
        RulesContext::default()
    }

    #[test]
    fn direction_and_answered_follow_from_what_is_given() {
        let cases = [
            (None, None, None, Direction::Incoming, false),
            (
                Some("out"),
                None,
                Some("ANSWERED"),
                Direction::Outgoing,
                true,
            ),
            (
                None,
                Some(Direction::Outgoing),
                Some("NO ANSWER"),
                Direction::Outgoing,
                false,
            ),
            (
                Some("callback"),
                None,
                Some("PROPER"),
                Direction::Incoming,
                true,
            ),
            (
                Some("transitout"),
                None,
                Some("VOICEMAIL"),
                Direction::Outgoing,
                false,
            ),
        ];
        for (call_type, direction, disposition, expected, answered) in cases {
            let spec = EventSpec {
                call_type: call_type.map(String::from),
                direction,
                disposition: disposition.map(String::from),
                ..EventSpec::default()
            };
            let event = spec.into_event(&ctx()).expect("valid");
            assert_eq!(event.direction, expected, "{call_type:?} {direction:?}");
            assert_eq!(event.answered, answered, "{disposition:?}");
        }
    }

    #[test]
    fn contradictions_and_bad_values_are_refused() {
        let spec = EventSpec {
            call_type: Some("in".into()),
            direction: Some(Direction::Outgoing),
            ..EventSpec::default()
        };
        assert!(matches!(
            spec.into_event(&ctx()),
            Err(EventSpecError::DirectionMismatch { .. })
        ));
        let spec = EventSpec {
            call_time: Some("yesterday".into()),
            ..EventSpec::default()
        };
        assert!(matches!(
            spec.into_event(&ctx()),
            Err(EventSpecError::CallTime(_))
        ));
        let spec = EventSpec {
            call_type: Some("sideways".into()),
            ..EventSpec::default()
        };
        assert!(matches!(
            spec.into_event(&ctx()),
            Err(EventSpecError::CallType(_))
        ));
    }

    #[test]
    fn client_numbers_keep_why_they_are_unusable() {
        let spec = EventSpec {
            client_phone: Some("acmecom_ivanenko".into()),
            ..EventSpec::default()
        };
        let event = spec.into_event(&ctx()).expect("valid");
        assert_eq!(event.client.e164, None);
        assert!(event.client.unusable_reason.is_some());
        let facts = FactsSpec::default().resolve(&event, &EmployeeDirectory::default());
        assert_eq!(facts.client, ClientFact::None);
        assert_eq!(facts.employee, EmployeeFact::None);
    }

    #[test]
    fn local_call_times_are_read_in_the_project_zone() {
        let spec = EventSpec {
            call_time: Some("2025-09-30 14:05:12".into()),
            ..EventSpec::default()
        };
        let event = spec.into_event(&ctx()).expect("valid");
        assert_eq!(
            event.call_time.map(|t| t.to_rfc3339()),
            Some("2025-09-30T14:05:12+03:00".to_string())
        );
    }

    #[test]
    fn local_times_in_a_daylight_saving_gap_still_read() {
        let spec = EventSpec {
            call_time: Some("2025-03-30 03:30:00".into()),
            ..EventSpec::default()
        };
        let event = spec.into_event(&ctx()).expect("valid");
        assert_eq!(
            event.call_time.map(|t| t.to_rfc3339()),
            Some("2025-03-30T04:30:00+03:00".to_string())
        );
    }

    #[test]
    fn fact_assignments() {
        let mut facts = FactsSpec::default();
        facts.assign("client=existing").expect("valid");
        facts.assign("open_deal = true").expect("valid");
        facts.assign("responsible=other").expect("valid");
        assert_eq!(facts.client, Some(ClientFact::Existing));
        assert_eq!(facts.open_deal, Some(true));
        assert_eq!(facts.responsible, Some(ResponsibleFact::Other));
        assert!(matches!(
            facts.assign("client"),
            Err(FactAssignmentError::Shape(_))
        ));
        assert!(matches!(
            facts.assign("mood=good"),
            Err(FactAssignmentError::UnknownFact(_))
        ));
        assert!(matches!(
            facts.assign("client=maybe"),
            Err(FactAssignmentError::Value(_))
        ));
        assert!(matches!(
            facts.assign("open_deal=perhaps"),
            Err(FactAssignmentError::OpenDeal(_))
        ));
    }
}
