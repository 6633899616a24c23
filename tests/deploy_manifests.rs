//! The Kubernetes manifests and the container image under `deploy/` agree with the binary: the
//! probe and metrics paths it serves, the port it listens on, the `DVT_CDS_*` variables it reads,
//! the configuration files it loads. No network beyond 127.0.0.1.
//!
//! Schema validation of the manifests is `deploy/validate.sh` (kustomize + kubernetes-validate);
//! this test checks what a schema cannot: that the manifests describe *this* binary.
//!
//! The YAML is read line by line (no YAML crate in the dependency tree): enough for the few keys
//! this test needs in files this repository controls.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_distal-dvt-cds");

/// `DVT_CDS_*` names in `deploy/` that belong to the build tooling, not to the service.
const TOOLING_VARS: &[&str] = &["DVT_CDS_CACHE"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let path = root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const DEPLOYMENT: &str = "deploy/k8s/base/deployment.yaml";
const CONFIG_ENV: &str = "deploy/k8s/base/config.env";
const SITE_OVERLAY: &str = "deploy/k8s/overlays/site-config/kustomization.yaml";
const SITE_MOUNT: &str = "deploy/k8s/overlays/site-config/mount-cds-services.yaml";
const SERVICE_MONITOR: &str = "deploy/k8s/components/servicemonitor/servicemonitor.yaml";
const REDIS_COMPONENT: &str = "deploy/k8s/components/redis-replay-store/kustomization.yaml";
const REDIS_MANIFEST: &str = "deploy/k8s/components/redis-replay-store/redis.yaml";

// ---- a line-based reader for the YAML this repository writes ----------------------------------

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The scalar after `key:` on a line like `key: value` or `- key: value` (quotes and trailing
/// comments removed).
fn scalar(line: &str, key: &str) -> Option<String> {
    let t = line.trim_start();
    let t = t.strip_prefix("- ").unwrap_or(t);
    let rest = t.strip_prefix(key)?.strip_prefix(':')?;
    let rest = match rest.find(" #") {
        Some(i) => &rest[..i],
        None => rest,
    };
    let v = rest.trim().trim_matches('"').trim_matches('\'');
    (!v.is_empty()).then(|| v.to_owned())
}

/// Every value of `key` inside the block that starts with the line `block:` (any depth).
fn values_in_block(text: &str, block: &str, key: &str) -> Vec<String> {
    let header = format!("{block}:");
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if t != header && t.strip_prefix("- ") != Some(header.as_str()) {
            continue;
        }
        let depth = indent(line);
        for inner in &lines[i + 1..] {
            if inner.trim().is_empty() || inner.trim_start().starts_with('#') {
                continue;
            }
            if indent(inner) <= depth {
                break;
            }
            if let Some(v) = scalar(inner, key) {
                out.push(v);
            }
        }
    }
    out
}

/// Every value of `key` anywhere in the text.
fn values(text: &str, key: &str) -> Vec<String> {
    text.lines().filter_map(|l| scalar(l, key)).collect()
}

/// `NAME=value` lines of a kustomize env file.
fn env_file(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

fn config_env() -> BTreeMap<String, String> {
    env_file(&read(CONFIG_ENV))
}

fn port_of(bind: &str) -> u16 {
    bind.rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or_else(|| panic!("DVT_CDS_BIND={bind}: expected ADDR:PORT"))
}

/// Every `DVT_CDS_*` name in a text (a bare `DVT_CDS_` or `DVT_CDS_*` is not a name).
fn dvt_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("DVT_CDS_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        let name = tail[..end].trim_end_matches('_');
        if name.len() > "DVT_CDS".len() {
            names.insert(name.to_owned());
        }
        rest = &tail[end.max(1)..];
    }
    names
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

// ---- the binary ---------------------------------------------------------------------------------

/// A `Command` for the binary without any `DVT_CDS_*` variable of the caller's environment.
fn bin() -> Command {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("DVT_CDS_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// The environment variables `serve --help` lists (`[env: NAME=...]`).
fn env_names_in_help() -> BTreeSet<String> {
    let out = bin()
        .args(["serve", "--help"])
        .output()
        .expect("run distal-dvt-cds serve --help");
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "`distal-dvt-cds serve --help` failed ({}): {}{}",
        out.status,
        help,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names = BTreeSet::new();
    let mut rest = help.as_str();
    while let Some(i) = rest.find("[env:") {
        let tail = rest[i + "[env:".len()..].trim_start();
        let end = tail.find(['=', ']']).unwrap_or(tail.len());
        names.insert(tail[..end].trim().to_owned());
        rest = &tail[end..];
    }
    names
}

/// Kills the server when the test ends, also on a failed assertion.
struct Server {
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// `GET path` over HTTP/1.1; the status code, or an error text.
fn http_get(addr: SocketAddr, path: &str) -> Result<u16, String> {
    let mut stream =
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| e.to_string())?;
    let response = String::from_utf8_lossy(&response);
    let status = response
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP response: {:.200}", response))?;
    Ok(status)
}

/// Start `serve` on 127.0.0.1 with the manifest's environment, except: the bind address (a free
/// loopback port), authentication (off: the loopback default) and the configuration directory
/// (the repository's `cds-services/`; the manifest's is the path inside the image).
fn start_with_manifest_env() -> (Server, SocketAddr) {
    start_with_manifest_env_and(&[])
}

/// [`start_with_manifest_env`], then `extra` variables on top.
fn start_with_manifest_env_and(extra: &[(String, String)]) -> (Server, SocketAddr) {
    let port = free_port();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("server.log");
    let stderr = std::fs::File::create(&log).expect("log file");
    let mut cmd = bin();
    for (k, v) in config_env() {
        if !matches!(
            k.as_str(),
            "DVT_CDS_BIND" | "DVT_CDS_AUTH" | "DVT_CDS_CONFIG_DIR"
        ) {
            cmd.env(k, v);
        }
    }
    cmd.env("DVT_CDS_AUTH", "off")
        .env("DVT_CDS_CONFIG_DIR", root().join("cds-services"))
        .envs(extra.iter().map(|(k, v)| (k, v)))
        .args(["serve", "--bind", &addr.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    let child = cmd.spawn().expect("start distal-dvt-cds serve");
    let mut server = Server {
        child,
        log,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return (server, addr);
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!(
                "`distal-dvt-cds serve --bind {addr}` with the manifest's environment exited \
                 ({status}) before listening:\n{}",
                server.log()
            );
        }
        assert!(
            Instant::now() < deadline,
            "`distal-dvt-cds serve --bind {addr}` did not listen within 30 s:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---- the checks ---------------------------------------------------------------------------------

#[test]
fn probes_in_the_deployment_are_healthz_and_readyz() {
    let d = read(DEPLOYMENT);
    assert_eq!(
        values_in_block(&d, "livenessProbe", "path"),
        ["/healthz"],
        "{DEPLOYMENT}: livenessProbe"
    );
    assert_eq!(
        values_in_block(&d, "readinessProbe", "path"),
        ["/readyz"],
        "{DEPLOYMENT}: readinessProbe"
    );
    for path in values_in_block(&d, "startupProbe", "path") {
        assert!(
            path == "/healthz" || path == "/readyz",
            "{DEPLOYMENT}: startupProbe path {path}"
        );
    }
}

#[test]
fn container_port_is_the_port_of_dvt_cds_bind() {
    let bind = config_env()
        .get("DVT_CDS_BIND")
        .cloned()
        .unwrap_or_else(|| panic!("{CONFIG_ENV}: no DVT_CDS_BIND"));
    assert!(
        bind.starts_with("0.0.0.0:") || bind.starts_with("[::]:"),
        "{CONFIG_ENV}: DVT_CDS_BIND={bind} must listen on all interfaces in a pod"
    );
    let port = port_of(&bind);
    let d = read(DEPLOYMENT);
    let ports: Vec<String> = values(&d, "containerPort");
    assert_eq!(
        ports,
        [port.to_string()],
        "{DEPLOYMENT}: containerPort vs DVT_CDS_BIND={bind} in {CONFIG_ENV}"
    );
    let annotated = values(&d, "prometheus.io/port");
    assert_eq!(
        annotated,
        [port.to_string()],
        "{DEPLOYMENT}: prometheus.io/port"
    );
    // The image: the same listen address and port.
    let dockerfile = read("deploy/Dockerfile");
    assert!(
        dockerfile.contains(&format!("DVT_CDS_BIND={bind}")),
        "deploy/Dockerfile: ENV DVT_CDS_BIND must be {bind}"
    );
    assert!(
        dockerfile
            .lines()
            .any(|l| l.trim() == format!("EXPOSE {port}")),
        "deploy/Dockerfile: EXPOSE {port}"
    );
}

#[test]
fn every_dvt_cds_variable_in_deploy_is_read_by_the_binary() {
    let mut files = Vec::new();
    files_under(&root().join("deploy"), &mut files);
    let mut used: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let rel = file
            .strip_prefix(root())
            .unwrap_or(&file)
            .display()
            .to_string();
        for name in dvt_names(&text) {
            if !TOOLING_VARS.contains(&name.as_str()) {
                used.entry(name).or_default().insert(rel.clone());
            }
        }
    }
    for required in ["DVT_CDS_BIND", "DVT_CDS_AUTH", "DVT_CDS_PUBLIC_URL"] {
        assert!(used.contains_key(required), "deploy/ never sets {required}");
    }
    let known = env_names_in_help();
    let unknown: Vec<String> = used
        .iter()
        .filter(|(name, _)| !known.contains(*name))
        .map(|(name, files)| {
            format!(
                "{name} (in {})",
                files.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        })
        .collect();
    assert!(
        unknown.is_empty(),
        "deploy/ uses environment variables that `distal-dvt-cds serve --help` does not list: \
         {}\n(the binary lists: {})",
        unknown.join("; "),
        known.iter().cloned().collect::<Vec<_>>().join(", ")
    );
}

#[test]
fn the_binary_answers_200_on_every_probe_and_metrics_path_of_the_manifests() {
    let d = read(DEPLOYMENT);
    let mut paths: BTreeSet<String> = ["livenessProbe", "readinessProbe", "startupProbe"]
        .iter()
        .flat_map(|p| values_in_block(&d, p, "path"))
        .collect();
    paths.extend(values(&d, "prometheus.io/path"));
    paths.extend(values_in_block(&read(SERVICE_MONITOR), "endpoints", "path"));
    // Liveness, readiness and metrics at least (the checks above say which paths they must be;
    // this one asks the binary).
    assert!(
        paths.len() >= 3,
        "too few paths found in deploy/k8s: {paths:?}"
    );
    let (server, addr) = start_with_manifest_env();
    for path in &paths {
        let status = http_get(addr, path)
            .unwrap_or_else(|e| panic!("GET {path}: {e}\nserver log:\n{}", server.log()));
        assert_eq!(
            status,
            200,
            "GET {path} (a path in deploy/k8s) answered {status}\nserver log:\n{}",
            server.log()
        );
    }
}

#[test]
fn the_site_overlay_mounts_every_config_file_at_the_config_dir() {
    // Every file the service loads is a top-level *.toml of cds-services/; a mounted ConfigMap
    // replaces the whole directory, so the overlay must carry all of them.
    let mut shipped: BTreeSet<String> = std::fs::read_dir(root().join("cds-services"))
        .expect("cds-services/")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    assert!(!shipped.is_empty(), "cds-services/ has no *.toml");
    let overlay = read(SITE_OVERLAY);
    let listed: BTreeSet<String> = overlay
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- cds-services/"))
        .map(|f| f.trim().to_owned())
        .collect();
    shipped.retain(|f| !listed.contains(f));
    assert!(
        shipped.is_empty(),
        "{SITE_OVERLAY}: configMapGenerator distal-dvt-cds-config lacks {shipped:?}"
    );
    let config_dir = config_env()
        .get("DVT_CDS_CONFIG_DIR")
        .cloned()
        .unwrap_or_else(|| panic!("{CONFIG_ENV}: no DVT_CDS_CONFIG_DIR"));
    assert_eq!(
        values(&read(SITE_MOUNT), "mountPath"),
        std::slice::from_ref(&config_dir),
        "{SITE_MOUNT}: the ConfigMap must be mounted at DVT_CDS_CONFIG_DIR"
    );
    assert!(
        read("deploy/Dockerfile").contains(&format!("COPY cds-services/ {config_dir}/")),
        "deploy/Dockerfile must bake cds-services/ into DVT_CDS_CONFIG_DIR={config_dir}"
    );
}

#[test]
fn the_image_runs_the_release_build_of_this_binary() {
    let name = Path::new(BIN)
        .file_name()
        .and_then(|n| n.to_str())
        .expect("binary name")
        .trim_end_matches(".exe")
        .to_owned();
    let dockerfile = read("deploy/Dockerfile");
    assert!(
        dockerfile.contains(&format!("/src/target/release/{name} /app/{name}")),
        "deploy/Dockerfile must copy target/release/{name}"
    );
    assert!(
        dockerfile.contains("cargo build --release --locked"),
        "deploy/Dockerfile must build with the locked dependencies"
    );
    assert!(
        dockerfile.contains(&format!("ENTRYPOINT [\"/app/{name}\", \"serve\"]")),
        "deploy/Dockerfile: ENTRYPOINT"
    );
}

#[test]
fn the_line_reader_reads_what_it_should() {
    let yaml = "a:\n  livenessProbe:\n    httpGet:\n      path: /x # c\n      port: http\n  other:\n    path: /y\n";
    assert_eq!(values_in_block(yaml, "livenessProbe", "path"), ["/x"]);
    assert_eq!(values(yaml, "path"), ["/x", "/y"]);
    assert_eq!(
        scalar("  - containerPort: \"8080\"", "containerPort").as_deref(),
        Some("8080")
    );
    let names = dvt_names("DVT_CDS_BIND=1 `DVT_CDS_*` DVT_CDS_ x ${DVT_CDS_CACHE:-y}");
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["DVT_CDS_BIND", "DVT_CDS_CACHE"]
    );
    assert_eq!(
        env_file("# c\nA=1\n\nB = 2\n"),
        BTreeMap::from([("A".into(), "1".into()), ("B".into(), "2".into())])
    );
}

/// `NAME=value` literals of a kustomization's `configMapGenerator`.
fn literals(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("- "))
        .filter(|l| l.starts_with("DVT_CDS_"))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.split(" #").next().unwrap_or(v);
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect()
}

#[test]
fn the_redis_component_points_the_service_at_its_redis() {
    let env = literals(&read(REDIS_COMPONENT));
    let store = env
        .get("DVT_CDS_REPLAY_STORE")
        .unwrap_or_else(|| panic!("{REDIS_COMPONENT}: no DVT_CDS_REPLAY_STORE"));
    let rest = store
        .strip_prefix("redis://")
        .unwrap_or_else(|| panic!("{REDIS_COMPONENT}: DVT_CDS_REPLAY_STORE={store}"));
    let (host, port) = rest
        .split('/')
        .next()
        .and_then(|hp| hp.split_once(':'))
        .unwrap_or_else(|| panic!("{REDIS_COMPONENT}: DVT_CDS_REPLAY_STORE={store}: no HOST:PORT"));
    let redis = read(REDIS_MANIFEST);
    assert!(
        values(&redis, "name").iter().any(|n| n == host),
        "{REDIS_MANIFEST}: no Service named {host} (DVT_CDS_REPLAY_STORE={store})"
    );
    assert!(
        values(&redis, "port").iter().any(|p| p == port)
            && values(&redis, "containerPort").iter().any(|p| p == port),
        "{REDIS_MANIFEST}: the Service and the container must listen on {port}"
    );
    // An evicted token id would let its replay through: the example Redis never evicts.
    let args: Vec<&str> = redis.lines().map(str::trim).collect();
    assert!(
        args.windows(2)
            .any(|w| w[0] == "- --maxmemory-policy" && w[1] == "- noeviction"),
        "{REDIS_MANIFEST}: --maxmemory-policy noeviction"
    );
    assert_eq!(
        env.get("DVT_CDS_REPLAY_STORE_FAILURE").map(String::as_str),
        Some("fail-closed")
    );
    // The binary takes the component's values with authentication on, and starts and is ready
    // although that Redis does not exist here (it connects lazily; /readyz stays 200).
    let mut extra: Vec<(String, String)> = env.into_iter().collect();
    extra.push(("DVT_CDS_AUTH".into(), "required".into()));
    extra.push((
        "DVT_CDS_TRUSTED_ISSUERS".into(),
        "https://ehr.example.org=https://127.0.0.1:9/jwks.json".into(),
    ));
    let (server, addr) = start_with_manifest_env_and(&extra);
    let status = http_get(addr, "/readyz")
        .unwrap_or_else(|e| panic!("GET /readyz: {e}\nserver log:\n{}", server.log()));
    assert_eq!(status, 200, "server log:\n{}", server.log());
    assert!(
        server.log().contains("redis://distal-dvt-cds-redis"),
        "the start-up log names the store:\n{}",
        server.log()
    );
}
