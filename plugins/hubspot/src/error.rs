//! HubSpot's failures, read leniently and sorted into [`ConnectorError`].
//!
//! HubSpot answers errors with a JSON body most of the time (`category`,
//! `message`, `errors[].code`, `policyName` on 429), but sometimes with HTML
//! or nothing, and the same condition can come in more than one shape (a
//! duplicate unique value is a 409 "Existing ID: N" or a 400 "N already has
//! that value"). Everything here is a pure function of status, headers and
//! body, so each mapping is unit-tested.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;
use switchboard_core::connector::{AccountIssue, ConnectorError, CrmId, ObjectKind, ObjectRef};

/// The parts of a HubSpot error body the connector uses; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub message: Option<String>,
    pub category: Option<String>,
    pub sub_category: Option<String>,
    pub error_type: Option<String>,
    pub policy_name: Option<String>,
    pub correlation_id: Option<String>,
    #[serde(default)]
    pub errors: Vec<ErrorDetail>,
    #[serde(default)]
    pub context: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ErrorDetail {
    pub message: Option<String>,
    pub code: Option<String>,
}

impl ErrorBody {
    /// Reads any body: JSON as HubSpot documents it, else the start of the
    /// text as the message (HTML error pages, proxies, empty bodies).
    pub fn parse(body: &[u8]) -> ErrorBody {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(parsed) => parsed,
            Err(_) => {
                let text = String::from_utf8_lossy(body);
                let text = text.trim();
                ErrorBody {
                    message: (!text.is_empty()).then(|| text.chars().take(200).collect()),
                    ..ErrorBody::default()
                }
            }
        }
    }

    /// The most specific code: the first detail's code, else the category.
    pub fn code(&self) -> Option<String> {
        self.errors
            .iter()
            .find_map(|e| e.code.clone())
            .or_else(|| self.category.clone())
    }

    fn message_or(&self, fallback: &str) -> String {
        self.message.clone().unwrap_or_else(|| fallback.to_string())
    }
}

/// Rate-limit policies HubSpot names in 429 bodies.
pub const DAILY_POLICY: &str = "DAILY";
pub const ROLLING_POLICY: &str = "TEN_SECONDLY_ROLLING";
pub const SECONDLY_POLICY: &str = "SECONDLY";

/// Sorts one failed response into the error the executor acts on.
///
/// `target` is the object the request was about (for 404 on an update, and
/// for naming the stale object), `retry_after` the parsed `Retry-After`.
pub fn classify(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    target: Option<&ObjectRef>,
) -> ConnectorError {
    let parsed = ErrorBody::parse(body);
    let message = |fallback: &str| {
        let text = parsed.message_or(fallback);
        match &parsed.correlation_id {
            Some(id) => format!("{text} (correlation id {id})"),
            None => text,
        }
    };
    match status {
        401 => ConnectorError::AccountWide {
            issue: AccountIssue::BadToken,
            message: message("authentication failed"),
        },
        403 if parsed.category.as_deref() == Some("MISSING_SCOPES") => {
            ConnectorError::AccountWide {
                issue: AccountIssue::MissingScopes,
                message: missing_scopes_message(&parsed, &message("missing scopes")),
            }
        }
        404 => match target {
            Some(target) => ConnectorError::NotFound {
                kind: target.kind,
                id: target.id.clone(),
            },
            None => invalid(&parsed, message("not found")),
        },
        409 => match existing_id(&parsed) {
            Some(existing) => ConnectorError::Conflict {
                existing,
                message: message("conflict"),
            },
            None => invalid(&parsed, message("conflict")),
        },
        429 => {
            let policy = parsed
                .policy_name
                .clone()
                .unwrap_or_else(|| ROLLING_POLICY.to_string());
            if policy == DAILY_POLICY {
                ConnectorError::AccountWide {
                    issue: AccountIssue::DailyLimit,
                    message: message("daily limit reached"),
                }
            } else {
                ConnectorError::RateLimited {
                    policy,
                    retry_after,
                }
            }
        }
        // Locked, migration in progress, server errors and the CDN's 52x.
        423 | 477 | 500..=599 => ConnectorError::Transient {
            message: format!("HTTP {status}: {}", message("server error")),
            retry_after,
        },
        400 => {
            if let Some(stale) = invalid_association(&parsed) {
                return stale;
            }
            match existing_id(&parsed) {
                Some(existing) => ConnectorError::Conflict {
                    existing,
                    message: message("unique value taken"),
                },
                None => invalid(&parsed, message("bad request")),
            }
        }
        _ => invalid(
            &parsed,
            format!("HTTP {status}: {}", message("request refused")),
        ),
    }
}

fn invalid(parsed: &ErrorBody, message: String) -> ConnectorError {
    ConnectorError::InvalidRequest {
        code: parsed.code(),
        message,
    }
}

/// `Contact already exists. Existing ID: 37765128953` (409), or
/// `... on 552148386511. 552239500007 already has that value.` (400), where
/// the second id is the record that holds the value.
fn existing_id(parsed: &ErrorBody) -> Option<CrmId> {
    static EXISTING: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"Existing ID:\s*(\d+)").expect("literal regex"));
    static HOLDER: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(\d+) already has that value").expect("literal regex"));
    let message = parsed.message.as_deref()?;
    EXISTING
        .captures(message)
        .or_else(|| HOLDER.captures(message))
        .and_then(|c| c.get(1))
        .map(|m| CrmId(m.as_str().to_string()))
}

/// `One or more associations are invalid` names the object that is gone:
/// the executor treats it like a 404 on that object (drop it, resolve again).
fn invalid_association(parsed: &ErrorBody) -> Option<ConnectorError> {
    let id = parsed.context.get("objectId")?.first()?;
    let kind = match parsed.context.get("objectType")?.first()?.as_str() {
        "CONTACT" => ObjectKind::Contact,
        "DEAL" => ObjectKind::Deal,
        "CALL" => ObjectKind::Call,
        "TASK" => ObjectKind::Task,
        "NOTE" => ObjectKind::Note,
        _ => return None,
    };
    Some(ConnectorError::NotFound {
        kind,
        id: CrmId(id.clone()),
    })
}

fn missing_scopes_message(parsed: &ErrorBody, message: &str) -> String {
    let scopes: Vec<&str> = parsed
        .context
        .iter()
        .filter(|(key, _)| key.to_ascii_lowercase().contains("scopes"))
        .flat_map(|(_, values)| values.iter().map(String::as_str))
        .collect();
    if scopes.is_empty() {
        message.to_string()
    } else {
        format!("{message} (needs: {})", scopes.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(id: &str) -> ObjectRef {
        ObjectRef {
            kind: ObjectKind::Contact,
            id: CrmId(id.into()),
        }
    }

    #[test]
    fn bad_token_and_missing_scopes_stop_the_account() {
        let body = br#"{"status":"error","message":"Authentication credentials not found.","correlationId":"4acd14cf-ade6-4d82-a58c-4a7b4f0e40cd","category":"INVALID_AUTHENTICATION"}"#;
        assert!(matches!(
            classify(401, None, body, None),
            ConnectorError::AccountWide { issue: AccountIssue::BadToken, ref message }
                if message.contains("4acd14cf")
        ));
        let body = br#"{"status":"error","message":"This app hasn't been granted all required scopes to make this call.","correlationId":"x","errors":[{"message":"One or more of the following scopes are required.","context":{"requiredGranularScopes":["crm.objects.deals.write"]}}],"context":{"requiredGranularScopes":["crm.objects.deals.write"]},"category":"MISSING_SCOPES"}"#;
        match classify(403, None, body, None) {
            ConnectorError::AccountWide {
                issue: AccountIssue::MissingScopes,
                message,
            } => assert!(message.contains("crm.objects.deals.write"), "{message}"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn rate_limits_by_policy() {
        let daily = br#"{"status":"error","message":"You have reached your daily limit.","errorType":"RATE_LIMIT","correlationId":"c033cdaa","policyName":"DAILY","requestId":"3d3e35b7"}"#;
        assert!(matches!(
            classify(429, None, daily, None),
            ConnectorError::AccountWide {
                issue: AccountIssue::DailyLimit,
                ..
            }
        ));
        let secondly = br#"{"status":"error","message":"You have reached your secondly limit.","errorType":"RATE_LIMIT","correlationId":"c","policyName":"SECONDLY"}"#;
        assert_eq!(
            classify(429, Some(Duration::from_secs(1)), secondly, None),
            ConnectorError::RateLimited {
                policy: "SECONDLY".into(),
                retry_after: Some(Duration::from_secs(1))
            }
        );
        assert_eq!(
            classify(429, None, b"<html>Too many</html>", None),
            ConnectorError::RateLimited {
                policy: ROLLING_POLICY.into(),
                retry_after: None
            }
        );
    }

    #[test]
    fn conflicts_carry_the_existing_id_in_both_shapes() {
        let body = br#"{"status":"error","message":"Contact already exists. Existing ID: 37765128953","correlationId":"2dea5219","category":"CONFLICT"}"#;
        assert!(matches!(
            classify(409, None, body, None),
            ConnectorError::Conflict { existing, .. } if existing == CrmId("37765128953".into())
        ));
        let body = br#"{"status":"error","message":"Cannot set PropertyValueCoordinates{portalId=1, objectTypeId=0-1, objectId=552148386511, propertyName=email, value=x@y} on 552148386511. 552239500007 already has that value.","correlationId":"c","category":"VALIDATION_ERROR"}"#;
        assert!(matches!(
            classify(400, None, body, None),
            ConnectorError::Conflict { existing, .. } if existing == CrmId("552239500007".into())
        ));
        assert!(matches!(
            classify(409, None, br#"{"message":"conflict","category":"CONFLICT"}"#, None),
            ConnectorError::InvalidRequest { code: Some(code), .. } if code == "CONFLICT"
        ));
    }

    #[test]
    fn validation_errors_keep_the_most_specific_code() {
        let body = br#"{"status":"error","message":"Property values were not valid","correlationId":"ffbce914","errors":[{"message":"Property \"description\" does not exist","code":"PROPERTY_DOESNT_EXIST","context":{"propertyName":["description"]}}],"category":"VALIDATION_ERROR"}"#;
        assert!(matches!(
            classify(400, None, body, None),
            ConnectorError::InvalidRequest { code: Some(code), .. } if code == "PROPERTY_DOESNT_EXIST"
        ));
        let body = br#"{"status":"error","message":"x was not one of the allowed options","errors":[{"message":"bad","code":"INVALID_OPTION"}],"category":"VALIDATION_ERROR"}"#;
        assert!(matches!(
            classify(400, None, body, None),
            ConnectorError::InvalidRequest { code: Some(code), .. } if code == "INVALID_OPTION"
        ));
        assert!(matches!(
            classify(400, None, br#"{"message":"too many filters","category":"VALIDATION_ERROR"}"#, None),
            ConnectorError::InvalidRequest { code: Some(code), .. } if code == "VALIDATION_ERROR"
        ));
    }

    #[test]
    fn a_vanished_association_target_is_a_stale_id() {
        let body = br#"{"status":"error","message":"One or more associations are invalid","correlationId":"c","context":{"INVALID_OBJECT_IDS":["CONTACT=38374264688 is not valid"],"objectId":["38374264688"],"objectType":["CONTACT"]},"category":"VALIDATION_ERROR"}"#;
        assert_eq!(
            classify(400, None, body, None),
            ConnectorError::NotFound {
                kind: ObjectKind::Contact,
                id: CrmId("38374264688".into())
            }
        );
    }

    #[test]
    fn not_found_names_the_target_even_with_an_html_body() {
        let body = b"<html><body>Not Found</body></html>";
        assert_eq!(
            classify(404, None, body, Some(&contact("51"))),
            ConnectorError::NotFound {
                kind: ObjectKind::Contact,
                id: CrmId("51".into())
            }
        );
    }

    #[test]
    fn server_errors_are_transient_whatever_the_body() {
        for status in [500, 502, 503, 504, 423, 477, 521, 524] {
            let error = classify(status, Some(Duration::from_secs(2)), b"", None);
            assert!(error.is_retryable(), "{status}: {error:?}");
            assert_eq!(error.retry_after(), Some(Duration::from_secs(2)));
        }
        let error = classify(418, None, b"", None);
        assert!(!error.is_retryable());
    }
}
