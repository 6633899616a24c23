//! Extraction tests over real-looking R4 JSON (fake data only).

use std::sync::OnceLock;

use serde_json::value::RawValue;
use serde_json::{Value, json};
use time::Month;
use time::macros::{date, datetime};

use super::*;
use crate::config::{Config, Ingredient, LabKind, UltrasoundFindingKind, ValueSetId};
use crate::facts::*;

const LOINC: &str = "http://loinc.org";
const SNOMED: &str = "http://snomed.info/sct";
const ICD10CM: &str = "http://hl7.org/fhir/sid/icd-10-cm";
const RXNORM: &str = "http://www.nlm.nih.gov/research/umls/rxnorm";
const UCUM: &str = "http://unitsofmeasure.org";
const FINDING: &str = "https://fhir.distal-dvt-cds.org/CodeSystem/ultrasound-finding";

fn rules() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    RULES.get_or_init(|| {
        Config::load(&Config::default_dir())
            .expect("shipped config loads")
            .rules
    })
}

/// Shallow merge: `extra`'s members replace `base`'s (`null` removes one).
fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        for (k, v) in e {
            if v.is_null() {
                b.remove(&k);
            } else {
                b.insert(k, v);
            }
        }
    }
    base
}

fn facts_with(
    resources: &[(DataSource, Value)],
    drafts: &Value,
    selections: &[&str],
) -> PatientFacts {
    let selections: Vec<String> = selections.iter().map(|s| (*s).to_owned()).collect();
    let run = |resources: Vec<(DataSource, ResourceJson<'_>)>| {
        let prefetched = Prefetched {
            resources,
            unavailable: vec![],
            skipped_outcomes: 0,
            fetch_gaps: vec![],
        };
        extract(
            &ExtractInput {
                prefetched: &prefetched,
                draft_orders: drafts,
                selections: &selections,
                encounter_id: None,
            },
            rules(),
        )
    };
    let parsed = run(resources
        .iter()
        .map(|(s, v)| (*s, ResourceJson::Parsed(v)))
        .collect());
    // Every case is read a second time as the skim hands it over (raw text, `read_text`):
    // the facts must be the same.
    let texts: Vec<Box<RawValue>> = resources
        .iter()
        .map(|(_, v)| RawValue::from_string(v.to_string()).expect("json"))
        .collect();
    let raw = run(resources
        .iter()
        .zip(&texts)
        .map(|((s, v), text)| {
            let resource_type = v.get("resourceType").and_then(Value::as_str);
            (
                *s,
                ResourceJson::Raw {
                    resource_type,
                    json: text,
                },
            )
        })
        .collect());
    assert_eq!(
        format!("{raw:?}"),
        format!("{parsed:?}"),
        "raw and parsed reads differ"
    );
    parsed
}

fn facts(source: DataSource, resource: Value) -> PatientFacts {
    facts_with(&[(source, resource)], &Value::Null, &[])
}

// ---------------------------------------------------------------- Patient

fn patient(birth_date: &str) -> Value {
    json!({"resourceType": "Patient", "id": "pat-1", "gender": "female", "birthDate": birth_date,
           "name": [{"family": "Testperson", "given": ["Ada"]}]})
}

#[test]
fn birth_dates_full_and_partial() {
    let p = facts(DataSource::Patient, patient("1950-06-15"))
        .patient
        .unwrap();
    assert_eq!(p.id.as_deref(), Some("pat-1"));
    assert_eq!(p.birth_date, Some(BirthDate::Date(date!(1950 - 06 - 15))));
    let p = facts(DataSource::Patient, patient("1950-06"))
        .patient
        .unwrap();
    assert_eq!(p.birth_date, Some(BirthDate::YearMonth(1950, Month::June)));
    let p = facts(DataSource::Patient, patient("1950")).patient.unwrap();
    assert_eq!(p.birth_date, Some(BirthDate::Year(1950)));
}

#[test]
fn patient_without_id_or_birth_date_is_read() {
    let p = facts(DataSource::Patient, json!({"resourceType": "Patient"}))
        .patient
        .unwrap();
    assert_eq!(
        p,
        PatientFact {
            id: None,
            birth_date: None
        }
    );
}

#[test]
fn bad_birth_date_makes_the_patient_unreadable() {
    let f = facts(DataSource::Patient, patient("1950-13-40"));
    assert!(f.patient.is_none());
    assert_eq!(f.unreadable.len(), 1);
    assert_eq!(f.unreadable[0].resource_type, "Patient");
    assert_eq!(f.unreadable[0].source, DataSource::Patient);
}

// ---------------------------------------------------------------- Condition

fn calf_dvt(code: &str) -> Value {
    json!({
        "resourceType": "Condition",
        "id": "cond-dvt",
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
        "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "encounter-diagnosis"}]}],
        "severity": {"coding": [{"system": SNOMED, "code": "24484000", "display": "Severe"}]},
        "code": {"coding": [{"system": ICD10CM, "code": code, "display": "Acute embolism and thrombosis of right calf muscular vein"}]},
        "bodySite": [
            {"coding": [{"system": SNOMED, "code": "264481007", "display": "Gastrocnemius vein"}, {"system": SNOMED, "code": "24028007", "display": "Right"}]},
            {"coding": [{"system": SNOMED, "code": "397427005", "display": "Soleal vein"}]}
        ],
        "subject": {"reference": "Patient/pat-1"},
        "onsetDateTime": "2026-03-01T09:30:00-05:00",
        "recordedDate": "2026-03-02"
    })
}

#[test]
fn condition_codes_with_and_without_the_dot() {
    for code in ["I82.461", "I82461"] {
        let f = facts(DataSource::Conditions, calf_dvt(code));
        let c = &f.conditions[0];
        assert_eq!(c.codes[0].code, code, "codes are kept as sent");
        assert_eq!(c.codes[0].system, ICD10CM);
        assert!(
            rules().value_sets.any(ValueSetId::Distal, &c.codes),
            "{code} is distal"
        );
    }
}

#[test]
fn condition_fields() {
    let c = facts(DataSource::Conditions, calf_dvt("I82.461"))
        .conditions
        .remove(0);
    assert_eq!(c.id.as_deref(), Some("cond-dvt"));
    assert_eq!(
        c.label.as_deref(),
        Some("Acute embolism and thrombosis of right calf muscular vein")
    );
    assert_eq!(c.clinical_status, Some(ClinicalStatus::Active));
    assert_eq!(c.verification_status, Some(VerificationStatus::Confirmed));
    let sites: Vec<&str> = c.body_sites.iter().map(|s| s.code.as_str()).collect();
    assert_eq!(sites, ["264481007", "24028007", "397427005"]);
    assert_eq!(c.severity[0].code, "24484000");
    assert_eq!(
        c.onset,
        Some(FhirTime {
            instant: datetime!(2026-03-01 14:30 UTC),
            precise: true
        })
    );
    assert_eq!(
        c.recorded,
        Some(FhirTime {
            instant: datetime!(2026-03-02 00:00 UTC),
            precise: false
        })
    );
    assert_eq!(c.abatement, None);
}

#[test]
fn condition_statuses_onset_period_and_abatement() {
    let status = |system: &str, code: &str| json!({"coding": [{"system": system, "code": code}]});
    let clinical = "http://terminology.hl7.org/CodeSystem/condition-clinical";
    let ver = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
    for (code, want) in [
        ("recurrence", ClinicalStatus::Recurrence),
        ("relapse", ClinicalStatus::Relapse),
        ("inactive", ClinicalStatus::Inactive),
        ("remission", ClinicalStatus::Remission),
        ("resolved", ClinicalStatus::Resolved),
        ("smouldering", ClinicalStatus::Other),
    ] {
        let c = facts(
            DataSource::Conditions,
            with(
                calf_dvt("I82.461"),
                json!({"clinicalStatus": status(clinical, code)}),
            ),
        );
        assert_eq!(c.conditions[0].clinical_status, Some(want), "{code}");
    }
    for (code, want) in [
        ("unconfirmed", VerificationStatus::Unconfirmed),
        ("provisional", VerificationStatus::Provisional),
        ("differential", VerificationStatus::Differential),
        ("refuted", VerificationStatus::Refuted),
        ("entered-in-error", VerificationStatus::EnteredInError),
        ("maybe", VerificationStatus::Other),
    ] {
        let c = facts(
            DataSource::Conditions,
            with(
                calf_dvt("I82.461"),
                json!({"verificationStatus": status(ver, code)}),
            ),
        );
        assert_eq!(c.conditions[0].verification_status, Some(want), "{code}");
    }
    // A code from another system is not a status.
    let c = facts(
        DataSource::Conditions,
        with(
            calf_dvt("I82.461"),
            json!({"clinicalStatus": status(SNOMED, "55561003")}),
        ),
    );
    assert_eq!(c.conditions[0].clinical_status, Some(ClinicalStatus::Other));
    let c = facts(
        DataSource::Conditions,
        with(
            calf_dvt("I82.461"),
            json!({
                "clinicalStatus": null, "verificationStatus": null, "onsetDateTime": null, "recordedDate": null,
                "onsetPeriod": {"start": "2025-11", "end": "2025-12-20"},
                "abatementPeriod": {"start": "2025-12-01", "end": "2026-01-15"}
            }),
        ),
    );
    let c = &c.conditions[0];
    assert_eq!(c.clinical_status, None);
    assert_eq!(c.verification_status, None);
    assert_eq!(
        c.onset.map(|t| t.instant),
        Some(datetime!(2025-11-01 00:00 UTC))
    );
    assert_eq!(c.recorded, None);
    assert_eq!(
        c.abatement.map(|t| t.instant),
        Some(datetime!(2026-01-15 00:00 UTC))
    );
    let c = facts(
        DataSource::Conditions,
        with(
            calf_dvt("I82.461"),
            json!({"abatementDateTime": "2026-02-01"}),
        ),
    );
    assert_eq!(
        c.conditions[0].abatement.map(|t| t.instant),
        Some(datetime!(2026-02-01 00:00 UTC))
    );
}

#[test]
fn condition_label_falls_back_to_text_then_display() {
    let c = facts(
        DataSource::Conditions,
        with(
            calf_dvt("I82.4Z1"),
            json!({"code": {"text": "Calf DVT, right", "coding": [{"system": ICD10CM, "code": "I82.4Z1", "display": "x"}]}}),
        ),
    );
    assert_eq!(c.conditions[0].label.as_deref(), Some("Calf DVT, right"));
}

#[test]
fn a_broken_element_the_rules_never_read_does_not_hide_a_condition() {
    // No subject (R4-required) and a note without valid time: still read.
    let f = facts(
        DataSource::Conditions,
        with(
            calf_dvt("I82.461"),
            json!({"subject": null, "note": [{"time": "yesterday", "text": "x"}]}),
        ),
    );
    assert!(f.unreadable.is_empty());
    assert_eq!(f.conditions.len(), 1);
    assert_eq!(f.conditions[0].codes[0].code, "I82.461");
}

#[test]
fn a_broken_element_the_rules_read_makes_the_condition_unreadable() {
    let f = facts(
        DataSource::Conditions,
        with(calf_dvt("I82.461"), json!({"code": "I82.461"})),
    );
    assert!(f.conditions.is_empty());
    assert_eq!(
        f.unreadable,
        vec![UnreadableResource {
            resource_type: "Condition".into(),
            source: DataSource::Conditions,
            lab: None,
            finding: None
        }]
    );
}

// ---------------------------------------------------------------- Observation

fn obs(system: &str, code: &str, extra: Value) -> Value {
    with(
        json!({
            "resourceType": "Observation",
            "id": "obs-1",
            "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
            "code": {"coding": [{"system": system, "code": code}]},
            "subject": {"reference": "Patient/pat-1"},
            "effectiveDateTime": "2026-03-01T08:00:00Z",
            "issued": "2026-03-01T09:12:00Z"
        }),
        extra,
    )
}

fn one_obs(resource: Value) -> ObservationFact {
    let mut f = facts(DataSource::Observations, resource);
    assert!(
        f.unreadable.is_empty(),
        "unexpected unreadable: {:?}",
        f.unreadable
    );
    assert_eq!(f.observations.len(), 1);
    f.observations.remove(0)
}

fn d_dimer(resource: Value) -> DDimerFact {
    match one_obs(resource).value {
        ObservationValue::DDimer(d) => d,
        other => panic!("not a D-dimer: {other:?}"),
    }
}

fn qty(value: f64, unit: &str, code: &str) -> Value {
    json!({"value": value, "unit": unit, "system": UCUM, "code": code})
}

#[test]
fn d_dimer_feu_in_mg_per_l_with_reference_and_interpretation() {
    let d = d_dimer(obs(
        LOINC,
        "48065-7",
        json!({
            "valueQuantity": qty(1.2, "mg/L FEU", "mg/L{FEU}"),
            "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "H"}]}],
            "referenceRange": [{"high": qty(0.5, "mg/L FEU", "mg/L{FEU}")}]
        }),
    ));
    assert_eq!(d.basis, DDimerBasis::Feu);
    assert_eq!(d.value_ng_ml, Some(Measured::Known(1200.0)));
    assert_eq!(d.reference_high_ng_ml, Some(Measured::Known(500.0)));
    assert_eq!(d.exceeds_reference_same_unit, None);
    assert_eq!(d.interpretation, Some(Interpretation::Positive));
    assert_eq!(d.qualitative, None);
    assert_eq!(d.shown, "1.2 mg/L FEU");
}

#[test]
fn d_dimer_units_and_bases() {
    for (code, unit, value, want, basis) in [
        ("48066-5", "ng/mL", 320.0, 320.0, DDimerBasis::Ddu),
        ("48058-2", "ng/mL{DDU}", 180.0, 180.0, DDimerBasis::Ddu),
        ("71427-9", "ug/mL", 0.4, 400.0, DDimerBasis::Feu),
        ("48067-3", "ug/L", 650.0, 650.0, DDimerBasis::Feu),
        ("7799-0", "mg/L", 0.7, 700.0, DDimerBasis::Unknown),
    ] {
        let d = d_dimer(obs(
            LOINC,
            code,
            json!({"valueQuantity": qty(value, unit, unit)}),
        ));
        assert_eq!(d.basis, basis, "{code}");
        match d.value_ng_ml {
            Some(Measured::Known(v)) => assert!((v - want).abs() < 1e-9, "{code}: {v}"),
            other => panic!("{code}: {other:?}"),
        }
        assert_eq!(d.reference_high_ng_ml, None);
    }
    // µg/mL sent only as unit text.
    let d = d_dimer(obs(
        LOINC,
        "48065-7",
        json!({"valueQuantity": {"value": 0.62, "unit": "µg/mL FEU"}}),
    ));
    assert!(matches!(d.value_ng_ml, Some(Measured::Known(v)) if (v - 620.0).abs() < 1e-9));
}

#[test]
fn d_dimer_reference_without_unit_is_in_the_value_unit() {
    let d = d_dimer(obs(
        LOINC,
        "48066-5",
        json!({
            "valueQuantity": qty(300.0, "ng/mL", "ng/mL"),
            "referenceRange": [{"high": {"value": 230}}]
        }),
    ));
    assert_eq!(d.reference_high_ng_ml, Some(Measured::Known(230.0)));
}

#[test]
fn d_dimer_unknown_unit_is_unknown_but_judged_against_same_unit_range() {
    let d = d_dimer(obs(
        LOINC,
        "7799-0",
        json!({
            "valueQuantity": {"value": 310, "unit": "U/L"},
            "referenceRange": [{"high": {"value": 250, "unit": "U/L"}}]
        }),
    ));
    assert_eq!(d.value_ng_ml, Some(Measured::Unknown));
    assert_eq!(d.reference_high_ng_ml, Some(Measured::Unknown));
    assert_eq!(d.exceeds_reference_same_unit, Some(true));
    assert_eq!(d.shown, "310 U/L");
    // Different unconvertible units: nothing to judge.
    let d = d_dimer(obs(
        LOINC,
        "7799-0",
        json!({
            "valueQuantity": {"value": 310, "unit": "U/L"},
            "referenceRange": [{"high": {"value": 250, "unit": "FEU units"}}]
        }),
    ));
    assert_eq!(d.exceeds_reference_same_unit, None);
    // Unitless value and range share "no unit".
    let d = d_dimer(obs(
        LOINC,
        "3246-6",
        json!({
            "valueQuantity": {"value": 0.3},
            "referenceRange": [{"high": {"value": 0.5}}]
        }),
    ));
    assert_eq!(d.value_ng_ml, Some(Measured::Unknown));
    assert_eq!(d.exceeds_reference_same_unit, Some(false));
}

#[test]
fn d_dimer_censored_values() {
    // "<0.27 mg/L FEU": below the 500 ng/mL cutoff whatever the true value.
    let d = d_dimer(obs(
        LOINC,
        "48065-7",
        json!({"valueQuantity": with(qty(0.27, "mg/L FEU", "mg/L"), json!({"comparator": "<"}))}),
    ));
    assert_eq!(d.value_ng_ml, Some(Measured::Known(270.0)));
    assert_eq!(d.shown, "<0.27 mg/L FEU");
    // "<0.6 mg/L": could be either side of 0.5.
    let d = d_dimer(obs(
        LOINC,
        "48065-7",
        json!({"valueQuantity": with(qty(0.6, "mg/L", "mg/L"), json!({"comparator": "<"}))}),
    ));
    assert_eq!(d.value_ng_ml, Some(Measured::Unknown));
    // ">20 mg/L": positive whatever the true value.
    let d = d_dimer(obs(
        LOINC,
        "48065-7",
        json!({"valueQuantity": with(qty(20.0, "mg/L", "mg/L"), json!({"comparator": ">"}))}),
    ));
    assert_eq!(d.value_ng_ml, Some(Measured::Known(20_000.0)));
}

#[test]
fn d_dimer_qualitative_coded_and_string() {
    let d = d_dimer(obs(
        LOINC,
        "15179-5",
        json!({"valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "260373001", "display": "Detected"}]}}),
    ));
    assert_eq!(d.basis, DDimerBasis::Qualitative);
    assert_eq!(d.qualitative, Some(true));
    assert_eq!(d.value_ng_ml, None);
    assert_eq!(d.shown, "Detected");
    let d = d_dimer(obs(
        LOINC,
        "15179-5",
        json!({"valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA6577-6"}]}}),
    ));
    assert_eq!(d.qualitative, Some(false));
    let d = d_dimer(obs(
        LOINC,
        "15179-5",
        json!({"valueCodeableConcept": {"text": "POSITIVE"}}),
    ));
    assert_eq!(d.qualitative, Some(true));
    let d = d_dimer(obs(
        LOINC,
        "15179-5",
        json!({"valueString": "Not detected"}),
    ));
    assert_eq!(d.qualitative, Some(false));
    let d = d_dimer(obs(LOINC, "15179-5", json!({"valueString": "see report"})));
    assert_eq!(d.qualitative, None);
}

#[test]
fn interpretation_codes() {
    for (code, want) in [
        ("H", Some(Interpretation::Positive)),
        ("HH", Some(Interpretation::Positive)),
        ("A", Some(Interpretation::Positive)),
        ("AA", Some(Interpretation::Positive)),
        ("POS", Some(Interpretation::Positive)),
        ("DET", Some(Interpretation::Positive)),
        ("N", Some(Interpretation::Negative)),
        ("L", Some(Interpretation::Negative)),
        ("NEG", Some(Interpretation::Negative)),
        ("ND", Some(Interpretation::Negative)),
        ("IND", None),
    ] {
        let d = d_dimer(obs(
            LOINC,
            "7799-0",
            json!({
                "valueQuantity": qty(0.4, "mg/L", "mg/L"),
                "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": code}]}]
            }),
        ));
        assert_eq!(d.interpretation, want, "{code}");
    }
    // Another system's "H" is not an interpretation code.
    let d = d_dimer(obs(
        LOINC,
        "7799-0",
        json!({
            "valueQuantity": qty(0.4, "mg/L", "mg/L"),
            "interpretation": [{"coding": [{"system": "urn:local", "code": "H"}]}]
        }),
    ));
    assert_eq!(d.interpretation, None);
}

#[test]
fn unreadable_d_dimer_keeps_its_kind() {
    let f = facts(
        DataSource::Observations,
        obs(
            LOINC,
            "48065-7",
            json!({"status": "done", "valueQuantity": qty(1.2, "mg/L", "mg/L")}),
        ),
    );
    assert!(f.observations.is_empty());
    assert_eq!(
        f.unreadable,
        vec![UnreadableResource {
            resource_type: "Observation".into(),
            source: DataSource::Observations,
            lab: Some(LabKind::DDimerFeu),
            finding: None
        }]
    );
    let f = facts(
        DataSource::Observations,
        obs(
            FINDING,
            "thrombus-length",
            json!({"status": "done", "valueQuantity": qty(6.0, "cm", "cm")}),
        ),
    );
    assert_eq!(
        f.unreadable[0].finding,
        Some(UltrasoundFindingKind::ThrombusLength)
    );
    assert_eq!(f.unreadable[0].lab, None);
}

#[test]
fn observations_of_unknown_kind_are_dropped() {
    let f = facts(
        DataSource::Observations,
        obs(
            LOINC,
            "2345-7",
            json!({"valueQuantity": qty(5.4, "mmol/L", "mmol/L")}),
        ),
    );
    assert!(f.observations.is_empty());
    assert!(f.unreadable.is_empty());
}

#[test]
fn observation_status_effective_and_based_on() {
    let o = one_obs(obs(
        LOINC,
        "718-7",
        json!({"valueQuantity": qty(13.0, "g/dL", "g/dL"), "basedOn": [{"reference": "ServiceRequest/sr-9"}]}),
    ));
    assert_eq!(o.id.as_deref(), Some("obs-1"));
    assert_eq!(o.status, ObservationStatus::Final);
    assert_eq!(
        o.effective,
        Some(FhirTime {
            instant: datetime!(2026-03-01 08:00 UTC),
            precise: true
        })
    );
    assert_eq!(o.based_on, vec!["ServiceRequest/sr-9".to_owned()]);
    for (status, want) in [
        ("amended", ObservationStatus::Amended),
        ("corrected", ObservationStatus::Corrected),
        ("preliminary", ObservationStatus::Preliminary),
        ("registered", ObservationStatus::Other),
        ("cancelled", ObservationStatus::Other),
        ("entered-in-error", ObservationStatus::Other),
        ("unknown", ObservationStatus::Other),
    ] {
        assert_eq!(
            one_obs(obs(LOINC, "718-7", json!({"status": status}))).status,
            want
        );
    }
    let o = one_obs(obs(
        LOINC,
        "718-7",
        json!({"effectiveDateTime": null, "effectivePeriod": {"start": "2026-02-27", "end": "2026-02-28"}}),
    ));
    assert_eq!(
        o.effective,
        Some(FhirTime {
            instant: datetime!(2026-02-27 00:00 UTC),
            precise: false
        })
    );
    let o = one_obs(obs(
        LOINC,
        "718-7",
        json!({"effectiveDateTime": null, "effectiveInstant": "2026-02-27T13:45:10.123+01:00"}),
    ));
    assert_eq!(
        o.effective.map(|t| t.instant),
        Some(datetime!(2026-02-27 12:45:10.123 UTC))
    );
    let o = one_obs(obs(LOINC, "718-7", json!({"effectiveDateTime": null})));
    assert_eq!(
        o.effective.map(|t| t.instant),
        Some(datetime!(2026-03-01 09:12 UTC))
    );
    let o = one_obs(obs(
        LOINC,
        "718-7",
        json!({"effectiveDateTime": null, "issued": null}),
    ));
    assert_eq!(o.effective, None);
}

#[test]
fn observation_without_id_is_read() {
    let o = one_obs(obs(
        LOINC,
        "718-7",
        json!({"id": null, "valueQuantity": qty(12.0, "g/dL", "g/dL")}),
    ));
    assert_eq!(o.id, None);
}

#[test]
fn observation_kind_from_a_later_coding() {
    let o = one_obs(with(
        obs(
            LOINC,
            "x",
            json!({"valueQuantity": qty(12.0, "g/dL", "g/dL")}),
        ),
        json!({
            "code": {"coding": [{"system": "urn:oid:1.2.3", "code": "HGB"}, {"system": LOINC, "code": "718-7"}]}
        }),
    ));
    assert_eq!(o.value, ObservationValue::Hemoglobin(Measured::Known(12.0)));
}

fn lab(code: &str, value: Value) -> ObservationValue {
    one_obs(obs(LOINC, code, value)).value
}

#[test]
fn renal_labs() {
    assert_eq!(
        lab(
            "33914-3",
            json!({"valueQuantity": qty(42.0, "mL/min/1.73m2", "mL/min/{1.73_m2}")})
        ),
        ObservationValue::Egfr(Measured::Known(42.0))
    );
    assert_eq!(
        lab(
            "98979-8",
            json!({"valueQuantity": {"value": 28, "unit": "mL/min/1.73 m2"}})
        ),
        ObservationValue::Egfr(Measured::Known(28.0))
    );
    // ">60" is not below any renal threshold: kept.
    assert_eq!(
        lab(
            "62238-1",
            json!({"valueQuantity": with(qty(60.0, "mL/min/1.73m2", "mL/min/{1.73_m2}"), json!({"comparator": ">"}))})
        ),
        ObservationValue::Egfr(Measured::Known(60.0))
    );
    assert_eq!(
        lab(
            "33914-3",
            json!({"valueQuantity": qty(1.1, "mg/dL", "mg/dL")})
        ),
        ObservationValue::Egfr(Measured::Unknown)
    );
    assert_eq!(
        lab(
            "33914-3",
            json!({"dataAbsentReason": {"text": "haemolysed"}})
        ),
        ObservationValue::Egfr(Measured::Unknown)
    );
    assert_eq!(
        lab(
            "2164-2",
            json!({"valueQuantity": qty(55.0, "mL/min", "mL/min")})
        ),
        ObservationValue::CreatinineClearance(Measured::Known(55.0))
    );
    assert_eq!(
        lab(
            "35591-7",
            json!({"valueQuantity": qty(55.0, "mL/min/1.73m2", "mL/min/{1.73_m2}")})
        ),
        ObservationValue::CreatinineClearance(Measured::Unknown)
    );
}

#[test]
fn blood_counts_weight_and_pain() {
    assert_eq!(
        lab(
            "777-3",
            json!({"valueQuantity": qty(85.0, "10*3/uL", "10*3/uL")})
        ),
        ObservationValue::Platelets(Measured::Known(85.0))
    );
    assert_eq!(
        lab(
            "26515-7",
            json!({"valueQuantity": {"value": 150000, "unit": "/uL"}})
        ),
        ObservationValue::Platelets(Measured::Known(150.0))
    );
    assert_eq!(
        lab(
            "777-3",
            json!({"valueQuantity": qty(210.0, "10^9/L", "10*9/L")})
        ),
        ObservationValue::Platelets(Measured::Known(210.0))
    );
    assert_eq!(
        lab(
            "777-3",
            json!({"valueQuantity": {"value": 210, "unit": "%"}})
        ),
        ObservationValue::Platelets(Measured::Unknown)
    );
    assert_eq!(
        lab("718-7", json!({"valueQuantity": qty(95.0, "g/L", "g/L")})),
        ObservationValue::Hemoglobin(Measured::Known(9.5))
    );
    match lab(
        "718-7",
        json!({"valueQuantity": qty(6.0, "mmol/L", "mmol/L")}),
    ) {
        ObservationValue::Hemoglobin(Measured::Known(v)) => assert!((v - 9.666).abs() < 1e-9),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        lab("29463-7", json!({"valueQuantity": qty(72.5, "kg", "kg")})),
        ObservationValue::BodyWeight(Measured::Known(72.5))
    );
    assert_eq!(
        lab("29463-7", json!({"valueQuantity": qty(72500.0, "g", "g")})),
        ObservationValue::BodyWeight(Measured::Known(72.5))
    );
    match lab(
        "29463-7",
        json!({"valueQuantity": qty(160.0, "lb", "[lb_av]")}),
    ) {
        ObservationValue::BodyWeight(Measured::Known(v)) => {
            assert!((v - 72.574_779_2).abs() < 1e-9)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        lab(
            "29463-7",
            json!({"valueQuantity": qty(11.0, "stone", "[stone_av]")})
        ),
        ObservationValue::BodyWeight(Measured::Unknown)
    );
    assert_eq!(
        lab("29463-7", json!({"valueQuantity": qty(-72.0, "kg", "kg")})),
        ObservationValue::BodyWeight(Measured::Unknown)
    );
    assert_eq!(
        lab("72514-3", json!({"valueInteger": 8})),
        ObservationValue::PainSeverity(Measured::Known(8.0))
    );
    assert_eq!(
        lab(
            "72514-3",
            json!({"valueQuantity": {"value": 6, "system": UCUM, "code": "{score}"}})
        ),
        ObservationValue::PainSeverity(Measured::Known(6.0))
    );
    assert_eq!(
        lab("72514-3", json!({"valueQuantity": {"value": 4}})),
        ObservationValue::PainSeverity(Measured::Known(4.0))
    );
    assert_eq!(
        lab("72514-3", json!({"valueInteger": 11})),
        ObservationValue::PainSeverity(Measured::Unknown)
    );
}

#[test]
fn pregnancy_status_and_sars_cov_2() {
    let answer = |system: &str, code: &str| json!({"valueCodeableConcept": {"coding": [{"system": system, "code": code}]}});
    assert_eq!(
        lab("82810-3", answer(SNOMED, "77386006")),
        ObservationValue::PregnancyStatus(Measured::Known(true))
    );
    assert_eq!(
        lab("82810-3", answer(SNOMED, "60001007")),
        ObservationValue::PregnancyStatus(Measured::Known(false))
    );
    assert_eq!(
        lab("82810-3", answer(SNOMED, "261665006")),
        ObservationValue::PregnancyStatus(Measured::Unknown)
    );
    assert_eq!(
        lab(
            "82810-3",
            answer("http://terminology.hl7.org/CodeSystem/v3-NullFlavor", "UNK")
        ),
        ObservationValue::PregnancyStatus(Measured::Unknown)
    );
    assert_eq!(
        lab("82810-3", json!({"valueString": "pregnant"})),
        ObservationValue::PregnancyStatus(Measured::Unknown)
    );
    assert_eq!(
        lab("94500-6", answer(SNOMED, "260373001")),
        ObservationValue::SarsCov2(Measured::Known(true))
    );
    assert_eq!(
        lab("94500-6", answer(SNOMED, "260385009")),
        ObservationValue::SarsCov2(Measured::Known(false))
    );
    assert_eq!(
        lab("94309-2", json!({"valueString": "DETECTED"})),
        ObservationValue::SarsCov2(Measured::Known(true))
    );
    assert_eq!(
        lab("94309-2", json!({"valueString": "invalid specimen"})),
        ObservationValue::SarsCov2(Measured::Unknown)
    );
}

fn finding(code: &str, value: Value) -> UltrasoundFinding {
    match one_obs(obs(FINDING, code, value)).value {
        ObservationValue::Finding(f) => f,
        other => panic!("not a finding: {other:?}"),
    }
}

#[test]
fn ultrasound_findings() {
    use UltrasoundFinding as F;
    let length = finding(
        "thrombus-length",
        json!({"valueQuantity": qty(62.0, "mm", "mm")}),
    );
    assert!(matches!(length, F::ThrombusLength(Measured::Known(v)) if (v - 6.2).abs() < 1e-9));
    assert_eq!(
        finding(
            "thrombus-length",
            json!({"valueQuantity": qty(4.0, "cm", "cm")})
        ),
        F::ThrombusLength(Measured::Known(4.0))
    );
    assert_eq!(
        finding(
            "thrombus-length",
            json!({"valueQuantity": qty(2.0, "in", "[in_i]")})
        ),
        F::ThrombusLength(Measured::Unknown)
    );
    assert_eq!(
        finding(
            "thrombus-length",
            json!({"valueQuantity": qty(-3.0, "cm", "cm")})
        ),
        F::ThrombusLength(Measured::Unknown)
    );
    assert_eq!(
        finding(
            "thrombus-diameter",
            json!({"valueQuantity": qty(0.8, "cm", "cm")})
        ),
        F::ThrombusDiameter(Measured::Known(8.0))
    );
    assert_eq!(
        finding(
            "thrombus-diameter",
            json!({"valueQuantity": qty(6.0, "mm", "mm")})
        ),
        F::ThrombusDiameter(Measured::Known(6.0))
    );
    assert_eq!(
        finding(
            "distance-to-proximal-veins",
            json!({"valueQuantity": qty(35.0, "mm", "mm")})
        ),
        F::DistanceToProximalVeins(Measured::Known(3.5))
    );
    assert_eq!(
        finding("veins-involved", json!({"valueInteger": 2})),
        F::VeinsInvolved(Measured::Known(2))
    );
    assert_eq!(
        finding("veins-involved", json!({"valueQuantity": {"value": 3}})),
        F::VeinsInvolved(Measured::Known(3))
    );
    assert_eq!(
        finding("veins-involved", json!({"valueQuantity": {"value": 1.5}})),
        F::VeinsInvolved(Measured::Unknown)
    );
    assert_eq!(
        finding(
            "veins-involved",
            json!({"valueQuantity": {"value": 2, "unit": "cm"}})
        ),
        F::VeinsInvolved(Measured::Unknown)
    );
    assert_eq!(
        finding("near-proximal-veins", json!({"valueBoolean": true})),
        F::NearProximalVeins(Measured::Known(true))
    );
    assert_eq!(
        finding("near-proximal-veins", json!({})),
        F::NearProximalVeins(Measured::Unknown)
    );
    assert_eq!(
        finding("extends-to-proximal-veins", json!({"valueBoolean": false})),
        F::ExtendsToProximalVeins(Measured::Known(false))
    );
    let vein = finding(
        "vein-involved",
        json!({"valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "4258007", "display": "Posterior tibial vein"}]}}),
    );
    assert!(matches!(&vein, F::VeinInvolved(c) if c.len() == 1 && c[0].code == "4258007"));
    let vein = finding(
        "vein-involved",
        json!({"bodySite": {"coding": [{"system": SNOMED, "code": "71758008"}, {"system": SNOMED, "code": "7771000"}]}}),
    );
    assert!(matches!(&vein, F::VeinInvolved(c) if c.len() == 2 && c[0].code == "71758008"));
}

// ---------------------------------------------------------------- MedicationRequest

fn med_request(extra: Value) -> Value {
    with(
        json!({
            "resourceType": "MedicationRequest",
            "id": "mr-1",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "1364435", "display": "apixaban 5 MG Oral Tablet"}]},
            "subject": {"reference": "Patient/pat-1"},
            "authoredOn": "2026-03-01T11:00:00Z",
            "dosageInstruction": [{
                "sequence": 1,
                "text": "5 mg by mouth twice daily",
                "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                "route": {"coding": [{"system": SNOMED, "code": "26643006", "display": "Oral route"}]},
                "doseAndRate": [{"doseQuantity": {"value": 5, "unit": "mg", "system": UCUM, "code": "mg"}}]
            }]
        }),
        extra,
    )
}

fn one_med(resource: Value) -> MedicationOrderFact {
    let mut f = facts(DataSource::Medications, resource);
    assert!(
        f.unreadable.is_empty(),
        "unexpected unreadable: {:?}",
        f.unreadable
    );
    f.medications.remove(0)
}

#[test]
fn medication_request_fields() {
    let m = one_med(med_request(json!({
        "reasonCode": [{"coding": [{"system": ICD10CM, "code": "I82.461"}]}],
        "reasonReference": [{"reference": "Condition/cond-dvt"}]
    })));
    assert_eq!(m.id.as_deref(), Some("mr-1"));
    assert_eq!(m.status, MedicationStatus::Active);
    assert_eq!(m.intent, MedicationIntent::Order);
    assert_eq!(
        m.ingredient,
        Some(Ingredient::Apixaban),
        "from the SCD code"
    );
    assert_eq!(m.codes[0].code, "1364435");
    assert_eq!(m.label.as_deref(), Some("apixaban 5 MG Oral Tablet"));
    assert_eq!(
        m.dose,
        Some(Dose {
            amount: 5.0,
            unit: DoseUnit::Mg
        })
    );
    assert_eq!(m.doses_per_day, Some(2.0));
    assert_eq!(m.route, Some(Route::Oral));
    assert_eq!(m.total_duration_days, None);
    assert_eq!(m.reason_codes[0].code, "I82.461");
    assert_eq!(m.reason_references, vec!["Condition/cond-dvt".to_owned()]);
    assert_eq!(
        m.authored_on.map(|t| t.instant),
        Some(datetime!(2026-03-01 11:00 UTC))
    );
}

#[test]
fn medication_statuses_and_intents() {
    for (status, want) in [
        ("on-hold", MedicationStatus::OnHold),
        ("cancelled", MedicationStatus::Cancelled),
        ("completed", MedicationStatus::Completed),
        ("entered-in-error", MedicationStatus::EnteredInError),
        ("stopped", MedicationStatus::Stopped),
        ("draft", MedicationStatus::Draft),
        ("unknown", MedicationStatus::Unknown),
        ("paused", MedicationStatus::Unknown),
    ] {
        assert_eq!(
            one_med(med_request(json!({"status": status}))).status,
            want,
            "{status}"
        );
    }
    for (intent, want) in [
        ("proposal", MedicationIntent::Proposal),
        ("plan", MedicationIntent::Plan),
        ("original-order", MedicationIntent::OriginalOrder),
        ("reflex-order", MedicationIntent::ReflexOrder),
        ("filler-order", MedicationIntent::FillerOrder),
        ("instance-order", MedicationIntent::InstanceOrder),
        ("option", MedicationIntent::Option),
    ] {
        assert_eq!(
            one_med(med_request(json!({"intent": intent}))).intent,
            want,
            "{intent}"
        );
    }
    let f = facts(
        DataSource::Medications,
        med_request(json!({"intent": "wish"})),
    );
    assert!(f.medications.is_empty());
    assert_eq!(f.unreadable[0].resource_type, "MedicationRequest");
    assert_eq!(f.unreadable[0].source, DataSource::Medications);
}

#[test]
fn ingredient_from_names_when_no_rxnorm_code_matches() {
    let m = one_med(med_request(
        json!({"medicationCodeableConcept": {"coding": [{"system": "urn:oid:2.16.840.1.113883.6.69", "code": "0597-0153-60", "display": "Xarelto 20 MG Oral Tablet"}]}}),
    ));
    assert_eq!(m.ingredient, Some(Ingredient::Rivaroxaban));
    let m = one_med(med_request(
        json!({"medicationCodeableConcept": {"text": "Enoxaparin sodium 80 mg/0.8 mL syringe"}}),
    ));
    assert_eq!(m.ingredient, Some(Ingredient::Enoxaparin));
    assert!(m.codes.is_empty());
    assert_eq!(
        m.label.as_deref(),
        Some("Enoxaparin sodium 80 mg/0.8 mL syringe")
    );
    let m = one_med(med_request(
        json!({"medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "999999999"}], "text": "Vitamin D3"}}),
    ));
    assert_eq!(m.ingredient, None);
}

#[test]
fn ingredient_from_a_contained_medication() {
    let m = one_med(med_request(json!({
        "contained": [{"resourceType": "Medication", "id": "med1", "code": {"coding": [{"system": RXNORM, "code": "67108", "display": "enoxaparin"}]}}],
        "medicationCodeableConcept": null,
        "medicationReference": {"reference": "#med1"}
    })));
    assert_eq!(m.ingredient, Some(Ingredient::Enoxaparin));
    assert_eq!(m.codes[0].code, "67108");
    let m = one_med(med_request(json!({
        "medicationCodeableConcept": null,
        "medicationReference": {"reference": "Medication/abc", "display": "Warfarin 5 mg tablet"}
    })));
    assert_eq!(m.ingredient, Some(Ingredient::Warfarin));
    assert_eq!(m.label.as_deref(), Some("Warfarin 5 mg tablet"));
}

fn dosage(extra: Value) -> Value {
    with(
        json!({"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}}),
        extra,
    )
}

#[test]
fn doses_units_and_ranges() {
    let dose_of = |d: Value| {
        one_med(med_request(
            json!({"dosageInstruction": [dosage(json!({"doseAndRate": [d]}))]}),
        ))
        .dose
    };
    assert_eq!(
        dose_of(
            json!({"doseQuantity": {"value": 5000, "unit": "IU", "system": UCUM, "code": "[iU]"}})
        ),
        Some(Dose {
            amount: 5000.0,
            unit: DoseUnit::InternationalUnit
        })
    );
    assert_eq!(
        dose_of(json!({"doseQuantity": {"value": 5000, "unit": "units"}})),
        Some(Dose {
            amount: 5000.0,
            unit: DoseUnit::InternationalUnit
        })
    );
    assert_eq!(
        dose_of(json!({"doseQuantity": {"value": 1, "unit": "mg/kg", "code": "mg/kg"}})),
        Some(Dose {
            amount: 1.0,
            unit: DoseUnit::MgPerKg
        })
    );
    assert_eq!(
        dose_of(json!({"doseQuantity": {"value": 1, "unit": "tablet", "code": "{tbl}"}})),
        Some(Dose {
            amount: 1.0,
            unit: DoseUnit::Other("{tbl}".into())
        })
    );
    assert_eq!(
        dose_of(
            json!({"doseRange": {"low": {"value": 2.5, "code": "mg"}, "high": {"value": 5, "code": "mg"}}})
        ),
        Some(Dose {
            amount: 5.0,
            unit: DoseUnit::Mg
        })
    );
    assert_eq!(dose_of(json!({"doseQuantity": {"unit": "mg"}})), None);
    let m = one_med(med_request(json!({"dosageInstruction": null})));
    assert_eq!((m.dose, m.doses_per_day, m.route), (None, None, None));
}

#[test]
fn doses_per_day_from_repeat_and_codes() {
    let per_day = |timing: Value| {
        one_med(med_request(
            json!({"dosageInstruction": [{"timing": timing}]}),
        ))
        .doses_per_day
    };
    assert_eq!(
        per_day(json!({"repeat": {"frequency": 1, "period": 12, "periodUnit": "h"}})),
        Some(2.0)
    );
    assert_eq!(
        per_day(json!({"repeat": {"period": 24, "periodUnit": "h"}})),
        Some(1.0)
    );
    assert_eq!(
        per_day(json!({"repeat": {"frequency": 7, "period": 1, "periodUnit": "wk"}})),
        Some(1.0)
    );
    let gts = "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation";
    for (code, want) in [
        ("QD", 1.0),
        ("QOD", 0.5),
        ("BID", 2.0),
        ("TID", 3.0),
        ("QID", 4.0),
        ("Q12H", 2.0),
        ("Q8H", 3.0),
        ("Q6H", 4.0),
        ("Q24H", 1.0),
    ] {
        assert_eq!(
            per_day(json!({"code": {"coding": [{"system": gts, "code": code}]}})),
            Some(want),
            "{code}"
        );
    }
    assert_eq!(per_day(json!({"code": {"text": "BID"}})), Some(2.0));
    assert_eq!(
        per_day(json!({"code": {"text": "every 12 hours"}})),
        Some(2.0)
    );
    assert_eq!(per_day(json!({"code": {"text": "as directed"}})), None);
    assert_eq!(per_day(json!({"repeat": {"frequency": 2}})), None);
}

#[test]
fn routes_from_codes_and_text() {
    let route = |r: Value| {
        one_med(med_request(
            json!({"dosageInstruction": [dosage(json!({"route": r}))]}),
        ))
        .route
    };
    assert_eq!(
        route(json!({"coding": [{"system": SNOMED, "code": "34206005"}]})),
        Some(Route::Subcutaneous)
    );
    assert_eq!(
        route(json!({"coding": [{"system": SNOMED, "code": "47625008"}]})),
        Some(Route::Intravenous)
    );
    assert_eq!(route(json!({"text": "SC"})), Some(Route::Subcutaneous));
    assert_eq!(
        route(json!({"text": "Subcutaneous injection"})),
        Some(Route::Subcutaneous)
    );
    assert_eq!(route(json!({"text": "sq"})), Some(Route::Subcutaneous));
    assert_eq!(route(json!({"text": "IV push"})), Some(Route::Intravenous));
    assert_eq!(
        route(
            json!({"coding": [{"system": "urn:local", "code": "7", "display": "By mouth (PO)"}]})
        ),
        Some(Route::Oral)
    );
    assert_eq!(route(json!({"text": "Oral"})), Some(Route::Oral));
    assert_eq!(
        route(json!({"text": "given topically"})),
        Some(Route::Other)
    );
}

fn bounded(seq: Option<i32>, days: f64, unit: &str) -> Value {
    let mut d = json!({"timing": {"repeat": {"boundsDuration": {"value": days, "unit": unit, "system": UCUM, "code": unit}, "frequency": 2, "period": 1, "periodUnit": "d"}}});
    if let (Some(s), Some(o)) = (seq, d.as_object_mut()) {
        o.insert("sequence".into(), json!(s));
    }
    d
}

fn open_ended(seq: i32) -> Value {
    json!({"sequence": seq, "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}}})
}

fn supply(value: f64, unit: &str) -> Value {
    json!({"expectedSupplyDuration": {"value": value, "unit": unit, "system": UCUM, "code": unit}})
}

fn duration(extra: Value) -> Option<f64> {
    one_med(med_request(extra)).total_duration_days
}

#[test]
fn total_duration_the_service_own_apixaban_draft_reads_90_days() {
    assert_eq!(
        duration(
            json!({"dosageInstruction": [bounded(Some(1), 7.0, "d"), bounded(Some(2), 83.0, "d")], "dispenseRequest": supply(90.0, "d")})
        ),
        Some(90.0)
    );
    // The bounds alone sum to the total.
    assert_eq!(
        duration(
            json!({"dosageInstruction": [bounded(Some(1), 7.0, "d"), bounded(Some(2), 83.0, "d")]})
        ),
        Some(90.0)
    );
    assert_eq!(
        duration(
            json!({"dosageInstruction": [bounded(None, 21.0, "d"), bounded(None, 69.0, "d")]})
        ),
        Some(90.0)
    );
}

#[test]
fn total_duration_open_ended_phase_gives_no_dosage_total() {
    // 7 days, then open-ended: not a 7-day course.
    assert_eq!(
        duration(json!({"dosageInstruction": [bounded(Some(1), 7.0, "d"), open_ended(2)]})),
        None
    );
    assert_eq!(
        duration(
            json!({"dosageInstruction": [bounded(Some(1), 7.0, "d"), open_ended(2)], "dispenseRequest": supply(30.0, "d")})
        ),
        Some(30.0)
    );
    // The larger of the two.
    assert_eq!(
        duration(
            json!({"dosageInstruction": [bounded(Some(1), 10.0, "d")], "dispenseRequest": supply(1.0, "mo")})
        ),
        Some(30.0)
    );
    assert_eq!(
        duration(
            json!({"dosageInstruction": [bounded(Some(1), 6.0, "wk")], "dispenseRequest": supply(30.0, "d")})
        ),
        Some(42.0)
    );
    assert_eq!(
        duration(json!({"dispenseRequest": supply(3.0, "mo")})),
        Some(90.0)
    );
    assert_eq!(
        duration(json!({"dispenseRequest": supply(1.0, "a")})),
        Some(365.0)
    );
    assert_eq!(
        duration(json!({"dosageInstruction": [bounded(None, 72.0, "h")]})),
        Some(3.0)
    );
    // An unknown bound unit is no bound.
    assert_eq!(
        duration(json!({"dosageInstruction": [bounded(Some(1), 3.0, "fortnights")]})),
        None
    );
}

#[test]
fn total_duration_bounds_period_and_concurrent_instructions() {
    let period = json!({"timing": {"repeat": {"boundsPeriod": {"start": "2026-03-01", "end": "2026-05-29"}}}});
    assert_eq!(duration(json!({"dosageInstruction": [period]})), Some(90.0));
    // Morning and evening instructions of one sequence run together: 30 days, not 60.
    assert_eq!(
        duration(
            json!({"dosageInstruction": [bounded(Some(1), 30.0, "d"), bounded(Some(1), 30.0, "d")]})
        ),
        Some(30.0)
    );
}

// ---------------------------------------------------------------- ServiceRequest, Encounter, Procedure

fn duplex_order(extra: Value) -> Value {
    with(
        json!({
            "resourceType": "ServiceRequest",
            "id": "sr-1",
            "status": "active",
            "intent": "order",
            "code": {"coding": [{"system": LOINC, "code": "30881-7", "display": "US Doppler lower extremity vein"}, {"system": "http://www.ama-assn.org/go/cpt", "code": "93971"}]},
            "subject": {"reference": "Patient/pat-1"},
            "occurrenceDateTime": "2026-03-08",
            "authoredOn": "2026-03-01T12:00:00Z",
            "bodySite": [{"coding": [{"system": SNOMED, "code": "24028007", "display": "Right"}]}]
        }),
        extra,
    )
}

#[test]
fn service_request_fields() {
    let f = facts(DataSource::ServiceRequests, duplex_order(json!({})));
    let s = &f.service_requests[0];
    assert_eq!(s.id.as_deref(), Some("sr-1"));
    assert_eq!(s.status, RequestStatus::Active);
    assert!(s.codes.iter().any(|c| rules().duplex.is_duplex(c)));
    assert_eq!(s.label.as_deref(), Some("US Doppler lower extremity vein"));
    assert_eq!(
        s.occurrence,
        Some(FhirTime {
            instant: datetime!(2026-03-08 00:00 UTC),
            precise: false
        })
    );
    assert_eq!(
        s.authored_on.map(|t| t.instant),
        Some(datetime!(2026-03-01 12:00 UTC))
    );
    assert_eq!(s.body_sites[0].code, "24028007");
    for (status, want) in [
        ("draft", RequestStatus::Draft),
        ("on-hold", RequestStatus::OnHold),
        ("revoked", RequestStatus::Revoked),
        ("completed", RequestStatus::Completed),
        ("entered-in-error", RequestStatus::EnteredInError),
        ("unknown", RequestStatus::Unknown),
    ] {
        let f = facts(
            DataSource::ServiceRequests,
            duplex_order(json!({"status": status})),
        );
        assert_eq!(f.service_requests[0].status, want);
    }
    let f = facts(
        DataSource::ServiceRequests,
        duplex_order(
            json!({"occurrenceDateTime": null, "occurrencePeriod": {"start": "2026-03-09T08:00:00Z"}}),
        ),
    );
    assert_eq!(
        f.service_requests[0].occurrence.map(|t| t.instant),
        Some(datetime!(2026-03-09 08:00 UTC))
    );
}

#[test]
fn encounter_fields() {
    let e = json!({
        "resourceType": "Encounter", "id": "enc-1", "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP", "display": "inpatient encounter"},
        "subject": {"reference": "Patient/pat-1"},
        "period": {"start": "2026-02-20T14:00:00Z", "end": "2026-02-25"}
    });
    let f = facts(DataSource::Encounters, e.clone());
    let enc = &f.encounters[0];
    assert_eq!(enc.status, EncounterStatus::InProgress);
    assert_eq!(enc.class_code.as_deref(), Some("IMP"));
    assert_eq!(
        enc.period_start.map(|t| t.instant),
        Some(datetime!(2026-02-20 14:00 UTC))
    );
    assert_eq!(
        enc.period_end,
        Some(FhirTime {
            instant: datetime!(2026-02-25 00:00 UTC),
            precise: false
        })
    );
    for (status, want) in [
        ("planned", EncounterStatus::Planned),
        ("arrived", EncounterStatus::Arrived),
        ("triaged", EncounterStatus::Triaged),
        ("onleave", EncounterStatus::Onleave),
        ("finished", EncounterStatus::Finished),
        ("cancelled", EncounterStatus::Cancelled),
        ("entered-in-error", EncounterStatus::EnteredInError),
        ("unknown", EncounterStatus::Unknown),
    ] {
        let f = facts(
            DataSource::Encounters,
            with(e.clone(), json!({"status": status})),
        );
        assert_eq!(f.encounters[0].status, want);
    }
}

#[test]
fn procedure_fields() {
    let p = json!({
        "resourceType": "Procedure", "id": "proc-1", "status": "completed",
        "category": {"coding": [{"system": SNOMED, "code": "387713003", "display": "Surgical procedure"}]},
        "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "27447"}], "text": "Total knee arthroplasty"},
        "subject": {"reference": "Patient/pat-1"},
        "performedPeriod": {"start": "2026-02-10T08:00:00Z", "end": "2026-02-10T11:30:00Z"}
    });
    let f = facts(DataSource::Procedures, p.clone());
    let proc = &f.procedures[0];
    assert_eq!(proc.status, ProcedureStatus::Completed);
    assert_eq!(proc.codes[0].code, "27447");
    assert!(
        rules()
            .value_sets
            .any(ValueSetId::SurgicalProcedure, &proc.category)
    );
    assert_eq!(proc.label.as_deref(), Some("Total knee arthroplasty"));
    assert_eq!(
        proc.performed.map(|t| t.instant),
        Some(datetime!(2026-02-10 11:30 UTC))
    );
    let f = facts(
        DataSource::Procedures,
        with(
            p.clone(),
            json!({"performedPeriod": {"start": "2026-02-10"}}),
        ),
    );
    assert_eq!(
        f.procedures[0].performed.map(|t| t.instant),
        Some(datetime!(2026-02-10 00:00 UTC))
    );
    let f = facts(
        DataSource::Procedures,
        with(
            p.clone(),
            json!({"performedPeriod": null, "performedDateTime": "2026-01-05T10:00:00Z"}),
        ),
    );
    assert_eq!(
        f.procedures[0].performed.map(|t| t.instant),
        Some(datetime!(2026-01-05 10:00 UTC))
    );
    for (status, want) in [
        ("preparation", ProcedureStatus::Preparation),
        ("in-progress", ProcedureStatus::InProgress),
        ("not-done", ProcedureStatus::NotDone),
        ("on-hold", ProcedureStatus::OnHold),
        ("stopped", ProcedureStatus::Stopped),
        ("entered-in-error", ProcedureStatus::EnteredInError),
        ("unknown", ProcedureStatus::Unknown),
    ] {
        let f = facts(
            DataSource::Procedures,
            with(p.clone(), json!({"status": status})),
        );
        assert_eq!(f.procedures[0].status, want);
    }
}

// ---------------------------------------------------------------- Drafts

fn bundle(resources: Vec<Value>) -> Value {
    json!({"resourceType": "Bundle", "type": "collection",
           "entry": resources.into_iter().map(|r| json!({"resource": r})).collect::<Vec<_>>()})
}

fn draft_med(id: &str, extra: Value) -> Value {
    with(med_request(json!({"id": id, "status": "draft"})), extra)
}

#[test]
fn selected_and_unselected_drafts() {
    let drafts = bundle(vec![
        draft_med("mr-a", json!({})),
        draft_med("mr-b", json!({})),
        with(
            duplex_order(json!({"status": "draft"})),
            json!({"id": "sr-a"}),
        ),
        json!({"resourceType": "NutritionOrder", "id": "no-1", "status": "draft", "intent": "order", "patient": {"reference": "Patient/pat-1"}, "dateTime": "2026-03-01"}),
    ]);
    let f = facts_with(
        &[],
        &drafts,
        &[
            "MedicationRequest/mr-a",
            "https://ehr.example.org/fhir/ServiceRequest/sr-a",
        ],
    );
    let got: Vec<(&str, bool)> = f
        .draft_orders
        .iter()
        .map(|d| (d.reference.as_str(), d.selected))
        .collect();
    assert_eq!(
        got,
        [
            ("MedicationRequest/mr-a", true),
            ("MedicationRequest/mr-b", false),
            ("ServiceRequest/sr-a", true),
            ("NutritionOrder/no-1", false)
        ]
    );
    assert!(
        matches!(&f.draft_orders[0].order, DraftOrderKind::Medication(m) if m.ingredient == Some(Ingredient::Apixaban) && m.status == MedicationStatus::Draft)
    );
    assert!(
        matches!(&f.draft_orders[2].order, DraftOrderKind::Service(s) if s.status == RequestStatus::Draft)
    );
    assert_eq!(f.draft_orders[3].order, DraftOrderKind::Other);
    assert!(f.unreadable.is_empty());
    // order-sign: no selections, nothing selected.
    let f = facts_with(&[], &drafts, &[]);
    assert!(f.draft_orders.iter().all(|d| !d.selected));
    // A selection ending in another id is not this draft.
    let f = facts_with(
        &[],
        &drafts,
        &["MedicationRequest/mr-aa", "ServiceRequest/sr"],
    );
    assert!(f.draft_orders.iter().all(|d| !d.selected));
}

#[test]
fn draft_references_without_id() {
    let drafts = json!({"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:7f1c2d3e-0000-4000-8000-000000000001", "resource": draft_med("x", json!({"id": null}))},
        {"resource": draft_med("x", json!({"id": null}))},
        {"fullUrl": "urn:uuid:no-resource"}
    ]});
    let f = facts_with(
        &[],
        &drafts,
        &["urn:uuid:7f1c2d3e-0000-4000-8000-000000000001"],
    );
    assert_eq!(f.draft_orders.len(), 2);
    assert_eq!(
        f.draft_orders[0].reference,
        "urn:uuid:7f1c2d3e-0000-4000-8000-000000000001"
    );
    assert!(f.draft_orders[0].selected);
    assert_eq!(f.draft_orders[1].reference, "MedicationRequest/#1");
    assert!(!f.draft_orders[1].selected);
}

#[test]
fn incomplete_drafts_are_read_tolerantly() {
    // No subject yet, and a bad element the facts do not read.
    let no_subject = draft_med(
        "mr-1",
        json!({"subject": null, "priority": "whenever", "status": null, "intent": null}),
    );
    // No medication[x] yet.
    let no_medication = draft_med("mr-2", json!({"medicationCodeableConcept": null}));
    let no_subject_sr = with(
        duplex_order(json!({"status": "draft"})),
        json!({"id": "sr-2", "subject": null}),
    );
    let f = facts_with(
        &[],
        &bundle(vec![no_subject, no_medication, no_subject_sr]),
        &[],
    );
    assert!(f.unreadable.is_empty());
    match &f.draft_orders[0].order {
        DraftOrderKind::Medication(m) => {
            assert_eq!(m.ingredient, Some(Ingredient::Apixaban));
            assert_eq!(m.status, MedicationStatus::Draft);
            assert_eq!(m.intent, MedicationIntent::Order);
            assert_eq!(
                m.dose,
                Some(Dose {
                    amount: 5.0,
                    unit: DoseUnit::Mg
                })
            );
        }
        other => panic!("{other:?}"),
    }
    match &f.draft_orders[1].order {
        DraftOrderKind::Medication(m) => {
            assert_eq!(m.ingredient, None);
            assert_eq!(m.doses_per_day, Some(2.0));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(&f.draft_orders[2].order, DraftOrderKind::Service(s) if s.id.as_deref() == Some("sr-2"))
    );
}

#[test]
fn unreadable_drafts_are_other_and_recorded() {
    let broken_med = draft_med("mr-x", json!({"dosageInstruction": "take as needed"}));
    let broken_sr = with(
        duplex_order(json!({})),
        json!({"id": "sr-x", "status": "pending"}),
    );
    let f = facts_with(
        &[],
        &bundle(vec![broken_med, broken_sr]),
        &["MedicationRequest/mr-x"],
    );
    assert_eq!(f.draft_orders[0].order, DraftOrderKind::Other);
    assert!(f.draft_orders[0].selected);
    assert_eq!(f.draft_orders[1].order, DraftOrderKind::Other);
    let sources: Vec<(&str, DataSource)> = f
        .unreadable
        .iter()
        .map(|u| (u.resource_type.as_str(), u.source))
        .collect();
    assert_eq!(
        sources,
        [
            ("MedicationRequest", DataSource::Medications),
            ("ServiceRequest", DataSource::ServiceRequests)
        ]
    );
}

// ---------------------------------------------------------------- Whole extraction

#[test]
fn resources_are_read_by_their_own_type_and_unknown_types_ignored() {
    let f = facts_with(
        &[
            (
                DataSource::Conditions,
                obs(
                    LOINC,
                    "718-7",
                    json!({"valueQuantity": qty(9.1, "g/dL", "g/dL")}),
                ),
            ),
            (
                DataSource::Conditions,
                json!({"resourceType": "Basic", "id": "b1", "code": {"text": "x"}}),
            ),
            (
                DataSource::Conditions,
                json!({"resourceType": "Flag", "id": "f1", "status": "active"}),
            ),
            (DataSource::Conditions, json!({"no": "resourceType"})),
            (DataSource::Medications, calf_dvt("I82.461")),
        ],
        &Value::Null,
        &[],
    );
    assert_eq!(f.observations.len(), 1);
    assert_eq!(f.conditions.len(), 1);
    assert!(f.unreadable.is_empty());
    assert!(f.draft_orders.is_empty());
}

#[test]
fn unreadable_resource_records_the_key_it_came_in() {
    let f = facts(
        DataSource::Observations,
        json!({"resourceType": "Encounter", "id": "e1", "status": "in-progress"}),
    );
    assert_eq!(f.unreadable[0].resource_type, "Encounter");
    assert_eq!(f.unreadable[0].source, DataSource::Observations);
}

#[test]
fn prefetch_bookkeeping_and_context_are_carried() {
    let mut prefetch: serde_json::Map<String, Value> = DataSource::ALL
        .into_iter()
        .map(|s| (s.key().to_owned(), Value::Null))
        .collect();
    prefetch.insert(
        "conditions".into(),
        json!({"resourceType": "Bundle", "type": "searchset", "entry": [
            {"resource": calf_dvt("I82.461"), "search": {"mode": "match"}},
            {"resource": {"resourceType": "OperationOutcome", "issue": [{"severity": "warning", "code": "incomplete"}]}, "search": {"mode": "outcome"}}
        ]}),
    );
    let prefetched = crate::prefetch::collect(&prefetch).unwrap();
    let f = extract(
        &ExtractInput {
            prefetched: &prefetched,
            draft_orders: &json!({"resourceType": "Bundle", "type": "collection"}),
            selections: &[],
            encounter_id: Some("enc-7"),
        },
        rules(),
    );
    assert_eq!(f.conditions.len(), 1);
    assert_eq!(f.skipped_outcomes, 1);
    assert_eq!(f.unavailable_sources.len(), 6);
    assert!(!f.unavailable_sources.contains(&DataSource::Conditions));
    assert_eq!(f.context_encounter_id.as_deref(), Some("enc-7"));
}

#[test]
fn hostile_input_never_panics() {
    let junk = [
        json!(null),
        json!(42),
        json!("Observation"),
        json!([]),
        json!({}),
        json!({"resourceType": 7}),
        json!({"resourceType": "Observation"}),
        json!({"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": LOINC, "code": "48065-7"}]}, "valueQuantity": {"value": 1e308, "code": "mg/dL"}}),
        json!({"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": LOINC, "code": "29463-7"}]}, "valueQuantity": {"value": 70, "code": "kgé/µ{"}}),
        json!({"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": FINDING, "code": "veins-involved"}]}, "valueInteger": -2}),
        json!({"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": 5, "code": {"x": 1}}]}}),
        json!({"resourceType": "Condition", "subject": {}, "onsetDateTime": "9999-12-31T23:59:59-14:00", "code": {"coding": [null, {"system": ICD10CM, "code": "ï82"}]}}),
        json!({"resourceType": "Patient", "birthDate": "-0001"}),
        json!({"resourceType": "Patient", "birthDate": ""}),
        json!({"resourceType": "MedicationRequest", "status": "active", "intent": "order", "subject": {}, "medicationCodeableConcept": {},
               "dosageInstruction": [null, {"timing": {"repeat": {"boundsPeriod": {"start": "9999-12-31", "end": "0001-01-01"}, "period": 0, "periodUnit": "h"}}}],
               "dispenseRequest": {"expectedSupplyDuration": {"value": 1e308, "code": "a"}}}),
        json!({"resourceType": "MedicationRequest", "status": "active", "intent": "order", "subject": {}, "medicationCodeableConcept": {},
               "dosageInstruction": [{"timing": {"code": {"text": "Q99999999999999H"}, "repeat": {"boundsDuration": {"value": 1e308, "code": "a"}}}}, {"timing": {"repeat": {"boundsDuration": {"value": 1e308, "code": "a"}}}}]}),
        json!({"resourceType": "Encounter", "status": "finished", "class": {}}),
        json!({"resourceType": "Procedure", "status": "completed", "subject": {}, "performedString": "last year"}),
        json!({"resourceType": "ServiceRequest", "status": "active", "intent": "order", "subject": {}, "occurrenceTiming": {}}),
    ];
    let resources: Vec<(DataSource, Value)> = junk
        .iter()
        .flat_map(|j| DataSource::ALL.into_iter().map(move |s| (s, j.clone())))
        .collect();
    let drafts = json!({"resourceType": "Bundle", "entry": junk.iter().map(|r| json!({"resource": r, "fullUrl": 3})).collect::<Vec<_>>()});
    let f = facts_with(&resources, &drafts, &["", "/", "MedicationRequest/"]);
    assert!(!f.unreadable.is_empty());
    let _ = facts_with(&[], &json!("not a bundle"), &[]);
    let _ = facts_with(&[], &json!({"entry": {"resource": {}}}), &[]);
}

#[test]
fn malformed_choice_elements_make_the_resource_unreadable() {
    // fhir-sdk would read these as "no value" / "no date" (module `choices`).
    let f = facts(
        DataSource::Observations,
        obs(
            LOINC,
            "48065-7",
            json!({"valueQuantity": {"value": "1.2", "unit": "mg/L"}}),
        ),
    );
    assert!(f.observations.is_empty());
    assert_eq!(f.unreadable[0].lab, Some(LabKind::DDimerFeu));
    let f = facts(
        DataSource::Observations,
        obs(FINDING, "thrombus-length", json!({"valueQuantity": "6 cm"})),
    );
    assert_eq!(
        f.unreadable[0].finding,
        Some(UltrasoundFindingKind::ThrombusLength)
    );
    let f = facts(
        DataSource::Observations,
        obs(LOINC, "718-7", json!({"effectiveDateTime": "yesterday"})),
    );
    assert_eq!(f.unreadable.len(), 1);
    let f = facts(
        DataSource::Conditions,
        with(calf_dvt("I82.461"), json!({"onsetDateTime": "2026-02-30"})),
    );
    assert!(f.conditions.is_empty());
    assert_eq!(f.unreadable[0].resource_type, "Condition");
    let f = facts(
        DataSource::Procedures,
        json!({"resourceType": "Procedure", "status": "completed", "subject": {}, "performedDateTime": "last week"}),
    );
    assert_eq!(f.unreadable[0].resource_type, "Procedure");
    let f = facts(
        DataSource::ServiceRequests,
        duplex_order(json!({"occurrenceDateTime": "soon"})),
    );
    assert_eq!(f.unreadable[0].resource_type, "ServiceRequest");
    let f = facts(
        DataSource::Medications,
        med_request(
            json!({"dosageInstruction": [{"timing": {"repeat": {"boundsDuration": {"value": "7", "code": "d"}}}}]}),
        ),
    );
    assert_eq!(f.unreadable[0].resource_type, "MedicationRequest");
    let f = facts(
        DataSource::Medications,
        med_request(
            json!({"dosageInstruction": [{"doseAndRate": [{"doseQuantity": {"value": "5", "code": "mg"}}]}]}),
        ),
    );
    assert_eq!(f.unreadable[0].resource_type, "MedicationRequest");
    // A well-formed resource without the choice element is read.
    let f = facts(
        DataSource::Observations,
        obs(
            LOINC,
            "718-7",
            json!({"dataAbsentReason": {"text": "clotted"}}),
        ),
    );
    assert_eq!(
        f.observations[0].value,
        ObservationValue::Hemoglobin(Measured::Unknown)
    );
}

#[test]
fn non_ascii_icd_and_cpt_codes_are_dropped() {
    let f = facts(
        DataSource::Conditions,
        with(
            calf_dvt("I82.461"),
            json!({"code": {"coding": [
                {"system": ICD10CM, "code": "éé"},
                {"system": "http://www.ama-assn.org/go/cpt", "code": "2744é"},
                {"system": "urn:local", "code": "thrombose-mollet-é"},
                {"system": ICD10CM, "code": "I82.461"}
            ]}}),
        ),
    );
    let codes: Vec<&str> = f.conditions[0]
        .codes
        .iter()
        .map(|c| c.code.as_str())
        .collect();
    assert_eq!(codes, ["thrombose-mollet-é", "I82.461"]);
    assert!(
        rules()
            .value_sets
            .any(ValueSetId::Distal, &f.conditions[0].codes)
    );
    assert!(
        !rules()
            .value_sets
            .any(ValueSetId::ActiveCancer, &f.conditions[0].codes)
    );
}
