//! MedicationRequests, on record and drafted.

use std::collections::BTreeMap;

use fhir_sdk::r4b::resources::{MedicationRequest, MedicationRequestMedication, Resource};
use fhir_sdk::r4b::types::DosageDoseAndRateDose;
use fhir_sdk::r4b::types::{CodeableConcept, Dosage, TimingRepeatBounds};

use super::common::{
    codes, codes_of_all, codings, fhir_time, label, non_empty, period_days, references,
};
use super::units::{days_per, duration_days};
use crate::config::medications::RXNORM;
use crate::config::{Ingredient, Rules};
use crate::facts::{
    Dose, DoseUnit, MedicationIntent, MedicationOrderFact, MedicationStatus, Route,
};

const SNOMED: &str = "http://snomed.info/sct";
const GTS_ABBREVIATION: &str = "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation";

pub(super) fn status(code: &str) -> MedicationStatus {
    match code.trim() {
        "active" => MedicationStatus::Active,
        "on-hold" => MedicationStatus::OnHold,
        "cancelled" => MedicationStatus::Cancelled,
        "completed" => MedicationStatus::Completed,
        "entered-in-error" => MedicationStatus::EnteredInError,
        "stopped" => MedicationStatus::Stopped,
        "draft" => MedicationStatus::Draft,
        _ => MedicationStatus::Unknown,
    }
}

pub(super) fn intent(code: &str) -> Option<MedicationIntent> {
    Some(match code.trim() {
        "proposal" => MedicationIntent::Proposal,
        "plan" => MedicationIntent::Plan,
        "order" => MedicationIntent::Order,
        "original-order" => MedicationIntent::OriginalOrder,
        "reflex-order" => MedicationIntent::ReflexOrder,
        "filler-order" => MedicationIntent::FillerOrder,
        "instance-order" => MedicationIntent::InstanceOrder,
        "option" => MedicationIntent::Option,
        _ => return None,
    })
}

/// `None` when `intent` is not an R4 code (fhir-sdk keeps it as a free string; R4 binds it
/// to a required value set, so the order is unreadable).
pub(super) fn read(mr: &MedicationRequest, rules: &Rules) -> Option<MedicationOrderFact> {
    let intent = intent(&mr.intent)?;
    // The medication: a code, or a contained Medication (`#id`), or only a reference's display.
    let (concept, reference_display): (Option<&CodeableConcept>, Option<&str>) = match &mr
        .medication
    {
        MedicationRequestMedication::CodeableConcept(cc) => (Some(cc), None),
        MedicationRequestMedication::Reference(r) => {
            let contained = r
                .reference
                .as_deref()
                .and_then(|r| r.strip_prefix('#'))
                .and_then(|id| {
                    mr.contained.iter().find_map(|res| match res {
                        Resource::Medication(m) if m.id.as_deref() == Some(id) => m.code.as_ref(),
                        _ => None,
                    })
                });
            (contained, non_empty(r.display.as_deref()))
        }
    };
    let dosages: Vec<&Dosage> = mr.dosage_instruction.iter().flatten().collect();
    let first = dosages.first().copied();
    Some(MedicationOrderFact {
        id: mr.id.clone(),
        status: status(&mr.status),
        intent,
        ingredient: ingredient(concept, reference_display, rules),
        codes: codes(concept),
        label: label(concept).or_else(|| reference_display.map(str::to_owned)),
        dose: first.and_then(dose),
        doses_per_day: first.and_then(doses_per_day),
        route: first.and_then(route),
        total_duration_days: total_duration_days(mr, &dosages),
        reason_codes: codes_of_all(&mr.reason_code),
        reason_references: references(&mr.reason_reference),
        authored_on: mr.authored_on.as_ref().and_then(fhir_time),
    })
}

/// RxNorm codes (ingredient, SCD, SBD) first; else the name in a display or the text.
fn ingredient(
    concept: Option<&CodeableConcept>,
    extra_text: Option<&str>,
    rules: &Rules,
) -> Option<Ingredient> {
    let meds = &rules.medications;
    let by_code = concept.into_iter().flat_map(codings).find_map(|c| {
        (c.system.as_deref().map(str::trim) == Some(RXNORM))
            .then_some(c.code.as_deref())
            .flatten()
            .and_then(|code| meds.by_rxnorm(code))
    });
    by_code
        .or_else(|| {
            concept
                .into_iter()
                .flat_map(codings)
                .find_map(|c| c.display.as_deref().and_then(|d| meds.by_name(d)))
        })
        .or_else(|| {
            concept
                .and_then(|c| c.text.as_deref())
                .and_then(|t| meds.by_name(t))
        })
        .or_else(|| extra_text.and_then(|t| meds.by_name(t)))
}

fn dose_unit(unit: &str) -> Option<DoseUnit> {
    match unit.trim().to_ascii_lowercase().as_str() {
        "mg" | "milligram" | "milligrams" => Some(DoseUnit::Mg),
        "[iu]" | "iu" | "u" | "units" | "unit" | "international unit" | "international units" => {
            Some(DoseUnit::InternationalUnit)
        }
        "mg/kg" | "mg/kg/dose" => Some(DoseUnit::MgPerKg),
        _ => None,
    }
}

/// The first `doseAndRate` of a dosage: `doseQuantity`, or the high end of `doseRange`.
fn dose(dosage: &Dosage) -> Option<Dose> {
    let q = match dosage
        .dose_and_rate
        .iter()
        .flatten()
        .next()?
        .dose
        .as_ref()?
    {
        DosageDoseAndRateDose::Quantity(q) => q,
        DosageDoseAndRateDose::Range(r) => r.high.as_ref()?,
    };
    let amount = q.value.filter(|v| v.is_finite() && *v >= 0.0)?;
    let code = non_empty(q.code.as_deref());
    let text = non_empty(q.unit.as_deref());
    let unit = [code, text]
        .into_iter()
        .flatten()
        .find_map(dose_unit)
        .unwrap_or_else(|| DoseUnit::Other(code.or(text).unwrap_or_default().to_owned()));
    Some(Dose { amount, unit })
}

/// `QD`, `BID`, `Q12H`… (v3 GTSAbbreviation, also as text) in doses per day.
fn abbreviation(code: &str) -> Option<f64> {
    let c = code.trim().to_ascii_uppercase();
    match c.as_str() {
        "QD" | "OD" | "DAILY" | "AM" | "PM" | "BED" | "HS" | "QHS" => Some(1.0),
        "QOD" => Some(0.5),
        "BID" => Some(2.0),
        "TID" => Some(3.0),
        "QID" => Some(4.0),
        "WK" => Some(1.0 / 7.0),
        "MO" => Some(1.0 / 30.0),
        _ => {
            let hours: u32 = c.strip_prefix('Q')?.strip_suffix('H')?.parse().ok()?;
            (1..=168).contains(&hours).then(|| 24.0 / f64::from(hours))
        }
    }
}

/// Common free-text frequencies ("twice daily", "every 12 hours").
fn frequency_phrase(text: &str) -> Option<f64> {
    let t = text.trim().to_lowercase();
    let t = t.as_str();
    if let Some(n) = t
        .strip_prefix("every ")
        .and_then(|r| r.strip_suffix(" hours"))
    {
        let hours: u32 = n.trim().parse().ok()?;
        return (1..=168).contains(&hours).then(|| 24.0 / f64::from(hours));
    }
    match t {
        "once daily" | "once a day" | "daily" | "every day" | "every 24 hours" => Some(1.0),
        "twice daily" | "twice a day" | "two times daily" => Some(2.0),
        "three times daily" | "three times a day" => Some(3.0),
        "four times daily" | "four times a day" => Some(4.0),
        _ => None,
    }
}

fn doses_per_day(dosage: &Dosage) -> Option<f64> {
    let timing = dosage.timing.as_ref()?;
    let from_repeat = timing.repeat.as_ref().and_then(|r| {
        let frequency = r.frequency.map_or(1.0, |f| f64::from(f.get()));
        let period = r.period.filter(|p| p.is_finite() && *p > 0.0)?;
        let days = period * days_per(r.period_unit.as_deref()?)?;
        Some(frequency / days)
    });
    from_repeat.or_else(|| {
        let code = timing.code.as_ref()?;
        codings(code)
            .filter(|c| c.system.as_deref().is_none_or(|s| s == GTS_ABBREVIATION))
            .find_map(|c| c.code.as_deref().and_then(abbreviation))
            .or_else(|| {
                code.text
                    .as_deref()
                    .and_then(|t| abbreviation(t).or_else(|| frequency_phrase(t)))
            })
    })
}

fn route_from_text(text: &str) -> Option<Route> {
    let lower = text.to_lowercase();
    let words: Vec<String> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    let has = |w: &str| words.iter().any(|x| x == w);
    if lower.contains("subcut") || has("sc") || has("sq") || has("subq") {
        Some(Route::Subcutaneous)
    } else if lower.contains("intraven") || has("iv") {
        Some(Route::Intravenous)
    } else if lower.contains("oral") || has("po") {
        Some(Route::Oral)
    } else {
        None
    }
}

/// SNOMED route codes, else the route's text or displays; a route we cannot name is Other.
fn route(dosage: &Dosage) -> Option<Route> {
    let route = dosage.route.as_ref()?;
    let by_code = codings(route).find_map(|c| {
        if c.system.as_deref() != Some(SNOMED) {
            return None;
        }
        match c.code.as_deref()?.trim() {
            "34206005" => Some(Route::Subcutaneous),
            "47625008" => Some(Route::Intravenous),
            "26643006" => Some(Route::Oral),
            _ => None,
        }
    });
    by_code
        .or_else(|| route.text.as_deref().and_then(route_from_text))
        .or_else(|| codings(route).find_map(|c| c.display.as_deref().and_then(route_from_text)))
        .or(Some(Route::Other))
}

/// The bound of one dosage instruction in days: `boundsDuration`, `boundsPeriod`
/// (end − start), or the high end of `boundsRange`.
fn bound_days(dosage: &Dosage) -> Option<f64> {
    match dosage.timing.as_ref()?.repeat.as_ref()?.bounds.as_ref()? {
        TimingRepeatBounds::Duration(d) => {
            duration_days(d.value, d.code.as_deref(), d.unit.as_deref())
        }
        TimingRepeatBounds::Period(p) => period_days(p),
        TimingRepeatBounds::Range(r) => {
            let high = r.high.as_ref()?;
            duration_days(high.value, high.code.as_deref(), high.unit.as_deref())
        }
    }
}

/// Total explicit duration (clinical-rules §5, `short-duration`): the larger of
/// `expectedSupplyDuration` and the sum of the dosage bounds. The sum counts only when every
/// dosage instruction is bounded (an open-ended phase gives no explicit total). Instructions
/// sharing a `sequence` run concurrently (FHIR R4 Dosage.sequence), so a sequence counts
/// its longest bound once; instructions without a sequence are taken as consecutive.
fn total_duration_days(mr: &MedicationRequest, dosages: &[&Dosage]) -> Option<f64> {
    let supply = mr
        .dispense_request
        .as_ref()
        .and_then(|d| d.expected_supply_duration.as_ref())
        .and_then(|d| duration_days(d.value, d.code.as_deref(), d.unit.as_deref()));
    let dosage_total = if dosages.is_empty() {
        None
    } else {
        let mut by_sequence: BTreeMap<i32, f64> = BTreeMap::new();
        let mut unsequenced = 0.0;
        let mut all_bounded = true;
        for d in dosages {
            match (bound_days(d), d.sequence) {
                (None, _) => all_bounded = false,
                (Some(days), Some(seq)) => {
                    let longest = by_sequence.entry(seq).or_insert(0.0);
                    *longest = longest.max(days);
                }
                (Some(days), None) => unsequenced += days,
            }
        }
        all_bounded.then(|| unsequenced + by_sequence.values().sum::<f64>())
    };
    match (supply, dosage_total) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}
