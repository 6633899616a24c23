//! The skimmed request path (`skim::skim`, used by the HTTP hook handler) gives every fixture
//! exactly the response of the full parse (`serde_json::from_slice` → schema → request →
//! pipeline), uuids aside: skipping the Observations the rules never read, and reading the
//! kept resources straight from their text, changes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use distal_dvt_cds::cds_schema::Schemas;
use distal_dvt_cds::config::Config;
use distal_dvt_cds::hook_request::HookRequest;
use distal_dvt_cds::prefetch::RawEntry;
use distal_dvt_cds::{pipeline, skim};
use serde_json::Value;
use time::macros::datetime;

fn requests(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("fixture dir").flatten() {
        let p = entry.path();
        if p.is_dir() {
            requests(&p, out);
        } else if p.to_string_lossy().ends_with(".request.json") {
            out.push(p);
        }
    }
}

/// The response as JSON with every `uuid` member removed (fresh per call).
fn without_uuids(mut v: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.remove("uuid");
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}

fn respond(
    config: &Config,
    schemas: &Schemas,
    body: &Value,
    entries: BTreeMap<String, Vec<RawEntry>>,
) -> Result<Value, String> {
    schemas.check_request(body).map_err(|e| e.to_string())?;
    let mut request = HookRequest::parse(body).map_err(|e| e.to_string())?;
    request.prefetch_entries = entries;
    let service = config
        .services
        .iter()
        .find(|s| s.hook == request.hook)
        .ok_or("no service")?;
    let outcome = pipeline::run(config, service, &request, datetime!(2026-11-20 12:00 UTC))
        .map_err(|e| e.to_string())?;
    Ok(without_uuids(
        serde_json::to_value(&outcome.response).map_err(|e| e.to_string())?,
    ))
}

#[test]
fn skimmed_and_full_requests_answer_alike() {
    let config = Config::load(&Config::default_dir()).expect("config");
    let schemas = Schemas::compile().expect("schemas");
    let mut files = Vec::new();
    requests(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fhir-fixtures"),
        &mut files,
    );
    assert!(files.len() >= 100, "fixtures found: {}", files.len());
    let mut skipped = 0;
    for file in &files {
        let bytes = std::fs::read(file).expect("fixture");
        let full: Value = serde_json::from_slice(&bytes).expect("json");
        let skimmed = skim::skim(&bytes, &config.rules)
            .unwrap_or_else(|| panic!("{}: not skimmed", file.display()));
        skipped += skimmed.skipped_entries;
        assert_eq!(
            respond(&config, &schemas, &skimmed.body, skimmed.entries),
            respond(&config, &schemas, &full, BTreeMap::new()),
            "{}",
            file.display()
        );
    }
    // Some fixtures carry Observations the rules do not read (vital signs, other labs).
    assert!(skipped > 0);
}
