//! Ringostat webhooks for end-to-end tests: one builder for every kind of
//! call the default matrix tells apart, written in the call-log field names
//! Ringostat's webhooks send (`uniqueid`, `caller`, `dst`, `billsec`, ...).

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

/// SIP login of Olena Ivanenko, an employee mapped to an owner.
pub const OLENA_SIP: &str = "acmecom_ivanenko";
/// SIP login of Petro Petrenko, another mapped employee.
pub const PETRO_SIP: &str = "acmecom_petrenko";
/// A SIP login that `employees.yaml` does not list.
pub const STRANGER_SIP: &str = "acmecom_stranger";
/// The company number clients dial.
pub const TRACKING_NUMBER: &str = "380443334455";

/// The name Ringostat shows for an employee.
pub fn employee_name(sip: &str) -> Option<&'static str> {
    match sip {
        OLENA_SIP => Some("Olena Ivanenko"),
        PETRO_SIP => Some("Petro Petrenko"),
        STRANGER_SIP => Some("Stepan Stranger"),
        _ => None,
    }
}

/// Call ids are unique within a test process, and differ between runs so
/// that a log or a database from another run cannot be mistaken for this one.
fn next_call_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let run = std::process::id();
    format!("ua9_-{run}.{}", NEXT.fetch_add(1, Ordering::SeqCst))
}

/// One Ringostat webhook delivery.
#[derive(Debug, Clone)]
pub struct Call {
    pub call_id: String,
    /// `after_call` or `pickup` (the `?event=` of the webhook URL).
    pub event: &'static str,
    /// `in` or `out`.
    pub call_type: &'static str,
    pub disposition: Option<&'static str>,
    /// The client's number as Ringostat sends it.
    pub client: String,
    /// SIP login of the employee on the call; `None` when nobody answered.
    pub employee: Option<String>,
    pub talk_seconds: u64,
    pub wait_seconds: u64,
    pub recording: bool,
    pub utm_campaign: String,
    pub started: DateTime<Utc>,
}

impl Call {
    /// An incoming call from `client`, answered by Olena after 13 s of
    /// ringing, 61 s of talk, recorded, from a Google Ads visit.
    pub fn incoming(client: &str) -> Call {
        Call {
            call_id: next_call_id(),
            event: "after_call",
            call_type: "in",
            disposition: Some("ANSWERED"),
            client: client.to_string(),
            employee: Some(OLENA_SIP.to_string()),
            talk_seconds: 61,
            wait_seconds: 13,
            recording: true,
            utm_campaign: "brand".into(),
            // Whole seconds, as Ringostat sends them.
            started: DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_else(Utc::now),
        }
    }

    /// An outgoing call by Olena to `client`, answered and recorded.
    pub fn outgoing(client: &str) -> Call {
        Call {
            call_type: "out",
            talk_seconds: 95,
            wait_seconds: 7,
            ..Call::incoming(client)
        }
    }

    /// Nobody answered: no employee, no talk, no recording.
    pub fn missed(self) -> Call {
        Call {
            disposition: Some("NO ANSWER"),
            employee: None,
            talk_seconds: 0,
            wait_seconds: 31,
            recording: false,
            ..self
        }
    }

    /// An outgoing call the client did not pick up. Ringostat still has a
    /// recording of the ringing, which the matrix must not attach.
    pub fn not_answered(self) -> Call {
        Call {
            disposition: Some("CLIENT NO ANSWER"),
            talk_seconds: 0,
            wait_seconds: 40,
            ..self
        }
    }

    pub fn answered_by(self, sip: &str) -> Call {
        Call {
            employee: Some(sip.to_string()),
            ..self
        }
    }

    pub fn campaign(self, campaign: &str) -> Call {
        Call {
            utm_campaign: campaign.to_string(),
            ..self
        }
    }

    /// The "when taking the call" webhook of this call: same call id, no
    /// outcome yet.
    pub fn pickup(&self) -> Call {
        Call {
            event: "pickup",
            disposition: None,
            talk_seconds: 0,
            recording: false,
            ..self.clone()
        }
    }

    /// Another call from the same number, by the same employee.
    pub fn again(&self) -> Call {
        Call {
            call_id: next_call_id(),
            ..self.clone()
        }
    }

    /// The link HubSpot should play inline (Ringostat also sends `.ogg`).
    pub fn recording_url(&self) -> String {
        format!(
            "https://app.ringostat.com/recordings/{}.wav?token=rec",
            self.call_id
        )
    }

    pub fn query(&self) -> String {
        format!("event={}", self.event)
    }

    /// The JSON body Ringostat posts.
    pub fn body(&self) -> String {
        let mut fields = Map::new();
        let mut set = |name: &str, value: Value| {
            fields.insert(name.to_string(), value);
        };
        set("uniqueid", json!(self.call_id));
        set(
            "calldate",
            json!(self.started.format("%Y-%m-%dT%H:%M:%S+0000").to_string()),
        );
        set("call_type", json!(self.call_type));
        let employee = self.employee.clone().unwrap_or_default();
        if let Some(name) = employee_name(&employee) {
            set("employee_fio", json!(name));
        }
        if self.call_type == "in" {
            set("caller", json!(self.client));
            set("dst", json!(TRACKING_NUMBER));
            set("connected_with", json!(employee));
            set("pool_name", json!("Google Ads"));
            set("utm_source", json!("google"));
            set("utm_medium", json!("cpc"));
            set("utm_campaign", json!(self.utm_campaign));
            set("utm_term", json!("crm"));
            set("utm_content", json!("ad1"));
        } else {
            // On outgoing calls the caller is the employee's SIP login.
            set("caller", json!(employee));
            set("dst", json!(self.client));
            set("outbound_number", json!(TRACKING_NUMBER));
        }
        if let Some(disposition) = self.disposition {
            set("disposition", json!(disposition));
        }
        set(
            "duration",
            json!((self.talk_seconds + self.wait_seconds).to_string()),
        );
        set("billsec", json!(self.talk_seconds.to_string()));
        set("waittime", json!(self.wait_seconds.to_string()));
        set(
            "has_recording",
            json!(if self.recording { "1" } else { "0" }),
        );
        if self.recording {
            set(
                "recording",
                json!(format!(
                    "https://app.ringostat.com/recordings/{}.ogg?token=rec",
                    self.call_id
                )),
            );
            set("recording_wav", json!(self.recording_url()));
        }
        set(
            "call_card",
            json!(format!(
                "https://app.ringostat.com/project/callcards/card/{}/?project_id=247726",
                self.call_id
            )),
        );
        Value::Object(fields).to_string()
    }

    /// This call as a record of Ringostat's call log (`calls/list`): the
    /// same fields as the webhook, with the types the call log uses
    /// (`billsec` and `duration` numbers, `waittime` a string, `-1` for no
    /// employee id) and without `calldate`, which the fake writes in the
    /// project's zone from [`Call::started`].
    pub fn call_log_record(&self) -> Map<String, Value> {
        let Ok(Value::Object(mut record)) = serde_json::from_str::<Value>(&self.body()) else {
            unreachable!("the body is a JSON object")
        };
        record.remove("calldate");
        record.insert("billsec".into(), json!(self.talk_seconds));
        record.insert(
            "duration".into(),
            json!(self.talk_seconds + self.wait_seconds),
        );
        record.insert("employee_number".into(), json!(-1));
        record.insert("proper_flag".into(), json!(0));
        record
    }
}
