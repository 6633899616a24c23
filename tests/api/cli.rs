//! The command line: `serve` start-up checks, `check-config`, `evaluate`.

use std::io::Write;
use std::process::Stdio;

use distal_dvt_cds::config::Config;
use serde_json::{Value, json};

use crate::helpers::{ServerProcess, binary, order_select_request};

fn run(args: &[&str], envs: &[(&str, &str)], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = binary()
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the binary");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn config_dir() -> String {
    Config::default_dir().display().to_string()
}

#[test]
fn check_config_prints_a_one_line_summary() {
    let (ok, stdout, stderr) = run(&["check-config", "--config-dir", &config_dir()], &[], None);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("OK: "), "{stdout}");
    assert!(
        stdout.contains("2 services") && stdout.contains("dvt-order-select"),
        "{stdout}"
    );
}

#[test]
fn check_config_names_the_file_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(Config::default_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let services = dir.path().join("services.toml");
    let text = std::fs::read_to_string(&services).unwrap();
    let broken = text.replace("hook = \"order-sign\"", "hook = \"patient-view\"");
    assert_ne!(text, broken);
    std::fs::write(&services, broken).unwrap();
    let dir_arg = dir.path().display().to_string();
    let (ok, _, stderr) = run(&["check-config", "--config-dir", &dir_arg], &[], None);
    assert!(!ok);
    assert!(
        stderr.contains("services.toml") && stderr.contains("service[1].hook"),
        "{stderr}"
    );
    // `serve` refuses to start on the same directory, with the same message.
    let (ok, _, stderr) = run(
        &["serve", "--bind", "127.0.0.1:0", "--config-dir", &dir_arg],
        &[],
        None,
    );
    assert!(!ok);
    assert!(stderr.contains("service[1].hook"), "{stderr}");
}

#[test]
fn serve_refuses_to_run_without_auth_off_loopback() {
    // Off loopback DVT_CDS_AUTH defaults to required, which needs trusted clients.
    let (ok, _, stderr) = run(&["serve", "--bind", "0.0.0.0:0"], &[], None);
    assert!(!ok);
    assert!(
        stderr.contains("defaults to required") && stderr.contains("DVT_CDS_TRUSTED_ISSUERS"),
        "{stderr}"
    );
    // `required` without issuers or a jku allow-list refuses, even on loopback.
    let (ok, _, stderr) = run(
        &["--bind", "127.0.0.1:0"],
        &[("DVT_CDS_AUTH", "required")],
        None,
    );
    assert!(!ok);
    assert!(
        stderr.contains("DVT_CDS_AUTH=required") && stderr.contains("DVT_CDS_JKU_ALLOWLIST"),
        "{stderr}"
    );
    // `off` on a non-loopback bind needs --insecure.
    let (ok, _, stderr) = run(
        &["serve", "--bind", "0.0.0.0:0"],
        &[("DVT_CDS_AUTH", "off")],
        None,
    );
    assert!(!ok);
    assert!(
        stderr.contains("not a loopback address") && stderr.contains("--insecure"),
        "{stderr}"
    );
}

#[test]
fn insecure_serves_without_auth_off_loopback_with_a_loud_warning() {
    let server = ServerProcess::start(
        &["--bind", "0.0.0.0:0", "--insecure"],
        &[("DVT_CDS_AUTH", "off"), ("DVT_CDS_LOG_FORMAT", "json")],
    );
    let (status, lines) = server.stop();
    assert!(status.success(), "{status:?}");
    let warning = lines
        .iter()
        .find(|l| l.contains("WITHOUT ANY AUTHENTICATION"))
        .unwrap_or_else(|| panic!("no warning: {lines:#?}"));
    assert!(warning.contains("\"level\":\"WARN\""), "{warning}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"listening\"") && l.contains("\"auth\":\"off\"")),
        "{lines:#?}"
    );
}

#[test]
fn loopback_without_auth_warns_that_auth_is_off() {
    let server = ServerProcess::start(
        &["--bind", "127.0.0.1:0"],
        &[("DVT_CDS_LOG_FORMAT", "json")],
    );
    let (status, lines) = server.stop();
    assert!(status.success(), "{status:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("authentication is OFF") && l.contains("\"level\":\"WARN\"")),
        "{lines:#?}"
    );
}

#[test]
fn required_auth_with_a_trusted_issuer_serves_on_a_public_bind() {
    let server = ServerProcess::start(
        &["--bind", "0.0.0.0:0"],
        &[
            (
                "DVT_CDS_TRUSTED_ISSUERS",
                "https://ehr.example=https://ehr.example/jwks.json",
            ),
            ("DVT_CDS_PUBLIC_URL", "https://cds.example.org"),
            ("DVT_CDS_LOG_FORMAT", "json"),
        ],
    );
    let port = server.address.rsplit(':').next().unwrap().to_owned();
    let url = format!("http://127.0.0.1:{port}/cds-services");
    let response = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async { reqwest::get(url).await.unwrap().status().as_u16() });
    let (status, lines) = server.stop();
    assert!(status.success(), "{status:?}");
    assert_eq!(response, 401);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("JWT authentication required")
                && l.contains("https://cds.example.org/cds-services/<id>")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"listening\"") && l.contains("\"auth\":\"required\"")),
        "{lines:#?}"
    );
}

#[test]
fn invalid_environment_values_are_refused() {
    for (name, value) in [
        ("DVT_CDS_FHIR_BUDGET_MS", "0"),
        ("DVT_CDS_MAX_BODY_BYTES", "lots"),
        ("DVT_CDS_LOG_FORMAT", "xml"),
        ("DVT_CDS_AUTH", "maybe"),
        ("DVT_CDS_PUBLIC_URL", "ftp://example.org"),
        ("DVT_CDS_BIND", "not-an-address"),
        ("DVT_CDS_TRUSTED_ISSUERS", "https://ehr.example.org"),
        ("DVT_CDS_JKU_ALLOWLIST", "ehr.example.org/keys"),
        (
            "DVT_CDS_JKU_ALLOWLIST",
            "https://user:pw@ehr.example.org/keys",
        ),
        ("DVT_CDS_JWT_EXTRA_ALGS", "HS256"),
        ("DVT_CDS_JWT_MAX_LIFETIME_SECS", "0"),
    ] {
        let (ok, _, stderr) = run(&["serve"], &[(name, value)], None);
        assert!(!ok, "{name}={value} accepted");
        assert!(!stderr.is_empty(), "{name}: no message");
    }
}

#[test]
fn flags_win_over_the_environment() {
    // The environment asks for a public bind (refused); the flag asks for loopback (served).
    let server = ServerProcess::start(
        &["--bind", "127.0.0.1:0"],
        &[
            ("DVT_CDS_BIND", "0.0.0.0:0"),
            ("DVT_CDS_LOG_FORMAT", "json"),
        ],
    );
    assert!(
        server.address.starts_with("http://127.0.0.1:"),
        "{}",
        server.address
    );
    let (status, lines) = server.stop();
    assert!(status.success(), "graceful stop on SIGTERM: {status:?}");
    assert!(lines.iter().any(|l| l.contains("\"stopped\"")), "{lines:?}");
}

#[test]
fn evaluate_refuses_a_bad_request_with_a_message() {
    let (ok, stdout, stderr) = run(
        &["evaluate", "-"],
        &[],
        Some("{\"hook\": \"order-select\"}"),
    );
    assert!(!ok);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("schema-violation") && stderr.contains("/hookInstance"),
        "{stderr}"
    );

    let (ok, _, stderr) = run(&["evaluate", "-"], &[], Some("{\"hook\": "));
    assert!(!ok);
    assert!(
        stderr.contains("not valid JSON") && stderr.contains("line 1"),
        "{stderr}"
    );

    let (ok, _, stderr) = run(&["evaluate", "/no/such/file.json"], &[], None);
    assert!(!ok);
    assert!(stderr.contains("/no/such/file.json"), "{stderr}");

    let (ok, _, stderr) = run(&["evaluate", "-", "--now", "yesterday"], &[], Some("{}"));
    assert!(!ok);
    assert!(stderr.contains("--now"), "{stderr}");
}

#[test]
fn evaluate_reports_missing_prefetch_keys() {
    let mut request = order_select_request();
    request.as_object_mut().unwrap().remove("fhirServer");
    request["prefetch"]
        .as_object_mut()
        .unwrap()
        .remove("encounters");
    let (ok, stdout, stderr) = run(&["evaluate", "-"], &[], Some(&request.to_string()));
    assert!(!ok, "{stdout}");
    assert!(
        stderr.contains("missing-prefetch") && stderr.contains("encounters"),
        "{stderr}"
    );
}

#[test]
fn evaluate_prints_the_response_json() {
    let (ok, stdout, stderr) = run(
        &["evaluate", "-", "--now", "2026-03-01T12:00:00Z"],
        &[],
        Some(&order_select_request().to_string()),
    );
    assert!(ok, "{stderr}");
    let response: Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    assert!(response["cards"].is_array(), "{response}");
    assert!(stdout.contains("\n  "), "pretty-printed");
    assert_ne!(response, json!(null));
}

/// Site configuration is data: raising a threshold in `cds-services/thresholds.toml` changes
/// the answer of the same binary, without recompiling.
#[test]
fn a_threshold_changed_in_cds_services_changes_the_answer() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fhir-fixtures/boundaries/thrombus-length-5.0cm-not-present.request.json");
    let fixture = fixture.display().to_string();
    let recommendation = |dir: &str| {
        let (ok, stdout, stderr) = run(
            &[
                "evaluate",
                &fixture,
                "--now",
                "2026-11-20T12:00:00Z",
                "--config-dir",
                dir,
            ],
            &[],
            None,
        );
        assert!(ok, "{stderr}");
        let response: Value = serde_json::from_str(&stdout).expect("JSON on stdout");
        let ext = &response["cards"][0]["extension"]["dvt-cds"];
        (
            ext["recommendation"].as_str().unwrap_or("").to_owned(),
            ext["extensionRiskFactors"].clone(),
        )
    };
    let shipped = recommendation(&config_dir());
    assert_eq!(shipped.0, "serial-imaging", "5.0 cm is not > 5 cm");

    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(Config::default_dir()).unwrap().flatten() {
        if entry.path().is_file() {
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
        }
    }
    let thresholds = dir.path().join("thresholds.toml");
    let text = std::fs::read_to_string(&thresholds).unwrap();
    let lowered = text.replace("thrombus-length-cm = 5.0", "thrombus-length-cm = 4.5");
    assert_ne!(text, lowered, "the shipped file states the 5 cm threshold");
    std::fs::write(&thresholds, lowered).unwrap();
    let site = recommendation(&dir.path().display().to_string());
    assert_eq!(site.0, "anticoagulate");
    assert_eq!(site.1, json!(["thrombus-length"]));
}
