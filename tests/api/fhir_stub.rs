//! A small FHIR server for the prefetch-fallback tests: real HTTP (actix-web on 127.0.0.1:0),
//! serving one fixture patient's prefetch data as FHIR reads and searches, with knobs for the
//! ways real servers misbehave (refused tokens, statuses, slowness, paging, OperationOutcome
//! entries, bodies that are not FHIR). It records what it was asked (path, query, headers).

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Map, Value, json};

/// How the stub answers.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Answer 401 unless `Authorization` is `Bearer <this>`.
    pub required_token: Option<String>,
    /// Answer every request with this status (and an OperationOutcome body).
    pub status: Option<u16>,
    /// Wait this long before answering.
    pub delay: Option<Duration>,
    /// Split search results into pages of this many entries (`_page=N`).
    pub page_size: Option<usize>,
    /// The first page's `next` link (instead of the stub's own page 2).
    pub foreign_next: Option<String>,
    /// Add an OperationOutcome entry and a `search.mode = outcome` entry to every search page 1.
    pub inject_outcomes: bool,
    /// Answer 200 with a body that is not FHIR JSON.
    pub garbage: bool,
}

/// One request the stub received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
    pub accept: Option<String>,
}

pub struct StubFhir {
    /// `http://127.0.0.1:PORT/fhir`
    pub base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    handle: ServerHandle,
}

struct Data {
    prefetch: Map<String, Value>,
    patient_id: String,
    behaviour: Behaviour,
    seen: Arc<Mutex<Vec<Seen>>>,
    base: String,
}

fn key_of(resource_type: &str) -> Option<&'static str> {
    Some(match resource_type {
        "Condition" => "conditions",
        "Observation" => "observations",
        "MedicationRequest" => "medications",
        "Encounter" => "encounters",
        "Procedure" => "procedures",
        "ServiceRequest" => "serviceRequests",
        _ => return None,
    })
}

fn outcome(status: u16, text: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .content_type("application/fhir+json")
        .json(json!({"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "processing", "diagnostics": text}]}))
}

fn fhir(body: Value) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/fhir+json")
        .body(body.to_string())
}

async fn answer(req: HttpRequest, data: web::Data<Data>) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let authorization = header("authorization");
    data.seen.lock().unwrap().push(Seen {
        path: req.path().to_owned(),
        query: req.query_string().to_owned(),
        authorization: authorization.clone(),
        accept: header("accept"),
    });
    let b = &data.behaviour;
    if let Some(delay) = b.delay {
        tokio::time::sleep(delay).await;
    }
    if let Some(status) = b.status {
        return outcome(status, "configured failure");
    }
    if let Some(token) = &b.required_token
        && authorization.as_deref() != Some(&format!("Bearer {token}"))
    {
        return outcome(401, "invalid token");
    }
    if b.garbage {
        return HttpResponse::Ok()
            .content_type("text/html")
            .body("<html>login</html>");
    }
    let Some(path) = req.path().strip_prefix("/fhir/") else {
        return outcome(404, "unknown path");
    };
    if let Some(id) = path.strip_prefix("Patient/") {
        return match data.prefetch.get("patient") {
            Some(patient @ Value::Object(_)) if id == data.patient_id => fhir(patient.clone()),
            _ => outcome(404, "no such patient"),
        };
    }
    let Some(key) = key_of(path) else {
        return outcome(404, "unsupported type");
    };
    let params: HashMap<String, String> =
        web::Query::<HashMap<String, String>>::from_query(req.query_string())
            .map(|q| q.into_inner())
            .unwrap_or_default();
    let mut entries: Vec<Value> = match data.prefetch.get(key) {
        Some(bundle) if params.get("patient") == Some(&data.patient_id) => {
            bundle["entry"].as_array().cloned().unwrap_or_default()
        }
        _ => Vec::new(),
    };
    let page: usize = params
        .get("_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1);
    if b.inject_outcomes && page == 1 {
        entries.insert(
            0,
            json!({"resource": {"resourceType": "OperationOutcome",
                "issue": [{"severity": "warning", "code": "incomplete"}]}}),
        );
        entries.push(json!({"resource": {"resourceType": "OperationOutcome",
            "issue": [{"severity": "information", "code": "informational"}]},
            "search": {"mode": "outcome"}}));
    }
    let total = entries.len();
    let size = b.page_size.unwrap_or(total.max(1));
    let chunk: Vec<Value> = entries
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .collect();
    let mut links = vec![
        json!({"relation": "self", "url": format!("{}/{path}?{}", data.base, req.query_string())}),
    ];
    if page * size < total {
        let next = match (&b.foreign_next, page) {
            (Some(foreign), 1) => foreign.clone(),
            _ => format!(
                "{}/{path}?patient={}&_page={}",
                data.base,
                data.patient_id,
                page + 1
            ),
        };
        links.push(json!({"relation": "next", "url": next}));
    }
    fhir(
        json!({"resourceType": "Bundle", "type": "searchset", "total": total,
        "link": links, "entry": chunk}),
    )
}

impl StubFhir {
    /// Serve the prefetch of `request` (a fixture hook request) for its `context.patientId`.
    pub fn start(request: &Value, behaviour: Behaviour) -> StubFhir {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the stub FHIR server");
        let base = format!(
            "http://127.0.0.1:{}/fhir",
            listener.local_addr().unwrap().port()
        );
        let seen = Arc::new(Mutex::new(Vec::new()));
        let data = web::Data::new(Data {
            prefetch: request["prefetch"].as_object().cloned().unwrap_or_default(),
            patient_id: request["context"]["patientId"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            behaviour,
            seen: seen.clone(),
            base: base.clone(),
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(answer))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0)
        .listen(listener)
        .expect("listen")
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        StubFhir { base, seen, handle }
    }

    /// What the stub was asked, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for StubFhir {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { handle.stop(false).await });
        }
    }
}

/// A URL on 127.0.0.1 where nothing listens (connection refused).
pub fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/fhir")
}
