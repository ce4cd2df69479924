//! The fake's call log: every call with the instant it started, answered
//! by wall-clock time of the project's zone, as the real `from`/`to` are.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value};

/// `calldate` as `calls/list` writes it: a numeric offset without a colon.
const CALLDATE: &str = "%Y-%m-%dT%H:%M:%S%z";

#[derive(Debug, Default)]
pub(super) struct CallLog {
    calls: Vec<(DateTime<Utc>, Map<String, Value>)>,
}

impl CallLog {
    pub fn add(&mut self, started: DateTime<Utc>, fields: Map<String, Value>) {
        self.calls.push((started, fields));
    }

    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// The calls whose wall-clock start lies in `from..=to`, oldest first,
    /// at most `cap`, each with only the `fields` asked for.
    pub fn select(
        &self,
        from: NaiveDateTime,
        to: NaiveDateTime,
        zone: Tz,
        fields: &[String],
        cap: usize,
    ) -> Vec<Value> {
        let mut hits: Vec<(NaiveDateTime, DateTime<Utc>, &Map<String, Value>)> = self
            .calls
            .iter()
            .map(|(started, call)| {
                let local = zone.from_utc_datetime(&started.naive_utc()).naive_local();
                (local, *started, call)
            })
            .filter(|(local, _, _)| (from..=to).contains(local))
            .collect();
        hits.sort_by_key(|(local, started, _)| (*local, *started));
        hits.into_iter()
            .take(cap)
            .map(|(_, started, call)| {
                let mut record = Map::new();
                for field in fields {
                    if field == "calldate" {
                        let written = started.with_timezone(&zone).format(CALLDATE).to_string();
                        record.insert(field.clone(), Value::String(written));
                    } else if let Some(value) = call.get(field) {
                        record.insert(field.clone(), value.clone());
                    }
                }
                Value::Object(record)
            })
            .collect()
    }
}
