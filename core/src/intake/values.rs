//! Reading Ringostat's loosely typed values: durations that are numbers or
//! strings, dates in whatever format the project picked, flags as `"1"`,
//! and recording links in several formats.

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

/// Seconds from `61`, `"61"`, `"61.4"`, `"00:01:01"` or `"1:01"`; `None`
/// for anything else (negative, text).
pub fn seconds(text: &str) -> Option<u32> {
    let text = text.trim();
    if text.contains(':') {
        let mut total: u32 = 0;
        for part in text.split(':') {
            let part: u32 = part.trim().parse().ok()?;
            total = total.checked_mul(60)?.checked_add(part)?;
        }
        return Some(total);
    }
    if let Ok(whole) = text.parse::<u32>() {
        return Some(whole);
    }
    let float: f64 = text.parse().ok()?;
    (float.is_finite() && (0.0..=f64::from(u32::MAX)).contains(&float))
        .then(|| float.round() as u32)
}

/// A flag such as `proper_flag`: `1`/`true`/`yes` or `0`/`false`/`no`.
pub fn flag(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "y" | "on" => Some(true),
        "0" | "false" | "no" | "n" | "off" => Some(false),
        _ => None,
    }
}

/// Formats with an explicit offset (Ringostat's calls/list uses `+0300`).
const ZONED: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%d %H:%M:%S%.f%z",
    "%Y-%m-%dT%H:%M:%S%.f%:z",
];

/// Zone-less formats, read in the project's time zone.
const LOCAL: &[&str] = &[
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
];

/// A call time in any of the formats Ringostat offers: RFC 3339, ISO with
/// `+0300`, zone-less local time (read in `zone`), or a Unix timestamp in
/// seconds, milliseconds or microseconds. Results carry the offset that
/// applied, or `zone`'s offset for timestamps.
pub fn call_time(text: &str, zone: Tz) -> Option<DateTime<FixedOffset>> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return unix_timestamp(text, zone);
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time);
    }
    if let Some(time) = ZONED
        .iter()
        .find_map(|format| DateTime::parse_from_str(text, format).ok())
    {
        return Some(time);
    }
    let naive = LOCAL
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())?;
    local(naive, zone)
}

/// A wall-clock time in `zone`. In the autumn overlap the earlier instant is
/// taken; a time in the spring gap is read with the offset before the gap.
fn local(naive: NaiveDateTime, zone: Tz) -> Option<DateTime<FixedOffset>> {
    match zone.from_local_datetime(&naive) {
        LocalResult::Single(time) | LocalResult::Ambiguous(time, _) => Some(time.fixed_offset()),
        LocalResult::None => {
            let before = zone
                .from_local_datetime(&(naive - chrono::Duration::hours(1)))
                .earliest()?;
            let offset = before.fixed_offset().offset().to_owned();
            offset.from_local_datetime(&naive).single()
        }
    }
}

fn unix_timestamp(digits: &str, zone: Tz) -> Option<DateTime<FixedOffset>> {
    let value: i64 = digits.parse().ok()?;
    let micros = match digits.len() {
        1..=10 => value.checked_mul(1_000_000)?,
        11..=13 => value.checked_mul(1_000)?,
        14..=16 => value,
        _ => return None,
    };
    let utc = DateTime::from_timestamp_micros(micros)?;
    Some(utc.with_timezone(&zone).fixed_offset())
}

/// Picks the recording link HubSpot can play inline: the first `.wav` or
/// `.mp3` link among the candidates, else the first link at all. Values that
/// are not http(s) links (Ringostat's `record` id) are never picked.
pub fn recording(candidates: &[String]) -> Option<String> {
    let links: Vec<&String> = candidates.iter().filter(|c| is_link(c)).collect();
    let playable = links.iter().find(|link| {
        let path = link
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        path.ends_with(".wav") || path.ends_with(".mp3")
    });
    playable.or(links.first()).map(|link| link.to_string())
}

/// An http(s) link.
pub fn is_link(text: &str) -> bool {
    let lower = text
        .trim_start()
        .get(..8)
        .unwrap_or(text)
        .to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// A Ringostat staff id; `-1` (and `0`) mean "no employee".
pub fn staff_id(text: &str) -> Option<String> {
    let text = text.trim();
    (!matches!(text, "" | "-1" | "0")).then(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KYIV: Tz = chrono_tz::Europe::Kyiv;

    fn time(text: &str) -> Option<String> {
        call_time(text, KYIV).map(|t| t.to_rfc3339())
    }

    #[test]
    fn durations_as_numbers_and_strings() {
        assert_eq!(seconds("61"), Some(61));
        assert_eq!(seconds(" 23 "), Some(23));
        assert_eq!(seconds("0"), Some(0));
        assert_eq!(seconds("61.4"), Some(61));
        assert_eq!(seconds("00:01:14"), Some(74));
        assert_eq!(seconds("1:14"), Some(74));
        assert_eq!(seconds("-3"), None);
        assert_eq!(seconds("abc"), None);
        assert_eq!(seconds(""), None);
        assert_eq!(seconds("1e99"), None);
    }

    #[test]
    fn iso_dates_with_offsets_keep_their_offset() {
        assert_eq!(
            time("2019-06-02T09:30:47+0300"),
            Some("2019-06-02T09:30:47+03:00".into())
        );
        assert_eq!(
            time("2019-06-02T09:30:47+03:00"),
            Some("2019-06-02T09:30:47+03:00".into())
        );
        assert_eq!(
            time("2019-06-02T06:30:47Z"),
            Some("2019-06-02T06:30:47+00:00".into())
        );
        assert_eq!(
            time("2019-06-02 09:30:47+0200"),
            Some("2019-06-02T09:30:47+02:00".into())
        );
    }

    #[test]
    fn zoneless_dates_are_read_in_the_project_zone() {
        // Kyiv is UTC+3 in summer and UTC+2 in winter.
        assert_eq!(
            time("2025-09-30 14:05:12"),
            Some("2025-09-30T14:05:12+03:00".into())
        );
        assert_eq!(
            time("2026-01-15 09:00:00"),
            Some("2026-01-15T09:00:00+02:00".into())
        );
        assert_eq!(
            time("2025-09-30T14:05:12"),
            Some("2025-09-30T14:05:12+03:00".into())
        );
        assert_eq!(
            time("30.09.2025 14:05"),
            Some("2025-09-30T14:05:00+03:00".into())
        );
        let warsaw =
            call_time("2025-09-30 14:05:12", chrono_tz::Europe::Warsaw).map(|t| t.to_rfc3339());
        assert_eq!(warsaw, Some("2025-09-30T14:05:12+02:00".into()));
    }

    #[test]
    fn daylight_saving_edges_resolve_deterministically() {
        // 2025-10-26 03:30 happens twice in Kyiv: the earlier (summer) one is taken.
        assert_eq!(
            time("2025-10-26 03:30:00"),
            Some("2025-10-26T03:30:00+03:00".into())
        );
        // 2025-03-30 03:30 does not exist in Kyiv: read with the winter offset.
        assert_eq!(
            time("2025-03-30 03:30:00"),
            Some("2025-03-30T03:30:00+02:00".into())
        );
    }

    #[test]
    fn unix_timestamps_in_seconds_millis_and_micros() {
        let expected = Some("2022-01-01T00:16:46+02:00".to_string());
        assert_eq!(time("1640989006"), expected);
        assert_eq!(
            time("1640989006505"),
            Some("2022-01-01T00:16:46.505+02:00".into())
        );
        assert_eq!(
            time("1640989006505487"),
            Some("2022-01-01T00:16:46.505487+02:00".into())
        );
        assert_eq!(time("12345678901234567890"), None);
    }

    #[test]
    fn garbage_dates_are_none() {
        assert_eq!(time("yesterday"), None);
        assert_eq!(time("2025-13-40 25:00:00"), None);
        assert_eq!(time(""), None);
    }

    #[test]
    fn recordings_prefer_wav_and_mp3() {
        let ogg = "https://app.ringostat.com/recordings/1.ogg?token=a".to_string();
        let wav = "https://app.ringostat.com/recordings/1.wav?token=a".to_string();
        let mp3 = "https://app.ringostat.com/recordings/1.MP3".to_string();
        assert_eq!(recording(&[ogg.clone(), wav.clone()]), Some(wav.clone()));
        assert_eq!(recording(&[ogg.clone(), mp3.clone()]), Some(mp3));
        assert_eq!(recording(std::slice::from_ref(&ogg)), Some(ogg.clone()));
        assert_eq!(
            recording(&["3333333333.3333333".to_string(), ogg.clone()]),
            Some(ogg)
        );
        assert_eq!(recording(&["3333333333.3333333".to_string()]), None);
        assert_eq!(recording(&[]), None);
    }

    #[test]
    fn flags_and_staff_ids() {
        assert_eq!(flag("1"), Some(true));
        assert_eq!(flag("0"), Some(false));
        assert_eq!(flag("TRUE"), Some(true));
        assert_eq!(flag("maybe"), None);
        assert_eq!(staff_id("-1"), None);
        assert_eq!(staff_id("111111"), Some("111111".into()));
    }
}
