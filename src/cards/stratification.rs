//! The stratification card (rule book §2–§4, §6): summary, markdown detail, the `dvt-cds`
//! extension, and the suggested orders.

use std::fmt::Write as _;

use super::orders::{self, date_str, day_str, fmt_num, months_phrase};
use super::summary::{fit, with_items};
use super::types::{
    Action, ActionType, Card, CardExtension, DvtCdsExtension, SelectionBehavior, Suggestion,
};
use super::{CardContext, OverrideReason, Topic, md, new_uuid, override_reasons, ruleset, source};
use crate::clinical::{
    AgeFact, Assessment, BleedingFactor, BleedingRisk, ExtensionRiskFactor, ImagingPlan, IndexDvt,
    Legs, MissingData, Note, Presence, ProgressionModifier, Recommendation, RegimenChoice,
    RenalFunction, RenalSource, SpecialPopulation, Stratification, TreatmentDuration, VeinKind,
};
use crate::config::Rules;

pub fn card(s: &Stratification, a: &Assessment, ctx: &CardContext<'_>) -> Card {
    let suggestions = suggestions(s, ctx);
    let reasons = match s.recommendation {
        Recommendation::Anticoagulate => vec![
            OverrideReason::PatientPreference,
            OverrideReason::BleedingRisk,
            OverrideReason::ManagedElsewhere,
            OverrideReason::NotApplicable,
        ],
        Recommendation::SerialImaging | Recommendation::Individualize => vec![
            OverrideReason::PatientPreference,
            OverrideReason::ManagedElsewhere,
            OverrideReason::NotApplicable,
        ],
    };
    Card {
        uuid: new_uuid(),
        summary: summary(s, ctx.rules),
        detail: Some(detail(s, a, ctx.rules)),
        indicator: s.indicator,
        source: source(Topic::IsolatedDistalDvt),
        selection_behavior: (!suggestions.is_empty()).then_some(SelectionBehavior::AtMostOne),
        suggestions,
        override_reasons: override_reasons(&reasons),
        links: super::links(),
        extension: CardExtension {
            dvt_cds: extension(s, a, ctx.rules),
        },
    }
}

// ---------- extension["dvt-cds"] (cds-contract) ----------

fn extension(s: &Stratification, a: &Assessment, rules: &Rules) -> DvtCdsExtension {
    let mut factors: Vec<ExtensionRiskFactor> = present(s).map(|f| f.0).collect();
    factors.sort(); // the enum is declared in table order (§2)
    factors.dedup();
    let mut bleeding: Vec<BleedingFactor> = s.bleeding.factors.iter().map(|f| f.0).collect();
    // age-over-75 counts 2 and excludes age-over-65 (contract).
    if bleeding.contains(&BleedingFactor::AgeOver75) {
        bleeding.retain(|f| *f != BleedingFactor::AgeOver65);
    }
    bleeding.sort();
    bleeding.dedup();
    let mut populations = s.special_populations.clone();
    // Only the most severe renal class is listed (§4 Renal function).
    if populations.contains(&SpecialPopulation::SevereRenalImpairment) {
        populations.retain(|p| *p != SpecialPopulation::RenalImpairment);
    }
    populations.sort();
    populations.dedup();
    let mut modifiers = s.progression_modifiers.clone();
    modifiers.sort();
    modifiers.dedup();
    let mut missing = s.missing_data.clone();
    missing.sort();
    missing.dedup();
    DvtCdsExtension {
        kind: "stratification",
        ruleset_version: ruleset(a, rules),
        recommendation: Some(s.recommendation.code()),
        extension_risk_factors: factors.into_iter().map(ExtensionRiskFactor::code).collect(),
        bleeding_risk: Some(s.bleeding.category.code()),
        bleeding_risk_factors: bleeding.into_iter().map(BleedingFactor::code).collect(),
        special_populations: populations
            .into_iter()
            .map(SpecialPopulation::code)
            .collect(),
        progression_modifiers: modifiers
            .into_iter()
            .map(ProgressionModifier::code)
            .collect(),
        muscular_only: s.index.muscular_only,
        missing_data: missing.into_iter().map(MissingData::code).collect(),
        ..DvtCdsExtension::default()
    }
}

fn present(
    s: &Stratification,
) -> impl Iterator<Item = (ExtensionRiskFactor, &[crate::clinical::Evidence])> {
    s.factors.iter().filter_map(|f| match &f.presence {
        Presence::Present(ev) => Some((f.factor, ev.as_slice())),
        _ => None,
    })
}

// ---------- Summary (§6: action first, ≤ 140 characters) ----------

fn short_name(f: ExtensionRiskFactor, rules: &Rules) -> String {
    let t = &rules.thresholds.extension;
    match f {
        ExtensionRiskFactor::ThrombusLength => {
            format!("thrombus > {} cm", fmt_num(t.thrombus_length_cm))
        }
        ExtensionRiskFactor::MultipleVeins => format!("≥ {} veins", t.multiple_veins_count),
        ExtensionRiskFactor::ThrombusDiameter => {
            format!("diameter > {} mm", fmt_num(t.thrombus_diameter_mm))
        }
        ExtensionRiskFactor::NearProximalVeins => "near proximal veins".into(),
        ExtensionRiskFactor::PositiveDDimer => "positive D-dimer".into(),
        ExtensionRiskFactor::Unprovoked => "unprovoked".into(),
        ExtensionRiskFactor::ActiveCancer => "active cancer".into(),
        ExtensionRiskFactor::PriorVte => "prior VTE".into(),
        ExtensionRiskFactor::Inpatient => "inpatient".into(),
        ExtensionRiskFactor::RecentSurgery => "recent surgery".into(),
        ExtensionRiskFactor::SevereSymptoms => "severe symptoms".into(),
        ExtensionRiskFactor::Covid19 => "COVID-19".into(),
    }
}

pub fn summary(s: &Stratification, rules: &Rules) -> String {
    let mut factors: Vec<ExtensionRiskFactor> = present(s).map(|f| f.0).collect();
    factors.sort();
    factors.dedup();
    let names: Vec<String> = factors.iter().map(|f| short_name(*f, rules)).collect();
    let who = if s
        .special_populations
        .contains(&SpecialPopulation::Pregnancy)
    {
        "Calf DVT in pregnancy"
    } else {
        "Calf DVT"
    };
    match s.recommendation {
        Recommendation::Anticoagulate => {
            let with = match s.regimens.as_slice() {
                [only] => format!(" with {}", only.ingredient.name()),
                _ => String::new(),
            };
            let duration = match s.regimens.first().map(|r| r.duration) {
                Some(TreatmentDuration::Pregnancy) => "until 6 weeks postpartum",
                Some(TreatmentDuration::ActiveCancer) => "at least 3 months",
                _ => "3 months",
            };
            with_items(
                &format!("{who}: anticoagulate{with} {duration}"),
                &names,
                "",
            )
        }
        Recommendation::SerialImaging => {
            // Unknown is never a silent "absent" (§2): say "no known" when data is missing.
            let any_unknown = s
                .factors
                .iter()
                .any(|f| matches!(f.presence, Presence::Unknown(_)));
            let none = if any_unknown {
                "no known extension risk factor"
            } else {
                "no extension risk factor"
            };
            let mut out = format!("{who}, {none}: repeat duplex at 1 and 2 weeks");
            if s.notes.contains(&Note::CloserMonitoring) {
                out.push_str(", monitor closely");
            }
            if s.notes.contains(&Note::AnticoagulantSelectedIsAlternative) {
                out.push_str(" (anticoagulation acceptable)");
            }
            fit(&out)
        }
        Recommendation::Individualize => with_items(
            &format!("{who}: high bleeding risk with extension risk factors: individualize"),
            &names,
            "",
        ),
    }
}

// ---------- Detail (§6) ----------

fn factor_name(f: ExtensionRiskFactor, rules: &Rules) -> String {
    let t = &rules.thresholds.extension;
    match f {
        ExtensionRiskFactor::ThrombusLength => {
            format!("Thrombus length > {} cm", fmt_num(t.thrombus_length_cm))
        }
        ExtensionRiskFactor::MultipleVeins => {
            format!("≥ {} calf veins involved", t.multiple_veins_count)
        }
        ExtensionRiskFactor::ThrombusDiameter => {
            format!(
                "Maximum thrombus diameter > {} mm",
                fmt_num(t.thrombus_diameter_mm)
            )
        }
        ExtensionRiskFactor::NearProximalVeins => format!(
            "Close to the proximal veins (≤ {} cm)",
            fmt_num(t.near_proximal_distance_cm)
        ),
        ExtensionRiskFactor::PositiveDDimer => "Positive D-dimer".into(),
        ExtensionRiskFactor::Unprovoked => "Unprovoked".into(),
        ExtensionRiskFactor::ActiveCancer => "Active cancer".into(),
        ExtensionRiskFactor::PriorVte => "Prior VTE".into(),
        ExtensionRiskFactor::Inpatient => "Inpatient or recent hospitalization".into(),
        ExtensionRiskFactor::RecentSurgery => {
            format!(
                "Surgery in the last {} days",
                rules.thresholds.windows.surgery_days
            )
        }
        ExtensionRiskFactor::SevereSymptoms => "Severe symptoms".into(),
        ExtensionRiskFactor::Covid19 => "COVID-19".into(),
    }
}

/// What an unknown would change (§2: "D-dimer not measured: a positive D-dimer would favour
/// anticoagulation"; §3 data gaps).
fn unknown_sentence(m: MissingData, rules: &Rules) -> String {
    let t = &rules.thresholds;
    let e = &t.extension;
    let w = &t.windows;
    match m {
        MissingData::DDimer => {
            "D-dimer not measured: a positive D-dimer would favour anticoagulation".into()
        }
        MissingData::ThrombusLength => format!(
            "Thrombus length not reported: a length > {} cm would favour anticoagulation",
            fmt_num(e.thrombus_length_cm)
        ),
        MissingData::ThrombusDiameter => format!(
            "Maximum thrombus diameter not reported: a diameter > {} mm would favour anticoagulation",
            fmt_num(e.thrombus_diameter_mm)
        ),
        MissingData::VeinsInvolved => format!(
            "Number of calf veins involved not reported: ≥ {} veins would favour anticoagulation",
            e.multiple_veins_count
        ),
        MissingData::DistanceToProximalVeins => format!(
            "Distance to the proximal veins not reported: ≤ {} cm would favour anticoagulation",
            fmt_num(e.near_proximal_distance_cm)
        ),
        MissingData::Age => format!(
            "Age unknown (no birth date): age > {} adds 1 bleeding-risk point, > {} adds 2",
            t.bleeding.age_over, t.bleeding.age_high_over
        ),
        MissingData::RenalFunction => format!(
            "No renal function in the last {} days: renal failure would add a bleeding-risk point \
             and change the regimens (DOAC and LMWH renal thresholds)",
            w.renal_days
        ),
        MissingData::Platelets => format!(
            "No platelet count in the last {} days: platelets < {} × 10⁹/L would add a bleeding-risk point",
            w.platelets_days,
            fmt_num(t.bleeding.platelets_below_10e9_l)
        ),
        MissingData::Hemoglobin => format!(
            "No haemoglobin in the last {} days: haemoglobin < {} g/dL would add a bleeding-risk point",
            w.hemoglobin_days,
            fmt_num(t.bleeding.hemoglobin_below_g_dl)
        ),
        MissingData::BodyWeight => format!(
            "No body weight in the last {} days: the enoxaparin dose is stated per kg",
            w.weight_days
        ),
    }
}

fn bleeding_name(f: BleedingFactor, rules: &Rules) -> String {
    let b = &rules.thresholds.bleeding;
    match f {
        BleedingFactor::AgeOver65 => format!("Age > {}", b.age_over),
        BleedingFactor::AgeOver75 => format!("Age > {} (counts 2)", b.age_high_over),
        BleedingFactor::PreviousBleeding => "Previous bleeding".into(),
        BleedingFactor::Cancer => "Cancer".into(),
        BleedingFactor::MetastaticCancer => "Metastatic cancer".into(),
        BleedingFactor::RenalFailure => "Renal failure".into(),
        BleedingFactor::LiverFailure => "Liver failure".into(),
        BleedingFactor::Thrombocytopenia => "Thrombocytopenia".into(),
        BleedingFactor::PreviousStroke => "Previous stroke".into(),
        BleedingFactor::Diabetes => "Diabetes".into(),
        BleedingFactor::Anemia => "Anaemia".into(),
        BleedingFactor::AntiplateletTherapy => "Antiplatelet therapy".into(),
        BleedingFactor::RecentSurgery => "Recent surgery".into(),
        BleedingFactor::FrequentFalls => "Frequent falls".into(),
        BleedingFactor::AlcoholAbuse => "Alcohol abuse".into(),
        BleedingFactor::NsaidTherapy => "NSAID therapy".into(),
    }
}

fn evidence_text(ev: &[crate::clinical::Evidence]) -> String {
    ev.iter()
        .filter(|e| !e.what.trim().is_empty())
        .map(|e| match e.when {
            Some(t) => format!("{} ({})", md(&e.what), day_str(t)),
            None => md(&e.what),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn vein_name(code: &str, kind: VeinKind) -> String {
    // SNOMED body structures of terminology.md ("Vein body structures").
    match code {
        "264481007" => "gastrocnemius vein".into(),
        "397427005" => "soleal vein".into(),
        "4258007" => "posterior tibial vein".into(),
        "71758008" => "peroneal vein".into(),
        "26703007" => "anterior tibial vein".into(),
        other => match kind {
            VeinKind::Muscular => format!("muscular calf vein (SNOMED {})", md(other)),
            VeinKind::Axial => format!("axial calf vein (SNOMED {})", md(other)),
        },
    }
}

fn legs_words(l: Legs) -> &'static str {
    match l {
        Legs::Left => "left leg",
        Legs::Right => "right leg",
        Legs::Both => "both legs",
        Legs::Unknown => "leg not recorded",
    }
}

fn category_percent(c: BleedingRisk, rules: &Rules) -> f64 {
    let b = &rules.thresholds.bleeding;
    match c {
        BleedingRisk::Low => b.low_percent,
        BleedingRisk::Moderate => b.moderate_percent,
        BleedingRisk::High => b.high_percent,
    }
}

fn note_sentence(n: Note, s: &Stratification, rules: &Rules) -> Option<String> {
    let r = &rules.thresholds.renal;
    Some(match n {
        Note::PregnancyDDimer => "Pregnancy: D-dimer rises physiologically, so a positive D-dimer is less specific.".into(),
        Note::PregnancyLmwhAlternative => {
            "Pregnancy: LMWH anticoagulation (enoxaparin 1 mg/kg every 12 hours) is a reasonable alternative to serial imaging.".into()
        }
        Note::PregnancyLmwhOnly => "Pregnancy: only LMWH (enoxaparin) is offered, never a DOAC or warfarin; \
             treat until delivery, then at least 6 weeks postpartum (at least 3 months in total)."
            .into(),
        Note::PostpartumNoDoac => "Postpartum (≤ 6 weeks): LMWH or warfarin; no DOAC while breastfeeding status is unknown.".into(),
        Note::CancerRegimen => "Active cancer: LMWH (enoxaparin) is the recommended initial regimen in the source guideline; \
             apixaban is an alternative (CHEST 2021 and later guidance favour DOACs; the first regimen listed is this site's choice). \
             Treat at least 3 months and consider extended therapy while the cancer is active."
            .into(),
        Note::RenalImpairedRegimen => format!(
            "Renal function < {} mL/min: no rivaroxaban, edoxaban or dabigatran; enoxaparin reduced to 1 mg/kg once daily.",
            fmt_num(r.impairment_below)
        ),
        Note::RenalSevereRegimen => format!(
            "Renal function < {} mL/min or dialysis: no DOAC and no LMWH; warfarin (INR 2–3) with unfractionated heparin bridging.",
            fmt_num(r.severe_below)
        ),
        Note::CloserMonitoring => {
            let why: Vec<&str> = s
                .progression_modifiers
                .iter()
                .map(|m| match m {
                    ProgressionModifier::EndStageRenalDisease => "end-stage renal disease",
                    ProgressionModifier::PriorStroke => "prior stroke",
                })
                .collect();
            let why = if why.is_empty() { "End-stage renal disease or prior stroke".to_owned() } else { capitalize(&why.join(" and ")) };
            format!("{why}: higher risk of progression: closer monitoring, lower threshold for anticoagulation.")
        }
        Note::AnticoagulantSelectedIsAlternative => {
            "An anticoagulant is selected: anticoagulation is an acceptable alternative to serial imaging.".into()
        }
        // Stated in the bleeding section on every card.
        Note::UnscoredBleedingFactors => return None,
        // Stated beside the unprovoked factor.
        Note::UnprovokedDerived => return None,
    })
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn population_name(p: SpecialPopulation, rules: &Rules) -> String {
    let r = &rules.thresholds.renal;
    match p {
        SpecialPopulation::Pregnancy => "pregnancy".into(),
        SpecialPopulation::Postpartum => "postpartum (≤ 6 weeks)".into(),
        SpecialPopulation::ActiveCancer => "active cancer".into(),
        SpecialPopulation::RenalImpairment => format!(
            "renal impairment (< {} mL/min)",
            fmt_num(r.impairment_below)
        ),
        SpecialPopulation::SevereRenalImpairment => {
            format!(
                "severe renal impairment (< {} mL/min or dialysis)",
                fmt_num(r.severe_below)
            )
        }
    }
}

pub fn detail(s: &Stratification, a: &Assessment, rules: &Rules) -> String {
    let mut d = String::new();
    let t = &rules.thresholds;
    let total = t.follow_up.treatment_days;
    let present_factors: Vec<_> = present(s).collect();

    // Headline.
    let _ = match s.recommendation {
        Recommendation::Anticoagulate => writeln!(
            d,
            "**Anticoagulate for {}**: at least one extension risk factor and {} bleeding risk (CHEST 2016).",
            months_phrase(total),
            s.bleeding.category.code()
        ),
        Recommendation::SerialImaging => writeln!(
            d,
            "**Serial imaging**: no extension risk factor{}, so anticoagulation may be withheld \
             **only with follow-up imaging**: repeat duplex ultrasound at 1 and 2 weeks (CHEST 2016).",
            if s.factors
                .iter()
                .any(|f| matches!(f.presence, Presence::Unknown(_)))
            {
                " known"
            } else {
                ""
            }
        ),
        Recommendation::Individualize => writeln!(
            d,
            "**Individualize (shared decision)**: extension risk factors favour anticoagulation, \
             but the bleeding risk is high. Neither option is marked recommended."
        ),
    };
    d.push('\n');

    // Index DVT and veins.
    let ix: &IndexDvt = &s.index;
    let label = ix.label.as_deref().filter(|l| !l.trim().is_empty()).map(md);
    let _ = writeln!(
        d,
        "- Index DVT: {}, {}, dated {}.",
        label.unwrap_or_else(|| "isolated distal DVT".into()),
        legs_words(ix.legs),
        day_str(ix.date)
    );
    let veins: Vec<String> = ix.veins.iter().map(|(c, k)| vein_name(c, *k)).collect();
    let _ = match ix.muscular_only {
        Some(true) => writeln!(
            d,
            "- Veins: muscular calf veins only (gastrocnemius/soleal): {}.",
            veins.join(", ")
        ),
        Some(false) => writeln!(
            d,
            "- Veins: axial calf vein involved (tibial/peroneal): {}.",
            veins.join(", ")
        ),
        None => writeln!(d, "- Veins: no calf vein named in the record."),
    };

    // §2 extension risk factors.
    d.push_str("\n### Extension risk factors\n");
    if present_factors.is_empty() {
        d.push_str("None present.\n");
    }
    for (f, ev) in &present_factors {
        let mut line = format!("- **{}**", factor_name(*f, rules));
        let ev = evidence_text(ev);
        if !ev.is_empty() {
            line.push_str(&format!(": {ev}"));
        }
        if *f == ExtensionRiskFactor::Unprovoked {
            line.push_str(" — derived from the absence of a recorded provoking factor (surgery or hospital stay, \
                 active cancer, pregnancy or postpartum, estrogen therapy, immobility, COVID-19, lower-limb injury)");
        }
        let _ = writeln!(d, "{line}");
    }
    let unknowns: Vec<String> = s
        .factors
        .iter()
        .filter_map(|f| match f.presence {
            Presence::Unknown(m) => Some(unknown_sentence(m, rules)),
            _ => None,
        })
        .collect();
    if !unknowns.is_empty() {
        d.push_str("\nUnknown (not in the record, not counted as absent):\n");
        for u in &unknowns {
            let _ = writeln!(d, "- {u}");
        }
    }
    let absent: Vec<String> = s
        .factors
        .iter()
        .filter(|f| matches!(f.presence, Presence::Absent(_)))
        .map(|f| short_name(f.factor, rules))
        .collect();
    if !absent.is_empty() {
        let _ = writeln!(d, "\nAbsent: {}.", absent.join(", "));
    }

    // §3 bleeding risk.
    let b = &s.bleeding;
    let at_least = !b.missing.is_empty();
    let pct = category_percent(b.category, rules);
    d.push_str("\n### Bleeding risk (CHEST 2016)\n");
    let _ = writeln!(
        d,
        "Category **{}{}** (score {}): estimated major bleeding in the first 3 months {}{} % \
         (low {} %, moderate {} %, high {} %).",
        if at_least { "at least " } else { "" },
        b.category.code(),
        b.score,
        if at_least { "at least " } else { "" },
        fmt_num(pct),
        fmt_num(t.bleeding.low_percent),
        fmt_num(t.bleeding.moderate_percent),
        fmt_num(t.bleeding.high_percent)
    );
    for (f, ev) in &b.factors {
        let ev = evidence_text(std::slice::from_ref(ev));
        let _ = if ev.is_empty() {
            writeln!(d, "- {}", bleeding_name(*f, rules))
        } else {
            writeln!(d, "- {}: {ev}", bleeding_name(*f, rules))
        };
    }
    if at_least {
        let gaps: Vec<&str> = b.missing.iter().map(|m| m.code()).collect();
        let _ = writeln!(
            d,
            "\nData missing ({}): the category is at least this.",
            gaps.join(", ")
        );
    }
    d.push_str(
        "\nPoor anticoagulant control and reduced functional capacity are not derivable from the record \
         and are not scored.\n",
    );

    // Individualize: both sides by name (§4).
    if s.recommendation == Recommendation::Individualize {
        let ext: Vec<String> = present_factors
            .iter()
            .map(|(f, _)| short_name(*f, rules))
            .collect();
        let bl: Vec<String> = b
            .factors
            .iter()
            .map(|(f, _)| bleeding_name(*f, rules))
            .collect();
        d.push_str("\n### Shared decision\n");
        let _ = writeln!(
            d,
            "- For anticoagulation (extension risk): {}.",
            ext.join(", ")
        );
        let _ = writeln!(
            d,
            "- Against (bleeding risk, {} %): {}.",
            fmt_num(pct),
            bl.join(", ")
        );
        let _ = writeln!(
            d,
            "- Options: serial duplex at 1 and 2 weeks, or anticoagulation for {}. Decide with the patient.",
            months_phrase(total)
        );
    }

    // Patient data used.
    d.push_str("\n### Patient data used\n");
    let _ = match s.age {
        AgeFact::Known {
            years,
            at_least: false,
        } => writeln!(d, "- Age: {years} years"),
        AgeFact::Known {
            years,
            at_least: true,
        } => {
            writeln!(d, "- Age: at least {years} years (partial birth date)")
        }
        AgeFact::Unknown => writeln!(d, "- {}", unknown_sentence(MissingData::Age, rules)),
    };
    let _ = match &s.renal {
        RenalFunction::Measured {
            ml_min,
            source,
            when,
        } => {
            let src = match source {
                RenalSource::CreatinineClearance => {
                    "creatinine clearance (Cockcroft-Gault, as DOAC labels use)"
                }
                RenalSource::Egfr => "eGFR (no creatinine clearance recorded)",
            };
            let unit = match source {
                RenalSource::CreatinineClearance => "mL/min",
                RenalSource::Egfr => "mL/min/1.73 m²",
            };
            let when = when
                .map(|w| format!(", {}", day_str(w)))
                .unwrap_or_default();
            writeln!(
                d,
                "- Renal function: {} {unit} from {src}{when}",
                fmt_num(*ml_min)
            )
        }
        RenalFunction::EsrdOrDialysis(ev) => writeln!(
            d,
            "- Renal function: end-stage renal disease or dialysis recorded ({}): treated as < {} mL/min",
            evidence_text(std::slice::from_ref(ev)),
            fmt_num(t.renal.severe_below)
        ),
        RenalFunction::Unknown => {
            writeln!(
                d,
                "- {}",
                unknown_sentence(MissingData::RenalFunction, rules)
            )
        }
    };
    let _ = match s.weight {
        Some((kg, when)) => writeln!(
            d,
            "- Body weight: {} kg{}",
            fmt_num(kg),
            when.map(|w| format!(" ({})", day_str(w)))
                .unwrap_or_default()
        ),
        None => writeln!(d, "- {}", unknown_sentence(MissingData::BodyWeight, rules)),
    };
    let other_missing: Vec<String> = s
        .missing_data
        .iter()
        // Age, renal function and weight have their own lines above.
        .filter(|m| {
            !matches!(
                m,
                MissingData::Age | MissingData::RenalFunction | MissingData::BodyWeight
            )
        })
        .filter(|m| {
            !s.factors
                .iter()
                .any(|f| f.presence == Presence::Unknown(**m))
        })
        .map(|m| unknown_sentence(*m, rules))
        .collect();
    for m in &other_missing {
        let _ = writeln!(d, "- {m}");
    }

    // §4 special populations and the notes.
    let mut populations = s.special_populations.clone();
    populations.sort();
    populations.dedup();
    let notes: Vec<String> = s
        .notes
        .iter()
        .filter_map(|n| note_sentence(*n, s, rules))
        .collect();
    if !populations.is_empty() || !notes.is_empty() {
        d.push_str("\n### Special populations and adjustments\n");
        if !populations.is_empty() {
            let names: Vec<String> = populations
                .iter()
                .map(|p| population_name(*p, rules))
                .collect();
            let _ = writeln!(d, "Detected: {}.", names.join(", "));
        }
        for n in &notes {
            let _ = writeln!(d, "- {n}");
        }
    }

    // The plan.
    if let Some(plan) = &s.imaging {
        imaging_detail(&mut d, plan);
    }
    if !s.regimens.is_empty() {
        d.push_str("\n### Regimens\n");
        for r in &s.regimens {
            // Individualize marks no option recommended (§4).
            let rec = if r.recommended && s.recommendation == Recommendation::Anticoagulate {
                " — **recommended**"
            } else {
                ""
            };
            let _ = writeln!(d, "- {}{rec}", orders::regimen_label(r, rules));
        }
    }

    // Thresholds (site-configurable: §6 "the thresholds used").
    let e = &t.extension;
    d.push_str("\n### Thresholds used\n");
    let _ = writeln!(
        d,
        "Thrombus length > {} cm; maximum diameter > {} mm; distance to the proximal veins ≤ {} cm; \
         ≥ {} calf veins; D-dimer positive at ≥ {} ng/mL FEU ({} mg/L) or ≥ {} ng/mL DDU \
         (the age-adjusted cutoff is a diagnostic tool and is not used); bleeding-risk age > {} (1 point) \
         and > {} (2 points), platelets < {} × 10⁹/L, haemoglobin < {} g/dL, renal failure < {} mL/min.",
        fmt_num(e.thrombus_length_cm),
        fmt_num(e.thrombus_diameter_mm),
        fmt_num(e.near_proximal_distance_cm),
        e.multiple_veins_count,
        fmt_num(e.d_dimer_feu_cutoff_ng_ml),
        fmt_num(e.d_dimer_feu_cutoff_ng_ml / 1000.0),
        fmt_num(e.d_dimer_ddu_cutoff_ng_ml),
        t.bleeding.age_over,
        t.bleeding.age_high_over,
        fmt_num(t.bleeding.platelets_below_10e9_l),
        fmt_num(t.bleeding.hemoglobin_below_g_dl),
        fmt_num(t.bleeding.renal_failure_below_ml_min),
    );

    if !s.data_gaps.is_empty() {
        d.push_str("\n### Data gaps\n");
        for g in s.data_gaps.iter().filter(|g| !g.trim().is_empty()) {
            let _ = writeln!(d, "- {}", md(g));
        }
    }
    let _ = write!(d, "\nRuleset {}", ruleset(a, rules));
    d
}

fn imaging_detail(d: &mut String, plan: &ImagingPlan) {
    d.push_str("\n### Follow-up imaging\n");
    let _ = writeln!(
        d,
        "Duplex ultrasound ({}) due {} and {}. Anticoagulate at once if the thrombus extends. \
         Complete duplex from the inguinal ligament to the ankle, including the calf veins \
         (a limited compression protocol that skips the calf is inadequate). \
         Withholding anticoagulation without follow-up imaging is unsafe.",
        legs_words(if plan.legs == Legs::Unknown {
            Legs::Both
        } else {
            plan.legs
        }),
        date_str(plan.first_due),
        date_str(plan.second_due)
    );
}

// ---------- Suggestions (§4) ----------

fn suggestions(s: &Stratification, ctx: &CardContext<'_>) -> Vec<Suggestion> {
    let mut out = Vec::new();
    let imaging = |recommended: bool| {
        s.imaging
            .as_ref()
            .map(|plan| duplex_suggestion(plan, &s.index, recommended, ctx))
    };
    match s.recommendation {
        Recommendation::SerialImaging => out.extend(imaging(true)),
        Recommendation::Anticoagulate => out.extend(
            s.regimens
                .iter()
                .map(|r| regimen_suggestion(r, &s.index, r.recommended, ctx)),
        ),
        // Both options, neither recommended (§4 Individualize).
        Recommendation::Individualize => {
            out.extend(imaging(false));
            out.extend(
                s.regimens
                    .iter()
                    .map(|r| regimen_suggestion(r, &s.index, false, ctx)),
            );
        }
    }
    out
}

fn duplex_suggestion(
    plan: &ImagingPlan,
    index: &IndexDvt,
    recommended: bool,
    ctx: &CardContext<'_>,
) -> Suggestion {
    let actions = [plan.first_due, plan.second_due]
        .into_iter()
        .map(|due| Action {
            kind: ActionType::Create,
            description: format!("Order duplex ultrasound due {}", date_str(due)),
            resource: Some(orders::duplex_request(
                plan,
                index,
                due,
                ctx.patient_id,
                ctx.rules,
            )),
            resource_id: None,
        })
        .collect();
    Suggestion {
        label: "Repeat duplex ultrasound at 1 and 2 weeks".into(),
        uuid: new_uuid(),
        is_recommended: Some(recommended),
        actions,
    }
}

pub(super) fn regimen_suggestion(
    r: &RegimenChoice,
    index: &IndexDvt,
    recommended: bool,
    ctx: &CardContext<'_>,
) -> Suggestion {
    let reason = orders::index_reason(index);
    let label = orders::regimen_label(r, ctx.rules);
    Suggestion {
        uuid: new_uuid(),
        is_recommended: Some(recommended),
        actions: vec![Action {
            kind: ActionType::Create,
            description: format!("Draft {}", orders::lower_first(&label)),
            resource: Some(orders::regimen_request(
                r,
                &reason,
                ctx.patient_id,
                ctx.rules,
            )),
            resource_id: None,
        }],
        label,
    }
}
