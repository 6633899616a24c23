//! §1 Scope: who gets a stratification card — the index DVT, "not isolated", "already
//! managed", and drafts that already implement the plan.

use time::{Duration, OffsetDateTime};

use super::model::{Evidence, IndexDvt, Legs, Moment, Recommendation, VeinKind};
use super::patient::{Therapeutic, in_force, therapeutic};
use super::record::{
    self, Clock, condition_date, condition_evidence, in_set, is_active, readable_status,
};
use crate::config::codes::ICD10CM;
use crate::config::{Code, Rules, ValueSetId};
use crate::facts::{
    ConditionFact, DraftOrder, DraftOrderKind, Measured, MedicationOrderFact, ObservationValue,
    PatientFacts, RequestStatus, ServiceRequestFact, UltrasoundFinding, VerificationStatus,
};

/// The index DVT and the Conditions behind it.
#[derive(Debug, Clone)]
pub struct IndexEpisode<'a> {
    pub index: IndexDvt,
    /// Every Condition that qualifies as an index DVT (the most recent decides the date).
    pub conditions: Vec<&'a ConditionFact>,
}

/// Vein sites named by body-site codes (SNOMED) — laterality codes are never veins.
fn vein_kind(rules: &Rules, code: &Code) -> Option<VeinSiteKind> {
    if rules
        .value_sets
        .contains(ValueSetId::VeinDistalMuscular, code)
    {
        Some(VeinSiteKind::Distal(VeinKind::Muscular))
    } else if rules.value_sets.contains(ValueSetId::VeinDistalAxial, code) {
        Some(VeinSiteKind::Distal(VeinKind::Axial))
    } else if rules.value_sets.contains(ValueSetId::VeinProximal, code) {
        Some(VeinSiteKind::Proximal)
    } else if rules.value_sets.contains(ValueSetId::VeinSuperficial, code) {
        Some(VeinSiteKind::Superficial)
    } else {
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VeinSiteKind {
    Distal(VeinKind),
    Proximal,
    Superficial,
}

/// `vein-involved` findings dated from `before_index_days` before `index_date` until now (§1).
pub fn vein_findings<'a>(
    facts: &'a PatientFacts,
    rules: &Rules,
    clock: &Clock,
    index_date: OffsetDateTime,
) -> impl Iterator<Item = &'a Vec<Code>> + 'a {
    let start = index_date - Duration::days(rules.thresholds.windows.before_index_days);
    let clock = *clock;
    facts
        .observations
        .iter()
        .filter_map(move |o| match &o.value {
            ObservationValue::Finding(UltrasoundFinding::VeinInvolved(codes))
                if readable_status(o) && clock.since(o.effective, start) =>
            {
                Some(codes)
            }
            _ => None,
        })
}

/// §1: bodySite or `vein-involved` findings name at least one distal vein and no proximal
/// one. (Reading: superficial veins and non-vein sites neither qualify nor disqualify.)
fn names_only_distal_veins<'a>(rules: &Rules, sites: impl Iterator<Item = &'a Code>) -> bool {
    let mut distal = false;
    for code in sites {
        match vein_kind(rules, code) {
            Some(VeinSiteKind::Distal(_)) => distal = true,
            Some(VeinSiteKind::Proximal) => return false,
            _ => {}
        }
    }
    distal
}

fn names_proximal_vein(rules: &Rules, sites: &[Code]) -> bool {
    sites
        .iter()
        .any(|c| vein_kind(rules, c) == Some(VeinSiteKind::Proximal))
}

/// §1 Index DVT: acute isolated distal DVT Conditions. Reading: a Condition with no
/// clinicalStatus counts as active (R4 allows it; the safer reading shows guidance).
pub fn find_index<'a>(
    facts: &'a PatientFacts,
    rules: &Rules,
    clock: &Clock,
) -> Option<IndexEpisode<'a>> {
    let qualifies = |c: &ConditionFact| {
        let verified = matches!(
            c.verification_status,
            None | Some(VerificationStatus::Confirmed)
        );
        if !(verified && is_active(c)) {
            return false;
        }
        // §0: dated more than the clock-skew allowance after now → ignored.
        if condition_date(c).is_some_and(|t| clock.effective(t).is_none()) {
            return false;
        }
        if in_set(rules, ValueSetId::ChronicDvt, &c.codes) {
            return false;
        }
        if in_set(rules, ValueSetId::Distal, &c.codes) {
            return true;
        }
        if in_set(rules, ValueSetId::Ambiguous, &c.codes) {
            let date = condition_date(c).map(|t| t.instant).unwrap_or(clock.now);
            let findings: Vec<&Code> = vein_findings(facts, rules, clock, date).flatten().collect();
            return names_only_distal_veins(rules, c.body_sites.iter().chain(findings));
        }
        false
    };
    let conditions: Vec<&ConditionFact> =
        facts.conditions.iter().filter(|c| qualifies(c)).collect();
    // The most recent is the index; an undated Condition is taken as dated now (its windows
    // then start from now: the safer reading keeps recent data in view).
    let date_of = |c: &ConditionFact| {
        condition_date(c)
            .and_then(|t| clock.effective(t))
            .unwrap_or(clock.now)
    };
    let latest = conditions.iter().copied().max_by_key(|c| date_of(c))?;
    let date = date_of(latest);
    // "its legs' sites are all considered": laterality and veins over every index Condition.
    let mut right = false;
    let mut left = false;
    let mut veins: Vec<(String, VeinKind)> = Vec::new();
    let mut named_kinds: Vec<VeinKind> = Vec::new();
    for c in &conditions {
        for code in &c.codes {
            if code.system == ICD10CM {
                // ICD-10-CM 6th character: 1 right, 2 left, 3 bilateral.
                let norm: String = code.code.chars().filter(|ch| *ch != '.').collect();
                match norm.chars().nth(5) {
                    Some('1') => right = true,
                    Some('2') => left = true,
                    Some('3') => {
                        right = true;
                        left = true;
                    }
                    _ => {}
                }
            }
            if let Some(VeinSiteKind::Distal(k)) = vein_kind(rules, code) {
                named_kinds.push(k);
            }
        }
        for site in &c.body_sites {
            if rules.value_sets.contains(ValueSetId::LateralityRight, site) {
                right = true;
            } else if rules.value_sets.contains(ValueSetId::LateralityLeft, site) {
                left = true;
            } else if rules.value_sets.contains(ValueSetId::LateralityBoth, site) {
                right = true;
                left = true;
            }
            if let Some(VeinSiteKind::Distal(k)) = vein_kind(rules, site) {
                push_vein(&mut veins, site, k);
            }
        }
    }
    for codes in vein_findings(facts, rules, clock, date) {
        for code in codes {
            if let Some(VeinSiteKind::Distal(k)) = vein_kind(rules, code) {
                push_vein(&mut veins, code, k);
            }
        }
    }
    named_kinds.extend(veins.iter().map(|(_, k)| *k));
    // §2 muscularOnly: true when every named vein is gastrocnemius/soleal, false when any
    // axial vein is named, omitted when none is named.
    let muscular_only = if named_kinds.is_empty() {
        None
    } else {
        Some(named_kinds.iter().all(|k| *k == VeinKind::Muscular))
    };
    let legs = match (left, right) {
        (true, true) => Legs::Both,
        (true, false) => Legs::Left,
        (false, true) => Legs::Right,
        (false, false) => Legs::Unknown,
    };
    Some(IndexEpisode {
        index: IndexDvt {
            condition_id: latest.id.clone(),
            label: latest.label.clone(),
            date,
            legs,
            veins,
            muscular_only,
        },
        conditions,
    })
}

/// Distinct vein sites: a SNOMED vein by its code (what the card names), another system's
/// code as `system|code`.
fn push_vein(veins: &mut Vec<(String, VeinKind)>, code: &Code, kind: VeinKind) {
    let key = if code.system == crate::config::codes::SNOMED {
        code.code.trim().to_owned()
    } else {
        format!("{}|{}", code.system, code.code.trim())
    };
    if !veins.iter().any(|(k, _)| *k == key) {
        veins.push((key, kind));
    }
}

/// §1 Not isolated: an active, not-refuted proximal DVT or PE Condition, a DVT Condition whose
/// bodySite names a proximal vein, or a finding `extends-to-proximal-veins` = true.
pub fn not_isolated(
    facts: &PatientFacts,
    rules: &Rules,
    clock: &Clock,
    index_date: OffsetDateTime,
) -> Option<Evidence> {
    let dvt_classes = [
        ValueSetId::Distal,
        ValueSetId::Ambiguous,
        ValueSetId::Proximal,
    ];
    for c in facts.conditions.iter().filter(|c| is_active(c)) {
        if in_set(rules, ValueSetId::Proximal, &c.codes)
            || in_set(rules, ValueSetId::PulmonaryEmbolism, &c.codes)
        {
            return Some(condition_evidence(c));
        }
        if dvt_classes.iter().any(|s| in_set(rules, *s, &c.codes))
            && names_proximal_vein(rules, &c.body_sites)
        {
            return Some(Evidence::new(
                format!(
                    "{} with a proximal vein body site",
                    record::condition_label(c)
                ),
                condition_date(c).map(|t| t.instant),
            ));
        }
    }
    let start = index_date - Duration::days(rules.thresholds.windows.before_index_days);
    facts
        .observations
        .iter()
        .find(|o| {
            readable_status(o)
                && clock.since(o.effective, start)
                && matches!(
                    o.value,
                    ObservationValue::Finding(UltrasoundFinding::ExtendsToProximalVeins(
                        Measured::Known(true)
                    ))
                )
        })
        .map(|o| {
            Evidence::new(
                "ultrasound: thrombus extends to the proximal veins",
                o.effective.map(|t| t.instant),
            )
        })
}

/// A venous duplex ServiceRequest.
pub fn is_duplex(rules: &Rules, sr: &ServiceRequestFact) -> bool {
    sr.codes.iter().any(|c| rules.duplex.is_duplex(c))
}

/// §1 Already managed: an active therapeutic anticoagulant, or a follow-up duplex ordered.
pub fn already_managed(
    facts: &PatientFacts,
    rules: &Rules,
    episode: &IndexEpisode<'_>,
) -> Option<Evidence> {
    if let Some(m) = facts
        .medications
        .iter()
        .find(|m| in_force(m) && therapeutic(m, rules) == Therapeutic::Yes)
    {
        return Some(Evidence::new(
            format!("active anticoagulant order: {}", med_label(m)),
            m.authored_on.map(|t| t.instant),
        ));
    }
    let index_day = episode.index.date.date();
    let min_gap = rules.thresholds.follow_up.min_days_after_index;
    // The scan that made the diagnosis is not follow-up.
    let diagnostic: Vec<&str> = facts
        .observations
        .iter()
        .filter(|o| matches!(o.value, ObservationValue::Finding(_)))
        .flat_map(|o| o.based_on.iter().map(String::as_str))
        .collect();
    let latest = episode
        .conditions
        .iter()
        .copied()
        .max_by_key(|c| condition_date(c));
    let recorded = latest
        .and_then(|c| c.recorded.or(c.onset))
        .map(|t| t.instant);
    facts
        .service_requests
        .iter()
        .filter(|sr| {
            matches!(
                sr.status,
                RequestStatus::Active | RequestStatus::OnHold | RequestStatus::Draft
            ) && is_duplex(rules, sr)
        })
        .find(|sr| match sr.occurrence {
            Some(occ) => occ.instant.date() >= index_day + time::Duration::days(min_gap),
            None => {
                let reference = sr.id.as_ref().map(|id| format!("ServiceRequest/{id}"));
                let is_diagnostic = reference
                    .as_deref()
                    .is_some_and(|r| diagnostic.iter().any(|d| d.ends_with(r)));
                match (sr.authored_on, recorded) {
                    (Some(a), Some(r)) => a.instant > r && !is_diagnostic,
                    _ => false,
                }
            }
        })
        .map(|sr| {
            Evidence::new(
                format!(
                    "follow-up duplex ordered: {}",
                    sr.label
                        .clone()
                        .unwrap_or_else(|| "venous duplex ultrasound".to_owned())
                ),
                sr.occurrence.or(sr.authored_on).map(|t| t.instant),
            )
        })
}

pub fn med_label(m: &MedicationOrderFact) -> String {
    m.label
        .clone()
        .or_else(|| m.ingredient.map(|i| i.name().to_owned()))
        .unwrap_or_else(|| "medication".to_owned())
}

/// Drafts the hook asks about: the selected ones on order-select, all on order-sign (§1, §5).
pub fn considered_drafts(
    facts: &PatientFacts,
    moment: Moment,
) -> impl Iterator<Item = &DraftOrder> {
    facts.draft_orders.iter().filter(move |d| match moment {
        Moment::Selection => d.selected,
        Moment::Signing => true,
    })
}

/// Draft therapeutic anticoagulants (prophylactic and undeterminable doses excluded: §1).
fn drafted_anticoagulant<'a>(rules: &Rules, d: &'a DraftOrder) -> Option<&'a MedicationOrderFact> {
    match &d.order {
        DraftOrderKind::Medication(m) if therapeutic(m, rules) == Therapeutic::Yes => Some(m),
        _ => None,
    }
}

fn drafted_duplex<'a>(rules: &Rules, d: &'a DraftOrder) -> Option<&'a ServiceRequestFact> {
    match &d.order {
        DraftOrderKind::Service(sr) if is_duplex(rules, sr) => Some(sr),
        _ => None,
    }
}

/// What the considered drafts already do.
#[derive(Debug, Clone, Default)]
pub struct DraftPlan {
    pub anticoagulant: Option<String>,
    pub duplex: Option<String>,
}

pub fn draft_plan(facts: &PatientFacts, rules: &Rules, moment: Moment) -> DraftPlan {
    let mut plan = DraftPlan::default();
    for d in considered_drafts(facts, moment) {
        if plan.anticoagulant.is_none() && drafted_anticoagulant(rules, d).is_some() {
            plan.anticoagulant = Some(d.reference.clone());
        }
        if plan.duplex.is_none() && drafted_duplex(rules, d).is_some() {
            plan.duplex = Some(d.reference.clone());
        }
    }
    plan
}

/// §1 "Draft orders that already implement a plan". Returns the silencing evidence.
pub fn plan_drafted(
    plan: &DraftPlan,
    moment: Moment,
    recommendation: Recommendation,
) -> Option<Evidence> {
    let anticoagulant = plan
        .anticoagulant
        .as_ref()
        .map(|r| Evidence::new(format!("anticoagulant drafted: {r}"), None));
    let duplex = plan
        .duplex
        .as_ref()
        .map(|r| Evidence::new(format!("duplex ultrasound drafted: {r}"), None));
    match (moment, recommendation) {
        // order-sign: any anticoagulant or duplex draft silences the safety net.
        (Moment::Signing, _) => anticoagulant.or(duplex),
        (Moment::Selection, Recommendation::Anticoagulate) => anticoagulant,
        // A serial-imaging card is not silenced by a selected anticoagulant (it stays).
        (Moment::Selection, Recommendation::SerialImaging) => duplex,
        (Moment::Selection, Recommendation::Individualize) => anticoagulant.or(duplex),
    }
}
