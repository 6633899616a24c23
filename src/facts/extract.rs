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
use serde::de::DeserializeOwned;
use serde_json::Value;

use self::choices::Choices;
use self::observation::Kind;
use super::{DataSource, PatientFacts, UnreadableResource};
use crate::config::Rules;
use crate::prefetch::{Prefetched, ResourceJson};

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
        fetch_gaps: input.prefetched.fetch_gaps.clone(),
        skipped_outcomes: input.prefetched.skipped_outcomes,
        ..PatientFacts::default()
    };
    for (source, resource) in &input.prefetched.resources {
        read_record(*source, *resource, rules, &mut facts);
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

/// Read one resource by its own `resourceType` (types the rules do not read are ignored).
fn read_record(
    source: DataSource,
    resource: ResourceJson<'_>,
    rules: &Rules,
    facts: &mut PatientFacts,
) {
    let Some(resource_type) = resource.resource_type() else {
        return;
    };
    let mut json = Json::from(resource);
    let read = match resource_type {
        "Patient" => json.read().map(|p: Patient| {
            // The hook is about one patient: the first Patient read is it.
            if facts.patient.is_none() {
                facts.patient = Some(record::patient(&p));
            }
        }),
        "Condition" => json
            .read()
            .map(|c: Condition| facts.conditions.push(record::condition(&c))),
        // An Observation of no kind the rules read is dropped, not unreadable.
        "Observation" => json
            .read()
            .map(|o: Observation| facts.observations.extend(observation::read(&o, rules))),
        "MedicationRequest" => json
            .read()
            .and_then(|mr: MedicationRequest| medication::read(&mr, rules))
            .map(|m| facts.medications.push(m)),
        "Encounter" => json
            .read()
            .map(|e: Encounter| facts.encounters.push(record::encounter(&e))),
        "Procedure" => json
            .read()
            .map(|p: Procedure| facts.procedures.push(record::procedure(&p))),
        "ServiceRequest" => json
            .read()
            .map(|s: ServiceRequest| facts.service_requests.push(record::service_request(&s))),
        // Basic, Flag, anything else: not read by the rules.
        _ => return,
    };
    if read.is_none() {
        // An unreadable D-dimer makes the D-dimer unknown, not negative: keep its kind.
        let kind = if resource_type == "Observation" {
            json.tree()
                .and_then(|raw| observation::peek_kind(raw, rules))
        } else {
            None
        };
        facts
            .unreadable
            .push(unreadable(resource_type, source, kind));
    }
}

/// One resource's JSON while it is read: the parsed tree, or the raw text the skim kept
/// (parsed into a tree only when a reader needs one).
enum Json<'a> {
    Tree(&'a Value),
    Text { text: &'a str, tree: Option<Value> },
}

impl<'a> From<ResourceJson<'a>> for Json<'a> {
    fn from(resource: ResourceJson<'a>) -> Self {
        match resource {
            ResourceJson::Parsed(tree) => Json::Tree(tree),
            ResourceJson::Raw { json, .. } => Json::Text {
                text: json.get(),
                tree: None,
            },
        }
    }
}

impl Json<'_> {
    /// The tree (parsed from the text on first use; the skim kept the text of a JSON object,
    /// so it parses).
    fn tree(&mut self) -> Option<&Value> {
        match self {
            Json::Tree(tree) => Some(tree),
            Json::Text { text, tree } => {
                if tree.is_none() {
                    *tree = serde_json::from_str(text).ok();
                }
                tree.as_ref()
            }
        }
    }

    /// Read a `T`. From the text, straight (no tree), when that reads it for certain: the
    /// whole resource deserializes and every choice element came through, so none can have
    /// been dropped (`Choices::complete`; a MedicationRequest never is: its choice elements
    /// are inside the dosage instructions). Anything less certain is read from the tree by
    /// [`parse`], so both give the same facts.
    fn read<T: DeserializeOwned + Choices>(&mut self) -> Option<T> {
        if let Json::Text { text, .. } = self
            && let Some(t) = serde_json::from_str::<T>(text)
                .ok()
                .filter(Choices::complete)
        {
            return Some(t);
        }
        parse(self.tree()?)
    }
}

/// Elements the MedicationRequest reader uses (`medication::read`), besides `resourceType`/`id`.
const MEDICATION_ELEMENTS: &[&str] = &[
    "status",
    "intent",
    "medicationCodeableConcept",
    "medicationReference",
    "dosageInstruction",
    "dispenseRequest",
    "reasonCode",
    "reasonReference",
    "authoredOn",
];

/// Elements the ServiceRequest reader uses (`record::service_request`), besides `resourceType`/`id`.
const SERVICE_ELEMENTS: &[&str] = &[
    "status",
    "intent",
    "code",
    "occurrenceDateTime",
    "occurrencePeriod",
    "occurrenceTiming",
    "authoredOn",
    "bodySite",
];

/// Contained Medications: they may carry the code a `#id` medicationReference points to.
fn contained_medications(resource: &serde_json::Map<String, Value>) -> Option<Value> {
    let meds: Vec<Value> = resource
        .get("contained")?
        .as_array()?
        .iter()
        .filter(|c| c.get("resourceType").and_then(Value::as_str) == Some("Medication"))
        .cloned()
        .collect();
    (!meds.is_empty()).then_some(Value::Array(meds))
}

/// Read a record with fhir-sdk; when the whole resource does not deserialize (an invalid
/// element the rules never read, such as a malformed `note.time` or an R4-only extension
/// type), read it again with only the elements the facts use. A broken element the rules
/// *do* read still makes the resource unreadable, and so does a choice element fhir-sdk
/// silently dropped (see `choices`).
fn parse<T: DeserializeOwned + Choices>(raw: &Value) -> Option<T> {
    let attempt = |v: &Value| T::deserialize(v).ok().filter(|t| !t.dropped(v));
    attempt(raw).or_else(|| essentials(raw).and_then(|reduced| attempt(&reduced)))
}

/// The elements each reader uses, per resource type, and whether R4 requires a `subject`
/// (filled with a placeholder that is never read: the prefetch is about the hook's patient).
fn essentials(raw: &Value) -> Option<Value> {
    const CONDITION: &[&str] = &[
        "code",
        "clinicalStatus",
        "verificationStatus",
        "bodySite",
        "severity",
        "onsetDateTime",
        "onsetPeriod",
        "onsetAge",
        "onsetRange",
        "onsetString",
        "recordedDate",
        "abatementDateTime",
        "abatementPeriod",
        "abatementAge",
        "abatementRange",
        "abatementString",
    ];
    const OBSERVATION: &[&str] = &[
        "status",
        "code",
        "category",
        "effectiveDateTime",
        "effectivePeriod",
        "effectiveInstant",
        "effectiveTiming",
        "issued",
        "basedOn",
        "valueQuantity",
        "valueCodeableConcept",
        "valueString",
        "valueBoolean",
        "valueInteger",
        "valueRange",
        "valueRatio",
        "valueTime",
        "valueDateTime",
        "valuePeriod",
        "interpretation",
        "referenceRange",
        "bodySite",
    ];

    const ENCOUNTER: &[&str] = &["status", "class", "period"];
    const PROCEDURE: &[&str] = &[
        "status",
        "code",
        "category",
        "performedDateTime",
        "performedPeriod",
        "performedString",
        "performedAge",
        "performedRange",
    ];

    const PATIENT: &[&str] = &["birthDate", "_birthDate"];
    let resource = raw.as_object()?;
    let (keep, subject): (&[&str], bool) = match resource.get("resourceType")?.as_str()? {
        "Patient" => (PATIENT, false),
        "Condition" => (CONDITION, true),
        "Observation" => (OBSERVATION, false),
        "MedicationRequest" => (MEDICATION_ELEMENTS, true),
        "Encounter" => (ENCOUNTER, false),
        "Procedure" => (PROCEDURE, true),
        "ServiceRequest" => (SERVICE_ELEMENTS, true),
        _ => return None,
    };
    let mut out: serde_json::Map<String, Value> = ["resourceType", "id"]
        .iter()
        .chain(keep)
        .filter_map(|k| resource.get(*k).map(|v| ((*k).to_owned(), v.clone())))
        .collect();
    if let Some(meds) = contained_medications(resource) {
        out.insert("contained".to_owned(), meds);
    }
    if subject {
        out.insert(
            "subject".to_owned(),
            serde_json::json!({"display": "not read"}),
        );
    }
    Some(Value::Object(out))
}
