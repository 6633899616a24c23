//! Server settings: command-line flags over `DVT_CDS_*` environment variables over embedded
//! defaults (flags win; clap reads both). Parsed once into typed values ([`Settings`]).

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use time::OffsetDateTime;

use crate::auth::replay::{FailurePolicy, ReplayConfig, StoreLocation};
use crate::auth::{self, SigningAlg};
use crate::config::Config;

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_MAX_BODY_BYTES: usize = 5_242_880;
pub const DEFAULT_FHIR_BUDGET_MS: u64 = 3_000;
pub const DEFAULT_SHUTDOWN_TIMEOUT_SECS: u64 = 30;
// Resource limits (`src/http/limits.rs`).
pub const DEFAULT_MAX_JSON_DEPTH: usize = 64;
pub const DEFAULT_MAX_BUNDLE_ENTRIES: usize = 10_000;
pub const DEFAULT_REQUEST_DEADLINE_MS: u64 = 10_000;
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 64;
pub const DEFAULT_CLIENT_REQUEST_TIMEOUT_MS: u64 = 5_000;
pub const DEFAULT_CLIENT_DISCONNECT_TIMEOUT_MS: u64 = 1_000;
pub const DEFAULT_KEEP_ALIVE_SECS: u64 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (default).
    #[default]
    Json,
    /// Human-readable, for a terminal.
    Pretty,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// No authentication (allowed on a loopback bind; elsewhere only with `--insecure`).
    Off,
    /// CDS Hooks JWT authentication on discovery, hooks and feedback.
    Required,
}

/// `DVT_CDS_PLAYGROUND`: whether `/playground` (the built-in test page) is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum PlaygroundMode {
    /// On when authentication is off, off when it is required (default).
    #[default]
    Auto,
    /// Always served.
    On,
    /// Never served (404).
    Off,
}

/// Flags of `serve` (also accepted without the subcommand). Every flag has its env variable.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Listen address [default: 127.0.0.1:8080]
    #[arg(long, env = "DVT_CDS_BIND", value_name = "ADDR:PORT")]
    pub bind: Option<String>,
    /// Configuration directory [default: ./cds-services if it exists, else the one shipped with the source]
    #[arg(long, env = "DVT_CDS_CONFIG_DIR", value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    /// Base URL EHRs call (JWT `aud` = <PUBLIC_URL>/cds-services/<id>) [default: http://<bind>]
    #[arg(long, env = "DVT_CDS_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Request body limit in bytes (413 above it) [default: 5242880]
    #[arg(long, env = "DVT_CDS_MAX_BODY_BYTES", value_name = "BYTES",
          value_parser = clap::value_parser!(u64).range(1..=1_073_741_824))]
    pub max_body_bytes: Option<u64>,
    /// Log format on stderr [default: json]
    #[arg(long, env = "DVT_CDS_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Authentication [default: off on a loopback bind, required otherwise]
    #[arg(long, env = "DVT_CDS_AUTH", value_enum)]
    pub auth: Option<AuthMode>,
    /// Overall time budget for fetching absent prefetch keys from fhirServer, in ms [default: 3000]
    #[arg(long, env = "DVT_CDS_FHIR_BUDGET_MS", value_name = "MS",
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub fhir_budget_ms: Option<u64>,
    /// Timeout of one request to fhirServer, in ms [default: 2000]
    #[arg(long, env = "DVT_CDS_FHIR_REQUEST_TIMEOUT_MS", value_name = "MS",
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub fhir_request_timeout_ms: Option<u64>,
    /// Result pages fetched per prefetch key (Bundle.link next), the first included [default: 5]
    #[arg(long, env = "DVT_CDS_FHIR_MAX_PAGES", value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=100))]
    pub fhir_max_pages: Option<u64>,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT [default: 30]
    #[arg(long, env = "DVT_CDS_SHUTDOWN_TIMEOUT_SECS", value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(0..=3_600))]
    pub shutdown_timeout_secs: Option<u64>,
    /// Trusted JWT issuers, comma-separated ISSUER=JWKS_URL pairs
    #[arg(
        long,
        env = "DVT_CDS_TRUSTED_ISSUERS",
        value_name = "ISSUER=JWKS_URL,..."
    )]
    pub trusted_issuers: Option<String>,
    /// URL prefixes a token's `jku` may point to, comma-separated
    #[arg(long, env = "DVT_CDS_JKU_ALLOWLIST", value_name = "URL,...")]
    pub jku_allowlist: Option<String>,
    /// JWT algorithms accepted besides ES384 and RS384: ES256 and/or RS256, comma-separated
    #[arg(long, env = "DVT_CDS_JWT_EXTRA_ALGS", value_name = "ALG,...")]
    pub jwt_extra_algs: Option<String>,
    /// Maximum JWT lifetime (exp - iat) in seconds [default: 900]
    #[arg(long, env = "DVT_CDS_JWT_MAX_LIFETIME_SECS", value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub jwt_max_lifetime_secs: Option<u64>,
    /// Required JWT `tenant` claim value(s), comma-separated [default: not checked]
    #[arg(long, env = "DVT_CDS_JWT_TENANT", value_name = "TENANT,...")]
    pub jwt_tenant: Option<String>,
    /// Allow DVT_CDS_AUTH=off on a non-loopback address (serves WITHOUT authentication)
    #[arg(long)]
    pub insecure: bool,
    /// The /playground test page: auto (on when auth is off), on, off [default: auto]
    #[arg(long, env = "DVT_CDS_PLAYGROUND", value_enum)]
    pub playground: Option<PlaygroundMode>,
    /// JWT `jti` replay store: memory (this process only) or redis://HOST:PORT/DB, shared by every replica (rediss:// for TLS) [default: memory]
    #[arg(
        long,
        env = "DVT_CDS_REPLAY_STORE",
        value_name = "memory|URL",
        hide_env_values = true
    )]
    pub replay_store: Option<String>,
    /// When the Redis replay store cannot answer: fail-closed (503) or fail-open (accept without a replay check) [default: fail-closed]
    #[arg(long, env = "DVT_CDS_REPLAY_STORE_FAILURE", value_name = "POLICY")]
    pub replay_store_failure: Option<String>,
    /// Longest one replay check in Redis may take, in ms (1-10000) [default: 250]
    #[arg(long, env = "DVT_CDS_REPLAY_STORE_TIMEOUT_MS", value_name = "MS")]
    pub replay_store_timeout_ms: Option<String>,
    /// Benchmark only: serve `POST /bench/floor` (parse the body, answer a constant) [default: off]
    #[arg(long, env = "DVT_CDS_BENCH_FLOOR", value_enum)]
    pub bench_floor: Option<BenchFloor>,
    /// Resource limits (hook and feedback requests; boxed: keeps `ServeArgs` small).
    #[command(flatten)]
    pub limits: Box<LimitArgs>,
}

/// Resource limits of `serve` (see README, "Resource limits").
#[derive(Debug, Clone, Default, Args)]
pub struct LimitArgs {
    /// Deepest JSON nesting accepted in a request body (400 above it; at most 127, serde_json's own limit) [default: 64]
    #[arg(long, env = "DVT_CDS_MAX_JSON_DEPTH", value_name = "N",
          value_parser = clap::value_parser!(u64).range(2..=127))]
    pub max_json_depth: Option<u64>,
    /// Most entries accepted in one prefetch Bundle or draftOrders (413 above it) [default: 10000]
    #[arg(long, env = "DVT_CDS_MAX_BUNDLE_ENTRIES", value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub max_bundle_entries: Option<u64>,
    /// Time a hook call may take from its first byte of body to its answer, fallback fetch
    /// and evaluation included, in ms (503 after it); at least DVT_CDS_FHIR_BUDGET_MS [default: 10000]
    #[arg(long, env = "DVT_CDS_REQUEST_DEADLINE_MS", value_name = "MS",
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub request_deadline_ms: Option<u64>,
    /// Hook and feedback requests served at once (503 with Retry-After above it) [default: 64]
    #[arg(long, env = "DVT_CDS_MAX_CONCURRENT_REQUESTS", value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub max_concurrent_requests: Option<u64>,
    /// Time a client has to send a request's head, in ms (408 after it) [default: 5000]
    #[arg(long, env = "DVT_CDS_CLIENT_REQUEST_TIMEOUT_MS", value_name = "MS",
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub client_request_timeout_ms: Option<u64>,
    /// Time a client has to close its side after the answer, in ms [default: 1000]
    #[arg(long, env = "DVT_CDS_CLIENT_DISCONNECT_TIMEOUT_MS", value_name = "MS",
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub client_disconnect_timeout_ms: Option<u64>,
    /// Idle keep-alive connections are closed after this many seconds (0: no keep-alive) [default: 5]
    #[arg(long, env = "DVT_CDS_KEEP_ALIVE_SECS", value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(0..=3_600))]
    pub keep_alive_secs: Option<u64>,
}

/// The resource limits, typed (enforced in `src/http/limits.rs`, `src/http/body.rs` and
/// `src/bundle_limit.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_json_depth: usize,
    pub max_bundle_entries: usize,
    pub request_deadline: Duration,
    pub max_concurrent_requests: usize,
    pub client_request_timeout: Duration,
    pub client_disconnect_timeout: Duration,
    /// `None`: keep-alive off.
    pub keep_alive: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_json_depth: DEFAULT_MAX_JSON_DEPTH,
            max_bundle_entries: DEFAULT_MAX_BUNDLE_ENTRIES,
            request_deadline: Duration::from_millis(DEFAULT_REQUEST_DEADLINE_MS),
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
            client_request_timeout: Duration::from_millis(DEFAULT_CLIENT_REQUEST_TIMEOUT_MS),
            client_disconnect_timeout: Duration::from_millis(DEFAULT_CLIENT_DISCONNECT_TIMEOUT_MS),
            keep_alive: Some(Duration::from_secs(DEFAULT_KEEP_ALIVE_SECS)),
        }
    }
}

impl LimitArgs {
    fn limits(&self) -> Limits {
        let d = Limits::default();
        let size = |v: Option<u64>, default: usize| {
            v.map_or(default, |n| usize::try_from(n).unwrap_or(default))
        };
        Limits {
            max_json_depth: size(self.max_json_depth, d.max_json_depth),
            max_bundle_entries: size(self.max_bundle_entries, d.max_bundle_entries),
            request_deadline: self
                .request_deadline_ms
                .map_or(d.request_deadline, Duration::from_millis),
            max_concurrent_requests: size(self.max_concurrent_requests, d.max_concurrent_requests),
            client_request_timeout: self
                .client_request_timeout_ms
                .map_or(d.client_request_timeout, Duration::from_millis),
            client_disconnect_timeout: self
                .client_disconnect_timeout_ms
                .map_or(d.client_disconnect_timeout, Duration::from_millis),
            keep_alive: match self.keep_alive_secs {
                None => d.keep_alive,
                Some(0) => None,
                Some(secs) => Some(Duration::from_secs(secs)),
            },
        }
    }
}

/// `DVT_CDS_BENCH_FLOOR`: whether the benchmark floor route (`POST /bench/floor`) is mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum BenchFloor {
    /// Not mounted (default): `/bench/floor` is a 404.
    #[default]
    Off,
    /// Mounted: reads the body into `serde_json::Value` and answers `{"cards":[]}` (benches/load.sh).
    On,
}

/// The prefetch fallback flags of `evaluate` (same variables and defaults as `serve`).
#[derive(Debug, Clone, Default, Args)]
pub struct FetchArgs {
    /// Overall time budget for fetching absent prefetch keys from fhirServer, in ms [default: 3000]
    #[arg(long, env = "DVT_CDS_FHIR_BUDGET_MS", value_name = "MS",
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub fhir_budget_ms: Option<u64>,
    /// Timeout of one request to fhirServer, in ms [default: 2000]
    #[arg(long, env = "DVT_CDS_FHIR_REQUEST_TIMEOUT_MS", value_name = "MS",
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub fhir_request_timeout_ms: Option<u64>,
    /// Result pages fetched per prefetch key, the first included [default: 5]
    #[arg(long, env = "DVT_CDS_FHIR_MAX_PAGES", value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=100))]
    pub fhir_max_pages: Option<u64>,
}

impl FetchArgs {
    pub fn limits(&self) -> crate::fetch::FetchLimits {
        let defaults = crate::fetch::FetchLimits::default();
        crate::fetch::FetchLimits {
            budget: self
                .fhir_budget_ms
                .map_or(defaults.budget, Duration::from_millis),
            request_timeout: self
                .fhir_request_timeout_ms
                .map_or(defaults.request_timeout, Duration::from_millis),
            max_pages: self.fhir_max_pages.map_or(defaults.max_pages, |n| {
                usize::try_from(n).unwrap_or(defaults.max_pages)
            }),
        }
    }
}

/// Everything the server needs, typed and checked.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `ADDR:PORT`; port 0 picks a free port (tests).
    pub bind: String,
    pub config_dir: PathBuf,
    pub public_url: Option<String>,
    pub max_body_bytes: usize,
    pub log_format: LogFormat,
    /// As configured; `None` = default for the bind address (see [`Settings::check_auth`]).
    pub auth: Option<AuthMode>,
    pub insecure: bool,
    pub fhir_budget: Duration,
    /// One request to `fhirServer` (`DVT_CDS_FHIR_REQUEST_TIMEOUT_MS`).
    pub fhir_request_timeout: Duration,
    /// Pages per prefetch key (`DVT_CDS_FHIR_MAX_PAGES`).
    pub fhir_max_pages: usize,
    /// `DVT_CDS_TRUSTED_ISSUERS` as (issuer, JWKS URL) pairs.
    pub trusted_issuers: Vec<(String, String)>,
    /// `DVT_CDS_JKU_ALLOWLIST`: URL prefixes (checked as parsed URLs).
    pub jku_allowlist: Vec<String>,
    /// The other JWT settings (`DVT_CDS_JWT_*`).
    pub jwt: JwtSettings,
    pub shutdown_timeout: Duration,
    /// Worker threads (`None` = one per core).
    pub workers: Option<usize>,
    /// Test hook: evaluate hooks at this instant instead of the real clock. Never set from
    /// the command line or the environment.
    pub fixed_now: Option<OffsetDateTime>,
    /// `DVT_CDS_PLAYGROUND` (see [`Settings::playground_enabled`]).
    pub playground: PlaygroundMode,
    /// `DVT_CDS_REPLAY_STORE`, `DVT_CDS_REPLAY_STORE_FAILURE`, `DVT_CDS_REPLAY_STORE_TIMEOUT_MS`.
    pub replay: ReplayConfig,
    /// Resource limits (`DVT_CDS_MAX_JSON_DEPTH`, `DVT_CDS_REQUEST_DEADLINE_MS`, …).
    pub limits: Limits,
    /// `DVT_CDS_BENCH_FLOOR` (benchmarks only).
    pub bench_floor: BenchFloor,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("DVT_CDS_BIND / --bind `{0}`: expected ADDR:PORT, e.g. 127.0.0.1:8080")]
    Bind(String),
    #[error("DVT_CDS_PUBLIC_URL / --public-url `{0}`: expected an http:// or https:// URL")]
    PublicUrl(String),
    #[error(
        "DVT_CDS_TRUSTED_ISSUERS / --trusted-issuers: `{0}`: expected comma-separated ISSUER=JWKS_URL \
         pairs, the JWKS URL starting with http:// or https://"
    )]
    TrustedIssuers(String),
    #[error(
        "DVT_CDS_JKU_ALLOWLIST / --jku-allowlist: `{0}`: expected comma-separated URL prefixes \
         starting with http:// or https://"
    )]
    JkuAllowlist(String),
    #[error(
        "DVT_CDS_JWT_EXTRA_ALGS / --jwt-extra-algs: `{0}`: only ES256 and RS256 can be added \
         (ES384 and RS384 are always accepted; `none` and HMAC algorithms never are)"
    )]
    JwtExtraAlgs(String),
    #[error(
        "authentication is required ({reason}) but no client can be trusted: set \
         DVT_CDS_TRUSTED_ISSUERS (ISSUER=JWKS_URL pairs) and/or DVT_CDS_JKU_ALLOWLIST, e.g. for the \
         CDS Hooks sandbox DVT_CDS_TRUSTED_ISSUERS=https://sandbox.cds-hooks.org=https://sandbox.cds-hooks.org/.well-known/jwks.json. \
         Refusing to start. (To serve WITHOUT authentication on a network you trust: \
         DVT_CDS_AUTH=off and --insecure.)"
    )]
    NoTrustedClients { reason: String },
    #[error(
        "DVT_CDS_AUTH=off on `{bind}`, which is not a loopback address: refusing to serve without \
         authentication. Configure JWT authentication (DVT_CDS_AUTH=required with \
         DVT_CDS_TRUSTED_ISSUERS / DVT_CDS_JKU_ALLOWLIST), bind to 127.0.0.1, or pass --insecure to \
         serve WITHOUT any authentication on a network you trust."
    )]
    InsecureNeeded { bind: String },
    #[error(
        "DVT_CDS_REPLAY_STORE / --replay-store: {0}; expected `memory` or \
         redis://[:PASSWORD@]HOST:PORT/DB (rediss:// for TLS)"
    )]
    ReplayStore(String),
    #[error(
        "DVT_CDS_REPLAY_STORE_FAILURE / --replay-store-failure: `{0}`: expected fail-closed or \
         fail-open"
    )]
    ReplayStoreFailure(String),
    #[error(
        "DVT_CDS_REPLAY_STORE_TIMEOUT_MS / --replay-store-timeout-ms: `{0}`: expected milliseconds \
         from 1 to 10000"
    )]
    ReplayStoreTimeout(String),
    #[error(
        "DVT_CDS_REQUEST_DEADLINE_MS / --request-deadline-ms ({deadline_ms}) is shorter than \
         DVT_CDS_FHIR_BUDGET_MS / --fhir-budget-ms ({budget_ms}): the deadline covers the \
         prefetch fallback fetch and the evaluation, so it must be at least the fetch budget \
         (leave room for the evaluation)"
    )]
    DeadlineBelowBudget { deadline_ms: u64, budget_ms: u64 },
}

/// JWT settings besides the issuers and the `jku` allow-list.
#[derive(Debug, Clone)]
pub struct JwtSettings {
    /// `DVT_CDS_JWT_EXTRA_ALGS`: ES256 / RS256 on top of ES384 and RS384.
    pub extra_algs: Vec<SigningAlg>,
    /// `DVT_CDS_JWT_MAX_LIFETIME_SECS`: longest `exp - iat` accepted.
    pub max_lifetime: Duration,
    /// `DVT_CDS_JWT_TENANT`: accepted `tenant` values (empty: not checked).
    pub tenants: Vec<String>,
    /// JWKS fetching and caching (not configurable from outside; tests shorten it).
    pub jwks: auth::JwksOptions,
}

impl Default for JwtSettings {
    fn default() -> Self {
        JwtSettings {
            extra_algs: Vec::new(),
            max_lifetime: Duration::from_secs(auth::DEFAULT_MAX_LIFETIME_SECS),
            tenants: Vec::new(),
            jwks: auth::JwksOptions::default(),
        }
    }
}

/// `http://` or `https://` followed by something without whitespace.
fn is_http_url(url: &str) -> bool {
    url.strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace))
}

/// Comma-separated items, blanks ignored (an empty variable means none).
fn items(list: Option<&str>) -> impl Iterator<Item = &str> {
    list.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

fn parse_trusted_issuers(list: Option<&str>) -> Result<Vec<(String, String)>, SettingsError> {
    items(list)
        .map(|pair| {
            let split = pair
                .find("=https://")
                .or_else(|| pair.find("=http://"))
                .filter(|&at| at > 0)
                .ok_or_else(|| SettingsError::TrustedIssuers(pair.to_owned()))?;
            let (issuer, jwks) = (&pair[..split], &pair[split + 1..]);
            if !is_http_url(jwks) {
                return Err(SettingsError::TrustedIssuers(pair.to_owned()));
            }
            Ok((issuer.to_owned(), jwks.to_owned()))
        })
        .collect()
}

fn parse_jku_allowlist(list: Option<&str>) -> Result<Vec<String>, SettingsError> {
    items(list)
        .map(|prefix| {
            if is_http_url(prefix) && auth::url_prefix::UrlPrefix::parse(prefix).is_ok() {
                Ok(prefix.to_owned())
            } else {
                Err(SettingsError::JkuAllowlist(prefix.to_owned()))
            }
        })
        .collect()
}

/// The replay store variables (errors name the variable; the store URL is never quoted).
fn parse_replay(args: &ServeArgs) -> Result<ReplayConfig, SettingsError> {
    let defaults = ReplayConfig::default();
    let store = match args.replay_store.as_deref() {
        None => defaults.store,
        Some(text) => StoreLocation::parse(text).map_err(SettingsError::ReplayStore)?,
    };
    let failure = match args.replay_store_failure.as_deref() {
        None => defaults.failure,
        Some(text) => FailurePolicy::parse(text)
            .ok_or_else(|| SettingsError::ReplayStoreFailure(auth::error::excerpt(text.trim())))?,
    };
    let timeout = match args.replay_store_timeout_ms.as_deref() {
        None => defaults.timeout,
        Some(text) => text
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|ms| (1..=10_000).contains(ms))
            .map(Duration::from_millis)
            .ok_or_else(|| SettingsError::ReplayStoreTimeout(auth::error::excerpt(text.trim())))?,
    };
    Ok(ReplayConfig {
        store,
        failure,
        timeout,
    })
}

fn parse_extra_algs(list: Option<&str>) -> Result<Vec<SigningAlg>, SettingsError> {
    items(list)
        .map(|alg| {
            SigningAlg::parse_extra(alg).ok_or_else(|| SettingsError::JwtExtraAlgs(alg.to_owned()))
        })
        .collect()
}

/// `./cds-services` if it exists in the current directory, else the directory shipped with
/// the source tree ([`Config::default_dir`]).
pub fn default_config_dir() -> PathBuf {
    let local = PathBuf::from("cds-services");
    if local.is_dir() {
        local
    } else {
        Config::default_dir()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: DEFAULT_BIND.to_owned(),
            config_dir: default_config_dir(),
            public_url: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            log_format: LogFormat::Json,
            auth: None,
            insecure: false,
            fhir_budget: Duration::from_millis(DEFAULT_FHIR_BUDGET_MS),
            fhir_request_timeout: Duration::from_millis(crate::fetch::DEFAULT_REQUEST_TIMEOUT_MS),
            fhir_max_pages: crate::fetch::DEFAULT_MAX_PAGES,
            trusted_issuers: Vec::new(),
            jku_allowlist: Vec::new(),
            jwt: JwtSettings::default(),
            shutdown_timeout: Duration::from_secs(DEFAULT_SHUTDOWN_TIMEOUT_SECS),
            workers: None,
            fixed_now: None,
            playground: PlaygroundMode::Auto,
            replay: ReplayConfig::default(),
            limits: Limits::default(),
            bench_floor: BenchFloor::Off,
        }
    }
}

/// What [`Settings::check_auth`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthDecision {
    /// Loopback bind, auth off.
    OffOnLoopback,
    /// `--insecure`: no authentication on a bind others can reach.
    InsecureNoAuth,
    /// JWT authentication on discovery, hooks and feedback.
    Required,
}

impl Settings {
    /// Layer the flags/env of `serve` over the defaults and check them.
    pub fn from_args(args: ServeArgs) -> Result<Settings, SettingsError> {
        let defaults = Settings::default();
        let replay = parse_replay(&args)?;
        let settings = Settings {
            bind: args.bind.unwrap_or(defaults.bind),
            config_dir: args.config_dir.unwrap_or(defaults.config_dir),
            public_url: args.public_url,
            max_body_bytes: args.max_body_bytes.map_or(defaults.max_body_bytes, |n| {
                usize::try_from(n).unwrap_or(usize::MAX)
            }),
            log_format: args.log_format.unwrap_or_default(),
            auth: args.auth,
            insecure: args.insecure,
            fhir_budget: args
                .fhir_budget_ms
                .map_or(defaults.fhir_budget, Duration::from_millis),
            fhir_request_timeout: args
                .fhir_request_timeout_ms
                .map_or(defaults.fhir_request_timeout, Duration::from_millis),
            fhir_max_pages: args.fhir_max_pages.map_or(defaults.fhir_max_pages, |n| {
                usize::try_from(n).unwrap_or(defaults.fhir_max_pages)
            }),
            trusted_issuers: parse_trusted_issuers(args.trusted_issuers.as_deref())?,
            jku_allowlist: parse_jku_allowlist(args.jku_allowlist.as_deref())?,
            jwt: JwtSettings {
                extra_algs: parse_extra_algs(args.jwt_extra_algs.as_deref())?,
                max_lifetime: args
                    .jwt_max_lifetime_secs
                    .map_or(defaults.jwt.max_lifetime, Duration::from_secs),
                tenants: items(args.jwt_tenant.as_deref())
                    .map(str::to_owned)
                    .collect(),
                jwks: defaults.jwt.jwks,
            },
            shutdown_timeout: args
                .shutdown_timeout_secs
                .map_or(defaults.shutdown_timeout, Duration::from_secs),
            workers: None,
            fixed_now: None,
            playground: args.playground.unwrap_or_default(),
            replay,
            limits: args.limits.limits(),
            bench_floor: args.bench_floor.unwrap_or_default(),
        };
        settings.bind_addrs()?;
        settings.check_deadline()?;
        if let Some(url) = &settings.public_url
            && !is_http_url(url)
        {
            return Err(SettingsError::PublicUrl(url.clone()));
        }
        Ok(settings)
    }

    /// The request deadline covers the fallback fetch: it may not be shorter than its budget.
    pub fn check_deadline(&self) -> Result<(), SettingsError> {
        if self.limits.request_deadline < self.fhir_budget {
            return Err(SettingsError::DeadlineBelowBudget {
                deadline_ms: self.limits.request_deadline.as_millis() as u64,
                budget_ms: self.fhir_budget.as_millis() as u64,
            });
        }
        Ok(())
    }

    /// The limits of the prefetch fallback fetch.
    pub fn fetch_limits(&self) -> crate::fetch::FetchLimits {
        crate::fetch::FetchLimits {
            budget: self.fhir_budget,
            request_timeout: self.fhir_request_timeout,
            max_pages: self.fhir_max_pages,
        }
    }

    /// The socket addresses `bind` resolves to.
    pub fn bind_addrs(&self) -> Result<Vec<SocketAddr>, SettingsError> {
        let addrs: Vec<SocketAddr> = self
            .bind
            .to_socket_addrs()
            .map_err(|_| SettingsError::Bind(self.bind.clone()))?
            .collect();
        if addrs.is_empty() {
            return Err(SettingsError::Bind(self.bind.clone()));
        }
        Ok(addrs)
    }

    /// Whether the bind address is loopback only.
    pub fn is_loopback(&self) -> Result<bool, SettingsError> {
        Ok(self.bind_addrs()?.iter().all(|a| a.ip().is_loopback()))
    }

    /// Whether authentication is required: `DVT_CDS_AUTH` as given, else its default for the
    /// bind (`required` unless every bind address is loopback; an unresolvable bind counts as
    /// required). `--insecure` does not change the answer.
    pub fn auth_required(&self) -> bool {
        match self.auth {
            Some(mode) => mode == AuthMode::Required,
            None => !self
                .bind_addrs()
                .is_ok_and(|addrs| addrs.iter().all(|a| a.ip().is_loopback())),
        }
    }

    /// Whether `/playground` is served: `DVT_CDS_PLAYGROUND=on|off`, or with `auto` only
    /// when authentication is not required.
    pub fn playground_enabled(&self) -> bool {
        match self.playground {
            PlaygroundMode::On => true,
            PlaygroundMode::Off => false,
            PlaygroundMode::Auto => !self.auth_required(),
        }
    }

    /// Secure by default: `DVT_CDS_AUTH` unset means `off` on a loopback bind and `required`
    /// elsewhere; `off` on a non-loopback bind needs `--insecure`; `required` needs at least one
    /// trusted issuer or `jku` allow-list entry.
    pub fn check_auth(&self) -> Result<AuthDecision, SettingsError> {
        let loopback = self.is_loopback()?;
        let mode = self.auth.unwrap_or(if loopback {
            AuthMode::Off
        } else {
            AuthMode::Required
        });
        match mode {
            AuthMode::Off if loopback => Ok(AuthDecision::OffOnLoopback),
            AuthMode::Off if self.insecure => Ok(AuthDecision::InsecureNoAuth),
            AuthMode::Off => Err(SettingsError::InsecureNeeded {
                bind: self.bind.clone(),
            }),
            AuthMode::Required
                if self.trusted_issuers.is_empty() && self.jku_allowlist.is_empty() =>
            {
                Err(SettingsError::NoTrustedClients {
                    reason: if self.auth.is_some() {
                        "DVT_CDS_AUTH=required".to_owned()
                    } else {
                        format!(
                            "`{}` is not a loopback address, where DVT_CDS_AUTH defaults to required",
                            self.bind
                        )
                    },
                })
            }
            AuthMode::Required => Ok(AuthDecision::Required),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_bind(bind: &str) -> Settings {
        Settings {
            bind: bind.to_owned(),
            ..Settings::default()
        }
    }

    #[test]
    fn loopback_serves_without_auth() {
        assert_eq!(
            with_bind("127.0.0.1:8080").check_auth().unwrap(),
            AuthDecision::OffOnLoopback
        );
        assert_eq!(
            with_bind("[::1]:0").check_auth().unwrap(),
            AuthDecision::OffOnLoopback
        );
    }

    #[test]
    fn a_public_bind_requires_auth_and_trusted_clients() {
        let s = with_bind("0.0.0.0:8080");
        let msg = s.check_auth().unwrap_err().to_string();
        assert!(msg.contains("DVT_CDS_TRUSTED_ISSUERS"), "{msg}");
        assert!(msg.contains("defaults to required"), "{msg}");
        // --insecure does not turn the default `required` off.
        let insecure = Settings {
            insecure: true,
            ..s.clone()
        };
        assert!(insecure.check_auth().is_err());
        let trusted = Settings {
            trusted_issuers: vec![(
                "https://ehr.example".into(),
                "https://ehr.example/jwks".into(),
            )],
            ..s.clone()
        };
        assert_eq!(trusted.check_auth().unwrap(), AuthDecision::Required);
        let jku_only = Settings {
            jku_allowlist: vec!["https://ehr.example/keys/".into()],
            ..s
        };
        assert_eq!(jku_only.check_auth().unwrap(), AuthDecision::Required);
    }

    #[test]
    fn auth_off_on_a_public_bind_needs_insecure() {
        let s = Settings {
            auth: Some(AuthMode::Off),
            ..with_bind("0.0.0.0:8080")
        };
        let msg = s.check_auth().unwrap_err().to_string();
        assert!(
            msg.contains("--insecure") && msg.contains("0.0.0.0:8080"),
            "{msg}"
        );
        let s = Settings {
            insecure: true,
            ..s
        };
        assert_eq!(s.check_auth().unwrap(), AuthDecision::InsecureNoAuth);
    }

    #[test]
    fn auth_required_on_loopback_needs_trusted_clients() {
        let s = Settings {
            auth: Some(AuthMode::Required),
            ..with_bind("127.0.0.1:8080")
        };
        let msg = s.check_auth().unwrap_err().to_string();
        assert!(msg.contains("DVT_CDS_AUTH=required"), "{msg}");
        let s = Settings {
            jku_allowlist: vec!["https://ehr.example/keys/".into()],
            ..s
        };
        assert_eq!(s.check_auth().unwrap(), AuthDecision::Required);
    }

    #[test]
    fn the_sandbox_one_liner_parses() {
        let args = ServeArgs {
            auth: Some(AuthMode::Required),
            trusted_issuers: Some(
                "https://sandbox.cds-hooks.org=https://sandbox.cds-hooks.org/.well-known/jwks.json"
                    .into(),
            ),
            jku_allowlist: Some("https://sandbox.cds-hooks.org/.well-known/jwks.json".into()),
            public_url: Some("https://cds.example.org".into()),
            ..ServeArgs::default()
        };
        let s = Settings::from_args(args).unwrap();
        assert_eq!(
            s.trusted_issuers,
            [(
                "https://sandbox.cds-hooks.org".to_owned(),
                "https://sandbox.cds-hooks.org/.well-known/jwks.json".to_owned()
            )]
        );
        assert_eq!(s.check_auth().unwrap(), AuthDecision::Required);
        // An issuer with a port and a path; a JWKS URL with a query.
        let args = ServeArgs {
            trusted_issuers: Some(
                "https://ehr.example:8443/fhir/r4=https://ehr.example:8443/keys?tenant=a".into(),
            ),
            ..ServeArgs::default()
        };
        let s = Settings::from_args(args).unwrap();
        assert_eq!(s.trusted_issuers[0].0, "https://ehr.example:8443/fhir/r4");
        assert_eq!(
            s.trusted_issuers[0].1,
            "https://ehr.example:8443/keys?tenant=a"
        );
    }

    #[test]
    fn jwt_options_are_parsed() {
        let args = ServeArgs {
            jwt_extra_algs: Some("ES256, RS256".into()),
            jwt_max_lifetime_secs: Some(300),
            jwt_tenant: Some("t-1,t-2".into()),
            ..ServeArgs::default()
        };
        let s = Settings::from_args(args).unwrap();
        assert_eq!(s.jwt.extra_algs, [SigningAlg::ES256, SigningAlg::RS256]);
        assert_eq!(s.jwt.max_lifetime, Duration::from_secs(300));
        assert_eq!(s.jwt.tenants, ["t-1", "t-2"]);
        assert_eq!(
            Settings::default().jwt.max_lifetime,
            Duration::from_secs(900)
        );
        for bad in ["HS256", "none", "ES512", "es256"] {
            let args = ServeArgs {
                jwt_extra_algs: Some(bad.into()),
                ..ServeArgs::default()
            };
            let msg = Settings::from_args(args).unwrap_err().to_string();
            assert!(msg.contains("DVT_CDS_JWT_EXTRA_ALGS"), "{bad}: {msg}");
        }
    }

    #[test]
    fn jwt_settings_are_checked_now() {
        let args = ServeArgs {
            trusted_issuers: Some(
                "https://sandbox.cds-hooks.org=https://sandbox.cds-hooks.org/.well-known/jwks.json, \
                 https://ehr.example.org/fhir=https://ehr.example.org/jwks?k=1"
                    .into(),
            ),
            jku_allowlist: Some("https://ehr.example.org/.well-known/,".into()),
            ..ServeArgs::default()
        };
        let s = Settings::from_args(args).unwrap();
        assert_eq!(s.trusted_issuers.len(), 2);
        assert_eq!(s.trusted_issuers[0].0, "https://sandbox.cds-hooks.org");
        assert_eq!(s.trusted_issuers[1].1, "https://ehr.example.org/jwks?k=1");
        assert_eq!(s.jku_allowlist, ["https://ehr.example.org/.well-known/"]);
        let empty = ServeArgs {
            trusted_issuers: Some(String::new()),
            ..ServeArgs::default()
        };
        assert!(
            Settings::from_args(empty)
                .unwrap()
                .trusted_issuers
                .is_empty()
        );
        for bad in [
            "https://ehr.example.org",
            "=https://x/jwks",
            "iss=ftp://x",
            "iss=https://",
        ] {
            let args = ServeArgs {
                trusted_issuers: Some(bad.into()),
                ..ServeArgs::default()
            };
            let msg = Settings::from_args(args).unwrap_err().to_string();
            assert!(msg.contains("DVT_CDS_TRUSTED_ISSUERS"), "{bad}: {msg}");
        }
        let args = ServeArgs {
            jku_allowlist: Some("ehr.example.org".into()),
            ..ServeArgs::default()
        };
        assert!(
            Settings::from_args(args)
                .unwrap_err()
                .to_string()
                .contains("DVT_CDS_JKU_ALLOWLIST")
        );
    }

    #[test]
    fn limits_are_parsed_and_the_deadline_covers_the_budget() {
        let s = Settings::from_args(ServeArgs::default()).unwrap();
        assert_eq!(s.limits, Limits::default());
        let args = ServeArgs {
            limits: Box::new(LimitArgs {
                max_json_depth: Some(10),
                max_bundle_entries: Some(5),
                request_deadline_ms: Some(4_000),
                max_concurrent_requests: Some(2),
                client_request_timeout_ms: Some(300),
                client_disconnect_timeout_ms: Some(200),
                keep_alive_secs: Some(0),
            }),
            ..ServeArgs::default()
        };
        let l = Settings::from_args(args).unwrap().limits;
        assert_eq!((l.max_json_depth, l.max_bundle_entries), (10, 5));
        assert_eq!(l.request_deadline, Duration::from_millis(4_000));
        assert_eq!(l.max_concurrent_requests, 2);
        assert_eq!(l.client_request_timeout, Duration::from_millis(300));
        assert_eq!(l.client_disconnect_timeout, Duration::from_millis(200));
        assert_eq!(l.keep_alive, None);
        let args = ServeArgs {
            fhir_budget_ms: Some(5_000),
            limits: Box::new(LimitArgs {
                request_deadline_ms: Some(4_000),
                ..LimitArgs::default()
            }),
            ..ServeArgs::default()
        };
        let msg = Settings::from_args(args).unwrap_err().to_string();
        assert!(
            msg.contains("DVT_CDS_REQUEST_DEADLINE_MS") && msg.contains("DVT_CDS_FHIR_BUDGET_MS"),
            "{msg}"
        );
    }

    #[test]
    fn bad_values_are_named() {
        let args = ServeArgs {
            bind: Some("nonsense".into()),
            ..ServeArgs::default()
        };
        assert!(
            Settings::from_args(args)
                .unwrap_err()
                .to_string()
                .contains("DVT_CDS_BIND")
        );
        let args = ServeArgs {
            public_url: Some("ftp://x".into()),
            ..ServeArgs::default()
        };
        assert!(
            Settings::from_args(args)
                .unwrap_err()
                .to_string()
                .contains("DVT_CDS_PUBLIC_URL")
        );
    }

    #[test]
    fn replay_store_settings_are_parsed_and_named() {
        let s = Settings::from_args(ServeArgs::default()).unwrap();
        assert_eq!(s.replay, ReplayConfig::default());
        assert_eq!(s.replay.store, StoreLocation::Memory);
        assert_eq!(s.replay.failure, FailurePolicy::FailClosed);
        assert_eq!(s.replay.timeout, Duration::from_millis(250));
        let args = ServeArgs {
            replay_store: Some("redis://:s3cret@redis.example:6380/2".into()),
            replay_store_failure: Some("fail-open".into()),
            replay_store_timeout_ms: Some("100".into()),
            ..ServeArgs::default()
        };
        let s = Settings::from_args(args).unwrap();
        let StoreLocation::Redis(url) = &s.replay.store else {
            panic!("{:?}", s.replay.store)
        };
        assert_eq!(url.redacted(), "redis://:****@redis.example:6380/2");
        assert!(
            !format!("{s:?}").contains("s3cret"),
            "Debug shows the password"
        );
        assert_eq!(s.replay.failure, FailurePolicy::FailOpen);
        assert_eq!(s.replay.timeout, Duration::from_millis(100));
        for ok in [
            "memory",
            "redis://127.0.0.1:6379",
            "redis://h/0",
            "rediss://user:pw@h:6379/15",
        ] {
            let args = ServeArgs {
                replay_store: Some(ok.into()),
                ..ServeArgs::default()
            };
            assert!(Settings::from_args(args).is_ok(), "{ok}");
        }
        for bad in [
            "redis",
            "http://h:6379",
            "redis://",
            "redis://:s3cret@h:6379/x",
            "Memory",
        ] {
            let args = ServeArgs {
                replay_store: Some(bad.into()),
                ..ServeArgs::default()
            };
            let msg = Settings::from_args(args).unwrap_err().to_string();
            assert!(msg.contains("DVT_CDS_REPLAY_STORE"), "{bad}: {msg}");
            assert!(!msg.contains("s3cret"), "{bad}: {msg}");
        }
        for bad in ["closed", "FAIL-OPEN", ""] {
            let args = ServeArgs {
                replay_store_failure: Some(bad.into()),
                ..ServeArgs::default()
            };
            let msg = Settings::from_args(args).unwrap_err().to_string();
            assert!(msg.contains("DVT_CDS_REPLAY_STORE_FAILURE"), "{bad}: {msg}");
        }
        for bad in ["0", "10001", "-1", "1s", ""] {
            let args = ServeArgs {
                replay_store_timeout_ms: Some(bad.into()),
                ..ServeArgs::default()
            };
            let msg = Settings::from_args(args).unwrap_err().to_string();
            assert!(
                msg.contains("DVT_CDS_REPLAY_STORE_TIMEOUT_MS"),
                "{bad}: {msg}"
            );
        }
    }
}
