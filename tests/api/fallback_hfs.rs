//! The prefetch fallback against a real FHIR R4 server (`fhir_server`: Helios FHIR Server):
//! fixture patients are loaded into it, the hooks run with every prefetch key absent and
//! `fhirServer` pointing at it, and the cards equal those of the fully prefetched request.

use std::collections::HashSet;
use std::path::Path;

use serde_json::Value;

use crate::fallback::{ALL_KEYS, absent, fixture, service_path};
use crate::fhir_server::FhirServer;
use crate::helpers::{spawn_app_with, without_uuids};

/// Patients with cards of every kind: stratification (each recommendation), special
/// populations, already-managed, order-safety checks; both hooks.
const FIXTURES: [&str; 6] = [
    "recommendation/anticoagulate-order-select-unprovoked",
    "already-managed/active-apixaban",
    "special-populations/active-cancer-enoxaparin-first",
    "order-safety/renal-doac-rivaroxaban-egfr-22",
    "special-populations/pregnancy-serial-imaging-warning",
    "boundaries/d-dimer-ddu-250-positive",
];

/// Every (type, id) of a request's prefetch.
fn resource_ids(request: &Value) -> Vec<(String, String)> {
    let mut ids = Vec::new();
    for value in request["prefetch"].as_object().unwrap().values() {
        let resources: Vec<&Value> = match value["entry"].as_array() {
            Some(entries) => entries.iter().map(|e| &e["resource"]).collect(),
            None => vec![value],
        };
        for r in resources {
            if let (Some(t), Some(id)) = (r["resourceType"].as_str(), r["id"].as_str()) {
                ids.push((t.to_owned(), id.to_owned()));
            }
        }
    }
    ids
}

/// `request` with every prefetch resource id but the Patient's prefixed with `prefix`, and every reference to
/// one (`Condition/dvt-1`, also at the end of a `fullUrl`) rewritten to match, in the prefetch
/// and the context alike: fixtures reuse ids, and one FHIR server holds them all.
fn namespaced(request: &Value, prefix: &str) -> Value {
    // Patient ids already differ per fixture (and `context.patientId` names them).
    let ids: HashSet<(String, String)> = resource_ids(request)
        .into_iter()
        .filter(|(kind, _)| kind != "Patient")
        .collect();
    fn rename(value: &mut Value, ids: &HashSet<(String, String)>, prefix: &str, in_prefetch: bool) {
        match value {
            Value::Object(map) => {
                let kind = map
                    .get("resourceType")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                for (key, member) in map.iter_mut() {
                    if key == "id" && in_prefetch {
                        if let (Some(kind), Value::String(id)) = (&kind, &mut *member)
                            && ids.contains(&(kind.clone(), id.clone()))
                        {
                            *id = format!("{prefix}{id}");
                        }
                        continue;
                    }
                    rename(member, ids, prefix, in_prefetch);
                }
            }
            Value::Array(items) => items
                .iter_mut()
                .for_each(|v| rename(v, ids, prefix, in_prefetch)),
            Value::String(text) => {
                for (kind, id) in ids {
                    let reference = format!("{kind}/{id}");
                    if *text == reference || text.ends_with(&format!("/{reference}")) {
                        let at = text.len() - id.len();
                        text.replace_range(at.., &format!("{prefix}{id}"));
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = request.clone();
    rename(&mut out["prefetch"], &ids, prefix, true);
    rename(&mut out["context"], &ids, prefix, false);
    out
}

/// A copy of the shipped configuration with `services.toml` edited by `edit`.
pub fn config_with(edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&distal_dvt_cds::config::Config::default_dir(), dir.path());
    let services = dir.path().join("services.toml");
    let text = edit(std::fs::read_to_string(&services).unwrap());
    std::fs::write(&services, text).unwrap();
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn fetched_count(metrics: &str, key: &str, outcome: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("dvt_cds_prefetch_fallback_total{"))
        .filter(|l| {
            l.contains(&format!("key=\"{key}\"")) && l.contains(&format!("outcome=\"{outcome}\""))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_patients_on_a_real_fhir_server_get_the_cards_of_the_full_prefetch() {
    let server = FhirServer::start().await;
    let fixtures: Vec<(&str, Value, time::OffsetDateTime)> = FIXTURES
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let (request, now) = fixture(name);
            (*name, namespaced(&request, &format!("f{i}-")), now)
        })
        .collect();
    let mut seen = HashSet::new();
    for (name, request, _) in &fixtures {
        for id in resource_ids(request) {
            assert!(seen.insert(id.clone()), "{name}: {id:?} is in two fixtures");
        }
    }
    for (_, request, _) in &fixtures {
        assert!(server.load_prefetch(request).await > 5);
    }
    // The server answers the templates' searches (`Condition?patient=X`) as a FHIR server must.
    for (name, request, _) in &fixtures {
        let patient = request["context"]["patientId"].as_str().unwrap();
        for (key, kind) in [("conditions", "Condition"), ("observations", "Observation")] {
            let expected = request["prefetch"][key]["entry"].as_array().unwrap().len();
            let bundle = server
                .get(&format!("{kind}?patient={patient}&_count=100"))
                .await;
            let got = bundle["entry"].as_array().map_or(0, Vec::len);
            assert_eq!(got, expected, "{name}: {kind}?patient=: {bundle}");
        }
    }

    let mut failures = Vec::new();
    let mut with_cards = 0;
    for (name, request, now) in &fixtures {
        let now = *now;
        let app = spawn_app_with(|s| s.fixed_now = Some(now)).await;
        let path = service_path(request);
        let full: Value = app.post_json(path, request).await.json().await.unwrap();
        let fetching = absent(request, &ALL_KEYS, &server.base, Some("hfs-ignores-tokens"));
        let response = app.post_json(path, &fetching).await;
        assert_eq!(response.status().as_u16(), 200, "{name}");
        let fetched: Value = response.json().await.unwrap();
        // `already-managed/active-apixaban` has none: its active anticoagulant (fetched from
        // `medications`) silences the card. The others have cards.
        if !full["cards"].as_array().unwrap().is_empty() {
            with_cards += 1;
        }
        if without_uuids(&fetched) != without_uuids(&full) {
            failures.push(format!("{name}:\nprefetched {full}\nfetched    {fetched}"));
        }
        let metrics = app.metrics().await;
        for key in ALL_KEYS {
            assert_eq!(
                fetched_count(&metrics, key, "fetched"),
                1.0,
                "{name}: {key}\n{metrics}"
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(with_cards, FIXTURES.len() - 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_server_s_result_pages_are_followed_and_joined() {
    let server = FhirServer::start().await;
    let (request, now) = fixture(FIXTURES[0]);
    server.load_prefetch(&request).await;
    let patient = request["context"]["patientId"].as_str().unwrap();
    // The server pages: a `next` link on its own origin.
    let first = server
        .get(&format!("Observation?patient={patient}&_count=3"))
        .await;
    let next = first["link"]
        .as_array()
        .and_then(|links| links.iter().find(|l| l["relation"] == "next"))
        .and_then(|l| l["url"].as_str())
        .unwrap_or_else(|| panic!("hfs gave no next link: {first}"))
        .to_owned();
    assert!(next.starts_with(&server.base), "{next}");

    // A site narrowing its searches to pages of 3 (11 observations: 4 pages).
    let config = config_with(|text| {
        text.replace(
            "Observation?patient={{context.patientId}}\"",
            "Observation?patient={{context.patientId}}&_count=3\"",
        )
        .replace(
            "Condition?patient={{context.patientId}}\"",
            "Condition?patient={{context.patientId}}&_count=1\"",
        )
    });
    let dir = config.path().to_owned();
    let app = spawn_app_with(|s| {
        s.fixed_now = Some(now);
        s.config_dir = dir;
    })
    .await;
    let path = service_path(&request);
    let full: Value = app.post_json(path, &request).await.json().await.unwrap();
    let fetched: Value = app
        .post_json(path, &absent(&request, &ALL_KEYS, &server.base, None))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(without_uuids(&fetched), without_uuids(&full));
    let metrics = app.metrics().await;
    assert_eq!(
        fetched_count(&metrics, "observations", "fetched"),
        1.0,
        "{metrics}"
    );
}
