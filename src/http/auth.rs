//! The authentication middleware: discovery, hook and feedback routes need a valid CDS Hooks
//! JWT when auth is `required`; CORS preflights (answered by the CORS middleware, outside
//! this one), plain `OPTIONS`, `/healthz`, `/readyz`, `/metrics` and `/openapi.json` never do.
//! Failures are answered 401 through [`ApiError::Unauthorized`], counted by reason and logged
//! by reason only — never the token.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::AUTHORIZATION;
use actix_web::middleware::Next;
use actix_web::web;

use super::errors::ApiError;
use super::metrics::Metrics;
use super::state::AppState;
use crate::auth::replay::{ReplayConfig, ReplayHealth, ReplayStore, StoreLocation};
use crate::auth::{AuthConfigError, AuthError, AuthFailure, Authenticator, ReplayStoreError};

/// Whether requests must carry a JWT (registered as `web::Data<AuthPolicy>`; without it every
/// protected request fails closed).
#[derive(Debug)]
pub enum AuthPolicy {
    Off,
    Required(Box<Authenticator>),
}

/// Route patterns that need authentication.
const PROTECTED: [&str; 3] = [
    "/cds-services",
    "/cds-services/{id}",
    "/cds-services/{id}/feedback",
];

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(req: &ServiceRequest) -> Result<&str, AuthError> {
    let missing = || {
        AuthError::new(
            AuthFailure::MissingToken,
            "this endpoint needs `Authorization: Bearer <JWT>` (CDS Hooks 2.0 authentication)",
        )
    };
    let value = req
        .headers()
        .get(AUTHORIZATION)
        .ok_or_else(missing)?
        .to_str()
        .map_err(|_| missing())?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(missing)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(missing());
    }
    Ok(token)
}

pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let pattern = req.match_pattern();
    let protected = req.method() != Method::OPTIONS
        && pattern.as_deref().is_some_and(|p| PROTECTED.contains(&p));
    if !protected {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    let Some(policy) = req.app_data::<web::Data<AuthPolicy>>().cloned() else {
        let response = req.error_response(ApiError::Internal("no authentication policy"));
        return Ok(response.map_into_right_body());
    };
    let authenticator = match policy.get_ref() {
        AuthPolicy::Off => {
            return next
                .call(req)
                .await
                .map(ServiceResponse::map_into_left_body);
        }
        AuthPolicy::Required(authenticator) => authenticator,
    };
    let state = req.app_data::<web::Data<AppState>>().cloned();
    // The expected audience may be shown unless the path names no known service (then the
    // path is arbitrary client text).
    let known_endpoint = match pattern.as_deref() {
        Some("/cds-services") => true,
        _ => req
            .path()
            .split('/')
            .nth(2)
            .zip(state.as_ref())
            .is_some_and(|(id, state)| state.config.service(id).is_some()),
    };
    let result = match bearer(&req) {
        Ok(token) => {
            authenticator
                .verify(token, req.path(), known_endpoint)
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(verified) => {
            tracing::debug!(auth.issuer = %crate::auth::error::excerpt(&verified.issuer), "authenticated");
            next.call(req)
                .await
                .map(ServiceResponse::map_into_left_body)
        }
        Err(e) => {
            tracing::info!(auth.reason = e.reason.as_str(), "authentication failed");
            if let Some(state) = &state {
                state.metrics.observe_auth_failure(e.reason);
            }
            Ok(req
                .error_response(ApiError::Unauthorized(e))
                .map_into_right_body())
        }
    }
}

/// The `jti` replay store `config` names, its metrics registered in `metrics` (Redis only). Logs
/// which store is used (the Redis URL with its password masked). No connection is made here.
pub fn replay_store(
    config: &ReplayConfig,
    metrics: &Metrics,
) -> Result<ReplayStore, AuthConfigError> {
    match &config.store {
        StoreLocation::Memory => {
            tracing::info!(
                replay_store = "memory",
                "JWT replay protection in this process's memory (DVT_CDS_REPLAY_STORE=memory): with several replicas, set DVT_CDS_REPLAY_STORE to a shared Redis"
            );
            Ok(ReplayStore::in_memory())
        }
        StoreLocation::Redis(url) => {
            let replay_metrics = metrics
                .register_replay_metrics()
                .map_err(|e| ReplayStoreError(format!("metrics: {e}")))?;
            let store = ReplayStore::from_config(config, replay_metrics)?;
            tracing::info!(
                replay_store = %url,
                failure_policy = config.failure.as_str(),
                timeout_ms = config.timeout.as_millis() as u64,
                "JWT replay protection shared in Redis (connects on first use)"
            );
            Ok(store)
        }
    }
}

/// A Redis replay store configured while authentication is off: say it is not used.
pub fn warn_if_replay_store_unused(config: &ReplayConfig) {
    if let StoreLocation::Redis(url) = &config.store {
        tracing::warn!(
            replay_store = %url,
            "DVT_CDS_REPLAY_STORE is set but authentication is off: no token is checked, the store is not used"
        );
    }
}

/// What `/readyz` reports about the replay store (`None` when authentication is off).
pub async fn replay_health(policy: Option<&AuthPolicy>) -> Option<ReplayHealth> {
    match policy? {
        AuthPolicy::Off => None,
        AuthPolicy::Required(authenticator) => Some(authenticator.replay_store().health().await),
    }
}
