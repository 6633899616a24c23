//! `GET /cds-services`.

use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn discovery_lists_the_two_services_with_their_seven_prefetch_templates() {
    let app = spawn_app().await;
    let response = app.get("/cds-services").await;
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = response.json().await.unwrap();
    app.schemas
        .check_discovery(&body)
        .expect("discovery validates against cds-hooks-discovery.json");
    let services = body["services"].as_array().expect("services array");
    assert_eq!(services.len(), 2);
    let by_id = |id: &str| {
        services
            .iter()
            .find(|s| s["id"] == json!(id))
            .unwrap_or_else(|| panic!("service {id} in {body}"))
    };
    assert_eq!(by_id("dvt-order-select")["hook"], json!("order-select"));
    assert_eq!(by_id("dvt-order-sign")["hook"], json!("order-sign"));
    let expected = json!({
        "patient": "Patient/{{context.patientId}}",
        "conditions": "Condition?patient={{context.patientId}}",
        "observations": "Observation?patient={{context.patientId}}",
        "medications": "MedicationRequest?patient={{context.patientId}}",
        "encounters": "Encounter?patient={{context.patientId}}",
        "procedures": "Procedure?patient={{context.patientId}}",
        "serviceRequests": "ServiceRequest?patient={{context.patientId}}",
    });
    for service in services {
        let prefetch = service["prefetch"].as_object().expect("prefetch object");
        assert_eq!(prefetch.len(), 7, "{service}");
        for (key, template) in expected.as_object().unwrap() {
            // The contract allows narrowing a template (e.g. observations by category).
            let got = prefetch[key].as_str().unwrap_or_default();
            assert!(got.starts_with(template.as_str().unwrap()), "{key}: {got}");
        }
        for member in ["title", "description", "usageRequirements"] {
            assert!(
                service[member].as_str().is_some_and(|s| !s.is_empty()),
                "{member}"
            );
        }
    }
}

#[tokio::test]
async fn discovery_answers_head() {
    let app = spawn_app().await;
    let response = app
        .client
        .head(app.url("/cds-services"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}
