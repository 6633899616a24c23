//! Patient-level conclusions shared by the stratification (§2–§4) and the order-safety
//! checks (§5): age, renal function, pregnancy, postpartum, active cancer, weight, and
//! whether a medication order is therapeutic anticoagulation.

use time::{Duration, OffsetDateTime};

use super::model::{AgeFact, Evidence, RenalClass, RenalFunction, RenalSource};
use super::record::{
    self, Clock, active_conditions, condition_date, condition_evidence, fmt_date, fmt_num,
    history_conditions, readable_status,
};
use crate::config::{Ingredient, Rules, ValueSetId};
use crate::facts::{
    DoseUnit, Measured, MedicationIntent, MedicationOrderFact, MedicationStatus, ObservationValue,
    PatientFacts, Route,
};

/// What the rules need to know about the patient, read once per call.
#[derive(Debug, Clone)]
pub struct PatientContext {
    pub age: AgeFact,
    pub renal: RenalFunction,
    pub renal_class: RenalClass,
    /// Renal function known at all (a lab in 90 days, or ESRD/dialysis).
    pub renal_known: bool,
    pub pregnancy: Option<Evidence>,
    pub postpartum: Option<Evidence>,
    pub active_cancer: Option<Evidence>,
    pub metastatic_cancer: Option<Evidence>,
    /// ESRD (value set, dialysis, or eGFR/CrCl below the severe threshold) — §2 progression modifier.
    pub esrd: Option<Evidence>,
    /// kg and when.
    pub weight: Option<(f64, Option<OffsetDateTime>)>,
}

impl PatientContext {
    pub fn read(facts: &PatientFacts, rules: &Rules, clock: &Clock) -> PatientContext {
        let t = &rules.thresholds;
        let (renal, dialysis) = renal_function(facts, rules, clock);
        let renal_value = match &renal {
            RenalFunction::Measured { ml_min, .. } => Some(*ml_min),
            _ => None,
        };
        // §4 Renal function: an active ESRD or dialysis Condition means < 15 without a lab,
        // and "< 15 or dialysis" is the severe class whatever a lab says.
        let renal_class =
            if dialysis.is_some() || renal_value.is_some_and(|v| v < t.renal.severe_below) {
                RenalClass::Severe
            } else if renal_value.is_some_and(|v| v < t.renal.impairment_below) {
                RenalClass::Impaired
            } else {
                RenalClass::Adequate
            };
        let renal_known = renal_value.is_some() || dialysis.is_some();
        let esrd = dialysis.clone().or_else(|| match &renal {
            RenalFunction::Measured { ml_min, when, .. } if *ml_min < t.renal.severe_below => Some(
                Evidence::new(format!("renal function {} mL/min", fmt_num(*ml_min)), *when),
            ),
            _ => None,
        });
        let renal = match (renal, dialysis) {
            (RenalFunction::Unknown, Some(ev)) => RenalFunction::EsrdOrDialysis(ev),
            (r, _) => r,
        };
        let (pregnancy, postpartum) = pregnancy_and_postpartum(facts, rules, clock);
        let metastatic_cancer = active_conditions(facts, rules, ValueSetId::MetastaticCancer)
            .next()
            .map(condition_evidence);
        // §2 active-cancer "includes metastatic".
        let active_cancer = active_conditions(facts, rules, ValueSetId::ActiveCancer)
            .next()
            .map(condition_evidence)
            .or_else(|| metastatic_cancer.clone());
        let weight_start = clock.now - Duration::days(t.windows.weight_days);
        let weight = record::latest(facts, clock, weight_start, readable_status, |v| match v {
            ObservationValue::BodyWeight(m) => Some(*m),
            _ => None,
        })
        .and_then(|(m, o)| m.known().map(|kg| (kg, o.effective.map(|e| e.instant))));
        PatientContext {
            age: record::age(facts, clock.now),
            renal,
            renal_class,
            renal_known,
            pregnancy,
            postpartum,
            active_cancer,
            metastatic_cancer,
            esrd,
            weight,
        }
    }

    /// Whether renal function is below `threshold` (mL/min): "< 15 or dialysis" (the severe
    /// class) is below every renal threshold of the policy; `None` when not known.
    pub fn renal_below(&self, threshold: f64) -> Option<bool> {
        if self.renal_class == RenalClass::Severe {
            return Some(true);
        }
        match &self.renal {
            RenalFunction::Measured { ml_min, .. } => Some(*ml_min < threshold),
            RenalFunction::EsrdOrDialysis(_) => Some(true),
            RenalFunction::Unknown => None,
        }
    }

    pub fn on_dialysis_or_esrd(&self) -> bool {
        self.renal_class == RenalClass::Severe
    }
}

/// §4 Renal function: the latest creatinine clearance in 90 days (DOAC labels use
/// Cockcroft-Gault), else the latest eGFR in 90 days. Also returns an active ESRD or dialysis
/// Condition, if any.
fn renal_function(
    facts: &PatientFacts,
    rules: &Rules,
    clock: &Clock,
) -> (RenalFunction, Option<Evidence>) {
    let start = clock.now - Duration::days(rules.thresholds.windows.renal_days);
    let crcl = record::latest(facts, clock, start, readable_status, |v| match v {
        ObservationValue::CreatinineClearance(Measured::Known(x)) => Some(*x),
        _ => None,
    });
    let egfr = record::latest(facts, clock, start, readable_status, |v| match v {
        ObservationValue::Egfr(Measured::Known(x)) => Some(*x),
        _ => None,
    });
    let measured = match (crcl, egfr) {
        (Some((v, o)), _) => RenalFunction::Measured {
            ml_min: v,
            source: RenalSource::CreatinineClearance,
            when: o.effective.map(|t| t.instant),
        },
        (None, Some((v, o))) => RenalFunction::Measured {
            ml_min: v,
            source: RenalSource::Egfr,
            when: o.effective.map(|t| t.instant),
        },
        (None, None) => RenalFunction::Unknown,
    };
    let dialysis = active_conditions(facts, rules, ValueSetId::EndStageRenalDisease)
        .chain(active_conditions(facts, rules, ValueSetId::Dialysis))
        .next()
        .map(condition_evidence);
    (measured, dialysis)
}

/// §4 Special populations. Pregnancy: an active pregnancy Condition or a positive pregnancy
/// status in the last 9 months, without a delivery since. Postpartum: a delivery in the last
/// 6 weeks. (Safer reading: "without a delivery since" applies to the Condition too — an
/// EHR may leave the pregnancy problem active after delivery; both states exclude DOACs.)
fn pregnancy_and_postpartum(
    facts: &PatientFacts,
    rules: &Rules,
    clock: &Clock,
) -> (Option<Evidence>, Option<Evidence>) {
    let w = &rules.thresholds.windows;
    let last_delivery = history_conditions(facts, rules, ValueSetId::Delivery)
        .filter_map(|c| {
            condition_date(c)
                .and_then(|t| clock.effective(t))
                .map(|t| (t, c))
        })
        .max_by_key(|(t, _)| *t);
    let delivered_after = |t: Option<OffsetDateTime>| match (last_delivery, t) {
        (Some((d, _)), Some(t)) => d >= t,
        _ => false,
    };
    let condition = active_conditions(facts, rules, ValueSetId::Pregnancy)
        .find(|c| !delivered_after(condition_date(c).and_then(|t| clock.effective(t))))
        .map(condition_evidence);
    let status_start = clock.now - Duration::days(w.pregnancy_status_days);
    let status = record::latest(facts, clock, status_start, readable_status, |v| match v {
        ObservationValue::PregnancyStatus(Measured::Known(p)) => Some(*p),
        _ => None,
    })
    .filter(|(pregnant, o)| *pregnant && !delivered_after(o.effective.map(|t| t.instant)))
    .map(|(_, o)| Evidence::new("pregnancy status: pregnant", o.effective.map(|t| t.instant)));
    let pregnancy = condition.or(status);
    let postpartum = last_delivery
        .filter(|(d, _)| *d >= clock.now - Duration::days(w.postpartum_days))
        .map(|(d, c)| Evidence::new(format!("delivery {}", record::condition_label(c)), Some(d)));
    // A new pregnancy after a delivery is pregnancy, not postpartum.
    let postpartum = if pregnancy.is_some() {
        None
    } else {
        postpartum
    };
    (pregnancy, postpartum)
}

/// Whether a medication order is therapeutic anticoagulation (§1 prophylactic regimens
/// excluded). `Unknown` when a parenteral agent's dose, frequency or route cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Therapeutic {
    Yes,
    Prophylactic,
    Unknown,
    /// Not an anticoagulant.
    No,
}

pub fn therapeutic(order: &MedicationOrderFact, rules: &Rules) -> Therapeutic {
    let Some(ing) = order.ingredient else {
        return Therapeutic::No;
    };
    if !ing.is_anticoagulant() {
        return Therapeutic::No;
    }
    let Some(limit) = rules.medications.prophylaxis.get(&ing) else {
        // DOACs, warfarin, tinzaparin: the rule book lists no prophylactic regimen for them.
        return Therapeutic::Yes;
    };
    let Some(dose) = &order.dose else {
        return Therapeutic::Unknown;
    };
    let unit_matches = match &dose.unit {
        DoseUnit::Mg => limit.unit == "mg",
        DoseUnit::InternationalUnit => limit.unit == "[iU]",
        // Weight-based dosing (1 mg/kg) is treatment.
        DoseUnit::MgPerKg => return Therapeutic::Yes,
        DoseUnit::Other(_) => false,
    };
    if !unit_matches {
        return Therapeutic::Unknown;
    }
    if dose.amount > limit.max_single_dose {
        return Therapeutic::Yes;
    }
    if let Some(route) = &limit.route {
        match order.route {
            Some(Route::Subcutaneous) if route == "subcutaneous" => {}
            Some(_) => return Therapeutic::Yes,
            None => return Therapeutic::Unknown,
        }
    }
    if limit.max_daily_dose.is_some() || limit.max_doses_per_day.is_some() {
        let Some(per_day) = order.doses_per_day else {
            return Therapeutic::Unknown;
        };
        if limit.max_doses_per_day.is_some_and(|m| per_day > m + 1e-9)
            || limit
                .max_daily_dose
                .is_some_and(|m| dose.amount * per_day > m + 1e-9)
        {
            return Therapeutic::Yes;
        }
    }
    Therapeutic::Prophylactic
}

/// An order on record that is in force: status active or on-hold, intent order/plan/original-order (§1).
pub fn in_force(order: &MedicationOrderFact) -> bool {
    matches!(
        order.status,
        MedicationStatus::Active | MedicationStatus::OnHold
    ) && matches!(
        order.intent,
        MedicationIntent::Order | MedicationIntent::Plan | MedicationIntent::OriginalOrder
    )
}

/// Active therapy of a class on record (§2 estrogen, §3 antiplatelet, NSAID).
pub fn on_therapy(facts: &PatientFacts, pred: impl Fn(Ingredient) -> bool) -> Option<Evidence> {
    facts
        .medications
        .iter()
        .filter(|m| in_force(m))
        .find(|m| m.ingredient.is_some_and(&pred))
        .map(|m| {
            Evidence::new(
                format!(
                    "active {}",
                    m.label.clone().unwrap_or_else(|| m
                        .ingredient
                        .map(|i| i.name().to_owned())
                        .unwrap_or_default())
                ),
                m.authored_on.map(|t| t.instant),
            )
        })
}

pub fn describe_renal(r: &RenalFunction) -> String {
    match r {
        RenalFunction::Measured {
            ml_min,
            source,
            when,
        } => format!(
            "{} {} mL/min{}",
            match source {
                RenalSource::CreatinineClearance => "creatinine clearance",
                RenalSource::Egfr => "eGFR",
            },
            fmt_num(*ml_min),
            when.map(|w| format!(" ({})", fmt_date(w)))
                .unwrap_or_default()
        ),
        RenalFunction::EsrdOrDialysis(ev) => format!("{} (taken as < 15 mL/min)", ev.what),
        RenalFunction::Unknown => "renal function not measured in the last 90 days".to_owned(),
    }
}
