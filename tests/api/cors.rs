//! CORS for browser callers (the CDS Hooks sandbox).

use crate::helpers::{order_select_request, spawn_app};

const ORIGIN: &str = "https://sandbox.cds-hooks.org";

#[tokio::test]
async fn a_preflight_is_answered_without_auth() {
    let app = spawn_app().await;
    for path in [
        "/cds-services",
        "/cds-services/dvt-order-select",
        "/cds-services/dvt-order-sign/feedback",
    ] {
        let response = app
            .client
            .request(reqwest::Method::OPTIONS, app.url(path))
            .header("Origin", ORIGIN)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization, content-type",
            )
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_ascii_lowercase()
        };
        assert_eq!(header("access-control-allow-origin"), "*", "{path}");
        let methods = header("access-control-allow-methods");
        for method in ["get", "post", "options"] {
            assert!(methods.contains(method), "{path}: {methods}");
        }
        let headers = header("access-control-allow-headers");
        assert!(
            headers.contains("authorization") && headers.contains("content-type"),
            "{path}: {headers}"
        );
    }
}

#[tokio::test]
async fn responses_carry_the_allow_origin_header() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/cds-services"))
        .header("Origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    // Error responses too, so the browser can read them.
    let mut request = order_select_request();
    request["context"].as_object_mut().unwrap().remove("userId");
    let response = app
        .client
        .post(app.url("/cds-services/dvt-order-select"))
        .header("Origin", ORIGIN)
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn a_plain_options_request_lists_the_allowed_methods() {
    let app = spawn_app().await;
    let response = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            app.url("/cds-services/dvt-order-select"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    assert!(
        response.headers()["allow"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
}
