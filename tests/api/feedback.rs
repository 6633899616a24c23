//! `POST /cds-services/{id}/feedback`.

use serde_json::{Value, json};

use crate::helpers::{assert_error, metric_value, spawn_app};

const FEEDBACK: &str = "/cds-services/dvt-order-select/feedback";

#[tokio::test]
async fn accepted_and_overridden_feedback_is_counted() {
    let app = spawn_app().await;
    let body = json!({"feedback": [
        {"card": "0b6e0f4c-7a0e-4e0b-9d7e-6d1c1f1e2a3b", "outcome": "accepted",
         "acceptedSuggestions": [{"id": "4d1c3d6a-1111-4e0b-9d7e-6d1c1f1e2a3b"},
                                 {"id": "4d1c3d6a-2222-4e0b-9d7e-6d1c1f1e2a3b"}],
         "outcomeTimestamp": "2026-03-01T10:00:00Z"},
        {"card": "9a6e0f4c-7a0e-4e0b-9d7e-6d1c1f1e2a3b", "outcome": "overridden",
         "overrideReason": {"reason": {"code": "patient-refused", "system": "https://example.org/reasons"},
                            "userComment": "discussed"},
         "outcomeTimestamp": "2026-03-01T10:00:05Z"}
    ]});
    let response = app.post_json(FEEDBACK, &body).await;
    assert_eq!(response.status().as_u16(), 200);
    let ack: Value = response.json().await.unwrap();
    assert_eq!(ack, json!({"status": "ok"}));

    let metrics = app.metrics().await;
    let get = |series: &str| {
        metric_value(&metrics, series).unwrap_or_else(|| panic!("{series} in\n{metrics}"))
    };
    assert_eq!(
        get("dvt_cds_feedback_total{outcome=\"accepted\",service=\"dvt-order-select\"}"),
        1.0
    );
    assert_eq!(
        get("dvt_cds_feedback_total{outcome=\"overridden\",service=\"dvt-order-select\"}"),
        1.0
    );
    assert_eq!(
        get("dvt_cds_feedback_total{outcome=\"accepted\",service=\"dvt-order-sign\"}"),
        0.0
    );
    assert_eq!(
        get("dvt_cds_feedback_accepted_suggestions_total{service=\"dvt-order-select\"}"),
        2.0
    );
}

#[tokio::test]
async fn invalid_feedback_is_400_with_the_pointer() {
    let app = spawn_app().await;
    let body = json!({"feedback": [{"card": "c1", "outcome": "accepted",
                                    "outcomeTimestamp": "2026-03-01T10:00:00Z"}]});
    let error = assert_error(
        app.post_json(FEEDBACK, &body).await,
        400,
        "schema-violation",
    )
    .await;
    assert_eq!(error["pointer"], json!("/feedback/0/acceptedSuggestions"));

    let body = json!({"feedback": [{"card": "c1", "outcome": "ignored",
                                    "outcomeTimestamp": "2026-03-01T10:00:00Z"}]});
    let error = assert_error(
        app.post_json(FEEDBACK, &body).await,
        400,
        "schema-violation",
    )
    .await;
    assert_eq!(error["pointer"], json!("/feedback/0/outcome"));

    let response = app.post_raw(FEEDBACK, "application/json", "[").await;
    assert_error(response, 400, "malformed-json").await;
    let response = app.post_raw(FEEDBACK, "text/plain", "{}").await;
    assert_error(response, 415, "unsupported-media-type").await;
}

#[tokio::test]
async fn feedback_for_an_unknown_service_is_404() {
    let app = spawn_app().await;
    let body = json!({"feedback": [{"card": "c1", "outcome": "overridden",
                                    "outcomeTimestamp": "2026-03-01T10:00:00Z"}]});
    let response = app.post_json("/cds-services/nope/feedback", &body).await;
    assert_error(response, 404, "unknown-service").await;
}
