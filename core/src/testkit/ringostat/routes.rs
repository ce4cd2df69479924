//! `GET /calls/list`: authentication, the project, faults, parameters, and
//! the answer.

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDateTime;
use serde_json::{Value, json};

use super::{Fault, LoggedRequest, Shared};
use crate::ringostat::MAX_CALLS_PER_ANSWER;
use crate::ringostat::fields::{DOCUMENTED, UNDOCUMENTED};

const FORMAT: &str = "%Y-%m-%d %H:%M:%S";

pub(super) async fn calls_list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    let fields: Vec<String> = param("fields")
        .map(|list| {
            list.split(',')
                .map(|f| f.trim().to_string())
                .filter(|f| !f.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let mut logged = LoggedRequest {
        from: param("from"),
        to: param("to"),
        fields: fields.clone(),
        project_id: header("x-project-id"),
        status: 200,
        calls: 0,
        at: std::time::Instant::now(),
    };

    let fault = {
        let mut inner = shared.lock();
        inner.faults.retain(|(_, left)| *left > 0);
        inner.faults.first_mut().map(|(fault, left)| {
            *left -= 1;
            fault.clone()
        })
    };
    if let Some(Fault::Delay(delay)) = &fault {
        tokio::time::sleep(*delay).await;
    }

    let key = header("auth-key");
    let (status, body, calls) = answer(&shared, &logged, key.as_deref(), fault.as_ref(), &fields);
    logged.status = status.as_u16();
    logged.calls = calls;
    shared.lock().requests.push(logged);
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("0"));
    }
    response
}

fn error(status: StatusCode, message: &str) -> (StatusCode, Value, usize) {
    (status, json!({ "status": "error", "message": message }), 0)
}

fn answer(
    shared: &Shared,
    request: &LoggedRequest,
    key: Option<&str>,
    fault: Option<&Fault>,
    fields: &[String],
) -> (StatusCode, Value, usize) {
    let inner = shared.lock();
    // The key is checked before anything else, injected faults included.
    match key {
        None => return error(StatusCode::UNAUTHORIZED, "Auth-key header is required"),
        Some(key) if key != inner.key => {
            return error(StatusCode::UNAUTHORIZED, "invalid Auth-key");
        }
        Some(_) => {}
    }
    if let Some(expected) = &inner.project_id
        && request.project_id.as_ref() != Some(expected)
    {
        return error(
            StatusCode::FORBIDDEN,
            "the project is not available with this key",
        );
    }
    if let Some(Fault::Status(status)) = fault {
        let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return error(status, "injected fault");
    }
    let parse = |value: &Option<String>| {
        value
            .as_deref()
            .and_then(|v| NaiveDateTime::parse_from_str(v, FORMAT).ok())
    };
    let (Some(from), Some(to)) = (parse(&request.from), parse(&request.to)) else {
        return error(
            StatusCode::BAD_REQUEST,
            "from and to are required as YYYY-MM-DD HH:MM:SS",
        );
    };
    let known = |field: &String| {
        (DOCUMENTED.contains(&field.as_str()) || UNDOCUMENTED.contains(&field.as_str()))
            && !inner.unknown_fields.contains(field)
    };
    if let Some(unknown) = fields.iter().find(|field| !known(field)) {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("incorrect field name: {unknown}"),
        );
    }
    let all: Vec<String>;
    let fields = if fields.is_empty() {
        all = DOCUMENTED.iter().map(|f| f.to_string()).collect();
        &all
    } else {
        fields
    };
    let records = inner
        .log
        .select(from, to, inner.zone, fields, MAX_CALLS_PER_ANSWER);
    let count = records.len();
    (StatusCode::OK, Value::Array(records), count)
}
