//! Where an event came from: the webhook Ringostat sent, or Ringostat's call
//! log read afterwards (`switchboard backfill`, reconciliation in `serve`).
//! Both go through the same intake and are one event per call; the source is
//! kept so that an operator can tell which calls only the call log brought.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventSource {
    /// `POST|GET /webhooks/ringostat`.
    Webhook,
    /// A record of Ringostat's `calls/list`.
    Backfill,
}

impl EventSource {
    pub const ALL: [EventSource; 2] = [EventSource::Webhook, EventSource::Backfill];

    pub fn as_str(&self) -> &'static str {
        match self {
            EventSource::Webhook => "webhook",
            EventSource::Backfill => "backfill",
        }
    }
}

/// A source name outside the set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event source {0:?}: expected webhook or backfill")]
pub struct UnknownSource(pub String);

impl FromStr for EventSource {
    type Err = UnknownSource;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventSource::ALL
            .into_iter()
            .find(|source| source.as_str() == s.trim())
            .ok_or_else(|| UnknownSource(s.to_string()))
    }
}

impl fmt::Display for EventSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for source in EventSource::ALL {
            assert_eq!(source.as_str().parse(), Ok(source));
            assert_eq!(
                serde_json::to_string(&source).expect("serializes"),
                format!("\"{source}\"")
            );
        }
        assert!("email".parse::<EventSource>().is_err());
    }
}
