//! The one place YAML text becomes Rust values, so the YAML library is chosen
//! in one place, and every error says which key is wrong and on which line.
//!
//! The YAML reader knows the line of syntax errors and unknown keys, but for
//! a value its own type refuses (`max_body: lots`) it only knows where the
//! enclosing mapping starts. So the dotted path of the failing key is tracked
//! while deserializing, and the key is then found in the text.

use std::fmt;

use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;

/// A YAML document that does not fit the expected shape.
#[derive(Debug)]
pub struct YamlError {
    /// Dotted path of the offending key (`webhook.max_body`); empty for syntax errors.
    pub path: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    pub message: String,
}

impl YamlError {
    pub fn line(&self) -> Option<usize> {
        self.line
    }
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for YamlError {}

/// Parses `text`; a document with nothing in it (empty, only comments) is
/// read as an empty mapping, so every key takes its default.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    let blank = text.lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#') || line == "---"
    });
    let text = if blank { "{}" } else { text };
    serde_path_to_error::deserialize(serde_yaml::Deserializer::from_str(text)).map_err(|error| {
        let segments: Vec<Segment> = error.path().iter().cloned().collect();
        let path = dotted(&segments);
        let inner = error.into_inner();
        let reader_line = inner.location().map(|l| l.line()).filter(|line| *line > 0);
        YamlError {
            line: locate(text, &segments).or(reader_line),
            message: bare_message(&inner, &path),
            path,
        }
    })
}

fn dotted(segments: &[Segment]) -> String {
    let mut path = String::new();
    for segment in segments {
        match segment {
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Segment::Seq { index } => path.push_str(&format!("[{index}]")),
            Segment::Unknown => {}
        }
    }
    path
}

/// The reader's message without its own path prefix and position suffix,
/// which [`YamlError`] states itself.
fn bare_message(error: &serde_yaml::Error, path: &str) -> String {
    let mut message = error.to_string();
    if let Some(at) = message.rfind(" at line ") {
        message.truncate(at);
    }
    if let Some((prefix, rest)) = message.split_once(": ")
        && !prefix.contains(' ')
        && path.starts_with(prefix)
    {
        return rest.to_string();
    }
    message
}

/// The 1-based line of the key at `segments` in a block-style document:
/// each key is looked for below its parent, deeper than the parent's indent.
/// `None` when the document is written in a style this does not follow.
fn locate(text: &str, segments: &[Segment]) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found: Option<usize> = None;
    let mut parent_indent: Option<usize> = None;
    for segment in segments {
        let start = found.map_or(0, |line| line + 1);
        let within = |line: &str| {
            let indent = line.len() - line.trim_start().len();
            let meaningful = !line.trim().is_empty() && !line.trim_start().starts_with('#');
            (indent, meaningful)
        };
        match segment {
            Segment::Map { key } | Segment::Enum { variant: key } => {
                let mut hit = None;
                for (offset, line) in lines[start.min(lines.len())..].iter().enumerate() {
                    let (indent, meaningful) = within(line);
                    if !meaningful {
                        continue;
                    }
                    if parent_indent.is_some_and(|parent| indent <= parent) {
                        break;
                    }
                    let body = line.trim_start().trim_start_matches("- ");
                    let unquoted = body.trim_start_matches(['"', '\'']);
                    if unquoted.strip_prefix(key.as_str()).is_some_and(|rest| {
                        rest.trim_start_matches(['"', '\''])
                            .trim_start()
                            .starts_with(':')
                    }) {
                        hit = Some((start + offset, indent));
                        break;
                    }
                }
                let (line, indent) = hit?;
                found = Some(line);
                parent_indent = Some(indent);
            }
            Segment::Seq { index } => {
                // Block lists: the index-th `- ` item below the key; flow
                // lists (`[a, b]`) stay on the key's line.
                let items = lines[start.min(lines.len())..]
                    .iter()
                    .enumerate()
                    .take_while(|(_, line)| {
                        let (indent, meaningful) = within(line);
                        !meaningful || parent_indent.is_none_or(|parent| indent >= parent)
                    })
                    .filter(|(_, line)| line.trim_start().starts_with("- ") || line.trim() == "-")
                    .map(|(offset, _)| start + offset)
                    .nth(*index);
                if let Some(line) = items {
                    found = Some(line);
                }
            }
            Segment::Unknown => {}
        }
    }
    found.map(|line| line + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        a: Option<u32>,
        b: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        x: Option<u32>,
        y: Option<Vec<u32>>,
    }

    fn fail(text: &str) -> YamlError {
        from_str::<Doc>(text).expect_err("invalid")
    }

    #[test]
    fn value_errors_point_at_the_key_not_the_mapping() {
        let error = fail("a: 1\nb:\n  # comment\n  x: 2\n  y: [1]\n\n  x2: 3\n");
        assert_eq!(
            (error.path.as_str(), error.line),
            ("b.x2", Some(7)),
            "{error}"
        );
        let error = fail("b:\n  x: 1\n  y: oops\n");
        assert_eq!(
            (error.path.as_str(), error.line),
            ("b.y", Some(3)),
            "{error}"
        );
        let error = fail("b:\n  y:\n    - 1\n    - -5\n");
        assert_eq!(
            (error.path.as_str(), error.line),
            ("b.y[1]", Some(4)),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .starts_with("line 4: b.y[1]: invalid type"),
            "{error}"
        );
    }

    #[test]
    fn syntax_errors_keep_the_readers_line() {
        let error = fail("a: 1\nb: [1\n");
        assert!(error.line.is_some(), "{error}");
    }

    #[test]
    fn blank_documents_are_empty_mappings() {
        let doc: Doc = from_str("# only a comment\n").expect("empty");
        assert!(doc.a.is_none() && doc.b.is_none());
    }
}
