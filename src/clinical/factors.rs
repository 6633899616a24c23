//! §2 Extension risk factors: each present, absent or unknown, with the evidence behind it.

use time::{Duration, OffsetDateTime};

use super::model::{Evidence, ExtensionRiskFactor as F, FactorFinding, MissingData, Presence};
use super::patient::{PatientContext, on_therapy};
use super::record::{
    self, Clock, active_conditions, condition_date, condition_evidence, fmt_date, fmt_num,
    history_conditions, in_set, readable_status,
};
use super::scope::{IndexEpisode, vein_findings};
use crate::config::{DrugClass, Rules, ValueSetId};
use crate::facts::{
    DDimerBasis, DDimerFact, EncounterStatus, Interpretation, Measured, ObservationStatus,
    ObservationValue, PatientFacts, ProcedureStatus, UltrasoundFinding,
};

/// Inputs shared by the factor rules.
pub struct FactorInputs<'a> {
    pub facts: &'a PatientFacts,
    pub rules: &'a Rules,
    pub clock: &'a Clock,
    pub episode: &'a IndexEpisode<'a>,
    pub patient: &'a PatientContext,
}

impl FactorInputs<'_> {
    /// Findings and D-dimer count from `before-index-days` before the index date until now.
    fn finding_start(&self) -> OffsetDateTime {
        self.episode.index.date - Duration::days(self.rules.thresholds.windows.before_index_days)
    }

    fn days_ago(&self, days: i64) -> OffsetDateTime {
        self.clock.now - Duration::days(days)
    }

    /// The most recent finding of one kind in the finding window.
    fn latest_finding<T>(
        &self,
        pick: impl Fn(&UltrasoundFinding) -> Option<T>,
    ) -> Option<(T, Option<OffsetDateTime>)> {
        record::latest(
            self.facts,
            self.clock,
            self.finding_start(),
            readable_status,
            |v| match v {
                ObservationValue::Finding(f) => pick(f),
                _ => None,
            },
        )
        .map(|(v, o)| (v, o.effective.map(|t| t.instant)))
    }
}

/// All twelve factors, in the rule book's table order.
pub fn assess_factors(i: &FactorInputs<'_>) -> Vec<FactorFinding> {
    F::ALL
        .iter()
        .map(|f| FactorFinding {
            factor: *f,
            presence: match f {
                F::ThrombusLength => thrombus_length(i),
                F::MultipleVeins => multiple_veins(i),
                F::ThrombusDiameter => thrombus_diameter(i),
                F::NearProximalVeins => near_proximal(i),
                F::PositiveDDimer => positive_d_dimer(i),
                F::Unprovoked => unprovoked(i),
                F::ActiveCancer => present_if(i.patient.active_cancer.clone()),
                F::PriorVte => prior_vte(i),
                F::Inpatient => inpatient(i),
                F::RecentSurgery => present_if(recent_surgery(i.facts, i.rules, i.clock)),
                F::SevereSymptoms => severe_symptoms(i),
                F::Covid19 => present_if(covid(i, false)),
            },
        })
        .collect()
}

fn present_if(ev: Option<Evidence>) -> Presence {
    match ev {
        Some(e) => Presence::Present(vec![e]),
        None => Presence::Absent(Vec::new()),
    }
}

/// A measured finding compared with a threshold; the most recent in the window decides, and
/// an unreadable value (unknown unit) is unknown, never absent.
fn measured_finding(
    i: &FactorInputs<'_>,
    missing: MissingData,
    pick: impl Fn(&UltrasoundFinding) -> Option<Measured<f64>>,
    present: impl Fn(f64) -> bool,
    describe: impl Fn(f64) -> String,
) -> Presence {
    match i.latest_finding(pick) {
        Some((Measured::Known(v), when)) => {
            let ev = vec![Evidence::new(describe(v), when)];
            if present(v) {
                Presence::Present(ev)
            } else {
                Presence::Absent(ev)
            }
        }
        Some((Measured::Unknown, _)) => Presence::Unknown(missing),
        None => Presence::Unknown(missing),
    }
}

/// §2 thrombus-length: > 5 cm.
fn thrombus_length(i: &FactorInputs<'_>) -> Presence {
    let limit = i.rules.thresholds.extension.thrombus_length_cm;
    measured_finding(
        i,
        MissingData::ThrombusLength,
        |f| match f {
            UltrasoundFinding::ThrombusLength(m) => Some(*m),
            _ => None,
        },
        |v| v > limit,
        |v| {
            format!(
                "thrombus length {} cm (threshold > {} cm)",
                fmt_num(v),
                fmt_num(limit)
            )
        },
    )
}

/// §2 thrombus-diameter: maximum diameter > 7 mm.
fn thrombus_diameter(i: &FactorInputs<'_>) -> Presence {
    let limit = i.rules.thresholds.extension.thrombus_diameter_mm;
    measured_finding(
        i,
        MissingData::ThrombusDiameter,
        |f| match f {
            UltrasoundFinding::ThrombusDiameter(m) => Some(*m),
            _ => None,
        },
        |v| v > limit,
        |v| {
            format!(
                "maximum thrombus diameter {} mm (threshold > {} mm)",
                fmt_num(v),
                fmt_num(limit)
            )
        },
    )
}

/// §2 multiple-veins: ≥ 2 distinct calf veins (a `veins-involved` count, or distinct vein
/// sites across the index Condition bodySites and `vein-involved` findings). Absent only when
/// a count or `vein-involved` findings say fewer than 2; one vein named on the Condition
/// proves nothing about the others (unknown).
fn multiple_veins(i: &FactorInputs<'_>) -> Presence {
    let needed = i.rules.thresholds.extension.multiple_veins_count;
    let count = i.latest_finding(|f| match f {
        UltrasoundFinding::VeinsInvolved(m) => Some(*m),
        _ => None,
    });
    let sites = i.episode.index.veins.len() as u32;
    let findings_name_veins = vein_findings(i.facts, i.rules, i.clock, i.episode.index.date)
        .next()
        .is_some();
    if let Some((Measured::Known(n), when)) = count
        && n >= needed
    {
        return Presence::Present(vec![Evidence::new(
            format!("{n} calf veins involved (ultrasound)"),
            when,
        )]);
    }
    if sites >= needed {
        return Presence::Present(vec![Evidence::new(
            format!("{sites} distinct calf veins named"),
            None,
        )]);
    }
    match count {
        Some((Measured::Known(n), when)) => Presence::Absent(vec![Evidence::new(
            format!("{n} calf vein involved (ultrasound)"),
            when,
        )]),
        _ if findings_name_veins => Presence::Absent(vec![Evidence::new(
            format!("ultrasound names {sites} calf vein"),
            None,
        )]),
        _ => Presence::Unknown(MissingData::VeinsInvolved),
    }
}

/// §2 near-proximal-veins: finding `near-proximal-veins` = true, or distance ≤ 5 cm.
fn near_proximal(i: &FactorInputs<'_>) -> Presence {
    let limit = i.rules.thresholds.extension.near_proximal_distance_cm;
    let near = i.latest_finding(|f| match f {
        UltrasoundFinding::NearProximalVeins(m) => Some(*m),
        _ => None,
    });
    let distance = i.latest_finding(|f| match f {
        UltrasoundFinding::DistanceToProximalVeins(m) => Some(*m),
        _ => None,
    });
    let mut absent = Vec::new();
    match near {
        Some((Measured::Known(true), when)) => {
            return Presence::Present(vec![Evidence::new(
                "ultrasound: thrombus near the proximal veins",
                when,
            )]);
        }
        Some((Measured::Known(false), when)) => absent.push(Evidence::new(
            "ultrasound: not near the proximal veins",
            when,
        )),
        _ => {}
    }
    match distance {
        Some((Measured::Known(d), when)) => {
            let ev = Evidence::new(
                format!(
                    "distance to the proximal veins {} cm (threshold ≤ {} cm)",
                    fmt_num(d),
                    fmt_num(limit)
                ),
                when,
            );
            if d <= limit {
                return Presence::Present(vec![ev]);
            }
            absent.push(ev);
        }
        Some((Measured::Unknown, _)) if absent.is_empty() => {
            return Presence::Unknown(MissingData::DistanceToProximalVeins);
        }
        _ => {}
    }
    if absent.is_empty() {
        Presence::Unknown(MissingData::DistanceToProximalVeins)
    } else {
        Presence::Absent(absent)
    }
}

/// How a D-dimer result is judged (§2 positive-d-dimer: the first source available decides).
pub fn judge_d_dimer(d: &DDimerFact, rules: &Rules) -> Option<(bool, String)> {
    let t = &rules.thresholds.extension;
    // (1) interpretation code.
    if let Some(interp) = d.interpretation {
        return Some((
            interp == Interpretation::Positive,
            "by the laboratory's interpretation".to_owned(),
        ));
    }
    // Qualitative results: coded or string positive/detected.
    if let Some(q) = d.qualitative {
        return Some((q, "qualitative result".to_owned()));
    }
    // (2) reference range high: positive when value > high.
    match (d.value_ng_ml, d.reference_high_ng_ml) {
        (Some(Measured::Known(v)), Some(Measured::Known(high))) => {
            return Some((
                v > high,
                format!(
                    "against the reference range (upper limit {} ng/mL)",
                    fmt_num(high)
                ),
            ));
        }
        _ => {
            if let Some(exceeds) = d.exceeds_reference_same_unit {
                return Some((exceeds, "against the reference range".to_owned()));
            }
        }
    }
    // (3) cutoff for the LOINC code's basis (the age-adjusted cutoff is not used).
    let Some(Measured::Known(v)) = d.value_ng_ml else {
        return None;
    };
    match d.basis {
        DDimerBasis::Feu => Some((
            v >= t.d_dimer_feu_cutoff_ng_ml,
            format!(
                "cutoff {} mg/L FEU",
                fmt_num(t.d_dimer_feu_cutoff_ng_ml / 1000.0)
            ),
        )),
        DDimerBasis::Ddu => Some((
            v >= t.d_dimer_ddu_cutoff_ng_ml,
            format!("cutoff {} ng/mL DDU", fmt_num(t.d_dimer_ddu_cutoff_ng_ml)),
        )),
        // Basis unknown: judged by interpretation or reference range only.
        DDimerBasis::Unknown | DDimerBasis::Qualitative => None,
    }
}

/// §2 positive-d-dimer: the most recent final/amended/corrected D-dimer from 14 days before
/// the index date until now.
fn positive_d_dimer(i: &FactorInputs<'_>) -> Presence {
    let final_only = |o: &crate::facts::ObservationFact| {
        matches!(
            o.status,
            ObservationStatus::Final | ObservationStatus::Amended | ObservationStatus::Corrected
        )
    };
    let latest = record::latest(
        i.facts,
        i.clock,
        i.finding_start(),
        final_only,
        |v| match v {
            ObservationValue::DDimer(d) => Some(d),
            _ => None,
        },
    );
    let Some((d, o)) = latest else {
        return Presence::Unknown(MissingData::DDimer);
    };
    let when = o.effective.map(|t| t.instant);
    match judge_d_dimer(d, i.rules) {
        Some((positive, how)) => {
            let ev = vec![Evidence::new(
                format!(
                    "D-dimer {} {} ({how})",
                    d.shown,
                    if positive { "positive" } else { "negative" }
                ),
                when,
            )];
            if positive {
                Presence::Present(ev)
            } else {
                Presence::Absent(ev)
            }
        }
        None => Presence::Unknown(MissingData::DDimer),
    }
}

/// Surgical Procedure (completed or in progress) performed ≤ 90 days ago (§2, §3).
pub fn recent_surgery(facts: &PatientFacts, rules: &Rules, clock: &Clock) -> Option<Evidence> {
    let days = rules.thresholds.windows.surgery_days;
    facts
        .procedures
        .iter()
        .filter(|p| {
            matches!(
                p.status,
                ProcedureStatus::Completed | ProcedureStatus::InProgress
            )
        })
        .filter(|p| {
            in_set(rules, ValueSetId::SurgicalProcedure, &p.category)
                || in_set(rules, ValueSetId::SurgicalProcedure, &p.codes)
        })
        .find(|p| {
            clock.within_days(p.performed, days)
                // An operation in progress with no date is happening now.
                || (p.performed.is_none() && p.status == ProcedureStatus::InProgress)
        })
        .map(|p| {
            Evidence::new(
                format!(
                    "surgery: {}",
                    p.label
                        .clone()
                        .unwrap_or_else(|| "surgical procedure".to_owned())
                ),
                p.performed.map(|t| t.instant),
            )
        })
}

const HOSPITAL_CLASSES: [&str; 4] = ["IMP", "ACUTE", "NONAC", "OBSENC"];

/// Inpatient or observation stay now, or ended ≤ 90 days ago (§2 inpatient; EMER alone is not).
fn hospital_stay(i: &FactorInputs<'_>) -> Option<Evidence> {
    let days = i.rules.thresholds.windows.hospital_stay_days;
    i.facts
        .encounters
        .iter()
        .filter(|e| {
            e.class_code
                .as_deref()
                .is_some_and(|c| HOSPITAL_CLASSES.contains(&c))
        })
        .filter(|e| {
            !matches!(
                e.status,
                EncounterStatus::Cancelled | EncounterStatus::EnteredInError
            )
        })
        .find_map(|e| {
            let is_hook_encounter =
                e.id.is_some() && e.id.as_deref() == i.facts.context_encounter_id.as_deref();
            let class = e.class_code.clone().unwrap_or_default();
            if is_hook_encounter || e.status == EncounterStatus::InProgress {
                return Some(Evidence::new(
                    format!("current {class} encounter"),
                    e.period_start.map(|t| t.instant),
                ));
            }
            // Ended (or, without an end, started) in the window.
            let end = e.period_end.or(e.period_start);
            i.clock.within_days(end, days).then(|| {
                Evidence::new(
                    format!(
                        "{class} stay ended {}",
                        end.map(|t| fmt_date(t.instant)).unwrap_or_default()
                    ),
                    end.map(|t| t.instant),
                )
            })
        })
}

fn bed_confinement(i: &FactorInputs<'_>) -> Option<Evidence> {
    active_conditions(i.facts, i.rules, ValueSetId::BedConfinement)
        .next()
        .map(condition_evidence)
}

/// §2 inpatient: the hospital stay, or bed confinement.
fn inpatient(i: &FactorInputs<'_>) -> Presence {
    present_if(hospital_stay(i).or_else(|| bed_confinement(i)))
}

/// §2 covid-19: active COVID-19 Condition, or positive SARS-CoV-2 test in the last 30 days.
/// As a provoking factor (`recent = true`), a COVID-19 Condition dated in the last 30 days
/// counts whatever its status.
fn covid(i: &FactorInputs<'_>, recent: bool) -> Option<Evidence> {
    let days = i.rules.thresholds.windows.covid_days;
    if let Some(c) = active_conditions(i.facts, i.rules, ValueSetId::Covid19).next() {
        return Some(condition_evidence(c));
    }
    if recent
        && let Some(c) = history_conditions(i.facts, i.rules, ValueSetId::Covid19)
            .find(|c| i.clock.within_days(condition_date(c), days))
    {
        return Some(condition_evidence(c));
    }
    record::latest(
        i.facts,
        i.clock,
        i.days_ago(days),
        readable_status,
        |v| match v {
            ObservationValue::SarsCov2(Measured::Known(p)) => Some(*p),
            _ => None,
        },
    )
    .filter(|(positive, _)| *positive)
    .map(|(_, o)| Evidence::new("positive SARS-CoV-2 test", o.effective.map(|t| t.instant)))
}

/// §2 prior-vte: a VTE Condition before the index episode (any clinical status), a chronic
/// DVT, or a personal-history code.
fn prior_vte(i: &FactorInputs<'_>) -> Presence {
    let vte = [
        ValueSetId::Distal,
        ValueSetId::Ambiguous,
        ValueSetId::Proximal,
        ValueSetId::PulmonaryEmbolism,
    ];
    let index_date = i.episode.index.date;
    let is_index =
        |c: &crate::facts::ConditionFact| i.episode.conditions.iter().any(|x| std::ptr::eq(*x, c));
    let found = history_conditions(i.facts, i.rules, ValueSetId::VteHistory)
        .chain(history_conditions(i.facts, i.rules, ValueSetId::ChronicDvt))
        .chain(i.facts.conditions.iter().filter(|c| {
            record::counts(c)
                && !is_index(c)
                && vte.iter().any(|s| in_set(i.rules, *s, &c.codes))
                && match condition_date(c) {
                    Some(t) => t.instant.date() < index_date.date(),
                    // Undated: history when no longer active.
                    None => !record::is_active(c),
                }
        }))
        .next();
    present_if(found.map(condition_evidence))
}

/// §2 severe-symptoms: index Condition severity severe, or pain ≥ 7/10 in the last 7 days.
fn severe_symptoms(i: &FactorInputs<'_>) -> Presence {
    if let Some(c) = i
        .episode
        .conditions
        .iter()
        .find(|c| in_set(i.rules, ValueSetId::SevereSeverity, &c.severity))
    {
        return Presence::Present(vec![Evidence::new(
            "DVT recorded with severity: severe",
            condition_date(c).map(|t| t.instant),
        )]);
    }
    let limit = i.rules.thresholds.extension.severe_pain_score;
    let pain = record::latest(
        i.facts,
        i.clock,
        i.days_ago(i.rules.thresholds.windows.pain_days),
        readable_status,
        |v| match v {
            ObservationValue::PainSeverity(Measured::Known(p)) => Some(*p),
            _ => None,
        },
    );
    match pain {
        Some((p, o)) => {
            let ev = vec![Evidence::new(
                format!("pain score {}/10", fmt_num(p)),
                o.effective.map(|t| t.instant),
            )];
            if p >= limit {
                Presence::Present(ev)
            } else {
                Presence::Absent(ev)
            }
        }
        None => Presence::Absent(Vec::new()),
    }
}

/// §2 unprovoked: no provoking factor recorded. Never unknown: derived from absence.
fn unprovoked(i: &FactorInputs<'_>) -> Presence {
    let w = &i.rules.thresholds.windows;
    let mut provoking: Vec<Evidence> = Vec::new();
    provoking.extend(recent_surgery(i.facts, i.rules, i.clock));
    provoking.extend(hospital_stay(i));
    provoking.extend(i.patient.active_cancer.clone());
    provoking.extend(i.patient.pregnancy.clone());
    provoking.extend(i.patient.postpartum.clone());
    provoking.extend(on_therapy(i.facts, |ing| {
        ing.class() == DrugClass::Estrogen
    }));
    provoking.extend(bed_confinement(i));
    provoking.extend(
        active_conditions(i.facts, i.rules, ValueSetId::ReducedMobility)
            .next()
            .map(condition_evidence),
    );
    provoking.extend(covid(i, true));
    // Lower-limb injury: any code in the value set in the last 60 days, mobility not required.
    provoking.extend(
        history_conditions(i.facts, i.rules, ValueSetId::LowerLimbInjury)
            .find(|c| {
                i.clock
                    .within_days(condition_date(c), w.lower_limb_injury_days)
            })
            .map(condition_evidence),
    );
    if provoking.is_empty() {
        // The card explains the derivation (`Note::UnprovokedDerived`).
        Presence::Present(vec![Evidence::new("no provoking factor recorded", None)])
    } else {
        Presence::Absent(provoking)
    }
}
