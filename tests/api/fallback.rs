//! Prefetch fallback: absent keys fetched from `fhirServer`, against small local FHIR servers
//! (`fhir_stub`, real HTTP on 127.0.0.1): the cards equal the fully prefetched run; a refused
//! token, a server that is down, slow, not FHIR, or paging elsewhere makes the key unavailable
//! (or incomplete) — the hook still answers 200 in time, the card names the gap, and metrics
//! count it; the token travels only in the Authorization header.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::fhir_stub::{Behaviour, StubFhir, closed_port_url};
use crate::helpers::{ServerProcess, TestApp, binary, spawn_app_with, without_uuids};

/// A fixture with a stratification card (so data gaps show) and data in every key.
const FIXTURE: &str = "recommendation/anticoagulate-order-select-unprovoked";
const TOKEN: &str = "tok-FALLBACK-SECRET-5531";

/// A fixture request and the instant its expected outcome is for.
pub fn fixture(name: &str) -> (Value, OffsetDateTime) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fhir-fixtures");
    let read = |suffix: &str| -> Value {
        let path = root.join(format!("{name}.{suffix}.json"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let expected = read("expected");
    let now = OffsetDateTime::parse(expected["now"].as_str().unwrap(), &Rfc3339).unwrap();
    (read("request"), now)
}

pub fn service_path(request: &Value) -> &'static str {
    match request["hook"].as_str() {
        Some("order-sign") => "/cds-services/dvt-order-sign",
        _ => "/cds-services/dvt-order-select",
    }
}

/// `request` with `keys` removed from its prefetch, `fhirServer` = `base`, and the token.
pub fn absent(request: &Value, keys: &[&str], base: &str, token: Option<&str>) -> Value {
    let mut request = request.clone();
    for key in keys {
        request["prefetch"].as_object_mut().unwrap().remove(*key);
    }
    request["fhirServer"] = json!(base);
    if let Some(token) = token {
        request["fhirAuthorization"] = json!({"access_token": token, "token_type": "Bearer",
            "expires_in": 300, "scope": "patient/*.read", "subject": "distal-dvt-cds"});
    }
    request
}

pub const ALL_KEYS: [&str; 7] = [
    "patient",
    "conditions",
    "observations",
    "medications",
    "encounters",
    "procedures",
    "serviceRequests",
];

/// Every card's detail, markdown escapes and backticks removed.
fn details(body: &Value) -> String {
    body["cards"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["detail"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
        .replace(['\\', '`'], "")
}

/// The value of the sample of `name` whose labels include every `labels` pair.
fn sample(metrics: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn fallback(metrics: &str, key: &str, outcome: &str) -> f64 {
    sample(
        metrics,
        "dvt_cds_prefetch_fallback_total",
        &[("key", key), ("outcome", outcome)],
    )
}

async fn app_at(now: OffsetDateTime, budget_ms: u64) -> TestApp {
    spawn_app_with(|s| {
        s.fixed_now = Some(now);
        s.fhir_budget = Duration::from_millis(budget_ms);
    })
    .await
}

async fn post(app: &TestApp, request: &Value) -> (u16, Value) {
    let response = app.post_json(service_path(request), request).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_keys_fetched_with_the_token_give_the_cards_of_the_full_prefetch() {
    let (request, now) = fixture(FIXTURE);
    let stub = StubFhir::start(
        &request,
        Behaviour {
            required_token: Some(TOKEN.to_owned()),
            page_size: Some(4),
            ..Behaviour::default()
        },
    );
    let app = app_at(now, 3000).await;
    let (status, full) = post(&app, &request).await;
    assert_eq!(status, 200, "{full}");
    assert!(!full["cards"].as_array().unwrap().is_empty(), "{full}");

    let (status, fetched) = post(&app, &absent(&request, &ALL_KEYS, &stub.base, Some(TOKEN))).await;
    assert_eq!(status, 200, "{fetched}");
    assert_eq!(without_uuids(&fetched), without_uuids(&full));
    app.schemas.check_response(&fetched).unwrap();

    let seen = stub.seen();
    let patient = request["context"]["patientId"].as_str().unwrap();
    for s in &seen {
        assert_eq!(
            s.authorization.as_deref(),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(s.accept.as_deref(), Some("application/fhir+json"));
    }
    let asked: Vec<String> = seen
        .iter()
        .map(|s| format!("{}?{}", s.path, s.query))
        .collect();
    assert!(
        asked.contains(&format!("/fhir/Patient/{patient}?")),
        "{asked:?}"
    );
    for kind in [
        "Condition",
        "MedicationRequest",
        "Encounter",
        "Procedure",
        "ServiceRequest",
    ] {
        assert!(
            asked.contains(&format!("/fhir/{kind}?patient={patient}")),
            "{kind}: {asked:?}"
        );
    }
    // 11 observations in pages of 4: three pages, joined.
    let observation_pages = asked
        .iter()
        .filter(|a| a.starts_with("/fhir/Observation?"))
        .count();
    assert_eq!(observation_pages, 3, "{asked:?}");

    let metrics = app.metrics().await;
    for key in ALL_KEYS {
        assert_eq!(fallback(&metrics, key, "fetched"), 1.0, "{key}\n{metrics}");
    }
    assert!(!metrics.contains(TOKEN));
    assert!(!metrics.contains(patient));
}

#[tokio::test]
async fn a_refused_token_makes_the_key_unavailable_and_the_card_names_it() {
    let (request, now) = fixture(FIXTURE);
    let stub = StubFhir::start(
        &request,
        Behaviour {
            required_token: Some("the-right-token".to_owned()),
            ..Behaviour::default()
        },
    );
    let app = app_at(now, 3000).await;
    let response = app
        .post_json(
            service_path(&request),
            &absent(&request, &["observations"], &stub.base, Some(TOKEN)),
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.unwrap();
    assert!(!text.contains(TOKEN), "the token is echoed: {text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    let details = details(&body);
    assert!(
        details.contains("observations could not be fetched from the FHIR server (access denied)"),
        "{details}"
    );
    // The observations' facts are unknown, not negative.
    let stratification = body["cards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["extension"]["dvt-cds"]["kind"] == "stratification")
        .expect("a stratification card");
    let missing = stratification["extension"]["dvt-cds"]["missingData"].to_string();
    assert!(missing.contains("d-dimer"), "{missing}");
    assert_eq!(stub.seen().len(), 1);
    assert_eq!(
        stub.seen()[0].authorization.as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let metrics = app.metrics().await;
    assert_eq!(
        fallback(&metrics, "observations", "unauthorized"),
        1.0,
        "{metrics}"
    );
    assert!(!metrics.contains(TOKEN));
}

#[tokio::test]
async fn a_server_that_is_down_makes_the_keys_unavailable() {
    let (request, now) = fixture(FIXTURE);
    let app = app_at(now, 3000).await;
    let started = Instant::now();
    let (status, body) = post(
        &app,
        &absent(
            &request,
            &["observations", "medications"],
            &closed_port_url(),
            Some(TOKEN),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(started.elapsed() < Duration::from_secs(3));
    let details = details(&body);
    for key in ["observations", "medications"] {
        assert!(
            details.contains(&format!(
                "{key} could not be fetched from the FHIR server (the server could not be reached)"
            )),
            "{details}"
        );
    }
    let metrics = app.metrics().await;
    assert_eq!(fallback(&metrics, "observations", "unreachable"), 1.0);
    assert_eq!(fallback(&metrics, "medications", "unreachable"), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_server_cannot_hold_the_hook_past_the_budget() {
    let (request, now) = fixture(FIXTURE);
    let stub = StubFhir::start(
        &request,
        Behaviour {
            delay: Some(Duration::from_secs(5)),
            ..Behaviour::default()
        },
    );
    let app = app_at(now, 500).await;
    let started = Instant::now();
    let (status, body) = post(
        &app,
        &absent(
            &request,
            &["observations", "procedures"],
            &stub.base,
            Some(TOKEN),
        ),
    )
    .await;
    let elapsed = started.elapsed();
    assert_eq!(status, 200, "{body}");
    assert!(
        elapsed < Duration::from_millis(1500),
        "answered after {elapsed:?} with a 500 ms budget"
    );
    assert!(elapsed >= Duration::from_millis(450), "{elapsed:?}");
    let details = details(&body);
    assert!(
        details.contains(
            "observations could not be fetched from the FHIR server (the time budget ran out)"
        ),
        "{details}"
    );
    let metrics = app.metrics().await;
    assert_eq!(fallback(&metrics, "observations", "budget-exhausted"), 1.0);
    assert_eq!(fallback(&metrics, "procedures", "budget-exhausted"), 1.0);
    assert_eq!(
        sample(
            &metrics,
            "dvt_cds_prefetch_fallback_duration_seconds_count",
            &[("service", "dvt-order-select")]
        ),
        1.0,
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_slow_request_times_out_without_using_the_whole_budget() {
    let (request, now) = fixture(FIXTURE);
    let stub = StubFhir::start(
        &request,
        Behaviour {
            delay: Some(Duration::from_secs(3)),
            ..Behaviour::default()
        },
    );
    let app = spawn_app_with(|s| {
        s.fixed_now = Some(now);
        s.fhir_budget = Duration::from_millis(5000);
        s.fhir_request_timeout = Duration::from_millis(300);
    })
    .await;
    let started = Instant::now();
    let (status, body) = post(&app, &absent(&request, &["observations"], &stub.base, None)).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        started.elapsed() < Duration::from_millis(2000),
        "{:?}",
        started.elapsed()
    );
    assert!(
        details(&body).contains("(the server did not answer in time)"),
        "{body}"
    );
    let metrics = app.metrics().await;
    assert_eq!(fallback(&metrics, "observations", "timeout"), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_joined_but_a_next_link_to_another_server_is_not_followed() {
    let (request, now) = fixture(FIXTURE);
    let elsewhere = StubFhir::start(&request, Behaviour::default());
    let stub = StubFhir::start(
        &request,
        Behaviour {
            page_size: Some(4),
            foreign_next: Some(format!(
                "{}/Observation?patient={}&_page=2",
                elsewhere.base,
                request["context"]["patientId"].as_str().unwrap()
            )),
            ..Behaviour::default()
        },
    );
    let app = app_at(now, 3000).await;
    let (status, body) = post(
        &app,
        &absent(&request, &["observations"], &stub.base, Some(TOKEN)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        elsewhere.seen().is_empty(),
        "followed: {:?}",
        elsewhere.seen()
    );
    assert_eq!(stub.seen().len(), 1);
    assert!(
        details(&body).contains(
            "observations from the FHIR server is incomplete (a next-page link pointed to another server and was not followed)"
        ),
        "{body}"
    );
    let metrics = app.metrics().await;
    assert_eq!(fallback(&metrics, "observations", "foreign-next-link"), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_stops_at_the_page_limit() {
    let (request, now) = fixture(FIXTURE);
    let stub = StubFhir::start(
        &request,
        Behaviour {
            page_size: Some(4),
            ..Behaviour::default()
        },
    );
    let app = spawn_app_with(|s| {
        s.fixed_now = Some(now);
        s.fhir_max_pages = 2;
    })
    .await;
    let (status, body) = post(&app, &absent(&request, &["observations"], &stub.base, None)).await;
    assert_eq!(status, 200, "{body}");
    let queries: Vec<String> = stub.seen().into_iter().map(|s| s.query).collect();
    assert_eq!(queries.len(), 2, "{queries:?}");
    assert!(queries[1].ends_with("_page=2"), "{queries:?}");
    assert!(
        details(&body).contains("observations from the FHIR server is incomplete (more result pages than the page limit)"),
        "{body}"
    );
    let metrics = app.metrics().await;
    assert_eq!(fallback(&metrics, "observations", "page-limit"), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operation_outcome_entries_are_skipped_and_counted() {
    let (request, now) = fixture(FIXTURE);
    let stub = StubFhir::start(
        &request,
        Behaviour {
            inject_outcomes: true,
            ..Behaviour::default()
        },
    );
    let app = app_at(now, 3000).await;
    let (_, full) = post(&app, &request).await;
    let before = app.metrics().await;
    let keys = ["conditions", "observations", "medications"];
    let (status, fetched) = post(&app, &absent(&request, &keys, &stub.base, None)).await;
    assert_eq!(status, 200, "{fetched}");
    assert_eq!(without_uuids(&fetched), without_uuids(&full));
    let after = app.metrics().await;
    let skipped = |m: &str| {
        sample(
            m,
            "dvt_cds_prefetch_skipped_entries_total",
            &[("service", "dvt-order-select")],
        )
    };
    // Two outcome entries per fetched search.
    assert_eq!(skipped(&after) - skipped(&before), 6.0, "{after}");
}

#[tokio::test]
async fn an_answer_that_is_not_fhir_or_an_error_status_makes_the_key_unavailable() {
    let (request, now) = fixture(FIXTURE);
    let app = app_at(now, 3000).await;
    for (behaviour, outcome, text) in [
        (
            Behaviour {
                garbage: true,
                ..Behaviour::default()
            },
            "invalid-body",
            "the answer was not a FHIR resource or Bundle",
        ),
        (
            Behaviour {
                status: Some(500),
                ..Behaviour::default()
            },
            "http-error",
            "server error",
        ),
        (
            Behaviour {
                status: Some(404),
                ..Behaviour::default()
            },
            "not-found",
            "not found",
        ),
    ] {
        let stub = StubFhir::start(&request, behaviour);
        let (status, body) =
            post(&app, &absent(&request, &["medications"], &stub.base, None)).await;
        assert_eq!(status, 200, "{body}");
        assert!(
            details(&body).contains(&format!(
                "medications could not be fetched from the FHIR server ({text})"
            )),
            "{outcome}: {body}"
        );
        let metrics = app.metrics().await;
        assert_eq!(fallback(&metrics, "medications", outcome), 1.0, "{metrics}");
    }
}

#[tokio::test]
async fn without_fhir_server_absent_keys_are_still_412() {
    let (request, now) = fixture(FIXTURE);
    let app = app_at(now, 3000).await;
    let mut request = absent(&request, &["observations"], "unused", None);
    request.as_object_mut().unwrap().remove("fhirServer");
    let (status, body) = post(&app, &request).await;
    assert_eq!(status, 412, "{body}");
    assert_eq!(body["error"]["missing"], json!(["observations"]));
}

#[tokio::test]
async fn a_template_the_context_cannot_fill_is_not_fetched() {
    let (request, now) = fixture(FIXTURE);
    let stub = StubFhir::start(&request, Behaviour::default());
    // A site's services.toml narrowing `encounters` to the hook's encounter.
    let config = crate::fallback_hfs::config_with(|text| {
        text.replace(
            "encounters = \"Encounter?patient={{context.patientId}}\"",
            "encounters = \"Encounter?_id={{context.encounterId}}\"",
        )
    });
    let dir = config.path().to_owned();
    let app = spawn_app_with(|s| {
        s.fixed_now = Some(now);
        s.config_dir = dir;
    })
    .await;
    let mut request = absent(&request, &["encounters"], &stub.base, None);
    request["context"]
        .as_object_mut()
        .unwrap()
        .remove("encounterId");
    let (status, body) = post(&app, &request).await;
    assert_eq!(status, 200, "{body}");
    assert!(stub.seen().is_empty(), "{:?}", stub.seen());
    assert!(
        details(&body).contains("encounters could not be fetched from the FHIR server (its prefetch template needs a value the hook context does not have)"),
        "{body}"
    );
    let metrics = app.metrics().await;
    assert_eq!(fallback(&metrics, "encounters", "unfillable-template"), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluate_fetches_absent_keys_like_the_server() {
    let (request, now) = fixture(FIXTURE);
    let stub = StubFhir::start(
        &request,
        Behaviour {
            required_token: Some(TOKEN.to_owned()),
            page_size: Some(5),
            ..Behaviour::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let full_path = dir.path().join("full.json");
    let absent_path = dir.path().join("absent.json");
    std::fs::write(&full_path, request.to_string()).unwrap();
    std::fs::write(
        &absent_path,
        absent(&request, &ALL_KEYS, &stub.base, Some(TOKEN)).to_string(),
    )
    .unwrap();
    let now = now.format(&Rfc3339).unwrap();
    let run = move |path: std::path::PathBuf, now: String| {
        tokio::task::spawn_blocking(move || {
            binary()
                .args(["evaluate", &path.display().to_string(), "--now", &now])
                .output()
                .unwrap()
        })
    };
    let full = run(full_path, now.clone()).await.unwrap();
    let fetched = run(absent_path, now).await.unwrap();
    assert!(
        fetched.status.success(),
        "{}",
        String::from_utf8_lossy(&fetched.stderr)
    );
    let full: Value = serde_json::from_slice(&full.stdout).unwrap();
    let fetched_json: Value = serde_json::from_slice(&fetched.stdout).unwrap();
    assert_eq!(without_uuids(&fetched_json), without_uuids(&full));
    assert!(stub.seen().len() >= 9, "{:?}", stub.seen());
    let stderr = String::from_utf8_lossy(&fetched.stderr);
    assert!(!stderr.contains(TOKEN), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_sent_only_in_the_authorization_header_never_logged_or_counted() {
    let (request, _) = fixture(FIXTURE);
    let patient = request["context"]["patientId"].as_str().unwrap().to_owned();
    let refusing = StubFhir::start(
        &request,
        Behaviour {
            required_token: Some("another".to_owned()),
            ..Behaviour::default()
        },
    );
    let accepting = StubFhir::start(
        &request,
        Behaviour {
            required_token: Some(TOKEN.to_owned()),
            ..Behaviour::default()
        },
    );
    let server = ServerProcess::start(
        &["--bind", "127.0.0.1:0"],
        &[("DVT_CDS_LOG_FORMAT", "json"), ("RUST_LOG", "debug")],
    );
    let client = reqwest::Client::new();
    let path = service_path(&request);
    let mut bodies = Vec::new();
    for (base, keys) in [
        (&refusing.base, &ALL_KEYS[2..]),
        (&accepting.base, &ALL_KEYS[..]),
    ] {
        let response = client
            .post(format!("{}{path}", server.address))
            .json(&absent(
                &request,
                keys,
                &format!("{base}?session=SESSION-Q"),
                Some(TOKEN),
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        bodies.push(response.text().await.unwrap());
    }
    // An error answer for a request carrying the token.
    let mut wrong = absent(&request, &["observations"], &accepting.base, Some(TOKEN));
    wrong["hook"] = json!("order-sign");
    let response = client
        .post(format!("{}{path}", server.address))
        .json(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    bodies.push(response.text().await.unwrap());
    let metrics = server.metrics().await;
    let (status, logs) = server.stop();
    assert!(status.success());
    assert!(
        logs.iter().any(|l| l.contains("prefetch fallback")),
        "the fallback logged nothing: {logs:#?}"
    );
    for s in refusing.seen().iter().chain(accepting.seen().iter()) {
        assert_eq!(
            s.authorization.as_deref(),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert!(!s.query.contains(TOKEN) && !s.path.contains(TOKEN));
        assert!(
            !s.query.contains("SESSION-Q"),
            "fhirServer's query leaked: {s:?}"
        );
    }
    assert_eq!(accepting.seen().len(), 7);
    for secret in [TOKEN, patient.as_str(), "SESSION-Q", "Observation?patient"] {
        for line in &logs {
            assert!(!line.contains(secret), "`{secret}` in the logs: {line}");
        }
        assert!(!metrics.contains(secret), "`{secret}` in /metrics");
    }
    for body in &bodies {
        assert!(!body.contains(TOKEN), "the token in a response: {body}");
    }
}
