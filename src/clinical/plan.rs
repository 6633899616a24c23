//! §4 Recommendation: the table, special populations, regimens, serial-imaging dates.

use time::{Date, Duration};

use super::model::{
    BleedingRisk, FactorFinding, ImagingPlan, Indicator, Legs, Moment, Note, ProgressionModifier,
    Recommendation, RegimenChoice, RenalClass, SpecialPopulation, TreatmentDuration,
};
use super::patient::PatientContext;
use crate::config::{RegimenId, Rules};

/// §4 table: no factor present → serial imaging; ≥ 1 with low/moderate bleeding risk →
/// anticoagulate; ≥ 1 with high bleeding risk → individualize.
pub fn recommend(factors: &[FactorFinding], bleeding: BleedingRisk) -> Recommendation {
    let any_present = factors.iter().any(|f| f.presence.is_present());
    match (any_present, bleeding) {
        (false, _) => Recommendation::SerialImaging,
        (true, BleedingRisk::Low | BleedingRisk::Moderate) => Recommendation::Anticoagulate,
        (true, BleedingRisk::High) => Recommendation::Individualize,
    }
}

/// §4 table, indicator column: serial imaging is info, warning on order-sign, in pregnancy
/// and with ESRD/stroke (also when it stays beside a selected anticoagulant: the modifiers
/// still apply — the safer reading); anticoagulate and individualize are warning.
pub fn indicator(
    recommendation: Recommendation,
    moment: Moment,
    pregnant: bool,
    modifiers: &[ProgressionModifier],
) -> Indicator {
    match recommendation {
        Recommendation::SerialImaging
            if moment == Moment::Signing || pregnant || !modifiers.is_empty() =>
        {
            Indicator::Warning
        }
        Recommendation::SerialImaging => Indicator::Info,
        Recommendation::Anticoagulate | Recommendation::Individualize => Indicator::Warning,
    }
}

/// §4 Special populations, reported whenever detected; only the most severe renal class.
pub fn special_populations(p: &PatientContext) -> Vec<SpecialPopulation> {
    let mut out = Vec::new();
    if p.pregnancy.is_some() {
        out.push(SpecialPopulation::Pregnancy);
    }
    if p.postpartum.is_some() {
        out.push(SpecialPopulation::Postpartum);
    }
    if p.active_cancer.is_some() {
        out.push(SpecialPopulation::ActiveCancer);
    }
    match p.renal_class {
        RenalClass::Severe => out.push(SpecialPopulation::SevereRenalImpairment),
        RenalClass::Impaired => out.push(SpecialPopulation::RenalImpairment),
        RenalClass::Adequate => {}
    }
    out
}

/// The regimens to offer (§4 Anticoagulate and Special populations). Pregnancy: LMWH only;
/// postpartum: LMWH or warfarin; active cancer: LMWH first, apixaban as alternative; renal
/// policy removes what the renal function forbids; < 15 or dialysis: warfarin (with UFH
/// bridging, stated in the detail). Pregnancy beats postpartum beats cancer.
pub fn regimens(rules: &Rules, p: &PatientContext, first_recommended: bool) -> Vec<RegimenChoice> {
    let meds = &rules.medications;
    let (order, duration): (Vec<RegimenId>, TreatmentDuration) = if p.pregnancy.is_some() {
        (vec![RegimenId::Enoxaparin], TreatmentDuration::Pregnancy)
    } else if p.postpartum.is_some() {
        let d = if p.active_cancer.is_some() {
            TreatmentDuration::ActiveCancer
        } else {
            TreatmentDuration::ThreeMonths
        };
        (meds.postpartum_order.clone(), d)
    } else if p.active_cancer.is_some() {
        (meds.cancer_order.clone(), TreatmentDuration::ActiveCancer)
    } else {
        (meds.default_order.clone(), TreatmentDuration::ThreeMonths)
    };
    let mut allowed: Vec<RegimenId> = order
        .into_iter()
        .filter(|id| renal_allows(rules, p, *id))
        .collect();
    // < 15 or dialysis: no DOAC, no LMWH — warfarin, unless pregnant (warfarin is never
    // offered in pregnancy: then no regimen is drafted and the detail says so).
    if p.renal_class == RenalClass::Severe
        && p.pregnancy.is_none()
        && !allowed.contains(&RegimenId::Warfarin)
    {
        allowed = vec![RegimenId::Warfarin];
    }
    allowed
        .into_iter()
        .enumerate()
        .map(|(n, id)| regimen_choice(rules, p, id, first_recommended && n == 0, duration))
        .collect()
}

/// One regimen as drafted for this patient: renal-adjusted phases when renal function is
/// below the ingredient's `once-daily-below`, and the latest weight for per-kg doses.
pub fn regimen_choice(
    rules: &Rules,
    p: &PatientContext,
    id: RegimenId,
    recommended: bool,
    duration: TreatmentDuration,
) -> RegimenChoice {
    let meds = &rules.medications;
    let def = meds.regimen(id);
    RegimenChoice {
        regimen: id,
        ingredient: def.ingredient,
        recommended,
        renal_adjusted: meds
            .renal_policy(def.ingredient)
            .once_daily_below
            .is_some_and(|limit| p.renal_below(limit) == Some(true)),
        weight_kg: p.weight.map(|(kg, _)| kg),
        duration,
    }
}

/// Renal policy (`cds-services/medications.toml`): avoid below the threshold, or on dialysis.
pub fn renal_allows(rules: &Rules, p: &PatientContext, id: RegimenId) -> bool {
    let def = rules.medications.regimen(id);
    let policy = rules.medications.renal_policy(def.ingredient);
    let below = policy
        .avoid_below
        .is_some_and(|limit| p.renal_below(limit) == Some(true));
    let dialysis = policy.avoid_on_dialysis && p.on_dialysis_or_esrd();
    !(below || dialysis)
}

/// §4 Serial imaging: duplex at index + 7 and + 14 days; a due date already past moves to
/// today, and the second stays ≥ 7 days after the first.
pub fn imaging(rules: &Rules, index_day: Date, today: Date, legs: Legs) -> ImagingPlan {
    let f = &rules.thresholds.follow_up;
    let first = (index_day + Duration::days(f.first_scan_days)).max(today);
    let second = (index_day + Duration::days(f.second_scan_days))
        .max(today)
        .max(first + Duration::days(f.min_gap_days));
    ImagingPlan {
        legs,
        first_due: first,
        second_due: second,
    }
}

/// Statements the card must carry (§2–§4).
pub fn notes(
    recommendation: Recommendation,
    p: &PatientContext,
    modifiers: &[ProgressionModifier],
    regimens: &[RegimenChoice],
    factors: &[FactorFinding],
    anticoagulant_selected: bool,
) -> Vec<Note> {
    let mut notes = Vec::new();
    let imaging = matches!(
        recommendation,
        Recommendation::SerialImaging | Recommendation::Individualize
    );
    let drugs = matches!(
        recommendation,
        Recommendation::Anticoagulate | Recommendation::Individualize
    );
    if p.pregnancy.is_some() {
        notes.push(Note::PregnancyDDimer);
        if imaging {
            notes.push(Note::PregnancyLmwhAlternative);
        }
        if drugs {
            notes.push(Note::PregnancyLmwhOnly);
        }
    } else if p.postpartum.is_some() && drugs {
        notes.push(Note::PostpartumNoDoac);
    }
    if p.active_cancer.is_some() && drugs && p.pregnancy.is_none() {
        notes.push(Note::CancerRegimen);
    }
    if drugs && !regimens.is_empty() {
        match p.renal_class {
            RenalClass::Severe => notes.push(Note::RenalSevereRegimen),
            RenalClass::Impaired => notes.push(Note::RenalImpairedRegimen),
            RenalClass::Adequate => {}
        }
    }
    if !modifiers.is_empty() && imaging {
        notes.push(Note::CloserMonitoring);
    }
    if anticoagulant_selected && recommendation == Recommendation::SerialImaging {
        notes.push(Note::AnticoagulantSelectedIsAlternative);
    }
    if factors.iter().any(|f| {
        f.factor == super::model::ExtensionRiskFactor::Unprovoked && f.presence.is_present()
    }) {
        notes.push(Note::UnprovokedDerived);
    }
    notes.push(Note::UnscoredBleedingFactors);
    notes
}
