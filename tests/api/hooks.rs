//! `POST /cds-services/{id}`: every error status, and a successful call.

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{
    assert_error, order_select_request, order_sign_request, spawn_app, spawn_app_with,
};

const SELECT: &str = "/cds-services/dvt-order-select";
const SIGN: &str = "/cds-services/dvt-order-sign";

#[tokio::test]
async fn a_valid_request_gets_cards_that_validate_against_the_response_schema() {
    let app = spawn_app().await;
    for (path, request) in [
        (SELECT, order_select_request()),
        (SIGN, order_sign_request()),
    ] {
        let response = app.post_json(path, &request).await;
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let body: Value = response.json().await.unwrap();
        assert!(body["cards"].is_array(), "{body}");
        app.schemas
            .check_response(&body)
            .unwrap_or_else(|v| panic!("{path}: response breaks the schema: {v}\n{body}"));
    }
}

#[tokio::test]
async fn malformed_json_is_400_naming_the_position() {
    let app = spawn_app().await;
    let response = app
        .post_raw(
            SELECT,
            "application/json",
            "{\n  \"hook\": \"order-select\",\n  \"context\": }",
        )
        .await;
    let error = assert_error(response, 400, "malformed-json").await;
    assert_eq!(error["line"], json!(3), "{error}");
    assert!(error["column"].as_u64().is_some(), "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("line 3"),
        "{error}"
    );
}

#[tokio::test]
async fn a_schema_violation_is_400_with_the_pointer() {
    let app = spawn_app().await;
    let mut request = order_select_request();
    request["context"]
        .as_object_mut()
        .unwrap()
        .remove("patientId");
    let error = assert_error(
        app.post_json(SELECT, &request).await,
        400,
        "schema-violation",
    )
    .await;
    assert_eq!(error["pointer"], json!("/context/patientId"), "{error}");

    let mut request = order_select_request();
    request["context"]["draftOrders"] = json!({"resourceType": "Patient"});
    let error = assert_error(
        app.post_json(SELECT, &request).await,
        400,
        "schema-violation",
    )
    .await;
    assert_eq!(
        error["pointer"],
        json!("/context/draftOrders/resourceType"),
        "{error}"
    );

    let mut request = order_select_request();
    request["prefetch"]["conditions"] = json!("not a resource");
    let error = assert_error(
        app.post_json(SELECT, &request).await,
        400,
        "schema-violation",
    )
    .await;
    assert_eq!(error["pointer"], json!("/prefetch/conditions"), "{error}");
}

#[tokio::test]
async fn an_unsupported_hook_is_400() {
    let app = spawn_app().await;
    let mut request = order_select_request();
    request["hook"] = json!("patient-view");
    let error = assert_error(
        app.post_json(SELECT, &request).await,
        400,
        "invalid-request",
    )
    .await;
    assert_eq!(error["pointer"], json!("/hook"), "{error}");
}

#[tokio::test]
async fn the_wrong_hook_for_the_service_is_400() {
    let app = spawn_app().await;
    let error = assert_error(
        app.post_json(SELECT, &order_sign_request()).await,
        400,
        "hook-mismatch",
    )
    .await;
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("order-select") && message.contains("order-sign"),
        "{message}"
    );
}

#[tokio::test]
async fn an_unknown_service_is_404_naming_the_known_ids() {
    let app = spawn_app().await;
    let response = app
        .post_json("/cds-services/dvt-patient-view", &order_select_request())
        .await;
    let error = assert_error(response, 404, "unknown-service").await;
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("dvt-order-select") && message.contains("dvt-order-sign"),
        "{message}"
    );
}

#[tokio::test]
async fn an_unknown_path_is_404_json() {
    let app = spawn_app().await;
    assert_error(app.get("/no/such/path").await, 404, "not-found").await;
    assert_error(
        app.get("/cds-services/dvt-order-select/nope").await,
        404,
        "not-found",
    )
    .await;
}

#[tokio::test]
async fn a_wrong_method_is_405_with_allow() {
    let app = spawn_app().await;
    let response = app.get(SELECT).await;
    let allow = response.headers()["allow"].to_str().unwrap().to_owned();
    assert!(allow.contains("POST"), "{allow}");
    assert_error(response, 405, "method-not-allowed").await;

    let response = app
        .client
        .delete(app.url("/cds-services"))
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["allow"]
            .to_str()
            .unwrap()
            .contains("GET")
    );
    assert_error(response, 405, "method-not-allowed").await;

    let response = app
        .client
        .put(app.url("/cds-services/dvt-order-sign/feedback"))
        .send()
        .await
        .unwrap();
    assert_error(response, 405, "method-not-allowed").await;

    let response = app.client.post(app.url("/metrics")).send().await.unwrap();
    assert_error(response, 405, "method-not-allowed").await;
}

#[tokio::test]
async fn missing_prefetch_keys_are_412_and_listed() {
    let app = spawn_app().await;
    let mut request = order_select_request();
    request.as_object_mut().unwrap().remove("fhirServer");
    let prefetch = request["prefetch"].as_object_mut().unwrap();
    prefetch.remove("conditions");
    prefetch.remove("serviceRequests");
    let error = assert_error(
        app.post_json(SELECT, &request).await,
        412,
        "missing-prefetch",
    )
    .await;
    let mut missing: Vec<&str> = error["missing"]
        .as_array()
        .expect("missing keys")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    missing.sort_unstable();
    assert_eq!(missing, ["conditions", "serviceRequests"], "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("conditions") && message.contains("fhirServer"),
        "{message}"
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = spawn_app_with(|s| s.max_body_bytes = 1024).await;
    let mut request = order_select_request();
    request["extension"] = json!({"padding": "x".repeat(2048)});
    assert_error(
        app.post_json(SELECT, &request).await,
        413,
        "payload-too-large",
    )
    .await;
    // A body under the limit is read as usual.
    let response = app.post_raw(SELECT, "application/json", "{").await;
    assert_error(response, 400, "malformed-json").await;
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413() {
    let app = spawn_app_with(|s| s.max_body_bytes = 1024).await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let chunk = format!("{{\"pad\": \"{}\"}}", "x".repeat(1500));
    let request = format!(
        "POST {SELECT} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"payload-too-large\""), "{answer}");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let app = spawn_app().await;
    let body = order_select_request().to_string();
    let response = app.post_raw(SELECT, "text/plain", body.clone()).await;
    assert_error(response, 415, "unsupported-media-type").await;
    let response = app
        .client
        .post(app.url(SELECT))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_error(response, 415, "unsupported-media-type").await;
}

#[tokio::test]
async fn fhir_json_and_a_charset_parameter_are_accepted() {
    let app = spawn_app().await;
    for content_type in [
        "application/fhir+json",
        "application/json; charset=utf-8",
        "Application/JSON;charset=UTF-8",
    ] {
        // A schema violation proves the body was read as JSON (not 415).
        let response = app
            .post_raw(SELECT, content_type, "{\"hook\": \"order-select\"}")
            .await;
        assert_error(response, 400, "schema-violation").await;
    }
}

#[tokio::test]
async fn a_large_body_over_the_limit_gets_a_readable_413() {
    let app = spawn_app_with(|s| s.max_body_bytes = 1024 * 1024).await;
    let body = format!("{{\"pad\": \"{}\"}}", "x".repeat(6 * 1024 * 1024));
    let response = app.post_raw(SELECT, "application/json", body).await;
    assert_error(response, 413, "payload-too-large").await;
}

/// A body over 1 MiB is evaluated on the blocking pool, a smaller one on the worker
/// (`routes::hook`): both answer alike. The big one is a fixture's record plus thousands of
/// Observations the rules do not read (sodium).
#[tokio::test]
async fn a_body_over_a_mebibyte_answers_like_the_same_record_without_padding() {
    let (small, now) =
        crate::fallback::fixture("recommendation/anticoagulate-order-select-unprovoked");
    let app = spawn_app_with(|s| s.fixed_now = Some(now)).await;
    let mut big = small.clone();
    let entries = big["prefetch"]["observations"]["entry"]
        .as_array_mut()
        .unwrap();
    for i in 0..4000 {
        entries.push(json!({"resource": {
            "resourceType": "Observation", "id": format!("na-{i}"), "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "2951-2"}]},
            "subject": {"reference": "Patient/padding"},
            "effectiveDateTime": "2026-11-01T08:00:00Z",
            "valueQuantity": {"value": 140, "unit": "mmol/L",
                              "system": "http://unitsofmeasure.org", "code": "mmol/L"}
        }}));
    }
    assert!(serde_json::to_vec(&big).unwrap().len() > 1024 * 1024);
    assert!(serde_json::to_vec(&small).unwrap().len() < 1024 * 1024);
    let mut answers = Vec::new();
    for request in [&small, &big] {
        let response = app.post_json(SELECT, request).await;
        assert_eq!(response.status().as_u16(), 200);
        let body: Value = response.json().await.unwrap();
        assert!(!body["cards"].as_array().unwrap().is_empty(), "{body}");
        answers.push(crate::helpers::without_uuids(&body));
    }
    assert_eq!(answers[0], answers[1]);
}
