//! Leases on jobs: a named row that one holder owns until a time, so that
//! of several instances sharing one store only one runs a job at a time
//! (reconciliation from Ringostat's call log), and so that a command can see
//! whether a service is running on the store at all (each `serve` holds its
//! own presence lease while it runs).
//!
//! A lease is taken, renewed by its holder, and given up; one whose holder
//! stopped renewing it (the process died) expires and can be taken by
//! another.

use chrono::{DateTime, Utc};

/// One live lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobLease {
    pub name: String,
    pub holder: String,
    pub until: DateTime<Utc>,
}
