//! HubSpot's response bodies and headers, in the shapes real responses
//! have (reference §5): error bodies with `status`, `message`,
//! `correlationId`, `category`; 429 bodies with `errorType` and
//! `policyName`; a correlation id header on everything.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A reply before it becomes an HTTP response (kept for the request log).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Option<Value>,
    /// Non-JSON body (HTML error pages).
    pub raw: Option<String>,
    pub headers: HeaderMap,
}

impl Reply {
    pub fn json(status: StatusCode, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            raw: None,
            headers: HeaderMap::new(),
        }
    }

    pub fn ok(body: Value) -> Reply {
        Reply::json(StatusCode::OK, body)
    }

    pub fn no_content() -> Reply {
        Reply {
            status: StatusCode::NO_CONTENT,
            body: None,
            raw: None,
            headers: HeaderMap::new(),
        }
    }

    pub fn html(status: StatusCode, text: &str) -> Reply {
        Reply {
            status,
            body: None,
            raw: Some(format!(
                "<html><head><title>{text}</title></head><body><h1>{text}</h1></body></html>"
            )),
            headers: HeaderMap::new(),
        }
    }

    pub fn header(mut self, name: &'static str, value: impl ToString) -> Reply {
        if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
            self.headers.insert(name, value);
        }
        self
    }

    pub fn into_response(self, correlation_id: &str) -> Response {
        let mut response = match (self.body, self.raw) {
            (Some(body), _) => (self.status, axum::Json(body)).into_response(),
            (None, Some(raw)) => (
                self.status,
                [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
                raw,
            )
                .into_response(),
            (None, None) => self.status.into_response(),
        };
        response.headers_mut().extend(self.headers);
        if let Ok(value) = HeaderValue::from_str(correlation_id) {
            response
                .headers_mut()
                .insert("x-hubspot-correlation-id", value);
        }
        response
    }
}

/// The common error body.
pub fn error(status: StatusCode, category: &str, message: &str, correlation_id: &str) -> Reply {
    Reply::json(
        status,
        json!({ "status": "error", "message": message, "correlationId": correlation_id, "category": category }),
    )
}

/// A 400 with per-property details (`PROPERTY_DOESNT_EXIST`, `INVALID_OPTION`, ...).
pub fn validation(details: &[(String, String, String)], correlation_id: &str) -> Reply {
    let inner: Vec<Value> = details
        .iter()
        .map(|(code, name, message)| {
            json!({ "isValid": false, "message": message, "error": code, "name": name, "localizedErrorMessage": message })
        })
        .collect();
    let errors: Vec<Value> = details
        .iter()
        .map(|(code, name, message)| json!({ "message": message, "code": code, "context": { "propertyName": [name] } }))
        .collect();
    Reply::json(
        StatusCode::BAD_REQUEST,
        json!({
            "status": "error",
            "message": format!("Property values were not valid: {}", Value::Array(inner)),
            "correlationId": correlation_id,
            "errors": errors,
            "category": "VALIDATION_ERROR",
        }),
    )
}

pub fn unauthorized(correlation_id: &str) -> Reply {
    error(
        StatusCode::UNAUTHORIZED,
        "INVALID_AUTHENTICATION",
        "Authentication credentials not found. This API supports both API Key and OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        correlation_id,
    )
    .header("x-hubspot-auth-failure", "401 Unauthorized")
}

pub fn missing_scopes(scope: &str, correlation_id: &str) -> Reply {
    Reply::json(
        StatusCode::FORBIDDEN,
        json!({
            "status": "error",
            "message": "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
            "correlationId": correlation_id,
            "errors": [{ "message": "One or more of the following scopes are required.", "context": { "requiredGranularScopes": [scope] } }],
            "context": { "requiredGranularScopes": [scope] },
            "links": { "scopes": "https://developers.hubspot.com/scopes" },
            "category": "MISSING_SCOPES",
        }),
    )
}

pub fn not_found(correlation_id: &str) -> Reply {
    error(
        StatusCode::NOT_FOUND,
        "OBJECT_NOT_FOUND",
        "resource not found",
        correlation_id,
    )
}

/// HubSpot's 429 body for a policy (`TEN_SECONDLY_ROLLING`, `SECONDLY`, `DAILY`).
pub fn rate_limited(policy: &str, correlation_id: &str) -> Reply {
    let limit = match policy {
        "DAILY" => "daily",
        "SECONDLY" => "secondly",
        _ => "ten_secondly_rolling",
    };
    Reply::json(
        StatusCode::TOO_MANY_REQUESTS,
        json!({
            "status": "error",
            "message": format!("You have reached your {limit} limit."),
            "errorType": "RATE_LIMIT",
            "correlationId": correlation_id,
            "policyName": policy,
            "requestId": uuid(),
        }),
    )
}

/// A server error, HTML for gateway failures as proxies send them.
pub fn server_error(status: StatusCode, correlation_id: &str) -> Reply {
    match status.as_u16() {
        502 | 504 => Reply::html(status, status.canonical_reason().unwrap_or("Bad Gateway")),
        _ => error(status, "INTERNAL_ERROR", "internal error", correlation_id),
    }
}

/// A random UUID (correlation and request ids).
pub fn uuid() -> String {
    let bytes: [u8; 16] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}
