//! What can go wrong reading Ringostat's call log, in words that tell an
//! operator what to change. The API key never appears in any of them.

use chrono::NaiveDateTime;

/// Why the call log could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RingostatError {
    #[error(
        "no Ringostat API key is configured: set RINGOSTAT_API_KEY (or ringostat.api.key: ${{VAR}})"
    )]
    NoKey,
    /// 401/403: the key is wrong, revoked, or not for this project (403 also
    /// when the key reaches several projects and none was named).
    #[error(
        "Ringostat refused the API key (HTTP {status}{}): check ringostat.api.key (RINGOSTAT_API_KEY){}",
        detail(.message),
        if *.status == 403 || *.project_id_set { " and ringostat.api.project_id" } else { "" }
    )]
    BadKey {
        status: u16,
        message: String,
        project_id_set: bool,
    },
    /// Another 4xx: retrying the same request would not help.
    #[error("Ringostat refused the call log request (HTTP {status}){}", detail(.message))]
    Refused { status: u16, message: String },
    /// 429, 5xx, timeouts and lost connections, still failing after the retries.
    #[error("Ringostat's API is unavailable after {attempts} attempts: {message}")]
    Unavailable { attempts: usize, message: String },
    #[error("Ringostat's answer is not a list of calls: {0}")]
    BadAnswer(String),
    /// Every field asked for was refused as unknown.
    #[error("Ringostat refuses every call log field asked for: {0}")]
    NoFieldsLeft(String),
    /// A window of one second still held a full answer.
    #[error(
        "Ringostat has {cap} or more calls within one second at {at}: the call log cannot be read completely in windows"
    )]
    TooDense { at: NaiveDateTime, cap: usize },
    #[error("cannot build the HTTP client for Ringostat's API: {0}")]
    Client(String),
}

fn detail(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

impl RingostatError {
    /// The settings are wrong: running again unchanged fails the same way.
    pub fn is_configuration(&self) -> bool {
        matches!(self, RingostatError::NoKey | RingostatError::BadKey { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_key_names_the_settings_to_check() {
        let plain = RingostatError::BadKey {
            status: 401,
            message: "invalid key".into(),
            project_id_set: false,
        };
        assert_eq!(
            plain.to_string(),
            "Ringostat refused the API key (HTTP 401: invalid key): check ringostat.api.key (RINGOSTAT_API_KEY)"
        );
        let with_project = RingostatError::BadKey {
            status: 403,
            message: String::new(),
            project_id_set: true,
        };
        assert!(
            with_project
                .to_string()
                .ends_with("(HTTP 403): check ringostat.api.key (RINGOSTAT_API_KEY) and ringostat.api.project_id"),
            "{with_project}"
        );
        assert!(with_project.is_configuration());
        assert!(
            RingostatError::NoKey
                .to_string()
                .contains("RINGOSTAT_API_KEY")
        );
    }
}
