//! Switchboard's core: everything between a Ringostat webhook and a CRM
//! connector.
//!
//! # Layout
//!
//! - [`config`]: `Settings`, loaded from file, environment and flags, validated.
//! - [`phone`]: `E164`, the only way a client number enters the core.
//! - [`event`]: `CallEvent`, one normalized Ringostat call event.
//! - [`facts`]: what the CRM knows about the client and the employee, in the
//!   rules' vocabulary.
//! - [`plan`]: `Plan` and the closed set of `Action`s the rules can ask for.
//! - [`connector`]: the `Connector` trait a CRM plugin implements, and its errors.
//! - [`cache`]: the lookup cache: read-your-writes and single flight in front of the CRM.
//! - `testkit` (feature `testkit`): the conformance suite every connector passes.
//! - [`intake`]: a Ringostat webhook request into a `CallEvent` and its raw payload.
//! - [`store`]: the durable inbox (`Store` trait, SQLite with group commit).
//! - [`server`]: the HTTP routes: webhook, health, readiness, operators' API.
//! - [`pipeline`]: workers that claim events, gather facts, run the rules and
//!   carry the plan out through the connector, exactly once per step.
//! - [`metrics`]: the Prometheus exporter behind `GET /metrics`.
//! - [`startup`]: `Application::build(settings, connector)`, everything wired from one value.
//! - [`ringostat`]: Ringostat's call log: `switchboard backfill` and the
//!   reconciliation that recovers calls whose webhook never arrived.
//! - [`presence`]: a running service says so in its store.
//! - [`rules`]: the integrator's rules (matrix, employees, scripts, tests) that
//!   turn an event and its facts into a plan; loading, hot reload, check, simulate.

pub mod cache;
pub mod config;
pub mod connector;
pub mod event;
pub mod facts;
pub mod intake;
pub mod metrics;
pub mod phone;
pub mod pipeline;
pub mod plan;
pub mod presence;
pub mod ringostat;
pub mod rules;
pub mod server;
pub mod startup;
pub mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
