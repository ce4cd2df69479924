//! Periods of the call log and the windows they are read in.
//!
//! Ringostat answers at most 6,500 calls per request and takes `from`/`to`
//! as wall-clock times of the project's time zone (`YYYY-MM-DD HH:MM:SS`),
//! so a period is a stretch of wall-clock time, read window after window.
//! A window that comes back full may have been cut short, so it is halved
//! and read again; windows stay at most half as long as the last one that
//! was full until several light answers in a row let them grow again.
//!
//! Windows share their boundary second (`[a, m]`, then `[m, b]`): whether
//! Ringostat counts `to` in or out, no second falls between two windows, and
//! a call seen twice is one call (it is deduplicated on its id). Working in
//! wall-clock time also keeps the autumn hour that happens twice in one
//! window: every call of `03:00`–`04:00` on the night clocks go back is in
//! the window that covers those wall-clock times.

use std::fmt;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use super::error::RingostatError;

/// The most calls Ringostat returns for one request.
pub const MAX_CALLS_PER_ANSWER: usize = 6500;

/// How much call log one request asks for at most.
const MAX_SPAN: Duration = Duration::days(1);

/// Light answers in a row after which windows may be twice as long again.
const LIGHT_STREAK: u32 = 4;

/// The format of `from`/`to`.
const FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// A stretch of the call log in the project's wall-clock time, both ends
/// included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Window {
    pub from: NaiveDateTime,
    pub to: NaiveDateTime,
}

impl Window {
    /// `from` as Ringostat's API reads it.
    pub fn from_param(&self) -> String {
        self.from.format(FORMAT).to_string()
    }

    /// `to` as Ringostat's API reads it.
    pub fn to_param(&self) -> String {
        self.to.format(FORMAT).to_string()
    }

    fn span(&self) -> Duration {
        self.to - self.from
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} – {}", self.from_param(), self.to_param())
    }
}

/// Why a period cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error(
        "{0:?} is not a time: write it like 2025-10-26 14:30, 2025-10-26 (midnight), 2025-10-26T14:30:00+03:00 or now"
    )]
    BadTime(String),
    #[error("the period ends ({to}) before it starts ({from})")]
    Backwards { from: String, to: String },
}

/// A period of the call log to read, in the project's wall-clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDateTime,
    pub to: NaiveDateTime,
    pub zone: Tz,
}

impl Period {
    pub fn new(from: NaiveDateTime, to: NaiveDateTime, zone: Tz) -> Result<Period, PeriodError> {
        if to < from {
            return Err(PeriodError::Backwards {
                from: from.format(FORMAT).to_string(),
                to: to.format(FORMAT).to_string(),
            });
        }
        Ok(Period {
            from: whole_second(from),
            to: whole_second(to),
            zone,
        })
    }

    /// The recent past reconciliation reads: the instants from
    /// `now - window` to `now - settle`, as wall-clock times. Across a
    /// change of the clocks those times are not in order, so the period runs
    /// from the earliest to the latest wall-clock time any of those instants
    /// can have (with one change inside, that is the start or end shifted by
    /// the other end's offset). On the night clocks go back, its end then
    /// reaches past `now - settle`: the caller leaves calls after that
    /// instant out by their own time, which Ringostat gives with its offset.
    pub fn recent(
        now: DateTime<Utc>,
        window: std::time::Duration,
        settle: std::time::Duration,
        zone: Tz,
    ) -> Period {
        let back =
            |by: std::time::Duration| now - Duration::from_std(by).unwrap_or(Duration::days(3650));
        let (start, end) = (back(window), back(settle));
        let length = end - start;
        let (first, last) = (wall_clock(start, zone), wall_clock(end, zone));
        Period {
            from: whole_second(first.min(last - length)),
            to: whole_second(last.max(first + length)),
            zone,
        }
    }

    /// The windows to read this period in.
    pub fn windows(&self) -> Windows {
        Windows {
            cursor: self.from,
            end: self.to,
            span: MAX_SPAN,
            ceiling: MAX_SPAN,
            light: 0,
            done: false,
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} – {} ({})",
            self.from.format(FORMAT),
            self.to.format(FORMAT),
            self.zone
        )
    }
}

/// The wall-clock time of an instant in `zone`.
pub fn wall_clock(instant: DateTime<Utc>, zone: Tz) -> NaiveDateTime {
    zone.from_utc_datetime(&instant.naive_utc()).naive_local()
}

fn whole_second(time: NaiveDateTime) -> NaiveDateTime {
    time.with_nanosecond(0).unwrap_or(time)
}

/// A time an operator wrote, as a wall-clock time of `zone`: local
/// (`2025-10-26 14:30[:00]`, also with `T`), a date alone (its midnight),
/// RFC 3339 with an offset (converted), or `now`.
pub fn parse_time(text: &str, zone: Tz, now: DateTime<Utc>) -> Result<NaiveDateTime, PeriodError> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("now") {
        return Ok(whole_second(wall_clock(now, zone)));
    }
    if let Ok(zoned) = DateTime::parse_from_rfc3339(text) {
        return Ok(whole_second(wall_clock(zoned.with_timezone(&Utc), zone)));
    }
    const LOCAL: &[&str] = &[
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ];
    if let Some(time) = LOCAL
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
    {
        return Ok(time);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .ok_or_else(|| PeriodError::BadTime(text.to_string()))
}

/// What to do after a window was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// The answer was complete: keep its calls, go on.
    Keep,
    /// The answer was full and may be cut short: drop it, read the window
    /// again in halves.
    Halve,
}

/// The windows of one period, chosen as the answers come in.
#[derive(Debug, Clone)]
pub struct Windows {
    cursor: NaiveDateTime,
    end: NaiveDateTime,
    span: Duration,
    /// The longest window worth asking for, given the full answers so far.
    ceiling: Duration,
    /// Light answers in a row.
    light: u32,
    done: bool,
}

impl Windows {
    /// The window to read next; `None` once the period is covered.
    pub fn next_window(&self) -> Option<Window> {
        if self.done {
            return None;
        }
        let to = (self.cursor + self.span).min(self.end);
        Some(Window {
            from: self.cursor,
            to,
        })
    }

    /// Takes the answer to `window`: `calls` calls came back.
    pub fn answered(&mut self, window: Window, calls: usize) -> Result<Next, RingostatError> {
        if calls >= MAX_CALLS_PER_ANSWER {
            if window.span() <= Duration::seconds(1) {
                return Err(RingostatError::TooDense {
                    at: window.from,
                    cap: MAX_CALLS_PER_ANSWER,
                });
            }
            let half = Duration::seconds((window.span().num_seconds() / 2).max(1));
            self.span = half;
            self.ceiling = half;
            self.light = 0;
            return Ok(Next::Halve);
        }
        self.cursor = window.to;
        self.done = window.to >= self.end;
        if calls < MAX_CALLS_PER_ANSWER / 4 {
            self.light += 1;
            if self.light >= LIGHT_STREAK {
                self.ceiling = (self.ceiling * 2).min(MAX_SPAN);
                self.light = 0;
            }
            self.span = (self.span * 2).min(self.ceiling);
        } else {
            self.light = 0;
        }
        Ok(Next::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KYIV: Tz = chrono_tz::Europe::Kyiv;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, FORMAT).expect("a time")
    }

    /// Reads a period against a call log of wall-clock call times, the way
    /// the backfill does; returns the windows kept and the calls found.
    fn read(period: &Period, calls: &[NaiveDateTime]) -> (Vec<Window>, usize, usize) {
        let mut windows = period.windows();
        let mut kept = Vec::new();
        let mut asked = 0;
        let mut found = std::collections::BTreeSet::new();
        while let Some(window) = windows.next_window() {
            asked += 1;
            assert!(asked < 10_000, "the windows never cover the period");
            let hits: Vec<usize> = (0..calls.len())
                .filter(|i| (window.from..=window.to).contains(&calls[*i]))
                .collect();
            let answer = hits.len().min(MAX_CALLS_PER_ANSWER);
            match windows.answered(window, answer).expect("readable") {
                Next::Keep => {
                    found.extend(hits);
                    kept.push(window);
                }
                Next::Halve => {}
            }
        }
        (kept, found.len(), asked)
    }

    #[test]
    fn kept_windows_cover_the_period_without_a_gap() {
        let period = Period::new(at("2025-10-01 00:00:00"), at("2025-10-04 12:00:00"), KYIV)
            .expect("a period");
        let (kept, _, _) = read(&period, &[]);
        assert_eq!(kept.first().map(|w| w.from), Some(period.from));
        assert_eq!(kept.last().map(|w| w.to), Some(period.to));
        for pair in kept.windows(2) {
            assert_eq!(pair[0].to, pair[1].from, "windows share their boundary");
        }
        assert!(
            kept.iter().all(|w| w.span() <= MAX_SPAN),
            "a day at most per request"
        );
    }

    #[test]
    fn a_full_window_is_halved_until_every_call_is_read() {
        // 14,000 calls in two hours: no window of an hour or more is complete.
        let start = at("2025-10-01 10:00:00");
        let calls: Vec<NaiveDateTime> = (0..14_000)
            .map(|i| start + Duration::milliseconds(i * 514))
            .map(whole_second)
            .collect();
        let period = Period::new(at("2025-10-01 00:00:00"), at("2025-10-02 00:00:00"), KYIV)
            .expect("a period");
        let (kept, found, asked) = read(&period, &calls);
        assert_eq!(found, calls.len(), "every call is read");
        assert!(kept.len() > 3, "{kept:?}");
        assert!(asked < 40, "halving converges: {asked} requests");
    }

    #[test]
    fn a_second_with_a_full_answer_cannot_be_split() {
        let mut windows = Period::new(at("2025-10-01 10:00:00"), at("2025-10-01 10:00:01"), KYIV)
            .expect("a period")
            .windows();
        let window = windows.next_window().expect("a window");
        let error = windows
            .answered(window, MAX_CALLS_PER_ANSWER)
            .expect_err("too dense");
        assert!(matches!(error, RingostatError::TooDense { .. }), "{error}");
    }

    #[test]
    fn a_single_instant_is_one_window() {
        let time = at("2025-10-01 10:00:00");
        let period = Period::new(time, time, KYIV).expect("a period");
        let (kept, _, asked) = read(&period, &[time]);
        assert_eq!((kept.len(), asked), (1, 1));
    }

    #[test]
    fn operator_times_are_wall_clock_times_of_the_project() {
        let now = Utc
            .with_ymd_and_hms(2025, 10, 26, 12, 0, 7)
            .single()
            .expect("a time");
        let parse = |text| parse_time(text, KYIV, now).map(|t| t.format(FORMAT).to_string());
        assert_eq!(parse("2025-10-26 03:30"), Ok("2025-10-26 03:30:00".into()));
        assert_eq!(
            parse("2025-10-26T03:30:15"),
            Ok("2025-10-26 03:30:15".into())
        );
        assert_eq!(parse("2025-10-26"), Ok("2025-10-26 00:00:00".into()));
        assert_eq!(
            parse("2025-10-26T09:00:00Z"),
            Ok("2025-10-26 11:00:00".into()),
            "after the change Kyiv is UTC+2"
        );
        assert_eq!(parse("now"), Ok("2025-10-26 14:00:07".into()));
        assert!(matches!(parse("yesterday"), Err(PeriodError::BadTime(_))));
        let backwards = Period::new(at("2025-10-02 00:00:00"), at("2025-10-01 00:00:00"), KYIV);
        assert!(matches!(backwards, Err(PeriodError::Backwards { .. })));
    }

    #[test]
    fn the_recent_past_leaves_the_settling_calls_out() {
        let now = Utc
            .with_ymd_and_hms(2025, 9, 30, 12, 0, 0)
            .single()
            .expect("a time");
        let period = Period::recent(
            now,
            std::time::Duration::from_secs(3 * 3600),
            std::time::Duration::from_secs(15 * 60),
            KYIV,
        );
        assert_eq!(period.from, at("2025-09-30 12:00:00"), "UTC+3 in summer");
        assert_eq!(period.to, at("2025-09-30 14:45:00"));
    }

    #[test]
    fn the_recent_past_across_a_change_of_the_clocks_covers_every_call() {
        // 01:10 UTC on 2025-10-26 is 03:10 EET, just after the clocks went
        // back from 04:00 EEST; 20 minutes earlier it was 03:50 EEST. In
        // spring, 01:10 UTC on 2025-03-30 is 04:10 EEST, 20 minutes after
        // 03:00 EET jumped to 04:00.
        let change = |month, day| {
            Utc.with_ymd_and_hms(2025, month, day, 1, 10, 0)
                .single()
                .expect("a time")
        };
        for now in [change(10, 26), change(3, 30)] {
            let period = Period::recent(
                now,
                std::time::Duration::from_secs(40 * 60),
                std::time::Duration::from_secs(0),
                KYIV,
            );
            for minutes_ago in 0..=40 {
                let call = wall_clock(now - Duration::minutes(minutes_ago), KYIV);
                assert!(
                    (period.from..=period.to).contains(&call),
                    "{minutes_ago} minutes before {now} ({call}) is in {period}"
                );
            }
        }
    }
}
