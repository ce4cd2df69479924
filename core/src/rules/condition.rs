//! Conditions: the `when` of a scenario row.
//!
//! Each key of `when` names a fact or event field and each value says what it
//! must be; all of them must hold. A plain value means equals, a list means
//! one of, and a mapping spells operators out (`{gt: 30}`, `{regex: ^google}`,
//! `{not: new}`, `{from: "09:00", to: "18:00"}`). `script: file::function`
//! asks a Rhai function. Everything is checked against the fact's vocabulary
//! and type when the rules load.

use std::fmt;

use chrono::Weekday;
use regex::Regex;
use serde_yaml::Value as Yaml;

use super::diagnostic::{Diagnostic, did_you_mean};
use super::evaluate::{EvalError, Evaluation};
use super::script::ScriptRef;
use super::situation::{Kind, Name, Value, WEEKDAY_WORDS, parse_weekday, weekday_word};
use super::yaml::{Locator, YamlPath};

/// The operators a condition mapping may use.
pub(crate) const OPERATORS: &[&str] = &[
    "equals",
    "not",
    "one_of",
    "not_one_of",
    "regex",
    "gt",
    "gte",
    "lt",
    "lte",
    "exists",
    "from",
    "to",
];

/// Regexes in rules are small; this bounds the compiled size of a bad one.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// One compiled condition.
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    test: Test,
}

#[derive(Debug, Clone)]
enum Test {
    Value {
        written: String,
        name: Name,
        ops: Vec<Op>,
    },
    /// Minutes since midnight; `from` included, `to` excluded, wrapping past
    /// midnight when `from > to`.
    TimeOfDay {
        from: u32,
        to: u32,
    },
    /// The set of allowed weekdays (bit 0 = Monday).
    Weekday(u8),
    Script(ScriptRef),
}

#[derive(Debug, Clone)]
enum Op {
    Equals(Scalar),
    NotEquals(Scalar),
    OneOf(Vec<Scalar>),
    NotOneOf(Vec<Scalar>),
    Regex(Regex),
    Compare(Comparison, f64),
    Exists(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Gt,
    Gte,
    Lt,
    Lte,
}

#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    /// Compared without regard to letter case; stored lower-cased.
    Text(String),
    Number(f64),
    Bool(bool),
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Text(text) => f.write_str(text),
            Scalar::Number(n) => f.write_str(&super::situation::format_number(*n)),
            Scalar::Bool(b) => write!(f, "{b}"),
        }
    }
}

impl Scalar {
    fn matches(&self, actual: &Value<'_>) -> bool {
        match (self, actual) {
            (Scalar::Text(expected), Value::Text(actual)) => {
                actual.as_ref() == expected || actual.to_lowercase() == *expected
            }
            (Scalar::Number(expected), actual) => actual.as_number() == Some(*expected),
            (Scalar::Bool(expected), Value::Bool(actual)) => expected == actual,
            (Scalar::Text(expected), actual) => actual.to_text().to_lowercase() == *expected,
            (Scalar::Bool(_), _) => false,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |items: &[Scalar]| {
            items
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Op::Equals(value) => write!(f, "{value}"),
            Op::NotEquals(value) => write!(f, "not {value}"),
            Op::OneOf(values) => write!(f, "one of [{}]", list(values)),
            Op::NotOneOf(values) => write!(f, "none of [{}]", list(values)),
            Op::Regex(re) => write!(f, "matching /{}/", re.as_str()),
            Op::Compare(cmp, n) => {
                let sign = match cmp {
                    Comparison::Gt => ">",
                    Comparison::Gte => ">=",
                    Comparison::Lt => "<",
                    Comparison::Lte => "<=",
                };
                write!(f, "{sign} {}", super::situation::format_number(*n))
            }
            Op::Exists(true) => f.write_str("present"),
            Op::Exists(false) => f.write_str("absent"),
        }
    }
}

impl Op {
    fn holds(&self, actual: Option<&Value<'_>>) -> bool {
        match (self, actual) {
            (Op::Exists(wanted), actual) => actual.is_some() == *wanted,
            (Op::NotEquals(_) | Op::NotOneOf(_), None) => true,
            (_, None) => false,
            (Op::Equals(expected), Some(actual)) => expected.matches(actual),
            (Op::NotEquals(expected), Some(actual)) => !expected.matches(actual),
            (Op::OneOf(options), Some(actual)) => options.iter().any(|o| o.matches(actual)),
            (Op::NotOneOf(options), Some(actual)) => !options.iter().any(|o| o.matches(actual)),
            (Op::Regex(re), Some(actual)) => re.is_match(&actual.to_text()),
            (Op::Compare(cmp, bound), Some(actual)) => match actual.as_number() {
                None => false,
                Some(n) => match cmp {
                    Comparison::Gt => n > *bound,
                    Comparison::Gte => n >= *bound,
                    Comparison::Lt => n < *bound,
                    Comparison::Lte => n <= *bound,
                },
            },
        }
    }
}

impl Condition {
    /// `None` when the condition holds, else the trace line saying why not.
    pub(crate) fn check(
        &self,
        evaluation: &mut Evaluation<'_>,
    ) -> Result<Option<String>, EvalError> {
        match &self.test {
            Test::Value { written, name, ops } => {
                let actual = evaluation.situation.value(name);
                match ops.iter().find(|op| !op.holds(actual.as_ref())) {
                    None => Ok(None),
                    Some(failed) => Ok(Some(match &actual {
                        Some(value) => {
                            format!("no match: {written} is {}, not {failed}", value.to_text())
                        }
                        None => format!("no match: {written} is absent, not {failed}"),
                    })),
                }
            }
            Test::TimeOfDay { from, to } => {
                let now = evaluation.situation.minute_of_day();
                let inside = if from <= to {
                    (*from..*to).contains(&now)
                } else {
                    now >= *from || now < *to
                };
                Ok((!inside).then(|| {
                    format!(
                        "no match: time_of_day is {}, outside {}-{}",
                        clock(now),
                        clock(*from),
                        clock(*to)
                    )
                }))
            }
            Test::Weekday(days) => {
                let today = evaluation.situation.weekday();
                Ok((days & bit(today) == 0).then(|| {
                    format!(
                        "no match: weekday is {}, not one of [{}]",
                        weekday_word(today),
                        day_list(*days)
                    )
                }))
            }
            Test::Script(call) => {
                if evaluation.call_for_bool(call)? {
                    Ok(None)
                } else {
                    Ok(Some(format!("no match: script {call} returned false")))
                }
            }
        }
    }

    /// Whether two conditions are written the same way (for shadowed rows).
    pub(crate) fn same_as(&self, other: &Condition) -> bool {
        self.signature() == other.signature()
    }

    fn signature(&self) -> String {
        match &self.test {
            Test::Value { written, ops, .. } => format!(
                "{written}: {}",
                ops.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" & ")
            ),
            Test::TimeOfDay { from, to } => format!("time_of_day: {from}-{to}"),
            Test::Weekday(days) => format!("weekday: {days}"),
            Test::Script(call) => format!("script: {call}"),
        }
    }

    /// The script this condition calls, if any (for load-time checks).
    pub(crate) fn script(&self) -> Option<&ScriptRef> {
        match &self.test {
            Test::Script(call) => Some(call),
            _ => None,
        }
    }
}

fn bit(day: Weekday) -> u8 {
    1 << day.num_days_from_monday()
}

fn day_list(days: u8) -> String {
    WEEKDAY_WORDS
        .iter()
        .enumerate()
        .filter(|(i, _)| days & (1 << i) != 0)
        .map(|(_, w)| *w)
        .collect::<Vec<_>>()
        .join(", ")
}

fn clock(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Compiles the `when` mapping at `path`.
pub(crate) fn compile_when(
    when: &serde_yaml::Mapping,
    path: &YamlPath,
    locator: &Locator,
) -> (Vec<Condition>, Vec<Diagnostic>) {
    let mut conditions = Vec::new();
    let mut diagnostics = Vec::new();
    for (key, value) in when {
        let Some(key) = key.as_str() else {
            diagnostics.push(
                locator
                    .error(
                        path,
                        format!("condition names must be text, found {}", describe(key)),
                    )
                    .with_hint("write conditions as fact: value, e.g. client: new"),
            );
            continue;
        };
        let at = path.key(key);
        match compile_one(key, value, &at, locator) {
            Ok(mut compiled) => conditions.append(&mut compiled),
            Err(mut errors) => diagnostics.append(&mut errors),
        }
    }
    (conditions, diagnostics)
}

fn compile_one(
    key: &str,
    value: &Yaml,
    at: &YamlPath,
    locator: &Locator,
) -> Result<Vec<Condition>, Vec<Diagnostic>> {
    if key == "script" {
        return compile_scripts(value, at, locator);
    }
    let Some(name) = Name::resolve(key) else {
        let hint = did_you_mean(key, Name::all().chain(["script"])).unwrap_or_else(|| {
            "conditions use facts (client, employee, ...), event fields (talk_seconds, utm_source, ...), extra.NAME or script".to_string()
        });
        return Err(vec![
            locator
                .key_error(at, format!("unknown fact or field `{key}`"))
                .with_hint(hint),
        ]);
    };
    let test = match name.kind() {
        Kind::TimeOfDay => compile_time_of_day(value, at, locator)?,
        Kind::Weekday => compile_weekday(value, at, locator)?,
        kind => Test::Value {
            written: key.to_string(),
            ops: compile_ops(key, &name, kind, value, at, locator)?,
            name,
        },
    };
    Ok(vec![Condition { test }])
}

fn compile_scripts(
    value: &Yaml,
    at: &YamlPath,
    locator: &Locator,
) -> Result<Vec<Condition>, Vec<Diagnostic>> {
    let items: Vec<(YamlPath, &Yaml)> = match value {
        Yaml::Sequence(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (at.index(i), v))
            .collect(),
        other => vec![(at.clone(), other)],
    };
    let mut conditions = Vec::new();
    let mut errors = Vec::new();
    for (path, item) in items {
        match item.as_str().map(ScriptRef::parse) {
            Some(Ok(call)) => conditions.push(Condition {
                test: Test::Script(call),
            }),
            Some(Err(message)) => errors.push(locator.error(&path, message)),
            None => errors.push(
                locator
                    .error(
                        &path,
                        format!("script expects file::function, found {}", describe(item)),
                    )
                    .with_hint("script: routing::is_paid_traffic"),
            ),
        }
    }
    if errors.is_empty() {
        Ok(conditions)
    } else {
        Err(errors)
    }
}

fn compile_ops(
    key: &str,
    name: &Name,
    kind: Kind,
    value: &Yaml,
    at: &YamlPath,
    locator: &Locator,
) -> Result<Vec<Op>, Vec<Diagnostic>> {
    let scalar = |value: &Yaml, path: &YamlPath| scalar_for(key, kind, value, path, locator);
    let list = |value: &Yaml, path: &YamlPath| -> Result<Vec<Scalar>, Diagnostic> {
        match value {
            Yaml::Sequence(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| scalar(item, &path.index(i)))
                .collect(),
            other => Ok(vec![scalar(other, path)?]),
        }
    };
    match value {
        Yaml::Null => Ok(vec![Op::Exists(false)]),
        Yaml::Sequence(_) => list(value, at)
            .map(|v| vec![Op::OneOf(v)])
            .map_err(|e| vec![e]),
        Yaml::Mapping(map) => {
            let mut ops = Vec::new();
            let mut errors = Vec::new();
            for (op_key, op_value) in map {
                let op_name = op_key.as_str().unwrap_or("");
                let path = at.key(op_name);
                let numeric_allowed = kind == Kind::Number || matches!(name, Name::Extra(_));
                let compiled = match op_name {
                    "equals" => scalar(op_value, &path).map(Op::Equals),
                    "not" => scalar(op_value, &path).map(Op::NotEquals),
                    "one_of" => list(op_value, &path).map(Op::OneOf),
                    "not_one_of" => list(op_value, &path).map(Op::NotOneOf),
                    "exists" => match op_value {
                        Yaml::Bool(b) => Ok(Op::Exists(*b)),
                        other => Err(locator
                            .error(&path, format!("exists takes true or false, found {}", describe(other)))),
                    },
                    "regex" if matches!(kind, Kind::Text) => compile_regex(op_value, &path, locator),
                    "regex" => Err(locator
                        .key_error(&path, format!("`{key}` is not text; regex only applies to text fields"))
                        .with_hint(allowed_values(kind))),
                    "gt" | "gte" | "lt" | "lte" if numeric_allowed => {
                        let cmp = match op_name {
                            "gt" => Comparison::Gt,
                            "gte" => Comparison::Gte,
                            "lt" => Comparison::Lt,
                            _ => Comparison::Lte,
                        };
                        match op_value.as_f64() {
                            Some(n) => Ok(Op::Compare(cmp, n)),
                            None => Err(locator.error(
                                &path,
                                format!("{op_name} needs a number, found {}", describe(op_value)),
                            )),
                        }
                    }
                    "gt" | "gte" | "lt" | "lte" => Err(locator
                        .key_error(&path, format!("`{key}` is not a number; {op_name} compares numbers"))
                        .with_hint("numeric comparisons apply to talk_seconds, total_seconds, wait_seconds and extra.NAME")),
                    "from" | "to" => Err(locator
                        .key_error(&path, format!("`{op_name}` only applies to time_of_day and weekday"))),
                    other => Err(locator
                        .key_error(&path, format!("unknown operator `{other}`"))
                        .with_hint(did_you_mean(other, OPERATORS.iter().copied()).unwrap_or_else(|| {
                            format!("operators: {}", OPERATORS.join(", "))
                        }))),
                };
                match compiled {
                    Ok(op) => ops.push(op),
                    Err(error) => errors.push(error),
                }
            }
            if errors.is_empty() && ops.is_empty() {
                errors.push(locator.error(at, format!("the condition on `{key}` has no operator")));
            }
            if errors.is_empty() {
                Ok(ops)
            } else {
                Err(errors)
            }
        }
        other => scalar(other, at)
            .map(|v| vec![Op::Equals(v)])
            .map_err(|e| vec![e]),
    }
}

fn compile_regex(value: &Yaml, path: &YamlPath, locator: &Locator) -> Result<Op, Diagnostic> {
    let Some(pattern) = value.as_str() else {
        return Err(locator.error(
            path,
            format!("regex needs a pattern, found {}", describe(value)),
        ));
    };
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map(Op::Regex)
        .map_err(|error| {
            let detail = error.to_string();
            let last = detail.lines().last().unwrap_or("").trim().to_string();
            locator
                .error(path, format!("bad regex {pattern:?}: {last}"))
                .with_hint("the syntax is Rust's regex crate; quote the pattern in YAML, and escape `\\` as `\\\\` inside double quotes")
        })
}

fn scalar_for(
    key: &str,
    kind: Kind,
    value: &Yaml,
    path: &YamlPath,
    locator: &Locator,
) -> Result<Scalar, Diagnostic> {
    let wrong = |what: String| locator.error(path, what).with_hint(allowed_values(kind));
    match (kind, value) {
        (Kind::Word(words), Yaml::String(word)) if words.contains(&word.as_str()) => {
            Ok(Scalar::Text(word.clone()))
        }
        (Kind::Word(words), Yaml::String(word)) => Err(locator
            .error(path, format!("`{key}` cannot be `{word}`"))
            .with_hint(
                did_you_mean(word, words.iter().copied()).unwrap_or_else(|| allowed_values(kind)),
            )),
        (Kind::Bool, Yaml::Bool(b)) => Ok(Scalar::Bool(*b)),
        (Kind::Number, Yaml::Number(n)) => match n.as_f64() {
            Some(n) => Ok(Scalar::Number(n)),
            None => Err(wrong(format!("`{key}` needs a number"))),
        },
        (Kind::Text, Yaml::String(text)) => Ok(Scalar::Text(text.to_lowercase())),
        (Kind::Text, Yaml::Number(n)) => Ok(Scalar::Text(n.to_string())),
        (Kind::Text, Yaml::Bool(b)) => Ok(Scalar::Text(b.to_string())),
        (_, other) => Err(wrong(format!("`{key}` cannot be {}", describe(other)))),
    }
}

fn allowed_values(kind: Kind) -> String {
    match kind {
        Kind::Word(words) => format!("expected one of: {}", words.join(", ")),
        Kind::Bool => "expected true or false".to_string(),
        Kind::Number => "expected a number, e.g. talk_seconds: {gt: 30}".to_string(),
        Kind::Text => "expected text".to_string(),
        Kind::TimeOfDay => "expected time_of_day: {from: \"09:00\", to: \"18:00\"}".to_string(),
        Kind::Weekday => {
            "expected mon ... sun, a list of them, or {from: mon, to: fri}".to_string()
        }
    }
}

fn describe(value: &Yaml) -> String {
    match value {
        Yaml::Null => "nothing".to_string(),
        Yaml::Bool(b) => format!("`{b}`"),
        Yaml::Number(n) => format!("`{n}`"),
        Yaml::String(s) => format!("`{s}`"),
        Yaml::Sequence(_) => "a list".to_string(),
        Yaml::Mapping(_) => "a mapping".to_string(),
        Yaml::Tagged(_) => "a tagged value".to_string(),
    }
}

fn compile_time_of_day(
    value: &Yaml,
    at: &YamlPath,
    locator: &Locator,
) -> Result<Test, Vec<Diagnostic>> {
    let hint = allowed_values(Kind::TimeOfDay);
    let Yaml::Mapping(map) = value else {
        return Err(vec![
            locator
                .error(at, "time_of_day takes a window")
                .with_hint(hint),
        ]);
    };
    let mut errors = Vec::new();
    let mut read = |bound: &str| -> Option<u32> {
        let path = at.key(bound);
        match map.get(bound) {
            None => {
                errors.push(
                    locator
                        .error(at, format!("time_of_day needs `{bound}`"))
                        .with_hint(hint.clone()),
                );
                None
            }
            Some(value) => match value.as_str().and_then(parse_clock) {
                Some(minutes) => Some(minutes),
                None => {
                    errors.push(
                        locator
                            .error(
                                &path,
                                format!(
                                    "`{bound}` must be a time HH:MM, found {}",
                                    describe(value)
                                ),
                            )
                            .with_hint("quote times: from: \"09:00\""),
                    );
                    None
                }
            },
        }
    };
    let from = read("from");
    let to = read("to");
    for key in map.keys() {
        let name = key.as_str().unwrap_or("");
        if name != "from" && name != "to" {
            errors.push(
                locator
                    .key_error(
                        &at.key(name),
                        format!("time_of_day takes from and to, not `{name}`"),
                    )
                    .with_hint(hint.clone()),
            );
        }
    }
    match (from, to) {
        (Some(from), Some(to)) if errors.is_empty() => Ok(Test::TimeOfDay { from, to }),
        _ => Err(errors),
    }
}

fn parse_clock(text: &str) -> Option<u32> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && m.to_string().len() <= 2).then_some(h * 60 + m)
}

fn compile_weekday(
    value: &Yaml,
    at: &YamlPath,
    locator: &Locator,
) -> Result<Test, Vec<Diagnostic>> {
    let day = |value: &Yaml, path: &YamlPath| -> Result<u8, Diagnostic> {
        value
            .as_str()
            .and_then(parse_weekday)
            .map(bit)
            .ok_or_else(|| {
                let written = describe(value);
                locator
                    .error(path, format!("`{written}` is not a weekday"))
                    .with_hint(allowed_values(Kind::Weekday))
            })
    };
    let days = |value: &Yaml, path: &YamlPath| -> Result<u8, Vec<Diagnostic>> {
        match value {
            Yaml::Sequence(items) => {
                let mut set = 0;
                let mut errors = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match day(item, &path.index(i)) {
                        Ok(b) => set |= b,
                        Err(e) => errors.push(e),
                    }
                }
                if errors.is_empty() {
                    Ok(set)
                } else {
                    Err(errors)
                }
            }
            other => day(other, path).map_err(|e| vec![e]),
        }
    };
    const ALL: u8 = 0b111_1111;
    match value {
        Yaml::Mapping(map) => {
            let get = |key: &str| map.get(key);
            if let (Some(from), Some(to)) = (get("from"), get("to")) {
                let from = day(from, &at.key("from")).map_err(|e| vec![e])?;
                let to = day(to, &at.key("to")).map_err(|e| vec![e])?;
                let (from, to) = (from.trailing_zeros(), to.trailing_zeros());
                let mut set = 0u8;
                let mut d = from;
                loop {
                    set |= 1 << d;
                    if d == to {
                        break;
                    }
                    d = (d + 1) % 7;
                }
                return Ok(Test::Weekday(set));
            }
            let mut set = ALL;
            for (key, value) in map {
                let name = key.as_str().unwrap_or("");
                let path = at.key(name);
                match name {
                    "equals" | "one_of" => set &= days(value, &path)?,
                    "not" | "not_one_of" => set &= !days(value, &path)?,
                    other => {
                        return Err(vec![
                            locator
                                .key_error(&path, format!("weekday does not take `{other}`"))
                                .with_hint(allowed_values(Kind::Weekday)),
                        ]);
                    }
                }
            }
            Ok(Test::Weekday(set & ALL))
        }
        other => days(other, at).map(Test::Weekday),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_times_parse_strictly() {
        assert_eq!(parse_clock("09:00"), Some(540));
        assert_eq!(parse_clock("23:59"), Some(1439));
        assert_eq!(parse_clock("24:00"), None);
        assert_eq!(parse_clock("9"), None);
        assert_eq!(parse_clock("09:75"), None);
    }
}
