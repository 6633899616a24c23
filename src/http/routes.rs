//! Routes and handlers. Handlers are thin: extract, call the pipeline, map the error.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{FromRequest, Handler, HttpRequest, HttpResponse, Resource, Responder, web};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use tracing::Instrument;
use tracing::field::Empty;

use super::auth::AuthPolicy;
use super::body;
use super::errors::ApiError;
use super::hooks;
use super::limits::{self, Deadline, RequestLimits};
use super::state::AppState;
use crate::config::ServiceDefinition;
use crate::hook_request::HookRequest;
use crate::pipeline::HookOutcome;
use crate::settings::Limits;
use crate::{cds_schema, skim};

const ALLOW_GET: &str = "GET, HEAD, OPTIONS";
const ALLOW_POST: &str = "POST, OPTIONS";

/// All routes; unknown paths are answered by [`not_found`] (set on the `App`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(get_resource("/cds-services", discovery))
        .service(post_resource("/cds-services/{id}", hook))
        .service(post_resource("/cds-services/{id}/feedback", feedback))
        .service(get_resource("/healthz", healthz))
        .service(get_resource("/readyz", readyz))
        .service(get_resource("/metrics", metrics))
        .service(get_resource("/openapi.json", openapi));
}

pub(super) fn get_resource<F, Args>(path: &str, handler: F) -> Resource
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler))
        .default_service(web::to(|req: HttpRequest| wrong_method(req, ALLOW_GET)))
}

fn post_resource<F, Args>(path: &str, handler: F) -> Resource
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    web::resource(path)
        .route(web::post().to(handler))
        .default_service(web::to(|req: HttpRequest| wrong_method(req, ALLOW_POST)))
}

/// `GET /cds-services`.
async fn discovery(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(&state.discovery)
}

/// What the first blocking step of [`hook`] ends with.
enum Stage {
    /// Evaluated (service id, outcome).
    Done(String, Box<HookOutcome>),
    /// Prefetch keys to fetch first.
    Fetch(ServiceDefinition, Box<HookRequest>),
}

/// `POST /cds-services/{id}`.
async fn hook(
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let service = state.service(&id)?.clone();
    let limits = RequestLimits::of(&req);
    let deadline = Deadline::start(limits.request_deadline);
    let bytes = deadline
        .body(body::read(&req, payload, state.max_body_bytes))
        .await?;
    let now = state.now();
    // Parse and evaluate together when every prefetch key was sent (the usual call); a request
    // with keys to fetch comes back for the async fetch. A body up to `INLINE_MAX_BODY_BYTES`
    // is evaluated right here on the worker, as the floor parses its body: that costs no more
    // worker time than reading it into a `Value` would, needs no thread hand-off, and holds
    // no parsed request in a queue. A larger body goes to the blocking pool (one trip).
    let first = if bytes.len() <= INLINE_MAX_BODY_BYTES {
        deadline.check()?;
        let shared = state.get_ref();
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            first_stage(bytes, limits, shared, service, now)
        }))
        .map_err(|_| ApiError::Internal("hook evaluation panicked"))??
    } else {
        let span = tracing::Span::current();
        let shared = state.clone();
        deadline
            .run(web::block(move || {
                let _entered = span.enter();
                first_stage(bytes, limits, &shared, service, now)
            }))
            .await?
            .map_err(|_| ApiError::Internal("hook evaluation panicked"))??
    };
    let outcome = match first {
        Stage::Done(service_id, outcome) => (service_id, *outcome),
        Stage::Fetch(service, mut request) => {
            // Absent prefetch keys: fetched from fhirServer (async, within the budget) before
            // the synchronous pipeline runs.
            if let Some(report) = deadline
                .run(hooks::fetch_absent(&state.fetcher, &service, &mut request))
                .await?
            {
                state.metrics.observe_fetch(&service.id, &report);
            }
            let shared = state.clone();
            let span = tracing::Span::current();
            deadline
                .run(web::block(move || {
                    let _entered = span.enter();
                    hooks::run(&shared.config, &service, &request, now)
                        .map(|outcome| (service.id, outcome))
                }))
                .await?
                .map_err(|_| ApiError::Internal("hook evaluation panicked"))??
        }
    };
    let (service_id, outcome) = outcome;
    state.metrics.observe_outcome(&service_id, &outcome);
    tracing::Span::current().record("cards", outcome.response.cards.len());
    Ok(HttpResponse::Ok().json(&outcome.response))
}

/// The largest body evaluated on the worker itself (see [`hook`]): about the time the floor
/// spends reading such a body into a `Value` on its worker (~1 ms per 300 KiB here).
const INLINE_MAX_BODY_BYTES: usize = 1024 * 1024;

/// The synchronous first step of a hook call: the body's depth and Bundle limits, the skim (or
/// the full parse), the schema check and the request; then the evaluation, unless prefetch keys
/// must be fetched first. Records `hook` and `hookInstance` on the current span.
fn first_stage(
    bytes: Bytes,
    limits: Limits,
    shared: &AppState,
    service: ServiceDefinition,
    now: OffsetDateTime,
) -> Result<Stage, ApiError> {
    body::check_depth(&bytes, limits.max_json_depth)?;
    // Skimmed: the prefetch Observations the rules never read are skipped unparsed, the
    // Bundle entries kept stay raw text until their reader deserializes them (`skim`); a body
    // that does not skim is parsed whole, for the exact errors.
    let (body, prefetch_entries) = match skim::skim(&bytes, &shared.config.rules) {
        Some(skimmed) => {
            // The Bundle limit counts the entries as sent, skipped ones included.
            crate::bundle_limit::check_counts(&skimmed.bundle_entries, limits.max_bundle_entries)?;
            (skimmed.body, skimmed.entries)
        }
        None => (body::parse_json(&bytes)?, Default::default()),
    };
    drop(bytes);
    let span = tracing::Span::current();
    span.record("hook", hooks::loggable_hook(&body));
    if let Some(instance) = hooks::loggable_hook_instance(&body) {
        span.record("hook_instance", instance);
    }
    crate::bundle_limit::check_body(&body, limits.max_bundle_entries)?;
    let mut request = hooks::parse_request_owned(&shared.schemas, body)?;
    request.prefetch_entries = prefetch_entries;
    if hooks::needs_fetch(&service, &request) {
        return Ok(Stage::Fetch(service, Box::new(request)));
    }
    hooks::run(&shared.config, &service, &request, now)
        .map(|outcome| Stage::Done(service.id, Box::new(outcome)))
}

#[derive(Deserialize)]
struct FeedbackRequest {
    feedback: Vec<FeedbackItem>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FeedbackItem {
    outcome: String,
    #[serde(default)]
    accepted_suggestions: Vec<serde_json::Value>,
}

/// `POST /cds-services/{id}/feedback`: validated, counted by service and outcome, not stored.
async fn feedback(
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let service = state.service(&id)?;
    let limits = RequestLimits::of(&req);
    let bytes = Deadline::start(limits.request_deadline)
        .body(body::read(&req, payload, state.max_body_bytes))
        .await?;
    body::check_depth(&bytes, limits.max_json_depth)?;
    let body = body::parse_json(&bytes)?;
    state.schemas.check_feedback(&body)?;
    let parsed: FeedbackRequest =
        serde_json::from_value(body).map_err(|_| ApiError::InvalidRequest {
            pointer: "/feedback".to_owned(),
            message: "`feedback` must be an array of feedback entries".to_owned(),
        })?;
    for item in &parsed.feedback {
        state
            .metrics
            .observe_feedback(&service.id, &item.outcome, item.accepted_suggestions.len());
    }
    Ok(HttpResponse::Ok().json(json!({ "status": "ok" })))
}

/// `GET /healthz`: the process answers.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// `GET /readyz`: configuration, value sets and schemas are loaded. With authentication, the
/// body also reports the `jti` replay store (`replayStore`; Redis is pinged). An unreachable
/// Redis does NOT make this 503: it is shared by every replica, so a 503 would take them all out
/// of the Service at once; requests answer per `DVT_CDS_REPLAY_STORE_FAILURE` instead.
async fn readyz(
    state: web::Data<AppState>,
    policy: Option<web::Data<AuthPolicy>>,
) -> Result<HttpResponse, ApiError> {
    if !state.is_ready() {
        return Err(ApiError::NotReady);
    }
    let mut body = json!({
        "status": "ready",
        "services": state.config.services.len(),
        "rulesetVersion": state.config.rules.ruleset_version,
    });
    if let Some(health) = super::auth::replay_health(policy.as_ref().map(|p| p.get_ref())).await {
        body["replayStore"] = json!(health);
    }
    Ok(HttpResponse::Ok().json(body))
}

/// `GET /metrics`: Prometheus text format.
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8"))
        .body(state.metrics.render())
}

/// `GET /openapi.json`.
async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .body(cds_schema::OPENAPI)
}

/// A known path with another method: 405 with `Allow` (plain `OPTIONS`: 204 with `Allow`;
/// CORS preflights are answered before routing).
async fn wrong_method(req: HttpRequest, allow: &'static str) -> Result<HttpResponse, ApiError> {
    if req.method() == Method::OPTIONS {
        return Ok(HttpResponse::NoContent()
            .insert_header((ALLOW, HeaderValue::from_static(allow)))
            .finish());
    }
    Err(ApiError::MethodNotAllowed { allow })
}

/// Any other path.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

/// Middleware: one span per request, one log line when it completes, request metrics.
/// Logs the method, the route *pattern* (never the path, query or headers), the known service
/// id, and what the handler recorded (hook, hookInstance, cards).
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let id = match route.as_str() {
        "/cds-services/{id}" | "/cds-services/{id}/feedback" => {
            req.path().split('/').nth(2).map(str::to_owned)
        }
        _ => None,
    };
    let service = state
        .as_ref()
        .map_or_else(|| "none".to_owned(), |s| s.service_label(id.as_deref()));
    let span = tracing::info_span!(
        "http_request",
        method = %req.method(),
        route = %route,
        service = %service,
        request_id = %uuid::Uuid::new_v4(),
        hook = Empty,
        hook_instance = Empty,
        status = Empty,
        cards = Empty,
        duration_ms = Empty,
    );
    let result = next.call(req).instrument(span.clone()).await;
    let status = match &result {
        Ok(res) => res.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    let elapsed = started.elapsed();
    span.record("status", status);
    span.record("duration_ms", elapsed.as_secs_f64() * 1000.0);
    span.in_scope(|| tracing::info!("request completed"));
    if let Some(state) = state {
        state
            .metrics
            .observe_request(&route, &service, status, elapsed.as_secs_f64());
        let error = match &result {
            Ok(res) => res.response().error(),
            Err(e) => Some(e),
        };
        if let Some(reason) = error
            .and_then(|e| e.as_error::<ApiError>())
            .and_then(limits::rejection_reason)
        {
            state.metrics.observe_rejection(reason);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use actix_web::{App, test, web};

    use super::*;
    use crate::http::startup::load_state;
    use crate::settings::Settings;

    /// Before the state is marked ready, `/readyz` answers 503 (the HTTP tests only ever see
    /// a ready server: `Application::build` loads everything before it listens).
    #[actix_web::test]
    async fn readyz_is_503_until_ready() {
        let state = web::Data::new(load_state(&Settings::default()).expect("state"));
        let app = test::init_service(App::new().app_data(state.clone()).configure(configure)).await;
        let response =
            test::call_service(&app, test::TestRequest::get().uri("/readyz").to_request()).await;
        assert_eq!(response.status().as_u16(), 503);
        let body: serde_json::Value = test::read_body_json(response).await;
        assert_eq!(body["error"]["code"], "not-ready");
        state.set_ready(true);
        let response =
            test::call_service(&app, test::TestRequest::get().uri("/readyz").to_request()).await;
        assert_eq!(response.status().as_u16(), 200);
    }
}
