//! Faults a test can inject into the fake: server errors, late answers,
//! rate limits and outages, for the next N requests or for a while,
//! optionally only for one operation (`calls.create`, `contacts.search`).

use std::time::{Duration, Instant};

/// What an injected fault does to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAction {
    /// Answer with this status (5xx: HubSpot's or a gateway's body).
    Status(u16),
    /// Process the request, then answer only after this delay: a client
    /// that times out does not know whether its write landed.
    Delay(Duration),
    /// Answer 429 with this policy (`TEN_SECONDLY_ROLLING`, `SECONDLY`, `DAILY`).
    RateLimit(String),
}

/// One injected fault.
#[derive(Debug, Clone)]
pub struct Fault {
    /// Only requests of this operation, or all.
    pub operation: Option<String>,
    pub action: FaultAction,
    /// For the next N matching requests...
    pub remaining: Option<usize>,
    /// ...or until this moment.
    pub until: Option<Instant>,
}

impl Fault {
    fn applies(&self, operation: &str, now: Instant) -> bool {
        let in_scope = self.operation.as_deref().is_none_or(|o| o == operation);
        let active = match (self.remaining, self.until) {
            (Some(n), _) => n > 0,
            (None, Some(until)) => now < until,
            (None, None) => false,
        };
        in_scope && active
    }
}

/// Takes the first fault that applies to the request, counting it down.
pub fn take(faults: &mut Vec<Fault>, operation: &str, now: Instant) -> Option<FaultAction> {
    faults.retain(|f| f.remaining != Some(0) && f.until.is_none_or(|u| now < u));
    let fault = faults.iter_mut().find(|f| f.applies(operation, now))?;
    if let Some(n) = fault.remaining.as_mut() {
        *n -= 1;
    }
    Some(fault.action.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_faults_run_out_and_scoped_faults_stay_in_scope() {
        let now = Instant::now();
        let mut faults = vec![
            Fault {
                operation: Some("calls.create".into()),
                action: FaultAction::Status(502),
                remaining: Some(2),
                until: None,
            },
            Fault {
                operation: None,
                action: FaultAction::Status(503),
                remaining: None,
                until: Some(now + Duration::from_secs(60)),
            },
        ];
        assert_eq!(
            take(&mut faults, "calls.create", now),
            Some(FaultAction::Status(502))
        );
        assert_eq!(
            take(&mut faults, "contacts.search", now),
            Some(FaultAction::Status(503))
        );
        assert_eq!(
            take(&mut faults, "calls.create", now),
            Some(FaultAction::Status(502))
        );
        assert_eq!(
            take(&mut faults, "calls.create", now),
            Some(FaultAction::Status(503))
        );
        assert_eq!(
            take(&mut faults, "calls.create", now + Duration::from_secs(61)),
            None
        );
        assert!(faults.is_empty());
    }
}
