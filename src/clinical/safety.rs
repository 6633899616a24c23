//! §5 Order-safety checks, over the selected drafts (order-select) or all drafts (order-sign).

use super::model::{
    Evidence, Indicator, Moment, RegimenChoice, SafetyCheck, SafetyFinding, SafetyFix,
    TreatmentDuration,
};
use super::patient::{PatientContext, Therapeutic, in_force, therapeutic};
use super::plan::{regimen_choice, renal_allows};
use super::record::{fmt_num, in_set};
use super::scope::{IndexEpisode, considered_drafts, med_label};
use crate::config::{DrugClass, Ingredient, RegimenId, Rules, ValueSetId};
use crate::facts::{DraftOrderKind, MedicationOrderFact, PatientFacts};

/// A considered draft anticoagulant: therapeutic or undeterminable (an unreadable dose is
/// treated as treatment here — the safer reading for safety checks).
struct DraftAnticoagulant<'a> {
    reference: &'a str,
    order: &'a MedicationOrderFact,
    ingredient: Ingredient,
}

fn draft_anticoagulants<'a>(
    facts: &'a PatientFacts,
    rules: &Rules,
    moment: Moment,
) -> Vec<DraftAnticoagulant<'a>> {
    considered_drafts(facts, moment)
        .filter_map(|d| match &d.order {
            DraftOrderKind::Medication(m) => {
                let ingredient = m.ingredient?;
                matches!(
                    therapeutic(m, rules),
                    Therapeutic::Yes | Therapeutic::Unknown
                )
                .then_some(DraftAnticoagulant {
                    reference: d.reference.as_str(),
                    order: m,
                    ingredient,
                })
            }
            _ => None,
        })
        .collect()
}

fn ingredients(drafts: &[&DraftAnticoagulant<'_>]) -> Vec<Ingredient> {
    let mut out: Vec<Ingredient> = drafts.iter().map(|d| d.ingredient).collect();
    out.sort();
    out.dedup();
    out
}

pub fn run_checks(
    facts: &PatientFacts,
    rules: &Rules,
    moment: Moment,
    episode: &IndexEpisode<'_>,
    p: &PatientContext,
) -> Vec<SafetyFinding> {
    let drafts = draft_anticoagulants(facts, rules, moment);
    if drafts.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let pregnancy = pregnancy_anticoagulant(&drafts, rules, p);
    let pregnancy_orders: Vec<String> = pregnancy
        .as_ref()
        .map(|f| f.orders.clone())
        .unwrap_or_default();
    out.extend(pregnancy);
    out.extend(renal_doac(&drafts, rules, p, &pregnancy_orders));
    out.extend(duplicate(&drafts, facts, rules));
    out.extend(short_duration(&drafts, facts, rules, episode));
    out
}

fn lmwh_choice(rules: &Rules, p: &PatientContext) -> RegimenChoice {
    let duration = if p.pregnancy.is_some() {
        TreatmentDuration::Pregnancy
    } else {
        TreatmentDuration::ThreeMonths
    };
    regimen_choice(rules, p, RegimenId::Enoxaparin, false, duration)
}

/// §5 pregnancy-anticoagulant: pregnant and a draft DOAC or warfarin → critical; delete it and
/// create the LMWH regimen (none when LMWH is itself excluded by renal failure < 15/dialysis).
fn pregnancy_anticoagulant(
    drafts: &[DraftAnticoagulant<'_>],
    rules: &Rules,
    p: &PatientContext,
) -> Option<SafetyFinding> {
    let ev = p.pregnancy.as_ref()?;
    let bad: Vec<&DraftAnticoagulant<'_>> = drafts
        .iter()
        .filter(|d| matches!(d.ingredient.class(), DrugClass::Doac | DrugClass::Vka))
        .collect();
    if bad.is_empty() {
        return None;
    }
    let orders: Vec<String> = bad.iter().map(|d| d.reference.to_owned()).collect();
    let mut evidence = vec![ev.clone()];
    evidence.extend(
        bad.iter()
            .map(|d| Evidence::new(format!("{}: {}", d.reference, med_label(d.order)), None)),
    );
    let fix = if renal_allows(rules, p, RegimenId::Enoxaparin) {
        SafetyFix::Replace {
            delete: orders.clone(),
            with: lmwh_choice(rules, p),
        }
    } else {
        SafetyFix::None
    };
    Some(SafetyFinding {
        check: SafetyCheck::PregnancyAnticoagulant,
        indicator: Indicator::Critical,
        orders,
        drafted: ingredients(&bad),
        related: Vec::new(),
        evidence,
        fix,
    })
}

/// §5 renal-doac: a draft DOAC below its renal threshold → warning, replaced with the first
/// renal-appropriate regimen; a draft DOAC with no renal function known → info.
fn renal_doac(
    drafts: &[DraftAnticoagulant<'_>],
    rules: &Rules,
    p: &PatientContext,
    handled_by_pregnancy: &[String],
) -> Option<SafetyFinding> {
    let doacs: Vec<&DraftAnticoagulant<'_>> = drafts
        .iter()
        .filter(|d| d.ingredient.class() == DrugClass::Doac)
        .collect();
    if doacs.is_empty() {
        return None;
    }
    if !p.renal_known {
        return Some(SafetyFinding {
            check: SafetyCheck::RenalDoac,
            indicator: Indicator::Info,
            orders: doacs.iter().map(|d| d.reference.to_owned()).collect(),
            drafted: ingredients(&doacs),
            related: Vec::new(),
            evidence: vec![Evidence::new(
                "no creatinine clearance or eGFR in the last 90 days: check renal function before a DOAC",
                None,
            )],
            fix: SafetyFix::None,
        });
    }
    let below: Vec<&DraftAnticoagulant<'_>> = doacs
        .into_iter()
        .filter(|d| {
            let policy = rules.medications.renal_policy(d.ingredient);
            policy
                .avoid_below
                .is_some_and(|l| p.renal_below(l) == Some(true))
                || (policy.avoid_on_dialysis && p.on_dialysis_or_esrd())
        })
        .collect();
    if below.is_empty() {
        return None;
    }
    let orders: Vec<String> = below.iter().map(|d| d.reference.to_owned()).collect();
    let mut evidence = vec![Evidence::new(
        super::patient::describe_renal(&p.renal),
        None,
    )];
    for d in &below {
        let policy = rules.medications.renal_policy(d.ingredient);
        evidence.push(Evidence::new(
            format!(
                "{}: {} is avoided below {} mL/min{}",
                d.reference,
                d.ingredient.name(),
                policy
                    .avoid_below
                    .map(fmt_num)
                    .unwrap_or_else(|| "-".to_owned()),
                if policy.avoid_on_dialysis {
                    " or on dialysis"
                } else {
                    ""
                }
            ),
            None,
        ));
    }
    // The renal-appropriate regimen: the first of the default list the renal policy allows;
    // warfarin when none is (< 15 or dialysis). In pregnancy the pregnancy card carries the fix.
    let fix = if orders.iter().all(|o| handled_by_pregnancy.contains(o)) {
        SafetyFix::None
    } else {
        let id = rules
            .medications
            .default_order
            .iter()
            .copied()
            .find(|id| renal_allows(rules, p, *id))
            .unwrap_or(RegimenId::Warfarin);
        SafetyFix::Replace {
            delete: orders.clone(),
            with: regimen_choice(rules, p, id, false, TreatmentDuration::ThreeMonths),
        }
    };
    Some(SafetyFinding {
        check: SafetyCheck::RenalDoac,
        indicator: Indicator::Warning,
        orders,
        drafted: ingredients(&below),
        related: Vec::new(),
        evidence,
        fix,
    })
}

/// An LMWH or heparin overlapping warfarin is the expected bridge, not a duplicate (§5).
fn is_bridge(a: Ingredient, b: Ingredient) -> bool {
    let bridging = |x: Ingredient| matches!(x.class(), DrugClass::Lmwh) || x == Ingredient::Heparin;
    (bridging(a) && b == Ingredient::Warfarin) || (bridging(b) && a == Ingredient::Warfarin)
}

/// §5 duplicate-anticoagulant: a draft therapeutic anticoagulant while another therapeutic
/// anticoagulant of a different ingredient is active or also drafted.
fn duplicate(
    drafts: &[DraftAnticoagulant<'_>],
    facts: &PatientFacts,
    rules: &Rules,
) -> Option<SafetyFinding> {
    let mut orders: Vec<String> = Vec::new();
    let mut hits: Vec<&DraftAnticoagulant<'_>> = Vec::new();
    let mut related: Vec<Ingredient> = Vec::new();
    let mut evidence: Vec<Evidence> = Vec::new();
    // Active on record (prophylactic regimens are not therapeutic anticoagulation).
    let active: Vec<(&MedicationOrderFact, Ingredient)> = facts
        .medications
        .iter()
        .filter(|m| {
            in_force(m)
                && matches!(
                    therapeutic(m, rules),
                    Therapeutic::Yes | Therapeutic::Unknown
                )
        })
        .filter_map(|m| m.ingredient.map(|i| (m, i)))
        .collect();
    // Other drafts of the whole session (a selected order duplicating an unselected draft
    // will be signed together with it).
    let all_drafts: Vec<(&str, Ingredient)> = facts
        .draft_orders
        .iter()
        .filter_map(|d| match &d.order {
            DraftOrderKind::Medication(m)
                if matches!(
                    therapeutic(m, rules),
                    Therapeutic::Yes | Therapeutic::Unknown
                ) =>
            {
                m.ingredient.map(|i| (d.reference.as_str(), i))
            }
            _ => None,
        })
        .collect();
    for d in drafts {
        let mut hit = false;
        for (m, ing) in &active {
            if *ing != d.ingredient && !is_bridge(*ing, d.ingredient) {
                hit = true;
                related.push(*ing);
                let id =
                    m.id.as_ref()
                        .map(|i| format!("MedicationRequest/{i}"))
                        .unwrap_or_default();
                evidence.push(Evidence::new(
                    format!("{} duplicates active {} {id}", d.reference, med_label(m)),
                    m.authored_on.map(|t| t.instant),
                ));
            }
        }
        for (reference, ing) in &all_drafts {
            if *reference != d.reference && *ing != d.ingredient && !is_bridge(*ing, d.ingredient) {
                hit = true;
                related.push(*ing);
                evidence.push(Evidence::new(
                    format!(
                        "{} duplicates drafted {} {reference}",
                        d.reference,
                        ing.name()
                    ),
                    None,
                ));
            }
        }
        if hit && !orders.iter().any(|o| o == d.reference) {
            orders.push(d.reference.to_owned());
            hits.push(d);
        }
    }
    related.sort();
    related.dedup();
    (!orders.is_empty()).then_some(SafetyFinding {
        drafted: ingredients(&hits),
        related,
        check: SafetyCheck::DuplicateAnticoagulant,
        indicator: Indicator::Warning,
        orders,
        evidence,
        fix: SafetyFix::None,
    })
}

/// §5 short-duration: a draft anticoagulant not reasoned to another indication with an
/// explicit total duration under 3 months (< 90 days) → info; update the draft to 3 months.
fn short_duration(
    drafts: &[DraftAnticoagulant<'_>],
    facts: &PatientFacts,
    rules: &Rules,
    episode: &IndexEpisode<'_>,
) -> Option<SafetyFinding> {
    let days = rules.thresholds.follow_up.treatment_days;
    // An LMWH or heparin bridging warfarin (drafted or active) is short by design (reading:
    // the bridge is the expected overlap of §5 duplicate-anticoagulant, not the treatment).
    let warfarin = facts.draft_orders.iter().any(|d| {
        matches!(&d.order, DraftOrderKind::Medication(m) if m.ingredient == Some(Ingredient::Warfarin))
    }) || facts
        .medications
        .iter()
        .any(|m| in_force(m) && m.ingredient == Some(Ingredient::Warfarin));
    let bridging =
        |d: &DraftAnticoagulant<'_>| warfarin && is_bridge(d.ingredient, Ingredient::Warfarin);
    let vte = [
        ValueSetId::Distal,
        ValueSetId::Ambiguous,
        ValueSetId::Proximal,
        ValueSetId::PulmonaryEmbolism,
    ];
    let index_refs: Vec<String> = episode
        .conditions
        .iter()
        .filter_map(|c| c.id.as_ref().map(|id| format!("Condition/{id}")))
        .collect();
    let other_indication = |m: &MedicationOrderFact| {
        let by_code =
            !m.reason_codes.is_empty() && !vte.iter().any(|s| in_set(rules, *s, &m.reason_codes));
        let by_reference = !m.reason_references.is_empty()
            && !m.reason_references.iter().any(|r| {
                index_refs
                    .iter()
                    .any(|i| r == i || r.ends_with(&format!("/{i}")))
            });
        by_code || by_reference
    };
    let short: Vec<(&DraftAnticoagulant<'_>, f64)> = drafts
        .iter()
        .filter(|d| !other_indication(d.order) && !bridging(d))
        .filter_map(|d| {
            d.order
                .total_duration_days
                .filter(|t| *t < days as f64)
                .map(|t| (d, t))
        })
        .collect();
    if short.is_empty() {
        return None;
    }
    let orders: Vec<String> = short.iter().map(|(d, _)| d.reference.to_owned()).collect();
    let concerned: Vec<&DraftAnticoagulant<'_>> = short.iter().map(|(d, _)| *d).collect();
    Some(SafetyFinding {
        check: SafetyCheck::ShortDuration,
        indicator: Indicator::Info,
        drafted: ingredients(&concerned),
        related: Vec::new(),
        evidence: short
            .iter()
            .map(|(d, t)| {
                Evidence::new(
                    format!(
                        "{}: {} for {} days (3 months = {days} days)",
                        d.reference,
                        med_label(d.order),
                        fmt_num(*t)
                    ),
                    None,
                )
            })
            .collect(),
        fix: SafetyFix::ExtendDuration {
            orders: orders.clone(),
            days,
        },
        orders,
    })
}
