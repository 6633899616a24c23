//! Every fixture request (`fhir-fixtures/**/*.request.json`, with `*.expected.json` beside it
//! giving `now`) POSTed over HTTP answers 200 with a body valid against the response schema,
//! and the same cards as `distal-dvt-cds evaluate FILE --now <now>` (ignoring `uuid`s).

use std::path::{Path, PathBuf};

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::helpers::{binary, spawn_app_with, without_uuids};

fn fixture_requests(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if !path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('_'))
            {
                fixture_requests(&path, out);
            }
        } else if path.to_string_lossy().ends_with(".request.json") {
            out.push(path);
        }
    }
}

fn service_for(request: &Value) -> &'static str {
    match request["hook"].as_str() {
        Some("order-sign") => "/cds-services/dvt-order-sign",
        _ => "/cds-services/dvt-order-select",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_answers_200_over_http_with_the_cards_of_evaluate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fhir-fixtures");
    if !root.is_dir() {
        eprintln!("no fhir-fixtures/ directory yet: nothing to replay");
        return;
    }
    let mut requests = Vec::new();
    fixture_requests(&root, &mut requests);
    requests.sort();
    assert!(
        !requests.is_empty(),
        "fhir-fixtures/ holds no *.request.json"
    );
    let mut failures = Vec::new();
    for path in &requests {
        let name = path
            .strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string();
        let expected_path = PathBuf::from(
            path.to_string_lossy()
                .replace(".request.json", ".expected.json"),
        );
        let expected: Value = match std::fs::read_to_string(&expected_path) {
            Ok(text) => {
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: expected.json: {e}"))
            }
            Err(e) => panic!("{name}: {}: {e}", expected_path.display()),
        };
        let now_text = expected["now"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: expected.json has no `now`"));
        let now = OffsetDateTime::parse(now_text, &Rfc3339)
            .unwrap_or_else(|e| panic!("{name}: now: {e}"));
        let request: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));

        let app = spawn_app_with(|s| s.fixed_now = Some(now)).await;
        let response = app.post_json(service_for(&request), &request).await;
        let status = response.status().as_u16();
        let http: Value = response.json().await.unwrap_or(Value::Null);
        if status != 200 {
            failures.push(format!("{name}: HTTP {status}: {http}"));
            continue;
        }
        if let Err(v) = app.schemas.check_response(&http) {
            failures.push(format!(
                "{name}: the response breaks cds-hooks-response.json: {v}"
            ));
        }

        let output = binary()
            .args(["evaluate", &path.display().to_string(), "--now", now_text])
            .output()
            .expect("run evaluate");
        if !output.status.success() {
            failures.push(format!(
                "{name}: evaluate failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
            continue;
        }
        let cli: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
        if without_uuids(&cli) != without_uuids(&http) {
            failures.push(format!(
                "{name}: HTTP and evaluate differ:\nHTTP     {http}\nevaluate {cli}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures failed:\n{}",
        failures.len(),
        requests.len(),
        failures.join("\n")
    );
}
