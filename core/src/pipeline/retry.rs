//! The retry schedule: exponential backoff with jitter, capped, and never
//! sooner than the CRM asked.
//!
//! Jitter keeps events that failed together (an outage, a rate-limit storm)
//! from all coming back at the same instant and failing together again.

use std::time::Duration;

use crate::config::RetrySettings;

/// When to try a failed event again, and when to give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl From<&RetrySettings> for RetryPolicy {
    fn from(settings: &RetrySettings) -> Self {
        RetryPolicy {
            max_attempts: settings.max_attempts,
            initial_backoff: settings.initial_backoff,
            max_backoff: settings.max_backoff,
        }
    }
}

impl RetryPolicy {
    /// Whether an event that has made `attempts` attempts may make another.
    pub fn allows_another(&self, attempts: u32) -> bool {
        attempts < self.max_attempts
    }

    /// The ceiling of the wait after attempt `attempt` (1-based):
    /// `initial × 2^(attempt-1)`, at most `max_backoff`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(32);
        self.initial_backoff
            .saturating_mul(1 << doublings.min(31))
            .min(self.max_backoff)
    }

    /// The wait after attempt `attempt`: between half the ceiling and the
    /// ceiling ("equal jitter"), and at least what the CRM asked for.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        let jitter = half.mul_f64(rand::random::<f64>());
        (half + jitter).max(retry_after.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
        }
    }

    #[test]
    fn the_ceiling_doubles_from_the_initial_backoff_up_to_the_maximum() {
        let ceilings: Vec<u64> = (1..=7).map(|n| policy().ceiling(n).as_secs()).collect();
        assert_eq!(ceilings, [2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(policy().ceiling(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn delays_are_jittered_between_half_the_ceiling_and_the_ceiling() {
        let policy = policy();
        for attempt in 1..=6 {
            let ceiling = policy.ceiling(attempt);
            let delays: Vec<Duration> = (0..200).map(|_| policy.delay(attempt, None)).collect();
            assert!(
                delays.iter().all(|d| *d >= ceiling / 2 && *d <= ceiling),
                "attempt {attempt}: {delays:?}"
            );
            let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
            assert!(distinct.len() > 1, "attempt {attempt}: no jitter");
        }
    }

    #[test]
    fn the_crm_asking_for_longer_wins() {
        let asked = Duration::from_secs(90);
        assert_eq!(policy().delay(1, Some(asked)), asked);
        assert!(policy().delay(3, Some(Duration::from_millis(1))) >= Duration::from_secs(4));
    }

    #[test]
    fn attempts_stop_at_the_limit() {
        assert!(policy().allows_another(4));
        assert!(!policy().allows_another(5));
    }
}
