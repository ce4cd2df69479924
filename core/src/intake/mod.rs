//! Intake: one Ringostat webhook request in, one [`CallEvent`] (or the reason
//! there is none) out, with the raw payload ready to store.
//!
//! The request is decoded ([`payload`]), its fields are found through the
//! alias map ([`fields`]) and their loosely typed values read ([`values`]) into
//! an event ([`normalize`]). The raw payload keeps everything that arrived,
//! except the token ([`raw`]). Authentication is not done here: the server
//! checks the token before calling [`Intake::receive`].

pub mod fields;
pub mod normalize;
pub mod payload;
pub mod raw;
pub mod values;

pub use fields::{Aliases, Field, FieldMap, FieldOverrides};
pub use normalize::{Normalizer, Undecodable};
pub use payload::{BodyError, BodyFormat, Payload};
pub use raw::RawPayload;

use crate::config::{Secret, Settings};
use crate::event::{CallEvent, EventKind};

/// The static URL parameter that names the moment of the call.
pub const EVENT_PARAM: &str = "event";

/// One webhook request, as the HTTP layer saw it.
#[derive(Debug, Clone, Copy)]
pub struct WebhookRequest<'a> {
    pub method: &'a str,
    pub query: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

/// A payload that became an event.
#[derive(Debug, Clone)]
pub struct Received {
    pub event: CallEvent,
    pub raw: RawPayload,
}

/// A payload that did not, with the reason.
#[derive(Debug, Clone)]
pub struct Refused {
    pub raw: RawPayload,
    pub reason: Undecodable,
}

/// The intake of one project: its field names, time zone, phone region, and
/// the token to keep out of stored payloads.
#[derive(Debug, Clone)]
pub struct Intake {
    normalizer: Normalizer,
    token: Option<Secret>,
}

impl Intake {
    pub fn new(settings: &Settings) -> Intake {
        Intake {
            normalizer: Normalizer::new(
                FieldMap::new(&settings.webhook.fields),
                settings.time_zone,
                settings.phone.default_region,
            ),
            token: settings.webhook.token.clone(),
        }
    }

    /// The intake of records from Ringostat's call log (`calls/list`): the
    /// same project, read with the default aliases, because the call log
    /// uses Ringostat's own field names whatever `webhook.fields` renames.
    pub fn call_log(settings: &Settings) -> Intake {
        Intake {
            normalizer: Normalizer::new(
                FieldMap::default(),
                settings.time_zone,
                settings.phone.default_region,
            ),
            token: None,
        }
    }

    /// One call log record as an `after_call` event, exactly as if it had
    /// come as a JSON webhook; the raw payload is the record.
    pub fn receive_record(
        &self,
        record: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Received, Box<Refused>> {
        let body = serde_json::Value::Object(record.clone()).to_string();
        self.receive(&WebhookRequest {
            method: "GET",
            query: None,
            content_type: Some("application/json"),
            body: body.as_bytes(),
        })
    }

    pub fn receive(&self, request: &WebhookRequest) -> Result<Received, Box<Refused>> {
        let format = BodyFormat::detect(request.content_type, request.body);
        let raw = RawPayload::sanitize(
            request.method,
            request.query,
            request.content_type,
            request.body,
            format.as_ref().ok().copied(),
            self.token.as_ref(),
        );
        let refuse = |reason: Undecodable| {
            Box::new(Refused {
                raw: raw.clone(),
                reason,
            })
        };

        // Decode what is stored, not what arrived: whatever the token
        // stripping removed cannot reach the event either.
        let mut kind = EventKind::AfterCall;
        let mut url_params = Vec::new();
        for (name, value) in url::form_urlencoded::parse(raw.query.as_bytes()).into_owned() {
            if name.eq_ignore_ascii_case(EVENT_PARAM) {
                let Ok(parsed) = value.parse::<EventKind>();
                kind = parsed;
            } else {
                url_params.push((name, value));
            }
        }
        let format = format.map_err(|e| refuse(e.into()))?;
        let payload =
            Payload::decode(format, &raw.body, url_params).map_err(|e| refuse(e.into()))?;
        let event = self.normalizer.normalize(&payload, kind).map_err(refuse)?;
        Ok(Received { event, raw })
    }
}

#[cfg(test)]
mod tests;
