//! §3 Bleeding risk (CHEST 2016, Kearon et al., table of risk factors).

use time::Duration;

use super::factors::recent_surgery;
use super::model::{
    AgeFact, BleedingAssessment, BleedingFactor as B, BleedingRisk, Evidence, MissingData,
    RenalFunction,
};
use super::patient::{PatientContext, describe_renal, on_therapy};
use super::record::{
    self, Clock, active_conditions, condition_evidence, fmt_num, history_conditions,
    readable_status,
};
use crate::config::{DrugClass, Rules, ValueSetId};
use crate::facts::{Measured, ObservationValue, PatientFacts};

pub fn assess_bleeding(
    facts: &PatientFacts,
    rules: &Rules,
    clock: &Clock,
    patient: &PatientContext,
) -> BleedingAssessment {
    let t = &rules.thresholds.bleeding;
    let w = &rules.thresholds.windows;
    let mut factors: Vec<(B, Evidence)> = Vec::new();
    let mut missing: Vec<MissingData> = Vec::new();
    let active = |set: ValueSetId| {
        active_conditions(facts, rules, set)
            .next()
            .map(condition_evidence)
    };
    let history = |set: ValueSetId| {
        history_conditions(facts, rules, set)
            .next()
            .map(condition_evidence)
    };

    // Age ≥ 76 counts 2 (`age-over-75`, which also meets "age > 65"); 66–75 counts 1.
    match patient.age {
        AgeFact::Known { years, at_least } => {
            let shown = format!("age {}{years}", if at_least { "at least " } else { "" });
            if years > t.age_high_over {
                factors.push((B::AgeOver75, Evidence::new(shown, None)));
            } else if years > t.age_over {
                factors.push((B::AgeOver65, Evidence::new(shown, None)));
            }
        }
        AgeFact::Unknown => missing.push(MissingData::Age),
    }
    // History factors count whatever the clinicalStatus (§1 "Which Conditions count").
    if let Some(ev) = history(ValueSetId::PreviousBleeding) {
        factors.push((B::PreviousBleeding, ev));
    }
    // A metastatic-cancer code also satisfies `cancer`: both listed, each counts 1.
    if let Some(ev) = patient.active_cancer.clone() {
        factors.push((B::Cancer, ev));
    }
    if let Some(ev) = patient.metastatic_cancer.clone() {
        factors.push((B::MetastaticCancer, ev));
    }
    // renal-failure: eGFR or CrCl < 30, or CKD stage 4–5 / ESRD / dialysis.
    let renal_condition = active(ValueSetId::CkdStage45)
        .or_else(|| active(ValueSetId::EndStageRenalDisease))
        .or_else(|| active(ValueSetId::Dialysis));
    match (&patient.renal, renal_condition) {
        (RenalFunction::Measured { ml_min, when, .. }, _)
            if *ml_min < t.renal_failure_below_ml_min =>
        {
            factors.push((
                B::RenalFailure,
                Evidence::new(describe_renal(&patient.renal), *when),
            ));
        }
        (_, Some(ev)) => factors.push((B::RenalFailure, ev)),
        (RenalFunction::EsrdOrDialysis(ev), None) => factors.push((B::RenalFailure, ev.clone())),
        _ => {}
    }
    if !patient.renal_known {
        missing.push(MissingData::RenalFunction);
    }
    if let Some(ev) = active(ValueSetId::LiverFailure) {
        factors.push((B::LiverFailure, ev));
    }
    // thrombocytopenia: platelets < 100 × 10⁹/L in the last 30 days, or an active Condition.
    let platelets = record::latest(
        facts,
        clock,
        clock.now - Duration::days(w.platelets_days),
        readable_status,
        |v| match v {
            ObservationValue::Platelets(Measured::Known(x)) => Some(*x),
            _ => None,
        },
    );
    let low_platelets = platelets
        .filter(|(p, _)| *p < t.platelets_below_10e9_l)
        .map(|(p, o)| {
            Evidence::new(
                format!("platelets {} × 10⁹/L", fmt_num(p)),
                o.effective.map(|e| e.instant),
            )
        });
    if let Some(ev) = low_platelets.or_else(|| active(ValueSetId::Thrombocytopenia)) {
        factors.push((B::Thrombocytopenia, ev));
    }
    if platelets.is_none() {
        missing.push(MissingData::Platelets);
    }
    // A haemorrhagic stroke counts as previous-stroke and previous-bleeding; a TIA as stroke.
    if let Some(ev) = history(ValueSetId::Stroke) {
        factors.push((B::PreviousStroke, ev));
    }
    if let Some(ev) = active(ValueSetId::Diabetes) {
        factors.push((B::Diabetes, ev));
    }
    // anemia: haemoglobin < 10 g/dL in the last 30 days, or an active Condition.
    let hemoglobin = record::latest(
        facts,
        clock,
        clock.now - Duration::days(w.hemoglobin_days),
        readable_status,
        |v| match v {
            ObservationValue::Hemoglobin(Measured::Known(x)) => Some(*x),
            _ => None,
        },
    );
    let low_hb = hemoglobin
        .filter(|(h, _)| *h < t.hemoglobin_below_g_dl)
        .map(|(h, o)| {
            Evidence::new(
                format!("haemoglobin {} g/dL", fmt_num(h)),
                o.effective.map(|e| e.instant),
            )
        });
    if let Some(ev) = low_hb.or_else(|| active(ValueSetId::Anemia)) {
        factors.push((B::Anemia, ev));
    }
    if hemoglobin.is_none() {
        missing.push(MissingData::Hemoglobin);
    }
    if let Some(ev) = on_therapy(facts, |i| i.class() == DrugClass::Antiplatelet) {
        factors.push((B::AntiplateletTherapy, ev));
    }
    if let Some(ev) = recent_surgery(facts, rules, clock) {
        factors.push((B::RecentSurgery, ev));
    }
    if let Some(ev) = active(ValueSetId::FrequentFalls) {
        factors.push((B::FrequentFalls, ev));
    }
    if let Some(ev) = active(ValueSetId::AlcoholAbuse) {
        factors.push((B::AlcoholAbuse, ev));
    }
    // The 2016 table added NSAIDs to the 2012 list.
    if let Some(ev) = on_therapy(facts, |i| i.class() == DrugClass::Nsaid) {
        factors.push((B::NsaidTherapy, ev));
    }
    let score: u32 = factors.iter().map(|(f, _)| f.points()).sum();
    let category = category(score);
    BleedingAssessment {
        factors,
        score,
        category,
        missing,
        estimated_major_bleeding_percent: match category {
            BleedingRisk::Low => t.low_percent,
            BleedingRisk::Moderate => t.moderate_percent,
            BleedingRisk::High => t.high_percent,
        },
    }
}

/// §3: low = 0, moderate = 1, high ≥ 2.
pub fn category(score: u32) -> BleedingRisk {
    match score {
        0 => BleedingRisk::Low,
        1 => BleedingRisk::Moderate,
        _ => BleedingRisk::High,
    }
}
