//! `services.toml`: the CDS Hooks services announced by discovery.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::{ConfigError, read_toml};
use crate::hook_request::Hook;

/// Prefetch keys every service must declare (the contract fixes them).
pub const PREFETCH_KEYS: [&str; 7] = [
    "patient",
    "conditions",
    "observations",
    "medications",
    "encounters",
    "procedures",
    "serviceRequests",
];

#[derive(Debug, Clone)]
pub struct ServiceDefinition {
    pub id: String,
    pub hook: Hook,
    pub title: String,
    pub description: String,
    /// key → FHIR query template with `{{context.*}}` tokens.
    pub prefetch: BTreeMap<String, String>,
    pub usage_requirements: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    service: Vec<RawService>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawService {
    id: String,
    hook: String,
    title: String,
    description: String,
    prefetch: BTreeMap<String, String>,
    usage_requirements: Option<String>,
}

pub(super) fn load(file: &Path) -> Result<Vec<ServiceDefinition>, ConfigError> {
    let raw: File = read_toml(file)?;
    let mut out = Vec::new();
    for (i, s) in raw.service.into_iter().enumerate() {
        let at = |field: &str| format!("service[{i}].{field}");
        let hook = Hook::parse(&s.hook).ok_or_else(|| {
            ConfigError::invalid(file, at("hook"), format!("unsupported hook `{}`", s.hook))
        })?;
        if s.id.is_empty()
            || !s
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ConfigError::invalid(
                file,
                at("id"),
                "must be non-empty, letters, digits, '-' or '_'",
            ));
        }
        for key in PREFETCH_KEYS {
            if !s.prefetch.contains_key(key) {
                return Err(ConfigError::invalid(
                    file,
                    at("prefetch"),
                    format!("missing prefetch key `{key}`"),
                ));
            }
        }
        if out.iter().any(|o: &ServiceDefinition| o.id == s.id) {
            return Err(ConfigError::invalid(
                file,
                at("id"),
                format!("duplicate service id `{}`", s.id),
            ));
        }
        out.push(ServiceDefinition {
            id: s.id,
            hook,
            title: s.title,
            description: s.description,
            prefetch: s.prefetch,
            usage_requirements: s.usage_requirements,
        });
    }
    Ok(out)
}
