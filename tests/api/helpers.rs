//! `spawn_app()`: the real application on a random port, with the shipped configuration.

use std::sync::LazyLock;

use distal_dvt_cds::cds_schema::Schemas;
use distal_dvt_cds::config::Config;
use distal_dvt_cds::http::Application;
use distal_dvt_cds::settings::{LogFormat, Settings};
use distal_dvt_cds::telemetry;
use serde_json::{Value, json};

/// Logs go nowhere unless `TEST_LOG` is set (then to stdout, captured by libtest).
static TRACING: LazyLock<()> = LazyLock::new(|| {
    let result = if std::env::var_os("TEST_LOG").is_some() {
        telemetry::init(LogFormat::Json, std::io::stdout)
    } else {
        telemetry::init(LogFormat::Json, std::io::sink)
    };
    result.expect("tracing initialised once");
});

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub schemas: Schemas,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Start the application with settings adjusted by `adjust` (bind and config are preset).
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    LazyLock::force(&TRACING);
    let mut settings = Settings {
        bind: "127.0.0.1:0".to_owned(),
        config_dir: Config::default_dir(),
        workers: Some(1),
        shutdown_timeout: std::time::Duration::from_secs(1),
        ..Settings::default()
    };
    adjust(&mut settings);
    let application = Application::build(settings).expect("the application builds");
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        schemas: Schemas::compile().expect("schemas compile"),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// POST `body` as `application/json`.
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.post_raw(path, "application/json", body.to_string())
            .await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("POST")
    }

    pub async fn metrics(&self) -> String {
        self.get("/metrics")
            .await
            .text()
            .await
            .expect("metrics text")
    }
}

/// Assert the stable error shape and return the `error` object.
pub async fn assert_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "content-type {content_type}"
    );
    let body: Value = response.json().await.expect("a JSON error body");
    let error = body["error"].clone();
    assert_eq!(error["status"], json!(status), "{body}");
    assert_eq!(error["code"], json!(code), "{body}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    error
}

/// A valid order-select request whose prefetch has all seven keys (`null`: no data).
pub fn order_select_request() -> Value {
    json!({
        "hook": "order-select",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "fhirServer": "https://ehr.example/fhir",
        "context": {
            "userId": "Practitioner/example",
            "patientId": "1288992",
            "encounterId": "89284",
            "selections": ["MedicationRequest/mr-1"],
            "draftOrders": {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": {
                    "resourceType": "MedicationRequest", "id": "mr-1", "status": "draft",
                    "intent": "order", "subject": {"reference": "Patient/1288992"},
                    "medicationCodeableConcept": {"coding": [{
                        "system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1364435"}]}
                }}]
            }
        },
        "prefetch": {
            "patient": {"resourceType": "Patient", "id": "1288992", "birthDate": "1950-01-01", "gender": "female"},
            "conditions": null,
            "observations": null,
            "medications": null,
            "encounters": null,
            "procedures": null,
            "serviceRequests": null
        }
    })
}

/// The same request for order-sign (no `selections`).
pub fn order_sign_request() -> Value {
    let mut request = order_select_request();
    request["hook"] = json!("order-sign");
    if let Some(context) = request["context"].as_object_mut() {
        context.remove("selections");
    }
    request
}

/// Remove `uuid` members everywhere (they are random).
pub fn without_uuids(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| k.as_str() != "uuid")
                .map(|(k, v)| (k.clone(), without_uuids(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_uuids).collect()),
        other => other.clone(),
    }
}

/// The value of a Prometheus sample line `name{labels} value`, if present.
pub fn metric_value(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name_and_labels)?.trim().parse().ok())
}

/// The `distal-dvt-cds` binary built for these tests.
pub fn binary() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_distal-dvt-cds"));
    // The tests decide the environment; inherited DVT_CDS_* variables would change results.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("DVT_CDS_") {
            command.env_remove(name);
        }
    }
    command.env_remove("RUST_LOG");
    command
}

/// The real binary serving in a subprocess; stderr (the logs) is captured line by line.
pub struct ServerProcess {
    child: std::process::Child,
    pub address: String,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl ServerProcess {
    /// Start `distal-dvt-cds serve` with `args` and `envs`; wait for the `listening` log line.
    pub fn start(args: &[&str], envs: &[(&str, &str)]) -> ServerProcess {
        use std::io::BufRead;
        let mut command = binary();
        command
            .arg("serve")
            .args(args)
            .envs(envs.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn().expect("start the binary");
        let stderr = child.stderr.take().expect("stderr");
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && v["message"] == "listening"
                    && let Some(address) = v["address"].as_str()
                {
                    let _ = tx.send(address.to_owned());
                }
                sink.lock().expect("log lines").push(line);
            }
        });
        let address = match rx.recv_timeout(std::time::Duration::from_secs(30)) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "no `listening` log line; logs: {:?}",
                    lines.lock().expect("log lines")
                );
            }
        };
        ServerProcess {
            child,
            address: format!("http://{address}"),
            lines,
            reader: Some(reader),
        }
    }

    /// The `/metrics` text of this process.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.address))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// Send SIGTERM, wait for a graceful exit, and return the exit status and all log lines.
    pub fn stop(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                break self.child.wait().expect("wait");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        let lines = self.lines.lock().expect("log lines").clone();
        (status, lines)
    }
}

impl ServerProcess {
    /// Send SIGTERM and return at once (see [`ServerProcess::wait_for_exit`]).
    pub fn terminate(&self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    /// Wait up to `limit` for the process to exit (killed after it: `None`), then return the
    /// exit status and all log lines.
    pub fn wait_for_exit(
        mut self,
        limit: std::time::Duration,
    ) -> (Option<std::process::ExitStatus>, Vec<String>) {
        let deadline = std::time::Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break Some(status);
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        let lines = self.lines.lock().expect("log lines").clone();
        (status, lines)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // Only if `stop` was not called (a failed test): do not leave the server running.
        if self.reader.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
