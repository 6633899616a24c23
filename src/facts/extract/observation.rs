//! Observations: laboratory results and ultrasound findings, by the kind their code maps to
//! in `value-sets.toml` (`[labs]`, `[[local-labs]]`, `[[finding-map]]`).

use fhir_sdk::r4b::codes::{ObservationStatus as FhirStatus, QuantityComparator};
use fhir_sdk::r4b::resources::{Observation, ObservationEffective, ObservationValue as Value};
use fhir_sdk::r4b::types::{CodeableConcept, Quantity};
use serde_json::Value as Json;

use super::common::{code_of, codes, codings, fhir_time, instant, label, period_start, references};
use super::units::{self, Test};
use crate::config::{LabKind, Rules, UltrasoundFindingKind, ValueSetId};
use crate::facts::{
    DDimerBasis, DDimerFact, Interpretation, Measured, ObservationFact, ObservationStatus,
    ObservationValue, UltrasoundFinding,
};

const INTERPRETATION: [&str; 2] = [
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
    "http://hl7.org/fhir/v3/ObservationInterpretation",
];
const SNOMED: &str = "http://snomed.info/sct";
/// Answers that say "unknown", not "another answer" (v3 NullFlavor, data-absent-reason,
/// SNOMED 261665006 Unknown).
const NULL_FLAVOR_SYSTEMS: [&str; 2] = [
    "http://terminology.hl7.org/CodeSystem/v3-NullFlavor",
    "http://terminology.hl7.org/CodeSystem/data-absent-reason",
];
const SNOMED_UNKNOWN: &str = "261665006";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Lab(LabKind),
    Finding(UltrasoundFindingKind),
}

/// The first coding that maps to a lab or finding kind.
fn kind_of<'a>(
    mut codings: impl Iterator<Item = (&'a str, &'a str)>,
    rules: &Rules,
) -> Option<Kind> {
    codings.find_map(|(system, code)| {
        rules
            .labs
            .kind(system, code)
            .map(Kind::Lab)
            .or_else(|| rules.findings.kind(system, code).map(Kind::Finding))
    })
}

/// The kind of an Observation that could not be read, from `code.coding` in the raw JSON.
pub(super) fn peek_kind(raw: &Json, rules: &Rules) -> Option<Kind> {
    let codings = raw.pointer("/code/coding").and_then(Json::as_array)?;
    kind_of(
        codings
            .iter()
            .filter_map(|c| Some((c.get("system")?.as_str()?, c.get("code")?.as_str()?))),
        rules,
    )
}

/// `None` for an Observation of no kind the rules read (dropped).
pub(super) fn read(obs: &Observation, rules: &Rules) -> Option<ObservationFact> {
    let kind = kind_of(
        codings(&obs.code).filter_map(|c| Some((c.system.as_deref()?, c.code.as_deref()?))),
        rules,
    )?;
    let value = match kind {
        Kind::Lab(lab) => lab_value(obs, lab, rules),
        Kind::Finding(finding) => ObservationValue::Finding(finding_value(obs, finding, rules)),
    };
    Some(ObservationFact {
        id: obs.id.clone(),
        status: match obs.status {
            FhirStatus::Final => ObservationStatus::Final,
            FhirStatus::Amended => ObservationStatus::Amended,
            FhirStatus::Corrected => ObservationStatus::Corrected,
            FhirStatus::Preliminary => ObservationStatus::Preliminary,
            _ => ObservationStatus::Other,
        },
        effective: match &obs.effective {
            Some(ObservationEffective::DateTime(dt)) => fhir_time(dt),
            Some(ObservationEffective::Period(p)) => period_start(p),
            Some(ObservationEffective::Instant(i)) => instant(i),
            _ => None,
        }
        .or_else(|| obs.issued.as_ref().and_then(instant)),
        based_on: references(&obs.based_on),
        value,
    })
}

fn quantity(obs: &Observation) -> Option<&Quantity> {
    match &obs.value {
        Some(Value::Quantity(q)) => Some(q),
        _ => None,
    }
}

/// A numeric lab value in the unit the facts keep, or `Unknown` (no value, unknown unit).
fn measured(obs: &Observation, factor: fn(&str) -> Option<f64>, tests: &[Test]) -> Measured<f64> {
    quantity(obs).map_or(Measured::Unknown, |q| units::convert(q, factor, tests))
}

/// Every renal threshold the rules apply (eGFR / CrCl below it): a censored value (`>60`)
/// is kept only when it decides them all.
fn renal_tests(rules: &Rules) -> Vec<Test> {
    let t = &rules.thresholds;
    let mut tests = vec![
        Test::Below(t.bleeding.renal_failure_below_ml_min),
        Test::Below(t.renal.impairment_below),
        Test::Below(t.renal.severe_below),
    ];
    for policy in rules.medications.renal.values() {
        tests.extend(policy.avoid_below.map(Test::Below));
        tests.extend(policy.once_daily_below.map(Test::Below));
    }
    tests
}

fn lab_value(obs: &Observation, lab: LabKind, rules: &Rules) -> ObservationValue {
    let t = &rules.thresholds;
    match lab {
        LabKind::DDimerFeu => ObservationValue::DDimer(d_dimer(obs, DDimerBasis::Feu, rules)),
        LabKind::DDimerDdu => ObservationValue::DDimer(d_dimer(obs, DDimerBasis::Ddu, rules)),
        LabKind::DDimerUnknownBasis => {
            ObservationValue::DDimer(d_dimer(obs, DDimerBasis::Unknown, rules))
        }
        LabKind::DDimerQualitative => {
            ObservationValue::DDimer(d_dimer(obs, DDimerBasis::Qualitative, rules))
        }
        LabKind::Egfr => ObservationValue::Egfr(measured(obs, units::egfr, &renal_tests(rules))),
        LabKind::CreatinineClearance => ObservationValue::CreatinineClearance(measured(
            obs,
            units::creatinine_clearance,
            &renal_tests(rules),
        )),
        LabKind::Platelets => ObservationValue::Platelets(measured(
            obs,
            units::platelets,
            &[Test::Below(t.bleeding.platelets_below_10e9_l)],
        )),
        LabKind::Hemoglobin => ObservationValue::Hemoglobin(measured(
            obs,
            units::hemoglobin,
            &[Test::Below(t.bleeding.hemoglobin_below_g_dl)],
        )),
        // The weight doses drugs: a censored weight is never used.
        LabKind::BodyWeight => ObservationValue::BodyWeight(measured(obs, units::body_weight, &[])),
        LabKind::PainSeverity => ObservationValue::PainSeverity(pain(obs, rules)),
        LabKind::PregnancyStatus => ObservationValue::PregnancyStatus(pregnancy(obs, rules)),
        LabKind::SarsCov2 => ObservationValue::SarsCov2(
            qualitative(obs, rules)
                .or_else(|| interpretation(obs, true))
                .map_or(Measured::Unknown, Measured::Known),
        ),
    }
}

/// Pain severity on the 0–10 scale: `valueInteger`, or a unitless / `{score}` quantity.
fn pain(obs: &Observation, rules: &Rules) -> Measured<f64> {
    let tests = [Test::AtLeast(rules.thresholds.extension.severe_pain_score)];
    let score = match &obs.value {
        Some(Value::Integer(i)) => Measured::Known(f64::from(*i)),
        Some(Value::Quantity(q)) if units::unit_texts(q).iter().all(Option::is_none) => {
            units::convert_with(q, 1.0, &tests)
        }
        Some(Value::Quantity(q)) => units::convert(q, units::pain_score, &tests),
        _ => Measured::Unknown,
    };
    match score {
        Measured::Known(s) if (0.0..=10.0).contains(&s) => Measured::Known(s),
        _ => Measured::Unknown,
    }
}

/// Pregnancy status (LOINC 82810-3): the answer in `PregnantAnswer` → pregnant; another
/// coded answer → not pregnant; an "unknown" answer or no coded answer → unknown.
fn pregnancy(obs: &Observation, rules: &Rules) -> Measured<bool> {
    let Some(Value::CodeableConcept(cc)) = &obs.value else {
        return Measured::Unknown;
    };
    let answers = codes(Some(cc));
    if rules.value_sets.any(ValueSetId::PregnantAnswer, &answers) {
        return Measured::Known(true);
    }
    let says_unknown = |c: &crate::facts::Code| {
        NULL_FLAVOR_SYSTEMS.contains(&c.system.as_str())
            || (c.system == SNOMED && c.code == SNOMED_UNKNOWN)
    };
    if answers.is_empty() || answers.iter().any(says_unknown) {
        Measured::Unknown
    } else {
        Measured::Known(false)
    }
}

/// "positive"/"detected" → true, "negative"/"not detected" → false (case-insensitive).
fn result_word(text: &str) -> Option<bool> {
    let t = text
        .trim()
        .trim_end_matches(['.', '!'])
        .trim()
        .to_lowercase();
    match t.as_str() {
        "positive" | "detected" => Some(true),
        "negative" | "not detected" => Some(false),
        _ => None,
    }
}

/// A coded (value sets PositiveResult / NegativeResult) or string qualitative result.
fn qualitative(obs: &Observation, rules: &Rules) -> Option<bool> {
    match &obs.value {
        Some(Value::CodeableConcept(cc)) => coded_result(cc, rules),
        Some(Value::String(s)) => result_word(s),
        _ => None,
    }
}

fn coded_result(cc: &CodeableConcept, rules: &Rules) -> Option<bool> {
    let answers = codes(Some(cc));
    if rules.value_sets.any(ValueSetId::PositiveResult, &answers) {
        Some(true)
    } else if rules.value_sets.any(ValueSetId::NegativeResult, &answers) {
        Some(false)
    } else {
        cc.text
            .as_deref()
            .and_then(result_word)
            .or_else(|| codings(cc).find_map(|c| c.display.as_deref().and_then(result_word)))
    }
}

/// Interpretation codes (clinical-rules §2, positive-d-dimer (1)): positive H, HH, A, AA,
/// POS, DET; negative N, L, NEG, ND. `qualitative_only` keeps POS/DET/NEG/ND (a test result,
/// not a level).
fn interpretation(obs: &Observation, qualitative_only: bool) -> Option<bool> {
    obs.interpretation
        .iter()
        .flatten()
        .flat_map(codings)
        .filter(|c| {
            c.system
                .as_deref()
                .is_some_and(|s| INTERPRETATION.contains(&s))
        })
        .find_map(|c| match (c.code.as_deref()?.trim(), qualitative_only) {
            ("POS" | "DET", _) | ("H" | "HH" | "A" | "AA", false) => Some(true),
            ("NEG" | "ND", _) | ("N" | "L", false) => Some(false),
            _ => None,
        })
}

fn number(x: f64) -> String {
    format!("{x}")
}

fn comparator_symbol(q: &Quantity) -> &'static str {
    match q.comparator {
        Some(QuantityComparator::Less) => "<",
        Some(QuantityComparator::LessOrEqual) => "≤",
        Some(QuantityComparator::Greater) => ">",
        Some(QuantityComparator::GreaterOrEqual) => "≥",
        None => "",
    }
}

/// Same unit string, compared without case and spaces (for local, unconvertible units).
fn same_unit(a: Option<&str>, b: Option<&str>) -> bool {
    let squash =
        |s: Option<&str>| s.map(|s| s.split_whitespace().collect::<String>().to_lowercase());
    squash(a) == squash(b)
}

fn d_dimer(obs: &Observation, basis: DDimerBasis, rules: &Rules) -> DDimerFact {
    let t = &rules.thresholds.extension;
    let q = quantity(obs);
    let value_unit = q.and_then(|q| units::unit_texts(q).into_iter().flatten().next());
    let value_factor = q.and_then(|q| {
        units::unit_texts(q)
            .into_iter()
            .flatten()
            .find_map(units::d_dimer_ng_ml)
    });
    let high = obs
        .reference_range
        .iter()
        .flatten()
        .next()
        .and_then(|r| r.high.as_ref());
    let high_units = high.map(units::unit_texts);
    // A range with no unit is read in the value's unit.
    let high_unitless = high_units.is_some_and(|u| u.iter().all(Option::is_none));
    let high_factor = if high_unitless {
        value_factor
    } else {
        high_units.and_then(|u| u.into_iter().flatten().find_map(units::d_dimer_ng_ml))
    };
    let reference_high_ng_ml = high.map(|h| match high_factor {
        Some(f) if h.comparator.is_none() => units::convert_with(h, f, &[]),
        _ => Measured::Unknown,
    });
    // The test the value will meet: the reference range if known, else the basis cutoff.
    let tests: Vec<Test> = match (reference_high_ng_ml, basis) {
        (Some(Measured::Known(h)), _) => vec![Test::Above(h)],
        (_, DDimerBasis::Feu) => vec![Test::AtLeast(t.d_dimer_feu_cutoff_ng_ml)],
        (_, DDimerBasis::Ddu) => vec![Test::AtLeast(t.d_dimer_ddu_cutoff_ng_ml)],
        _ => vec![],
    };
    let value_ng_ml = q.filter(|q| q.value.is_some()).map(|q| match value_factor {
        Some(f) => units::convert_with(q, f, &tests),
        None => Measured::Unknown,
    });
    let exceeds_reference_same_unit = match (q, high) {
        (Some(q), Some(h))
            if value_factor.is_none()
                && (high_unitless
                    || same_unit(
                        value_unit,
                        units::unit_texts(h).into_iter().flatten().next(),
                    )) =>
        {
            match (q.value, h.value, h.comparator) {
                (Some(v), Some(hv), None) if v.is_finite() && hv.is_finite() => {
                    match q.comparator {
                        None => Some(v > hv),
                        Some(c) if units::bound_is_decisive(c, v, &[Test::Above(hv)]) => {
                            Some(v > hv)
                        }
                        Some(_) => None,
                    }
                }
                _ => None,
            }
        }
        _ => None,
    };
    let shown = match &obs.value {
        Some(Value::Quantity(q)) => match (q.value, units::display_unit(q)) {
            (Some(v), Some(u)) => format!("{}{} {u}", comparator_symbol(q), number(v)),
            (Some(v), None) => format!("{}{}", comparator_symbol(q), number(v)),
            (None, _) => String::new(),
        },
        Some(Value::CodeableConcept(cc)) => label(Some(cc)).unwrap_or_default(),
        Some(Value::String(s)) => s.trim().to_owned(),
        _ => String::new(),
    };
    DDimerFact {
        basis,
        value_ng_ml,
        reference_high_ng_ml,
        exceeds_reference_same_unit,
        interpretation: interpretation(obs, false).map(|p| {
            if p {
                Interpretation::Positive
            } else {
                Interpretation::Negative
            }
        }),
        qualitative: qualitative(obs, rules),
        shown,
    }
}

/// Yes/no answers for boolean findings sent as codes or text.
fn yes_no(obs: &Observation) -> Measured<bool> {
    const YES_NO: &str = "http://terminology.hl7.org/CodeSystem/v2-0136";
    let word = |s: &str| match s.trim().to_lowercase().as_str() {
        "true" | "yes" => Some(true),
        "false" | "no" => Some(false),
        _ => None,
    };
    let answer = match &obs.value {
        Some(Value::Boolean(b)) => Some(*b),
        Some(Value::CodeableConcept(cc)) => codings(cc)
            .filter_map(code_of)
            .find_map(|c| match (c.system.as_str(), c.code.as_str()) {
                (YES_NO, "Y") | (SNOMED, "373066001") => Some(true),
                (YES_NO, "N") | (SNOMED, "373067005") => Some(false),
                _ => None,
            })
            .or_else(|| cc.text.as_deref().and_then(word)),
        Some(Value::String(s)) => word(s),
        _ => None,
    };
    answer.map_or(Measured::Unknown, Measured::Known)
}

/// `veins-involved`: `valueInteger`, or a unitless whole-number quantity.
fn count(obs: &Observation, rules: &Rules) -> Measured<u32> {
    let tests = [Test::AtLeast(f64::from(
        rules.thresholds.extension.multiple_veins_count,
    ))];
    let n = match &obs.value {
        Some(Value::Integer(i)) => Measured::Known(f64::from(*i)),
        Some(Value::Quantity(q))
            if units::unit_texts(q)
                .iter()
                .flatten()
                .all(|u| matches!(*u, "1" | "{count}" | "{#}" | "{veins}")) =>
        {
            units::convert_with(q, 1.0, &tests)
        }
        _ => Measured::Unknown,
    };
    match n {
        Measured::Known(n) if n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&n) => {
            // Whole and in range, so the cast is exact.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Measured::Known(n as u32)
        }
        _ => Measured::Unknown,
    }
}

fn finding_value(
    obs: &Observation,
    kind: UltrasoundFindingKind,
    rules: &Rules,
) -> UltrasoundFinding {
    let t = &rules.thresholds.extension;
    match kind {
        UltrasoundFindingKind::ThrombusLength => UltrasoundFinding::ThrombusLength(measured(
            obs,
            units::centimetres,
            &[Test::Above(t.thrombus_length_cm)],
        )),
        UltrasoundFindingKind::ThrombusDiameter => UltrasoundFinding::ThrombusDiameter(measured(
            obs,
            units::millimetres,
            &[Test::Above(t.thrombus_diameter_mm)],
        )),
        UltrasoundFindingKind::DistanceToProximalVeins => {
            UltrasoundFinding::DistanceToProximalVeins(measured(
                obs,
                units::centimetres,
                &[Test::AtMost(t.near_proximal_distance_cm)],
            ))
        }
        UltrasoundFindingKind::VeinsInvolved => UltrasoundFinding::VeinsInvolved(count(obs, rules)),
        UltrasoundFindingKind::VeinInvolved => UltrasoundFinding::VeinInvolved(match &obs.value {
            Some(Value::CodeableConcept(cc)) if !codes(Some(cc)).is_empty() => codes(Some(cc)),
            _ => codes(obs.body_site.as_ref()),
        }),
        UltrasoundFindingKind::NearProximalVeins => {
            UltrasoundFinding::NearProximalVeins(yes_no(obs))
        }
        UltrasoundFindingKind::ExtendsToProximalVeins => {
            UltrasoundFinding::ExtendsToProximalVeins(yes_no(obs))
        }
    }
}
