//! No patient data, token or query string in the logs, error bodies or metrics: the real
//! binary in a subprocess (JSON logs on stderr, RUST_LOG=debug), requests full of
//! distinctive fake identifiers on every path (200, 400, 404, 412, 413, feedback; 401 with
//! auth on; 405, 415, 408, JSON depth, Bundle entries, chunked 413, 503 deadline and
//! concurrency, and fallback fetches that fail).

use serde_json::{Value, json};

use crate::helpers::{ServerProcess, order_select_request};

const NAME_GIVEN: &str = "Zebediah";
const NAME_FAMILY: &str = "Quackenbush-Phi";
const PATIENT_ID: &str = "pt-qxz-55213";
const MRN: &str = "MRN-7731-QXZ";
const BIRTH_DATE: &str = "1931-07-14";
const PHONE: &str = "+1-555-0199-7731";
const ACCESS_TOKEN: &str = "eyJhbGciOiJQWElUT0tFTi1TRUNSRVQtOTk0Mg";
const HEADER_TOKEN: &str = "HDR-TOKEN-QXZ-8812";
const FHIR_QUERY: &str = "SESSION-QXZ-4411";
const URL_QUERY: &str = "QUERY-QXZ-3301";
const PATH_SECRET: &str = "PATH-QXZ-6620";
const COMMENT: &str = "COMMENT-QXZ-9090";

const SECRETS: [&str; 12] = [
    NAME_GIVEN,
    NAME_FAMILY,
    PATIENT_ID,
    MRN,
    BIRTH_DATE,
    PHONE,
    ACCESS_TOKEN,
    HEADER_TOKEN,
    FHIR_QUERY,
    URL_QUERY,
    PATH_SECRET,
    COMMENT,
];

/// None of `secrets` appears in an error body, in `/metrics` or in a log line.
fn assert_never_seen(
    secrets: &[impl AsRef<str>],
    bodies: &[String],
    metrics: &str,
    logs: &[String],
) {
    for secret in secrets.iter().map(AsRef::as_ref) {
        for body in bodies {
            assert!(
                !body.contains(secret),
                "`{secret}` in an error body: {body}"
            );
        }
        assert!(!metrics.contains(secret), "`{secret}` in /metrics");
        for line in logs {
            assert!(!line.contains(secret), "`{secret}` in the logs: {line}");
        }
    }
}

fn phi_request() -> Value {
    let mut request = order_select_request();
    request["fhirServer"] = json!(format!("https://ehr.example/fhir?session={FHIR_QUERY}"));
    request["fhirAuthorization"] = json!({
        "access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 300,
        "scope": "patient/*.read", "subject": "distal-dvt-cds", "patient": PATIENT_ID
    });
    request["context"]["patientId"] = json!(PATIENT_ID);
    request["context"]["draftOrders"]["entry"][0]["resource"]["subject"] = json!({"reference": format!("Patient/{PATIENT_ID}"), "display": format!("{NAME_GIVEN} {NAME_FAMILY}")});
    request["prefetch"]["patient"] = json!({
        "resourceType": "Patient", "id": PATIENT_ID,
        "identifier": [{"system": "urn:oid:1.2.3.4", "value": MRN}],
        "name": [{"family": NAME_FAMILY, "given": [NAME_GIVEN]}],
        "telecom": [{"system": "phone", "value": PHONE}],
        "birthDate": BIRTH_DATE, "gender": "male"
    });
    request["prefetch"]["conditions"] = json!({
        "resourceType": "Bundle", "type": "searchset",
        "entry": [{"resource": {"resourceType": "Condition", "id": "c1",
            "subject": {"reference": format!("Patient/{PATIENT_ID}"), "display": NAME_FAMILY},
            "note": [{"text": format!("{NAME_GIVEN} {NAME_FAMILY} born {BIRTH_DATE}")}]}}]
    });
    request
}

/// A fixture with a stratification card, with names, identifiers and a token added.
fn phi_fixture() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fhir-fixtures/recommendation/anticoagulate-order-select-unprovoked.request.json");
    let mut request: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    request["fhirAuthorization"] = json!({
        "access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 300,
        "scope": "patient/*.read", "subject": "distal-dvt-cds"
    });
    let patient = &mut request["prefetch"]["patient"];
    patient["name"] = json!([{"family": NAME_FAMILY, "given": [NAME_GIVEN]}]);
    patient["identifier"] = json!([{"system": "urn:oid:1.2.3.4", "value": MRN}]);
    patient["telecom"] = json!([{"system": "phone", "value": PHONE}]);
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_patient_data_in_logs_error_bodies_or_metrics() {
    let server = ServerProcess::start(
        &["--bind", "127.0.0.1:0"],
        &[
            ("DVT_CDS_LOG_FORMAT", "json"),
            ("DVT_CDS_MAX_BODY_BYTES", "16384"),
            ("RUST_LOG", "debug"),
        ],
    );
    let client = reqwest::Client::new();
    let select = format!(
        "{}/cds-services/dvt-order-select?patient={URL_QUERY}",
        server.address
    );
    let post = |url: String, body: String| {
        client
            .post(url)
            .header("Content-Type", "application/json")
            .header("Authorization", format!("Bearer {HEADER_TOKEN}"))
            .header("X-Patient-Name", NAME_FAMILY)
            .body(body)
    };
    let mut bodies = Vec::new();
    let check = |status: u16, response: reqwest::Response| {
        let got = response.status().as_u16();
        (got == status, got, response)
    };

    // 200: a valid request full of patient data.
    let (ok, got, response) = check(
        200,
        post(select.clone(), phi_request().to_string())
            .send()
            .await
            .unwrap(),
    );
    let valid_body = response.text().await.unwrap();
    assert!(ok, "valid request: {got} {valid_body}");

    // 200: a fixture patient with a distal DVT (cards rendered), with identifiers added.
    let (ok, got, response) = check(
        200,
        post(select.clone(), phi_fixture().to_string())
            .send()
            .await
            .unwrap(),
    );
    let valid_body = response.text().await.unwrap();
    assert!(ok, "fixture request: {got} {valid_body}");

    // 400: a schema violation whose offending value is a name.
    let mut request = phi_request();
    request["context"]["patientId"] =
        json!({"name": format!("{NAME_GIVEN} {NAME_FAMILY}"), "mrn": MRN});
    let (ok, got, response) = check(
        400,
        post(select.clone(), request.to_string())
            .send()
            .await
            .unwrap(),
    );
    bodies.push(response.text().await.unwrap());
    assert!(ok, "schema violation: {got} {:?}", bodies.last());

    let mut request = phi_request();
    request["hookInstance"] = json!(format!("{NAME_FAMILY}-{BIRTH_DATE}"));
    request["context"]["selections"] = json!([{"reference": NAME_FAMILY}]);
    let (ok, got, response) = check(
        400,
        post(select.clone(), request.to_string())
            .send()
            .await
            .unwrap(),
    );
    bodies.push(response.text().await.unwrap());
    assert!(ok, "schema violation: {got} {:?}", bodies.last());

    // 400: malformed JSON cut in the middle of a name.
    let text = phi_request().to_string();
    let cut = text.find(NAME_FAMILY).unwrap() + 5;
    let (ok, got, response) = check(
        400,
        post(select.clone(), text[..cut].to_owned())
            .send()
            .await
            .unwrap(),
    );
    bodies.push(response.text().await.unwrap());
    assert!(ok, "malformed: {got} {:?}", bodies.last());

    // 412: prefetch keys missing, no fhirServer.
    let mut request = phi_request();
    let object = request.as_object_mut().unwrap();
    object.remove("fhirServer");
    object.remove("fhirAuthorization");
    request["prefetch"]
        .as_object_mut()
        .unwrap()
        .remove("observations");
    let (ok, got, response) = check(
        412,
        post(select.clone(), request.to_string())
            .send()
            .await
            .unwrap(),
    );
    bodies.push(response.text().await.unwrap());
    assert!(ok, "missing prefetch: {got} {:?}", bodies.last());

    // 413: over the limit.
    let mut request = phi_request();
    request["extension"] = json!({"note": format!("{NAME_FAMILY} {BIRTH_DATE} ").repeat(1200)});
    let (ok, got, response) = check(
        413,
        post(select.clone(), request.to_string())
            .send()
            .await
            .unwrap(),
    );
    bodies.push(response.text().await.unwrap());
    assert!(ok, "too large: {got} {:?}", bodies.last());

    // 404: an unknown service id and an unknown path that carry identifiers.
    let url = format!("{}/cds-services/{NAME_FAMILY}?mrn={MRN}", server.address);
    let (ok, got, response) = check(
        404,
        post(url, phi_request().to_string()).send().await.unwrap(),
    );
    bodies.push(response.text().await.unwrap());
    assert!(ok, "unknown service: {got} {:?}", bodies.last());
    let url = format!("{}/patients/{PATH_SECRET}", server.address);
    let (ok, got, response) = check(404, client.get(url).send().await.unwrap());
    bodies.push(response.text().await.unwrap());
    assert!(ok, "unknown path: {got} {:?}", bodies.last());

    // Feedback with a free-text comment.
    let feedback = json!({"feedback": [{"card": "0b6e0f4c-7a0e-4e0b-9d7e-6d1c1f1e2a3b",
        "outcome": "overridden", "overrideReason": {"userComment": COMMENT},
        "outcomeTimestamp": "2026-03-01T10:00:00Z"}]});
    let url = format!("{}/cds-services/dvt-order-select/feedback", server.address);
    let (ok, got, response) = check(200, post(url, feedback.to_string()).send().await.unwrap());
    bodies.push(response.text().await.unwrap());
    assert!(ok, "feedback: {got} {:?}", bodies.last());

    let metrics = server.metrics().await;

    let (status, logs) = server.stop();
    assert!(status.success(), "graceful stop: {status:?}");
    assert!(
        logs.iter()
            .filter(|l| l.contains("request completed"))
            .count()
            >= 10,
        "the logs were captured: {logs:#?}"
    );
    assert_never_seen(&SECRETS, &bodies, &metrics, &logs);
}

/// The same with JWT authentication on: valid signed tokens, a replayed one, an expired one,
/// one signed by an unknown key and a token-shaped string. No token (nor any part of one) and
/// no `fhirAuthorization` token appears in the logs, the error bodies or the metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_in_logs_error_bodies_or_metrics_with_auth_on() {
    use crate::jwt::{self, JwksServer, KEYS, claims, header, sign};

    const ISSUER: &str = "https://ehr.example.org/fhir";
    const BAD_TOKEN: &str = "eyJhbGciOiJFUzM4NCJ9.QkFELVRPS0VOLVFYWi01NTEw.c2lnLVFYWi03NzE5";
    let jwks = JwksServer::start().await;
    jwks.set("/jwks.json", jwt::jwks(&[&KEYS.es384, &KEYS.rs384]));
    let issuers = format!("{ISSUER}={}", jwks.url("/jwks.json"));
    let server = ServerProcess::start(
        &["--bind", "127.0.0.1:0"],
        &[
            ("DVT_CDS_AUTH", "required"),
            ("DVT_CDS_TRUSTED_ISSUERS", &issuers),
            ("DVT_CDS_LOG_FORMAT", "json"),
            ("RUST_LOG", "debug"),
        ],
    );
    let client = reqwest::Client::new();
    let select = "/cds-services/dvt-order-select";
    let feedback_path = "/cds-services/dvt-order-select/feedback";
    let url = |path: &str| format!("{}{path}", server.address);
    let mut tokens = vec![BAD_TOKEN.to_owned()];
    let mut token_for = |path: &str, key: &jwt::KeyPair, change: &dyn Fn(&mut Value)| {
        let mut c = claims(ISSUER, &url(path));
        change(&mut c);
        let token = sign(&header(key, None), &c, &key.private);
        tokens.push(token.clone());
        token
    };
    let valid_select = token_for(select, &KEYS.es384, &|_| {});
    let valid_fixture = token_for(select, &KEYS.rs384, &|_| {});
    let valid_schema = token_for(select, &KEYS.es384, &|_| {});
    let valid_feedback = token_for(feedback_path, &KEYS.rs384, &|_| {});
    let valid_discovery = token_for("/cds-services", &KEYS.es384, &|_| {});
    let expired = token_for(select, &KEYS.es384, &|c| {
        c["iat"] = json!(jwt::now() - 1000);
        c["exp"] = json!(jwt::now() - 700);
    });
    let stranger = token_for(select, &KEYS.stranger, &|_| {});

    let post = |path: &str, token: &str, body: String| {
        client
            .post(url(path))
            .header("Content-Type", "application/json")
            .bearer_auth(token)
            .body(body)
    };
    let mut bodies = Vec::new();
    for (token, body, status) in [
        (&valid_select, phi_request().to_string(), 200),
        (&valid_fixture, phi_fixture().to_string(), 200),
        (&valid_select, phi_request().to_string(), 401),
        (&expired, phi_request().to_string(), 401),
        (&stranger, phi_request().to_string(), 401),
        (&BAD_TOKEN.to_owned(), phi_request().to_string(), 401),
    ] {
        let response = post(select, token, body).send().await.unwrap();
        let got = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(got, status, "{text}");
        bodies.push(text);
    }
    let mut request = phi_request();
    request["context"]["patientId"] = json!({"name": NAME_FAMILY, "mrn": MRN});
    let response = post(select, &valid_schema, request.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    bodies.push(response.text().await.unwrap());
    let feedback = json!({"feedback": [{"card": "0b6e0f4c-7a0e-4e0b-9d7e-6d1c1f1e2a3b",
        "outcome": "overridden", "overrideReason": {"userComment": COMMENT},
        "outcomeTimestamp": "2026-03-01T10:00:00Z"}]});
    let response = post(feedback_path, &valid_feedback, feedback.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    bodies.push(response.text().await.unwrap());
    let response = client
        .get(url("/cds-services"))
        .bearer_auth(&valid_discovery)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let response = client
        .get(url("/cds-services"))
        .bearer_auth(BAD_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    bodies.push(response.text().await.unwrap());

    let metrics = server.metrics().await;
    let (status, logs) = server.stop();
    assert!(status.success(), "graceful stop: {status:?}");
    assert!(
        logs.iter()
            .filter(|l| l.contains("authentication failed"))
            .count()
            >= 5,
        "the auth failures were logged: {logs:#?}"
    );
    assert!(logs.iter().any(|l| l.contains("JWKS fetched")), "{logs:#?}");
    // Every token, and each of its header, claims and signature parts.
    let mut secrets: Vec<String> = SECRETS.iter().map(|s| (*s).to_owned()).collect();
    for token in &tokens {
        secrets.push(token.clone());
        secrets.extend(token.split('.').filter(|p| p.len() > 8).map(str::to_owned));
    }
    assert_never_seen(&secrets, &bodies, &metrics, &logs);
}

/// The resource-limit and fallback-failure paths: 405, 415, JSON too deep, too many Bundle
/// entries, a chunked body over the size limit, a body that never arrives (408), the request
/// deadline and the concurrency limit (503), and a fallback fetch that fails (server error,
/// refused token, nothing listening) — all with requests full of patient data and tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_patient_data_on_limit_and_fetch_failure_paths() {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use crate::fhir_stub::{Behaviour, StubFhir, closed_port_url};

    let template = phi_request();
    let slow = StubFhir::start(
        &template,
        Behaviour {
            delay: Some(Duration::from_secs(30)),
            ..Behaviour::default()
        },
    );
    let failing = StubFhir::start(
        &template,
        Behaviour {
            status: Some(500),
            ..Behaviour::default()
        },
    );
    let refusing = StubFhir::start(
        &template,
        Behaviour {
            required_token: Some("another-token".into()),
            ..Behaviour::default()
        },
    );
    let server = ServerProcess::start(
        &["--bind", "127.0.0.1:0"],
        &[
            ("DVT_CDS_LOG_FORMAT", "json"),
            ("DVT_CDS_MAX_BODY_BYTES", "65536"),
            ("DVT_CDS_MAX_JSON_DEPTH", "16"),
            ("DVT_CDS_MAX_BUNDLE_ENTRIES", "3"),
            ("DVT_CDS_MAX_CONCURRENT_REQUESTS", "1"),
            ("DVT_CDS_FHIR_BUDGET_MS", "2000"),
            ("DVT_CDS_REQUEST_DEADLINE_MS", "2000"),
            ("RUST_LOG", "debug"),
        ],
    );
    let client = reqwest::Client::new();
    let select = format!(
        "{}/cds-services/dvt-order-select?patient={URL_QUERY}",
        server.address
    );
    let post = |body: String| {
        client
            .post(select.clone())
            .header("Content-Type", "application/json")
            .header("Authorization", format!("Bearer {HEADER_TOKEN}"))
            .header("X-Patient-Name", NAME_FAMILY)
            .body(body)
    };
    let mut bodies: Vec<String> = Vec::new();
    let mut expect = async |status: u16, code: &str, response: reqwest::Response| {
        let got = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(got, status, "{text}");
        assert!(text.contains(&format!("\"{code}\"")), "{code}: {text}");
        bodies.push(text);
    };

    // 503 deadline: the fetch from the slow server uses the whole budget (= the deadline).
    // While it holds the only slot, another request is 503 overloaded.
    let held = {
        let request = {
            let mut r = phi_request();
            r["fhirServer"] = json!(format!("{}?session={FHIR_QUERY}", slow.base));
            r["prefetch"]
                .as_object_mut()
                .unwrap()
                .remove("observations");
            r
        };
        let call = post(request.to_string());
        tokio::spawn(async move { call.send().await.unwrap() })
    };
    while slow.seen().is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    expect(
        503,
        "overloaded",
        post(phi_request().to_string()).send().await.unwrap(),
    )
    .await;
    expect(503, "deadline-exceeded", held.await.unwrap()).await;

    // 405 and 415.
    let response = client
        .get(&select)
        .header("X-Patient-Name", NAME_FAMILY)
        .send()
        .await
        .unwrap();
    expect(405, "method-not-allowed", response).await;
    let response = client
        .post(&select)
        .header("Content-Type", "text/plain")
        .body(phi_request().to_string())
        .send()
        .await
        .unwrap();
    expect(415, "unsupported-media-type", response).await;

    // 400 too deep, with names inside the nesting.
    let mut request = phi_request();
    let mut deep = json!({"name": NAME_FAMILY, "mrn": MRN});
    for _ in 0..20 {
        deep = json!([deep, BIRTH_DATE]);
    }
    request["prefetch"]["patient"]["extension"] = deep;
    expect(
        400,
        "json-too-deep",
        post(request.to_string()).send().await.unwrap(),
    )
    .await;

    // 413 too many Bundle entries (in a key named after the patient too).
    let mut request = phi_request();
    let entry = request["prefetch"]["conditions"]["entry"][0].clone();
    request["prefetch"]["conditions"]["entry"] = json!(vec![entry.clone(); 4]);
    expect(
        413,
        "too-many-bundle-entries",
        post(request.to_string()).send().await.unwrap(),
    )
    .await;
    let mut request = phi_request();
    request["prefetch"][NAME_FAMILY] = json!({"resourceType": "Bundle", "entry": vec![entry; 4]});
    expect(
        413,
        "too-many-bundle-entries",
        post(request.to_string()).send().await.unwrap(),
    )
    .await;

    // 413 a chunked body (no Content-Length) over the size limit.
    let address = server.address.trim_start_matches("http://").to_owned();
    let chunk = format!("{NAME_GIVEN} {NAME_FAMILY} {MRN} {BIRTH_DATE} ").repeat(2000);
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /cds-services/dvt-order-select HTTP/1.1\r\nHost: {address}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         {:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(60), stream.read_to_string(&mut answer)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"payload-too-large\""), "{answer}");
    bodies.push(answer);

    // 408: a body that stops arriving, in the middle of a name.
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let text = phi_request().to_string();
    let cut = text.find(NAME_FAMILY).unwrap() + 5;
    let head = format!(
        "POST /cds-services/dvt-order-select?mrn={MRN} HTTP/1.1\r\nHost: {address}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
        text.len(),
        &text[..cut]
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    bodies.push(answer);

    // Fallback fetch failures: 200, the card names the gap, nothing leaks.
    for base in [
        failing.base.clone(),
        refusing.base.clone(),
        closed_port_url(),
    ] {
        let mut request = phi_fixture();
        request["fhirServer"] = json!(format!("{base}?session={FHIR_QUERY}"));
        request["context"]["patientId"] = json!(PATIENT_ID);
        request["prefetch"]
            .as_object_mut()
            .unwrap()
            .remove("observations");
        let response = post(request.to_string()).send().await.unwrap();
        let got = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(got, 200, "{text}");
        assert!(text.contains("could not be fetched"), "{text}");
        // The cards name the patient as the suggestions' subject (the contract): nothing else.
        for secret in SECRETS.iter().filter(|s| **s != PATIENT_ID) {
            assert!(!text.contains(secret), "`{secret}` in the cards: {text}");
        }
    }
    assert!(!failing.seen().is_empty() && !refusing.seen().is_empty());

    let metrics = server.metrics().await;
    for reason in [
        "overloaded",
        "deadline-exceeded",
        "json-too-deep",
        "too-many-bundle-entries",
        "payload-too-large",
        "request-timeout",
    ] {
        let line = format!("dvt_cds_rejected_requests_total{{reason=\"{reason}\"}}");
        assert!(
            crate::helpers::metric_value(&metrics, &line).is_some_and(|v| v >= 1.0),
            "{line} in {metrics}"
        );
    }
    let (status, logs) = server.stop();
    assert!(status.success(), "graceful stop: {status:?}");
    assert!(
        logs.iter()
            .filter(|l| l.contains("request completed"))
            .count()
            >= 12,
        "the logs were captured: {logs:#?}"
    );
    assert_never_seen(&SECRETS, &bodies, &metrics, &logs);
}
