//! Assessment → CDS Hooks 2.0 cards (§6 of the rule book, `extension["dvt-cds"]` of the contract).

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::clinical::Assessment;
use crate::config::Rules;

pub struct CardContext<'a> {
    pub patient_id: &'a str,
    /// `context.draftOrders` (for update actions, which carry the whole resource).
    pub draft_orders: &'a Value,
    pub rules: &'a Rules,
    pub now: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize)]
pub struct CdsResponse {
    pub cards: Vec<Value>,
}

pub fn render(assessment: &Assessment, ctx: &CardContext<'_>) -> CdsResponse {
    let _ = (assessment, ctx);
    todo!("cards helper implements this")
}
