//! Switchboard's core: everything between a Ringostat webhook and a CRM
//! connector.
//!
//! # Layout
//!
//! - [`phone`]: `E164`, the only way a client number enters the core.
//! - [`event`]: `CallEvent`, one normalized Ringostat call event.
//! - [`facts`]: what the CRM knows about the client and the employee, in the
//!   rules' vocabulary.
//! - [`plan`]: `Plan` and the closed set of `Action`s the rules can ask for.
//! - [`connector`]: the `Connector` trait a CRM plugin implements, and its errors.
//! - [`rules`]: the integrator's rules (matrix, employees, scripts, tests) that
//!   turn an event and its facts into a plan; loading, hot reload, check, simulate.

pub mod connector;
pub mod event;
pub mod facts;
pub mod phone;
pub mod plan;
pub mod rules;
