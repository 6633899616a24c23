//! The clinical core: facts → assessment. Pure: no I/O, no clock (`now` is passed in), no
//! HTTP or FHIR types. Every rule cites its section of `shared/clinical-rules.md`; the rules
//! live one section per file:
//!
//! | file | rule book |
//! |---|---|
//! | `record.rs` | §0 time, age, windows; §1 which Conditions count |
//! | `scope.rs` | §1 index DVT, not isolated, already managed, drafts that implement a plan |
//! | `factors.rs` | §2 extension risk factors |
//! | `bleeding.rs` | §3 bleeding risk |
//! | `patient.rs` | §4 special populations (pregnancy, postpartum, cancer, renal), prophylaxis |
//! | `plan.rs` | §4 recommendation table, regimens, serial-imaging dates, progression modifiers |
//! | `safety.rs` | §5 order-safety checks |

mod bleeding;
mod factors;
mod model;
mod patient;
mod plan;
mod record;
mod safety;
mod scope;

#[cfg(test)]
mod tests;

pub use factors::judge_d_dimer;
pub use model::*;
pub use patient::{Therapeutic, therapeutic};

use time::OffsetDateTime;

use crate::config::{Rules, ValueSetId};
use crate::facts::{FetchProblem, PatientFacts};
use record::Clock;

/// Assess one patient at `now` (§1–§5).
pub fn assess(
    facts: &PatientFacts,
    rules: &Rules,
    moment: Moment,
    now: OffsetDateTime,
) -> Assessment {
    let clock = Clock::new(now, rules);
    let mut assessment = Assessment {
        ruleset_version: rules.ruleset_version.clone(),
        moment,
        scope: Scope::NoIndexDvt,
        index_condition_id: None,
        stratification: None,
        safety: Vec::new(),
    };
    // §1: a patient without an index DVT gets no card at all.
    let Some(episode) = scope::find_index(facts, rules, &clock) else {
        return assessment;
    };
    assessment.index_condition_id = episode.index.condition_id.clone();
    let patient = patient::PatientContext::read(facts, rules, &clock);
    // §5 runs for every patient with an index DVT, whatever the stratification card does.
    assessment.safety = safety::run_checks(facts, rules, moment, &episode, &patient);

    if let Some(ev) = scope::not_isolated(facts, rules, &clock, episode.index.date) {
        assessment.scope = Scope::NotIsolated(ev);
        return assessment;
    }
    if let Some(ev) = scope::already_managed(facts, rules, &episode) {
        assessment.scope = Scope::AlreadyManaged(ev);
        return assessment;
    }

    let inputs = factors::FactorInputs {
        facts,
        rules,
        clock: &clock,
        episode: &episode,
        patient: &patient,
    };
    let factors = factors::assess_factors(&inputs);
    let bleeding = bleeding::assess_bleeding(facts, rules, &clock, &patient);
    let recommendation = plan::recommend(&factors, bleeding.category);

    let drafted = scope::draft_plan(facts, rules, moment);
    if let Some(ev) = scope::plan_drafted(&drafted, moment, recommendation) {
        assessment.scope = Scope::PlanDrafted(ev);
        return assessment;
    }

    // §2 progression modifiers: ESRD (value set, dialysis, eGFR/CrCl < 15) and prior stroke.
    let mut progression_modifiers = Vec::new();
    if patient.esrd.is_some() {
        progression_modifiers.push(ProgressionModifier::EndStageRenalDisease);
    }
    if record::history_conditions(facts, rules, ValueSetId::Stroke)
        .next()
        .is_some()
    {
        progression_modifiers.push(ProgressionModifier::PriorStroke);
    }
    let special_populations = plan::special_populations(&patient);
    let indicator = plan::indicator(
        recommendation,
        moment,
        patient.pregnancy.is_some(),
        &progression_modifiers,
    );
    let regimens = match recommendation {
        Recommendation::SerialImaging => Vec::new(),
        Recommendation::Anticoagulate => plan::regimens(rules, &patient, true),
        // Individualize: both options, neither marked recommended.
        Recommendation::Individualize => plan::regimens(rules, &patient, false),
    };
    let imaging = matches!(
        recommendation,
        Recommendation::SerialImaging | Recommendation::Individualize
    )
    .then(|| {
        plan::imaging(
            rules,
            episode.index.date.date(),
            clock.today(),
            episode.index.legs,
        )
    });
    let anticoagulant_selected = moment == Moment::Selection && drafted.anticoagulant.is_some();
    let notes = plan::notes(
        recommendation,
        &patient,
        &progression_modifiers,
        &regimens,
        &factors,
        anticoagulant_selected,
    );

    let mut missing_data: Vec<MissingData> = factors
        .iter()
        .filter_map(|f| match f.presence {
            Presence::Unknown(m) => Some(m),
            _ => None,
        })
        .chain(bleeding.missing.iter().copied())
        .collect();
    // §3: body weight doses enoxaparin and edoxaban; listed whatever the recommendation.
    if patient.weight.is_none() {
        missing_data.push(MissingData::BodyWeight);
    }
    missing_data.sort();
    missing_data.dedup();

    assessment.scope = Scope::InScope;
    assessment.stratification = Some(Stratification {
        index: episode.index.clone(),
        factors,
        bleeding,
        recommendation,
        indicator,
        special_populations,
        progression_modifiers,
        missing_data,
        age: patient.age,
        renal: patient.renal.clone(),
        weight: patient.weight,
        imaging,
        regimens,
        notes,
        data_gaps: data_gaps(facts),
    });
    assessment
}

/// Sources the EHR had no data for, sources the fallback fetch could not deliver (in full),
/// and resources that could not be read, for the card.
fn data_gaps(facts: &PatientFacts) -> Vec<String> {
    let mut gaps: Vec<String> = facts
        .unavailable_sources
        .iter()
        .map(|s| format!("the EHR sent no `{}` data (prefetch null)", s.key()))
        .collect();
    gaps.extend(facts.fetch_gaps.iter().map(|g| match g.problem {
        FetchProblem::Failed(why) => format!(
            "`{}` could not be fetched from the FHIR server ({}); its facts are unknown",
            g.source.key(),
            why.describe()
        ),
        FetchProblem::Incomplete(why) => format!(
            "`{}` from the FHIR server is incomplete ({})",
            g.source.key(),
            why.describe()
        ),
    }));
    let mut by_type: Vec<(String, usize)> = Vec::new();
    for u in &facts.unreadable {
        match by_type.iter_mut().find(|(t, _)| *t == u.resource_type) {
            Some((_, n)) => *n += 1,
            None => by_type.push((u.resource_type.clone(), 1)),
        }
    }
    gaps.extend(by_type.into_iter().map(|(t, n)| {
        format!(
            "{n} {t} resource{} could not be read",
            if n == 1 { "" } else { "s" }
        )
    }));
    gaps
}
