//! `ApiError`: every way an HTTP request can fail, mapped to a status code and a JSON body in
//! one place (`impl ResponseError`).
//!
//! Body: `{"error": {"status": 400, "code": "schema-violation", "message": "…",
//! "pointer": "/context/patientId"}}`, plus `line`/`column` (malformed JSON), `missing`
//! (412) or `reason` (401, with `WWW-Authenticate: Bearer error="invalid_token"`). Messages
//! never quote request values (auth messages: at most a short excerpt of a claim, never the
//! token). Internal errors are logged (without request content) and answered with a generic
//! message.

use actix_web::http::StatusCode;
use actix_web::http::header::{ALLOW, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::auth::{AuthError, AuthFailure};
use crate::cds_schema::SchemaViolation;
use crate::hook_request::RequestError;
use crate::pipeline::PipelineError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request body is not valid JSON: {message}")]
    MalformedJson {
        message: String,
        line: usize,
        column: usize,
    },
    #[error("the request breaks the CDS Hooks 2.0 schema at `{pointer}`: {message}")]
    SchemaViolation { pointer: String, message: String },
    #[error("invalid request at `{pointer}`: {message}")]
    InvalidRequest { pointer: String, message: String },
    #[error("{0}")]
    HookMismatch(String),
    #[error("unknown CDS service; known services: {}", known.join(", "))]
    UnknownService { known: Vec<String> },
    #[error("no such resource; see GET /cds-services and GET /openapi.json")]
    NotFound,
    #[error("method not allowed; allowed: {allow}")]
    MethodNotAllowed { allow: &'static str },
    #[error(
        "prefetch keys missing and no fhirServer to fetch them from: {}. Send them in `prefetch` \
         (use null for \"no such data\"), or send fhirServer (and fhirAuthorization) so the \
         service can fetch them.",
        missing.join(", ")
    )]
    MissingPrefetch { missing: Vec<String> },
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error(
        "the request body must be JSON: Content-Type application/json or application/fhir+json"
    )]
    UnsupportedMediaType,
    #[error("the service is not ready yet")]
    NotReady,
    /// JWT authentication failed (401; 503 when a shared replay store is unreachable).
    #[error("{0}")]
    Unauthorized(AuthError),
    /// A bug. The detail is logged, never sent.
    #[error("internal error")]
    Internal(&'static str),
    // ---- resource limits (src/http/limits.rs) ----
    #[error(
        "the request body nests arrays/objects deeper than {limit} levels (DVT_CDS_MAX_JSON_DEPTH)"
    )]
    JsonTooDeep { limit: usize },
    /// 413: the body is within the byte limit, but a Bundle has more entries than the service
    /// evaluates (`pointer` names the prefetch key or `draftOrders`).
    #[error(
        "`{key}` is a Bundle of {count} entries; at most {limit} are accepted \
         (DVT_CDS_MAX_BUNDLE_ENTRIES): narrow the prefetch query or send fewer entries"
    )]
    TooManyBundleEntries {
        key: String,
        pointer: String,
        count: usize,
        limit: usize,
    },
    /// 503 + `Retry-After`: the fallback fetch and evaluation did not finish in time.
    #[error(
        "the request could not be answered within {deadline_ms} ms (DVT_CDS_REQUEST_DEADLINE_MS); retry later"
    )]
    DeadlineExceeded { deadline_ms: u64 },
    /// 503 + `Retry-After`: as many hook/feedback requests as allowed are in flight.
    #[error(
        "the service is busy: {limit} hook/feedback requests are already in flight \
         (DVT_CDS_MAX_CONCURRENT_REQUESTS); retry after the Retry-After delay"
    )]
    Overloaded { limit: usize },
    /// 408: the client sent its body too slowly.
    #[error(
        "the request body was not received within {deadline_ms} ms (DVT_CDS_REQUEST_DEADLINE_MS)"
    )]
    BodyTimeout { deadline_ms: u64 },
}

impl ApiError {
    /// Stable machine-readable code (documented in README and OpenAPI).
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedJson { .. } => "malformed-json",
            ApiError::SchemaViolation { .. } => "schema-violation",
            ApiError::InvalidRequest { .. } => "invalid-request",
            ApiError::HookMismatch(_) => "hook-mismatch",
            ApiError::UnknownService { .. } => "unknown-service",
            ApiError::NotFound => "not-found",
            ApiError::MethodNotAllowed { .. } => "method-not-allowed",
            ApiError::MissingPrefetch { .. } => "missing-prefetch",
            ApiError::PayloadTooLarge { .. } => "payload-too-large",
            ApiError::UnsupportedMediaType => "unsupported-media-type",
            ApiError::NotReady => "not-ready",
            ApiError::Unauthorized(e) if e.reason == AuthFailure::ReplayStoreUnavailable => {
                "replay-store-unavailable"
            }
            ApiError::Unauthorized(e) if e.reason == AuthFailure::MissingToken => "missing-token",
            ApiError::Unauthorized(_) => "invalid-token",
            ApiError::Internal(_) => "internal-error",
            ApiError::JsonTooDeep { .. } => "json-too-deep",
            ApiError::TooManyBundleEntries { .. } => "too-many-bundle-entries",
            ApiError::DeadlineExceeded { .. } => "deadline-exceeded",
            ApiError::Overloaded { .. } => "overloaded",
            ApiError::BodyTimeout { .. } => "request-timeout",
        }
    }

    /// The message sent to the client.
    pub fn client_message(&self) -> String {
        match self {
            ApiError::SchemaViolation { message, .. }
            | ApiError::InvalidRequest { message, .. } => message.clone(),
            ApiError::Internal(_) => {
                "internal error: the service failed to process this request (the failure is logged)"
                    .to_owned()
            }
            other => other.to_string(),
        }
    }

    pub fn malformed_json(e: &serde_json::Error) -> ApiError {
        // serde_json's syntax messages name the position, never the content.
        ApiError::MalformedJson {
            message: e.to_string(),
            line: e.line(),
            column: e.column(),
        }
    }
}

impl From<SchemaViolation> for ApiError {
    fn from(v: SchemaViolation) -> Self {
        ApiError::SchemaViolation {
            pointer: v.pointer,
            message: v.message,
        }
    }
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        ApiError::InvalidRequest {
            pointer: e.pointer,
            message: e.message,
        }
    }
}

impl From<PipelineError> for ApiError {
    fn from(e: PipelineError) -> Self {
        match e {
            PipelineError::HookMismatch { .. } => ApiError::HookMismatch(e.to_string()),
            PipelineError::MissingPrefetch { keys } => ApiError::MissingPrefetch {
                missing: keys.into_iter().map(str::to_owned).collect(),
            },
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    status: u16,
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pointer: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    missing: Option<&'a [String]>,
    /// Why a token was refused (`invalid-token`), one of a fixed set.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::MalformedJson { .. }
            | ApiError::SchemaViolation { .. }
            | ApiError::InvalidRequest { .. }
            | ApiError::HookMismatch(_) => StatusCode::BAD_REQUEST,
            ApiError::UnknownService { .. } | ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::MissingPrefetch { .. } => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotReady => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unauthorized(e) if e.reason == AuthFailure::ReplayStoreUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::JsonTooDeep { .. } => StatusCode::BAD_REQUEST,
            ApiError::TooManyBundleEntries { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::DeadlineExceeded { .. } | ApiError::Overloaded { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let ApiError::Internal(detail) = self {
            tracing::error!(
                error.code = self.code(),
                error.detail = detail,
                "internal error"
            );
        } else {
            tracing::debug!(
                error.code = self.code(),
                status = status.as_u16(),
                "client error"
            );
        }
        let pointer = match self {
            ApiError::SchemaViolation { pointer, .. }
            | ApiError::InvalidRequest { pointer, .. }
            | ApiError::TooManyBundleEntries { pointer, .. }
                if !pointer.is_empty() =>
            {
                Some(pointer.as_str())
            }
            _ => None,
        };
        let (line, column) = match self {
            ApiError::MalformedJson { line, column, .. } => (Some(*line), Some(*column)),
            _ => (None, None),
        };
        let missing = match self {
            ApiError::MissingPrefetch { missing } if !missing.is_empty() => {
                Some(missing.as_slice())
            }
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                status: status.as_u16(),
                code: self.code(),
                message: self.client_message(),
                pointer,
                line,
                column,
                missing,
                reason: match self {
                    ApiError::Unauthorized(e) => Some(e.reason.as_str()),
                    _ => None,
                },
            },
        };
        let mut response = HttpResponse::build(status).json(body);
        if let ApiError::MethodNotAllowed { allow } = self {
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static(allow));
        }
        if self.code() == "replay-store-unavailable" {
            // The shared replay store is usually back within seconds (reconnects by itself).
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let Some(seconds) = super::limits::retry_after(self) {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        response
    }
}
