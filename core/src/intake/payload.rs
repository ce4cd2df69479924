//! Body decoding: whatever Ringostat sent (JSON, form-urlencoded, or a GET
//! query string; fields possibly nested under `additional_call_data`) becomes
//! one flat list of named values, looked up without regard to case.

use std::collections::HashMap;

use serde_json::{Map, Value};

/// The field Webhooks 2.0 templates may nest the call data under.
const NESTED: &str = "additional_call_data";

/// The authentication parameter never becomes a field, wherever it appears.
pub const TOKEN_PARAM: &str = "token";

/// Why a body cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("body is not valid JSON: {0}")]
    Json(String),
    #[error("body is JSON but not an object (found {0})")]
    NotAnObject(&'static str),
    #[error("body is not UTF-8 text")]
    NotUtf8,
    #[error("body is neither JSON nor form-urlencoded")]
    Unrecognized,
    #[error("content type {0:?} is not supported: send JSON, form-urlencoded or a query string")]
    UnsupportedContentType(String),
}

/// How a body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    Empty,
    Json,
    Form,
}

impl BodyFormat {
    /// Decides from the declared content type, or by looking at the body when
    /// the type is missing or generic (`text/plain`).
    pub fn detect(content_type: Option<&str>, body: &[u8]) -> Result<BodyFormat, BodyError> {
        let trimmed = body.trim_ascii();
        if trimmed.is_empty() {
            return Ok(BodyFormat::Empty);
        }
        let essence = content_type
            .map(|ct| {
                ct.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        match essence.as_str() {
            "application/json" => Ok(BodyFormat::Json),
            e if e.ends_with("+json") => Ok(BodyFormat::Json),
            "application/x-www-form-urlencoded" => Ok(BodyFormat::Form),
            "" | "text/plain" | "application/octet-stream" => match trimmed.first() {
                Some(b'{') | Some(b'[') => Ok(BodyFormat::Json),
                _ if trimmed.contains(&b'=') => Ok(BodyFormat::Form),
                _ => Err(BodyError::Unrecognized),
            },
            other => Err(BodyError::UnsupportedContentType(other.to_string())),
        }
    }
}

/// The decoded fields of one webhook, in arrival order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Payload {
    fields: Vec<(String, Value)>,
    /// Lower-cased name → position of its first occurrence.
    index: HashMap<String, usize>,
}

impl Payload {
    /// Decodes the body and adds the URL's own parameters (Ringostat's static
    /// parameters) after it, so the body wins when both name a field.
    pub fn decode(
        format: BodyFormat,
        body: &[u8],
        url_params: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Payload, BodyError> {
        let mut payload = Payload::default();
        match format {
            BodyFormat::Empty => {}
            BodyFormat::Json => {
                let value: Value =
                    serde_json::from_slice(body).map_err(|e| BodyError::Json(e.to_string()))?;
                match value {
                    Value::Object(object) => payload.add_object(object),
                    other => return Err(BodyError::NotAnObject(json_kind(&other))),
                }
            }
            BodyFormat::Form => {
                let text = std::str::from_utf8(body).map_err(|_| BodyError::NotUtf8)?;
                payload.add_pairs(url::form_urlencoded::parse(text.as_bytes()).into_owned());
            }
        }
        payload.add_pairs(url_params);
        Ok(payload)
    }

    fn add_object(&mut self, object: Map<String, Value>) {
        let mut nested = None;
        for (name, value) in object {
            if name.eq_ignore_ascii_case(NESTED) {
                nested = Some(value);
            } else {
                self.push(name, value);
            }
        }
        match nested {
            Some(Value::Object(inner)) => inner
                .into_iter()
                .for_each(|(name, value)| self.push(name, value)),
            // Some templates send the nested part as a JSON string.
            Some(Value::String(text)) => match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(inner)) => inner
                    .into_iter()
                    .for_each(|(name, value)| self.push(name, value)),
                _ => self.push(NESTED.to_string(), Value::String(text)),
            },
            Some(other) => self.push(NESTED.to_string(), other),
            None => {}
        }
    }

    fn add_pairs(&mut self, pairs: impl IntoIterator<Item = (String, String)>) {
        for (name, value) in pairs {
            // PHP-style nesting in forms: `additional_call_data[userfield]=...`.
            let name = match name
                .strip_prefix(NESTED)
                .and_then(|rest| rest.strip_prefix('['))
            {
                Some(inner) => inner.trim_end_matches(']').to_string(),
                None => name,
            };
            self.push(name, Value::String(value));
        }
    }

    fn push(&mut self, name: String, value: Value) {
        let key = name.to_lowercase();
        if key != TOKEN_PARAM && !self.index.contains_key(&key) {
            self.index.insert(key, self.fields.len());
            self.fields.push((name, value));
        }
    }

    /// The value of `name` (lower-cased) as text; `None` when absent, null or
    /// blank. Numbers and booleans read as their JSON text.
    pub fn text(&self, name: &str) -> Option<String> {
        let value = &self.fields[*self.index.get(name)?].1;
        text_of(value).filter(|t| !t.is_empty())
    }

    /// Every field as sent: original name and value.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.fields
            .iter()
            .map(|(name, value)| (name.as_str(), value))
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// A value as text: strings trimmed, other scalars as JSON, containers as
/// compact JSON; `None` for null.
pub fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.trim().to_string()),
        other => Some(other.to_string()),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(content_type: Option<&str>, body: &str) -> Result<Payload, BodyError> {
        let format = BodyFormat::detect(content_type, body.as_bytes())?;
        Payload::decode(format, body.as_bytes(), Vec::new())
    }

    #[test]
    fn json_with_nested_call_data() {
        let payload = decode(
            Some("application/json; charset=utf-8"),
            r#"{"uniqueid":"1.2","billsec":11,"flag":true,"none":null,"additional_call_data":{"userfield":"380732135997","uniqueid":"other"}}"#,
        )
        .expect("decodes");
        assert_eq!(
            payload.text("uniqueid").as_deref(),
            Some("1.2"),
            "the root wins over the nested part"
        );
        assert_eq!(payload.text("billsec").as_deref(), Some("11"));
        assert_eq!(payload.text("flag").as_deref(), Some("true"));
        assert_eq!(payload.text("none"), None);
        assert_eq!(payload.text("userfield").as_deref(), Some("380732135997"));
    }

    #[test]
    fn nested_call_data_as_a_json_string() {
        let payload = decode(
            None,
            r#"{"additional_call_data":"{\"dst\":\"380736506881\"}"}"#,
        )
        .expect("decodes");
        assert_eq!(payload.text("dst").as_deref(), Some("380736506881"));
    }

    #[test]
    fn form_bodies_and_php_style_nesting() {
        let payload = decode(
            Some("application/x-www-form-urlencoded"),
            "caller=%22Support%22+%3C380671234567%3E&additional_call_data%5Bcall_type%5D=in",
        )
        .expect("decodes");
        assert_eq!(
            payload.text("caller").as_deref(),
            Some("\"Support\" <380671234567>")
        );
        assert_eq!(payload.text("call_type").as_deref(), Some("in"));
    }

    #[test]
    fn names_match_without_regard_to_case() {
        let payload = decode(None, r#"{"E164":"+380732135997"}"#).expect("decodes");
        assert_eq!(payload.text("e164").as_deref(), Some("+380732135997"));
        assert_eq!(
            payload.fields().next().map(|(name, _)| name),
            Some("E164"),
            "original name kept"
        );
    }

    #[test]
    fn url_parameters_fill_in_but_never_override() {
        let format = BodyFormat::detect(None, br#"{"source":"body"}"#).expect("json");
        let payload = Payload::decode(
            format,
            br#"{"source":"body"}"#,
            vec![
                ("source".into(), "url".into()),
                ("service".into(), "sales".into()),
            ],
        )
        .expect("decodes");
        assert_eq!(payload.text("source").as_deref(), Some("body"));
        assert_eq!(payload.text("service").as_deref(), Some("sales"));
    }

    #[test]
    fn undecodable_bodies_say_why() {
        assert!(matches!(
            decode(Some("application/json"), "{\"a\":"),
            Err(BodyError::Json(_))
        ));
        assert_eq!(
            decode(None, "[1,2]"),
            Err(BodyError::NotAnObject("an array"))
        );
        assert_eq!(
            decode(Some("text/plain"), "hello"),
            Err(BodyError::Unrecognized)
        );
        assert!(matches!(
            decode(Some("multipart/form-data; boundary=x"), "--x"),
            Err(BodyError::UnsupportedContentType(_))
        ));
        let latin1 = [b'a', b'=', 0xff];
        assert_eq!(
            Payload::decode(BodyFormat::Form, &latin1, Vec::new()),
            Err(BodyError::NotUtf8)
        );
        assert!(
            decode(Some("application/json"), "   ")
                .expect("empty is fine")
                .is_empty()
        );
    }
}
