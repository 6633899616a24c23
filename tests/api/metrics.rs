//! `GET /metrics`.

use crate::helpers::{metric_value, order_select_request, spawn_app, spawn_app_with};

#[tokio::test]
async fn metrics_count_requests_by_service_and_status() {
    let app = spawn_app().await;
    let mut request = order_select_request();
    request["context"]
        .as_object_mut()
        .unwrap()
        .remove("patientId");
    let response = app
        .post_json("/cds-services/dvt-order-select", &request)
        .await;
    assert_eq!(response.status().as_u16(), 400);
    app.post_json("/cds-services/not-a-service", &request).await;
    app.get("/cds-services").await;

    let response = app.get("/metrics").await;
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = response.text().await.unwrap();
    let get =
        |series: &str| metric_value(&text, series).unwrap_or_else(|| panic!("{series} in\n{text}"));
    assert_eq!(
        get(
            "dvt_cds_http_requests_total{route=\"/cds-services/{id}\",service=\"dvt-order-select\",status=\"400\"}"
        ),
        1.0
    );
    // An unknown id is counted under `unknown`, never under the id sent.
    assert_eq!(
        get(
            "dvt_cds_http_requests_total{route=\"/cds-services/{id}\",service=\"unknown\",status=\"404\"}"
        ),
        1.0
    );
    assert!(!text.contains("not-a-service"));
    assert_eq!(
        get("dvt_cds_http_requests_total{route=\"/cds-services\",service=\"none\",status=\"200\"}"),
        1.0
    );
    assert_eq!(
        get(
            "dvt_cds_http_request_duration_seconds_count{route=\"/cds-services/{id}\",service=\"dvt-order-select\"}"
        ),
        1.0
    );
    for name in [
        "dvt_cds_prefetch_skipped_entries_total",
        "dvt_cds_unreadable_resources_total",
        "dvt_cds_feedback_total",
    ] {
        assert!(text.contains(&format!("# TYPE {name} counter")), "{name}");
    }
}

#[tokio::test]
async fn metrics_count_cards_by_kind_after_a_hook_call() {
    let now = time::macros::datetime!(2026-11-20 12:00 UTC);
    let app = spawn_app_with(|s| s.fixed_now = Some(now)).await;
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fhir-fixtures/recommendation/anticoagulate-order-select-unprovoked.request.json");
    let request: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    let response = app
        .post_json("/cds-services/dvt-order-select", &request)
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(!body["cards"].as_array().unwrap().is_empty(), "{body}");
    let text = app.metrics().await;
    assert_eq!(
        metric_value(
            &text,
            "dvt_cds_http_requests_total{route=\"/cds-services/{id}\",service=\"dvt-order-select\",status=\"200\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric_value(
            &text,
            "dvt_cds_cards_total{check=\"\",kind=\"stratification\",recommendation=\"anticoagulate\",service=\"dvt-order-select\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert!(text.contains("dvt_cds_prefetch_skipped_entries_total{service=\"dvt-order-select\"}"));
}
