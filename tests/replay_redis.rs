//! Several replicas sharing JWT replay protection in a real Redis (`DVT_CDS_REPLAY_STORE`).
//!
//! The test starts `redis-server` (Debian package `redis-server`, installed by `.ci/run`) on a
//! free loopback port without persistence, a JWKS server, and THREE instances of the real binary
//! as separate processes (`DVT_CDS_AUTH=required`, the same public URL, the same Redis). A token
//! used on one instance is refused as a replay on the others; Redis stopped, frozen and restarted
//! mid-test gives fail-closed 503s (never a hang) and recovery. A second test covers
//! `DVT_CDS_REPLAY_STORE_FAILURE=fail-open`, a third `rediss://` (TLS, certificates made with the
//! `openssl` command). Without `redis-server` on the PATH the tests FAIL.
//!
//! `replay_check_latency` (ignored; run it by name) measures what the Redis check adds.

#[allow(dead_code)]
#[path = "api/jwt.rs"]
mod jwt;

use std::io::{BufRead, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use jwt::{JwksServer, KeyPair};

const ISSUER: &str = "https://ehr.example.org/fhir";
const JWKS_PATH: &str = "/jwks.json";
/// Every replica has the same public URL (as behind one load balancer): one token fits all.
const PUBLIC_URL: &str = "https://cds.example.test";
const DISCOVERY: &str = "/cds-services";
const BIN: &str = env!("CARGO_BIN_EXE_distal-dvt-cds");

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

// ---- redis-server ---------------------------------------------------------------------------

/// `redis-server` on 127.0.0.1:`port`, no persistence; killed when dropped.
struct RedisServer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

fn require_redis_server() {
    match Command::new("redis-server").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        _ => panic!(
            "`redis-server` is not on the PATH: this test needs a real Redis. Install it \
             (Debian/Ubuntu: `apt-get install -y redis-server`; .ci/run installs it)"
        ),
    }
}

/// `PING` over RESP: whether the server answers `+PONG`.
fn redis_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(
        &(Ipv4Addr::LOCALHOST, port).into(),
        Duration::from_millis(200),
    ) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    stream.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

impl RedisServer {
    fn start(port: u16) -> RedisServer {
        RedisServer::start_with(&["--port".into(), port.to_string()], port, redis_ping)
    }

    /// `redis-server` with `args` (the listening ports), ready when `ready(port)`.
    fn start_with(args: &[String], port: u16, ready: fn(u16) -> bool) -> RedisServer {
        require_redis_server();
        let dir = tempfile::tempdir().expect("temp dir");
        let child = Command::new("redis-server")
            .args(args)
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        let mut server = RedisServer {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ready(port) {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("redis-server on port {port} exited at start ({status})");
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on port {port} does not answer PING"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {signal} redis-server");
    }

    /// Stop it (SIGKILL, as a crash) and wait until it is gone.
    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            // A frozen (SIGSTOP) server is resumed so that the kill is handled at once.
            let _ = Command::new("kill")
                .args(["-CONT", &self.child.id().to_string()])
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- the service ----------------------------------------------------------------------------

/// `distal-dvt-cds serve` in a subprocess on 127.0.0.1:0; killed when dropped.
struct Instance {
    name: &'static str,
    child: Child,
    base: String,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Instance {
    fn start(name: &'static str, envs: &[(&str, String)]) -> Instance {
        let mut command = Command::new(BIN);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("DVT_CDS_") {
                command.env_remove(k);
            }
        }
        command
            .env_remove("RUST_LOG")
            .arg("serve")
            .env("DVT_CDS_BIND", "127.0.0.1:0")
            .env("DVT_CDS_LOG_FORMAT", "json")
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start distal-dvt-cds serve");
        let stderr = child.stderr.take().expect("stderr");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
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
                sink.lock().expect("logs").push(line);
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(address) => Instance {
                name,
                child,
                base: format!("http://{address}"),
                logs,
            },
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "instance {name}: no `listening` log line: {:?}",
                    logs.lock().expect("logs")
                );
            }
        }
    }

    fn logs(&self) -> String {
        self.logs.lock().expect("logs").join("\n")
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The environment of every replica.
fn replica_env(
    jwks: &JwksServer,
    replay_store: &str,
    failure: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("DVT_CDS_AUTH", "required".to_owned()),
        (
            "DVT_CDS_TRUSTED_ISSUERS",
            format!("{ISSUER}={}", jwks.url(JWKS_PATH)),
        ),
        ("DVT_CDS_PUBLIC_URL", PUBLIC_URL.to_owned()),
        ("DVT_CDS_REPLAY_STORE", replay_store.to_owned()),
        ("DVT_CDS_REPLAY_STORE_FAILURE", failure.to_owned()),
        // Generous for a busy CI machine (a check taking longer fails closed: a 503 where the test
        // expects 200).
        ("DVT_CDS_REPLAY_STORE_TIMEOUT_MS", "500".to_owned()),
    ]
}

struct Kit {
    key: KeyPair,
    client: reqwest::Client,
}

/// An answer: status, `Retry-After`, JSON body.
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
    elapsed: Duration,
}

impl Kit {
    fn new() -> Kit {
        Kit {
            key: jwt::es384("replicas-es384"),
            // A generous bound: a request that takes this long is a hang, and fails the test.
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client"),
        }
    }

    /// A fresh token (new `jti`) for discovery, valid on every replica.
    fn token(&self) -> String {
        jwt::sign(
            &jwt::header(&self.key, None),
            &jwt::claims(ISSUER, &format!("{PUBLIC_URL}{DISCOVERY}")),
            &self.key.private,
        )
    }

    async fn call(&self, instance: &Instance, token: &str) -> Answer {
        let started = Instant::now();
        let response = self
            .client
            .get(format!("{}{DISCOVERY}", instance.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "instance {}: GET /cds-services did not answer (hang?): {e}\n{}",
                    instance.name,
                    instance.logs()
                )
            });
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.json().await.unwrap_or(Value::Null);
        Answer {
            status,
            retry_after,
            body,
            elapsed: started.elapsed(),
        }
    }

    async fn readyz(&self, instance: &Instance) -> (u16, Value) {
        let response = self
            .client
            .get(format!("{}/readyz", instance.base))
            .send()
            .await
            .expect("GET /readyz");
        (
            response.status().as_u16(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    async fn metrics(&self, instance: &Instance) -> String {
        self.client
            .get(format!("{}/metrics", instance.base))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics")
    }

    /// `/readyz` until it reports Redis reachable, at most ~20 s.
    async fn until_reachable(&self, instance: &Instance) {
        for _ in 0..100 {
            if self.readyz(instance).await.1["replayStore"]["status"] == "reachable" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "instance {}: Redis never reachable:\n{}",
            instance.name,
            instance.logs()
        );
    }

    /// Fresh tokens until `instance` answers 200 (Redis reconnected), at most ~20 s.
    async fn until_accepted(&self, instance: &Instance) -> usize {
        for attempt in 1..=100 {
            if self.call(instance, &self.token()).await.status == 200 {
                return attempt;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "instance {} did not recover after Redis came back:\n{}",
            instance.name,
            instance.logs()
        );
    }
}

fn metric(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name_and_labels)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `{name_and_labels}` in /metrics"))
}

fn assert_accepted(answer: &Answer, who: &str) {
    assert_eq!(answer.status, 200, "{who}: {}", answer.body);
}

fn assert_replayed(answer: &Answer, who: &str) {
    assert_eq!(answer.status, 401, "{who}: {}", answer.body);
    assert_eq!(answer.body["error"]["reason"], json!("replayed"), "{who}");
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("already used")),
        "{who}: {}",
        answer.body
    );
}

fn assert_fail_closed(answer: &Answer, who: &str) {
    assert_eq!(answer.status, 503, "{who}: {}", answer.body);
    assert_eq!(
        answer.body["error"]["code"],
        json!("replay-store-unavailable"),
        "{who}"
    );
    assert_eq!(
        answer.body["error"]["reason"],
        json!("replay-store-unavailable"),
        "{who}"
    );
    let message = answer.body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("replay store") && message.contains("fail-closed"),
        "{who}: {message}"
    );
    assert_eq!(
        answer.retry_after.as_deref(),
        Some("1"),
        "{who}: Retry-After"
    );
}

async fn assert_store_status(kit: &Kit, instance: &Instance, status: &str, policy: &str) {
    let (code, body) = kit.readyz(instance).await;
    assert_eq!(code, 200, "{}: readyz stays 200: {body}", instance.name);
    let store = &body["replayStore"];
    assert_eq!(store["kind"], json!("redis"), "{}: {body}", instance.name);
    assert_eq!(store["status"], json!(status), "{}: {body}", instance.name);
    assert_eq!(store["failurePolicy"], json!(policy), "{}", instance.name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_replay_protection_in_redis() {
    require_redis_server();
    let kit = Kit::new();
    let jwks = JwksServer::start().await;
    jwks.set(JWKS_PATH, jwt::jwks(&[&kit.key]));
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}/0");

    // 1. The replicas start while Redis is NOT running: start-up does not need it.
    let env = replica_env(&jwks, &url, "fail-closed");
    let replicas = [
        Instance::start("A", &env),
        Instance::start("B", &env),
        Instance::start("C", &env),
    ];
    println!("started replicas A, B, C against {url} (redis-server not yet running)");
    for r in &replicas {
        let answer = kit.call(r, &kit.token()).await;
        assert_fail_closed(&answer, &format!("{} before Redis", r.name));
        assert_store_status(&kit, r, "unreachable", "fail-closed").await;
        println!(
            "  {}: Redis down at boot -> {} replay-store-unavailable in {:?}",
            r.name, answer.status, answer.elapsed
        );
    }

    // 2. Redis comes up: each replica connects by itself.
    let redis = RedisServer::start(port);
    for r in &replicas {
        let attempts = kit.until_accepted(r).await;
        println!("  {}: Redis up -> 200 after {attempts} attempt(s)", r.name);
        assert_store_status(&kit, r, "reachable", "fail-closed").await;
    }

    // 3. A token used once on any replica is refused on every other one.
    for first in 0..3 {
        let token = kit.token();
        let answer = kit.call(&replicas[first], &token).await;
        assert_accepted(&answer, replicas[first].name);
        for (i, other) in replicas.iter().enumerate() {
            let answer = kit.call(other, &token).await;
            let who = format!(
                "token used on {}, replayed on {}",
                replicas[first].name, other.name
            );
            assert_replayed(&answer, &who);
            if i != first {
                println!("  {who}: 401 replayed");
            }
        }
    }

    // 4. Different jtis succeed everywhere.
    for round in 0..5 {
        for r in &replicas {
            let answer = kit.call(r, &kit.token()).await;
            assert_accepted(&answer, &format!("{} fresh jti #{round}", r.name));
        }
    }
    println!("  15 fresh tokens over A, B, C: all 200");

    // 5. Redis stopped mid-test: fail-closed 503 with Retry-After, no hang; readyz reports it.
    redis.stop();
    for r in &replicas {
        for _ in 0..2 {
            let answer = kit.call(r, &kit.token()).await;
            assert_fail_closed(&answer, &format!("{} Redis stopped", r.name));
            println!(
                "  {}: Redis stopped -> 503 replay-store-unavailable, Retry-After: 1, in {:?}",
                r.name, answer.elapsed
            );
        }
        assert_store_status(&kit, r, "unreachable", "fail-closed").await;
        let metrics = kit.metrics(r).await;
        assert!(
            metric(
                &metrics,
                "dvt_cds_replay_store_errors_total{policy=\"fail-closed\"}"
            ) >= 2.0,
            "{metrics}"
        );
        assert_eq!(metric(&metrics, "dvt_cds_replay_store_up"), 0.0);
        assert!(
            metric(
                &metrics,
                "dvt_cds_auth_failures_total{reason=\"replay-store-unavailable\"}"
            ) >= 2.0
        );
    }

    // 6. Redis restarted on the same port: recovery, and replays are caught again.
    let redis = RedisServer::start(port);
    for r in &replicas {
        let attempts = kit.until_accepted(r).await;
        println!(
            "  {}: Redis restarted -> 200 after {attempts} attempt(s)",
            r.name
        );
        assert_store_status(&kit, r, "reachable", "fail-closed").await;
    }
    let token = kit.token();
    assert_accepted(&kit.call(&replicas[2], &token).await, "C after restart");
    assert_replayed(&kit.call(&replicas[0], &token).await, "A after restart");
    assert_replayed(&kit.call(&replicas[1], &token).await, "B after restart");
    println!("  after the restart: token used on C -> 401 replayed on A and B");

    // 7. Redis frozen (SIGSTOP: connections open, no answers): 503 within the timeout, no hang.
    redis.signal("-STOP");
    for r in &replicas {
        let answer = kit.call(r, &kit.token()).await;
        assert_fail_closed(&answer, &format!("{} Redis frozen", r.name));
        println!("  {}: Redis frozen -> 503 in {:?}", r.name, answer.elapsed);
    }
    redis.signal("-CONT");
    for r in &replicas {
        let attempts = kit.until_accepted(r).await;
        println!(
            "  {}: Redis resumed -> 200 after {attempts} attempt(s)",
            r.name
        );
    }
    let metrics = kit.metrics(&replicas[0]).await;
    println!(
        "  A: dvt_cds_replay_store_errors_total{{policy=\"fail-closed\"}} = {}",
        metric(
            &metrics,
            "dvt_cds_replay_store_errors_total{policy=\"fail-closed\"}"
        )
    );
    // The Redis URL never appears with a password, and no token is logged.
    for r in &replicas {
        let logs = r.logs();
        assert!(logs.contains("redis://127.0.0.1"), "{}", r.name);
        assert!(!logs.contains("eyJ"), "{}: a token in the logs", r.name);
    }
    drop(redis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_open_accepts_unchecked_tokens_while_redis_is_down() {
    require_redis_server();
    let kit = Kit::new();
    let jwks = JwksServer::start().await;
    jwks.set(JWKS_PATH, jwt::jwks(&[&kit.key]));
    let redis = RedisServer::start(free_port());
    let port = redis.port;
    let env = replica_env(&jwks, &redis.url(), "fail-open");
    let replicas = [Instance::start("D", &env), Instance::start("E", &env)];

    // Redis up: replays are caught across replicas as with fail-closed.
    let token = kit.token();
    assert_accepted(&kit.call(&replicas[0], &token).await, "D");
    assert_replayed(&kit.call(&replicas[1], &token).await, "E replay");
    assert_store_status(&kit, &replicas[0], "reachable", "fail-open").await;

    // Redis down: tokens are accepted WITHOUT a replay check (even a replay), and counted.
    redis.stop();
    let token = kit.token();
    for r in &replicas {
        let answer = kit.call(r, &token).await;
        assert_accepted(&answer, &format!("{} fail-open", r.name));
        println!(
            "  {}: Redis down, fail-open -> 200 (unchecked) in {:?}",
            r.name, answer.elapsed
        );
        assert_store_status(&kit, r, "unreachable", "fail-open").await;
        let metrics = kit.metrics(r).await;
        assert!(
            metric(
                &metrics,
                "dvt_cds_replay_store_errors_total{policy=\"fail-open\"}"
            ) >= 1.0,
            "{metrics}"
        );
        assert_eq!(
            metric(
                &metrics,
                "dvt_cds_replay_store_errors_total{policy=\"fail-closed\"}"
            ),
            0.0
        );
        assert!(r.logs().contains("WITHOUT a replay check"), "{}", r.name);
    }

    // Back: protection resumes.
    let _redis = RedisServer::start(port);
    for r in &replicas {
        kit.until_accepted(r).await;
    }
    let token = kit.token();
    assert_accepted(&kit.call(&replicas[1], &token).await, "E after restart");
    assert_replayed(&kit.call(&replicas[0], &token).await, "D after restart");
}

/// What the Redis check adds per request: `first_use` timed over a few thousand calls against a
/// local redis-server (and the in-memory store for comparison). Prints figures; asserts only
/// that the calls succeed. `cargo test --test replay_redis -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by name"]
async fn replay_check_latency() {
    use distal_dvt_cds::auth::replay::{
        FailurePolicy, RedisUrl, ReplayConfig, ReplayMetrics, ReplayStore, StoreLocation,
    };
    const CALLS: usize = 5_000;
    let redis = RedisServer::start(free_port());
    let redis_store = ReplayStore::from_config(
        &ReplayConfig {
            store: StoreLocation::Redis(RedisUrl::parse(&redis.url()).unwrap()),
            failure: FailurePolicy::FailClosed,
            timeout: Duration::from_millis(250),
        },
        ReplayMetrics::unregistered(),
    )
    .unwrap();
    let memory_store = ReplayStore::in_memory();
    let now = jwt::now();
    let report = |name: &str, mut samples: Vec<Duration>| {
        samples.sort();
        let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
        println!(
            "{name:<32} n={} median={:?} p90={:?} p99={:?} max={:?}",
            samples.len(),
            at(0.5),
            at(0.9),
            at(0.99),
            samples[samples.len() - 1]
        );
    };
    for (name, store) in [("redis", &redis_store), ("memory", &memory_store)] {
        // Warm-up (connection, allocations).
        for i in 0..200 {
            store
                .first_use(ISSUER, &format!("warm-{i}"), now + 360, now)
                .await
                .unwrap();
        }
        let mut first = Vec::with_capacity(CALLS);
        let mut replayed = Vec::with_capacity(CALLS);
        for i in 0..CALLS {
            let jti = uuid::Uuid::new_v4().to_string();
            let started = Instant::now();
            assert!(store.first_use(ISSUER, &jti, now + 360, now).await.unwrap());
            first.push(started.elapsed());
            if i % 2 == 0 {
                let started = Instant::now();
                assert!(!store.first_use(ISSUER, &jti, now + 360, now).await.unwrap());
                replayed.push(started.elapsed());
            }
        }
        report(&format!("{name} first use"), first);
        report(&format!("{name} replay detected"), replayed);
    }

    // End to end: the same authenticated GET /cds-services on two instances of the binary, one
    // with the in-memory store and one with Redis, alternating (same load on both).
    const REQUESTS: usize = 500;
    let kit = Kit::new();
    let jwks = JwksServer::start().await;
    jwks.set(JWKS_PATH, jwt::jwks(&[&kit.key]));
    let memory = Instance::start("memory", &replica_env(&jwks, "memory", "fail-closed"));
    let shared = Instance::start("redis", &replica_env(&jwks, &redis.url(), "fail-closed"));
    for instance in [&memory, &shared] {
        for _ in 0..50 {
            assert_accepted(&kit.call(instance, &kit.token()).await, instance.name);
        }
    }
    let tokens: Vec<(String, String)> = (0..REQUESTS).map(|_| (kit.token(), kit.token())).collect();
    let (mut on_memory, mut on_redis) = (Vec::new(), Vec::new());
    for (a, b) in &tokens {
        let answer = kit.call(&memory, a).await;
        assert_accepted(&answer, "memory");
        on_memory.push(answer.elapsed);
        let answer = kit.call(&shared, b).await;
        assert_accepted(&answer, "redis");
        on_redis.push(answer.elapsed);
    }
    report("HTTP GET /cds-services, memory", on_memory);
    report("HTTP GET /cds-services, redis", on_redis);
}

fn openssl(args: &[&str], dir: &std::path::Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("`openssl` is needed for the TLS test (apt-get install openssl): {e}")
        });
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `rediss://`: a Redis with TLS only, its certificate from a private CA. A replica that trusts
/// the CA (`SSL_CERT_FILE`, read by the system-roots loader) shares replay protection over TLS;
/// one that does not refuses the server (fail-closed 503): the certificate is verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_verifies_the_server_certificate() {
    require_redis_server();
    let certs = tempfile::tempdir().expect("temp dir");
    let dir = certs.path();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=replay test CA",
    ]);
    openssl(&ca, dir);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    openssl(&csr, dir);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
        ],
        dir,
    );
    let port = free_port();
    let path = |f: &str| dir.join(f).display().to_string();
    let _redis = RedisServer::start_with(
        &[
            "--port".into(),
            "0".into(),
            "--tls-port".into(),
            port.to_string(),
            "--tls-cert-file".into(),
            path("server.pem"),
            "--tls-key-file".into(),
            path("server.key"),
            "--tls-ca-cert-file".into(),
            path("ca.pem"),
            "--tls-auth-clients".into(),
            "no".into(),
        ],
        port,
        |port| TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok(),
    );
    let kit = Kit::new();
    let jwks = JwksServer::start().await;
    jwks.set(JWKS_PATH, jwt::jwks(&[&kit.key]));
    let url = format!("rediss://localhost:{port}/0");
    let mut env = replica_env(&jwks, &url, "fail-closed");
    // Long enough for the connection attempts to end with their own error (logged).
    let mut slow = env.clone();
    slow.retain(|(k, _)| *k != "DVT_CDS_REPLAY_STORE_TIMEOUT_MS");
    slow.push(("DVT_CDS_REPLAY_STORE_TIMEOUT_MS", "5000".to_owned()));
    let untrusting = Instance::start("untrusting", &slow);
    env.push(("SSL_CERT_FILE", path("ca.pem")));
    let replicas = [Instance::start("F", &env), Instance::start("G", &env)];
    // The first TLS connection (handshake, system roots loaded) may take longer than one check
    // may wait on a busy machine: wait until both report Redis reachable.
    for r in &replicas {
        kit.until_reachable(r).await;
    }
    let token = kit.token();
    assert_accepted(&kit.call(&replicas[0], &token).await, "F over TLS");
    assert_replayed(&kit.call(&replicas[1], &token).await, "G over TLS");
    assert_store_status(&kit, &replicas[1], "reachable", "fail-closed").await;
    println!("  rediss://: token used on F -> 401 replayed on G");
    let answer = kit.call(&untrusting, &kit.token()).await;
    assert_fail_closed(&answer, "a replica without the CA");
    assert_store_status(&kit, &untrusting, "unreachable", "fail-closed").await;
    println!("  rediss:// with an untrusted certificate -> 503 (refused)");
    let logs = untrusting.logs();
    assert!(
        logs.contains("invalid peer certificate"),
        "the refusal is the certificate check:\n{logs}"
    );
}

/// Bad replay store settings stop start-up naming the variable, without echoing a password; the
/// password is not shown by `--help` either.
#[test]
fn bad_replay_store_settings_stop_start_up_naming_the_variable() {
    let run = |args: &[&str], envs: &[(&str, &str)]| {
        let mut command = Command::new(BIN);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("DVT_CDS_") {
                command.env_remove(k);
            }
        }
        let out = command
            .args(args)
            .envs(envs.iter().copied())
            .env("DVT_CDS_BIND", "127.0.0.1:0")
            .stdin(Stdio::null())
            .output()
            .expect("run the binary");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    for (name, value) in [
        ("DVT_CDS_REPLAY_STORE", "redis://:hunter2@cache:6379/zero"),
        ("DVT_CDS_REPLAY_STORE", "http://cache:6379"),
        ("DVT_CDS_REPLAY_STORE_FAILURE", "fail-maybe"),
        ("DVT_CDS_REPLAY_STORE_TIMEOUT_MS", "0"),
    ] {
        let (ok, output) = run(&["serve"], &[(name, value)]);
        assert!(!ok, "{name}={value} started");
        assert!(output.contains(name), "{name}={value}: {output}");
        assert!(!output.contains("hunter2"), "{name}={value}: {output}");
    }
    let (ok, help) = run(
        &["serve", "--help"],
        &[("DVT_CDS_REPLAY_STORE", "redis://:hunter2@cache:6379/0")],
    );
    assert!(ok && help.contains("DVT_CDS_REPLAY_STORE"), "{help}");
    assert!(!help.contains("hunter2"), "{help}");
}
