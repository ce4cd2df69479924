//! Reading the figures: when each event's last CRM write happened (from the
//! fake's records and their step keys), latency percentiles, and the
//! resident memory of a process.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use switchboard_hubspot::fake::FakeHubSpot;

/// For every inbox event, the moment of its last write to the fake: the
/// latest creation or update among the objects carrying its step key.
pub fn last_writes(fake: &FakeHubSpot) -> BTreeMap<i64, DateTime<Utc>> {
    let mut last = BTreeMap::new();
    for object_type in ["contacts", "deals", "calls", "tasks", "notes"] {
        let property = if object_type == "calls" {
            "hs_call_external_id"
        } else {
            crate::common::crm::STEP_KEY_PROPERTY
        };
        for object in fake.objects(object_type) {
            let Some(event) = object
                .property(property)
                .and_then(|key| key.strip_prefix("sb-"))
                .and_then(|key| key.split('-').next())
                .and_then(|id| id.parse::<i64>().ok())
            else {
                continue;
            };
            let at = object.updated_at.max(object.created_at);
            let entry = last.entry(event).or_insert(at);
            *entry = (*entry).max(at);
        }
    }
    last
}

/// The `p`-th percentile (0 < p ≤ 1) of sorted samples, nearest rank.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Latencies from each posting moment to the event's last CRM write.
pub fn latencies(
    posted: &[(i64, DateTime<Utc>)],
    last: &BTreeMap<i64, DateTime<Utc>>,
) -> Vec<Duration> {
    let mut latencies: Vec<Duration> = posted
        .iter()
        .filter_map(|(id, at)| (*last.get(id)? - *at).to_std().ok())
        .collect();
    latencies.sort();
    latencies
}

pub fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

/// `VmRSS` of a process, in KiB (`/proc/<pid>/status`; Linux only).
pub fn rss_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}
