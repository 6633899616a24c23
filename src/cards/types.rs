//! CDS Hooks 2.0 response objects (cds-hooks-notes §4).
//!
//! The spec forbids `null`, `""`, `[]` and `{}` (§0): every optional member is an `Option` or a
//! `Vec` skipped when absent or empty. Only `CdsResponse::cards` may be empty.

use serde::Serialize;
use serde_json::Value;

use crate::clinical::Indicator;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Card {
    pub uuid: String,
    /// ≤ 140 characters (see `summary::fit`).
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(serialize_with = "indicator_code")]
    pub indicator: Indicator,
    pub source: Source,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<Suggestion>,
    /// REQUIRED when there are suggestions, absent otherwise (§4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selection_behavior: Option<SelectionBehavior>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub override_reasons: Vec<Coding>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    pub extension: CardExtension,
}

impl Card {
    /// `stratification` or `order-safety` (for metrics).
    pub fn kind(&self) -> &'static str {
        self.extension.dvt_cds.kind
    }

    /// The stratification recommendation code (for metrics).
    pub fn recommendation(&self) -> Option<&'static str> {
        self.extension.dvt_cds.recommendation
    }
}

fn indicator_code<S: serde::Serializer>(i: &Indicator, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(indicator_str(*i))
}

pub fn indicator_str(i: Indicator) -> &'static str {
    match i {
        Indicator::Info => "info",
        Indicator::Warning => "warning",
        Indicator::Critical => "critical",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SelectionBehavior {
    AtMostOne,
}

#[derive(Debug, Clone, Serialize)]
pub struct Source {
    pub label: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<Coding>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coding {
    pub system: String,
    pub code: String,
    /// REQUIRED in `overrideReasons` (§4); we always send it.
    pub display: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Suggestion {
    pub label: String,
    pub uuid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_recommended: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionType {
    Create,
    Update,
    Delete,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    #[serde(rename = "type")]
    pub kind: ActionType,
    pub description: String,
    /// create: the new resource; update: the whole updated resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<Value>,
    /// delete: relative reference (`MedicationRequest/<id>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkType {
    Absolute,
}

#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub label: String,
    pub url: String,
    #[serde(rename = "type")]
    pub kind: LinkType,
}

/// `extension` of a card: `{"dvt-cds": {...}}` (cds-contract, "The machine-readable card extension").
#[derive(Debug, Clone, Serialize)]
pub struct CardExtension {
    #[serde(rename = "dvt-cds")]
    pub dvt_cds: DvtCdsExtension,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DvtCdsExtension {
    pub kind: &'static str,
    pub ruleset_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extension_risk_factors: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bleeding_risk: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bleeding_risk_factors: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub special_populations: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub progression_modifiers: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub muscular_only: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_data: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub orders: Vec<String>,
}
