//! Resource limits of the HTTP layer (README, "Resource limits"): the number of hook and
//! feedback requests in flight (503 + `Retry-After` above `DVT_CDS_MAX_CONCURRENT_REQUESTS`;
//! `/healthz`, `/readyz`, `/metrics` and everything else are never limited), the per-request
//! deadline (`DVT_CDS_REQUEST_DEADLINE_MS`: body, parsing, fallback fetch and evaluation;
//! 408 while the body is still arriving, 503 + `Retry-After` after), and what is counted in
//! `dvt_cds_rejected_requests_total`. The JSON depth check is in `body.rs`, the Bundle-size
//! check in `crate::bundle_limit`; the slow-client timeouts are actix-web's
//! (`startup.rs`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{HttpRequest, web};
use tokio::time::Instant;

use super::errors::ApiError;
use crate::bundle_limit::TooManyEntries;
use crate::settings::Limits;

/// Seconds a client is asked to wait (`Retry-After`) after an `overloaded` answer.
pub const RETRY_AFTER_OVERLOADED: &str = "1";
/// … after a `deadline-exceeded` answer.
pub const RETRY_AFTER_DEADLINE: &str = "5";

/// Reasons counted in `dvt_cds_rejected_requests_total{reason}` (a fixed set).
pub const REJECTION_REASONS: [&str; 6] = [
    "payload-too-large",
    "json-too-deep",
    "too-many-bundle-entries",
    "request-timeout",
    "deadline-exceeded",
    "overloaded",
];

/// The configured limits and the in-flight counter (one per application, shared by all
/// workers).
#[derive(Debug, Default)]
pub struct RequestLimits {
    pub limits: Limits,
    in_flight: AtomicUsize,
}

impl RequestLimits {
    pub fn new(limits: Limits) -> RequestLimits {
        RequestLimits {
            limits,
            in_flight: AtomicUsize::new(0),
        }
    }

    /// The limits of the application serving `req` (the defaults when none are registered,
    /// as in handler unit tests).
    pub fn of(req: &HttpRequest) -> Limits {
        req.app_data::<web::Data<RequestLimits>>()
            .map(|l| l.limits)
            .unwrap_or_default()
    }

    /// Take one of the in-flight slots, if one is free.
    fn try_acquire(&self) -> Option<Slot<'_>> {
        let max = self.limits.max_concurrent_requests;
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(&self.in_flight))
    }

    /// Requests holding a slot now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }
}

/// An in-flight slot, released when dropped (also when the request is cancelled).
struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Whether a request counts against `DVT_CDS_MAX_CONCURRENT_REQUESTS`: the POST routes (hooks
/// and feedback). Discovery, health, readiness, metrics, OpenAPI, the playground and CORS
/// preflights never wait for a slot.
fn is_limited(req: &ServiceRequest) -> bool {
    req.method() == Method::POST && req.path().starts_with("/cds-services/")
}

/// Middleware (inside CORS, outside authentication): refuse a hook/feedback request with 503
/// `overloaded` + `Retry-After` when every slot is taken; never queue.
pub async fn limit_concurrency<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    if !is_limited(&req) {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    let Some(limits) = req.app_data::<web::Data<RequestLimits>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let Some(_slot) = limits.try_acquire() else {
        let error = ApiError::Overloaded {
            limit: limits.limits.max_concurrent_requests,
        };
        tracing::warn!(
            limit = limits.limits.max_concurrent_requests,
            "request refused: too many requests in flight"
        );
        return Ok(req.error_response(error).map_into_right_body());
    };
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// One request's deadline, started when the handler starts reading the body.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Instant,
    total: Duration,
}

impl Deadline {
    pub fn start(total: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + total,
            total,
        }
    }

    fn millis(&self) -> u64 {
        u64::try_from(self.total.as_millis()).unwrap_or(u64::MAX)
    }

    /// Reading the body: a client still sending when the deadline passes gets 408.
    pub async fn body<T>(
        &self,
        read: impl Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        tokio::time::timeout_at(self.at, read)
            .await
            .map_err(|_| ApiError::BodyTimeout {
                deadline_ms: self.millis(),
            })?
    }

    /// Any later step (parsing, fallback fetch, evaluation): 503 `deadline-exceeded` when it
    /// is not done in time. A step already past the deadline is not started.
    pub async fn run<T>(&self, step: impl Future<Output = T>) -> Result<T, ApiError> {
        self.check()?;
        tokio::time::timeout_at(self.at, step)
            .await
            .map_err(|_| self.exceeded())
    }

    /// 503 `deadline-exceeded` if the deadline has passed.
    pub fn check(&self) -> Result<(), ApiError> {
        if Instant::now() >= self.at {
            return Err(self.exceeded());
        }
        Ok(())
    }

    fn exceeded(&self) -> ApiError {
        tracing::warn!(
            deadline_ms = self.millis(),
            "request deadline exceeded (DVT_CDS_REQUEST_DEADLINE_MS)"
        );
        ApiError::DeadlineExceeded {
            deadline_ms: self.millis(),
        }
    }
}

impl From<TooManyEntries> for ApiError {
    fn from(e: TooManyEntries) -> Self {
        ApiError::TooManyBundleEntries {
            key: e.key,
            pointer: e.pointer,
            count: e.count,
            limit: e.limit,
        }
    }
}

/// The `Retry-After` seconds of an error, if it is one a client should retry.
pub fn retry_after(error: &ApiError) -> Option<&'static str> {
    match error {
        ApiError::Overloaded { .. } => Some(RETRY_AFTER_OVERLOADED),
        ApiError::DeadlineExceeded { .. } => Some(RETRY_AFTER_DEADLINE),
        _ => None,
    }
}

/// The `reason` label under which a refusal is counted in `dvt_cds_rejected_requests_total`
/// (one of [`REJECTION_REASONS`]), if the error is a resource limit.
pub fn rejection_reason(error: &ApiError) -> Option<&'static str> {
    match error {
        ApiError::PayloadTooLarge { .. }
        | ApiError::JsonTooDeep { .. }
        | ApiError::TooManyBundleEntries { .. }
        | ApiError::BodyTimeout { .. }
        | ApiError::DeadlineExceeded { .. }
        | ApiError::Overloaded { .. } => Some(error.code()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_taken_and_released() {
        let limits = RequestLimits::new(Limits {
            max_concurrent_requests: 2,
            ..Limits::default()
        });
        let a = limits.try_acquire().expect("first");
        let b = limits.try_acquire().expect("second");
        assert!(limits.try_acquire().is_none());
        assert_eq!(limits.in_flight(), 2);
        drop(a);
        let c = limits.try_acquire().expect("released");
        drop((b, c));
        assert_eq!(limits.in_flight(), 0);
    }

    #[test]
    fn every_limit_error_has_a_counted_reason() {
        let errors = [
            ApiError::PayloadTooLarge { limit: 1 },
            ApiError::JsonTooDeep { limit: 1 },
            ApiError::TooManyBundleEntries {
                key: "observations".into(),
                pointer: "/prefetch/observations/entry".into(),
                count: 2,
                limit: 1,
            },
            ApiError::BodyTimeout { deadline_ms: 1 },
            ApiError::DeadlineExceeded { deadline_ms: 1 },
            ApiError::Overloaded { limit: 1 },
        ];
        for error in &errors {
            let reason = rejection_reason(error).expect("counted");
            assert!(REJECTION_REASONS.contains(&reason), "{reason}");
        }
        assert_eq!(rejection_reason(&ApiError::NotFound), None);
        assert_eq!(retry_after(&errors[5]), Some("1"));
        assert_eq!(retry_after(&errors[4]), Some("5"));
        assert_eq!(retry_after(&errors[0]), None);
    }

    #[tokio::test]
    async fn the_deadline_is_408_while_reading_and_503_after() {
        let deadline = Deadline::start(Duration::from_millis(0));
        let slow = std::future::pending::<Result<(), ApiError>>();
        assert!(matches!(
            deadline.body(slow).await,
            Err(ApiError::BodyTimeout { .. })
        ));
        assert!(matches!(
            deadline.run(async {}).await,
            Err(ApiError::DeadlineExceeded { .. })
        ));
        let later = Deadline::start(Duration::from_secs(60));
        assert_eq!(later.run(async { 7 }).await.unwrap(), 7);
    }
}
