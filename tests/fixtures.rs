//! Every scenario in `fhir-fixtures/` runs through the same pipeline as the server
//! (request parsing → prefetch → facts → assessment → cards) and is compared with the
//! expected outcome beside it (`*.expected.json`). All mismatches are reported together.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use distal_dvt_cds::config::Config;
use distal_dvt_cds::hook_request::HookRequest;
use distal_dvt_cds::pipeline;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn fixture_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("fixture dir")
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            if p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('_'))
            {
                continue;
            }
            fixture_files(&p, out);
        } else if p.to_string_lossy().ends_with(".request.json") {
            out.push(p);
        }
    }
}

fn read_json(p: &Path) -> Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn str_set(v: Option<&Value>) -> BTreeSet<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// "create MedicationRequest apixaban", "create ServiceRequest duplex", "delete MedicationRequest/x".
fn summarize_action(action: &Value, config: &Config) -> String {
    let kind = action["type"].as_str().unwrap_or("?");
    let resource = &action["resource"];
    match kind {
        "delete" => format!("delete {}", action["resourceId"].as_str().unwrap_or("?")),
        "update" => format!(
            "update {}/{}",
            resource["resourceType"].as_str().unwrap_or("?"),
            resource["id"].as_str().unwrap_or("?")
        ),
        _ => {
            let rt = resource["resourceType"].as_str().unwrap_or("?");
            let what = match rt {
                "MedicationRequest" => resource["medicationCodeableConcept"]["coding"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find_map(|c| {
                        c["code"]
                            .as_str()
                            .and_then(|code| config.rules.medications.by_rxnorm(code))
                    })
                    .map(|i| i.name().to_owned())
                    .unwrap_or_else(|| "?".to_owned()),
                "ServiceRequest" => {
                    let duplex = resource["code"]["coding"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|c| {
                            let code = distal_dvt_cds::config::Code::new(
                                c["system"].as_str().unwrap_or(""),
                                c["code"].as_str().unwrap_or(""),
                            );
                            config.rules.duplex.is_duplex(&code)
                        });
                    if duplex {
                        "duplex".to_owned()
                    } else {
                        "?".to_owned()
                    }
                }
                _ => "?".to_owned(),
            };
            format!("{kind} {rt} {what}")
        }
    }
}

fn laterality(sr: &Value) -> Option<&'static str> {
    let codes: Vec<&str> = sr["bodySite"]
        .as_array()?
        .iter()
        .flat_map(|b| b["coding"].as_array().into_iter().flatten())
        .filter_map(|c| c["code"].as_str())
        .collect();
    if codes.contains(&"51440002") {
        Some("both")
    } else if codes.contains(&"24028007") {
        Some("right")
    } else if codes.contains(&"7771000") {
        Some("left")
    } else {
        None
    }
}

/// Compare one actual card with its expectation; push a line per difference.
fn compare_card(
    name: &str,
    actual: &Value,
    expected: &Value,
    config: &Config,
    errors: &mut Vec<String>,
) {
    let ext = &actual["extension"]["dvt-cds"];
    let mut diff = |what: &str, a: String, e: String| {
        if a != e {
            errors.push(format!("{name}: {what}: got {a}, expected {e}"));
        }
    };
    diff(
        "indicator",
        actual["indicator"].to_string(),
        expected["indicator"].to_string(),
    );
    for key in ["recommendation", "bleedingRisk", "check"] {
        if let Some(e) = expected.get(key) {
            diff(key, ext[key].to_string(), e.to_string());
        }
    }
    for key in [
        "extensionRiskFactors",
        "bleedingRiskFactors",
        "specialPopulations",
        "progressionModifiers",
        "missingData",
        "orders",
    ] {
        if expected.get(key).is_some() {
            diff(
                key,
                format!("{:?}", str_set(ext.get(key))),
                format!("{:?}", str_set(expected.get(key))),
            );
        }
    }
    if let Some(e) = expected.get("muscularOnly") {
        diff(
            "muscularOnly",
            ext.get("muscularOnly")
                .cloned()
                .unwrap_or(Value::Null)
                .to_string(),
            e.to_string(),
        );
    }
    if let Some(e) = expected.get("suggestions").and_then(Value::as_array) {
        let got: Vec<Value> = actual["suggestions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                serde_json::json!({
                    "isRecommended": s["isRecommended"].as_bool().unwrap_or(false),
                    "actions": s["actions"].as_array().into_iter().flatten()
                        .map(|a| summarize_action(a, config)).collect::<Vec<_>>(),
                })
            })
            .collect();
        let want: Vec<Value> = e
            .iter()
            .map(|s| {
                serde_json::json!({
                    "isRecommended": s["isRecommended"].as_bool().unwrap_or(false),
                    "actions": s["actions"].clone(),
                })
            })
            .collect();
        diff(
            "suggestions",
            Value::Array(got).to_string(),
            Value::Array(want).to_string(),
        );
    }
    let duplex: Vec<&Value> = actual["suggestions"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["actions"].as_array().into_iter().flatten())
        .map(|a| &a["resource"])
        .filter(|r| r["resourceType"] == "ServiceRequest")
        .collect();
    if let Some(e) = expected.get("duplexDue") {
        let got: Vec<Value> = duplex
            .iter()
            .map(|r| r["occurrenceDateTime"].clone())
            .collect();
        diff("duplexDue", Value::Array(got).to_string(), e.to_string());
    }
    if let Some(e) = expected.get("duplexLaterality") {
        let got: BTreeSet<&str> = duplex.iter().filter_map(|r| laterality(r)).collect();
        diff(
            "duplexLaterality",
            format!("{got:?}"),
            format!("{:?}", BTreeSet::from([e.as_str().unwrap_or("")])),
        );
    }
    let summary = actual["summary"].as_str().unwrap_or("");
    if summary.is_empty() || summary.chars().count() > 140 {
        errors.push(format!(
            "{name}: summary empty or over 140 characters: {summary:?}"
        ));
    }
}

fn card_key(card: &Value) -> String {
    let ext = &card["extension"]["dvt-cds"];
    format!(
        "{}:{}",
        ext["kind"].as_str().unwrap_or("?"),
        ext["check"].as_str().unwrap_or("")
    )
}

#[test]
fn every_fixture_gives_its_expected_cards() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fhir-fixtures");
    let config = Config::load(&Config::default_dir()).expect("config");
    let mut files = Vec::new();
    fixture_files(&root, &mut files);
    assert!(
        files.len() >= 40,
        "expected at least 40 fixtures, found {}",
        files.len()
    );
    let mut errors = Vec::new();
    for request_path in &files {
        let name = request_path
            .strip_prefix(&root)
            .unwrap_or(request_path)
            .display()
            .to_string();
        let expected_path = PathBuf::from(
            request_path
                .to_string_lossy()
                .replace(".request.json", ".expected.json"),
        );
        let expected = read_json(&expected_path);
        let request = read_json(request_path);
        let now = OffsetDateTime::parse(expected["now"].as_str().expect("expected.now"), &Rfc3339)
            .expect("now");
        let hook = HookRequest::parse(&request).unwrap_or_else(|e| panic!("{name}: {e}"));
        let service = config
            .services
            .iter()
            .find(|s| s.hook == hook.hook)
            .expect("a service for the hook");
        let outcome = match pipeline::run(&config, service, &hook, now) {
            Ok(o) => o,
            Err(e) => {
                errors.push(format!("{name}: pipeline error {e}"));
                continue;
            }
        };
        let response = serde_json::to_value(&outcome.response).expect("serialize");
        let actual: Vec<&Value> = response["cards"]
            .as_array()
            .expect("cards")
            .iter()
            .collect();
        let wanted: Vec<&Value> = expected["cards"]
            .as_array()
            .expect("expected cards")
            .iter()
            .collect();
        let mut actual_keys: Vec<String> = actual.iter().map(|c| card_key(c)).collect();
        let mut wanted_keys: Vec<String> = wanted
            .iter()
            .map(|c| {
                format!(
                    "{}:{}",
                    c["kind"].as_str().unwrap_or("?"),
                    c["check"].as_str().unwrap_or("")
                )
            })
            .collect();
        actual_keys.sort();
        wanted_keys.sort();
        if actual_keys != wanted_keys {
            errors.push(format!(
                "{name}: cards {actual_keys:?}, expected {wanted_keys:?}"
            ));
            continue;
        }
        for w in wanted {
            let key = format!(
                "{}:{}",
                w["kind"].as_str().unwrap_or("?"),
                w["check"].as_str().unwrap_or("")
            );
            let a = actual
                .iter()
                .find(|c| card_key(c) == key)
                .expect("matched above");
            compare_card(&name, a, w, &config, &mut errors);
        }
    }
    assert!(
        errors.is_empty(),
        "{} mismatch(es) over {} fixtures:\n{}",
        errors.len(),
        files.len(),
        errors.join("\n")
    );
}
