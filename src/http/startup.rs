//! Start-up, split from request handling (zero2prod): [`Application::build`] loads and checks
//! everything, binds the listener (port 0 picks a free port) and builds the server;
//! [`Application::run_until_stopped`] serves until SIGTERM/SIGINT, then lets in-flight
//! requests finish (up to `shutdown_timeout`).

use std::net::{SocketAddr, TcpListener};

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::{KeepAlive, header};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};

use super::auth::{self, AuthPolicy};
use super::limits::{self, RequestLimits};
use super::metrics::Metrics;
use super::playground;
use super::routes;
use super::state::{AppState, discovery_document};
use crate::auth::{AuthConfig, AuthConfigError, Authenticator};
use crate::cds_schema::{SchemaError, SchemaViolation, Schemas};
use crate::config::{Config, ConfigError};
use crate::fetch::Fetcher;
use crate::settings::{AuthDecision, Settings, SettingsError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error("configuration: the discovery document breaks its schema at `{}`: {}", .0.pointer, .0.message)]
    Discovery(SchemaViolation),
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("authentication: {0}")]
    Auth(#[from] AuthConfigError),
    #[error("cannot build the HTTP client for the prefetch fallback fetch: {0}")]
    HttpClient(#[source] reqwest::Error),
    #[error("cannot install the SIGINT/SIGTERM handlers: {0}")]
    Signals(#[source] std::io::Error),
    #[error("cannot listen on `{bind}`: {source}")]
    Bind {
        bind: String,
        #[source]
        source: std::io::Error,
    },
}

/// Blocking-pool threads per worker (one worker per core by default): evaluations at once.
const BLOCKING_THREADS_PER_WORKER: usize = 2;

pub struct Application {
    address: SocketAddr,
    server: Server,
}

/// CORS for browser callers (the CDS Hooks sandbox): any origin; GET, POST, OPTIONS;
/// `Authorization` and `Content-Type`. Preflights are answered here, before any auth (the
/// auth middleware is inside this one; its 401s get the CORS headers).
fn cors() -> Cors {
    Cors::default()
        .allow_any_origin()
        .send_wildcard()
        .allowed_methods(["GET", "POST", "OPTIONS"])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(86_400)
}

/// Install the SIGINT (Ctrl-C) and SIGTERM handlers now (before the `listening` log line, so a
/// signal sent right after it is not lost) and return a future resolving on either: both stop
/// gracefully.
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!(signal = "SIGINT", "stopping: finishing in-flight requests"),
            _ = terminate.recv() => tracing::info!(signal = "SIGTERM", "stopping: finishing in-flight requests"),
        }
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    Ok(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!(signal = "Ctrl-C", "stopping: finishing in-flight requests");
        } else {
            std::future::pending::<()>().await;
        }
    })
}

/// Load configuration, compile the schemas and render discovery: everything a request needs.
pub fn load_state(settings: &Settings) -> Result<AppState, StartupError> {
    let config = Config::load(&settings.config_dir)?;
    let schemas = Schemas::compile()?;
    let discovery = discovery_document(&config, &schemas).map_err(StartupError::Discovery)?;
    let metrics = Metrics::new()?;
    Ok(AppState::new(
        config,
        schemas,
        metrics,
        discovery,
        settings.max_body_bytes,
        settings.fixed_now,
        Fetcher::new(settings.fetch_limits()).map_err(StartupError::HttpClient)?,
    ))
}

/// Say at start-up how requests are authenticated, loudly when they are not.
fn log_auth(decision: AuthDecision, settings: &Settings, public_url: &str, policy: &AuthPolicy) {
    match (decision, policy) {
        (AuthDecision::OffOnLoopback, _) => tracing::warn!(
            "authentication is OFF (DVT_CDS_AUTH=off or unset on a loopback bind): any local caller is trusted; set DVT_CDS_AUTH=required with DVT_CDS_TRUSTED_ISSUERS / DVT_CDS_JKU_ALLOWLIST to verify CDS Hooks JWTs"
        ),
        (AuthDecision::InsecureNoAuth, _) => tracing::warn!(
            bind = %settings.bind,
            "INSECURE: serving WITHOUT ANY AUTHENTICATION on a non-loopback address (DVT_CDS_AUTH=off --insecure): anyone who can reach this port is trusted; use only on a network you trust"
        ),
        (AuthDecision::Required, AuthPolicy::Required(authenticator)) => {
            let issuers: Vec<&str> = settings
                .trusted_issuers
                .iter()
                .map(|(issuer, _)| issuer.as_str())
                .collect();
            tracing::info!(
                trusted_issuers = %issuers.join(", "),
                jku_allowlist = %settings.jku_allowlist.join(", "),
                algorithms = %authenticator.algorithms().join(", "),
                max_lifetime_secs = settings.jwt.max_lifetime.as_secs(),
                tenant_checked = !settings.jwt.tenants.is_empty(),
                audience = %authenticator.audience("/cds-services/<id>"),
                "JWT authentication required"
            );
            if settings.trusted_issuers.is_empty() {
                tracing::warn!(
                    "DVT_CDS_TRUSTED_ISSUERS is empty: any `iss` is accepted when the token's key comes from an allow-listed `jku`"
                );
            }
            if settings.public_url.is_none() {
                tracing::warn!(
                    public_url = %public_url,
                    "DVT_CDS_PUBLIC_URL is not set: tokens' `aud` must start with the bind address above; set it to the URL the EHRs call"
                );
            }
        }
        (AuthDecision::Required, AuthPolicy::Off) => {}
    }
}

impl Application {
    pub fn build(settings: Settings) -> Result<Application, StartupError> {
        let auth = settings.check_auth()?;
        settings.check_deadline()?;
        let state = web::Data::new(load_state(&settings)?);
        let listener =
            TcpListener::bind(settings.bind.as_str()).map_err(|source| StartupError::Bind {
                bind: settings.bind.clone(),
                source,
            })?;
        let address = listener.local_addr().map_err(|source| StartupError::Bind {
            bind: settings.bind.clone(),
            source,
        })?;
        let public_url = settings
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{address}"));
        let policy = web::Data::new(match auth {
            AuthDecision::Required => AuthPolicy::Required(Box::new(
                Authenticator::new(AuthConfig {
                    public_url: public_url.clone(),
                    trusted_issuers: settings.trusted_issuers.clone(),
                    jku_allowlist: settings.jku_allowlist.clone(),
                    extra_algs: settings.jwt.extra_algs.clone(),
                    max_lifetime: settings.jwt.max_lifetime,
                    tenants: settings.jwt.tenants.clone(),
                    jwks: settings.jwt.jwks.clone(),
                })?
                .with_replay_store(auth::replay_store(&settings.replay, &state.metrics)?),
            )),
            AuthDecision::OffOnLoopback | AuthDecision::InsecureNoAuth => {
                auth::warn_if_replay_store_unused(&settings.replay);
                AuthPolicy::Off
            }
        });
        state.set_ready(true);
        let shared = state.clone();
        let shared_policy = policy.clone();
        let playground_enabled = settings.playground_enabled();
        let request_limits = web::Data::new(RequestLimits::new(settings.limits));
        let bench_floor = settings.bench_floor == crate::settings::BenchFloor::On;
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .app_data(shared_policy.clone())
                .app_data(request_limits.clone())
                .wrap(from_fn(auth::authenticate))
                .wrap(from_fn(limits::limit_concurrency))
                .wrap(cors())
                .wrap(from_fn(routes::observe))
                .configure(routes::configure)
                .configure(|cfg| playground::configure(cfg, playground_enabled))
                .configure(|cfg| super::bench_floor::configure(cfg, bench_floor))
                .default_service(web::to(routes::not_found))
        })
        .shutdown_timeout(settings.shutdown_timeout.as_secs())
        // Slow clients (slowloris): a request head must arrive within the client request
        // timeout (else 408 and the connection is closed), idle keep-alive connections are
        // closed, and a client has the disconnect timeout to close its side.
        .client_request_timeout(settings.limits.client_request_timeout)
        .client_disconnect_timeout(settings.limits.client_disconnect_timeout)
        .keep_alive(
            settings
                .limits
                .keep_alive
                .map_or(KeepAlive::Disabled, KeepAlive::Timeout),
        )
        .shutdown_signal(shutdown_signal().map_err(StartupError::Signals)?)
        // The blocking pool evaluates bodies over 1 MiB (smaller ones are evaluated on the
        // worker, `routes::hook`): CPU work, so more threads than cores cannot evaluate faster,
        // they only hold more parsed requests at once (memory). Requests beyond that wait in
        // the pool's queue, within the request deadline and the concurrency limit.
        .worker_max_blocking_threads(BLOCKING_THREADS_PER_WORKER);
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }
        let server = server
            .listen(listener)
            .map_err(|source| StartupError::Bind {
                bind: settings.bind.clone(),
                source,
            })?
            .run();
        log_auth(auth, &settings, &public_url, policy.get_ref());
        tracing::info!(
            address = %address,
            public_url = %public_url,
            config_dir = %settings.config_dir.display(),
            services = state.config.services.len(),
            ruleset_version = %state.config.rules.ruleset_version,
            auth = if auth == AuthDecision::Required { "required" } else { "off" },
            max_body_bytes = settings.max_body_bytes,
            fhir_budget_ms = settings.fhir_budget.as_millis() as u64,
            playground = playground_enabled,
            fhir_request_timeout_ms = settings.fhir_request_timeout.as_millis() as u64,
            fhir_max_pages = settings.fhir_max_pages,
            max_json_depth = settings.limits.max_json_depth,
            max_bundle_entries = settings.limits.max_bundle_entries,
            request_deadline_ms = settings.limits.request_deadline.as_millis() as u64,
            max_concurrent_requests = settings.limits.max_concurrent_requests,
            "listening"
        );
        Ok(Application { address, server })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Serve until stopped by a signal; in-flight requests finish first.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
