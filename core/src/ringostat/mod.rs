//! Ringostat's call log, the second way calls come in.
//!
//! Ringostat retries a failed webhook little or not at all, so a call that
//! happens while the service is stopped, unreachable or answering 5xx would
//! be lost. Ringostat keeps every call in its call log, readable through
//! its API (`GET {base}/calls/list`); this module reads it and puts every
//! call the inbox lacks through the same intake as a webhook.
//!
//! - [`client`]: one window of the call log over HTTP, with retries and the
//!   project's field set.
//! - [`windows`]: periods in the project's wall-clock time, and windows that
//!   stay under the 6,500 calls of one answer.
//! - [`fields`]: which fields to ask for.
//! - [`backfill`]: a period into the inbox (or, in a dry run, only counted).
//! - [`process`]: what a backfill queued, processed by the command itself
//!   when no service runs on the store.
//! - [`reconcile`]: the job in `serve` that backfills the recent past every
//!   `ringostat.reconcile.every`, one instance at a time.
//! - [`error`]: what can go wrong, naming the setting to fix.

pub mod backfill;
pub mod client;
pub mod error;
pub mod fields;
pub mod process;
pub mod reconcile;
pub mod windows;

pub use backfill::{Backfill, BackfillError, Destination, Progress, Summary};
pub use client::{CallLogClient, Record, Retries};
pub use error::RingostatError;
pub use windows::{MAX_CALLS_PER_ANSWER, Period, PeriodError, Window};
