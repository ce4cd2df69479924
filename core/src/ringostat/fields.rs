//! Which fields to ask `calls/list` for: the call log's own names that the
//! intake reads. The call log always uses Ringostat's names, whatever a
//! project called its webhook parameters, so its records are read with the
//! intake's default aliases (see [`crate::intake::Intake::call_log`]).

use crate::event::Direction;
use crate::intake::Field;

/// The fields of `calls/list` in Ringostat's parameter sheet
/// (reference/ringostat-webhooks.md §2.1).
pub const DOCUMENTED: &[&str] = &[
    "calldate",
    "caller",
    "dst",
    "pool_name",
    "disposition",
    "category_mark",
    "duration",
    "call_type",
    "waittime",
    "billsec",
    "connected_with",
    "call_counter",
    "proper_flag",
    "repeated_flag",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "uniqueid",
    "category_number",
    "employee_number",
    "employee_mark",
    "client_id",
    "remote_ip",
    "refferrer",
    "landing",
    "recording",
    "call_card",
    "additional_number",
    "has_recording",
    "scheme_name",
    "duration_ms",
];

/// Fields seen in working integrations but not in the sheet; some projects
/// refuse them ("incorrect field name"), so they are the first to go.
pub const UNDOCUMENTED: &[&str] = &[
    "recording_wav",
    "department",
    "caller_number",
    "employee_fio",
];

/// Without these a record cannot become an event (no id, no direction).
pub const ESSENTIAL: &[&str] = &["uniqueid", "call_type"];

/// The call log fields some intake alias reads, documented ones first.
pub fn requested() -> Vec<&'static str> {
    DOCUMENTED
        .iter()
        .chain(UNDOCUMENTED)
        .copied()
        .filter(|name| is_read(name))
        .collect()
}

fn is_read(name: &str) -> bool {
    Field::ALL.iter().any(|field| {
        [Direction::Incoming, Direction::Outgoing]
            .into_iter()
            .any(|direction| field.default_aliases(direction).contains(&name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_asks_for_what_the_intake_reads_and_nothing_else() {
        let fields = requested();
        for needed in [
            "uniqueid",
            "calldate",
            "call_type",
            "caller",
            "dst",
            "disposition",
            "billsec",
            "duration",
            "waittime",
            "connected_with",
            "employee_number",
            "recording",
            "recording_wav",
            "call_card",
            "utm_source",
            "refferrer",
        ] {
            assert!(fields.contains(&needed), "{needed} is asked for");
        }
        for unread in [
            "category_mark",
            "call_counter",
            "duration_ms",
            "has_recording",
        ] {
            assert!(
                !fields.contains(&unread),
                "{unread} is not read by the intake"
            );
        }
        assert!(ESSENTIAL.iter().all(|f| fields.contains(f)));
    }
}
