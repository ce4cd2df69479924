//! The raw payload as it is stored and shown: the request exactly as it
//! arrived, except that the webhook token is gone from the query string and
//! the body (as a `token` parameter, and as a literal anywhere else).

use std::borrow::Cow;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::payload::{BodyFormat, TOKEN_PARAM};
use crate::config::Secret;

/// What replaces a token value found anywhere in a stored payload.
const REDACTED: &str = "***";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPayload {
    pub method: String,
    /// The query string without `token`; empty when there was none.
    pub query: String,
    pub content_type: Option<String>,
    /// The body without its token. Bytes, because a rejected body need not be text.
    pub body: Vec<u8>,
}

impl RawPayload {
    /// Copies the request, taking the token out.
    pub fn sanitize(
        method: &str,
        query: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
        format: Option<BodyFormat>,
        token: Option<&Secret>,
    ) -> RawPayload {
        let query = strip_form(query.unwrap_or_default().as_bytes());
        let body = match format {
            Some(BodyFormat::Json) => strip_json(body),
            Some(BodyFormat::Form) => strip_form(body),
            _ => Cow::Borrowed(body),
        };
        RawPayload {
            method: method.to_string(),
            query: String::from_utf8_lossy(&redact(&query, token)).into_owned(),
            content_type: content_type.map(str::to_string),
            body: redact(&body, token).into_owned(),
        }
    }

    pub fn body_text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// SHA-256 (hex) of the query and body: the identity of a rejected payload,
    /// so Ringostat's retries of the same bad body are stored once.
    pub fn hash(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.query.as_bytes());
        hasher.update([0]);
        hasher.update(&self.body);
        hex::encode(hasher.finalize())
    }
}

fn is_token(name: &str) -> bool {
    name.eq_ignore_ascii_case(TOKEN_PARAM)
}

/// Drops `token` pairs; the text is left untouched when there are none.
fn strip_form(text: &[u8]) -> Cow<'_, [u8]> {
    let pairs: Vec<(Cow<str>, Cow<str>)> = url::form_urlencoded::parse(text).collect();
    if !pairs.iter().any(|(name, _)| is_token(name)) {
        return Cow::Borrowed(text);
    }
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs.iter().filter(|(name, _)| !is_token(name)) {
        out.append_pair(name, value);
    }
    Cow::Owned(out.finish().into_bytes())
}

/// Drops a `token` key at the top level or under `additional_call_data`; the
/// body is left byte for byte as it came when there is none.
fn strip_json(body: &[u8]) -> Cow<'_, [u8]> {
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(body) else {
        return Cow::Borrowed(body);
    };
    let mut removed = remove_token(&mut object);
    for (name, value) in object.iter_mut() {
        if name.eq_ignore_ascii_case("additional_call_data")
            && let Value::Object(inner) = value
        {
            removed |= remove_token(inner);
        }
    }
    if !removed {
        return Cow::Borrowed(body);
    }
    serde_json::to_vec(&Value::Object(object)).map_or(Cow::Borrowed(body), Cow::Owned)
}

fn remove_token(object: &mut serde_json::Map<String, Value>) -> bool {
    let names: Vec<String> = object
        .keys()
        .filter(|name| is_token(name))
        .cloned()
        .collect();
    names.iter().for_each(|name| {
        object.remove(name);
    });
    !names.is_empty()
}

/// Replaces the token's value, plain or percent-encoded, wherever it still
/// appears (say, inside another parameter).
fn redact<'a>(text: &'a [u8], token: Option<&Secret>) -> Cow<'a, [u8]> {
    let Some(token) = token else {
        return Cow::Borrowed(text);
    };
    let plain = token.expose().as_bytes().to_vec();
    let encoded: Vec<u8> = url::form_urlencoded::byte_serialize(token.expose().as_bytes())
        .collect::<String>()
        .into();
    let mut current = Cow::Borrowed(text);
    for needle in [plain, encoded] {
        if let Some(replaced) = replace_all(&current, &needle) {
            current = Cow::Owned(replaced);
        }
    }
    current
}

fn replace_all(haystack: &[u8], needle: &[u8]) -> Option<Vec<u8>> {
    if needle.is_empty() || !haystack.windows(needle.len()).any(|w| w == needle) {
        return None;
    }
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(REDACTED.as_bytes());
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret::new("tok-123/abc").expect("not empty")
    }

    fn sanitize(query: &str, body: &str, format: BodyFormat) -> RawPayload {
        RawPayload::sanitize(
            "POST",
            Some(query),
            None,
            body.as_bytes(),
            Some(format),
            Some(&secret()),
        )
    }

    #[test]
    fn token_leaves_the_query() {
        let raw = sanitize(
            "event=after_call&token=tok-123%2Fabc",
            "",
            BodyFormat::Empty,
        );
        assert_eq!(raw.query, "event=after_call");
        let untouched = sanitize("event=pickup&x=a+b", "", BodyFormat::Empty);
        assert_eq!(
            untouched.query, "event=pickup&x=a+b",
            "no token: kept verbatim"
        );
    }

    #[test]
    fn token_leaves_json_and_form_bodies() {
        let raw = sanitize(
            "",
            r#"{"uniqueid":"1","token":"tok-123/abc","additional_call_data":{"TOKEN":"x"}}"#,
            BodyFormat::Json,
        );
        let body: Value = serde_json::from_slice(&raw.body).expect("json");
        assert_eq!(
            body,
            serde_json::json!({"uniqueid": "1", "additional_call_data": {}})
        );
        let verbatim = r#"{ "uniqueid" : "1" }"#;
        assert_eq!(
            sanitize("", verbatim, BodyFormat::Json).body,
            verbatim.as_bytes()
        );
        let form = sanitize("", "uniqueid=1&token=abc", BodyFormat::Form);
        assert_eq!(form.body_text(), "uniqueid=1");
    }

    #[test]
    fn the_token_value_is_redacted_wherever_it_hides() {
        let raw = sanitize(
            "back=https%3A%2F%2Fx%3Ftoken%3Dtok-123%252Fabc",
            r#"{"url":"https://x/?t=tok-123/abc"}"#,
            BodyFormat::Json,
        );
        assert!(!raw.body_text().contains("tok-123"), "{}", raw.body_text());
        assert!(raw.body_text().contains("***"));
    }

    #[test]
    fn the_recording_token_of_ringostat_is_not_ours() {
        let body = r#"{"recording":"https://app.ringostat.com/recordings/1.wav?token=unique_audiofile_token"}"#;
        assert_eq!(sanitize("", body, BodyFormat::Json).body, body.as_bytes());
    }

    #[test]
    fn hash_identifies_the_same_payload() {
        let a = sanitize("event=x&token=1", "{", BodyFormat::Json);
        let b = sanitize("event=x&token=2", "{", BodyFormat::Json);
        let c = sanitize("event=x", "{ ", BodyFormat::Json);
        assert_eq!(a.hash(), b.hash(), "the token is not part of the identity");
        assert_ne!(a.hash(), c.hash());
    }
}
