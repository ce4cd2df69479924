//! The environment as configuration sees it, and `${VAR}` interpolation.
//!
//! Configuration is read from a snapshot of the environment rather than from
//! `std::env` directly, so that loading is a pure function of (file, snapshot,
//! flags) and tests need not mutate the process environment.
//!
//! In the file, any value may say `${VAR}` or `${VAR:-default}`; `$$` stands
//! for a literal `$`. Secrets may *only* be written as `${VAR}`, which is
//! checked where they are read ([`secret_reference`]).

use std::cell::RefCell;
use std::collections::HashMap;

/// A snapshot of environment variables. A variable set to the empty string
/// counts as unset, as it does for most deployment tools.
#[derive(Debug, Clone, Default)]
pub struct Environment(HashMap<String, String>);

impl Environment {
    /// The current process environment (variables that are not UTF-8 are skipped).
    pub fn from_process() -> Environment {
        Environment(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        )
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Environment {
        Environment(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// What is wrong with a `${...}` reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpolationError {
    #[error("environment variable `{0}` is not set")]
    Unset(String),
    #[error("`${{` without a closing `}}`")]
    Unclosed,
    #[error("`{0}` is not a valid environment variable name")]
    BadName(String),
}

/// Replaces every `${VAR}` / `${VAR:-default}` in `text`; `$$` becomes `$`.
pub fn interpolate(text: &str, env: &Environment) -> Result<String, InterpolationError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(reference) = after.strip_prefix('{') {
            let close = reference.find('}').ok_or(InterpolationError::Unclosed)?;
            let (name, default) = match reference[..close].split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (&reference[..close], None),
            };
            if !is_variable_name(name) {
                return Err(InterpolationError::BadName(name.to_string()));
            }
            match (env.get(name), default) {
                (Some(value), _) => out.push_str(value),
                (None, Some(default)) => out.push_str(default),
                (None, None) => return Err(InterpolationError::Unset(name.to_string())),
            }
            rest = &reference[close + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The variable name when `text` is exactly one `${VAR}` reference, the only
/// form a secret may take in the file.
pub fn secret_reference(text: &str) -> Option<&str> {
    let name = text.trim().strip_prefix("${")?.strip_suffix('}')?;
    is_variable_name(name).then_some(name)
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

thread_local! {
    /// The environment that values read during one [`with_environment`] call
    /// interpolate against. Deserialization is synchronous, so a thread-local
    /// scope is enough to hand it to the field deserializers.
    static SCOPE: RefCell<Option<Environment>> = const { RefCell::new(None) };
}

/// Runs `f` (a deserialization) with `env` as the environment for `${VAR}`.
pub(super) fn with_environment<T>(env: &Environment, f: impl FnOnce() -> T) -> T {
    SCOPE.with(|scope| *scope.borrow_mut() = Some(env.clone()));
    let result = f();
    SCOPE.with(|scope| *scope.borrow_mut() = None);
    result
}

/// Runs `f` with the environment of the enclosing [`with_environment`] (an
/// empty one outside of it).
pub(super) fn in_scope<T>(f: impl FnOnce(&Environment) -> T) -> T {
    SCOPE.with(|scope| match scope.borrow().as_ref() {
        Some(env) => f(env),
        None => f(&Environment::default()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Environment {
        Environment::from_pairs([("PORT", "9000"), ("HOST", "0.0.0.0"), ("EMPTY", "")])
    }

    #[test]
    fn replaces_references_and_keeps_the_rest() {
        let env = env();
        assert_eq!(
            interpolate("${HOST}:${PORT}", &env),
            Ok("0.0.0.0:9000".into())
        );
        assert_eq!(
            interpolate("no references", &env),
            Ok("no references".into())
        );
        assert_eq!(interpolate("cost $5", &env), Ok("cost $5".into()));
        assert_eq!(interpolate("$${HOST}", &env), Ok("${HOST}".into()));
    }

    #[test]
    fn defaults_apply_to_unset_and_empty_variables() {
        let env = env();
        assert_eq!(interpolate("${MISSING:-8080}", &env), Ok("8080".into()));
        assert_eq!(interpolate("${EMPTY:-x}", &env), Ok("x".into()));
        assert_eq!(interpolate("${PORT:-1}", &env), Ok("9000".into()));
    }

    #[test]
    fn errors_name_the_problem() {
        let env = env();
        assert_eq!(
            interpolate("${MISSING}", &env),
            Err(InterpolationError::Unset("MISSING".into()))
        );
        assert_eq!(
            interpolate("${EMPTY}", &env),
            Err(InterpolationError::Unset("EMPTY".into()))
        );
        assert_eq!(
            interpolate("${PORT", &env),
            Err(InterpolationError::Unclosed)
        );
        assert_eq!(
            interpolate("${1X}", &env),
            Err(InterpolationError::BadName("1X".into()))
        );
    }

    #[test]
    fn a_secret_is_exactly_one_reference() {
        assert_eq!(secret_reference("${HUBSPOT_TOKEN}"), Some("HUBSPOT_TOKEN"));
        assert_eq!(secret_reference(" ${A_1} "), Some("A_1"));
        assert_eq!(secret_reference("pat-na1-abc"), None);
        assert_eq!(secret_reference("x${TOKEN}"), None);
        assert_eq!(secret_reference("${TOKEN:-literal}"), None);
    }
}
