//! Assessment → CDS Hooks 2.0 cards (§6 of the rule book, `extension["dvt-cds"]` of the contract).
//!
//! One stratification card when the assessment has one, then one order-safety card per finding.
//! Every card and suggestion gets a fresh v4 uuid; no member is ever `null`, `""`, `[]` or `{}`
//! except the top-level `cards` (cds-hooks-notes §0).

mod orders;
mod safety;
mod stratification;
mod summary;
mod types;

#[cfg(test)]
pub(crate) mod tests;

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::clinical::Assessment;
use crate::config::Rules;

pub use summary::MAX_SUMMARY_CHARS;
pub use types::{
    Action, ActionType, Card, CardExtension, Coding, DvtCdsExtension, Link, LinkType,
    SelectionBehavior, Source, Suggestion,
};

pub struct CardContext<'a> {
    pub patient_id: &'a str,
    /// `context.draftOrders` (for update actions, which carry the whole resource).
    pub draft_orders: &'a Value,
    pub rules: &'a Rules,
    pub now: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize)]
pub struct CdsResponse {
    /// May be empty (the only empty value the spec allows).
    pub cards: Vec<Card>,
}

pub fn render(assessment: &Assessment, ctx: &CardContext<'_>) -> CdsResponse {
    let mut cards = Vec::new();
    if let Some(s) = &assessment.stratification {
        cards.push(stratification::card(s, assessment, ctx));
    }
    cards.extend(
        assessment
            .safety
            .iter()
            .map(|f| safety::card(f, assessment, ctx)),
    );
    CdsResponse { cards }
}

// ---------- Shared pieces of every card ----------

pub const SOURCE_LABEL: &str = "Distal DVT guidance (CHEST 2016 / ruleset 1)";
pub const TOPIC_SYSTEM: &str = "https://fhir.distal-dvt-cds.org/CodeSystem/topic";
pub const OVERRIDE_REASON_SYSTEM: &str =
    "https://fhir.distal-dvt-cds.org/CodeSystem/override-reason";
pub const CHEST_2016_URL: &str = "https://doi.org/10.1016/j.chest.2015.11.026";

#[derive(Debug, Clone, Copy)]
enum Topic {
    IsolatedDistalDvt,
    AnticoagulantOrderSafety,
}

fn source(topic: Topic) -> Source {
    let (code, display) = match topic {
        Topic::IsolatedDistalDvt => (
            "isolated-distal-dvt",
            "Isolated distal deep vein thrombosis",
        ),
        Topic::AnticoagulantOrderSafety => {
            ("anticoagulant-order-safety", "Anticoagulant order safety")
        }
    };
    Source {
        label: SOURCE_LABEL.into(),
        url: None,
        topic: Some(Coding {
            system: TOPIC_SYSTEM.into(),
            code: code.into(),
            display: display.into(),
        }),
    }
}

fn links() -> Vec<Link> {
    vec![Link {
        label: "CHEST 2016 antithrombotic therapy for VTE (Kearon et al.)".into(),
        url: CHEST_2016_URL.into(),
        kind: LinkType::Absolute,
    }]
}

#[derive(Debug, Clone, Copy)]
enum OverrideReason {
    PatientPreference,
    BleedingRisk,
    ManagedElsewhere,
    NotApplicable,
}

/// `overrideReasons` Codings; `display` is REQUIRED there (cds-hooks-notes §4).
fn override_reasons(reasons: &[OverrideReason]) -> Vec<Coding> {
    reasons
        .iter()
        .map(|r| {
            let (code, display) = match r {
                OverrideReason::PatientPreference => {
                    ("patient-preference", "Patient preference (shared decision)")
                }
                OverrideReason::BleedingRisk => {
                    ("bleeding-risk", "Bleeding risk outweighs benefit")
                }
                OverrideReason::ManagedElsewhere => {
                    ("managed-elsewhere", "Already managed elsewhere")
                }
                OverrideReason::NotApplicable => {
                    ("not-applicable", "Not applicable to this patient")
                }
            };
            Coding {
                system: OVERRIDE_REASON_SYSTEM.into(),
                code: code.into(),
                display: display.into(),
            }
        })
        .collect()
}

fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The ruleset version stated on the card; never empty (cds-hooks-notes §0).
fn ruleset(a: &Assessment, rules: &Rules) -> String {
    if a.ruleset_version.trim().is_empty() {
        rules.ruleset_version.clone()
    } else {
        a.ruleset_version.clone()
    }
}

/// Escape record text for GitHub-flavoured markdown: the sandbox renders raw HTML, and a
/// display string must not become markup or a link.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.trim().chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '~' | '!' | '&' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}
