//! Prefetch → the resources to read, by source.
//!
//! Arrow: CDS Hooks request → **prefetch**. Each of the seven contract keys is either present
//! with a resource or Bundle (used), present with `null` (the EHR has no such data: treated
//! as empty, the source is recorded as unavailable), or absent (to be fetched; without a
//! `fhirServer` the caller answers 412 naming the keys). The fallback fetch (`crate::fetch`)
//! runs before this, inserts what it fetched into the prefetch map, and reports the keys it
//! could not deliver as [`FetchGap`]s: those are absent but not missing.

use std::collections::BTreeMap;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::facts::{DataSource, FetchGap, FetchProblem};

/// A prefetch Bundle entry as the skim kept it (`crate::skim`, the HTTP fast path): its
/// resource still the raw JSON text sent, read only by the reader of its type. A Bundle whose
/// entries are kept this way (`HookRequest::prefetch_entries`) has no `entry` in its `Value`.
#[derive(Debug, Clone)]
pub struct RawEntry {
    /// `search.mode` is `outcome`: an outcome entry, counted and never read.
    pub outcome_mode: bool,
    /// `resource`, when it is a JSON object.
    pub resource: Option<RawResource>,
}

/// A resource as sent, with its `resourceType` (when that is a string).
#[derive(Debug, Clone)]
pub struct RawResource {
    pub resource_type: Option<String>,
    pub json: Box<RawValue>,
}

/// One resource to read: parsed JSON (the full parse, the fallback fetch) or the raw text the
/// skim kept. Both read alike (`facts::extract`).
#[derive(Debug, Clone, Copy)]
pub enum ResourceJson<'a> {
    Parsed(&'a Value),
    Raw {
        resource_type: Option<&'a str>,
        json: &'a RawValue,
    },
}

impl<'a> ResourceJson<'a> {
    /// `resourceType`, when it is a string.
    pub fn resource_type(&self) -> Option<&'a str> {
        match self {
            ResourceJson::Parsed(v) => v.get("resourceType").and_then(Value::as_str),
            ResourceJson::Raw { resource_type, .. } => *resource_type,
        }
    }
}

/// The resources of the prefetch, borrowed from the request.
#[derive(Debug, Default)]
pub struct Prefetched<'a> {
    /// (source key, resource JSON), in the order sent.
    pub resources: Vec<(DataSource, ResourceJson<'a>)>,
    /// Keys present with `null`.
    pub unavailable: Vec<DataSource>,
    /// Bundle entries skipped: `OperationOutcome` resources or `search.mode = outcome`.
    pub skipped_outcomes: usize,
    /// What the fallback fetch could not deliver (its facts unknown), or delivered in part.
    pub fetch_gaps: Vec<FetchGap>,
}

/// Keys absent from the prefetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingPrefetch {
    pub keys: Vec<&'static str>,
}

pub fn collect(prefetch: &Map<String, Value>) -> Result<Prefetched<'_>, MissingPrefetch> {
    collect_after_fetch(prefetch, &NO_RAW_ENTRIES, &[])
}

static NO_RAW_ENTRIES: BTreeMap<String, Vec<RawEntry>> = BTreeMap::new();

/// [`collect`] after the fallback fetch: a key absent from `prefetch` whose fetch failed
/// (a [`FetchProblem::Failed`] gap) is not missing; its facts are unknown.
/// `raw_entries`: the entries of the Bundles the skim kept raw, by prefetch key.
pub fn collect_after_fetch<'a>(
    prefetch: &'a Map<String, Value>,
    raw_entries: &'a BTreeMap<String, Vec<RawEntry>>,
    fetch_gaps: &[FetchGap],
) -> Result<Prefetched<'a>, MissingPrefetch> {
    let failed = |source: DataSource| {
        fetch_gaps
            .iter()
            .any(|g| g.source == source && matches!(g.problem, FetchProblem::Failed(_)))
    };
    let keys: Vec<&'static str> = DataSource::ALL
        .into_iter()
        .filter(|source| !prefetch.contains_key(source.key()) && !failed(*source))
        .map(DataSource::key)
        .collect();
    if !keys.is_empty() {
        return Err(MissingPrefetch { keys });
    }
    let mut out = Prefetched {
        fetch_gaps: fetch_gaps.to_vec(),
        ..Prefetched::default()
    };
    for source in DataSource::ALL {
        match prefetch.get(source.key()) {
            Some(value @ Value::Object(resource)) => match resource_type(resource) {
                Some("Bundle") => match raw_entries.get(source.key()) {
                    Some(entries) => collect_raw_bundle(source, entries, &mut out),
                    None => collect_bundle(source, resource, &mut out),
                },
                // The EHR answered the key with an error instead of data: nothing to read
                // (contract, "Prefetch keys": an outcome is skipped and counted).
                Some("OperationOutcome") => {
                    out.skipped_outcomes += 1;
                    out.unavailable.push(source);
                }
                _ => out.resources.push((source, ResourceJson::Parsed(value))),
            },
            // `null` is "the EHR has no such data"; a string or number is no data either,
            // and must not sink the request.
            Some(_) => out.unavailable.push(source),
            None => {}
        }
    }
    Ok(out)
}

fn resource_type(resource: &Map<String, Value>) -> Option<&str> {
    resource.get("resourceType").and_then(Value::as_str)
}

fn collect_bundle<'a>(
    source: DataSource,
    bundle: &'a Map<String, Value>,
    out: &mut Prefetched<'a>,
) {
    let Some(entries) = bundle.get("entry").and_then(Value::as_array) else {
        return;
    };
    for entry in entries {
        let outcome_mode = entry
            .pointer("/search/mode")
            .and_then(Value::as_str)
            .is_some_and(|mode| mode == "outcome");
        let resource = entry.get("resource").filter(|r| r.is_object());
        collect_entry(
            source,
            outcome_mode,
            resource.map(ResourceJson::Parsed),
            out,
        );
    }
}

/// [`collect_bundle`] of entries the skim kept raw.
fn collect_raw_bundle<'a>(source: DataSource, entries: &'a [RawEntry], out: &mut Prefetched<'a>) {
    for entry in entries {
        let resource = entry.resource.as_ref().map(|r| ResourceJson::Raw {
            resource_type: r.resource_type.as_deref(),
            json: &r.json,
        });
        collect_entry(source, entry.outcome_mode, resource, out);
    }
}

/// One Bundle entry (`resource`: when it is an object): an outcome entry (`search.mode =
/// outcome`, or an OperationOutcome) is skipped and counted; any other resource is read.
fn collect_entry<'a>(
    source: DataSource,
    outcome_mode: bool,
    resource: Option<ResourceJson<'a>>,
    out: &mut Prefetched<'a>,
) {
    let outcome_resource = resource
        .and_then(|r| r.resource_type())
        .is_some_and(|t| t == "OperationOutcome");
    if outcome_mode || outcome_resource {
        out.skipped_outcomes += 1;
    } else if let Some(resource) = resource {
        out.resources.push((source, resource));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn all_null() -> Map<String, Value> {
        DataSource::ALL
            .into_iter()
            .map(|s| (s.key().to_owned(), Value::Null))
            .collect()
    }

    #[test]
    fn absent_keys_are_listed_in_contract_order() {
        let mut prefetch = all_null();
        prefetch.remove("serviceRequests");
        prefetch.remove("patient");
        prefetch.remove("observations");
        let err = collect(&prefetch).unwrap_err();
        assert_eq!(err.keys, vec!["patient", "observations", "serviceRequests"]);
    }

    #[test]
    fn empty_prefetch_misses_all_seven() {
        let err = collect(&Map::new()).unwrap_err();
        assert_eq!(err.keys.len(), 7);
    }

    #[test]
    fn null_keys_are_unavailable() {
        let prefetch = all_null();
        let out = collect(&prefetch).unwrap();
        assert!(out.resources.is_empty());
        assert_eq!(out.unavailable, DataSource::ALL.to_vec());
        assert_eq!(out.skipped_outcomes, 0);
    }

    #[test]
    fn a_single_resource_is_used() {
        let mut prefetch = all_null();
        prefetch.insert(
            "patient".into(),
            json!({"resourceType": "Patient", "id": "p1"}),
        );
        let out = collect(&prefetch).unwrap();
        assert_eq!(out.resources.len(), 1);
        assert_eq!(out.resources[0].0, DataSource::Patient);
        assert!(matches!(out.resources[0].1, ResourceJson::Parsed(r) if r["id"] == "p1"));
        assert!(!out.unavailable.contains(&DataSource::Patient));
    }

    #[test]
    fn bundle_entries_outcomes_skipped_and_counted() {
        let mut prefetch = all_null();
        prefetch.insert(
            "conditions".into(),
            json!({
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [
                    {"resource": {"resourceType": "Condition", "id": "c1"}, "search": {"mode": "match"}},
                    {"resource": {"resourceType": "OperationOutcome", "issue": []}},
                    {"resource": {"resourceType": "Condition", "id": "c2"}, "search": {"mode": "outcome"}},
                    {"fullUrl": "urn:uuid:no-resource"},
                    {"resource": "not an object"},
                    {"resource": {"resourceType": "Condition", "id": "c3"}}
                ]
            }),
        );
        let out = collect(&prefetch).unwrap();
        let ids: Vec<&str> = out
            .resources
            .iter()
            .filter_map(|(_, r)| match r {
                ResourceJson::Parsed(r) => r["id"].as_str(),
                ResourceJson::Raw { .. } => None,
            })
            .collect();
        assert_eq!(ids, vec!["c1", "c3"]);
        assert!(
            out.resources
                .iter()
                .all(|(s, _)| *s == DataSource::Conditions)
        );
        assert_eq!(out.skipped_outcomes, 2);
        assert!(!out.unavailable.contains(&DataSource::Conditions));
    }

    #[test]
    fn bundle_without_entries_is_empty_not_unavailable() {
        let mut prefetch = all_null();
        prefetch.insert(
            "encounters".into(),
            json!({"resourceType": "Bundle", "type": "searchset", "total": 0}),
        );
        prefetch.insert(
            "procedures".into(),
            json!({"resourceType": "Bundle", "entry": "garbage"}),
        );
        let out = collect(&prefetch).unwrap();
        assert!(out.resources.is_empty());
        assert!(!out.unavailable.contains(&DataSource::Encounters));
        assert!(!out.unavailable.contains(&DataSource::Procedures));
    }

    #[test]
    fn non_object_values_are_unavailable() {
        let mut prefetch = all_null();
        prefetch.insert("patient".into(), json!("Patient/123"));
        prefetch.insert("conditions".into(), json!(42));
        prefetch.insert(
            "observations".into(),
            json!([{"resourceType": "Observation"}]),
        );
        let out = collect(&prefetch).unwrap();
        assert!(out.resources.is_empty());
        assert_eq!(out.unavailable.len(), 7);
    }

    #[test]
    fn top_level_operation_outcome_is_counted_and_unavailable() {
        let mut prefetch = all_null();
        prefetch.insert(
            "medications".into(),
            json!({"resourceType": "OperationOutcome", "issue": []}),
        );
        let out = collect(&prefetch).unwrap();
        assert_eq!(out.skipped_outcomes, 1);
        assert!(out.unavailable.contains(&DataSource::Medications));
    }

    #[test]
    fn keys_whose_fetch_failed_are_not_missing() {
        use crate::facts::{FetchFailure, FetchShortfall};
        let mut prefetch = all_null();
        prefetch.remove("observations");
        prefetch.remove("conditions");
        let gaps = [
            FetchGap {
                source: DataSource::Observations,
                problem: FetchProblem::Failed(FetchFailure::Unauthorized),
            },
            FetchGap {
                source: DataSource::Patient,
                problem: FetchProblem::Incomplete(FetchShortfall::PageLimit),
            },
        ];
        // `conditions` is absent and was not reported: still missing.
        let err = collect_after_fetch(&prefetch, &NO_RAW_ENTRIES, &gaps).unwrap_err();
        assert_eq!(err.keys, vec!["conditions"]);
        prefetch.insert("conditions".into(), json!({"resourceType": "Bundle"}));
        let out = collect_after_fetch(&prefetch, &NO_RAW_ENTRIES, &gaps).unwrap();
        assert_eq!(out.fetch_gaps, gaps.to_vec());
        // Failed keys are not "the EHR sent null".
        assert!(!out.unavailable.contains(&DataSource::Observations));
        // An incomplete key must still be present in the map.
        prefetch.remove("patient");
        let err = collect_after_fetch(&prefetch, &NO_RAW_ENTRIES, &gaps).unwrap_err();
        assert_eq!(err.keys, vec!["patient"]);
    }

    #[test]
    fn extra_keys_are_ignored() {
        let mut prefetch = all_null();
        prefetch.insert(
            "somethingElse".into(),
            json!({"resourceType": "Patient", "id": "x"}),
        );
        let out = collect(&prefetch).unwrap();
        assert!(out.resources.is_empty());
    }
}
