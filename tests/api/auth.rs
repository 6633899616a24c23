//! JWT authentication (CDS Hooks 2.0): the real server with `DVT_CDS_AUTH=required`, a JWKS
//! served over HTTP by the test, and tokens signed with generated ES384/RS384/ES256 keys.

use distal_dvt_cds::auth::SigningAlg;
use distal_dvt_cds::settings::{AuthMode, Settings};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, metric_value, order_select_request, spawn_app_with};
use crate::jwt::{self, JwksServer, KEYS, KeyPair, claims, header, raw_token, sign};

const ISSUER: &str = "https://ehr.example.org/fhir";
const ISSUER_JWKS: &str = "/issuer/jwks.json";
const JKU_JWKS: &str = "/jku/keys/jwks.json";
const DISCOVERY: &str = "/cds-services";
const HOOK: &str = "/cds-services/dvt-order-select";
const FEEDBACK: &str = "/cds-services/dvt-order-select/feedback";

struct AuthApp {
    app: TestApp,
    jwks: JwksServer,
}

/// The service with auth required: `ISSUER` trusted with the JWKS at `ISSUER_JWKS`, and
/// `jku`s under `/jku/keys/` of the JWKS server allowed. Both sets hold the ES384 and RS384
/// public keys.
async fn start(adjust: impl FnOnce(&mut Settings)) -> AuthApp {
    let keys = &*KEYS;
    let jwks = JwksServer::start().await;
    jwks.set(ISSUER_JWKS, jwt::jwks(&[&keys.es384, &keys.rs384]));
    jwks.set(JKU_JWKS, jwt::jwks(&[&keys.es384, &keys.rs384]));
    let issuer_jwks = jwks.url(ISSUER_JWKS);
    let allowed = jwks.url("/jku/keys/");
    let app = spawn_app_with(|s| {
        s.auth = Some(AuthMode::Required);
        s.trusted_issuers = vec![(ISSUER.to_owned(), issuer_jwks)];
        s.jku_allowlist = vec![allowed];
        adjust(s);
    })
    .await;
    AuthApp { app, jwks }
}

fn feedback_body() -> Value {
    json!({"feedback": [{"card": "0b6e0f4c-7a0e-4e0b-9d7e-6d1c1f1e2a3b", "outcome": "overridden",
        "outcomeTimestamp": "2026-03-01T10:00:00Z"}]})
}

impl AuthApp {
    /// The audience of `path`: the public URL (here `http://127.0.0.1:<port>`) + the path.
    fn aud(&self, path: &str) -> String {
        self.app.url(path)
    }

    /// A valid token for `path`, signed with `key`, keys from the issuer's configured JWKS.
    fn token(&self, key: &KeyPair, path: &str) -> String {
        sign(
            &header(key, None),
            &claims(ISSUER, &self.aud(path)),
            &key.private,
        )
    }

    /// Claims for `path` changed by `change`, signed with the ES384 key.
    fn token_with(&self, path: &str, change: impl FnOnce(&mut Value)) -> String {
        let mut c = claims(ISSUER, &self.aud(path));
        change(&mut c);
        sign(&header(&KEYS.es384, None), &c, &KEYS.es384.private)
    }

    /// Call `path` (GET for discovery, else POST with a valid body) with `token`, if any.
    async fn call(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let request = if path == DISCOVERY {
            self.app.client.get(self.app.url(path))
        } else if path.ends_with("/feedback") {
            self.app
                .client
                .post(self.app.url(path))
                .json(&feedback_body())
        } else {
            self.app
                .client
                .post(self.app.url(path))
                .json(&order_select_request())
        };
        let request = match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        request.send().await.expect("request")
    }
}

/// Assert a 401 with the error shape, `reason`, a message containing `needle`, the
/// `WWW-Authenticate` header, and the token nowhere in the body. Returns the message.
async fn expect_401(
    response: reqwest::Response,
    reason: &str,
    needle: &str,
    token: Option<&str>,
) -> String {
    assert_eq!(response.status().as_u16(), 401, "expected a 401 ({reason})");
    assert_eq!(
        response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer error=\"invalid_token\""),
        "WWW-Authenticate"
    );
    let code = if reason == "missing-token" {
        "missing-token"
    } else {
        "invalid-token"
    };
    let error = assert_error(response, 401, code).await;
    assert_eq!(error["reason"], json!(reason), "{error}");
    let message = error["message"].as_str().unwrap().to_owned();
    assert!(message.contains(needle), "`{needle}` not in: {message}");
    if let Some(token) = token {
        let body = error.to_string();
        for part in token.split('.').filter(|p| p.len() > 8) {
            assert!(!body.contains(part), "a token part is echoed: {body}");
        }
    }
    message
}

#[tokio::test]
async fn valid_es384_and_rs384_tokens_are_accepted_on_every_endpoint() {
    let t = start(|_| {}).await;
    for key in [&KEYS.es384, &KEYS.rs384] {
        for path in [DISCOVERY, HOOK, FEEDBACK] {
            let response = t.call(path, Some(&t.token(key, path))).await;
            let status = response.status().as_u16();
            assert_eq!(
                status,
                200,
                "{:?} {path}: {}",
                key.alg,
                response.text().await.unwrap()
            );
        }
    }
    let response = t
        .call(HOOK, Some(&t.token(&KEYS.es384, HOOK)))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert!(response["cards"].is_array(), "{response}");
    // The issuer's JWKS was fetched once and then served from the cache.
    assert_eq!(t.jwks.hits(ISSUER_JWKS), 1);
}

#[tokio::test]
async fn discovery_hooks_and_feedback_need_a_token_the_rest_is_open() {
    let t = start(|_| {}).await;
    for path in [DISCOVERY, HOOK, FEEDBACK, "/cds-services/dvt-order-sign"] {
        expect_401(
            t.call(path, None).await,
            "missing-token",
            "Authorization: Bearer",
            None,
        )
        .await;
    }
    // A non-Bearer scheme is no token either.
    let response = t
        .app
        .client
        .get(t.app.url(DISCOVERY))
        .basic_auth("user", Some("pw"))
        .send()
        .await
        .unwrap();
    expect_401(response, "missing-token", "Bearer", None).await;
    // Garbage in the Bearer slot.
    let response = t.call(DISCOVERY, Some("not-a-jwt")).await;
    let message = expect_401(response, "malformed-token", "not a JWT", None).await;
    assert!(!message.contains("not-a-jwt"), "{message}");

    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        assert_eq!(t.app.get(path).await.status().as_u16(), 200, "{path}");
    }
    for path in [DISCOVERY, HOOK, FEEDBACK] {
        let preflight = t
            .app
            .client
            .request(reqwest::Method::OPTIONS, t.app.url(path))
            .header("Origin", "https://sandbox.cds-hooks.org")
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization, content-type",
            )
            .send()
            .await
            .unwrap();
        assert!(
            preflight.status().is_success(),
            "{path}: {}",
            preflight.status()
        );
    }
    // A 401 carries the CORS header, so the sandbox (a browser) can read it.
    let response = t
        .app
        .client
        .get(t.app.url(DISCOVERY))
        .header("Origin", "https://sandbox.cds-hooks.org")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert_eq!(t.jwks.total_hits(), 0);
}

#[tokio::test]
async fn expired_premature_and_overlong_tokens_are_refused() {
    let t = start(|_| {}).await;
    let now = jwt::now();
    let token = t.token_with(HOOK, |c| {
        c["iat"] = json!(now - 400);
        c["exp"] = json!(now - 61);
    });
    expect_401(
        t.call(HOOK, Some(&token)).await,
        "expired",
        "expired at",
        Some(&token),
    )
    .await;
    // Within the 60 s skew: accepted.
    let token = t.token_with(HOOK, |c| {
        c["iat"] = json!(now - 400);
        c["exp"] = json!(now - 30);
    });
    assert_eq!(t.call(HOOK, Some(&token)).await.status().as_u16(), 200);

    let token = t.token_with(HOOK, |c| c["nbf"] = json!(now + 120));
    expect_401(
        t.call(HOOK, Some(&token)).await,
        "not-yet-valid",
        "not valid before",
        Some(&token),
    )
    .await;
    let token = t.token_with(HOOK, |c| {
        c["iat"] = json!(now + 120);
        c["exp"] = json!(now + 400);
    });
    expect_401(
        t.call(HOOK, Some(&token)).await,
        "not-yet-valid",
        "issued in the future",
        Some(&token),
    )
    .await;
    // Epic-style `nbf` 5 minutes before `iat`, and `sub`: accepted.
    let token = t.token_with(HOOK, |c| {
        c["nbf"] = json!(now - 300);
        c["sub"] = json!("epic-client-id");
    });
    assert_eq!(t.call(HOOK, Some(&token)).await.status().as_u16(), 200);

    // Lifetime: 15 minutes by default.
    let token = t.token_with(HOOK, |c| {
        c["iat"] = json!(now);
        c["exp"] = json!(now + 901);
    });
    expect_401(
        t.call(HOOK, Some(&token)).await,
        "lifetime-too-long",
        "at most 900 s",
        Some(&token),
    )
    .await;
    let token = t.token_with(HOOK, |c| {
        c["iat"] = json!(now);
        c["exp"] = json!(now + 900);
    });
    assert_eq!(t.call(HOOK, Some(&token)).await.status().as_u16(), 200);
}

#[tokio::test]
async fn the_max_lifetime_is_configurable() {
    let t = start(|s| s.jwt.max_lifetime = std::time::Duration::from_secs(120)).await;
    let now = jwt::now();
    let token = t.token_with(HOOK, |c| {
        c["iat"] = json!(now);
        c["exp"] = json!(now + 300);
    });
    expect_401(
        t.call(HOOK, Some(&token)).await,
        "lifetime-too-long",
        "at most 120 s",
        Some(&token),
    )
    .await;
    let token = t.token_with(HOOK, |c| {
        c["iat"] = json!(now);
        c["exp"] = json!(now + 120);
    });
    assert_eq!(t.call(HOOK, Some(&token)).await.status().as_u16(), 200);
}

#[tokio::test]
async fn the_audience_must_be_the_endpoint_invoked() {
    let t = start(|_| {}).await;
    // A discovery token on the hook, a hook token on feedback, another host.
    for (path, aud) in [
        (HOOK, t.aud(DISCOVERY)),
        (FEEDBACK, t.aud(HOOK)),
        (DISCOVERY, format!("https://elsewhere.example{DISCOVERY}")),
        (HOOK, t.aud("/cds-services/dvt-order-sign")),
    ] {
        let token = t.token_with(path, |c| c["aud"] = json!(aud));
        let message = expect_401(
            t.call(path, Some(&token)).await,
            "wrong-audience",
            "wrong audience",
            Some(&token),
        )
        .await;
        assert!(
            message.contains(&format!("\"{}\"", t.aud(path))),
            "the expected audience is shown: {message}"
        );
    }
    // `aud` as an array containing the right URL.
    let token = t.token_with(HOOK, |c| {
        c["aud"] = json!(["https://other.example/cds-services", t.aud(HOOK)]);
    });
    assert_eq!(t.call(HOOK, Some(&token)).await.status().as_u16(), 200);
    let token = t.token_with(HOOK, |c| c["aud"] = json!(["https://other.example"]));
    expect_401(
        t.call(HOOK, Some(&token)).await,
        "wrong-audience",
        "wrong audience",
        Some(&token),
    )
    .await;
    // An unknown service id: the message does not repeat the client's path.
    let path = "/cds-services/Some-Client-Text";
    let token = t.token_with(path, |c| c["aud"] = json!("https://x.example"));
    let response = t
        .app
        .client
        .post(t.app.url(path))
        .bearer_auth(&token)
        .json(&order_select_request())
        .send()
        .await
        .unwrap();
    let message = expect_401(
        response,
        "wrong-audience",
        "endpoint being invoked",
        Some(&token),
    )
    .await;
    assert!(!message.contains("Some-Client-Text"), "{message}");
}

#[tokio::test]
async fn unknown_issuers_are_refused_without_fetching_anything() {
    let t = start(|_| {}).await;
    let long_issuer = format!("https://attacker.example/{}", "x".repeat(500));
    for iss in ["https://attacker.example", long_issuer.as_str()] {
        let token = t.token_with(HOOK, |c| c["iss"] = json!(iss));
        let message = expect_401(
            t.call(HOOK, Some(&token)).await,
            "unknown-issuer",
            "not trusted",
            Some(&token),
        )
        .await;
        assert!(
            message.len() < 300,
            "the issuer is not echoed at length: {message}"
        );
        assert!(message.contains("https://attacker.example"), "{message}");
    }
    // Even with an allow-listed `jku`: the issuer list is checked first.
    let token = sign(
        &header(&KEYS.es384, Some(&t.jwks.url(JKU_JWKS))),
        &claims("https://attacker.example", &t.aud(HOOK)),
        &KEYS.es384.private,
    );
    expect_401(
        t.call(HOOK, Some(&token)).await,
        "unknown-issuer",
        "not trusted",
        Some(&token),
    )
    .await;
    assert_eq!(t.jwks.total_hits(), 0);
}

#[tokio::test]
async fn jku_must_be_under_the_allow_list() {
    let t = start(|_| {}).await;
    // Allowed: keys fetched from the `jku`.
    let jku = t.jwks.url(JKU_JWKS);
    let token = sign(
        &header(&KEYS.rs384, Some(&jku)),
        &claims(ISSUER, &t.aud(HOOK)),
        &KEYS.rs384.private,
    );
    assert_eq!(t.call(HOOK, Some(&token)).await.status().as_u16(), 200);
    assert_eq!(t.jwks.hits(JKU_JWKS), 1);
    assert_eq!(t.jwks.hits(ISSUER_JWKS), 0);

    let port = t.jwks.base.rsplit(':').next().unwrap().to_owned();
    for jku in [
        format!("http://127.0.0.1:{port}/other/jwks.json"),
        format!("http://127.0.0.1:{port}/jku/keys-evil/jwks.json"),
        format!("http://127.0.0.1:{port}/jku/keys/../../evil/jwks.json"),
        format!("http://127.0.0.1.nip.io:{port}/jku/keys/jwks.json"),
        format!("http://127.0.0.1:{port}@evil.example/jku/keys/jwks.json"),
        format!("https://127.0.0.1:{port}/jku/keys/jwks.json"),
        "https://evil.example/jwks.json".to_owned(),
    ] {
        let token = sign(
            &header(&KEYS.es384, Some(&jku)),
            &claims(ISSUER, &t.aud(HOOK)),
            &KEYS.es384.private,
        );
        expect_401(
            t.call(HOOK, Some(&token)).await,
            "jku-not-allowed",
            "DVT_CDS_JKU_ALLOWLIST",
            Some(&token),
        )
        .await;
    }
    // None of them was fetched.
    assert_eq!(t.jwks.total_hits(), 1);
}

#[tokio::test]
async fn an_unknown_kid_refetches_once_then_is_rate_limited() {
    let t = start(|_| {}).await;
    assert_eq!(
        t.call(HOOK, Some(&t.token(&KEYS.es384, HOOK)))
            .await
            .status()
            .as_u16(),
        200
    );
    assert_eq!(t.jwks.hits(ISSUER_JWKS), 1);

    let unknown = |kid: &str| {
        let mut h = header(&KEYS.es384, None);
        h.kid = Some(kid.to_owned());
        sign(&h, &claims(ISSUER, &t.aud(HOOK)), &KEYS.es384.private)
    };
    let token = unknown("no-such-kid-1");
    expect_401(
        t.call(HOOK, Some(&token)).await,
        "unknown-kid",
        "no key with the token's `kid`",
        Some(&token),
    )
    .await;
    assert_eq!(
        t.jwks.hits(ISSUER_JWKS),
        2,
        "refetched once on the unknown kid"
    );
    for kid in ["no-such-kid-2", "no-such-kid-3"] {
        let token = unknown(kid);
        expect_401(
            t.call(HOOK, Some(&token)).await,
            "unknown-kid",
            "at most every 30 s",
            Some(&token),
        )
        .await;
    }
    assert_eq!(t.jwks.hits(ISSUER_JWKS), 2, "rate-limited");
    // Known keys are still served from the cache.
    assert_eq!(
        t.call(HOOK, Some(&t.token(&KEYS.rs384, HOOK)))
            .await
            .status()
            .as_u16(),
        200
    );
    assert_eq!(t.jwks.hits(ISSUER_JWKS), 2);
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_on_its_first_use() {
    let t = start(|_| {}).await;
    assert_eq!(
        t.call(DISCOVERY, Some(&t.token(&KEYS.es384, DISCOVERY)))
            .await
            .status()
            .as_u16(),
        200
    );
    let rotated = jwt::es384("es384-key-2");
    t.jwks.set(ISSUER_JWKS, jwt::jwks(&[&KEYS.es384, &rotated]));
    assert_eq!(
        t.call(HOOK, Some(&t.token(&rotated, HOOK)))
            .await
            .status()
            .as_u16(),
        200
    );
    assert_eq!(t.jwks.hits(ISSUER_JWKS), 2);
}

#[tokio::test]
async fn bad_signatures_and_mismatched_keys_are_refused() {
    let t = start(|_| {}).await;
    // Signed by another key under the real kid.
    let token = sign(
        &header(&KEYS.stranger, None),
        &claims(ISSUER, &t.aud(HOOK)),
        &KEYS.stranger.private,
    );
    expect_401(
        t.call(HOOK, Some(&token)).await,
        "bad-signature",
        "does not verify",
        Some(&token),
    )
    .await;
    // A valid token with its claims changed after signing.
    let valid = t.token(&KEYS.rs384, HOOK);
    let parts: Vec<&str> = valid.split('.').collect();
    let mut forged_claims = claims(ISSUER, &t.aud(HOOK));
    forged_claims["sub"] = json!("admin");
    let forged = raw_token(
        &serde_json::to_value(header(&KEYS.rs384, None)).unwrap(),
        &forged_claims,
        parts[2],
    );
    expect_401(
        t.call(HOOK, Some(&forged)).await,
        "bad-signature",
        "does not verify",
        Some(&forged),
    )
    .await;
    // ES384 header naming the RSA key.
    let mut h = header(&KEYS.es384, None);
    h.kid = Some(jwt::RS384_KID.to_owned());
    let token = sign(&h, &claims(ISSUER, &t.aud(HOOK)), &KEYS.es384.private);
    expect_401(
        t.call(HOOK, Some(&token)).await,
        "key-mismatch",
        "cannot verify ES384",
        Some(&token),
    )
    .await;
}

#[tokio::test]
async fn none_and_hmac_are_refused_before_any_key_lookup() {
    let t = start(|_| {}).await;
    let c = claims(ISSUER, &t.aud(HOOK));
    let none = raw_token(
        &json!({"alg": "none", "typ": "JWT", "kid": jwt::ES384_KID}),
        &c,
        "",
    );
    let message = expect_401(
        t.call(HOOK, Some(&none)).await,
        "algorithm-not-allowed",
        "`none`",
        Some(&none),
    )
    .await;
    assert!(message.contains("ES384, RS384"), "{message}");
    // HS256 "signed" with the public key as the shared secret (the classic confusion attack).
    let public = serde_json::to_vec(&KEYS.es384.public).unwrap();
    for (alg, secret) in [
        (Algorithm::HS256, public.clone()),
        (Algorithm::HS384, public.clone()),
        (Algorithm::HS512, public),
    ] {
        let mut h = Header::new(alg);
        h.kid = Some(jwt::ES384_KID.to_owned());
        let token = sign(
            &h,
            &claims(ISSUER, &t.aud(HOOK)),
            &EncodingKey::from_secret(&secret),
        );
        expect_401(
            t.call(HOOK, Some(&token)).await,
            "algorithm-not-allowed",
            "HMAC",
            Some(&token),
        )
        .await;
    }
    assert_eq!(t.jwks.total_hits(), 0, "no key was looked up");
}

#[tokio::test]
async fn typ_kid_and_the_required_claims_must_be_present() {
    let t = start(|_| {}).await;
    let mut h = header(&KEYS.es384, None);
    h.typ = None;
    let token = sign(&h, &claims(ISSUER, &t.aud(HOOK)), &KEYS.es384.private);
    expect_401(
        t.call(HOOK, Some(&token)).await,
        "bad-header",
        "typ",
        Some(&token),
    )
    .await;
    let mut h = header(&KEYS.es384, None);
    h.typ = Some("at+jwt".to_owned());
    let token = sign(&h, &claims(ISSUER, &t.aud(HOOK)), &KEYS.es384.private);
    expect_401(
        t.call(HOOK, Some(&token)).await,
        "bad-header",
        "typ",
        Some(&token),
    )
    .await;
    let mut h = header(&KEYS.es384, None);
    h.kid = None;
    let token = sign(&h, &claims(ISSUER, &t.aud(HOOK)), &KEYS.es384.private);
    expect_401(
        t.call(HOOK, Some(&token)).await,
        "bad-header",
        "`kid`",
        Some(&token),
    )
    .await;
    for claim in ["jti", "exp", "iat", "aud", "iss"] {
        let token = t.token_with(HOOK, |c| {
            c.as_object_mut().unwrap().remove(claim);
        });
        expect_401(
            t.call(HOOK, Some(&token)).await,
            "missing-claim",
            &format!("no `{claim}` claim"),
            Some(&token),
        )
        .await;
    }
}

#[tokio::test]
async fn a_replayed_jti_is_refused() {
    let t = start(|_| {}).await;
    let token = t.token(&KEYS.es384, HOOK);
    assert_eq!(t.call(HOOK, Some(&token)).await.status().as_u16(), 200);
    expect_401(
        t.call(HOOK, Some(&token)).await,
        "replayed",
        "already used",
        Some(&token),
    )
    .await;
    // The same jti on another endpoint (a different token) is a replay too.
    let jti = uuid::Uuid::new_v4().to_string();
    let first = t.token_with(DISCOVERY, |c| c["jti"] = json!(jti));
    let second = t.token_with(HOOK, |c| c["jti"] = json!(jti));
    assert_eq!(t.call(DISCOVERY, Some(&first)).await.status().as_u16(), 200);
    expect_401(
        t.call(HOOK, Some(&second)).await,
        "replayed",
        "fresh token",
        Some(&second),
    )
    .await;
    // A refused token does not burn its jti.
    let jti = uuid::Uuid::new_v4().to_string();
    let wrong = t.token_with(HOOK, |c| {
        c["jti"] = json!(jti);
        c["aud"] = json!("https://elsewhere.example");
    });
    expect_401(
        t.call(HOOK, Some(&wrong)).await,
        "wrong-audience",
        "wrong audience",
        Some(&wrong),
    )
    .await;
    let right = t.token_with(HOOK, |c| c["jti"] = json!(jti));
    assert_eq!(t.call(HOOK, Some(&right)).await.status().as_u16(), 200);
}

#[tokio::test]
async fn es256_is_refused_unless_enabled() {
    let t = start(|_| {}).await;
    t.jwks
        .set(ISSUER_JWKS, jwt::jwks(&[&KEYS.es384, &KEYS.es256]));
    let token = t.token(&KEYS.es256, HOOK);
    expect_401(
        t.call(HOOK, Some(&token)).await,
        "algorithm-not-allowed",
        "ES256",
        Some(&token),
    )
    .await;

    let t = start(|s| s.jwt.extra_algs = vec![SigningAlg::ES256]).await;
    t.jwks
        .set(ISSUER_JWKS, jwt::jwks(&[&KEYS.es384, &KEYS.es256]));
    assert_eq!(
        t.call(HOOK, Some(&t.token(&KEYS.es256, HOOK)))
            .await
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        t.call(HOOK, Some(&t.token(&KEYS.es384, HOOK)))
            .await
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn the_tenant_is_checked_when_configured() {
    let t = start(|s| s.jwt.tenants = vec!["tenant-a".to_owned()]).await;
    let token = t.token_with(HOOK, |c| c["tenant"] = json!("tenant-b"));
    expect_401(
        t.call(HOOK, Some(&token)).await,
        "wrong-tenant",
        "tenant-b",
        Some(&token),
    )
    .await;
    let token = t.token(&KEYS.es384, HOOK);
    expect_401(
        t.call(HOOK, Some(&token)).await,
        "missing-claim",
        "`tenant`",
        Some(&token),
    )
    .await;
    let token = t.token_with(HOOK, |c| c["tenant"] = json!("tenant-a"));
    assert_eq!(t.call(HOOK, Some(&token)).await.status().as_u16(), 200);
}

#[tokio::test]
async fn auth_failures_are_counted_by_reason_without_tokens() {
    let t = start(|_| {}).await;
    let expired = t.token_with(HOOK, |c| {
        c["iat"] = json!(jwt::now() - 1000);
        c["exp"] = json!(jwt::now() - 500);
    });
    let valid = t.token(&KEYS.es384, HOOK);
    assert_eq!(t.call(HOOK, Some(&valid)).await.status().as_u16(), 200);
    for token in [None, None, Some(expired.as_str()), Some(valid.as_str())] {
        assert_eq!(t.call(HOOK, token).await.status().as_u16(), 401);
    }
    let metrics = t.app.metrics().await;
    let count = |reason: &str| {
        metric_value(
            &metrics,
            &format!("dvt_cds_auth_failures_total{{reason=\"{reason}\"}}"),
        )
        .unwrap_or_else(|| panic!("{reason} in\n{metrics}"))
    };
    assert_eq!(count("missing-token"), 2.0);
    assert_eq!(count("expired"), 1.0);
    assert_eq!(count("replayed"), 1.0);
    assert_eq!(count("bad-signature"), 0.0);
    assert_eq!(
        metric_value(
            &metrics,
            "dvt_cds_http_requests_total{route=\"/cds-services/{id}\",service=\"dvt-order-select\",status=\"401\"}"
        ),
        Some(4.0)
    );
    for token in [&expired, &valid] {
        for part in token.split('.') {
            assert!(!metrics.contains(part), "a token part in /metrics");
        }
    }
}

#[tokio::test]
async fn an_unreachable_jwks_is_a_401_that_recovers() {
    // The JWKS answers 404 until it is published.
    let path_missing = JwksServer::start().await;
    let t = AuthApp {
        app: spawn_app_with(|s| {
            s.auth = Some(AuthMode::Required);
            s.trusted_issuers = vec![(ISSUER.to_owned(), path_missing.url(ISSUER_JWKS))];
            s.jwt.jwks.failure_backoff = std::time::Duration::from_millis(300);
        })
        .await,
        jwks: path_missing,
    };
    let token = t.token(&KEYS.es384, HOOK);
    expect_401(
        t.call(HOOK, Some(&token)).await,
        "jwks-unavailable",
        "HTTP 404",
        Some(&token),
    )
    .await;
    // Within the back-off: not fetched again.
    let token = t.token(&KEYS.es384, HOOK);
    expect_401(
        t.call(HOOK, Some(&token)).await,
        "jwks-unavailable",
        "next attempt",
        Some(&token),
    )
    .await;
    assert_eq!(t.jwks.hits(ISSUER_JWKS), 1);
    t.jwks.set(ISSUER_JWKS, jwt::jwks(&[&KEYS.es384]));
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(
        t.call(HOOK, Some(&t.token(&KEYS.es384, HOOK)))
            .await
            .status()
            .as_u16(),
        200
    );
    assert_eq!(t.jwks.hits(ISSUER_JWKS), 2);
}

#[tokio::test]
async fn readyz_names_the_replay_store_when_auth_is_required() {
    // The default: in memory, this process only (no Redis metrics).
    let t = start(|_| {}).await;
    let body: Value = t.app.get("/readyz").await.json().await.unwrap();
    assert_eq!(
        body["replayStore"],
        json!({"kind": "memory", "status": "local"})
    );
    assert!(!t.app.metrics().await.contains("replay_store_"));
    // Redis configured but unreachable (nothing listens): the server starts, /readyz stays 200
    // and says so, and a valid token is refused with 503 + Retry-After (fail-closed).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let t = start(|s| {
        s.replay.store = distal_dvt_cds::auth::replay::StoreLocation::parse(&format!(
            "redis://:secret-pw@127.0.0.1:{port}/0"
        ))
        .unwrap();
        s.replay.timeout = std::time::Duration::from_millis(100);
    })
    .await;
    let response = t.app.get("/readyz").await;
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["replayStore"],
        json!({"kind": "redis", "status": "unreachable",
               "url": format!("redis://:****@127.0.0.1:{port}/0"), "failurePolicy": "fail-closed"})
    );
    let token = t.token(&KEYS.es384, HOOK);
    let response = t.call(HOOK, Some(&token)).await;
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    assert!(response.headers().get("www-authenticate").is_none());
    let error = assert_error(response, 503, "replay-store-unavailable").await;
    assert_eq!(error["reason"], json!("replay-store-unavailable"));
    let metrics = t.app.metrics().await;
    assert_eq!(
        metric_value(
            &metrics,
            "dvt_cds_replay_store_errors_total{policy=\"fail-closed\"}"
        ),
        Some(1.0)
    );
    assert_eq!(metric_value(&metrics, "dvt_cds_replay_store_up"), Some(0.0));
    assert!(!metrics.contains("secret-pw"));
}
