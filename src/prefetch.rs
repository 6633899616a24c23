//! Prefetch → the resources to read, by source.
//!
//! Arrow: CDS Hooks request → **prefetch**. Each of the seven contract keys is either present
//! with a resource or Bundle (used), present with `null` (the EHR has no such data: treated
//! as empty, the source is recorded as unavailable), or absent (to be fetched; without a
//! `fhirServer` the caller answers 412 naming the keys).

use serde_json::{Map, Value};

use crate::facts::DataSource;

/// The resources of the prefetch, borrowed from the request.
#[derive(Debug, Default)]
pub struct Prefetched<'a> {
    /// (source key, resource JSON), in the order sent.
    pub resources: Vec<(DataSource, &'a Value)>,
    /// Keys present with `null`.
    pub unavailable: Vec<DataSource>,
    /// Bundle entries skipped: `OperationOutcome` resources or `search.mode = outcome`.
    pub skipped_outcomes: usize,
}

/// Keys absent from the prefetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingPrefetch {
    pub keys: Vec<&'static str>,
}

pub fn collect(prefetch: &Map<String, Value>) -> Result<Prefetched<'_>, MissingPrefetch> {
    let _ = prefetch;
    todo!("facts helper implements this")
}
