//! The connector's own rate budget, so that HubSpot rarely has to say 429.
//!
//! HubSpot counts two things per private app: requests in any rolling 10
//! seconds (100 or 190), and searches per second (5, shared by the account,
//! exempt from the 10-second count). Each is a `governor` limiter that a
//! request waits on before it is sent.
//!
//! A GCRA limiter with burst `b` refilling at `r` per second lets through at
//! most `b + r·W` requests in any window `W`. To never exceed `N` per window,
//! the burst is a fifth of `N` and the refill spreads the rest over the
//! window: short bursts start at once, and a sustained load runs at 80 % of
//! the limit, leaving room for retries and for other apps.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::DefaultClock;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

type Limiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock>;

/// Which of HubSpot's limits a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Everything but search: the rolling 10-second burst limit.
    General,
    /// CRM search: the per-second search limit.
    Search,
}

/// The two limiters.
#[derive(Debug)]
pub struct Budget {
    general: Limiter,
    search: Limiter,
}

impl Budget {
    pub fn new(burst_per_10s: u32, search_per_second: u32) -> Budget {
        Budget {
            general: RateLimiter::direct(quota(burst_per_10s, Duration::from_secs(10))),
            search: RateLimiter::direct(quota(search_per_second, Duration::from_secs(1))),
        }
    }

    /// Waits until the lane has room for one more request.
    pub async fn acquire(&self, lane: Lane) {
        match lane {
            Lane::General => self.general.until_ready().await,
            Lane::Search => self.search.until_ready().await,
        }
    }
}

/// A quota that lets at most `limit` requests through in any `window`.
fn quota(limit: u32, window: Duration) -> Quota {
    let limit = limit.max(1);
    let burst = (limit / 5).max(1);
    let refills = limit.saturating_sub(burst).max(1);
    let period = window / refills;
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    /// Sends as fast as the limiter allows for three windows (clock advanced
    /// in small steps) and returns the most requests seen in any window.
    fn busiest_window(limit: u32, window: Duration) -> (usize, usize) {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::direct_with_clock(quota(limit, window), clock.clone());
        let step = window / 400;
        let mut sent: Vec<Duration> = Vec::new();
        let mut now = Duration::ZERO;
        while now < window * 3 {
            while limiter.check().is_ok() {
                sent.push(now);
            }
            clock.advance(step);
            now += step;
        }
        let busiest = sent
            .iter()
            .map(|start| {
                sent.iter()
                    .filter(|t| **t >= *start && **t < *start + window)
                    .count()
            })
            .max()
            .unwrap_or(0);
        (busiest, sent.len())
    }

    #[test]
    fn never_more_than_the_limit_in_any_window() {
        for limit in [1, 4, 20, 100, 190] {
            let (busiest, total) = busiest_window(limit, Duration::from_secs(10));
            assert!(
                busiest <= limit as usize,
                "limit {limit}: {busiest} in one window"
            );
            assert!(
                total as f64 >= 3.0 * f64::from(limit) * 0.7,
                "limit {limit}: only {total} in three windows"
            );
        }
    }

    #[test]
    fn search_budget_of_four_per_second_stays_under_five() {
        let (busiest, _) = busiest_window(4, Duration::from_secs(1));
        assert!(busiest <= 4, "{busiest}");
    }
}
