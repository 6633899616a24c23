//! Choice elements (`value[x]`, `effective[x]`, …) that fhir-sdk dropped.
//!
//! fhir-sdk models a choice element as a `#[serde(flatten)] Option<…>`, and serde turns a
//! malformed flattened option into `None` without an error: `"valueQuantity": {"value":
//! "1.2"}` reads as an Observation with no value at all. A D-dimer with a broken value is
//! unreadable, not value-less, so a choice element present in the JSON but absent after
//! parsing makes the whole resource unreadable.

use fhir_sdk::r4b::resources::{
    Condition, MedicationRequest, Observation, Procedure, ServiceRequest,
};
use serde_json::Value;

/// Whether `raw` has a member `prefix[x]` (`valueQuantity`, `onsetPeriod`, …).
fn has_choice(raw: Option<&Value>, prefix: &str) -> bool {
    raw.and_then(Value::as_object).is_some_and(|o| {
        o.keys().any(|k| {
            k.strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()))
        })
    })
}

fn lost(raw: &Value, prefix: &str, parsed: bool) -> bool {
    !parsed && has_choice(Some(raw), prefix)
}

pub(super) fn observation(raw: &Value, o: &Observation) -> bool {
    lost(raw, "value", o.value.is_some()) || lost(raw, "effective", o.effective.is_some())
}

pub(super) fn condition(raw: &Value, c: &Condition) -> bool {
    lost(raw, "onset", c.onset.is_some()) || lost(raw, "abatement", c.abatement.is_some())
}

pub(super) fn procedure(raw: &Value, p: &Procedure) -> bool {
    lost(raw, "performed", p.performed.is_some())
}

pub(super) fn service_request(raw: &Value, s: &ServiceRequest) -> bool {
    lost(raw, "occurrence", s.occurrence.is_some())
}

/// `timing.repeat.bounds[x]` and `doseAndRate.dose[x]` of every dosage instruction.
pub(super) fn medication_request(raw: &Value, m: &MedicationRequest) -> bool {
    let Some(raw_dosages) = raw.get("dosageInstruction").and_then(Value::as_array) else {
        return false;
    };
    raw_dosages
        .iter()
        .zip(&m.dosage_instruction)
        .any(|(raw_d, d)| {
            let Some(d) = d else { return false };
            let repeat = d.timing.as_ref().and_then(|t| t.repeat.as_ref());
            let bounds_lost = repeat.is_none_or(|r| r.bounds.is_none())
                && has_choice(raw_d.pointer("/timing/repeat"), "bounds");
            let raw_rates = raw_d.get("doseAndRate").and_then(Value::as_array);
            let dose_lost = raw_rates.is_some_and(|rates| {
                rates.iter().zip(&d.dose_and_rate).any(|(raw_r, r)| {
                    r.as_ref().is_some_and(|r| r.dose.is_none()) && has_choice(Some(raw_r), "dose")
                })
            });
            bounds_lost || dose_lost
        })
}
