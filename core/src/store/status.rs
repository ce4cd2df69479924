//! The life of an event in the inbox, as one closed set of states.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// Accepted, waiting for a worker.
    Queued,
    /// Claimed by a worker under a lease.
    Processing,
    /// Failed transiently; waits for `next_attempt_at`.
    Retrying,
    /// Every step of its plan is done.
    Done,
    /// Stored but not processed (a moment other than after-call or pick-up,
    /// or a plan that asked for nothing), with the reason.
    Skipped,
    /// Gave up after the retry limit; can be replayed.
    Dead,
    /// Refused by a later stage, with the reason.
    Rejected,
    /// Waiting because no rules are loaded.
    Held,
    /// Waiting because the CRM account refuses all work (token, quota).
    Paused,
}

impl EventStatus {
    pub const ALL: [EventStatus; 9] = [
        EventStatus::Queued,
        EventStatus::Processing,
        EventStatus::Retrying,
        EventStatus::Done,
        EventStatus::Skipped,
        EventStatus::Dead,
        EventStatus::Rejected,
        EventStatus::Held,
        EventStatus::Paused,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            EventStatus::Queued => "queued",
            EventStatus::Processing => "processing",
            EventStatus::Retrying => "retrying",
            EventStatus::Done => "done",
            EventStatus::Skipped => "skipped",
            EventStatus::Dead => "dead",
            EventStatus::Rejected => "rejected",
            EventStatus::Held => "held",
            EventStatus::Paused => "paused",
        }
    }
}

/// A status name outside the set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown status {0:?}: expected queued, processing, retrying, done, skipped, dead, rejected, held or paused"
)]
pub struct UnknownStatus(pub String);

impl FromStr for EventStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s.trim())
            .ok_or_else(|| UnknownStatus(s.to_string()))
    }
}

impl fmt::Display for EventStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for status in EventStatus::ALL {
            assert_eq!(status.as_str().parse(), Ok(status));
            assert_eq!(
                serde_json::to_string(&status).expect("serializes"),
                format!("\"{status}\"")
            );
        }
        assert!("finished".parse::<EventStatus>().is_err());
    }
}
