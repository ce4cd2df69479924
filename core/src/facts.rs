//! Facts: what the CRM knows about the people in a call, in the words the
//! rules use (`client: existing`, `employee: unknown`, ...).
//!
//! The executor gathers facts through the lookup cache before the rules run;
//! `simulate` and rule tests state them directly. Rules read facts, never the
//! CRM, which keeps them pure and testable.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::connector::{ContactRecord, DealRecord, OwnerId};

/// Is the caller a client the CRM already has?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientFact {
    /// No contact has this number.
    #[default]
    New,
    /// A contact has this number.
    Existing,
    /// The event has no usable client number (hidden, SIP-only, invalid).
    None,
}

/// Is the employee who took part in the call mapped to a CRM owner?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmployeeFact {
    /// Mapped in `employees.yaml` to an owner that exists in the CRM.
    Known,
    /// Someone took part but maps to no owner (or to an owner that is gone).
    Unknown,
    /// No employee took part (a missed call).
    #[default]
    None,
}

/// Is the employee the client's responsible manager (owner of the open deal,
/// else of the contact)?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponsibleFact {
    /// The employee is the responsible manager.
    Employee,
    /// Someone else is.
    Other,
    /// Neither the open deal nor the contact has an owner (or no client).
    #[default]
    None,
}

/// A fact value that is not in the vocabulary, e.g. `client=maybe`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{fact} cannot be {value:?}; expected one of: {expected}")]
pub struct BadFactValue {
    pub fact: &'static str,
    pub value: String,
    pub expected: String,
}

macro_rules! fact_vocabulary {
    ($ty:ident, $fact:literal, { $($variant:ident => $word:literal),+ $(,)? }) => {
        impl $ty {
            pub const WORDS: &'static [&'static str] = &[$($word),+];

            pub fn as_str(&self) -> &'static str {
                match self { $($ty::$variant => $word),+ }
            }
        }

        impl FromStr for $ty {
            type Err = BadFactValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim() {
                    $($word => Ok($ty::$variant),)+
                    other => Err(BadFactValue {
                        fact: $fact,
                        value: other.to_string(),
                        expected: $ty::WORDS.join(", "),
                    }),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

fact_vocabulary!(ClientFact, "client", { New => "new", Existing => "existing", None => "none" });
fact_vocabulary!(EmployeeFact, "employee", { Known => "known", Unknown => "unknown", None => "none" });
fact_vocabulary!(ResponsibleFact, "responsible", { Employee => "employee", Other => "other", None => "none" });

/// Everything the rules may know about the CRM side of one event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    pub client: ClientFact,
    pub open_deal: bool,
    pub employee: EmployeeFact,
    pub responsible: ResponsibleFact,
    /// CRM owner of the employee, when `employee` is `known`.
    pub employee_owner: Option<OwnerId>,
    /// Owner of the open deal, else of the contact.
    pub responsible_owner: Option<OwnerId>,
    /// The client's contact, when `client` is `existing`.
    pub contact: Option<ContactRecord>,
    /// The client's open deal, when `open_deal` is set.
    pub deal: Option<DealRecord>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fact_words_round_trip() {
        for word in ["new", "existing", "none"] {
            let fact: ClientFact = word.parse().expect("known word");
            assert_eq!(fact.as_str(), word);
        }
        for word in ["known", "unknown", "none"] {
            let fact: EmployeeFact = word.parse().expect("known word");
            assert_eq!(fact.to_string(), word);
        }
        for word in ["employee", "other", "none"] {
            let fact: ResponsibleFact = word.parse().expect("known word");
            assert_eq!(fact.as_str(), word);
        }
        let err = "maybe".parse::<ClientFact>().expect_err("not a word");
        assert_eq!(
            err.to_string(),
            "client cannot be \"maybe\"; expected one of: new, existing, none"
        );
    }
}
