//! The connector conformance suite (feature `testkit`), and a fake of
//! Ringostat's call log API ([`ringostat`]).
//!
//! Connector-agnostic scenarios that every connector runs against its own
//! fake CRM through a [`Harness`]: finding contacts however their number
//! was typed, find-or-create under concurrency (through the lookup cache),
//! open deals, engagements with their associations, step keys, owners, and
//! the failures a CRM has (rate limits, server errors, lost answers,
//! conflicts, deleted records, revoked tokens).
//!
//! A plugin's test starts a fresh fake per scenario:
//!
//! ```text
//! let report = switchboard_core::testkit::run_suite(|| MyHarness::start()).await;
//! assert!(report.passed(), "{report}");
//! ```

mod harness;
pub mod ringostat;
mod scenarios;

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

pub use harness::Harness;
pub use scenarios::{Scenario, scenarios};

/// The outcome of one scenario.
#[derive(Debug, Clone)]
pub struct ScenarioResult {
    pub name: &'static str,
    pub outcome: Result<(), String>,
    pub elapsed: Duration,
}

/// The outcome of the suite.
#[derive(Debug, Clone, Default)]
pub struct SuiteReport {
    pub results: Vec<ScenarioResult>,
}

impl SuiteReport {
    pub fn passed(&self) -> bool {
        !self.results.is_empty() && self.results.iter().all(|r| r.outcome.is_ok())
    }
}

impl fmt::Display for SuiteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for result in &self.results {
            match &result.outcome {
                Ok(()) => writeln!(f, "ok   {} ({:.1?})", result.name, result.elapsed)?,
                Err(why) => writeln!(f, "FAIL {} ({:.1?}): {why}", result.name, result.elapsed)?,
            }
        }
        let failed = self.results.iter().filter(|r| r.outcome.is_err()).count();
        write!(f, "{} passed, {failed} failed", self.results.len() - failed)
    }
}

/// Runs every scenario, each against a fresh harness from `start`.
pub async fn run_suite<H, F, Fut>(start: F) -> SuiteReport
where
    H: Harness + 'static,
    F: Fn() -> Fut,
    Fut: Future<Output = H>,
{
    let mut report = SuiteReport::default();
    for scenario in scenarios() {
        let harness = start().await;
        let started = Instant::now();
        let outcome = (scenario.run)(&harness).await;
        report.results.push(ScenarioResult {
            name: scenario.name,
            outcome,
            elapsed: started.elapsed(),
        });
    }
    report
}
