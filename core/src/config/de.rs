//! How the configuration file's values are read: every scalar may use
//! `${VAR}` interpolation and is then parsed by its type's `FromStr`, so a
//! duration, size, address or time zone is validated where it is read and
//! its error points at its line. Secrets take only the `${VAR}` form.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use super::environment::{in_scope, interpolate, secret_reference};
use super::secret::Secret;

/// Reads a scalar, interpolates it and parses it with `T::from_str`.
pub(super) fn parsed<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    Parsed::<T>::deserialize(deserializer).map(|p| p.0)
}

/// Reads a list of scalars (or a single one), each as [`parsed`].
pub(super) fn parsed_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    deserializer.deserialize_any(ListVisitor(PhantomData))
}

/// Reads a secret, which must be written as `${VAR}`; a literal is an error
/// that does not repeat the literal.
pub(super) fn secret<'de, D>(deserializer: D) -> Result<Option<Secret>, D::Error>
where
    D: Deserializer<'de>,
{
    let text = deserializer.deserialize_any(ScalarVisitor)?;
    let Some(name) = secret_reference(&text) else {
        return Err(de::Error::custom(
            "a secret cannot be written in the file: reference an environment variable instead, like `${SWITCHBOARD_WEBHOOK_TOKEN}`",
        ));
    };
    in_scope(|env| match env.get(name) {
        Some(value) => Ok(Secret::new(value)),
        None => Err(de::Error::custom(format_args!(
            "environment variable `{name}` is not set"
        ))),
    })
}

struct Parsed<T>(T);

impl<'de, T> Deserialize<'de> for Parsed<T>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = deserializer.deserialize_any(ScalarVisitor)?;
        parse_text(&text).map(Parsed)
    }
}

fn parse_text<T, E>(text: &str) -> Result<T, E>
where
    T: FromStr,
    T::Err: fmt::Display,
    E: de::Error,
{
    let text = in_scope(|env| interpolate(text, env)).map_err(E::custom)?;
    text.trim().parse::<T>().map_err(E::custom)
}

/// Any YAML scalar as text, so `8`, `"8"` and `${WORKERS}` all read alike.
struct ScalarVisitor;

impl Visitor<'_> for ScalarVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a single value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
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
}

struct ListVisitor<T>(PhantomData<T>);

impl<'de, T> Visitor<'de> for ListVisitor<T>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of values")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<T>, E> {
        Ok(vec![parse_text(v)?])
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<T>, E> {
        Ok(Vec::new())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut items = Vec::new();
        while let Some(Parsed(item)) = seq.next_element::<Parsed<T>>()? {
            items.push(item);
        }
        Ok(items)
    }
}

/// Reads a duration written like `30s`, `4h` or `1h 30m`.
pub(super) fn duration<'de, D>(deserializer: D) -> Result<std::time::Duration, D::Error>
where
    D: Deserializer<'de>,
{
    parsed::<D, humantime::Duration>(deserializer).map(Into::into)
}

/// Reads an optional scalar: absent or `null` is `None`.
pub(super) fn parsed_option<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    Option::<Parsed<T>>::deserialize(deserializer).map(|p| p.map(|p| p.0))
}

/// Reads a duration, or `off` (also `never`, `false`) for none at all.
pub(super) fn duration_or_off<'de, D>(
    deserializer: D,
) -> Result<Option<std::time::Duration>, D::Error>
where
    D: Deserializer<'de>,
{
    let text = deserializer.deserialize_any(ScalarVisitor)?;
    let text = in_scope(|env| interpolate(&text, env)).map_err(de::Error::custom)?;
    match text.trim().to_ascii_lowercase().as_str() {
        "off" | "never" | "false" => Ok(None),
        other => other
            .parse::<humantime::Duration>()
            .map(|d| Some(d.into()))
            .map_err(|e| de::Error::custom(format_args!("{e} (or `off`)"))),
    }
}
