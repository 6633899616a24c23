//! JWK Sets by URL: fetched asynchronously (timeout, size limit, no redirects), cached per URL,
//! refreshed when a token names an unknown `kid` — at most once per URL per `min_refresh` —
//! and when the cached set is older than `max_age` (a failed fetch keeps the old keys and is
//! not retried for `failure_backoff`). One fetch per URL at a time: concurrent
//! requests for the same URL wait for it instead of fetching again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::Jwk;
use serde_json::Value;

use super::error::{AuthError, AuthFailure, excerpt};

/// How the cache behaves.
#[derive(Debug, Clone)]
pub struct JwksOptions {
    /// Per-fetch timeout (connect + body).
    pub timeout: Duration,
    /// At most one fetch per URL in this interval when a `kid` is unknown.
    pub min_refresh: Duration,
    /// After a failed fetch, the next attempt waits this long.
    pub failure_backoff: Duration,
    /// A cached set older than this is fetched again before use (key rotation, revocation).
    pub max_age: Duration,
    /// Largest JWKS document read.
    pub max_bytes: usize,
    /// Most URLs cached (a `jku` below an allow-listed prefix may vary).
    pub max_urls: usize,
}

impl Default for JwksOptions {
    fn default() -> Self {
        JwksOptions {
            timeout: Duration::from_secs(5),
            min_refresh: Duration::from_secs(30),
            failure_backoff: Duration::from_secs(5),
            max_age: Duration::from_secs(3600),
            max_bytes: 256 * 1024,
            max_urls: 64,
        }
    }
}

#[derive(Debug, Default)]
struct Entry {
    keys: Vec<Jwk>,
    /// Last successful fetch.
    fetched_at: Option<Instant>,
    /// Last failed fetch.
    failed_at: Option<Instant>,
    /// Last fetch caused by an unknown `kid` (rate-limited).
    kid_refreshed_at: Option<Instant>,
    /// Why the last fetch failed.
    last_error: Option<String>,
}

impl Entry {
    fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys
            .iter()
            .find(|k| k.common.key_id.as_deref() == Some(kid))
    }
}

pub struct JwksCache {
    client: reqwest::Client,
    options: JwksOptions,
    entries: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Entry>>>>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// A JWKS URL for the logs: configured or allow-listed, so not secret, but bounded.
fn loggable(url: &str) -> &str {
    match url.char_indices().nth(200) {
        Some((at, _)) => &url[..at],
        None => url,
    }
}

fn unavailable(url: &str, why: &str) -> AuthError {
    AuthError::new(
        AuthFailure::JwksUnavailable,
        format!(
            "the signing keys (JWKS) at {} could not be fetched: {why}",
            excerpt(url)
        ),
    )
}

impl JwksCache {
    pub fn new(options: JwksOptions) -> Result<JwksCache, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout)
            // A redirect could leave the allow-listed URL.
            .redirect(reqwest::redirect::Policy::none())
            // Fetches are rare and come from different actix worker runtimes: no pooling.
            .pool_max_idle_per_host(0)
            .user_agent(concat!("distal-dvt-cds/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(JwksCache {
            client,
            options,
            entries: Mutex::new(HashMap::new()),
        })
    }

    fn entry(&self, url: &str) -> Arc<tokio::sync::Mutex<Entry>> {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !entries.contains_key(url)
            && entries.len() >= self.options.max_urls
            && let Some(evict) = entries.keys().next().cloned()
        {
            entries.remove(&evict);
        }
        entries.entry(url.to_owned()).or_default().clone()
    }

    /// The key `kid` of the JWKS at `url`.
    pub async fn key(&self, url: &str, kid: &str) -> Result<Jwk, AuthError> {
        let entry = self.entry(url);
        let mut entry = entry.lock().await;
        let backing_off = |e: &Entry| {
            e.failed_at
                .is_some_and(|t| t.elapsed() < self.options.failure_backoff)
        };
        let stale = entry
            .fetched_at
            .is_none_or(|t| t.elapsed() >= self.options.max_age);
        let mut fetched_now = false;
        if stale && !backing_off(&entry) {
            self.refresh(url, &mut entry).await;
            fetched_now = true;
        }
        if let Some(key) = entry.find(kid) {
            return Ok(key.clone());
        }
        if entry.fetched_at.is_none() {
            let why = entry.last_error.as_deref().unwrap_or("failed");
            return Err(unavailable(
                url,
                &if fetched_now {
                    why.to_owned()
                } else {
                    format!(
                        "{why} (the next attempt is in at most {} s)",
                        self.options.failure_backoff.as_secs()
                    )
                },
            ));
        }
        // An unknown kid may mean the client rotated its keys: fetch again, at most once per
        // `min_refresh` per URL (a stream of made-up kids must not become a stream of fetches).
        let may_refresh = !fetched_now
            && !backing_off(&entry)
            && entry
                .kid_refreshed_at
                .is_none_or(|t| t.elapsed() >= self.options.min_refresh);
        if may_refresh {
            entry.kid_refreshed_at = Some(Instant::now());
            self.refresh(url, &mut entry).await;
            if let Some(key) = entry.find(kid) {
                return Ok(key.clone());
            }
        }
        Err(AuthError::new(
            AuthFailure::UnknownKid,
            format!(
                "no key with the token's `kid` in the JWKS at {} (on an unknown kid the keys are \
                 re-fetched at most every {} s); check the key id the client signs with",
                excerpt(url),
                self.options.min_refresh.as_secs()
            ),
        ))
    }

    async fn refresh(&self, url: &str, entry: &mut Entry) {
        match self.fetch(url).await {
            Ok(keys) => {
                tracing::info!(jwks.url = %loggable(url), jwks.keys = keys.len(), "JWKS fetched");
                entry.keys = keys;
                entry.fetched_at = Some(Instant::now());
                entry.failed_at = None;
                entry.last_error = None;
            }
            Err(why) => {
                tracing::warn!(jwks.url = %loggable(url), error = %why, "JWKS fetch failed");
                entry.failed_at = Some(Instant::now());
                entry.last_error = Some(why);
            }
        }
    }

    async fn fetch(&self, url: &str) -> Result<Vec<Jwk>, String> {
        let mut response = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    format!("timed out after {} s", self.options.timeout.as_secs())
                } else if e.is_connect() {
                    "the connection failed".to_owned()
                } else {
                    "the request failed".to_owned()
                }
            })?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status().as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|_| "the body could not be read".to_owned())?
        {
            if body.len() + chunk.len() > self.options.max_bytes {
                return Err(format!("larger than {} bytes", self.options.max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        parse_jwks(&body)
    }
}

/// `{"keys": [...]}`; keys that do not parse (unknown key types) are skipped.
pub fn parse_jwks(body: &[u8]) -> Result<Vec<Jwk>, String> {
    let value: Value = serde_json::from_slice(body).map_err(|_| "not a JSON JWK Set".to_owned())?;
    let keys = value
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| "not a JWK Set (no `keys` array)".to_owned())?;
    Ok(keys
        .iter()
        .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
        .filter(|k| k.common.key_id.is_some())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_types_are_skipped() {
        let body = br#"{"keys": [
            {"kty": "EC", "crv": "P-384", "kid": "a", "x": "AAAA", "y": "AAAA"},
            {"kty": "XYZ", "kid": "b"},
            {"kty": "RSA", "kid": "c", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
            "junk"
        ]}"#;
        let keys = parse_jwks(body).unwrap();
        let kids: Vec<_> = keys
            .iter()
            .filter_map(|k| k.common.key_id.as_deref())
            .collect();
        assert!(kids.contains(&"a") && kids.contains(&"c"), "{kids:?}");
        assert!(parse_jwks(b"[]").is_err());
        assert!(parse_jwks(b"nope").is_err());
    }
}
