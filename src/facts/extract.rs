//! FHIR R4 JSON → `PatientFacts`, with the fhir-sdk `r4b` models.
//!
//! Each resource is read by its own `resourceType` (the prefetch key only names the source
//! of an unreadable one). A resource that does not deserialize becomes an
//! `UnreadableResource` (so does one whose choice element fhir-sdk silently dropped, see
//! `choices`); unknown resource types are ignored. Nothing here panics on input
//! or logs resource contents.

mod choices;
mod common;
mod drafts;
mod medication;
mod observation;
mod record;
#[cfg(test)]
mod tests;
mod units;

use fhir_sdk::r4b::resources::{
    Condition, Encounter, MedicationRequest, Observation, Patient, Procedure, ServiceRequest,
};
use serde::Deserialize;
use serde_json::Value;

use self::observation::Kind;
use super::{DataSource, PatientFacts, UnreadableResource};
use crate::config::Rules;
use crate::prefetch::Prefetched;

pub struct ExtractInput<'a> {
    pub prefetched: &'a Prefetched<'a>,
    /// `context.draftOrders` (a Bundle).
    pub draft_orders: &'a Value,
    /// `context.selections` (order-select); empty on order-sign.
    pub selections: &'a [String],
    pub encounter_id: Option<&'a str>,
}

pub fn extract(input: &ExtractInput<'_>, rules: &Rules) -> PatientFacts {
    let mut facts = PatientFacts {
        context_encounter_id: input.encounter_id.map(str::to_owned),
        unavailable_sources: input.prefetched.unavailable.clone(),
        skipped_outcomes: input.prefetched.skipped_outcomes,
        ..PatientFacts::default()
    };
    for (source, raw) in &input.prefetched.resources {
        read_record(*source, raw, rules, &mut facts);
    }
    facts.draft_orders = drafts::read(
        input.draft_orders,
        input.selections,
        rules,
        &mut facts.unreadable,
    );
    facts
}

fn unreadable(resource_type: &str, source: DataSource, kind: Option<Kind>) -> UnreadableResource {
    UnreadableResource {
        resource_type: resource_type.to_owned(),
        source,
        lab: match kind {
            Some(Kind::Lab(lab)) => Some(lab),
            _ => None,
        },
        finding: match kind {
            Some(Kind::Finding(finding)) => Some(finding),
            _ => None,
        },
    }
}

fn read_record(source: DataSource, raw: &Value, rules: &Rules, facts: &mut PatientFacts) {
    let Some(resource_type) = raw.get("resourceType").and_then(Value::as_str) else {
        return;
    };
    let read = match resource_type {
        "Patient" => Patient::deserialize(raw).ok().map(|p| {
            // The hook is about one patient: the first Patient read is it.
            if facts.patient.is_none() {
                facts.patient = Some(record::patient(&p));
            }
        }),
        "Condition" => Condition::deserialize(raw)
            .ok()
            .filter(|c| !choices::condition(raw, c))
            .map(|c| facts.conditions.push(record::condition(&c))),
        // An Observation of no kind the rules read is dropped, not unreadable.
        "Observation" => Observation::deserialize(raw)
            .ok()
            .filter(|o| !choices::observation(raw, o))
            .map(|o| facts.observations.extend(observation::read(&o, rules))),
        "MedicationRequest" => MedicationRequest::deserialize(raw)
            .ok()
            .filter(|m| !choices::medication_request(raw, m))
            .and_then(|mr| medication::read(&mr, rules))
            .map(|m| facts.medications.push(m)),
        "Encounter" => Encounter::deserialize(raw)
            .ok()
            .map(|e| facts.encounters.push(record::encounter(&e))),
        "Procedure" => Procedure::deserialize(raw)
            .ok()
            .filter(|p| !choices::procedure(raw, p))
            .map(|p| facts.procedures.push(record::procedure(&p))),
        "ServiceRequest" => ServiceRequest::deserialize(raw)
            .ok()
            .filter(|s| !choices::service_request(raw, s))
            .map(|s| facts.service_requests.push(record::service_request(&s))),
        // Basic, Flag, anything else: not read by the rules.
        _ => return,
    };
    if read.is_none() {
        // An unreadable D-dimer makes the D-dimer unknown, not negative: keep its kind.
        let kind = if resource_type == "Observation" {
            observation::peek_kind(raw, rules)
        } else {
            None
        };
        facts
            .unreadable
            .push(unreadable(resource_type, source, kind));
    }
}
