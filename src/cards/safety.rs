//! Order-safety cards (rule book §5): one card per `SafetyFinding`.

use std::fmt::Write as _;

use serde_json::Value;

use super::orders::{self, day_str, fmt_num, months_phrase};
use super::summary::fit;
use super::types::{
    Action, ActionType, Card, CardExtension, DvtCdsExtension, SelectionBehavior, Suggestion,
};
use super::{CardContext, OverrideReason, Topic, md, new_uuid, override_reasons, ruleset, source};
use crate::clinical::{
    Assessment, Indicator, RegimenChoice, SafetyCheck, SafetyFinding, SafetyFix,
};
use crate::config::{DrugClass, Ingredient};

fn names(ings: &[Ingredient]) -> String {
    if ings.is_empty() {
        "anticoagulant".into()
    } else {
        ings.iter()
            .map(|i| i.name())
            .collect::<Vec<_>>()
            .join(" and ")
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn summary(f: &SafetyFinding, ings: &[Ingredient], ctx: &CardContext<'_>) -> String {
    let drafts = names(ings);
    let total = ctx.rules.thresholds.follow_up.treatment_days;
    let with = match &f.fix {
        SafetyFix::Replace { with, .. } => Some(with.ingredient),
        _ => None,
    };
    let s = match f.check {
        SafetyCheck::PregnancyAnticoagulant => match with {
            Some(w) if w.class() == DrugClass::Lmwh => {
                format!("Pregnant: replace {drafts} draft with {} (LMWH)", w.name())
            }
            Some(w) => format!("Pregnant: replace {drafts} draft with {}", w.name()),
            None => format!("Pregnant: replace {drafts} draft with LMWH"),
        },
        SafetyCheck::RenalDoac if f.indicator == Indicator::Info => {
            format!(
                "{} draft: check renal function (none recorded)",
                capitalize(&drafts)
            )
        }
        SafetyCheck::RenalDoac => {
            let below = ings
                .iter()
                .filter_map(|i| ctx.rules.medications.renal_policy(*i).avoid_below)
                .reduce(f64::max);
            let mut s = match below {
                Some(b) => format!(
                    "{} draft: renal function below {} mL/min",
                    capitalize(&drafts),
                    fmt_num(b)
                ),
                None => format!("{} draft: renal function too low", capitalize(&drafts)),
            };
            if let Some(w) = with {
                s.push_str(&format!("; use {}", w.name()));
            }
            s
        }
        SafetyCheck::DuplicateAnticoagulant => match f.related.first() {
            Some(o) => format!(
                "Draft {drafts} duplicates {}: keep one anticoagulant",
                o.name()
            ),
            None => format!("Draft {drafts} duplicates another anticoagulant: keep one"),
        },
        SafetyCheck::ShortDuration => {
            let days = match &f.fix {
                SafetyFix::ExtendDuration { days, .. } => *days,
                _ => total,
            };
            format!(
                "Extend {drafts} draft to {} (shorter than {days} days)",
                months_phrase(days)
            )
        }
    };
    fit(&s)
}

fn detail(f: &SafetyFinding, ings: &[Ingredient], a: &Assessment, ctx: &CardContext<'_>) -> String {
    let rules = ctx.rules;
    let total = rules.thresholds.follow_up.treatment_days;
    let mut d = String::new();
    let _ = match f.check {
        SafetyCheck::PregnancyAnticoagulant => writeln!(
            d,
            "**Pregnancy**: only LMWH is used; never a DOAC or warfarin. Treat until delivery, then at \
             least 6 weeks postpartum (at least 3 months in total)."
        ),
        SafetyCheck::RenalDoac if f.indicator == Indicator::Info => writeln!(
            d,
            "**No renal function recorded** (creatinine clearance or eGFR in the last {} days): check renal \
             function before starting a DOAC.",
            rules.thresholds.windows.renal_days
        ),
        SafetyCheck::RenalDoac => writeln!(
            d,
            "**DOAC below its renal threshold.** Rivaroxaban, edoxaban and dabigatran are avoided below \
             {} mL/min; apixaban below {} mL/min or on dialysis (site renal policy). Below {} mL/min or on \
             dialysis: warfarin (INR 2–3) with unfractionated heparin bridging.",
            fmt_num(
                rules
                    .medications
                    .renal_policy(Ingredient::Rivaroxaban)
                    .avoid_below
                    .unwrap_or(30.0)
            ),
            fmt_num(
                rules
                    .medications
                    .renal_policy(Ingredient::Apixaban)
                    .avoid_below
                    .unwrap_or(15.0)
            ),
            fmt_num(rules.thresholds.renal.severe_below)
        ),
        SafetyCheck::DuplicateAnticoagulant => writeln!(
            d,
            "**Duplicate anticoagulation**: a draft therapeutic anticoagulant while another of a different \
             ingredient is active or drafted. Keep one. (An LMWH or heparin overlapping warfarin is the \
             expected bridge and is not flagged.)"
        ),
        SafetyCheck::ShortDuration => writeln!(
            d,
            "**Duration under {}**: an isolated distal DVT is treated for {} ({total} days); the draft's \
             total duration is shorter.",
            months_phrase(total),
            months_phrase(total)
        ),
    };
    if !f.orders.is_empty() {
        d.push_str("\nOrders concerned:\n");
        for r in &f.orders {
            let ing = orders::find_draft(ctx.draft_orders, r)
                .and_then(|x| orders::draft_ingredient(x, rules));
            let _ = match ing {
                Some(i) => writeln!(d, "- {} ({})", md(r), i.name()),
                None => writeln!(d, "- {}", md(r)),
            };
        }
    }
    let ev: Vec<String> = f
        .evidence
        .iter()
        .filter(|e| !e.what.trim().is_empty())
        .map(|e| match e.when {
            Some(t) => format!("- {} ({})", md(&e.what), day_str(t)),
            None => format!("- {}", md(&e.what)),
        })
        .collect();
    if !ev.is_empty() {
        d.push_str("\nFindings:\n");
        for e in ev {
            let _ = writeln!(d, "{e}");
        }
    }
    let _ = match &f.fix {
        SafetyFix::Replace { with, .. } => writeln!(
            d,
            "\nSuggested: remove the {} draft and draft {} instead.",
            names(ings),
            orders::lower_first(&orders::regimen_label(with, rules))
        ),
        SafetyFix::ExtendDuration { days, .. } => writeln!(
            d,
            "\nSuggested: update the draft to a total of {days} days ({}).",
            months_phrase(*days)
        ),
        SafetyFix::None => Ok(()),
    };
    let _ = write!(d, "\nRuleset {}", ruleset(a, rules));
    d
}

/// `reasonReference` for a replacement: the deleted draft's own reason, else the index Condition.
fn replacement_reason(delete: &[String], a: &Assessment, ctx: &CardContext<'_>) -> Vec<Value> {
    delete
        .iter()
        .filter_map(|r| orders::find_draft(ctx.draft_orders, r))
        .filter_map(|d| d.get("reasonReference").cloned())
        .find_map(|mut v| {
            orders::prune_empty(&mut v);
            v.as_array().filter(|refs| !refs.is_empty()).cloned()
        })
        .or_else(|| {
            a.index_condition_id
                .as_ref()
                .map(|id| vec![serde_json::json!({"reference": format!("Condition/{id}")})])
        })
        .unwrap_or_default()
}

fn replace_suggestion(
    delete: &[String],
    with: &RegimenChoice,
    ings: &[Ingredient],
    a: &Assessment,
    ctx: &CardContext<'_>,
) -> Suggestion {
    let mut actions: Vec<Action> = delete
        .iter()
        .map(|r| {
            let ing = orders::find_draft(ctx.draft_orders, r)
                .and_then(|x| orders::draft_ingredient(x, ctx.rules))
                .map(|i| i.name())
                .unwrap_or("anticoagulant");
            Action {
                kind: ActionType::Delete,
                description: format!("Remove the {ing} draft"),
                resource: None,
                resource_id: Some(r.clone()),
            }
        })
        .collect();
    let label = orders::regimen_label(with, ctx.rules);
    let reason = replacement_reason(delete, a, ctx);
    actions.push(Action {
        kind: ActionType::Create,
        description: format!("Draft {}", orders::lower_first(&label)),
        resource: Some(orders::regimen_request(
            with,
            &reason,
            ctx.patient_id,
            ctx.rules,
        )),
        resource_id: None,
    });
    Suggestion {
        label: format!(
            "Replace the {} draft with {}",
            names(ings),
            orders::lower_first(&label)
        ),
        uuid: new_uuid(),
        is_recommended: Some(true),
        actions,
    }
}

fn extend_suggestion(
    refs: &[String],
    days: i64,
    ings: &[Ingredient],
    ctx: &CardContext<'_>,
) -> Option<Suggestion> {
    let actions: Vec<Action> = refs
        .iter()
        .filter_map(|r| {
            let draft = orders::find_draft(ctx.draft_orders, r)?;
            let ing = orders::draft_ingredient(draft, ctx.rules)
                .map(|i| i.name())
                .unwrap_or("anticoagulant");
            Some(Action {
                kind: ActionType::Update,
                description: format!(
                    "Extend the {ing} draft to {days} days ({})",
                    months_phrase(days)
                ),
                resource: Some(orders::extend_duration(draft, days)),
                resource_id: None,
            })
        })
        .collect();
    // No draft found in context.draftOrders: nothing to update, so no suggestion.
    (!actions.is_empty()).then(|| Suggestion {
        label: format!(
            "Extend the {} draft to {}",
            names(ings),
            months_phrase(days)
        ),
        uuid: new_uuid(),
        is_recommended: Some(true),
        actions,
    })
}

pub fn card(f: &SafetyFinding, a: &Assessment, ctx: &CardContext<'_>) -> Card {
    let ings = f.drafted.clone();
    let suggestions: Vec<Suggestion> = match &f.fix {
        SafetyFix::Replace { delete, with } => {
            vec![replace_suggestion(delete, with, &ings, a, ctx)]
        }
        SafetyFix::ExtendDuration { orders, days } => extend_suggestion(orders, *days, &ings, ctx)
            .into_iter()
            .collect(),
        SafetyFix::None => Vec::new(),
    };
    let reasons = match f.check {
        SafetyCheck::ShortDuration => vec![
            OverrideReason::NotApplicable,
            OverrideReason::PatientPreference,
        ],
        _ => vec![
            OverrideReason::ManagedElsewhere,
            OverrideReason::NotApplicable,
        ],
    };
    let mut orders_refs = f.orders.clone();
    orders_refs.retain(|r| !r.trim().is_empty());
    orders_refs.dedup();
    Card {
        uuid: new_uuid(),
        summary: summary(f, &ings, ctx),
        detail: Some(detail(f, &ings, a, ctx)),
        indicator: f.indicator,
        source: source(Topic::AnticoagulantOrderSafety),
        selection_behavior: (!suggestions.is_empty()).then_some(SelectionBehavior::AtMostOne),
        suggestions,
        override_reasons: override_reasons(&reasons),
        links: super::links(),
        extension: CardExtension {
            dvt_cds: DvtCdsExtension {
                kind: "order-safety",
                ruleset_version: ruleset(a, ctx.rules),
                check: Some(f.check.code()),
                orders: orders_refs,
                ..DvtCdsExtension::default()
            },
        },
    }
}
