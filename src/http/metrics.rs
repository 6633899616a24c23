//! Prometheus metrics (`GET /metrics`), one registry per application.
//!
//! Labels are bounded and never carry patient data: route patterns (not paths), known service
//! ids (`unknown` otherwise), status codes, and the (static) codes of the cards'
//! `extension["dvt-cds"]`.

use crate::auth::AuthFailure;
use crate::auth::replay::ReplayMetrics;
use crate::fetch::FetchReport;
use crate::pipeline::HookOutcome;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

/// Label value for requests outside the service routes.
pub const NO_SERVICE: &str = "none";
/// Label value for an id that names no service.
pub const UNKNOWN_SERVICE: &str = "unknown";

pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    auth_failures: IntCounterVec,
    cards: IntCounterVec,
    feedback: IntCounterVec,
    accepted_suggestions: IntCounterVec,
    skipped_prefetch_entries: IntCounterVec,
    unreadable_resources: IntCounterVec,
    prefetch_fallback: IntCounterVec,
    prefetch_fallback_duration: HistogramVec,
    /// Requests refused by a resource limit (`src/http/limits.rs`), by reason.
    rejected_requests: IntCounterVec,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn counter(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    let c = IntCounterVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

impl Metrics {
    pub fn new() -> prometheus::Result<Metrics> {
        let registry = Registry::new_custom(Some("dvt_cds".to_owned()), None)?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to answer an HTTP request, by route pattern and service.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["route", "service"],
        )?;
        registry.register(Box::new(http_duration.clone()))?;
        let prefetch_fallback_duration = HistogramVec::new(
            HistogramOpts::new(
                "prefetch_fallback_duration_seconds",
                "Time spent fetching absent prefetch keys from fhirServer, per hook call, by service.",
            )
            .buckets(vec![
                0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0,
            ]),
            &["service"],
        )?;
        registry.register(Box::new(prefetch_fallback_duration.clone()))?;
        Ok(Metrics {
            http_requests: counter(
                &registry,
                "http_requests_total",
                "HTTP requests answered, by route pattern, service and status code.",
                &["route", "service", "status"],
            )?,
            http_duration,
            auth_failures: {
                let c = counter(
                    &registry,
                    "auth_failures_total",
                    "Requests refused by JWT authentication, by reason (a fixed set).",
                    &["reason"],
                )?;
                for reason in AuthFailure::ALL {
                    c.with_label_values(&[reason.as_str()]);
                }
                c
            },
            cards: counter(
                &registry,
                "cards_total",
                "Cards returned, by service, kind, recommendation (stratification) and check (order-safety).",
                &["service", "kind", "recommendation", "check"],
            )?,
            feedback: counter(
                &registry,
                "feedback_total",
                "Feedback entries received, by service and outcome.",
                &["service", "outcome"],
            )?,
            accepted_suggestions: counter(
                &registry,
                "feedback_accepted_suggestions_total",
                "Suggestions reported as accepted in feedback, by service.",
                &["service"],
            )?,
            skipped_prefetch_entries: counter(
                &registry,
                "prefetch_skipped_entries_total",
                "Prefetch Bundle entries skipped (OperationOutcome or search.mode = outcome), by service.",
                &["service"],
            )?,
            unreadable_resources: counter(
                &registry,
                "unreadable_resources_total",
                "Resources that could not be read (their facts became unknown), by service.",
                &["service"],
            )?,
            prefetch_fallback: counter(
                &registry,
                "prefetch_fallback_total",
                "Absent prefetch keys fetched from fhirServer, by service, key and outcome (fetched, page-limit, foreign-next-link, unauthorized, not-found, http-error, timeout, budget-exhausted, unreachable, invalid-body, unfillable-template, invalid-server-url).",
                &["service", "key", "outcome"],
            )?,
            prefetch_fallback_duration,
            rejected_requests: {
                let c = counter(
                    &registry,
                    "rejected_requests_total",
                    "Requests refused by a resource limit, by reason (payload-too-large, json-too-deep, too-many-bundle-entries, request-timeout, deadline-exceeded, overloaded).",
                    &["reason"],
                )?;
                for reason in super::limits::REJECTION_REASONS {
                    c.with_label_values(&[reason]);
                }
                c
            },
            registry,
        })
    }

    pub fn observe_request(&self, route: &str, service: &str, status: u16, seconds: f64) {
        self.http_requests
            .with_label_values(&[route, service, &status.to_string()])
            .inc();
        self.http_duration
            .with_label_values(&[route, service])
            .observe(seconds);
    }

    pub fn observe_auth_failure(&self, reason: AuthFailure) {
        self.auth_failures
            .with_label_values(&[reason.as_str()])
            .inc();
    }

    /// Count what a successful hook call returned.
    pub fn observe_outcome(&self, service: &str, outcome: &HookOutcome) {
        for card in &outcome.response.cards {
            let recommendation = card.recommendation().unwrap_or_default();
            let check = card.extension.dvt_cds.check.unwrap_or_default();
            self.cards
                .with_label_values(&[service, card.kind(), recommendation, check])
                .inc();
        }
        self.skipped_prefetch_entries
            .with_label_values(&[service])
            .inc_by(outcome.skipped_prefetch_entries as u64);
        self.unreadable_resources
            .with_label_values(&[service])
            .inc_by(outcome.unreadable_resources as u64);
    }

    /// Count one hook call's fallback fetch (labels: known service id, contract key, outcome
    /// code; never a URL, a token or a patient id).
    pub fn observe_fetch(&self, service: &str, report: &FetchReport) {
        for key in &report.keys {
            self.prefetch_fallback
                .with_label_values(&[service, key.source.key(), key.outcome.code()])
                .inc();
        }
        self.prefetch_fallback_duration
            .with_label_values(&[service])
            .observe(report.elapsed.as_secs_f64());
    }

    /// Count a request refused by a resource limit (`reason`: one of
    /// `limits::REJECTION_REASONS`).
    pub fn observe_rejection(&self, reason: &'static str) {
        self.rejected_requests.with_label_values(&[reason]).inc();
    }

    pub fn observe_feedback(&self, service: &str, outcome: &str, accepted_suggestions: usize) {
        self.feedback.with_label_values(&[service, outcome]).inc();
        self.accepted_suggestions
            .with_label_values(&[service])
            .inc_by(accepted_suggestions as u64);
    }

    /// Register the shared replay store's metrics (`replay_store_*`; only when Redis is used).
    pub fn register_replay_metrics(&self) -> prometheus::Result<ReplayMetrics> {
        let metrics = ReplayMetrics::new()?;
        self.registry.register(Box::new(metrics.errors.clone()))?;
        self.registry.register(Box::new(metrics.duration.clone()))?;
        self.registry.register(Box::new(metrics.up.clone()))?;
        Ok(metrics)
    }

    /// Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        let encoder = TextEncoder::new();
        if let Err(e) = encoder.encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }

    /// Make the per-service series exist (at 0) before the first request.
    pub fn register_services<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        for id in ids {
            self.skipped_prefetch_entries.with_label_values(&[id]);
            self.unreadable_resources.with_label_values(&[id]);
            self.accepted_suggestions.with_label_values(&[id]);
            for outcome in ["accepted", "overridden"] {
                self.feedback.with_label_values(&[id, outcome]);
            }
        }
    }
}
