//! Switchboard's Pipedrive connector, and (feature `testkit`) a spec-true fake
//! Pipedrive to test it and the whole service against.
//!
//! Pipedrive differs from HubSpot in ways the connector must absorb: no
//! unique properties (duplicates are prevented by search and the step keys),
//! no search over activities or notes, an owner on every record, and a daily
//! token budget on top of the per-token burst window. The crate keeps all of
//! that here, so core stays free of any CRM's vocabulary.
