//! `GET /healthz`, `GET /readyz` (the 503 before readiness is a unit test in `src/http/routes.rs`).

use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn healthz_is_200() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"status": "ok"})
    );
}

#[tokio::test]
async fn readyz_is_200_once_configuration_is_loaded() {
    let app = spawn_app().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], json!("ready"));
    assert_eq!(body["services"], json!(2));
    assert!(
        body["rulesetVersion"]
            .as_str()
            .is_some_and(|v| !v.is_empty())
    );
}
