//! A hook call from JSON to outcome, shared by `POST /cds-services/{id}` and the `evaluate`
//! command: schema check → `HookRequest::parse` → [`fetch_absent`] (async) → `pipeline::run`,
//! errors as [`ApiError`].

use serde_json::Value;
use time::OffsetDateTime;

use super::errors::ApiError;
use crate::cds_schema::Schemas;
use crate::config::{Config, ServiceDefinition};
use crate::fetch::{self, FetchReport, Fetcher};
use crate::hook_request::HookRequest;
use crate::pipeline::{self, HookOutcome};

/// Check a request body against the CDS Hooks request schema, then parse it.
pub fn parse_request(schemas: &Schemas, body: &Value) -> Result<HookRequest, ApiError> {
    schemas.check_request(body)?;
    Ok(HookRequest::parse(body)?)
}

/// [`parse_request`] of a body it may take apart (the prefetch is moved, not copied).
pub fn parse_request_owned(schemas: &Schemas, body: Value) -> Result<HookRequest, ApiError> {
    schemas.check_request(&body)?;
    Ok(HookRequest::parse_owned(body)?)
}

/// Fetch the prefetch keys absent from `request` from its `fhirServer`: the fetched JSON goes
/// into `request.prefetch`, what could not be fetched into `request.fetch_gaps`. Nothing is
/// fetched (`None`) when no key is absent, when there is no `fhirServer` (the pipeline then
/// answers 412 naming the keys), or when the hook is not the service's (it answers 400).
pub async fn fetch_absent(
    fetcher: &Fetcher,
    service: &ServiceDefinition,
    request: &mut HookRequest,
) -> Option<FetchReport> {
    if !needs_fetch(service, request) {
        return None;
    }
    let keys = fetch::absent_keys(request);
    let mut report = fetcher.fetch(service, request, &keys).await;
    report.apply(request);
    Some(report)
}

/// Whether [`fetch_absent`] has anything to fetch: the service's hook, a `fhirServer`, and
/// prefetch keys absent.
pub fn needs_fetch(service: &ServiceDefinition, request: &HookRequest) -> bool {
    request.hook == service.hook
        && request.fhir_server.is_some()
        && !fetch::absent_keys(request).is_empty()
}

/// Evaluate a parsed request for `service` at `now`.
pub fn run(
    config: &Config,
    service: &ServiceDefinition,
    request: &HookRequest,
    now: OffsetDateTime,
) -> Result<HookOutcome, ApiError> {
    Ok(pipeline::run(config, service, request, now)?)
}

/// The service answering `request.hook` (for `evaluate`, which has no service id).
pub fn service_for<'c>(
    config: &'c Config,
    request: &HookRequest,
) -> Result<&'c ServiceDefinition, ApiError> {
    config
        .services
        .iter()
        .find(|s| s.hook == request.hook)
        .ok_or_else(|| ApiError::InvalidRequest {
            pointer: "/hook".to_owned(),
            message: format!(
                "no configured service answers the `{}` hook",
                request.hook.as_str()
            ),
        })
}

/// `hookInstance` as it may be logged: only when it is a UUID (as the spec requires);
/// anything else could be arbitrary client text.
pub fn loggable_hook_instance(body: &Value) -> Option<String> {
    let s = body.get("hookInstance")?.as_str()?;
    uuid::Uuid::parse_str(s)
        .ok()
        .map(|u| u.hyphenated().to_string())
}

/// `hook` as it may be logged: a hook this service knows, else `other`.
pub fn loggable_hook(body: &Value) -> &'static str {
    match body.get("hook").and_then(Value::as_str) {
        Some("order-select") => "order-select",
        Some("order-sign") => "order-sign",
        Some(_) => "other",
        None => "none",
    }
}
