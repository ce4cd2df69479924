//! What `benches/pipeline.rs` needs beside the end-to-end harness it shares
//! with `tests/`: the situations it measures ([`rows`]), the naive
//! integration it compares with ([`naive`]) and the figures it reads
//! ([`measure`]).

pub mod measure;
pub mod naive;
pub mod rows;
