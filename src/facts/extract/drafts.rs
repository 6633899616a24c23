//! `context.draftOrders`: the orders being written, with `selected` from `context.selections`.
//!
//! Drafts are read tolerantly: order-select may fire before the order is complete (no
//! `subject`, no `medication[x]` yet), and a draft the safety checks cannot see is a draft a
//! DOAC-in-pregnancy check would miss. When the full resource does not deserialize, it is
//! read again with only the elements the facts use, and the R4-required elements still
//! missing filled with neutral values: a placeholder `subject` (never read), `status`
//! draft and `intent` order (what every CDS Hooks draft order is), an empty medication
//! concept (no ingredient: the draft is never taken for an anticoagulant). If that fails
//! too, the draft is `Other` and recorded as unreadable.

use fhir_sdk::r4b::resources::{MedicationRequest, ServiceRequest};

use super::choices::Choices;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{
    MEDICATION_ELEMENTS, SERVICE_ELEMENTS, contained_medications, medication, record, unreadable,
};
use crate::config::Rules;
use crate::facts::{
    DataSource, DraftOrder, DraftOrderKind, MedicationOrderFact, ServiceRequestFact,
    UnreadableResource,
};

pub(super) fn read(
    draft_orders: &Value,
    selections: &[String],
    rules: &Rules,
    unreadable_out: &mut Vec<UnreadableResource>,
) -> Vec<DraftOrder> {
    let Some(entries) = draft_orders.get("entry").and_then(Value::as_array) else {
        return Vec::new();
    };
    let mut drafts = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let Some((raw, resource)) = entry
            .get("resource")
            .and_then(|r| Some((r, r.as_object()?)))
        else {
            continue;
        };
        let Some(resource_type) = resource.get("resourceType").and_then(Value::as_str) else {
            continue;
        };
        let id = resource
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty());
        let reference = match (
            id,
            entry
                .get("fullUrl")
                .and_then(Value::as_str)
                .filter(|u| !u.is_empty()),
        ) {
            (Some(id), _) => format!("{resource_type}/{id}"),
            (None, Some(full_url)) => full_url.to_owned(),
            (None, None) => format!("{resource_type}/#{index}"),
        };
        // A selection names the draft as `Type/id`, or as a full URL ending in it.
        let suffix = format!("/{reference}");
        let selected = selections
            .iter()
            .any(|s| *s == reference || (id.is_some() && s.ends_with(&suffix)));
        let order = match resource_type {
            "MedicationRequest" => match medication_draft(raw, rules) {
                Some(fact) => DraftOrderKind::Medication(fact),
                None => {
                    unreadable_out.push(unreadable(resource_type, DataSource::Medications, None));
                    DraftOrderKind::Other
                }
            },
            "ServiceRequest" => match service_draft(raw) {
                Some(fact) => DraftOrderKind::Service(fact),
                None => {
                    unreadable_out.push(unreadable(
                        resource_type,
                        DataSource::ServiceRequests,
                        None,
                    ));
                    DraftOrderKind::Other
                }
            },
            _ => DraftOrderKind::Other,
        };
        drafts.push(DraftOrder {
            reference,
            selected,
            order,
        });
    }
    drafts
}

/// Only the elements the facts use, with the required ones a draft may lack filled
/// (module docs).
fn reduced(resource: &Map<String, Value>, keep: &[&str]) -> Map<String, Value> {
    let mut out: Map<String, Value> = ["resourceType", "id"]
        .iter()
        .chain(keep)
        .filter_map(|k| resource.get(*k).map(|v| ((*k).to_owned(), v.clone())))
        .collect();
    if !out.get("status").is_some_and(Value::is_string) {
        out.insert("status".to_owned(), Value::from("draft"));
    }
    if !out.get("intent").is_some_and(Value::is_string) {
        out.insert("intent".to_owned(), Value::from("order"));
    }
    out.insert("subject".to_owned(), json!({"display": "not read"}));
    out
}

fn medication_draft(raw: &Value, rules: &Rules) -> Option<MedicationOrderFact> {
    let full = MedicationRequest::deserialize(raw).ok();
    let parsed = match full.filter(|mr| !mr.dropped(raw)) {
        Some(mr) => mr,
        None => {
            let resource = raw.as_object()?;
            let mut copy = reduced(resource, MEDICATION_ELEMENTS);
            if let Some(meds) = contained_medications(resource) {
                copy.insert("contained".to_owned(), meds);
            }
            if !copy.contains_key("medicationCodeableConcept")
                && !copy.contains_key("medicationReference")
            {
                copy.insert("medicationCodeableConcept".to_owned(), json!({}));
            }
            let copy = Value::Object(copy);
            MedicationRequest::deserialize(&copy)
                .ok()
                .filter(|mr| !mr.dropped(&copy))?
        }
    };
    medication::read(&parsed, rules)
}

fn service_draft(raw: &Value) -> Option<ServiceRequestFact> {
    let full = ServiceRequest::deserialize(raw).ok();
    let parsed = match full.filter(|sr| !sr.dropped(raw)) {
        Some(sr) => sr,
        None => {
            let copy = Value::Object(reduced(raw.as_object()?, SERVICE_ELEMENTS));
            ServiceRequest::deserialize(&copy)
                .ok()
                .filter(|sr| !sr.dropped(&copy))?
        }
    };
    Some(record::service_request(&parsed))
}
