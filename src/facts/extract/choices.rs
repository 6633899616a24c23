//! Choice elements (`value[x]`, `effective[x]`, …) that fhir-sdk dropped.
//!
//! fhir-sdk models a choice element as a `#[serde(flatten)] Option<…>`, and serde turns a
//! malformed flattened option into `None` without an error: `"valueQuantity": {"value":
//! "1.2"}` reads as an Observation with no value at all. A D-dimer with a broken value is
//! unreadable, not value-less, so a choice element present in the JSON but absent after
//! parsing makes the whole resource unreadable.

use fhir_sdk::r4b::resources::{
    Condition, Encounter, MedicationRequest, Observation, Patient, Procedure, ServiceRequest,
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

/// The choice elements of a resource type the facts read, and what fhir-sdk made of them.
pub(super) trait Choices {
    /// Its top-level choice elements `prefix[x]`, each with whether fhir-sdk read one.
    fn choices(&self) -> impl Iterator<Item = (&'static str, bool)>;

    /// Whether a choice element present in `raw` (the JSON it was read from) was dropped.
    fn dropped(&self, raw: &Value) -> bool {
        self.choices().any(|(prefix, read)| lost(raw, prefix, read))
    }

    /// Whether nothing can have been dropped, whatever the JSON: every choice element was
    /// read (so `dropped` is false without looking at the JSON).
    fn complete(&self) -> bool {
        self.choices().all(|(_, read)| read)
    }
}

/// Patient and Encounter: no choice element the facts read.
impl Choices for Patient {
    fn choices(&self) -> impl Iterator<Item = (&'static str, bool)> {
        std::iter::empty()
    }
}

impl Choices for Encounter {
    fn choices(&self) -> impl Iterator<Item = (&'static str, bool)> {
        std::iter::empty()
    }
}

impl Choices for Observation {
    fn choices(&self) -> impl Iterator<Item = (&'static str, bool)> {
        [
            ("value", self.value.is_some()),
            ("effective", self.effective.is_some()),
        ]
        .into_iter()
    }
}

impl Choices for Condition {
    fn choices(&self) -> impl Iterator<Item = (&'static str, bool)> {
        [
            ("onset", self.onset.is_some()),
            ("abatement", self.abatement.is_some()),
        ]
        .into_iter()
    }
}

impl Choices for Procedure {
    fn choices(&self) -> impl Iterator<Item = (&'static str, bool)> {
        std::iter::once(("performed", self.performed.is_some()))
    }
}

impl Choices for ServiceRequest {
    fn choices(&self) -> impl Iterator<Item = (&'static str, bool)> {
        std::iter::once(("occurrence", self.occurrence.is_some()))
    }
}

/// Its choice elements are inside the dosage instructions (`medication_request`): never
/// `complete`, always checked against the JSON.
impl Choices for MedicationRequest {
    fn choices(&self) -> impl Iterator<Item = (&'static str, bool)> {
        std::iter::empty()
    }

    fn dropped(&self, raw: &Value) -> bool {
        medication_request(raw, self)
    }

    fn complete(&self) -> bool {
        false
    }
}

/// `timing.repeat.bounds[x]` and `doseAndRate.dose[x]` of every dosage instruction.
fn medication_request(raw: &Value, m: &MedicationRequest) -> bool {
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
