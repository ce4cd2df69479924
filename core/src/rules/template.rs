//! Templates: text with placeholders, such as `"Call from {phone}"`.
//!
//! A placeholder names a value (`{utm_source}`), optionally with a fallback
//! used when the event has no such value (`{employee_name|an unknown
//! employee}`), or calls a Rhai function (`{routing::deal_name}`). `{{` and
//! `}}` stand for literal braces. Templates are parsed when rules load, so an
//! unknown name is a load error with a hint, never an empty string in the CRM.

use std::fmt;

use super::diagnostic::did_you_mean;
use super::evaluate::{EvalError, Evaluation};
use super::script::ScriptRef;
use super::situation::Name;

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Template {
    source: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Value {
        name: Name,
        fallback: Option<String>,
    },
    Script {
        call: ScriptRef,
        fallback: Option<String>,
    },
}

/// Why a template cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TemplateError {
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Template {
    /// Text used as is: no placeholders (values that scripts return).
    pub(crate) fn literal(text: &str) -> Template {
        Template {
            source: text.to_string(),
            parts: vec![Part::Text(text.to_string())],
        }
    }

    pub(crate) fn parse(source: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut chars = source.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek().map(|(_, c)| *c) == Some('}') => {
                    chars.next();
                    text.push('}');
                }
                '}' => {
                    return Err(TemplateError {
                        message: format!("unmatched `}}` at character {} of {source:?}", at + 1),
                        hint: Some("write `}}` for a literal brace".to_string()),
                    });
                }
                '{' => {
                    let mut inner = String::new();
                    let mut closed = false;
                    for (_, c) in chars.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        inner.push(c);
                    }
                    if !closed {
                        return Err(TemplateError {
                            message: format!("unclosed `{{` in {source:?}"),
                            hint: Some(
                                "close the placeholder with `}`, or write `{{` for a literal brace"
                                    .to_string(),
                            ),
                        });
                    }
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(placeholder(&inner)?);
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Template {
            source: source.to_string(),
            parts,
        })
    }

    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// The Rhai functions the template calls, for load-time checks.
    pub(crate) fn script_calls(&self) -> impl Iterator<Item = &ScriptRef> {
        self.parts.iter().filter_map(|part| match part {
            Part::Script { call, .. } => Some(call),
            _ => None,
        })
    }

    pub(crate) fn render(&self, evaluation: &mut Evaluation<'_>) -> Result<String, EvalError> {
        if let [Part::Text(text)] = self.parts.as_slice() {
            return Ok(text.clone());
        }
        let mut out = String::with_capacity(self.source.len() + 16);
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Value { name, fallback } => {
                    let value = evaluation.situation.value(name);
                    match value.as_ref().map(|v| v.to_text()) {
                        Some(text) if !text.is_empty() => out.push_str(&text),
                        _ => out.push_str(fallback.as_deref().unwrap_or("")),
                    }
                }
                Part::Script { call, fallback } => {
                    let value = evaluation.call_for_text(call)?;
                    match value {
                        Some(text) if !text.is_empty() => out.push_str(&text),
                        _ => out.push_str(fallback.as_deref().unwrap_or("")),
                    }
                }
            }
        }
        Ok(out)
    }
}

fn placeholder(inner: &str) -> Result<Part, TemplateError> {
    let (name, fallback) = match inner.split_once('|') {
        Some((name, fallback)) => (name.trim(), Some(fallback.to_string())),
        None => (inner.trim(), None),
    };
    if name.is_empty() {
        return Err(TemplateError {
            message: "empty placeholder `{}`".to_string(),
            hint: Some("name a value, e.g. {phone}; write `{{` for a literal brace".to_string()),
        });
    }
    if name.contains("::") {
        let call = ScriptRef::parse(name).map_err(|message| TemplateError {
            message,
            hint: Some(
                "a script placeholder is {script::function}, e.g. {routing::deal_name}".to_string(),
            ),
        })?;
        return Ok(Part::Script { call, fallback });
    }
    match Name::resolve(name) {
        Some(name) => Ok(Part::Value { name, fallback }),
        None => Err(TemplateError {
            message: format!("unknown placeholder `{{{name}}}`"),
            hint: Some(did_you_mean(name, Name::all()).unwrap_or_else(|| {
                "use a field name from the guide (phone, employee_name, utm_source, ...) or extra.NAME for a payload field".to_string()
            })),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_placeholders_fallbacks_scripts_and_escapes() {
        let template =
            Template::parse("Call from {phone} ({utm_source|direct}) {{x}} {routing::tag}")
                .expect("valid");
        assert_eq!(template.script_calls().count(), 1);
        assert_eq!(
            template.source(),
            "Call from {phone} ({utm_source|direct}) {{x}} {routing::tag}"
        );
    }

    #[test]
    fn rejects_broken_templates_with_hints() {
        let cases = [
            ("Call from {phone", "unclosed `{`"),
            ("Call from phone}", "unmatched `}`"),
            ("Call {}", "empty placeholder"),
            ("Call from {phnoe}", "unknown placeholder `{phnoe}`"),
            ("{routing::}", "script reference"),
        ];
        for (source, expected) in cases {
            let error = Template::parse(source).expect_err(source);
            assert!(
                error.message.contains(expected),
                "{source}: {}",
                error.message
            );
            assert!(error.hint.is_some(), "{source} has a hint");
        }
        let typo = Template::parse("{phnoe}").expect_err("typo");
        assert_eq!(typo.hint.as_deref(), Some("did you mean `phone`?"));
    }
}
