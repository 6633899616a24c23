//! What every handler shares: configuration, compiled schemas, metrics, limits.

use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::errors::ApiError;
use super::metrics::{self, Metrics};
use crate::cds_schema::{SchemaViolation, Schemas};
use crate::config::{Config, ServiceDefinition};
use crate::fetch::Fetcher;

pub struct AppState {
    pub config: Config,
    pub schemas: Schemas,
    pub metrics: Metrics,
    /// The discovery document, rendered once.
    pub discovery: Value,
    pub max_body_bytes: usize,
    /// Test hook: the instant hooks are evaluated at (else the real clock).
    pub fixed_now: Option<OffsetDateTime>,
    /// The prefetch fallback fetch: one HTTP client for the application (connection pooling).
    pub fetcher: Fetcher,
    ready: AtomicBool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceDescription<'a> {
    hook: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    title: &'a str,
    description: &'a str,
    id: &'a str,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    prefetch: &'a std::collections::BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage_requirements: Option<&'a str>,
}

/// The CDS Hooks discovery document for `config.services`, checked against its schema.
pub fn discovery_document(config: &Config, schemas: &Schemas) -> Result<Value, SchemaViolation> {
    let services: Vec<ServiceDescription<'_>> = config
        .services
        .iter()
        .map(|s| ServiceDescription {
            hook: s.hook.as_str(),
            title: &s.title,
            description: &s.description,
            id: &s.id,
            prefetch: &s.prefetch,
            usage_requirements: s.usage_requirements.as_deref().filter(|u| !u.is_empty()),
        })
        .collect();
    let doc = serde_json::json!({ "services": services });
    schemas.check_discovery(&doc)?;
    Ok(doc)
}

impl AppState {
    pub fn new(
        config: Config,
        schemas: Schemas,
        metrics: Metrics,
        discovery: Value,
        max_body_bytes: usize,
        fixed_now: Option<OffsetDateTime>,
        fetcher: Fetcher,
    ) -> AppState {
        metrics.register_services(config.services.iter().map(|s| s.id.as_str()));
        AppState {
            config,
            schemas,
            metrics,
            discovery,
            max_body_bytes,
            fixed_now,
            fetcher,
            ready: AtomicBool::new(false),
        }
    }

    pub fn service(&self, id: &str) -> Result<&ServiceDefinition, ApiError> {
        self.config
            .service(id)
            .ok_or_else(|| ApiError::UnknownService {
                known: self.config.services.iter().map(|s| s.id.clone()).collect(),
            })
    }

    /// The metrics label for a service id taken from a path.
    pub fn service_label(&self, id: Option<&str>) -> String {
        match id {
            None => metrics::NO_SERVICE.to_owned(),
            Some(id) if self.config.service(id).is_some() => id.to_owned(),
            Some(_) => metrics::UNKNOWN_SERVICE.to_owned(),
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        self.fixed_now.unwrap_or_else(OffsetDateTime::now_utc)
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}
