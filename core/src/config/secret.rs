//! Secrets (webhook token, admin token, HubSpot token, Ringostat API key) in
//! a type that cannot leak by accident: its `Debug` and `Display` never show
//! the value, and comparing it with what a client sent takes the same time
//! whatever matched.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A secret value. Read it with [`Secret::expose`] only where it is sent on
/// (an `Authorization` header to the CRM), compare with [`Secret::matches`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value; `None` when it is empty, because an empty secret would
    /// accept an empty token.
    pub fn new(value: impl Into<String>) -> Option<Secret> {
        let value = value.into();
        (!value.is_empty()).then_some(Secret(value))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison. Both sides are hashed first so that neither
    /// the content nor the length of the secret shows in the timing.
    pub fn matches(&self, candidate: &str) -> bool {
        let expected = Sha256::digest(self.0.as_bytes());
        let given = Sha256::digest(candidate.as_bytes());
        expected.as_slice().ct_eq(given.as_slice()).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shows_its_value() {
        let secret = Secret::new("s3cr3t-value").expect("not empty");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert_eq!(format!("{:?}", Some(secret)), "Some(Secret(***))");
    }

    #[test]
    fn matches_only_the_same_value() {
        let secret = Secret::new("s3cr3t-value").expect("not empty");
        assert!(secret.matches("s3cr3t-value"));
        assert!(!secret.matches("s3cr3t-valu"));
        assert!(!secret.matches("s3cr3t-value "));
        assert!(!secret.matches(""));
    }

    #[test]
    fn an_empty_value_is_no_secret() {
        assert!(Secret::new("").is_none());
    }
}
