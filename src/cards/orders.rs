//! The FHIR R4 resources suggested on cards: follow-up duplex `ServiceRequest`s and regimen
//! `MedicationRequest`s (rule book §4, terminology "Orders the service drafts"), and the update of
//! a too-short draft (§5 `short-duration`).
//!
//! Every resource is `status: draft`, `intent: order`, subject = the patient, reason = the index
//! Condition when known (cds-contract "Suggestion resources"), and carries no empty value.

use serde_json::{Map, Value, json};
use time::{Date, OffsetDateTime, macros::format_description};

use crate::clinical::{ImagingPlan, IndexDvt, Legs, RegimenChoice, TreatmentDuration};
use crate::config::codes::{CPT, LOINC, SNOMED};
use crate::config::medications::RXNORM;
use crate::config::{DrugClass, Ingredient, RegimenPhase, Rules};

pub const UCUM: &str = "http://unitsofmeasure.org";

pub fn date_str(d: Date) -> String {
    d.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_else(|_| d.to_string())
}

pub fn day_str(t: OffsetDateTime) -> String {
    date_str(t.date())
}

/// A whole number as a JSON integer, anything else as a decimal.
fn num(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

/// `82`, `2.5`: numbers as people write them.
pub fn fmt_num(x: f64) -> String {
    let r = (x * 10.0).round() / 10.0;
    format!("{r}")
}

fn ucum_days(days: i64) -> Value {
    json!({"value": days, "unit": "days", "system": UCUM, "code": "d"})
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// "Apixaban 10 mg…" → "apixaban 10 mg…" inside a sentence.
pub fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// "3 months" for 90 days (the rule book's wording), else "N days".
pub fn months_phrase(days: i64) -> String {
    if days > 0 && days % 30 == 0 {
        let m = days / 30;
        if m == 1 {
            "1 month".into()
        } else {
            format!("{m} months")
        }
    } else {
        format!("{days} days")
    }
}

/// `reasonReference` entries for the index Condition.
pub fn index_reason(index: &IndexDvt) -> Vec<Value> {
    match index
        .condition_id
        .as_deref()
        .filter(|id| !id.trim().is_empty())
    {
        Some(id) => {
            let mut r = Map::new();
            r.insert("reference".into(), json!(format!("Condition/{id}")));
            if let Some(label) = index.label.as_deref().filter(|l| !l.trim().is_empty()) {
                r.insert("display".into(), json!(label));
            }
            vec![Value::Object(r)]
        }
        None => Vec::new(),
    }
}

// ---------- Follow-up duplex (§4 Serial imaging) ----------

struct Side {
    loinc: String,
    cpt: String,
    snomed: &'static str,
    snomed_display: &'static str,
    words: &'static str,
    site_text: &'static str,
}

fn side(legs: Legs, rules: &Rules) -> Side {
    let d = &rules.duplex;
    // Both or unknown laterality → bilateral study (§4: "bilateral/unknown → both legs").
    match legs {
        Legs::Left => Side {
            loinc: d.unilateral_loinc.clone(),
            cpt: d.unilateral_cpt.clone(),
            snomed: "7771000",
            snomed_display: "Left",
            words: "left",
            site_text: "Left leg",
        },
        Legs::Right => Side {
            loinc: d.unilateral_loinc.clone(),
            cpt: d.unilateral_cpt.clone(),
            snomed: "24028007",
            snomed_display: "Right",
            words: "right",
            site_text: "Right leg",
        },
        Legs::Both | Legs::Unknown => Side {
            loinc: d.bilateral_loinc.clone(),
            cpt: d.bilateral_cpt.clone(),
            snomed: "51440002",
            snomed_display: "Right and left",
            words: "both",
            site_text: "Both legs",
        },
    }
}

pub fn duplex_text(legs: Legs, rules: &Rules) -> String {
    format!(
        "Complete duplex ultrasound, {} leg veins (inguinal ligament to ankle, including calf veins)",
        side(legs, rules).words
    )
}

/// One draft follow-up duplex `ServiceRequest` due on `due`.
pub fn duplex_request(
    plan: &ImagingPlan,
    index: &IndexDvt,
    due: Date,
    patient_id: &str,
    rules: &Rules,
) -> Value {
    let s = side(plan.legs, rules);
    let mut r = json!({
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "order",
        "code": {
            "coding": [
                {"system": LOINC, "code": s.loinc},
                {"system": CPT, "code": s.cpt},
            ],
            "text": duplex_text(plan.legs, rules),
        },
        "subject": {"reference": format!("Patient/{patient_id}")},
        "occurrenceDateTime": date_str(due),
        "bodySite": [{
            "coding": [{"system": SNOMED, "code": s.snomed, "display": s.snomed_display}],
            "text": s.site_text,
        }],
        "note": [{"text": format!(
            "Follow-up of isolated distal (calf) DVT diagnosed {}. Complete duplex from the inguinal \
             ligament to the ankle, including the calf veins (a limited compression protocol that \
             skips the calf is inadequate). Please report extension: thrombus length, maximum \
             diameter, veins involved and distance to the popliteal vein.",
            day_str(index.date)
        )}],
    });
    let reason = index_reason(index);
    if !reason.is_empty() {
        r["reasonReference"] = Value::Array(reason);
    }
    r
}

// ---------- Regimens (§4 Anticoagulate) ----------

fn frequency_words(freq: u32, ing: Ingredient) -> String {
    match freq {
        1 => "once daily".into(),
        // LMWH is prescribed "every 12 hours" (§4 regimen 3).
        2 if ing.class() == DrugClass::Lmwh => "every 12 hours".into(),
        2 => "twice daily".into(),
        3 => "three times daily".into(),
        n => format!("{n} times daily"),
    }
}

fn unit_display(unit: &str) -> &str {
    if unit == "[iU]" { "IU" } else { unit }
}

/// The phases actually drafted (§4 Renal function: `renal_phases` when renal-adjusted).
fn phases<'r>(choice: &RegimenChoice, rules: &'r Rules) -> &'r [RegimenPhase] {
    let def = rules.medications.regimen(choice.regimen);
    if choice.renal_adjusted && !def.renal_phases.is_empty() {
        &def.renal_phases
    } else {
        &def.phases
    }
}

/// Days of each phase: a phase's own `days`, the last phase the remainder of the total, so the
/// bounds add up to `follow_up.treatment_days` (3 months = 90 days, §4).
pub fn phase_days(phases: &[RegimenPhase], total: i64) -> Vec<i64> {
    let n = phases.len();
    let fixed: i64 = phases[..n.saturating_sub(1)]
        .iter()
        .map(|p| i64::from(p.days.unwrap_or(0)))
        .sum();
    phases
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i + 1 == n {
                (total - fixed).max(1)
            } else {
                i64::from(p.days.unwrap_or(0))
            }
        })
        .collect()
}

fn duration_label(d: TreatmentDuration, total: i64) -> String {
    match d {
        TreatmentDuration::ThreeMonths => format!("({})", months_phrase(total)),
        TreatmentDuration::Pregnancy => format!(
            "until delivery, then at least 6 weeks postpartum (at least {} in total)",
            months_phrase(total)
        ),
        TreatmentDuration::ActiveCancer => format!(
            "(at least {}; consider extended therapy while the cancer is active)",
            months_phrase(total)
        ),
    }
}

/// Per-kg dose: `Some((mg, "1 mg/kg × 82 kg = 82 mg"))` with a weight, else `None`.
fn per_kg_dose(p: &RegimenPhase, weight: Option<f64>) -> Option<(f64, String)> {
    let (dose, w) = (p.dose?, weight?);
    let mg = (dose * w).round();
    Some((
        mg,
        format!(
            "{} {}/kg × {} kg = {} {}",
            fmt_num(dose),
            unit_display(&p.unit),
            fmt_num(w),
            fmt_num(mg),
            unit_display(&p.unit)
        ),
    ))
}

/// "Apixaban 10 mg twice daily for 7 days, then 5 mg twice daily (3 months)".
pub fn regimen_label(choice: &RegimenChoice, rules: &Rules) -> String {
    let def = rules.medications.regimen(choice.regimen);
    let total = rules.thresholds.follow_up.treatment_days;
    let ps = phases(choice, rules);
    let mut parts = Vec::new();
    for (i, p) in ps.iter().enumerate() {
        let mut s = String::new();
        match (p.dose, p.per_kg) {
            (Some(d), true) => {
                s.push_str(&format!("{} {}/kg", fmt_num(d), unit_display(&p.unit)));
                if let Some((mg, _)) = per_kg_dose(p, choice.weight_kg) {
                    s.push_str(&format!(" ({} {})", fmt_num(mg), unit_display(&p.unit)));
                }
            }
            (Some(d), false) => s.push_str(&format!("{} {}", fmt_num(d), unit_display(&p.unit))),
            // Warfarin: no fixed dose, INR-adjusted.
            (None, _) => s.push_str("dose adjusted to INR 2–3,"),
        }
        s.push(' ');
        s.push_str(&frequency_words(p.frequency, def.ingredient));
        if i + 1 < ps.len()
            && let Some(days) = p.days
        {
            s.push_str(&format!(" for {days} days"));
        }
        parts.push(s);
    }
    let mut label = format!(
        "{} {}",
        capitalize(def.display.trim()),
        parts.join(", then ")
    );
    if choice.renal_adjusted && !def.renal_phases.is_empty() {
        label.push_str(", renal dose");
    }
    if def.note.is_some() && def.ingredient == Ingredient::Warfarin {
        label.push_str(", with unfractionated heparin bridging");
    }
    format!("{label} {}", duration_label(choice.duration, total))
}

/// A draft `MedicationRequest` for one regimen (§4; terminology "Orders the service drafts").
pub fn regimen_request(
    choice: &RegimenChoice,
    reason: &[Value],
    patient_id: &str,
    rules: &Rules,
) -> Value {
    let def = rules.medications.regimen(choice.regimen);
    let total = rules.thresholds.follow_up.treatment_days;
    let ps = phases(choice, rules);
    let days = phase_days(ps, total);
    let route = json!({
        "coding": [{"system": SNOMED, "code": def.route_code, "display": def.route_display}],
        "text": def.route_display,
    });
    let dosage: Vec<Value> = ps
        .iter()
        .zip(&days)
        .enumerate()
        .map(|(i, (p, d))| {
            let last = i + 1 == ps.len();
            let mut text = p.text.trim().to_owned();
            let mut dose = None;
            match (p.dose, p.per_kg) {
                (Some(v), true) => match per_kg_dose(p, choice.weight_kg) {
                    Some((mg, how)) => {
                        text.push_str(&format!(" ({how})"));
                        dose = Some(json!({"value": num(mg), "unit": unit_display(&p.unit),
                                           "system": UCUM, "code": p.unit}));
                    }
                    None => {
                        // §4: weight unknown → the dose is stated per kg.
                        text.push_str(" (dose per kg of body weight: weight not recorded)");
                        let unit = format!("{}/kg", p.unit);
                        dose = Some(json!({"value": num(v), "unit": unit_display(&unit),
                                           "system": UCUM, "code": unit}));
                    }
                },
                (Some(v), false) => {
                    dose = Some(json!({"value": num(v), "unit": unit_display(&p.unit),
                                       "system": UCUM, "code": p.unit}))
                }
                (None, _) => {}
            }
            if last {
                text.push_str(&match choice.duration {
                    TreatmentDuration::ThreeMonths if ps.len() == 1 => {
                        format!(", for {}", months_phrase(total))
                    }
                    TreatmentDuration::ThreeMonths => {
                        format!(", for {d} days ({} in total)", months_phrase(total))
                    }
                    other => format!(", {}; drafted for {d} days", duration_label(other, total)),
                });
            }
            if i == 0
                && let Some(note) = def.note.as_deref().filter(|n| !n.trim().is_empty())
            {
                text.push_str(&format!(". {}", note.trim()));
            }
            let mut entry = json!({
                "sequence": i + 1,
                "text": text,
                "timing": {"repeat": {
                    "boundsDuration": ucum_days(*d),
                    "frequency": p.frequency,
                    "period": 1,
                    "periodUnit": "d",
                }},
                "route": route,
            });
            if let Some(q) = dose {
                entry["doseAndRate"] = json!([{"doseQuantity": q}]);
            }
            entry
        })
        .collect();
    let mut r = json!({
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": def.rxnorm, "display": def.display}],
            "text": def.display,
        },
        "subject": {"reference": format!("Patient/{patient_id}")},
        "dosageInstruction": dosage,
        "dispenseRequest": {"expectedSupplyDuration": ucum_days(total)},
    });
    if !reason.is_empty() {
        r["reasonReference"] = Value::Array(reason.to_vec());
    }
    if let Some(note) = def.note.as_deref().filter(|n| !n.trim().is_empty()) {
        r["note"] = json!([{"text": note.trim()}]);
    }
    r
}

// ---------- Drafts in context.draftOrders ----------

/// The draft whose `ResourceType/id` is `reference`, in the `draftOrders` Bundle.
pub fn find_draft<'a>(draft_orders: &'a Value, reference: &str) -> Option<&'a Value> {
    draft_orders
        .get("entry")?
        .as_array()?
        .iter()
        .filter_map(|e| e.get("resource"))
        .find(|r| {
            match (
                r.get("resourceType").and_then(Value::as_str),
                r.get("id").and_then(Value::as_str),
            ) {
                (Some(t), Some(id)) => format!("{t}/{id}") == reference,
                _ => false,
            }
        })
}

/// The ingredient a draft orders: RxNorm coding first, then the name in text/display
/// (terminology "Medications"). The model names the orders only by reference.
pub fn draft_ingredient(draft: &Value, rules: &Rules) -> Option<Ingredient> {
    let med = &rules.medications;
    let concept = draft.get("medicationCodeableConcept");
    let codings = concept
        .and_then(|c| c.get("coding"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    codings
        .iter()
        .filter(|c| c.get("system").and_then(Value::as_str) == Some(RXNORM))
        .find_map(|c| {
            c.get("code")
                .and_then(Value::as_str)
                .and_then(|k| med.by_rxnorm(k))
        })
        .or_else(|| {
            let texts = concept
                .and_then(|c| c.get("text"))
                .into_iter()
                .chain(codings.iter().filter_map(|c| c.get("display")))
                .chain(draft.pointer("/medicationReference/display"));
            texts.filter_map(Value::as_str).find_map(|t| med.by_name(t))
        })
}

/// Days in a FHIR Duration (UCUM d, wk, mo, a); `None` when it cannot be read.
fn duration_days(d: &Value) -> Option<i64> {
    let value = d.get("value")?.as_f64()?;
    let unit = d.get("code").or_else(|| d.get("unit"))?.as_str()?;
    let per = match unit.trim() {
        "d" | "day" | "days" => 1.0,
        "wk" | "week" | "weeks" => 7.0,
        "mo" | "month" | "months" => 30.0,
        "a" | "year" | "years" => 365.0,
        _ => return None,
    };
    Some((value * per).round() as i64)
}

fn period_days(p: &Value) -> Option<i64> {
    let day = |k: &str| -> Option<Date> {
        let s = p.get(k)?.as_str()?;
        Date::parse(s.get(..10)?, format_description!("[year]-[month]-[day]")).ok()
    };
    Some((day("end")? - day("start")?).whole_days())
}

/// The whole draft with its total duration set to `days` (§5 `short-duration`): the last
/// dosage's `boundsDuration` makes the bounds add up to `days` (replacing any other bounds), and
/// `dispenseRequest.expectedSupplyDuration` is set when a dispense request exists.
pub fn extend_duration(draft: &Value, days: i64) -> Value {
    let mut r = draft.clone();
    let mut touched = false;
    if let Some(dosage) = r.get_mut("dosageInstruction").and_then(Value::as_array_mut)
        && let Some((last, earlier)) = dosage.split_last_mut()
    {
        let before: i64 = earlier
            .iter()
            .filter_map(|d| d.pointer("/timing/repeat"))
            .filter_map(|rep| {
                rep.get("boundsDuration")
                    .and_then(duration_days)
                    .or_else(|| rep.get("boundsPeriod").and_then(period_days))
            })
            .sum();
        let remaining = if days - before > 0 {
            days - before
        } else {
            days
        };
        if let Some(obj) = last.as_object_mut() {
            let timing = obj.entry("timing").or_insert_with(|| json!({}));
            if let Some(t) = timing.as_object_mut() {
                let repeat = t.entry("repeat").or_insert_with(|| json!({}));
                if let Some(rep) = repeat.as_object_mut() {
                    // bounds[x] is a choice: only one of them may be present.
                    rep.remove("boundsPeriod");
                    rep.remove("boundsRange");
                    rep.insert("boundsDuration".into(), ucum_days(remaining));
                    touched = true;
                }
            }
        }
    }
    let has_dispense = r.get("dispenseRequest").is_some_and(Value::is_object);
    if (has_dispense || !touched)
        && let Some(obj) = r.as_object_mut()
    {
        let dr = obj.entry("dispenseRequest").or_insert_with(|| json!({}));
        if let Some(dr) = dr.as_object_mut() {
            dr.insert("expectedSupplyDuration".into(), ucum_days(days));
        }
    }
    prune_empty(&mut r);
    r
}

/// Remove `null`, `""`, `[]` and `{}` members, innermost first (cds-hooks-notes §0): a draft
/// echoed back in an update must not carry empty values the spec forbids.
pub fn prune_empty(v: &mut Value) {
    fn empty(v: &Value) -> bool {
        match v {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            _ => false,
        }
    }
    match v {
        Value::Object(o) => {
            for x in o.values_mut() {
                prune_empty(x);
            }
            o.retain(|_, x| !empty(x));
        }
        Value::Array(a) => {
            for x in a.iter_mut() {
                prune_empty(x);
            }
            a.retain(|x| !empty(x));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cards::tests::{index, rules};
    use crate::config::RegimenId;

    fn choice(regimen: RegimenId, ingredient: Ingredient) -> RegimenChoice {
        RegimenChoice {
            regimen,
            ingredient,
            recommended: true,
            renal_adjusted: false,
            weight_kg: None,
            duration: TreatmentDuration::ThreeMonths,
        }
    }

    fn bounds(r: &Value) -> Vec<i64> {
        r["dosageInstruction"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                d["timing"]["repeat"]["boundsDuration"]["value"]
                    .as_i64()
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn apixaban_phases_sum_to_three_months() {
        let rules = rules();
        let r = regimen_request(
            &choice(RegimenId::Apixaban, Ingredient::Apixaban),
            &[],
            "p1",
            rules,
        );
        assert_eq!(bounds(&r), vec![7, 83]);
        assert_eq!(
            r["medicationCodeableConcept"]["coding"][0]["code"],
            "1364430"
        );
        assert_eq!(r["dispenseRequest"]["expectedSupplyDuration"]["value"], 90);
        assert_eq!(r["dosageInstruction"][1]["sequence"], 2);
        assert_eq!(
            r["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"],
            10
        );
        assert!(r.get("reasonReference").is_none());
        assert_eq!(
            regimen_label(&choice(RegimenId::Apixaban, Ingredient::Apixaban), rules),
            "Apixaban 10 mg twice daily for 7 days, then 5 mg twice daily (3 months)"
        );
        let riv = regimen_request(
            &choice(RegimenId::Rivaroxaban, Ingredient::Rivaroxaban),
            &[],
            "p1",
            rules,
        );
        assert_eq!(bounds(&riv), vec![21, 69]);
    }

    #[test]
    fn enoxaparin_dose_from_weight_or_per_kg() {
        let rules = rules();
        let mut c = choice(RegimenId::Enoxaparin, Ingredient::Enoxaparin);
        c.weight_kg = Some(82.0);
        let r = regimen_request(&c, &[], "p1", rules);
        let d = &r["dosageInstruction"][0];
        assert_eq!(d["doseAndRate"][0]["doseQuantity"]["value"], 82);
        assert_eq!(d["doseAndRate"][0]["doseQuantity"]["code"], "mg");
        assert!(
            d["text"]
                .as_str()
                .unwrap()
                .contains("1 mg/kg × 82 kg = 82 mg"),
            "{d}"
        );
        assert_eq!(bounds(&r), vec![90]);
        assert_eq!(
            regimen_label(&c, rules),
            "Enoxaparin 1 mg/kg (82 mg) every 12 hours (3 months)"
        );

        c.weight_kg = None;
        c.renal_adjusted = true;
        let r = regimen_request(&c, &[], "p1", rules);
        let d = &r["dosageInstruction"][0];
        assert_eq!(d["doseAndRate"][0]["doseQuantity"]["code"], "mg/kg");
        assert_eq!(d["doseAndRate"][0]["doseQuantity"]["value"], 1);
        assert_eq!(d["timing"]["repeat"]["frequency"], 1);
        assert!(d["text"].as_str().unwrap().contains("weight not recorded"));
    }

    #[test]
    fn warfarin_has_no_dose_and_states_bridging() {
        let rules = rules();
        let c = choice(RegimenId::Warfarin, Ingredient::Warfarin);
        let r = regimen_request(&c, &[], "p1", rules);
        let d = &r["dosageInstruction"][0];
        assert!(d.get("doseAndRate").is_none());
        assert!(
            d["text"]
                .as_str()
                .unwrap()
                .contains("unfractionated heparin bridging")
        );
        assert!(r["note"][0]["text"].as_str().unwrap().contains("heparin"));
        assert_eq!(r["medicationCodeableConcept"]["coding"][0]["code"], "11289");
        assert!(regimen_label(&c, rules).contains("INR 2–3"));
    }

    #[test]
    fn duplex_laterality() {
        let rules = rules();
        let plan = ImagingPlan {
            legs: Legs::Left,
            first_due: time::macros::date!(2026 - 11 - 26),
            second_due: time::macros::date!(2026 - 12 - 03),
        };
        let r = duplex_request(&plan, &index(), plan.first_due, "p1", rules);
        assert_eq!(r["code"]["coding"][0]["code"], "30881-7");
        assert_eq!(r["code"]["coding"][1]["code"], "93971");
        assert_eq!(r["bodySite"][0]["coding"][0]["code"], "7771000");
        assert_eq!(r["occurrenceDateTime"], "2026-11-26");
        assert_eq!(r["reasonReference"][0]["reference"], "Condition/dvt-1");
        let plan = ImagingPlan {
            legs: Legs::Unknown,
            ..plan
        };
        let r = duplex_request(&plan, &index(), plan.second_due, "p1", rules);
        assert_eq!(r["code"]["coding"][0]["code"], "39420-5");
        assert_eq!(r["code"]["coding"][1]["code"], "93970");
        assert_eq!(r["bodySite"][0]["coding"][0]["code"], "51440002");
        assert_eq!(r["occurrenceDateTime"], "2026-12-03");
    }

    #[test]
    fn extend_duration_sets_the_last_bounds_and_supply() {
        let draft = json!({
            "resourceType": "MedicationRequest", "id": "mr-1", "status": "draft", "intent": "order",
            "subject": {"reference": "Patient/p1"},
            "note": [],
            "dosageInstruction": [
                {"timing": {"repeat": {"boundsDuration": {"value": 1, "unit": "wk", "system": UCUM, "code": "wk"},
                                        "frequency": 2, "period": 1, "periodUnit": "d"}}},
                {"timing": {"repeat": {"boundsPeriod": {"start": "2026-11-26", "end": "2026-12-10"},
                                        "frequency": 2, "period": 1, "periodUnit": "d"}}},
            ],
            "dispenseRequest": {"expectedSupplyDuration": {"value": 21, "unit": "days", "system": UCUM, "code": "d"}},
        });
        let r = extend_duration(&draft, 90);
        assert_eq!(
            r["dosageInstruction"][1]["timing"]["repeat"]["boundsDuration"]["value"],
            83
        );
        assert!(
            r["dosageInstruction"][1]["timing"]["repeat"]
                .get("boundsPeriod")
                .is_none()
        );
        assert_eq!(r["dispenseRequest"]["expectedSupplyDuration"]["value"], 90);
        assert_eq!(r["id"], "mr-1");
        assert!(r.get("note").is_none(), "empty members are pruned");
        // Only a dispense duration: it is the one extended.
        let only = json!({"resourceType": "MedicationRequest", "id": "x", "status": "draft",
            "intent": "order", "subject": {"reference": "Patient/p"},
            "dispenseRequest": {"expectedSupplyDuration": {"value": 30, "unit": "d"}}});
        let r = extend_duration(&only, 90);
        assert_eq!(r["dispenseRequest"]["expectedSupplyDuration"]["value"], 90);
        assert!(r.get("dosageInstruction").is_none());
    }

    #[test]
    fn finds_drafts_and_their_ingredient() {
        let rules = rules();
        let bundle = json!({"resourceType": "Bundle", "entry": [
            {"resource": {"resourceType": "ServiceRequest", "id": "a"}},
            {"resource": {"resourceType": "MedicationRequest", "id": "a",
                "medicationCodeableConcept": {"text": "Eliquis 5 MG Oral Tablet"}}},
            {"resource": {"resourceType": "MedicationRequest", "id": "b",
                "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "11289"}]}}},
        ]});
        let a = find_draft(&bundle, "MedicationRequest/a").unwrap();
        assert_eq!(draft_ingredient(a, rules), Some(Ingredient::Apixaban));
        let b = find_draft(&bundle, "MedicationRequest/b").unwrap();
        assert_eq!(draft_ingredient(b, rules), Some(Ingredient::Warfarin));
        assert!(find_draft(&bundle, "MedicationRequest/c").is_none());
        assert!(find_draft(&Value::Null, "MedicationRequest/a").is_none());
    }
}
