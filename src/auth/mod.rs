//! CDS Hooks 2.0 JWT authentication (spec §Trusting CDS Clients): `Authorization: Bearer <JWT>`
//! on discovery, hook and feedback calls, verified against the client's JWK Set.
//!
//! Order of checks ([`Authenticator::verify`]): the header is read by hand first (`alg` must be
//! ES384/RS384 or an enabled extra — `none` and HMAC never, whatever the key; `typ: JWT`; `kid`),
//! then `iss` (trusted?) picks the key source (`jku` on the allow-list, else the issuer's
//! configured JWKS), the key must fit `alg`, `jsonwebtoken` verifies the signature, then the
//! claims ([`claims`]), and last the `jti` goes into the [`ReplayStore`]. No hand-written
//! crypto; nothing here logs or returns the token.

pub mod claims;
pub mod error;
pub mod jwks;
pub mod replay;
pub mod url_prefix;

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

pub use error::{AuthError, AuthFailure};
pub use jwks::{JwksCache, JwksOptions};
pub use replay::{ReplayStore, ReplayStoreError};
use url_prefix::UrlPrefix;

/// Clock skew allowed on `exp`, `iat` and `nbf` (the spec's best practice: at most 60 s).
pub const CLOCK_SKEW_SECS: i64 = 60;
/// Default maximum token lifetime (`exp - iat`).
pub const DEFAULT_MAX_LIFETIME_SECS: u64 = 900;
/// Longest bearer token read.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The signature algorithms this service can verify. ES384 and RS384 are always on (the spec
/// recommends both); ES256 and RS256 only when configured. There is no HMAC or `none` variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    ES384,
    RS384,
    ES256,
    RS256,
}

impl SigningAlg {
    pub const ALWAYS: [SigningAlg; 2] = [SigningAlg::ES384, SigningAlg::RS384];

    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::ES384 => "ES384",
            SigningAlg::RS384 => "RS384",
            SigningAlg::ES256 => "ES256",
            SigningAlg::RS256 => "RS256",
        }
    }

    /// `ES256` or `RS256` (the only optional ones), case-sensitive as in JOSE.
    pub fn parse_extra(text: &str) -> Option<SigningAlg> {
        match text {
            "ES256" => Some(SigningAlg::ES256),
            "RS256" => Some(SigningAlg::RS256),
            _ => None,
        }
    }

    fn from_header(text: &str) -> Option<SigningAlg> {
        match text {
            "ES384" => Some(SigningAlg::ES384),
            "RS384" => Some(SigningAlg::RS384),
            "ES256" => Some(SigningAlg::ES256),
            "RS256" => Some(SigningAlg::RS256),
            _ => None,
        }
    }

    fn jsonwebtoken(self) -> Algorithm {
        match self {
            SigningAlg::ES384 => Algorithm::ES384,
            SigningAlg::RS384 => Algorithm::RS384,
            SigningAlg::ES256 => Algorithm::ES256,
            SigningAlg::RS256 => Algorithm::RS256,
        }
    }
}

/// What the authenticator trusts.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `DVT_CDS_PUBLIC_URL` (or `http://<bind>`); `aud` = this + the request path.
    pub public_url: String,
    /// `DVT_CDS_TRUSTED_ISSUERS`: issuer → JWKS URL.
    pub trusted_issuers: Vec<(String, String)>,
    /// `DVT_CDS_JKU_ALLOWLIST`.
    pub jku_allowlist: Vec<String>,
    /// `DVT_CDS_JWT_EXTRA_ALGS`.
    pub extra_algs: Vec<SigningAlg>,
    /// `DVT_CDS_JWT_MAX_LIFETIME_SECS`.
    pub max_lifetime: Duration,
    /// `DVT_CDS_JWT_TENANT` (empty: not checked).
    pub tenants: Vec<String>,
    pub jwks: JwksOptions,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    #[error("DVT_CDS_JKU_ALLOWLIST: `{entry}`: {why}")]
    JkuAllowlist { entry: String, why: String },
    #[error("JWKS HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("DVT_CDS_REPLAY_STORE: {0}")]
    ReplayStore(#[from] ReplayStoreError),
}

/// A verified token: what may be logged about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub issuer: String,
}

#[derive(Debug)]
pub struct Authenticator {
    public_url: String,
    issuers: HashMap<String, String>,
    jku_allowlist: Vec<UrlPrefix>,
    algs: Vec<SigningAlg>,
    max_lifetime_secs: i64,
    tenants: Vec<String>,
    jwks: JwksCache,
    replay: ReplayStore,
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn malformed(what: &str) -> AuthError {
    AuthError::new(
        AuthFailure::MalformedToken,
        format!("the bearer token is not a JWT: {what}"),
    )
}

/// A base64url JSON object part of a compact JWS.
fn json_part(part: &str, name: &str) -> Result<Map<String, Value>, AuthError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| malformed(&format!("its {name} is not base64url")))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(malformed(&format!("its {name} is not a JSON object"))),
    }
}

/// Whether an RSA modulus (base64url) has at least 2048 bits.
fn rsa_modulus_ok(n: &str) -> bool {
    URL_SAFE_NO_PAD
        .decode(n.trim_end_matches('='))
        .map(|bytes| {
            let significant = bytes.iter().skip_while(|b| **b == 0).count();
            significant >= 256
        })
        .unwrap_or(false)
}

/// Whether `jwk` is a key for `alg`.
fn key_fits(jwk: &Jwk, alg: SigningAlg) -> Result<(), String> {
    if let Some(declared) = jwk.common.key_algorithm
        && declared.to_string() != alg.as_str()
    {
        return Err(format!("the key is declared for {declared}"));
    }
    if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
        return Err("the key's `use` is not `sig`".to_owned());
    }
    match (&jwk.algorithm, alg) {
        (AlgorithmParameters::EllipticCurve(ec), SigningAlg::ES384)
            if ec.curve == EllipticCurve::P384 =>
        {
            Ok(())
        }
        (AlgorithmParameters::EllipticCurve(ec), SigningAlg::ES256)
            if ec.curve == EllipticCurve::P256 =>
        {
            Ok(())
        }
        (AlgorithmParameters::RSA(rsa), SigningAlg::RS384 | SigningAlg::RS256) => {
            if rsa_modulus_ok(&rsa.n) {
                Ok(())
            } else {
                Err("RSA keys must have at least 2048 bits".to_owned())
            }
        }
        _ => Err(format!("the key type does not fit {}", alg.as_str())),
    }
}

impl Authenticator {
    pub fn new(config: AuthConfig) -> Result<Authenticator, AuthConfigError> {
        let jku_allowlist = config
            .jku_allowlist
            .iter()
            .map(|entry| {
                UrlPrefix::parse(entry).map_err(|why| AuthConfigError::JkuAllowlist {
                    entry: entry.clone(),
                    why,
                })
            })
            .collect::<Result<_, _>>()?;
        let mut algs = SigningAlg::ALWAYS.to_vec();
        for alg in config.extra_algs {
            if !algs.contains(&alg) {
                algs.push(alg);
            }
        }
        Ok(Authenticator {
            public_url: config.public_url.trim_end_matches('/').to_owned(),
            issuers: config.trusted_issuers.into_iter().collect(),
            jku_allowlist,
            algs,
            max_lifetime_secs: i64::try_from(config.max_lifetime.as_secs()).unwrap_or(i64::MAX),
            tenants: config.tenants,
            jwks: JwksCache::new(config.jwks)?,
            replay: ReplayStore::in_memory(),
        })
    }

    /// Use `store` for `jti` replay protection (default: in memory, this process only).
    pub fn with_replay_store(mut self, store: ReplayStore) -> Authenticator {
        self.replay = store;
        self
    }

    /// The replay store (for `/readyz`).
    pub fn replay_store(&self) -> &ReplayStore {
        &self.replay
    }

    /// The `aud` a token must carry for a request to `path` (e.g. `/cds-services/x`).
    pub fn audience(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }

    /// The accepted algorithms, for messages and logs.
    pub fn algorithms(&self) -> Vec<&'static str> {
        self.algs.iter().map(|a| a.as_str()).collect()
    }

    /// Verify `token` for a request to `path`. `show_audience`: whether the expected audience
    /// may be quoted in a message (false when the path names no known service).
    pub async fn verify(
        &self,
        token: &str,
        path: &str,
        show_audience: bool,
    ) -> Result<Verified, AuthError> {
        self.verify_at(token, path, show_audience, now_unix()).await
    }

    async fn verify_at(
        &self,
        token: &str,
        path: &str,
        show_audience: bool,
        now: i64,
    ) -> Result<Verified, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(malformed(&format!(
                "it is longer than {MAX_TOKEN_BYTES} bytes"
            )));
        }
        let parts: Vec<&str> = token.split('.').collect();
        let [header, payload, _signature] = parts[..] else {
            return Err(malformed(
                "expected three base64url parts separated by `.` (a compact JWS)",
            ));
        };

        // 1. The header, by hand: the algorithm is decided here, never by the key.
        let header = json_part(header, "header")?;
        let alg_text = header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or_else(|| AuthError::new(AuthFailure::BadHeader, "the JWT header has no `alg`"))?;
        let alg = SigningAlg::from_header(alg_text)
            .filter(|a| self.algs.contains(a))
            .ok_or_else(|| {
                AuthError::new(
                    AuthFailure::AlgorithmNotAllowed,
                    format!(
                        "algorithm `{}` is not allowed: this service accepts {} (ES256/RS256 only \
                         when enabled by DVT_CDS_JWT_EXTRA_ALGS); `none` and HMAC (HS*) are never \
                         accepted",
                        error::excerpt(alg_text),
                        self.algorithms().join(", ")
                    ),
                )
            })?;
        match header.get("typ").and_then(Value::as_str) {
            Some(typ) if typ.eq_ignore_ascii_case("JWT") => {}
            _ => {
                return Err(AuthError::new(
                    AuthFailure::BadHeader,
                    "the JWT header must have `typ: \"JWT\"`",
                ));
            }
        }
        let kid = match header.get("kid").and_then(Value::as_str) {
            Some(kid) if !kid.is_empty() => kid,
            _ => {
                return Err(AuthError::new(
                    AuthFailure::BadHeader,
                    "the JWT header has no `kid` (the id of the signing key in the client's JWKS)",
                ));
            }
        };
        if header.contains_key("crit") {
            return Err(AuthError::new(
                AuthFailure::BadHeader,
                "the JWT header has a `crit` member; no critical extension is supported",
            ));
        }
        let jku = match header.get("jku") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => {
                return Err(AuthError::new(
                    AuthFailure::BadHeader,
                    "the JWT header's `jku` must be a URL string",
                ));
            }
        };

        // 2. The issuer picks where the key comes from (claims not yet trusted: only `iss`).
        let unverified = json_part(payload, "payload")?;
        let issuer = claims::issuer(&unverified)?;
        let issuer_jwks = self.issuers.get(issuer);
        if !self.issuers.is_empty() && issuer_jwks.is_none() {
            return Err(AuthError::new(
                AuthFailure::UnknownIssuer,
                format!(
                    "issuer \"{}\" is not trusted by this service (DVT_CDS_TRUSTED_ISSUERS)",
                    error::excerpt(issuer)
                ),
            ));
        }
        let jwks_url = match (jku, issuer_jwks) {
            (Some(jku), configured) => {
                let allowed = configured.is_some_and(|c| c == jku)
                    || url::Url::parse(jku)
                        .is_ok_and(|url| self.jku_allowlist.iter().any(|p| p.matches(&url)));
                if !allowed {
                    let host = url::Url::parse(jku)
                        .ok()
                        .and_then(|u| u.host_str().map(error::excerpt))
                        .unwrap_or_else(|| "not a URL".to_owned());
                    return Err(AuthError::new(
                        AuthFailure::JkuNotAllowed,
                        format!(
                            "the token's `jku` (host: {host}) is not under any DVT_CDS_JKU_ALLOWLIST \
                             prefix nor the issuer's configured JWKS URL"
                        ),
                    ));
                }
                jku
            }
            (None, Some(configured)) => configured.as_str(),
            (None, None) => {
                return Err(AuthError::new(
                    AuthFailure::UnknownIssuer,
                    format!(
                        "issuer \"{}\" has no JWKS URL configured (DVT_CDS_TRUSTED_ISSUERS) and the \
                         token has no `jku` header",
                        error::excerpt(issuer)
                    ),
                ));
            }
        };

        // 3. The key, and the signature.
        let jwk = self.jwks.key(jwks_url, kid).await?;
        key_fits(&jwk, alg).map_err(|why| {
            AuthError::new(
                AuthFailure::KeyMismatch,
                format!(
                    "the JWKS key with the token's `kid` cannot verify {}: {why}",
                    alg.as_str()
                ),
            )
        })?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| {
            AuthError::new(
                AuthFailure::KeyMismatch,
                "the JWKS key with the token's `kid` is not a usable public key",
            )
        })?;
        let mut validation = Validation::new(alg.jsonwebtoken());
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let verified = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature
                | jsonwebtoken::errors::ErrorKind::Base64(_) => AuthError::new(
                    AuthFailure::BadSignature,
                    format!(
                        "the signature does not verify with the key `kid` names ({})",
                        alg.as_str()
                    ),
                ),
                jsonwebtoken::errors::ErrorKind::InvalidEcdsaKey
                | jsonwebtoken::errors::ErrorKind::InvalidRsaKey(_)
                | jsonwebtoken::errors::ErrorKind::InvalidKeyFormat
                | jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => AuthError::new(
                    AuthFailure::KeyMismatch,
                    format!(
                        "the JWKS key with the token's `kid` cannot verify {}",
                        alg.as_str()
                    ),
                ),
                _ => malformed("it could not be decoded"),
            })?;

        // 4. The claims, then the replay store (only for an otherwise valid token).
        let rules = claims::ClaimRules {
            audience: &self.audience(path),
            show_audience,
            skew_secs: CLOCK_SKEW_SECS,
            max_lifetime_secs: self.max_lifetime_secs,
            tenants: &self.tenants,
        };
        let checked = claims::check(&verified.claims, &rules, now)?;
        let first = self
            .replay
            .first_use(
                &checked.issuer,
                &checked.jti,
                checked.expires_at + CLOCK_SKEW_SECS,
                now,
            )
            .await
            .map_err(|e| AuthError::new(AuthFailure::ReplayStoreUnavailable, e.to_string()))?;
        if !first {
            return Err(AuthError::new(
                AuthFailure::Replayed,
                "this token's `jti` was already used: every call needs a fresh token (a new jti)",
            ));
        }
        Ok(Verified {
            issuer: checked.issuer,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authenticator(issuers: &[(&str, &str)], jku: &[&str]) -> Authenticator {
        Authenticator::new(AuthConfig {
            public_url: "https://cds.example.org/".to_owned(),
            trusted_issuers: issuers
                .iter()
                .map(|(i, u)| ((*i).to_owned(), (*u).to_owned()))
                .collect(),
            jku_allowlist: jku.iter().map(|s| (*s).to_owned()).collect(),
            extra_algs: vec![],
            max_lifetime: Duration::from_secs(900),
            tenants: vec![],
            jwks: JwksOptions::default(),
        })
        .unwrap()
    }

    fn part(value: Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    fn token(header: Value, claims: Value) -> String {
        format!("{}.{}.c2ln", part(header), part(claims))
    }

    async fn reason(auth: &Authenticator, token: &str) -> AuthFailure {
        auth.verify(token, "/cds-services", true)
            .await
            .unwrap_err()
            .reason
    }

    #[test]
    fn the_audience_is_the_public_url_and_the_path() {
        let auth = authenticator(&[], &["https://ehr.example/"]);
        assert_eq!(
            auth.audience("/cds-services/dvt-order-sign"),
            "https://cds.example.org/cds-services/dvt-order-sign"
        );
    }

    #[tokio::test]
    async fn header_checks_come_before_any_key_lookup() {
        // The issuer's JWKS URL is unreachable: reaching the key lookup would say so.
        let auth = authenticator(&[("https://ehr.example", "http://127.0.0.1:9/jwks")], &[]);
        let claims = serde_json::json!({"iss": "https://ehr.example"});
        for alg in [
            "none", "HS256", "HS384", "HS512", "ES256", "RS256", "PS384", "EdDSA",
        ] {
            let t = token(
                serde_json::json!({"alg": alg, "typ": "JWT", "kid": "k"}),
                claims.clone(),
            );
            assert_eq!(
                reason(&auth, &t).await,
                AuthFailure::AlgorithmNotAllowed,
                "{alg}"
            );
        }
        let t = token(
            serde_json::json!({"alg": "ES384", "kid": "k"}),
            claims.clone(),
        );
        assert_eq!(reason(&auth, &t).await, AuthFailure::BadHeader);
        let t = token(
            serde_json::json!({"alg": "ES384", "typ": "JWT"}),
            claims.clone(),
        );
        assert_eq!(reason(&auth, &t).await, AuthFailure::BadHeader);
        let t = token(
            serde_json::json!({"alg": "ES384", "typ": "JWT", "kid": "k", "crit": ["x"]}),
            claims.clone(),
        );
        assert_eq!(reason(&auth, &t).await, AuthFailure::BadHeader);
        let good_header = part(serde_json::json!({"alg": "ES384", "typ": "JWT", "kid": "k"}));
        for bad in [
            "".to_owned(),
            "abc".to_owned(),
            "a.b".to_owned(),
            "a.b.c.d".to_owned(),
            "!!.e30.x".to_owned(),
            "W10.e30.x".to_owned(),
            format!("{good_header}.!!.x"),
            format!("{good_header}.W10.x"),
        ] {
            assert_eq!(
                reason(&auth, &bad).await,
                AuthFailure::MalformedToken,
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn issuer_and_jku_pick_the_key_source() {
        let auth = authenticator(
            &[("https://ehr.example", "http://127.0.0.1:9/jwks")],
            &["https://keys.example/jwks"],
        );
        let header = |jku: Option<&str>| {
            let mut h = serde_json::json!({"alg": "ES384", "typ": "JWT", "kid": "k"});
            if let Some(jku) = jku {
                h["jku"] = Value::String(jku.to_owned());
            }
            h
        };
        let iss = |i: &str| serde_json::json!({"iss": i});
        let t = token(header(None), iss("https://evil.example"));
        assert_eq!(reason(&auth, &t).await, AuthFailure::UnknownIssuer);
        let t = token(header(None), serde_json::json!({}));
        assert_eq!(reason(&auth, &t).await, AuthFailure::MissingClaim);
        for jku in [
            "https://keys.example.evil.com/jwks",
            "https://keys.example/jwks-evil",
            "not a url",
        ] {
            let t = token(header(Some(jku)), iss("https://ehr.example"));
            assert_eq!(reason(&auth, &t).await, AuthFailure::JkuNotAllowed, "{jku}");
        }
        // The issuer's own configured JWKS URL is fine as a `jku` (reaching the fetch).
        let t = token(
            header(Some("http://127.0.0.1:9/jwks")),
            iss("https://ehr.example"),
        );
        assert_eq!(reason(&auth, &t).await, AuthFailure::JwksUnavailable);
        let t = token(header(None), iss("https://ehr.example"));
        assert_eq!(reason(&auth, &t).await, AuthFailure::JwksUnavailable);
    }

    #[test]
    fn rsa_keys_need_2048_bits() {
        assert!(!rsa_modulus_ok(&URL_SAFE_NO_PAD.encode([0xffu8; 255])));
        assert!(rsa_modulus_ok(&URL_SAFE_NO_PAD.encode([0xffu8; 256])));
        let mut padded = vec![0u8];
        padded.extend([0xffu8; 255]);
        assert!(!rsa_modulus_ok(&URL_SAFE_NO_PAD.encode(padded)));
    }
}
