//! Token replay protection: each `(iss, jti)` is accepted once and remembered until the token
//! can no longer be accepted anyway (its `exp` plus the clock skew).
//!
//! [`ReplayStore`] has two stores, chosen by `DVT_CDS_REPLAY_STORE` ([`ReplayConfig`]):
//! - [`MemoryReplayStore`] (`memory`, the default): this process only. Right for one replica;
//!   with several, a token replayed to another replica is not detected.
//! - [`RedisReplayStore`] (`redis://host:port/db`, `rediss://` for TLS): shared by every replica.
//!   A `jti` is recorded with `SET <key> 1 NX EX <remaining lifetime>` ([`redis_key`]: hashes of
//!   the issuer and the `jti`, never client text). The connection is made lazily and re-made by
//!   itself ([`redis::aio::ConnectionManager`]), so start-up never waits for Redis; every check
//!   is bounded by `DVT_CDS_REPLAY_STORE_TIMEOUT_MS`. When Redis cannot answer in time, the
//!   policy decides ([`FailurePolicy`]): `fail-closed` (default) → [`ReplayStoreError`], which
//!   the HTTP layer answers 503 with `Retry-After`; `fail-open` → the token is accepted without
//!   a replay check. Both are counted (`dvt_cds_replay_store_errors_total{policy}`).

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus::{HistogramVec, IntCounterVec, IntGauge};
use sha2::{Digest, Sha256};

/// The replay store could not answer in time (fail-closed only; never the in-memory store).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ReplayStoreError(pub String);

/// Default `DVT_CDS_REPLAY_STORE_TIMEOUT_MS`.
pub const DEFAULT_TIMEOUT_MS: u64 = 250;
/// Longest one (re)connection attempt may take (at least the check timeout).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Prefix of every key this service writes in Redis.
pub const KEY_PREFIX: &str = "dvt-cds:jti:";

/// `DVT_CDS_REPLAY_STORE_FAILURE`: what a request gets when the shared store cannot answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailurePolicy {
    /// Refuse the request (503 `replay-store-unavailable`, `Retry-After`): no token is accepted
    /// unchecked.
    #[default]
    FailClosed,
    /// Accept the (otherwise valid) token without a replay check, count it and log a warning.
    FailOpen,
}

impl FailurePolicy {
    pub fn parse(text: &str) -> Option<FailurePolicy> {
        match text.trim() {
            "fail-closed" => Some(FailurePolicy::FailClosed),
            "fail-open" => Some(FailurePolicy::FailOpen),
            _ => None,
        }
    }

    /// The configuration value and metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            FailurePolicy::FailClosed => "fail-closed",
            FailurePolicy::FailOpen => "fail-open",
        }
    }
}

/// A Redis URL. `Debug` and `Display` show it with the password replaced by `****`; the URL
/// itself is only handed to the Redis client.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl {
    url: String,
    shown: String,
}

impl RedisUrl {
    /// `redis://[user][:password@]host[:port][/db]` or `rediss://...` (TLS). The reason on error
    /// never quotes the password.
    pub fn parse(text: &str) -> Result<RedisUrl, String> {
        let text = text.trim();
        let parsed = url::Url::parse(text).map_err(|_| "not a URL".to_owned())?;
        if !matches!(parsed.scheme(), "redis" | "rediss") {
            return Err(format!(
                "the scheme must be redis:// or rediss:// (TLS), not `{}`",
                super::error::excerpt(parsed.scheme())
            ));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err("no host".to_owned());
        }
        let db = parsed.path().trim_start_matches('/');
        if !db.is_empty() && db.parse::<u32>().is_err() {
            return Err("the path must be a database number, e.g. /0".to_owned());
        }
        let mut shown = parsed.clone();
        if shown.password().is_some() {
            let _ = shown.set_password(Some("****"));
        }
        let shown = shown.to_string();
        redis::Client::open(text).map_err(|_| {
            "the Redis client does not accept it (expected e.g. redis://host:6379/0)".to_owned()
        })?;
        Ok(RedisUrl {
            url: text.to_owned(),
            shown,
        })
    }

    /// The URL with the password masked (for logs and messages).
    pub fn redacted(&self) -> &str {
        &self.shown
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({})", self.shown)
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// `DVT_CDS_REPLAY_STORE`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StoreLocation {
    /// `memory` (default): this process only.
    #[default]
    Memory,
    /// `redis://...` / `rediss://...`: shared by every replica.
    Redis(RedisUrl),
}

impl StoreLocation {
    /// `memory` (or empty) or a Redis URL.
    pub fn parse(text: &str) -> Result<StoreLocation, String> {
        match text.trim() {
            "" | "memory" => Ok(StoreLocation::Memory),
            other => RedisUrl::parse(other).map(StoreLocation::Redis),
        }
    }
}

/// The replay store settings (`DVT_CDS_REPLAY_STORE*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayConfig {
    pub store: StoreLocation,
    pub failure: FailurePolicy,
    /// Longest a check (connect + `SET`) may take.
    pub timeout: Duration,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        ReplayConfig {
            store: StoreLocation::Memory,
            failure: FailurePolicy::FailClosed,
            timeout: Duration::from_millis(DEFAULT_TIMEOUT_MS),
        }
    }
}

/// The shared store's metrics (registered by `http::metrics`; [`ReplayMetrics::unregistered`]
/// for tests and tools).
#[derive(Clone)]
pub struct ReplayMetrics {
    /// `replay_store_errors_total{policy}`.
    pub errors: IntCounterVec,
    /// `replay_store_check_duration_seconds{outcome}`: `first-use`, `replayed`, `error`.
    pub duration: HistogramVec,
    /// `replay_store_up`: 1 when the last check or ping answered, else 0.
    pub up: IntGauge,
}

impl fmt::Debug for ReplayMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReplayMetrics")
    }
}

impl ReplayMetrics {
    pub const DURATION_BUCKETS: [f64; 12] = [
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
    ];

    /// Metrics not in any registry.
    pub fn unregistered() -> ReplayMetrics {
        ReplayMetrics::new().expect("static metric definitions")
    }

    /// The metrics, not yet registered (names without the `dvt_cds_` namespace prefix).
    pub fn new() -> prometheus::Result<ReplayMetrics> {
        let errors = IntCounterVec::new(
            prometheus::Opts::new(
                "replay_store_errors_total",
                "Token replay checks the shared store (Redis) could not answer in time, by failure policy (fail-closed: refused with 503; fail-open: accepted unchecked).",
            ),
            &["policy"],
        )?;
        for policy in [FailurePolicy::FailClosed, FailurePolicy::FailOpen] {
            errors.with_label_values(&[policy.as_str()]);
        }
        let duration = HistogramVec::new(
            prometheus::HistogramOpts::new(
                "replay_store_check_duration_seconds",
                "Time of one token replay check in the shared store (Redis), by outcome (first-use, replayed, error).",
            )
            .buckets(Self::DURATION_BUCKETS.to_vec()),
            &["outcome"],
        )?;
        let up = IntGauge::new(
            "replay_store_up",
            "1 when the shared token replay store (Redis) answered the last check or readiness ping, 0 when it did not (absent with the in-memory store).",
        )?;
        Ok(ReplayMetrics {
            errors,
            duration,
            up,
        })
    }
}

/// What `/readyz` says about the replay store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplayHealth {
    /// `memory` or `redis`.
    pub kind: &'static str,
    /// `reachable` / `unreachable` (Redis; pinged now); `local` (memory).
    pub status: &'static str,
    /// The Redis URL, password masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `fail-closed` / `fail-open` (Redis).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_policy: Option<&'static str>,
}

#[derive(Debug)]
pub enum ReplayStore {
    /// This process only (one replica).
    Memory(MemoryReplayStore),
    /// Shared by every replica.
    Redis(RedisReplayStore),
}

impl ReplayStore {
    pub fn in_memory() -> ReplayStore {
        ReplayStore::Memory(MemoryReplayStore::default())
    }

    /// The store `config` names. A Redis store does not connect here (lazily, on first use);
    /// this needs a tokio runtime for that store.
    pub fn from_config(
        config: &ReplayConfig,
        metrics: ReplayMetrics,
    ) -> Result<ReplayStore, ReplayStoreError> {
        match &config.store {
            StoreLocation::Memory => Ok(ReplayStore::in_memory()),
            StoreLocation::Redis(url) => {
                RedisReplayStore::new(url.clone(), config.failure, config.timeout, metrics)
                    .map(ReplayStore::Redis)
            }
        }
    }

    /// Record `jti` of `issuer` as used until `keep_until` (Unix seconds). `Ok(true)` the first
    /// time, `Ok(false)` when it was seen before and has not expired.
    pub async fn first_use(
        &self,
        issuer: &str,
        jti: &str,
        keep_until: i64,
        now: i64,
    ) -> Result<bool, ReplayStoreError> {
        match self {
            ReplayStore::Memory(store) => Ok(store.first_use(issuer, jti, keep_until, now)),
            ReplayStore::Redis(store) => store.first_use(issuer, jti, keep_until, now).await,
        }
    }

    /// For `/readyz`: which store, and (Redis) whether it answers a `PING` now.
    pub async fn health(&self) -> ReplayHealth {
        match self {
            ReplayStore::Memory(_) => ReplayHealth {
                kind: "memory",
                status: "local",
                url: None,
                failure_policy: None,
            },
            ReplayStore::Redis(store) => store.health().await,
        }
    }
}

/// The key of `(issuer, jti)` in Redis: `dvt-cds:jti:<sha256(iss)>:<sha256(jti)>` (hex). Bounded
/// length whatever the client sends, no client text in Redis, and the issuer part lets an
/// operator count or drop one issuer's entries (`SCAN MATCH dvt-cds:jti:<hash>:*`).
pub fn redis_key(issuer: &str, jti: &str) -> String {
    fn hex(text: &str) -> String {
        Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
    format!("{KEY_PREFIX}{}:{}", hex(issuer), hex(jti))
}

/// The expiry of a key: the seconds until `keep_until`, at least 1 (`EX 0` is an error).
pub fn ttl_secs(keep_until: i64, now: i64) -> u64 {
    u64::try_from(keep_until.saturating_sub(now))
        .unwrap_or(0)
        .max(1)
}

/// `(iss, jti)` in Redis, shared by every replica.
pub struct RedisReplayStore {
    url: RedisUrl,
    manager: redis::aio::ConnectionManager,
    failure: FailurePolicy,
    timeout: Duration,
    metrics: ReplayMetrics,
}

impl fmt::Debug for RedisReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplayStore")
            .field("url", &self.url)
            .field("failure", &self.failure)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Why a Redis check failed, for the log (never the URL or a key).
enum Failure {
    TimedOut,
    Redis(redis::RedisError),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::TimedOut => f.write_str("no answer within the timeout"),
            Failure::Redis(e) => write!(f, "{e}"),
        }
    }
}

impl RedisReplayStore {
    /// A store for `url`; no connection is made until the first check or ping.
    pub fn new(
        url: RedisUrl,
        failure: FailurePolicy,
        timeout: Duration,
        metrics: ReplayMetrics,
    ) -> Result<RedisReplayStore, ReplayStoreError> {
        let client = redis::Client::open(url.url.as_str())
            .map_err(|_| ReplayStoreError(format!("{url}: not a Redis URL the client accepts")))?;
        // Each (re)connection attempt: up to CONNECT_TIMEOUT (at least `timeout`; a TLS handshake
        // may need longer than one check may wait), two retries spaced 50 ms to 1 s; a failed
        // reconnection is tried again by the next command. Reconnections run in the background
        // (the manager spawns them), so a check never waits longer than `timeout` for them:
        // every command is bounded by the tokio timeout in `query`.
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout.max(CONNECT_TIMEOUT)))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(1));
        let manager = client
            .get_connection_manager_lazy(config)
            .map_err(|e| ReplayStoreError(format!("{url}: {e}")))?;
        metrics.up.set(0);
        // The first connection is lazy, made by whoever awaits it; start it now in the
        // background (without failing anything: Redis may come up later) so that the first
        // requests do not pay for it.
        let mut warm_up = manager.clone();
        tokio::spawn(async move {
            let _ = redis::cmd("PING").query_async::<String>(&mut warm_up).await;
        });
        Ok(RedisReplayStore {
            url,
            manager,
            failure,
            timeout,
            metrics,
        })
    }

    pub fn url(&self) -> &RedisUrl {
        &self.url
    }

    pub fn failure_policy(&self) -> FailurePolicy {
        self.failure
    }

    /// One command, bounded by the timeout.
    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, Failure> {
        let mut connection = self.manager.clone();
        match tokio::time::timeout(self.timeout, cmd.query_async::<T>(&mut connection)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(Failure::Redis(e)),
            Err(_) => Err(Failure::TimedOut),
        }
    }

    pub async fn first_use(
        &self,
        issuer: &str,
        jti: &str,
        keep_until: i64,
        now: i64,
    ) -> Result<bool, ReplayStoreError> {
        let started = Instant::now();
        let mut cmd = redis::cmd("SET");
        cmd.arg(redis_key(issuer, jti))
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(ttl_secs(keep_until, now));
        let result = self.query::<Option<String>>(&cmd).await;
        let elapsed = started.elapsed().as_secs_f64();
        match result {
            Ok(set) => {
                let first = set.is_some();
                self.metrics.up.set(1);
                self.metrics
                    .duration
                    .with_label_values(&[if first { "first-use" } else { "replayed" }])
                    .observe(elapsed);
                Ok(first)
            }
            Err(failure) => {
                self.metrics.up.set(0);
                self.metrics
                    .duration
                    .with_label_values(&["error"])
                    .observe(elapsed);
                self.metrics
                    .errors
                    .with_label_values(&[self.failure.as_str()])
                    .inc();
                match self.failure {
                    FailurePolicy::FailClosed => {
                        tracing::warn!(
                            replay_store = %self.url,
                            error = %failure,
                            policy = "fail-closed",
                            "token replay store unavailable: request refused (503)"
                        );
                        Err(ReplayStoreError(format!(
                            "the shared token replay store (Redis) did not answer within {} ms, so \
                             the token's `jti` could not be checked and the request was refused \
                             (DVT_CDS_REPLAY_STORE_FAILURE=fail-closed). Retry shortly with a new \
                             token; if this persists, the service operator must check the Redis \
                             behind DVT_CDS_REPLAY_STORE",
                            self.timeout.as_millis()
                        )))
                    }
                    FailurePolicy::FailOpen => {
                        tracing::warn!(
                            replay_store = %self.url,
                            error = %failure,
                            policy = "fail-open",
                            "token replay store unavailable: token accepted WITHOUT a replay check"
                        );
                        Ok(true)
                    }
                }
            }
        }
    }

    /// `PING` within the timeout.
    pub async fn ping(&self) -> bool {
        let ok = self
            .query::<String>(&redis::cmd("PING"))
            .await
            .is_ok_and(|pong| pong == "PONG");
        self.metrics.up.set(i64::from(ok));
        ok
    }

    pub async fn health(&self) -> ReplayHealth {
        ReplayHealth {
            kind: "redis",
            status: if self.ping().await {
                "reachable"
            } else {
                "unreachable"
            },
            url: Some(self.url.redacted().to_owned()),
            failure_policy: Some(self.failure.as_str()),
        }
    }
}

/// `(iss, jti)` → keep-until, purged of expired entries as it grows.
#[derive(Debug, Default)]
pub struct MemoryReplayStore {
    inner: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    entries: HashMap<(String, String), i64>,
    /// Purge expired entries when the map grows past this size.
    purge_at: usize,
}

const MIN_PURGE_AT: usize = 1024;

impl MemoryReplayStore {
    pub fn first_use(&self, issuer: &str, jti: &str, keep_until: i64, now: i64) -> bool {
        let mut seen = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.entries.len() >= seen.purge_at.max(MIN_PURGE_AT) {
            seen.entries.retain(|_, until| *until >= now);
            seen.purge_at = (seen.entries.len() * 2).max(MIN_PURGE_AT);
        }
        let key = (issuer.to_owned(), jti.to_owned());
        match seen.entries.get(&key) {
            Some(until) if *until >= now => false,
            _ => {
                seen.entries.insert(key, keep_until);
                true
            }
        }
    }

    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entries
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_jti_is_accepted_once_per_issuer() {
        let store = ReplayStore::in_memory();
        assert!(store.first_use("a", "1", 100, 0).await.unwrap());
        assert!(!store.first_use("a", "1", 100, 50).await.unwrap());
        assert!(store.first_use("b", "1", 100, 50).await.unwrap());
        assert!(store.first_use("a", "2", 100, 50).await.unwrap());
        // After keep-until the entry is gone (the token itself is no longer acceptable).
        assert!(store.first_use("a", "1", 300, 101).await.unwrap());
    }

    #[test]
    fn expired_entries_are_purged_as_the_map_grows() {
        let store = MemoryReplayStore::default();
        for i in 0..MIN_PURGE_AT {
            assert!(store.first_use("iss", &i.to_string(), 10, 0));
        }
        assert_eq!(store.len(), MIN_PURGE_AT);
        assert!(store.first_use("iss", "late", 100, 50));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn redis_keys_hash_the_issuer_and_the_jti() {
        let key = redis_key("https://ehr.example", "jti-1");
        assert!(key.starts_with(KEY_PREFIX), "{key}");
        let parts: Vec<&str> = key[KEY_PREFIX.len()..].split(':').collect();
        assert_eq!(parts.len(), 2, "{key}");
        assert!(
            parts
                .iter()
                .all(|p| p.len() == 64 && p.chars().all(|c| c.is_ascii_hexdigit())),
            "{key}"
        );
        assert!(
            !key.contains("ehr.example") && !key.contains("jti-1"),
            "{key}"
        );
        // Stable (every replica computes the same key), and distinct per issuer and per jti.
        assert_eq!(key, redis_key("https://ehr.example", "jti-1"));
        assert_ne!(key, redis_key("https://ehr.example", "jti-2"));
        assert_ne!(key, redis_key("https://other.example", "jti-1"));
        // No ambiguity between the parts: the boundary is not inside the hashed text.
        assert_ne!(redis_key("a:b", "c"), redis_key("a", "b:c"));
        // Bounded length whatever the client sends.
        assert_eq!(redis_key("i", &"x".repeat(10_000)).len(), key.len());
        // The same issuer prefix for every jti of an issuer.
        assert_eq!(
            redis_key("https://ehr.example", "a")[..KEY_PREFIX.len() + 64],
            key[..KEY_PREFIX.len() + 64]
        );
    }

    #[test]
    fn the_expiry_is_the_remaining_lifetime_at_least_one_second() {
        assert_eq!(ttl_secs(1_000 + 360, 1_000), 360);
        assert_eq!(ttl_secs(1_000, 1_000), 1);
        assert_eq!(ttl_secs(900, 1_000), 1);
        assert_eq!(ttl_secs(i64::MIN, i64::MAX), 1);
    }

    #[test]
    fn redis_urls_are_checked_and_shown_without_the_password() {
        let url = RedisUrl::parse("redis://user:pa55word@cache.example:6380/3").unwrap();
        assert_eq!(url.redacted(), "redis://user:****@cache.example:6380/3");
        assert_eq!(url.to_string(), url.redacted());
        assert!(!format!("{url:?}").contains("pa55word"));
        let plain = RedisUrl::parse(" redis://127.0.0.1:6379/0 ").unwrap();
        assert_eq!(plain.redacted(), "redis://127.0.0.1:6379/0");
        assert!(RedisUrl::parse("rediss://cache.example:6380").is_ok());
        for bad in [
            "",
            "cache:6379",
            "http://cache:6379",
            "redis:///0",
            "redis://h/db",
        ] {
            assert!(RedisUrl::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(StoreLocation::parse("memory"), Ok(StoreLocation::Memory));
        assert_eq!(StoreLocation::parse(""), Ok(StoreLocation::Memory));
        assert!(matches!(
            StoreLocation::parse("redis://h:1/0"),
            Ok(StoreLocation::Redis(_))
        ));
        assert_eq!(
            FailurePolicy::parse("fail-open"),
            Some(FailurePolicy::FailOpen)
        );
        assert_eq!(
            FailurePolicy::parse("fail-closed"),
            Some(FailurePolicy::FailClosed)
        );
        assert_eq!(FailurePolicy::parse("open"), None);
    }

    /// A Redis URL on a loopback port where nothing listens.
    fn dead_redis() -> RedisUrl {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        RedisUrl::parse(&format!("redis://127.0.0.1:{port}/0")).unwrap()
    }

    /// Bounded by a generous guard: the point is that it returns at all (no hang).
    async fn guarded<T>(future: impl Future<Output = T>) -> T {
        tokio::time::timeout(Duration::from_secs(20), future)
            .await
            .expect("the replay store call hangs")
    }

    #[tokio::test]
    async fn unreachable_redis_fails_closed_by_default() {
        let metrics = ReplayMetrics::unregistered();
        let config = ReplayConfig {
            store: StoreLocation::Redis(dead_redis()),
            timeout: Duration::from_millis(100),
            ..ReplayConfig::default()
        };
        let store = ReplayStore::from_config(&config, metrics.clone()).unwrap();
        for _ in 0..3 {
            let error = guarded(store.first_use("iss", "jti", 100, 0))
                .await
                .unwrap_err();
            assert!(error.0.contains("fail-closed"), "{error}");
            assert!(!error.0.contains("127.0.0.1"), "{error}");
        }
        assert_eq!(metrics.errors.with_label_values(&["fail-closed"]).get(), 3);
        assert_eq!(metrics.errors.with_label_values(&["fail-open"]).get(), 0);
        assert_eq!(metrics.up.get(), 0);
        let health = guarded(store.health()).await;
        assert_eq!(
            (health.kind, health.status, health.failure_policy),
            ("redis", "unreachable", Some("fail-closed"))
        );
    }

    #[tokio::test]
    async fn unreachable_redis_fails_open_when_configured() {
        let metrics = ReplayMetrics::unregistered();
        let config = ReplayConfig {
            store: StoreLocation::Redis(dead_redis()),
            failure: FailurePolicy::FailOpen,
            timeout: Duration::from_millis(100),
        };
        let store = ReplayStore::from_config(&config, metrics.clone()).unwrap();
        // Accepted, twice: without the store there is no replay protection.
        assert!(
            guarded(store.first_use("iss", "jti", 100, 0))
                .await
                .unwrap()
        );
        assert!(
            guarded(store.first_use("iss", "jti", 100, 0))
                .await
                .unwrap()
        );
        assert_eq!(metrics.errors.with_label_values(&["fail-open"]).get(), 2);
        assert_eq!(
            metrics
                .duration
                .with_label_values(&["error"])
                .get_sample_count(),
            2
        );
    }

    #[tokio::test]
    async fn the_memory_store_reports_itself_as_local() {
        let health = ReplayStore::in_memory().health().await;
        assert_eq!((health.kind, health.status), ("memory", "local"));
        assert_eq!(health.url, None);
    }
}
