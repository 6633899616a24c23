//! JWT test kit: key pairs generated per test run (ES384, RS384, ES256, and a second ES384 key
//! for bad signatures), a JWKS server on 127.0.0.1:0 that counts its hits per path, and
//! signed tokens built with `jsonwebtoken`.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

pub const ES384_KID: &str = "es384-key-1";
pub const RS384_KID: &str = "rs384-key-1";
pub const ES256_KID: &str = "es256-key-1";

pub struct KeyPair {
    pub alg: Algorithm,
    pub kid: String,
    pub private: EncodingKey,
    /// The public JWK (with `kid` and `alg`).
    pub public: Jwk,
}

fn pair(alg: Algorithm, kid: &str, private: EncodingKey) -> KeyPair {
    let mut public = Jwk::from_encoding_key(&private, alg).expect("public JWK");
    public.common.key_id = Some(kid.to_owned());
    KeyPair {
        alg,
        kid: kid.to_owned(),
        private,
        public,
    }
}

pub fn es384(kid: &str) -> KeyPair {
    use p384::pkcs8::EncodePrivateKey;
    let secret = p384::SecretKey::random(&mut rand::rngs::OsRng);
    let der = secret.to_pkcs8_der().expect("PKCS#8");
    pair(
        Algorithm::ES384,
        kid,
        EncodingKey::from_ec_der(der.as_bytes()),
    )
}

pub fn es256(kid: &str) -> KeyPair {
    use p256::pkcs8::EncodePrivateKey;
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let der = secret.to_pkcs8_der().expect("PKCS#8");
    pair(
        Algorithm::ES256,
        kid,
        EncodingKey::from_ec_der(der.as_bytes()),
    )
}

pub fn rs384(kid: &str) -> KeyPair {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).expect("RSA key");
    let der = key.to_pkcs1_der().expect("PKCS#1");
    pair(
        Algorithm::RS384,
        kid,
        EncodingKey::from_rsa_der(der.as_bytes()),
    )
}

/// The keys of this test run (RSA generation is slow: once per run).
pub struct Keys {
    pub es384: KeyPair,
    pub rs384: KeyPair,
    pub es256: KeyPair,
    /// Not in any JWKS; used with `ES384_KID` for a bad signature.
    pub stranger: KeyPair,
}

pub static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys {
    es384: es384(ES384_KID),
    rs384: rs384(RS384_KID),
    es256: es256(ES256_KID),
    stranger: es384(ES384_KID),
});

pub fn jwks(keys: &[&KeyPair]) -> Value {
    json!({ "keys": keys.iter().map(|k| &k.public).collect::<Vec<_>>() })
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// CDS Hooks claims: `iss`, `aud`, `iat` now, `exp` in 5 minutes, a fresh `jti`.
pub fn claims(iss: &str, aud: &str) -> Value {
    let now = now();
    json!({
        "iss": iss, "aud": aud, "iat": now, "exp": now + 300,
        "jti": uuid::Uuid::new_v4().to_string()
    })
}

/// A header with `typ: JWT`, the key's `alg` and `kid`, and `jku` if given.
pub fn header(key: &KeyPair, jku: Option<&str>) -> Header {
    let mut header = Header::new(key.alg);
    header.kid = Some(key.kid.clone());
    header.jku = jku.map(str::to_owned);
    header
}

pub fn sign(header: &Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(header, claims, key).expect("sign")
}

/// A compact JWS with arbitrary header and claims JSON and the given signature part.
pub fn raw_token(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

#[derive(Default)]
struct Served {
    documents: HashMap<String, Value>,
    hits: HashMap<String, usize>,
}

/// JWK Sets served over HTTP on 127.0.0.1:0, by path; every GET is counted.
#[derive(Clone)]
pub struct JwksServer {
    pub base: String,
    served: Arc<Mutex<Served>>,
}

async fn serve(req: HttpRequest, served: web::Data<Mutex<Served>>) -> HttpResponse {
    let path = req.path().to_owned();
    let mut served = served.lock().unwrap();
    *served.hits.entry(path.clone()).or_default() += 1;
    match served.documents.get(&path) {
        Some(doc) => HttpResponse::Ok().json(doc),
        None => HttpResponse::NotFound().finish(),
    }
}

impl JwksServer {
    pub async fn start() -> JwksServer {
        let served = web::Data::new(Mutex::new(Served::default()));
        let shared = served.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .default_service(web::get().to(serve))
        })
        .workers(1)
        .disable_signals()
        .bind("127.0.0.1:0")
        .expect("bind the JWKS server");
        let base = format!("http://{}", server.addrs()[0]);
        tokio::spawn(server.run());
        JwksServer {
            base,
            served: served.into_inner(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn set(&self, path: &str, document: Value) {
        self.served
            .lock()
            .unwrap()
            .documents
            .insert(path.to_owned(), document);
    }

    pub fn hits(&self, path: &str) -> usize {
        self.served
            .lock()
            .unwrap()
            .hits
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    pub fn total_hits(&self) -> usize {
        self.served.lock().unwrap().hits.values().sum()
    }
}
