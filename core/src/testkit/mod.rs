//! The connector conformance suite (feature `testkit`).
