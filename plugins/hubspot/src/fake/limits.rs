//! HubSpot's rate limits as the fake enforces them: a rolling window for
//! everything but search (`TEN_SECONDLY_ROLLING`, with the
//! `X-HubSpot-RateLimit-*` headers) and a per-second search window
//! (`SECONDLY`, no rate headers). Window lengths are settable so tests do
//! not wait ten seconds.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A sliding-window counter.
#[derive(Debug)]
pub struct Window {
    pub limit: u32,
    pub length: Duration,
    hits: VecDeque<Instant>,
}

impl Window {
    pub fn new(limit: u32, length: Duration) -> Window {
        Window {
            limit,
            length,
            hits: VecDeque::new(),
        }
    }

    /// Counts a request if the window has room; `false` means 429.
    pub fn admit(&mut self, now: Instant) -> bool {
        while self
            .hits
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.length)
        {
            self.hits.pop_front();
        }
        if self.hits.len() >= self.limit as usize {
            return false;
        }
        self.hits.push_back(now);
        true
    }

    pub fn remaining(&self) -> u32 {
        self.limit.saturating_sub(self.hits.len() as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_admits_its_limit_then_frees_up_as_it_slides() {
        let start = Instant::now();
        let mut window = Window::new(3, Duration::from_millis(100));
        assert!((0..3).all(|_| window.admit(start)));
        assert!(!window.admit(start + Duration::from_millis(99)));
        assert!(window.admit(start + Duration::from_millis(100)));
        assert_eq!(window.remaining(), 2, "the first three slid out");
    }
}
