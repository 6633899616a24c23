//! Unit tests: one or more per rule-book row, on hand-built facts. The baseline patient has
//! complete data and no risk factor (→ serial imaging, low bleeding risk, nothing missing);
//! each test changes one thing and checks the rule that must react.

use time::macros::{date, datetime};
use time::{Date, OffsetDateTime};

use super::*;
use crate::config::codes::{ICD10CM, LOINC, SNOMED};
use crate::config::{Code, Config, Ingredient};
use crate::facts::*;

const NOW: OffsetDateTime = datetime!(2026-11-20 12:00 UTC);

fn rules() -> Rules {
    Config::load(&Config::default_dir())
        .expect("shipped config")
        .rules
}

fn at(t: OffsetDateTime) -> Option<FhirTime> {
    Some(FhirTime {
        instant: t,
        precise: true,
    })
}

fn day(d: Date) -> Option<FhirTime> {
    Some(FhirTime {
        instant: d.midnight().assume_utc(),
        precise: false,
    })
}

fn icd(code: &str) -> Code {
    Code::new(ICD10CM, code)
}

fn sct(code: &str) -> Code {
    Code::new(SNOMED, code)
}

fn condition(code: Code, date: Option<FhirTime>) -> ConditionFact {
    ConditionFact {
        id: Some(format!("c-{}", code.code)),
        codes: vec![code],
        label: None,
        clinical_status: Some(ClinicalStatus::Active),
        verification_status: Some(VerificationStatus::Confirmed),
        body_sites: Vec::new(),
        severity: Vec::new(),
        onset: date,
        recorded: date,
        abatement: None,
    }
}

fn obs(value: ObservationValue, when: OffsetDateTime) -> ObservationFact {
    ObservationFact {
        id: None,
        status: ObservationStatus::Final,
        effective: at(when),
        based_on: Vec::new(),
        value,
    }
}

fn finding(f: UltrasoundFinding) -> ObservationFact {
    obs(
        ObservationValue::Finding(f),
        datetime!(2026-11-19 10:00 UTC),
    )
}

fn d_dimer(basis: DDimerBasis, ng_ml: f64) -> ObservationFact {
    obs(
        ObservationValue::DDimer(DDimerFact {
            basis,
            value_ng_ml: Some(Measured::Known(ng_ml)),
            reference_high_ng_ml: None,
            exceeds_reference_same_unit: None,
            interpretation: None,
            qualitative: None,
            shown: format!("{ng_ml} ng/mL"),
        }),
        datetime!(2026-11-19 09:00 UTC),
    )
}

fn med(ing: Ingredient, dose: Option<Dose>, per_day: Option<f64>) -> MedicationOrderFact {
    MedicationOrderFact {
        id: Some(format!("m-{}", ing.name())),
        status: MedicationStatus::Active,
        intent: MedicationIntent::Order,
        ingredient: Some(ing),
        codes: Vec::new(),
        label: None,
        dose,
        doses_per_day: per_day,
        route: Some(Route::Subcutaneous),
        total_duration_days: None,
        reason_codes: Vec::new(),
        reason_references: Vec::new(),
        authored_on: at(datetime!(2026-11-01 10:00 UTC)),
    }
}

fn mg(amount: f64) -> Option<Dose> {
    Some(Dose {
        amount,
        unit: DoseUnit::Mg,
    })
}

fn draft_med(id: &str, m: MedicationOrderFact, selected: bool) -> DraftOrder {
    let mut m = m;
    m.status = MedicationStatus::Draft;
    m.id = Some(id.to_owned());
    DraftOrder {
        reference: format!("MedicationRequest/{id}"),
        selected,
        order: DraftOrderKind::Medication(m),
    }
}

fn duplex(id: &str, status: RequestStatus, occurrence: Option<FhirTime>) -> ServiceRequestFact {
    ServiceRequestFact {
        id: Some(id.to_owned()),
        status,
        codes: vec![Code::new(LOINC, "30881-7")],
        label: None,
        occurrence,
        authored_on: at(datetime!(2026-11-19 11:00 UTC)),
        body_sites: Vec::new(),
    }
}

/// Right calf muscular vein DVT on 2026-11-19, age 56, complete data, provoked by an ankle
/// sprain 20 days ago (a provoking factor that is not itself a risk factor): no risk factor.
fn baseline() -> PatientFacts {
    let t = datetime!(2026-11-19 10:00 UTC);
    PatientFacts {
        patient: Some(PatientFact {
            id: Some("p1".into()),
            birth_date: Some(BirthDate::Date(date!(1970 - 03 - 15))),
        }),
        conditions: vec![
            condition(icd("I82.461"), at(t)),
            condition(icd("S93.401A"), at(datetime!(2026-10-31 10:00 UTC))),
        ],
        observations: vec![
            d_dimer(DDimerBasis::Feu, 300.0),
            finding(UltrasoundFinding::ThrombusLength(Measured::Known(3.0))),
            finding(UltrasoundFinding::ThrombusDiameter(Measured::Known(5.0))),
            finding(UltrasoundFinding::VeinsInvolved(Measured::Known(1))),
            finding(UltrasoundFinding::DistanceToProximalVeins(Measured::Known(
                8.0,
            ))),
            obs(
                ObservationValue::CreatinineClearance(Measured::Known(90.0)),
                t,
            ),
            obs(ObservationValue::Platelets(Measured::Known(250.0)), t),
            obs(ObservationValue::Hemoglobin(Measured::Known(14.0)), t),
            obs(ObservationValue::BodyWeight(Measured::Known(80.0)), t),
        ],
        encounters: vec![EncounterFact {
            id: Some("e1".into()),
            status: EncounterStatus::InProgress,
            class_code: Some("EMER".into()),
            period_start: at(t),
            period_end: None,
        }],
        context_encounter_id: Some("e1".into()),
        draft_orders: vec![DraftOrder {
            reference: "ServiceRequest/lab-1".into(),
            selected: true,
            order: DraftOrderKind::Other,
        }],
        ..Default::default()
    }
}

fn run(f: &PatientFacts, moment: Moment) -> Assessment {
    assess(f, &rules(), moment, NOW)
}

fn strat(f: &PatientFacts) -> Stratification {
    run(f, Moment::Selection)
        .stratification
        .expect("a stratification card")
}

fn present(s: &Stratification) -> Vec<&'static str> {
    s.factors
        .iter()
        .filter(|f| f.presence.is_present())
        .map(|f| f.factor.code())
        .collect()
}

fn presence(s: &Stratification, factor: ExtensionRiskFactor) -> &Presence {
    &s.factors
        .iter()
        .find(|f| f.factor == factor)
        .expect("all factors")
        .presence
}

fn bleeding_codes(s: &Stratification) -> Vec<&'static str> {
    s.bleeding.factors.iter().map(|(f, _)| f.code()).collect()
}

fn set_obs(f: &mut PatientFacts, keep: impl Fn(&ObservationValue) -> bool) {
    f.observations.retain(|o| keep(&o.value));
}

// ---------- §1 Scope ----------

#[test]
fn baseline_is_serial_imaging_with_nothing_missing() {
    let s = strat(&baseline());
    assert_eq!(s.recommendation, Recommendation::SerialImaging);
    assert_eq!(s.indicator, Indicator::Info);
    assert!(present(&s).is_empty(), "{:?}", present(&s));
    assert_eq!(s.bleeding.category, BleedingRisk::Low);
    assert!(s.missing_data.is_empty(), "{:?}", s.missing_data);
    assert_eq!(s.index.legs, Legs::Right);
    assert_eq!(s.index.muscular_only, Some(true));
}

#[test]
fn no_dvt_means_no_card_at_all() {
    let mut f = baseline();
    f.conditions.clear();
    let a = run(&f, Moment::Signing);
    assert_eq!(a.scope, Scope::NoIndexDvt);
    assert!(a.stratification.is_none() && a.safety.is_empty());
}

#[test]
fn refuted_provisional_and_chronic_are_not_index() {
    for (code, ver) in [
        ("I82.461", Some(VerificationStatus::Refuted)),
        ("I82.461", Some(VerificationStatus::EnteredInError)),
        ("I82.461", Some(VerificationStatus::Provisional)),
        ("I82.461", Some(VerificationStatus::Unconfirmed)),
        ("I82.561", Some(VerificationStatus::Confirmed)),
    ] {
        let mut f = baseline();
        f.conditions[0] = condition(icd(code), at(datetime!(2026-11-19 10:00 UTC)));
        f.conditions[0].verification_status = ver;
        assert_eq!(
            run(&f, Moment::Selection).scope,
            Scope::NoIndexDvt,
            "{code} {ver:?}"
        );
    }
}

#[test]
fn resolved_dvt_is_not_index() {
    let mut f = baseline();
    f.conditions[0].clinical_status = Some(ClinicalStatus::Resolved);
    assert_eq!(run(&f, Moment::Selection).scope, Scope::NoIndexDvt);
    f.conditions[0].clinical_status = Some(ClinicalStatus::Recurrence);
    assert_eq!(run(&f, Moment::Selection).scope, Scope::InScope);
}

#[test]
fn a_dvt_dated_beyond_the_clock_skew_is_ignored() {
    let mut f = baseline();
    f.conditions[0].onset = at(datetime!(2026-11-21 11:00 UTC));
    assert_eq!(
        run(&f, Moment::Selection).scope,
        Scope::InScope,
        "within 24 h: counts as now"
    );
    f.conditions[0].onset = at(datetime!(2026-11-22 12:00 UTC));
    assert_eq!(run(&f, Moment::Selection).scope, Scope::NoIndexDvt);
}

#[test]
fn dotless_icd_codes_match() {
    let mut f = baseline();
    f.conditions[0].codes = vec![icd("I82461")];
    assert_eq!(run(&f, Moment::Selection).scope, Scope::InScope);
}

#[test]
fn ambiguous_code_needs_distal_only_sites() {
    let mut f = baseline();
    f.conditions[0].codes = vec![sct("128053003")];
    assert_eq!(run(&f, Moment::Selection).scope, Scope::NoIndexDvt);
    f.conditions[0].body_sites = vec![sct("397427005"), sct("7771000")];
    let s = strat(&f);
    assert_eq!(s.index.legs, Legs::Left);
    // The laterality code is never a vein; the vein is kept by its SNOMED code.
    assert_eq!(
        s.index.veins,
        vec![("397427005".to_owned(), VeinKind::Muscular)]
    );
    // A proximal site as well: not an index DVT.
    f.conditions[0].body_sites.push(sct("56849005"));
    assert_eq!(run(&f, Moment::Selection).scope, Scope::NoIndexDvt);
    // Ambiguous ICD code with vein-involved findings naming a distal vein only.
    let mut g = baseline();
    g.conditions[0].codes = vec![icd("I82.402")];
    assert_eq!(run(&g, Moment::Selection).scope, Scope::NoIndexDvt);
    g.observations
        .push(finding(UltrasoundFinding::VeinInvolved(vec![sct(
            "4258007",
        )])));
    assert_eq!(run(&g, Moment::Selection).scope, Scope::InScope);
}

#[test]
fn proximal_pe_or_extension_is_not_isolated() {
    for extra in [icd("I82.411"), icd("I26.99"), sct("59282003")] {
        let mut f = baseline();
        f.conditions.push(condition(
            extra.clone(),
            at(datetime!(2026-11-19 10:00 UTC)),
        ));
        assert!(
            matches!(run(&f, Moment::Selection).scope, Scope::NotIsolated(_)),
            "{extra:?}"
        );
    }
    let mut f = baseline();
    f.conditions[0].body_sites = vec![sct("56849005")];
    assert!(matches!(
        run(&f, Moment::Selection).scope,
        Scope::NotIsolated(_)
    ));
    let mut g = baseline();
    g.observations
        .push(finding(UltrasoundFinding::ExtendsToProximalVeins(
            Measured::Known(true),
        )));
    assert!(matches!(
        run(&g, Moment::Selection).scope,
        Scope::NotIsolated(_)
    ));
    // A refuted proximal DVT does not count.
    let mut h = baseline();
    let mut prox = condition(icd("I82.411"), at(datetime!(2026-11-19 10:00 UTC)));
    prox.verification_status = Some(VerificationStatus::Refuted);
    h.conditions.push(prox);
    assert_eq!(run(&h, Moment::Selection).scope, Scope::InScope);
}

#[test]
fn therapeutic_anticoagulant_on_record_means_already_managed() {
    let mut f = baseline();
    f.medications
        .push(med(Ingredient::Apixaban, mg(5.0), Some(2.0)));
    assert!(matches!(
        run(&f, Moment::Selection).scope,
        Scope::AlreadyManaged(_)
    ));
    // Completed orders are not in force.
    f.medications[0].status = MedicationStatus::Completed;
    assert_eq!(run(&f, Moment::Selection).scope, Scope::InScope);
}

#[test]
fn prophylactic_regimens_do_not_count_as_managed() {
    let cases = [
        (med(Ingredient::Enoxaparin, mg(40.0), Some(1.0)), false),
        (med(Ingredient::Enoxaparin, mg(40.0), Some(2.0)), true),
        (med(Ingredient::Enoxaparin, mg(80.0), Some(2.0)), true),
        (med(Ingredient::Fondaparinux, mg(2.5), Some(1.0)), false),
        (med(Ingredient::Fondaparinux, mg(7.5), Some(1.0)), true),
        (
            med(
                Ingredient::Heparin,
                Some(Dose {
                    amount: 5000.0,
                    unit: DoseUnit::InternationalUnit,
                }),
                Some(3.0),
            ),
            false,
        ),
        (
            med(
                Ingredient::Dalteparin,
                Some(Dose {
                    amount: 5000.0,
                    unit: DoseUnit::InternationalUnit,
                }),
                Some(1.0),
            ),
            false,
        ),
        // Dose unknown: cannot tell, so it does not silence the card.
        (med(Ingredient::Enoxaparin, None, None), false),
    ];
    for (m, managed) in cases {
        let mut f = baseline();
        let label = format!("{:?} {:?} x{:?}", m.ingredient, m.dose, m.doses_per_day);
        f.medications.push(m);
        assert_eq!(
            matches!(run(&f, Moment::Selection).scope, Scope::AlreadyManaged(_)),
            managed,
            "{label}"
        );
    }
}

#[test]
fn follow_up_duplex_means_already_managed_but_not_the_diagnostic_scan() {
    let mut f = baseline();
    f.service_requests.push(duplex(
        "us-2",
        RequestStatus::Active,
        day(date!(2026 - 11 - 22)),
    ));
    assert!(matches!(
        run(&f, Moment::Selection).scope,
        Scope::AlreadyManaged(_)
    ));
    // Due only 2 days after the index date: not follow-up.
    f.service_requests[0].occurrence = day(date!(2026 - 11 - 21));
    assert_eq!(run(&f, Moment::Selection).scope, Scope::InScope);
    // No occurrence, authored after the Condition was recorded: follow-up…
    f.service_requests[0].occurrence = None;
    f.service_requests[0].authored_on = at(datetime!(2026-11-19 12:00 UTC));
    assert!(matches!(
        run(&f, Moment::Selection).scope,
        Scope::AlreadyManaged(_)
    ));
    // …unless a finding is basedOn it (the scan that made the diagnosis).
    f.observations[1].based_on = vec!["ServiceRequest/us-2".into()];
    assert_eq!(run(&f, Moment::Selection).scope, Scope::InScope);
}

#[test]
fn drafts_silence_per_hook() {
    // Anticoagulate patient (positive D-dimer): a selected apixaban draft silences it.
    let mut f = baseline();
    f.observations[0] = d_dimer(DDimerBasis::Feu, 1200.0);
    f.draft_orders = vec![draft_med(
        "d1",
        med(Ingredient::Apixaban, mg(10.0), Some(2.0)),
        true,
    )];
    assert!(matches!(
        run(&f, Moment::Selection).scope,
        Scope::PlanDrafted(_)
    ));
    // Not selected on order-select: the card stays; on order-sign all drafts count.
    f.draft_orders[0] = draft_med("d1", med(Ingredient::Apixaban, mg(10.0), Some(2.0)), false);
    assert_eq!(run(&f, Moment::Selection).scope, Scope::InScope);
    assert!(matches!(
        run(&f, Moment::Signing).scope,
        Scope::PlanDrafted(_)
    ));
    // A selected duplex does not implement "anticoagulate".
    f.draft_orders = vec![DraftOrder {
        reference: "ServiceRequest/us".into(),
        selected: true,
        order: DraftOrderKind::Service(duplex("us", RequestStatus::Draft, None)),
    }];
    assert_eq!(run(&f, Moment::Selection).scope, Scope::InScope);
    assert!(matches!(
        run(&f, Moment::Signing).scope,
        Scope::PlanDrafted(_)
    ));
}

#[test]
fn serial_imaging_stays_beside_selected_anticoagulant() {
    let mut f = baseline();
    f.draft_orders = vec![draft_med(
        "d1",
        med(Ingredient::Rivaroxaban, mg(15.0), Some(2.0)),
        true,
    )];
    let s = strat(&f);
    assert_eq!(s.recommendation, Recommendation::SerialImaging);
    assert_eq!(s.indicator, Indicator::Info);
    assert!(s.notes.contains(&Note::AnticoagulantSelectedIsAlternative));
    // A selected duplex silences serial imaging.
    f.draft_orders = vec![DraftOrder {
        reference: "ServiceRequest/us".into(),
        selected: true,
        order: DraftOrderKind::Service(duplex("us", RequestStatus::Draft, None)),
    }];
    assert!(matches!(
        run(&f, Moment::Selection).scope,
        Scope::PlanDrafted(_)
    ));
}

// ---------- §2 Extension risk factors ----------

fn replace_finding(f: &mut PatientFacts, new: UltrasoundFinding) {
    let same = std::mem::discriminant(&new);
    f.observations.retain(
        |o| !matches!(&o.value, ObservationValue::Finding(x) if std::mem::discriminant(x) == same),
    );
    f.observations.push(finding(new));
}

#[test]
fn thrombus_length_is_over_5_cm() {
    let mut f = baseline();
    replace_finding(
        &mut f,
        UltrasoundFinding::ThrombusLength(Measured::Known(5.0)),
    );
    assert!(!present(&strat(&f)).contains(&"thrombus-length"));
    replace_finding(
        &mut f,
        UltrasoundFinding::ThrombusLength(Measured::Known(5.1)),
    );
    let s = strat(&f);
    assert_eq!(present(&s), vec!["thrombus-length"]);
    assert_eq!(s.recommendation, Recommendation::Anticoagulate);
    replace_finding(&mut f, UltrasoundFinding::ThrombusLength(Measured::Unknown));
    let s = strat(&f);
    assert!(s.missing_data.contains(&MissingData::ThrombusLength));
    assert_eq!(
        presence(&s, ExtensionRiskFactor::ThrombusLength),
        &Presence::Unknown(MissingData::ThrombusLength)
    );
}

#[test]
fn thrombus_diameter_is_over_7_mm() {
    let mut f = baseline();
    replace_finding(
        &mut f,
        UltrasoundFinding::ThrombusDiameter(Measured::Known(7.0)),
    );
    assert!(present(&strat(&f)).is_empty());
    replace_finding(
        &mut f,
        UltrasoundFinding::ThrombusDiameter(Measured::Known(7.1)),
    );
    assert_eq!(present(&strat(&f)), vec!["thrombus-diameter"]);
    set_obs(&mut f, |v| {
        !matches!(
            v,
            ObservationValue::Finding(UltrasoundFinding::ThrombusDiameter(_))
        )
    });
    assert!(
        strat(&f)
            .missing_data
            .contains(&MissingData::ThrombusDiameter)
    );
}

#[test]
fn multiple_veins_present_absent_unknown() {
    let mut f = baseline();
    replace_finding(&mut f, UltrasoundFinding::VeinsInvolved(Measured::Known(2)));
    assert_eq!(present(&strat(&f)), vec!["multiple-veins"]);
    // Two distinct veins across bodySite and findings.
    let mut g = baseline();
    set_obs(&mut g, |v| {
        !matches!(
            v,
            ObservationValue::Finding(UltrasoundFinding::VeinsInvolved(_))
        )
    });
    g.conditions[0].body_sites = vec![sct("264481007")];
    let s = strat(&g);
    // One vein named on the Condition proves nothing about the others.
    assert_eq!(
        presence(&s, ExtensionRiskFactor::MultipleVeins),
        &Presence::Unknown(MissingData::VeinsInvolved)
    );
    g.observations
        .push(finding(UltrasoundFinding::VeinInvolved(vec![sct(
            "397427005",
        )])));
    assert_eq!(present(&strat(&g)), vec!["multiple-veins"]);
    // One vein-involved finding, the same vein: absent.
    let mut h = baseline();
    set_obs(&mut h, |v| {
        !matches!(
            v,
            ObservationValue::Finding(UltrasoundFinding::VeinsInvolved(_))
        )
    });
    h.observations
        .push(finding(UltrasoundFinding::VeinInvolved(vec![sct(
            "264481007",
        )])));
    assert!(matches!(
        presence(&strat(&h), ExtensionRiskFactor::MultipleVeins),
        Presence::Absent(_)
    ));
}

#[test]
fn near_proximal_veins_by_flag_or_distance() {
    let mut f = baseline();
    replace_finding(
        &mut f,
        UltrasoundFinding::DistanceToProximalVeins(Measured::Known(5.0)),
    );
    assert_eq!(present(&strat(&f)), vec!["near-proximal-veins"]);
    replace_finding(
        &mut f,
        UltrasoundFinding::DistanceToProximalVeins(Measured::Known(5.5)),
    );
    assert!(present(&strat(&f)).is_empty());
    f.observations
        .push(finding(UltrasoundFinding::NearProximalVeins(
            Measured::Known(true),
        )));
    assert_eq!(present(&strat(&f)), vec!["near-proximal-veins"]);
    let mut g = baseline();
    set_obs(&mut g, |v| {
        !matches!(
            v,
            ObservationValue::Finding(UltrasoundFinding::DistanceToProximalVeins(_))
        )
    });
    assert!(
        strat(&g)
            .missing_data
            .contains(&MissingData::DistanceToProximalVeins)
    );
}

fn with_d_dimer(d: ObservationFact) -> Stratification {
    let mut f = baseline();
    f.observations[0] = d;
    strat(&f)
}

#[test]
fn d_dimer_cutoffs_by_basis() {
    assert_eq!(
        present(&with_d_dimer(d_dimer(DDimerBasis::Feu, 500.0))),
        vec!["positive-d-dimer"]
    );
    assert!(present(&with_d_dimer(d_dimer(DDimerBasis::Feu, 490.0))).is_empty());
    assert_eq!(
        present(&with_d_dimer(d_dimer(DDimerBasis::Ddu, 250.0))),
        vec!["positive-d-dimer"]
    );
    assert!(present(&with_d_dimer(d_dimer(DDimerBasis::Ddu, 249.0))).is_empty());
    // Basis unknown and no interpretation or range: cannot be judged.
    let s = with_d_dimer(d_dimer(DDimerBasis::Unknown, 900.0));
    assert!(s.missing_data.contains(&MissingData::DDimer));
}

#[test]
fn d_dimer_interpretation_then_range_decide_first() {
    let mut d = d_dimer(DDimerBasis::Feu, 300.0);
    if let ObservationValue::DDimer(x) = &mut d.value {
        x.interpretation = Some(Interpretation::Positive);
    }
    assert_eq!(present(&with_d_dimer(d)), vec!["positive-d-dimer"]);
    let mut d = d_dimer(DDimerBasis::Feu, 600.0);
    if let ObservationValue::DDimer(x) = &mut d.value {
        x.reference_high_ng_ml = Some(Measured::Known(700.0));
    }
    assert!(
        present(&with_d_dimer(d)).is_empty(),
        "below the lab's own upper limit"
    );
    let mut d = d_dimer(DDimerBasis::Qualitative, 0.0);
    if let ObservationValue::DDimer(x) = &mut d.value {
        x.value_ng_ml = None;
        x.qualitative = Some(true);
    }
    assert_eq!(present(&with_d_dimer(d)), vec!["positive-d-dimer"]);
}

#[test]
fn d_dimer_window_status_and_most_recent() {
    // Before index − 14 days: not counted → unknown.
    let mut old = d_dimer(DDimerBasis::Feu, 900.0);
    old.effective = at(datetime!(2026-11-04 09:00 UTC));
    assert!(
        with_d_dimer(old)
            .missing_data
            .contains(&MissingData::DDimer)
    );
    // Preliminary D-dimer is not used.
    let mut prelim = d_dimer(DDimerBasis::Feu, 900.0);
    prelim.status = ObservationStatus::Preliminary;
    assert!(
        with_d_dimer(prelim)
            .missing_data
            .contains(&MissingData::DDimer)
    );
    // The most recent decides.
    let mut f = baseline();
    let mut later = d_dimer(DDimerBasis::Feu, 900.0);
    later.effective = at(datetime!(2026-11-20 08:00 UTC));
    f.observations.push(later);
    assert_eq!(present(&strat(&f)), vec!["positive-d-dimer"]);
}

#[test]
fn unprovoked_is_derived_from_the_absence_of_provoking_factors() {
    let mut f = baseline();
    f.conditions.truncate(1); // no injury
    let s = strat(&f);
    assert_eq!(present(&s), vec!["unprovoked"]);
    assert_eq!(s.recommendation, Recommendation::Anticoagulate);
    assert!(s.notes.contains(&Note::UnprovokedDerived));
    // An injury older than 60 days does not provoke.
    f.conditions.push(condition(
        icd("S93.401A"),
        at(datetime!(2026-09-20 10:00 UTC)),
    ));
    assert_eq!(present(&strat(&f)), vec!["unprovoked"]);
    type Add = Box<dyn Fn(&mut PatientFacts)>;
    let provokers: Vec<(&str, Add)> = vec![
        (
            "estrogen",
            Box::new(|f| {
                f.medications
                    .push(med(Ingredient::Estradiol, mg(1.0), Some(1.0)))
            }),
        ),
        (
            "reduced mobility",
            Box::new(|f| f.conditions.push(condition(icd("Z74.09"), None))),
        ),
        (
            "pregnancy",
            Box::new(|f| f.conditions.push(condition(icd("Z34.82"), None))),
        ),
        (
            "postpartum",
            Box::new(|f| {
                f.conditions
                    .push(condition(icd("O80"), at(datetime!(2026-10-20 10:00 UTC))))
            }),
        ),
        (
            "covid test",
            Box::new(|f| {
                f.observations.push(obs(
                    ObservationValue::SarsCov2(Measured::Known(true)),
                    datetime!(2026-11-01 10:00 UTC),
                ))
            }),
        ),
    ];
    for (name, add) in provokers {
        let mut g = baseline();
        g.conditions.truncate(1);
        add(&mut g);
        let s = strat(&g);
        assert!(
            matches!(presence(&s, ExtensionRiskFactor::Unprovoked), Presence::Absent(ev) if !ev.is_empty()),
            "{name}"
        );
    }
}

#[test]
fn active_cancer_prior_vte_and_covid() {
    let mut f = baseline();
    f.conditions.push(condition(icd("C50.911"), None));
    let s = strat(&f);
    assert_eq!(present(&s), vec!["active-cancer"]);
    assert!(
        s.special_populations
            .contains(&SpecialPopulation::ActiveCancer)
    );
    // Skin cancer other than melanoma (C44) and history codes (Z85) are not active cancer.
    let mut g = baseline();
    g.conditions.push(condition(icd("C44.91"), None));
    g.conditions.push(condition(icd("Z85.3"), None));
    assert!(present(&strat(&g)).is_empty());
    // Prior VTE: an earlier, resolved DVT, or a history code.
    let mut h = baseline();
    let mut old = condition(icd("I82.412"), at(datetime!(2020-01-01 10:00 UTC)));
    old.clinical_status = Some(ClinicalStatus::Resolved);
    h.conditions.push(old);
    assert_eq!(present(&strat(&h)), vec!["prior-vte"]);
    let mut k = baseline();
    k.conditions.push(condition(icd("Z86.718"), None));
    assert_eq!(present(&strat(&k)), vec!["prior-vte"]);
    // COVID-19: active Condition, or positive test ≤ 30 days (then also provoking).
    let mut c = baseline();
    c.observations.push(obs(
        ObservationValue::SarsCov2(Measured::Known(true)),
        datetime!(2026-11-10 10:00 UTC),
    ));
    assert_eq!(present(&strat(&c)), vec!["covid-19"]);
    c.observations.last_mut().unwrap().effective = at(datetime!(2026-10-10 10:00 UTC));
    assert!(present(&strat(&c)).is_empty());
}

#[test]
fn inpatient_current_recent_or_bed_confined_but_not_emergency() {
    let mut f = baseline();
    f.encounters[0].class_code = Some("IMP".into());
    assert_eq!(present(&strat(&f)), vec!["inpatient"]);
    let mut g = baseline();
    g.encounters.push(EncounterFact {
        id: Some("old".into()),
        status: EncounterStatus::Finished,
        class_code: Some("OBSENC".into()),
        period_start: at(datetime!(2026-09-01 10:00 UTC)),
        period_end: at(datetime!(2026-09-03 10:00 UTC)),
    });
    assert_eq!(present(&strat(&g)), vec!["inpatient"]);
    g.encounters[1].period_end = at(datetime!(2026-08-01 10:00 UTC));
    g.encounters[1].period_start = at(datetime!(2026-07-30 10:00 UTC));
    assert!(
        present(&strat(&g)).is_empty(),
        "ended more than 90 days ago"
    );
    let mut h = baseline();
    h.conditions.push(condition(icd("Z74.01"), None));
    assert_eq!(present(&strat(&h)), vec!["inpatient"]);
}

#[test]
fn recent_surgery_is_a_risk_and_a_bleeding_factor() {
    let mut f = baseline();
    f.procedures.push(ProcedureFact {
        id: Some("p".into()),
        status: ProcedureStatus::Completed,
        codes: vec![Code::new(crate::config::codes::CPT, "27447")],
        category: Vec::new(),
        label: Some("Total knee arthroplasty".into()),
        performed: at(datetime!(2026-10-01 10:00 UTC)),
    });
    let s = strat(&f);
    assert_eq!(present(&s), vec!["recent-surgery"]);
    assert_eq!(bleeding_codes(&s), vec!["recent-surgery"]);
    assert_eq!(s.bleeding.category, BleedingRisk::Moderate);
    assert_eq!(s.recommendation, Recommendation::Anticoagulate);
    // Not done, or > 90 days ago: no.
    f.procedures[0].performed = at(datetime!(2026-08-01 10:00 UTC));
    assert!(present(&strat(&f)).is_empty());
    f.procedures[0].performed = at(datetime!(2026-11-01 10:00 UTC));
    f.procedures[0].status = ProcedureStatus::NotDone;
    assert!(present(&strat(&f)).is_empty());
}

#[test]
fn severe_symptoms_by_severity_or_pain() {
    let mut f = baseline();
    f.conditions[0].severity = vec![sct("24484000")];
    assert_eq!(present(&strat(&f)), vec!["severe-symptoms"]);
    let mut g = baseline();
    g.observations.push(obs(
        ObservationValue::PainSeverity(Measured::Known(7.0)),
        datetime!(2026-11-19 10:00 UTC),
    ));
    assert_eq!(present(&strat(&g)), vec!["severe-symptoms"]);
    g.observations.last_mut().unwrap().value = ObservationValue::PainSeverity(Measured::Known(6.0));
    assert!(present(&strat(&g)).is_empty());
}

#[test]
fn muscular_only_and_laterality() {
    let mut f = baseline();
    f.conditions[0].codes = vec![icd("I82.452")];
    let s = strat(&f);
    assert_eq!(s.index.muscular_only, Some(false));
    assert_eq!(s.index.legs, Legs::Left);
    // Unspecified distal vein: no vein named.
    f.conditions[0].codes = vec![icd("I82.4Z9")];
    let s = strat(&f);
    assert_eq!(s.index.muscular_only, None);
    assert_eq!(s.index.legs, Legs::Unknown);
    // Several index DVTs: the most recent is the index, all legs count.
    let mut g = baseline();
    g.conditions.push(condition(
        icd("I82.442"),
        at(datetime!(2026-11-18 10:00 UTC)),
    ));
    let s = strat(&g);
    assert_eq!(s.index.legs, Legs::Both);
    assert_eq!(s.index.condition_id.as_deref(), Some("c-I82.461"));
    assert_eq!(s.index.muscular_only, Some(false));
}

// ---------- §3 Bleeding risk ----------

fn born(f: &mut PatientFacts, b: BirthDate) {
    f.patient.as_mut().unwrap().birth_date = Some(b);
}

#[test]
fn age_boundaries_65_75() {
    let cases = [
        (date!(1961 - 11 - 20), Vec::<&str>::new(), BleedingRisk::Low), // 65
        (
            date!(1960 - 11 - 20),
            vec!["age-over-65"],
            BleedingRisk::Moderate,
        ), // 66
        (
            date!(1951 - 11 - 20),
            vec!["age-over-65"],
            BleedingRisk::Moderate,
        ), // 75
        (
            date!(1950 - 11 - 20),
            vec!["age-over-75"],
            BleedingRisk::High,
        ), // 76: counts 2
    ];
    for (b, codes, cat) in cases {
        let mut f = baseline();
        born(&mut f, BirthDate::Date(b));
        let s = strat(&f);
        assert_eq!(bleeding_codes(&s), codes, "{b}");
        assert_eq!(s.bleeding.category, cat, "{b}");
    }
    let mut f = baseline();
    f.patient.as_mut().unwrap().birth_date = None;
    let s = strat(&f);
    assert!(s.missing_data.contains(&MissingData::Age));
    assert!(s.bleeding.missing.contains(&MissingData::Age));
}

#[test]
fn metastatic_cancer_counts_twice_and_high_risk_individualizes() {
    let mut f = baseline();
    f.conditions.push(condition(icd("C78.00"), None));
    let s = strat(&f);
    assert_eq!(bleeding_codes(&s), vec!["cancer", "metastatic-cancer"]);
    assert_eq!(s.bleeding.category, BleedingRisk::High);
    assert_eq!(present(&s), vec!["active-cancer"]);
    assert_eq!(s.recommendation, Recommendation::Individualize);
    assert!(s.imaging.is_some());
    assert!(s.regimens.iter().all(|r| !r.recommended));
    assert_eq!(s.bleeding.estimated_major_bleeding_percent, 12.8);
}

#[test]
fn bleeding_factors_from_conditions_labs_and_medications() {
    type Add = Box<dyn Fn(&mut PatientFacts)>;
    let cases: Vec<(&str, Add)> = vec![
        (
            "previous-bleeding",
            Box::new(|f| {
                let mut c = condition(icd("K92.2"), None);
                c.clinical_status = Some(ClinicalStatus::Resolved);
                f.conditions.push(c)
            }),
        ),
        (
            "liver-failure",
            Box::new(|f| f.conditions.push(condition(icd("K72.10"), None))),
        ),
        (
            "diabetes",
            Box::new(|f| f.conditions.push(condition(icd("E11.9"), None))),
        ),
        (
            "frequent-falls",
            Box::new(|f| f.conditions.push(condition(icd("R29.6"), None))),
        ),
        (
            "alcohol-abuse",
            Box::new(|f| f.conditions.push(condition(icd("F10.20"), None))),
        ),
        (
            "previous-stroke",
            Box::new(|f| f.conditions.push(condition(icd("G45.9"), None))),
        ),
        (
            "antiplatelet-therapy",
            Box::new(|f| {
                f.medications
                    .push(med(Ingredient::Aspirin, mg(81.0), Some(1.0)))
            }),
        ),
        (
            "nsaid-therapy",
            Box::new(|f| {
                f.medications
                    .push(med(Ingredient::Naproxen, mg(500.0), Some(2.0)))
            }),
        ),
        (
            "thrombocytopenia",
            Box::new(|f| {
                for o in &mut f.observations {
                    if let ObservationValue::Platelets(_) = o.value {
                        o.value = ObservationValue::Platelets(Measured::Known(99.0));
                    }
                }
            }),
        ),
        (
            "anemia",
            Box::new(|f| {
                for o in &mut f.observations {
                    if let ObservationValue::Hemoglobin(_) = o.value {
                        o.value = ObservationValue::Hemoglobin(Measured::Known(9.9));
                    }
                }
            }),
        ),
        (
            "renal-failure",
            Box::new(|f| {
                for o in &mut f.observations {
                    if let ObservationValue::CreatinineClearance(_) = o.value {
                        o.value = ObservationValue::CreatinineClearance(Measured::Known(29.9));
                    }
                }
            }),
        ),
    ];
    for (code, add) in cases {
        let mut f = baseline();
        add(&mut f);
        let s = strat(&f);
        assert_eq!(bleeding_codes(&s), vec![code], "{code}");
        assert_eq!(s.bleeding.category, BleedingRisk::Moderate, "{code}");
    }
    // A haemorrhagic stroke is both previous stroke and previous bleeding.
    let mut f = baseline();
    f.conditions.push(condition(icd("I61.9"), None));
    assert_eq!(
        bleeding_codes(&strat(&f)),
        vec!["previous-bleeding", "previous-stroke"]
    );
}

#[test]
fn missing_lab_data_is_listed_not_assumed_normal() {
    let mut f = baseline();
    set_obs(&mut f, |v| {
        !matches!(
            v,
            ObservationValue::Platelets(_)
                | ObservationValue::Hemoglobin(_)
                | ObservationValue::CreatinineClearance(_)
                | ObservationValue::BodyWeight(_)
        )
    });
    let s = strat(&f);
    for m in [
        MissingData::Platelets,
        MissingData::Hemoglobin,
        MissingData::RenalFunction,
        MissingData::BodyWeight,
    ] {
        assert!(s.missing_data.contains(&m), "{m:?}");
    }
    assert_eq!(s.renal, RenalFunction::Unknown);
    // Labs older than their windows are missing too.
    let mut g = baseline();
    for o in &mut g.observations {
        if matches!(o.value, ObservationValue::Platelets(_)) {
            o.effective = at(datetime!(2026-10-20 11:00 UTC));
        }
    }
    assert!(strat(&g).missing_data.contains(&MissingData::Platelets));
}

// ---------- §4 Recommendation, special populations ----------

fn regimen_names(s: &Stratification) -> Vec<&'static str> {
    s.regimens.iter().map(|r| r.ingredient.name()).collect()
}

fn anticoagulate_patient() -> PatientFacts {
    let mut f = baseline();
    f.observations[0] = d_dimer(DDimerBasis::Feu, 1500.0);
    f
}

fn set_renal(f: &mut PatientFacts, v: f64) {
    for o in &mut f.observations {
        if let ObservationValue::CreatinineClearance(_) = o.value {
            o.value = ObservationValue::CreatinineClearance(Measured::Known(v));
        }
    }
}

#[test]
fn anticoagulate_default_regimens() {
    let s = strat(&anticoagulate_patient());
    assert_eq!(s.recommendation, Recommendation::Anticoagulate);
    assert_eq!(s.indicator, Indicator::Warning);
    assert_eq!(
        regimen_names(&s),
        vec!["apixaban", "rivaroxaban", "enoxaparin"]
    );
    assert!(s.regimens[0].recommended && !s.regimens[1].recommended);
    assert_eq!(s.regimens[2].weight_kg, Some(80.0));
    assert!(s.imaging.is_none());
}

#[test]
fn renal_thresholds_change_the_regimens() {
    let mut f = anticoagulate_patient();
    set_renal(&mut f, 30.0);
    let s = strat(&f);
    assert_eq!(
        regimen_names(&s),
        vec!["apixaban", "rivaroxaban", "enoxaparin"]
    );
    assert!(s.special_populations.is_empty());
    set_renal(&mut f, 29.9);
    let s = strat(&f);
    assert_eq!(regimen_names(&s), vec!["apixaban", "enoxaparin"]);
    assert!(
        s.regimens[1].renal_adjusted,
        "enoxaparin once daily below 30"
    );
    assert_eq!(
        s.special_populations,
        vec![SpecialPopulation::RenalImpairment]
    );
    set_renal(&mut f, 15.0);
    assert_eq!(regimen_names(&strat(&f)), vec!["apixaban", "enoxaparin"]);
    set_renal(&mut f, 14.9);
    let s = strat(&f);
    assert_eq!(regimen_names(&s), vec!["warfarin"]);
    assert_eq!(
        s.special_populations,
        vec![SpecialPopulation::SevereRenalImpairment]
    );
    assert_eq!(
        s.progression_modifiers,
        vec![ProgressionModifier::EndStageRenalDisease]
    );
    assert!(s.notes.contains(&Note::RenalSevereRegimen));
}

#[test]
fn dialysis_without_a_lab_means_below_15() {
    let mut f = anticoagulate_patient();
    set_obs(&mut f, |v| {
        !matches!(v, ObservationValue::CreatinineClearance(_))
    });
    f.conditions.push(condition(icd("Z99.2"), None));
    let s = strat(&f);
    assert!(matches!(s.renal, RenalFunction::EsrdOrDialysis(_)));
    assert_eq!(regimen_names(&s), vec!["warfarin"]);
    assert!(!s.missing_data.contains(&MissingData::RenalFunction));
    assert!(bleeding_codes(&s).contains(&"renal-failure"));
}

#[test]
fn egfr_used_only_without_creatinine_clearance() {
    let mut f = anticoagulate_patient();
    f.observations.push(obs(
        ObservationValue::Egfr(Measured::Known(20.0)),
        datetime!(2026-11-20 08:00 UTC),
    ));
    let s = strat(&f);
    assert!(matches!(
        s.renal,
        RenalFunction::Measured {
            source: RenalSource::CreatinineClearance,
            ..
        }
    ));
    set_obs(&mut f, |v| {
        !matches!(v, ObservationValue::CreatinineClearance(_))
    });
    let s = strat(&f);
    assert!(
        matches!(s.renal, RenalFunction::Measured { source: RenalSource::Egfr, ml_min, .. } if ml_min == 20.0)
    );
}

#[test]
fn pregnancy_postpartum_and_cancer_regimens() {
    let mut f = anticoagulate_patient();
    f.conditions.push(condition(icd("Z3A.20"), None));
    let s = strat(&f);
    assert_eq!(regimen_names(&s), vec!["enoxaparin"]);
    assert_eq!(s.regimens[0].duration, TreatmentDuration::Pregnancy);
    assert!(s.notes.contains(&Note::PregnancyDDimer));
    let mut g = anticoagulate_patient();
    g.conditions
        .push(condition(icd("O80"), at(datetime!(2026-11-01 10:00 UTC))));
    let s = strat(&g);
    assert_eq!(regimen_names(&s), vec!["enoxaparin", "warfarin"]);
    assert_eq!(s.special_populations, vec![SpecialPopulation::Postpartum]);
    // Delivered more than 6 weeks ago: not postpartum.
    g.conditions.last_mut().unwrap().onset = at(datetime!(2026-09-01 10:00 UTC));
    g.conditions.last_mut().unwrap().recorded = at(datetime!(2026-09-01 10:00 UTC));
    assert!(strat(&g).special_populations.is_empty());
    let mut c = baseline();
    c.conditions.push(condition(icd("C34.90"), None));
    let s = strat(&c);
    assert_eq!(regimen_names(&s), vec!["enoxaparin", "apixaban"]);
    assert!(s.regimens[0].recommended);
    assert_eq!(s.regimens[0].duration, TreatmentDuration::ActiveCancer);
}

#[test]
fn pregnancy_status_observation_and_delivery_since() {
    let mut f = baseline();
    f.observations.push(obs(
        ObservationValue::PregnancyStatus(Measured::Known(true)),
        datetime!(2026-06-01 10:00 UTC),
    ));
    let s = strat(&f);
    assert_eq!(s.special_populations, vec![SpecialPopulation::Pregnancy]);
    assert_eq!(
        s.indicator,
        Indicator::Warning,
        "serial imaging in pregnancy"
    );
    assert!(s.notes.contains(&Note::PregnancyLmwhAlternative));
    f.conditions
        .push(condition(icd("Z37.0"), at(datetime!(2026-11-01 10:00 UTC))));
    assert_eq!(
        strat(&f).special_populations,
        vec![SpecialPopulation::Postpartum]
    );
}

#[test]
fn serial_imaging_indicator_and_dates() {
    let s = strat(&baseline());
    let plan = s.imaging.expect("imaging plan");
    assert_eq!(
        (plan.first_due, plan.second_due),
        (date!(2026 - 11 - 26), date!(2026 - 12 - 03))
    );
    assert_eq!(plan.legs, Legs::Right);
    // order-sign: warning.
    assert_eq!(
        run(&baseline(), Moment::Signing)
            .stratification
            .unwrap()
            .indicator,
        Indicator::Warning
    );
    // Prior stroke: warning, closer monitoring.
    let mut f = baseline();
    f.conditions.push(condition(icd("I63.9"), None));
    let s = strat(&f);
    assert_eq!(s.indicator, Indicator::Warning);
    assert!(s.notes.contains(&Note::CloserMonitoring));
    assert_eq!(
        s.progression_modifiers,
        vec![ProgressionModifier::PriorStroke]
    );
    // Old index date: past due dates move to today, second ≥ 7 days later.
    let mut g = baseline();
    g.conditions[0].onset = at(datetime!(2026-11-08 10:00 UTC));
    let plan = strat(&g).imaging.unwrap();
    assert_eq!(
        (plan.first_due, plan.second_due),
        (date!(2026 - 11 - 20), date!(2026 - 11 - 27))
    );
}

// ---------- §5 Order-safety checks ----------

fn checks(a: &Assessment) -> Vec<(&'static str, Indicator, Vec<String>)> {
    a.safety
        .iter()
        .map(|f| (f.check.code(), f.indicator, f.orders.clone()))
        .collect()
}

#[test]
fn pregnancy_anticoagulant_is_critical_with_lmwh_replacement() {
    let mut f = baseline();
    f.conditions.push(condition(icd("Z34.82"), None));
    f.draft_orders = vec![draft_med(
        "a",
        med(Ingredient::Apixaban, mg(10.0), Some(2.0)),
        true,
    )];
    let a = run(&f, Moment::Selection);
    assert_eq!(
        checks(&a),
        vec![(
            "pregnancy-anticoagulant",
            Indicator::Critical,
            vec!["MedicationRequest/a".to_owned()]
        )]
    );
    assert!(
        matches!(&a.safety[0].fix, SafetyFix::Replace { with, .. } if with.ingredient == Ingredient::Enoxaparin)
    );
    // Enoxaparin draft in pregnancy: no pregnancy card.
    f.draft_orders = vec![draft_med(
        "e",
        med(Ingredient::Enoxaparin, mg(80.0), Some(2.0)),
        true,
    )];
    assert!(run(&f, Moment::Selection).safety.is_empty());
}

#[test]
fn renal_doac_warning_info_and_thresholds() {
    let mut f = baseline();
    set_renal(&mut f, 25.0);
    f.draft_orders = vec![
        draft_med("r", med(Ingredient::Rivaroxaban, mg(15.0), Some(2.0)), true),
        draft_med("a", med(Ingredient::Apixaban, mg(10.0), Some(2.0)), true),
    ];
    let a = run(&f, Moment::Selection);
    let c = checks(&a);
    assert!(
        c.contains(&(
            "renal-doac",
            Indicator::Warning,
            vec!["MedicationRequest/r".to_owned()]
        )),
        "{c:?}"
    );
    assert!(
        matches!(&a.safety.iter().find(|s| s.check == SafetyCheck::RenalDoac).unwrap().fix,
        SafetyFix::Replace { with, .. } if with.ingredient == Ingredient::Apixaban)
    );
    // No renal function known: info, no fix.
    set_obs(&mut f, |v| {
        !matches!(v, ObservationValue::CreatinineClearance(_))
    });
    f.draft_orders.truncate(1);
    let a = run(&f, Moment::Selection);
    let renal = a
        .safety
        .iter()
        .find(|s| s.check == SafetyCheck::RenalDoac)
        .unwrap();
    assert_eq!(
        (renal.indicator, &renal.fix),
        (Indicator::Info, &SafetyFix::None)
    );
    // Unselected drafts are not checked on order-select, all are on order-sign.
    let mut g = baseline();
    set_renal(&mut g, 10.0);
    g.draft_orders = vec![draft_med(
        "a",
        med(Ingredient::Apixaban, mg(5.0), Some(2.0)),
        false,
    )];
    assert!(run(&g, Moment::Selection).safety.is_empty());
    let a = run(&g, Moment::Signing);
    let renal = a
        .safety
        .iter()
        .find(|s| s.check == SafetyCheck::RenalDoac)
        .unwrap();
    assert!(
        matches!(&renal.fix, SafetyFix::Replace { with, .. } if with.ingredient == Ingredient::Warfarin)
    );
}

#[test]
fn duplicate_anticoagulant_but_not_the_warfarin_bridge() {
    let mut f = baseline();
    f.medications
        .push(med(Ingredient::Warfarin, mg(5.0), Some(1.0)));
    f.draft_orders = vec![draft_med(
        "e",
        med(Ingredient::Enoxaparin, mg(80.0), Some(2.0)),
        true,
    )];
    let a = run(&f, Moment::Selection);
    assert!(
        a.safety
            .iter()
            .all(|s| s.check != SafetyCheck::DuplicateAnticoagulant),
        "bridge"
    );
    f.draft_orders = vec![draft_med(
        "a",
        med(Ingredient::Apixaban, mg(5.0), Some(2.0)),
        true,
    )];
    let a = run(&f, Moment::Selection);
    assert_eq!(
        checks(&a),
        vec![(
            "duplicate-anticoagulant",
            Indicator::Warning,
            vec!["MedicationRequest/a".to_owned()]
        )]
    );
    // The same ingredient (a renewal) is not a duplicate; nor is a prophylactic regimen.
    let mut g = baseline();
    g.medications
        .push(med(Ingredient::Enoxaparin, mg(40.0), Some(1.0)));
    g.draft_orders = vec![draft_med(
        "a",
        med(Ingredient::Apixaban, mg(10.0), Some(2.0)),
        true,
    )];
    assert!(run(&g, Moment::Selection).safety.is_empty());
    // Two drafts of different ingredients.
    let mut h = baseline();
    h.draft_orders = vec![
        draft_med("a", med(Ingredient::Apixaban, mg(10.0), Some(2.0)), true),
        draft_med("r", med(Ingredient::Rivaroxaban, mg(15.0), Some(2.0)), true),
    ];
    let a = run(&h, Moment::Signing);
    let dup = a
        .safety
        .iter()
        .find(|s| s.check == SafetyCheck::DuplicateAnticoagulant)
        .unwrap();
    assert_eq!(dup.orders.len(), 2);
}

#[test]
fn short_duration_unless_reasoned_elsewhere() {
    let mut f = baseline();
    let mut m = med(Ingredient::Apixaban, mg(10.0), Some(2.0));
    m.total_duration_days = Some(30.0);
    f.draft_orders = vec![draft_med("a", m.clone(), true)];
    let a = run(&f, Moment::Selection);
    assert_eq!(
        checks(&a),
        vec![(
            "short-duration",
            Indicator::Info,
            vec!["MedicationRequest/a".to_owned()]
        )]
    );
    assert_eq!(
        a.safety[0].fix,
        SafetyFix::ExtendDuration {
            orders: vec!["MedicationRequest/a".to_owned()],
            days: 90
        }
    );
    m.total_duration_days = Some(90.0);
    f.draft_orders = vec![draft_med("a", m.clone(), true)];
    assert!(run(&f, Moment::Selection).safety.is_empty());
    // Reasoned to atrial fibrillation: another indication.
    m.total_duration_days = Some(30.0);
    m.reason_codes = vec![icd("I48.91")];
    f.draft_orders = vec![draft_med("a", m.clone(), true)];
    assert!(run(&f, Moment::Selection).safety.is_empty());
    // A 7-day enoxaparin bridge drafted with warfarin is not short treatment.
    let mut bridge = med(Ingredient::Enoxaparin, mg(80.0), Some(2.0));
    bridge.total_duration_days = Some(7.0);
    f.draft_orders = vec![
        draft_med("e", bridge.clone(), true),
        draft_med("w", med(Ingredient::Warfarin, mg(5.0), Some(1.0)), true),
    ];
    assert!(run(&f, Moment::Selection).safety.is_empty());
    f.draft_orders = vec![draft_med("e", bridge, true)];
    assert_eq!(
        run(&f, Moment::Selection).safety.len(),
        1,
        "without warfarin it is short"
    );
    // Reasoned to the index DVT: checked.
    m.reason_codes.clear();
    m.reason_references = vec!["Condition/c-I82.461".into()];
    f.draft_orders = vec![draft_med("a", m, true)];
    assert_eq!(run(&f, Moment::Selection).safety.len(), 1);
}

#[test]
fn safety_checks_run_even_when_the_stratification_is_silenced() {
    // Not isolated (proximal DVT too) but a DOAC in pregnancy is still dangerous.
    let mut f = baseline();
    f.conditions.push(condition(icd("I82.411"), None));
    f.conditions.push(condition(icd("Z34.82"), None));
    f.draft_orders = vec![draft_med(
        "w",
        med(Ingredient::Warfarin, mg(5.0), Some(1.0)),
        true,
    )];
    let a = run(&f, Moment::Selection);
    assert!(matches!(a.scope, Scope::NotIsolated(_)));
    assert!(a.stratification.is_none());
    assert_eq!(a.safety.len(), 1);
}

#[test]
fn thresholds_come_from_configuration() {
    let mut rules = rules();
    let mut f = baseline();
    replace_finding(
        &mut f,
        UltrasoundFinding::ThrombusLength(Measured::Known(4.5)),
    );
    assert!(present(&strat(&f)).is_empty());
    rules.thresholds.extension.thrombus_length_cm = 4.0;
    let s = assess(&f, &rules, Moment::Selection, NOW)
        .stratification
        .unwrap();
    assert_eq!(present(&s), vec!["thrombus-length"]);
}
