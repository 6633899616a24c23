//! Resource limits over HTTP: JSON depth (400), Bundle entries (413), the request deadline
//! (503 + Retry-After; 408 for a body that does not arrive), concurrent hook requests (503 +
//! Retry-After, health and metrics still served), slow clients (slowloris: the connection is
//! answered 408 / closed while others are served), and the counters of every refusal.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::fallback::{absent, fixture};
use crate::fhir_stub::{Behaviour, StubFhir};
use crate::helpers::{
    ServerProcess, TestApp, assert_error, binary, metric_value, order_select_request,
    spawn_app_with,
};

const SELECT: &str = "/cds-services/dvt-order-select";
const FIXTURE: &str = "recommendation/anticoagulate-order-select-unprovoked";
/// Only a guard against a hung test, never an assertion on speed.
const HANG_GUARD: Duration = Duration::from_secs(60);

fn nested(depth: usize) -> Value {
    let mut value = json!("leaf");
    for _ in 0..depth {
        value = json!([value]);
    }
    value
}

async fn rejected(app: &TestApp, reason: &str) -> f64 {
    metric_value(
        &app.metrics().await,
        &format!("dvt_cds_rejected_requests_total{{reason=\"{reason}\"}}"),
    )
    .unwrap_or_else(|| panic!("no rejected_requests_total series for {reason}"))
}

#[tokio::test]
async fn json_nested_deeper_than_the_limit_is_400_naming_the_limit() {
    let app = spawn_app_with(|s| s.limits.max_json_depth = 16).await;
    // 2 levels (request, extension) + 15 arrays = 17.
    let mut request = order_select_request();
    request["extension"] = json!({"deep": nested(15)});
    let error = assert_error(app.post_json(SELECT, &request).await, 400, "json-too-deep").await;
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("16") && message.contains("DVT_CDS_MAX_JSON_DEPTH"),
        "{message}"
    );
    // Brackets inside strings are text, not nesting.
    request["extension"] = json!({"text": "[[[[[[[[[[[[[[[[[[[[{{{{{{{{{{{{{{{{{{{{\"\\"});
    let response = app.post_json(SELECT, &request).await;
    assert_eq!(response.status().as_u16(), 200);
    // Exactly at the limit (2 + 14 = 16) is accepted.
    request["extension"] = json!({"deep": nested(14)});
    assert_eq!(app.post_json(SELECT, &request).await.status().as_u16(), 200);
    // Feedback is checked too.
    let feedback = json!({"feedback": [{"card": "0b6e0f4c-7a0e-4e0b-9d7e-6d1c1f1e2a3b",
        "outcome": "accepted", "outcomeTimestamp": "2026-03-01T10:00:00Z",
        "extension": {"deep": nested(20)}}]});
    let response = app
        .post_json("/cds-services/dvt-order-select/feedback", &feedback)
        .await;
    assert_error(response, 400, "json-too-deep").await;
    assert_eq!(rejected(&app, "json-too-deep").await, 2.0);
}

#[tokio::test]
async fn json_deeper_than_serde_json_can_parse_is_json_too_deep_not_a_crash() {
    // Default limit (64); 5000 levels would overflow a naive recursive parser.
    let app = spawn_app_with(|_| {}).await;
    let body = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let response = app.post_raw(SELECT, "application/json", body).await;
    assert_error(response, 400, "json-too-deep").await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status().as_u16(), 200);
}

fn bundle(entries: usize) -> Value {
    let entry: Vec<Value> = (0..entries)
        .map(|i| json!({"resource": {"resourceType": "Observation", "id": format!("o{i}"), "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}}}))
        .collect();
    json!({"resourceType": "Bundle", "type": "searchset", "entry": entry})
}

#[tokio::test]
async fn a_bundle_with_more_entries_than_the_limit_is_413_naming_key_and_limit() {
    let app = spawn_app_with(|s| s.limits.max_bundle_entries = 5).await;
    let mut request = order_select_request();
    request["prefetch"]["observations"] = bundle(6);
    let error = assert_error(
        app.post_json(SELECT, &request).await,
        413,
        "too-many-bundle-entries",
    )
    .await;
    assert_eq!(error["pointer"], "/prefetch/observations/entry");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("`observations`")
            && message.contains(" 5 ")
            && message.contains("DVT_CDS_MAX_BUNDLE_ENTRIES"),
        "{message}"
    );
    request["prefetch"]["observations"] = bundle(5);
    assert_eq!(app.post_json(SELECT, &request).await.status().as_u16(), 200);
    // draftOrders counts too.
    let mut request = order_select_request();
    let entry = request["context"]["draftOrders"]["entry"][0].clone();
    request["context"]["draftOrders"]["entry"] = json!(vec![entry; 6]);
    let error = assert_error(
        app.post_json(SELECT, &request).await,
        413,
        "too-many-bundle-entries",
    )
    .await;
    assert_eq!(error["pointer"], "/context/draftOrders/entry");
    assert_eq!(rejected(&app, "too-many-bundle-entries").await, 2.0);
}

#[tokio::test]
async fn a_100k_entry_bundle_is_refused_with_the_default_limit() {
    let app = spawn_app_with(|s| s.max_body_bytes = 64 * 1024 * 1024).await;
    let mut request = order_select_request();
    request["prefetch"]["observations"] = bundle(100_000);
    let error = assert_error(
        app.post_json(SELECT, &request).await,
        413,
        "too-many-bundle-entries",
    )
    .await;
    assert!(
        error["message"].as_str().unwrap().contains("100000"),
        "{error}"
    );
}

#[tokio::test]
async fn the_deadline_covers_the_fallback_fetch_503_with_retry_after() {
    let (request, _) = fixture(FIXTURE);
    let stub = StubFhir::start(
        &request,
        Behaviour {
            delay: Some(Duration::from_secs(5)),
            ..Behaviour::default()
        },
    );
    // The deadline equals the fetch budget: a fetch that uses all of its budget leaves no time.
    let app = spawn_app_with(|s| {
        s.fhir_budget = Duration::from_millis(300);
        s.limits.request_deadline = Duration::from_millis(300);
    })
    .await;
    let body = absent(&request, &["observations"], &stub.base, None);
    let response = tokio::time::timeout(HANG_GUARD, app.post_json(SELECT, &body))
        .await
        .expect("answered");
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("5")
    );
    let error = assert_error(response, 503, "deadline-exceeded").await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("DVT_CDS_REQUEST_DEADLINE_MS"),
        "{error}"
    );
    assert_eq!(rejected(&app, "deadline-exceeded").await, 1.0);
    // The same request with all keys present answers 200 (no fetch).
    let response = app.post_json(SELECT, &request).await;
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn a_body_that_does_not_arrive_before_the_deadline_is_408() {
    let app = spawn_app_with(|s| {
        s.fhir_budget = Duration::from_millis(300);
        s.limits.request_deadline = Duration::from_millis(300);
    })
    .await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    // Content-Length promises 1000 bytes; 10 arrive, then nothing.
    let head = format!(
        "POST {SELECT} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: 1000\r\n\r\n{{\"hook\": \""
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(HANG_GUARD, stream.read_to_end(&mut answer))
        .await
        .expect("the server answers")
        .ok();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"request-timeout\""), "{answer}");
    assert_eq!(rejected(&app, "request-timeout").await, 1.0);
}

#[tokio::test]
async fn over_the_concurrency_limit_hooks_get_503_while_health_and_metrics_are_served() {
    let (request, _) = fixture(FIXTURE);
    let stub = StubFhir::start(
        &request,
        Behaviour {
            delay: Some(Duration::from_millis(1500)),
            ..Behaviour::default()
        },
    );
    let app = spawn_app_with(|s| {
        s.limits.max_concurrent_requests = 1;
        s.fhir_budget = Duration::from_secs(20);
        s.limits.request_deadline = Duration::from_secs(30);
    })
    .await;
    // Request A holds the only slot while the stub delays its fetch.
    let slow = absent(&request, &["observations"], &stub.base, None);
    let client = app.client.clone();
    let url = app.url(SELECT);
    let first = tokio::spawn(async move {
        client
            .post(url)
            .header("Content-Type", "application/json")
            .body(slow.to_string())
            .send()
            .await
            .unwrap()
    });
    tokio::time::timeout(HANG_GUARD, async {
        while stub.seen().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("request A reached the FHIR server");
    // B: refused at once, with Retry-After.
    let response = app.post_json(SELECT, &request).await;
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let error = assert_error(response, 503, "overloaded").await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("DVT_CDS_MAX_CONCURRENT_REQUESTS"),
        "{error}"
    );
    let feedback = json!({"feedback": [{"card": "0b6e0f4c-7a0e-4e0b-9d7e-6d1c1f1e2a3b",
        "outcome": "accepted", "outcomeTimestamp": "2026-03-01T10:00:00Z"}]});
    let response = app
        .post_json("/cds-services/dvt-order-select/feedback", &feedback)
        .await;
    assert_error(response, 503, "overloaded").await;
    // Not starved: health, readiness, metrics, discovery, OpenAPI.
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/cds-services",
        "/openapi.json",
    ] {
        assert_eq!(app.get(path).await.status().as_u16(), 200, "{path}");
    }
    assert_eq!(rejected(&app, "overloaded").await, 2.0);
    // A finishes normally; then the slot is free again.
    let response = tokio::time::timeout(HANG_GUARD, first)
        .await
        .expect("A answers")
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(app.post_json(SELECT, &request).await.status().as_u16(), 200);
}

/// Read until the server closes the connection (or the hang guard fires).
async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> String {
    let mut answer = Vec::new();
    let read = tokio::time::timeout(HANG_GUARD, stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server did not close the connection");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_slow_client_is_answered_408_and_closed_while_others_are_served() {
    let app = spawn_app_with(|s| {
        s.limits.client_request_timeout = Duration::from_millis(300);
    })
    .await;
    let address = app.address.trim_start_matches("http://").to_owned();
    // Slowloris: a request head that never ends, one header line at a time.
    let mut dribbler = tokio::net::TcpStream::connect(&address).await.unwrap();
    dribbler
        .write_all(format!("POST {SELECT} HTTP/1.1\r\nHost: {address}\r\n").as_bytes())
        .await
        .unwrap();
    // An idle connection that sends nothing at all.
    let mut idle = tokio::net::TcpStream::connect(&address).await.unwrap();
    // Meanwhile others are served (one worker thread in the tests).
    for _ in 0..3 {
        assert_eq!(app.get("/healthz").await.status().as_u16(), 200);
        let response = app.post_json(SELECT, &order_select_request()).await;
        assert_eq!(response.status().as_u16(), 200);
        let _ = dribbler.write_all(b"X-Slow: 1\r\n").await;
    }
    // Both are answered 408 and closed (read to the end: the server closed them).
    let answer = read_until_closed(&mut dribbler).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let answer = read_until_closed(&mut idle).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_eq!(app.get("/readyz").await.status().as_u16(), 200);
}

#[test]
fn the_limits_are_read_from_the_environment_and_checked() {
    // A deadline shorter than the fetch budget stops start-up, naming both variables.
    let output = binary()
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("DVT_CDS_REQUEST_DEADLINE_MS", "1000")
        .env("DVT_CDS_FHIR_BUDGET_MS", "3000")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("DVT_CDS_REQUEST_DEADLINE_MS") && stderr.contains("DVT_CDS_FHIR_BUDGET_MS"),
        "{stderr}"
    );
    // A depth above serde_json's own limit is refused.
    let output = binary()
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("DVT_CDS_MAX_JSON_DEPTH", "500")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("max-json-depth"), "{stderr}");
    // The values in effect are logged at start-up.
    let server = ServerProcess::start(
        &["--bind", "127.0.0.1:0"],
        &[
            ("DVT_CDS_MAX_JSON_DEPTH", "20"),
            ("DVT_CDS_MAX_BUNDLE_ENTRIES", "7"),
            ("DVT_CDS_REQUEST_DEADLINE_MS", "4000"),
            ("DVT_CDS_MAX_CONCURRENT_REQUESTS", "3"),
            ("DVT_CDS_CLIENT_REQUEST_TIMEOUT_MS", "2000"),
            ("DVT_CDS_CLIENT_DISCONNECT_TIMEOUT_MS", "500"),
            ("DVT_CDS_KEEP_ALIVE_SECS", "0"),
        ],
    );
    let (status, logs) = server.stop();
    assert!(status.success());
    let listening: Value = logs
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["message"] == "listening")
        .expect("listening line");
    assert_eq!(listening["max_json_depth"], 20);
    assert_eq!(listening["max_bundle_entries"], 7);
    assert_eq!(listening["request_deadline_ms"], 4000);
    assert_eq!(listening["max_concurrent_requests"], 3);
}
