//! `POST /bench/floor`: the benchmark floor (`benches/load.sh`), mounted only with
//! `DVT_CDS_BENCH_FLOOR=on`. It does what any JSON service must do with a hook request and
//! nothing else: the same body reading as the hook (media type, size limit), the whole body
//! into a `serde_json::Value`, a constant `{"cards":[]}`. Hook latency is reported as a ratio
//! to this route, measured in the same run on the same server.

use actix_web::{HttpRequest, HttpResponse, web};

use super::body;
use super::errors::ApiError;
use super::state::AppState;

/// The constant answer (what a service with nothing to say returns).
const EMPTY_RESPONSE: &str = r#"{"cards":[]}"#;

/// Register the route (only when enabled: otherwise `/bench/floor` is the usual 404).
pub fn configure(cfg: &mut web::ServiceConfig, enabled: bool) {
    if enabled {
        cfg.service(web::resource("/bench/floor").route(web::post().to(floor)));
    }
}

async fn floor(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let bytes = body::read(&req, payload, state.max_body_bytes).await?;
    let body = body::parse_json(&bytes)?;
    std::hint::black_box(&body);
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(EMPTY_RESPONSE))
}
