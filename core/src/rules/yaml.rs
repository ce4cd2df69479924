//! The one place rule files are read as YAML.
//!
//! `serde_yaml` (the maintained `yaml_serde`) turns a file into typed values
//! and reports syntax and type errors with their line and column. It forgets
//! positions once a value is built, so semantic checks that run later (an
//! unknown placeholder, a bad regex, an unreachable row) find their node again
//! through a [`Locator`]: the same text parsed by `saphyr`, whose nodes keep
//! their spans, used for locating only.

use std::fmt;

use saphyr::{LoadableYamlNode, MarkedYamlOwned, ScalarOwned, YamlDataOwned};
use serde::de::DeserializeOwned;

use super::diagnostic::{Diagnostic, Position};

/// Rule files larger than this are refused: rules are small, and a huge file
/// is a mistake (or an attack on the parser).
pub(crate) const MAX_FILE_BYTES: usize = 1024 * 1024;

/// One step of a path into a YAML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Key(String),
    Index(usize),
}

/// Where a value sits in a YAML document: `scenarios[3].when.client`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct YamlPath(Vec<Step>);

impl YamlPath {
    pub(crate) fn root() -> YamlPath {
        YamlPath(Vec::new())
    }

    pub(crate) fn key(&self, key: &str) -> YamlPath {
        let mut steps = self.0.clone();
        steps.push(Step::Key(key.to_string()));
        YamlPath(steps)
    }

    pub(crate) fn index(&self, index: usize) -> YamlPath {
        let mut steps = self.0.clone();
        steps.push(Step::Index(index));
        YamlPath(steps)
    }
}

impl fmt::Display for YamlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Key(key) if i == 0 => f.write_str(key)?,
                Step::Key(key) => write!(f, ".{key}")?,
                Step::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// Finds the position of a node in one file by its path.
#[derive(Debug, Clone)]
pub(crate) struct Locator {
    file: String,
    root: Option<MarkedYamlOwned>,
}

impl Locator {
    /// A locator for `text`; positions fall back to the start of the file if
    /// the span-aware reader cannot read it.
    pub(crate) fn new(file: &str, text: &str) -> Locator {
        let root = MarkedYamlOwned::load_from_str(text)
            .ok()
            .and_then(|documents| documents.into_iter().next());
        Locator {
            file: file.to_string(),
            root,
        }
    }

    /// The position of the value at `path`, or of its closest existing parent.
    pub(crate) fn value(&self, path: &YamlPath) -> Position {
        self.walk(path, false)
    }

    /// The position of the mapping key that ends `path` (`when.clinet` points
    /// at `clinet`), or of its closest existing parent.
    pub(crate) fn key(&self, path: &YamlPath) -> Position {
        self.walk(path, true)
    }

    /// A diagnostic at the value found at `path`.
    pub(crate) fn error(&self, path: &YamlPath, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(&self.file, self.value(path), message)
    }

    /// A diagnostic at the key that ends `path`.
    pub(crate) fn key_error(&self, path: &YamlPath, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(&self.file, self.key(path), message)
    }

    fn walk(&self, path: &YamlPath, want_key: bool) -> Position {
        let Some(mut node) = self.root.as_ref() else {
            return Position::START;
        };
        let mut found = position_of(node);
        let last = path.0.len().saturating_sub(1);
        for (i, step) in path.0.iter().enumerate() {
            let next = match (step, &node.data) {
                (Step::Key(key), YamlDataOwned::Mapping(map)) => map
                    .iter()
                    .find(|(k, _)| scalar_text(k).as_deref() == Some(key.as_str()))
                    .map(|(k, v)| {
                        if want_key && i == last {
                            (k, true)
                        } else {
                            (v, false)
                        }
                    }),
                (Step::Index(index), YamlDataOwned::Sequence(items)) => {
                    items.get(*index).map(|item| (item, false))
                }
                _ => None,
            };
            match next {
                Some((child, is_key)) => {
                    found = position_of(child);
                    if is_key {
                        break;
                    }
                    node = child;
                }
                None => break,
            }
        }
        found
    }
}

fn position_of(node: &MarkedYamlOwned) -> Position {
    let start = node.span.start;
    Position {
        line: start.line().max(1),
        column: start.col() + 1,
    }
}

fn scalar_text(node: &MarkedYamlOwned) -> Option<String> {
    match &node.data {
        YamlDataOwned::Value(ScalarOwned::String(s)) => Some(s.clone()),
        YamlDataOwned::Value(ScalarOwned::Integer(i)) => Some(i.to_string()),
        YamlDataOwned::Value(ScalarOwned::Boolean(b)) => Some(b.to_string()),
        YamlDataOwned::Representation(s, _, _) => Some(s.clone()),
        _ => None,
    }
}

/// Parses one rule file into `T`. Syntax and type errors come back as one
/// diagnostic with serde's position.
pub(crate) fn parse<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, Diagnostic> {
    if text.len() > MAX_FILE_BYTES {
        return Err(Diagnostic::new(
            file,
            Position::START,
            format!(
                "the file is {} bytes; rule files may be at most {MAX_FILE_BYTES}",
                text.len()
            ),
        )
        .with_hint("split long scripts or remove generated content"));
    }
    serde_yaml::from_str(text).map_err(|error| from_serde(file, &error))
}

/// Converts a value already parsed (a `when` condition, an inline event) into `T`.
pub(crate) fn convert<T: DeserializeOwned>(value: serde_yaml::Value) -> Result<T, String> {
    serde_yaml::from_value(value).map_err(|error| strip_location(&error.to_string()))
}

fn from_serde(file: &str, error: &serde_yaml::Error) -> Diagnostic {
    let at = error
        .location()
        .map(|l| Position {
            line: l.line().max(1),
            column: l.column().max(1),
        })
        .unwrap_or(Position::START);
    let message = strip_location(&error.to_string());
    let hint = hint_for(&message);
    Diagnostic::new(file, at, message).with_optional_hint(hint)
}

/// serde_yaml appends "at line L column C"; the diagnostic already says where.
fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(cut) => message[..cut].to_string(),
        None => message.to_string(),
    }
}

fn hint_for(message: &str) -> Option<String> {
    if message.contains("invalid type: map, expected a string") {
        return Some(
            "a template that starts with `{` must be quoted: deal_name: \"{phone}\"".to_string(),
        );
    }
    if message.contains("unknown field") || message.contains("unknown variant") {
        return Some("check the spelling against the expected names listed".to_string());
    }
    if message.contains("did not find expected")
        || message.contains("mapping values are not allowed")
    {
        return Some(
            "check the indentation, and quote values that contain `: `, `#` or start with `{`"
                .to_string(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "settings:\n  pipeline: sales\nscenarios:\n  - name: first\n    when:\n      client: new\n  - name: second\n    when: {clinet: existing}\n";

    #[test]
    fn locates_values_and_keys_by_path() {
        let locator = Locator::new("matrix.yaml", TEXT);
        let root = YamlPath::root();
        let pipeline = root.key("settings").key("pipeline");
        assert_eq!(
            locator.value(&pipeline),
            Position {
                line: 2,
                column: 13
            }
        );
        assert_eq!(locator.key(&pipeline), Position { line: 2, column: 3 });
        let client = root.key("scenarios").index(0).key("when").key("client");
        assert_eq!(locator.key(&client), Position { line: 6, column: 7 });
        let typo = root.key("scenarios").index(1).key("when").key("clinet");
        assert_eq!(
            locator.key(&typo),
            Position {
                line: 8,
                column: 12
            }
        );
        assert_eq!(typo.to_string(), "scenarios[1].when.clinet");
    }

    #[test]
    fn missing_paths_fall_back_to_the_closest_parent() {
        let locator = Locator::new("matrix.yaml", TEXT);
        let path = YamlPath::root().key("scenarios").index(1).key("then");
        assert_eq!(locator.value(&path), Position { line: 7, column: 5 });
        let broken = Locator::new("matrix.yaml", "a: [");
        assert_eq!(broken.value(&path), Position::START);
    }

    #[test]
    fn serde_errors_keep_their_position_without_repeating_it() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Shape {
            #[allow(dead_code)]
            name: String,
        }
        let error = parse::<Shape>("x.yaml", "name: a\nnmae: b\n").expect_err("unknown key");
        assert_eq!((error.line, error.column), (2, 1));
        assert!(
            error.message.starts_with("unknown field `nmae`"),
            "{}",
            error.message
        );
        assert!(!error.message.contains("line 2"), "{}", error.message);
        let quoted = parse::<Shape>("x.yaml", "name: {phone}\n").expect_err("a map");
        assert!(quoted.hint.as_deref().unwrap_or("").contains("quoted"));
    }
}

/// Serde helpers for the forms people naturally write in rule files.
pub(crate) mod forms {
    use std::fmt;

    use serde::de::{self, Deserializer, SeqAccess, Visitor};

    /// A scalar read as text: `101`, `true` and `"x"` are all text.
    pub(crate) fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_any(TextVisitor)
    }

    /// One scalar or a list of them, each read as text.
    pub(crate) fn texts<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<String>, D::Error> {
        deserializer.deserialize_any(TextsVisitor)
    }

    /// Like [`texts`], for optional fields.
    pub(crate) fn optional_texts<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Vec<String>>, D::Error> {
        texts(deserializer).map(Some)
    }

    /// A mapping of names to scalars read as text (`properties:`).
    pub(crate) fn text_map<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<std::collections::BTreeMap<String, String>, D::Error> {
        #[derive(serde::Deserialize)]
        struct Text(#[serde(deserialize_with = "text")] String);
        let map: std::collections::BTreeMap<String, Text> =
            serde::Deserialize::deserialize(deserializer)?;
        Ok(map.into_iter().map(|(k, Text(v))| (k, v)).collect())
    }

    struct TextVisitor;

    impl Visitor<'_> for TextVisitor {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("text or a number")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_string())
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
            Ok(v.to_string())
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
            Ok(v.to_string())
        }
    }

    struct TextsVisitor;

    impl<'de> Visitor<'de> for TextsVisitor {
        type Value = Vec<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("text, a number, or a list of them")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(vec![v.to_string()])
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(vec![v.to_string()])
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(vec![v.to_string()])
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            #[derive(serde::Deserialize)]
            struct Text(#[serde(deserialize_with = "text")] String);
            let mut items = Vec::new();
            while let Some(Text(item)) = seq.next_element()? {
                items.push(item);
            }
            Ok(items)
        }
    }
}
