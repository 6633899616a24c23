//! Units: conversion to the unit each fact is kept in, and censored values (`<0.27`, `>60`).
//!
//! A unit we do not recognise, a missing value, or a non-finite or negative number gives
//! `Measured::Unknown`, never a guess (facts module contract). Units are compared
//! case-insensitively, with the spellings EHRs commonly send besides UCUM.

use fhir_sdk::r4b::codes::QuantityComparator;
use fhir_sdk::r4b::types::Quantity;

use crate::facts::Measured;

/// The unit as sent: the UCUM `code`, else the `unit` text.
pub(super) fn unit_texts(q: &Quantity) -> [Option<&str>; 2] {
    [clean(q.code.as_deref()), clean(q.unit.as_deref())]
}

fn clean(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// The unit shown on the card: the human `unit` text, else the code.
pub(super) fn display_unit(q: &Quantity) -> Option<&str> {
    let [code, unit] = unit_texts(q);
    unit.or(code)
}

/// A rule-book test applied to a value: `v < t`, `v ≤ t`, `v > t`, `v ≥ t`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Test {
    Below(f64),
    AtMost(f64),
    Above(f64),
    AtLeast(f64),
}

/// Whether reading the bound `x` of a censored value as the value gives every `test` the
/// answer the true value would give. `<x`/`≤x` (true value at most x) and `>x`/`≥x` (at
/// least x) lead to the same conditions, strict or not. Without tests nothing is decided.
pub(super) fn bound_is_decisive(comparator: QuantityComparator, x: f64, tests: &[Test]) -> bool {
    let upper = matches!(
        comparator,
        QuantityComparator::Less | QuantityComparator::LessOrEqual
    );
    !tests.is_empty()
        && tests.iter().all(|t| match (*t, upper) {
            (Test::Below(t) | Test::AtLeast(t), true) => x < t,
            (Test::AtMost(t) | Test::Above(t), true) => x <= t,
            (Test::Below(t) | Test::AtLeast(t), false) => x >= t,
            (Test::AtMost(t) | Test::Above(t), false) => x > t,
        })
}

/// The value of `q` in the target unit (`factor` maps a unit text to the multiplier), or
/// `Unknown`. A censored value is kept only when its bound decides every `test`.
pub(super) fn convert(
    q: &Quantity,
    factor: fn(&str) -> Option<f64>,
    tests: &[Test],
) -> Measured<f64> {
    let Some(f) = unit_texts(q).into_iter().flatten().find_map(factor) else {
        return Measured::Unknown;
    };
    convert_with(q, f, tests)
}

/// As `convert`, with the factor already known.
pub(super) fn convert_with(q: &Quantity, factor: f64, tests: &[Test]) -> Measured<f64> {
    let Some(x) = q
        .value
        .map(|v| v * factor)
        .filter(|x| x.is_finite() && *x >= 0.0)
    else {
        return Measured::Unknown;
    };
    match &q.comparator {
        None => Measured::Known(x),
        Some(c) if bound_is_decisive(*c, x, tests) => Measured::Known(x),
        Some(_) => Measured::Unknown,
    }
}

/// Lower case, micro signs as `u`, no whitespace.
fn squash(unit: &str) -> String {
    unit.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            'µ' | 'μ' => 'u',
            '^' => '*',
            '²' => '2',
            '³' => '3',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Remove `{…}` and `(…)` annotations (UCUM `{FEU}`, "(FEU)").
fn strip_annotations(unit: &str) -> String {
    let mut out = String::with_capacity(unit.len());
    let mut depth = 0usize;
    for c in unit.chars() {
        match c {
            '{' | '(' => depth += 1,
            '}' | ')' => depth = depth.saturating_sub(1),
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Mass per volume → ng/mL (exact SI ratios).
fn mass_per_volume_ng_ml(unit: &str) -> Option<f64> {
    let (mass, volume) = unit.split_once('/')?;
    let ng = match mass {
        "g" => 1e9,
        "mg" => 1e6,
        "ug" | "mcg" => 1e3,
        "ng" => 1.0,
        "pg" => 1e-3,
        _ => return None,
    };
    let ml = match volume {
        "l" => 1000.0,
        "dl" => 100.0,
        "ml" => 1.0,
        _ => return None,
    };
    Some(ng / ml)
}

/// D-dimer → ng/mL. The basis annotation (`{FEU}`, ` FEU`, ` DDU`) carries no meaning for
/// the number (terminology.md, Laboratory); the basis comes from the LOINC code.
pub(super) fn d_dimer_ng_ml(unit: &str) -> Option<f64> {
    let u = strip_annotations(&squash(unit))
        .replace("feu", "")
        .replace("ddu", "");
    mass_per_volume_ng_ml(&u)
}

/// eGFR → mL/min/1.73 m². The LOINC code already says the value is BSA-normalised, so a
/// bare `mL/min` label does not change the number.
pub(super) fn egfr(unit: &str) -> Option<f64> {
    let u: String = squash(unit)
        .chars()
        .filter(|c| !matches!(c, '{' | '}' | '_' | '*'))
        .collect();
    match u.as_str() {
        "ml/min/1.73m2" | "ml/min/1.73sqm" | "ml/min/1.73msq" | "ml/min" => Some(1.0),
        "ml/s/1.73m2" | "ml/s" => Some(60.0),
        _ => None,
    }
}

/// Creatinine clearance → mL/min (Cockcroft-Gault is not BSA-normalised: a /1.73 m² value
/// is another measure and stays unknown).
pub(super) fn creatinine_clearance(unit: &str) -> Option<f64> {
    match squash(unit).as_str() {
        "ml/min" => Some(1.0),
        "ml/s" => Some(60.0),
        _ => None,
    }
}

/// Platelets → 10⁹/L (= 10³/µL).
pub(super) fn platelets(unit: &str) -> Option<f64> {
    let u = squash(unit);
    let u = u.trim_start_matches(['x', '×']);
    match u {
        // `G/L` is giga per litre here (platelets are never grams).
        "10*9/l" | "10e9/l" | "10*3/ul" | "10e3/ul" | "10*3/mcl" | "10*3/mm3" | "10*6/ml"
        | "k/ul" | "k/mcl" | "thou/ul" | "/nl" | "1/nl" | "g/l" => Some(1.0),
        "/ul" | "/mm3" | "1/ul" | "cells/ul" | "/mcl" => Some(1e-3),
        _ => None,
    }
}

/// Haemoglobin → g/dL (terminology.md: g/L ÷ 10; mmol/L × 1.611).
pub(super) fn hemoglobin(unit: &str) -> Option<f64> {
    match squash(unit).as_str() {
        "g/dl" => Some(1.0),
        "g/l" => Some(0.1),
        "mmol/l" => Some(1.611),
        _ => None,
    }
}

/// Body weight → kg.
pub(super) fn body_weight(unit: &str) -> Option<f64> {
    match squash(unit).as_str() {
        "kg" => Some(1.0),
        "g" => Some(1e-3),
        "[lb_av]" | "lb" | "lbs" => Some(0.453_592_37),
        _ => None,
    }
}

/// Pain score 0–10 (LOINC 72514-3): unitless.
pub(super) fn pain_score(unit: &str) -> Option<f64> {
    match squash(unit).as_str() {
        "{score}" | "score" | "/10" | "{#}" | "1" => Some(1.0),
        _ => None,
    }
}

/// Thrombus length, distance → cm.
pub(super) fn centimetres(unit: &str) -> Option<f64> {
    match squash(unit).as_str() {
        "cm" => Some(1.0),
        "mm" => Some(0.1),
        _ => None,
    }
}

/// Thrombus diameter → mm.
pub(super) fn millimetres(unit: &str) -> Option<f64> {
    match squash(unit).as_str() {
        "mm" => Some(1.0),
        "cm" => Some(10.0),
        _ => None,
    }
}

/// A duration unit (UCUM code or common text) in days. A month is 30 days (3 mo = 90 d,
/// the rule book's 3 months), a year 365.
pub(super) fn days_per(unit: &str) -> Option<f64> {
    match unit.trim().to_ascii_lowercase().as_str() {
        "s" | "sec" | "second" | "seconds" => Some(1.0 / 86_400.0),
        "min" | "minute" | "minutes" => Some(1.0 / 1_440.0),
        "h" | "hr" | "hour" | "hours" => Some(1.0 / 24.0),
        "d" | "day" | "days" => Some(1.0),
        "wk" | "week" | "weeks" => Some(7.0),
        "mo" | "month" | "months" => Some(30.0),
        "a" | "yr" | "year" | "years" => Some(365.0),
        _ => None,
    }
}

/// A duration (`boundsDuration`, `expectedSupplyDuration`, a Range bound) in days: UCUM
/// `code`, else the `unit` text.
pub(super) fn duration_days(
    value: Option<f64>,
    code: Option<&str>,
    unit: Option<&str>,
) -> Option<f64> {
    let factor = [code, unit].into_iter().flatten().find_map(days_per)?;
    value
        .map(|v| v * factor)
        .filter(|d| d.is_finite() && *d >= 0.0)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    fn q(v: serde_json::Value) -> Quantity {
        Quantity::deserialize(&v).unwrap()
    }

    #[test]
    fn d_dimer_units() {
        for (unit, f) in [
            ("mg/L", 1000.0),
            ("mg/L{FEU}", 1000.0),
            ("mg/L FEU", 1000.0),
            ("ug/mL", 1000.0),
            ("µg/mL", 1000.0),
            ("μg/mL FEU", 1000.0),
            ("mcg/mL", 1000.0),
            ("ng/mL", 1.0),
            ("ng/mL DDU", 1.0),
            ("ng/mL{DDU}", 1.0),
            ("ug/L", 1.0),
            ("µg/L", 1.0),
            ("mg/dL", 10_000.0),
            ("ug FEU/mL", 1000.0),
            ("mg/l (FEU)", 1000.0),
        ] {
            assert_eq!(d_dimer_ng_ml(unit), Some(f), "{unit}");
        }
        for unit in ["", "U/L", "mg", "g/dl/x", "FEU", "mg/kg"] {
            assert_eq!(d_dimer_ng_ml(unit), None, "{unit}");
        }
    }

    #[test]
    fn renal_units() {
        for unit in [
            "mL/min/{1.73_m2}",
            "mL/min/1.73m2",
            "mL/min/1.73 m2",
            "ml/min/1.73m^2",
            "mL/min/1.73 m²",
        ] {
            assert_eq!(egfr(unit), Some(1.0), "{unit}");
        }
        assert_eq!(egfr("mL/s/1.73m2"), Some(60.0));
        assert_eq!(egfr("mg/dL"), None);
        assert_eq!(creatinine_clearance("mL/min"), Some(1.0));
        assert_eq!(creatinine_clearance("mL/min/{1.73_m2}"), None);
    }

    #[test]
    fn platelet_units() {
        for unit in [
            "10*9/L", "10*3/uL", "10^9/L", "10^3/µL", "K/uL", "/nL", "10*3/mm3", "x10^9/L",
        ] {
            assert_eq!(platelets(unit), Some(1.0), "{unit}");
        }
        assert_eq!(platelets("/uL"), Some(1e-3));
        assert_eq!(platelets("/mm3"), Some(1e-3));
        assert_eq!(platelets("%"), None);
    }

    #[test]
    fn hemoglobin_weight_pain_length_units() {
        assert_eq!(hemoglobin("g/dL"), Some(1.0));
        assert_eq!(hemoglobin("g/L"), Some(0.1));
        assert_eq!(hemoglobin("mmol/L"), Some(1.611));
        assert_eq!(hemoglobin("%"), None);
        assert_eq!(body_weight("kg"), Some(1.0));
        assert_eq!(body_weight("g"), Some(1e-3));
        assert_eq!(body_weight("[lb_av]"), Some(0.453_592_37));
        assert_eq!(body_weight("lb"), Some(0.453_592_37));
        assert_eq!(body_weight("stone"), None);
        assert_eq!(pain_score("{score}"), Some(1.0));
        assert_eq!(pain_score("mm"), None);
        assert_eq!(centimetres("mm"), Some(0.1));
        assert_eq!(centimetres("cm"), Some(1.0));
        assert_eq!(millimetres("cm"), Some(10.0));
        assert_eq!(millimetres("in"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(
            duration_days(Some(3.0), Some("mo"), Some("months")),
            Some(90.0)
        );
        assert_eq!(duration_days(Some(2.0), Some("wk"), None), Some(14.0));
        assert_eq!(duration_days(Some(1.0), Some("a"), None), Some(365.0));
        assert_eq!(duration_days(Some(48.0), Some("h"), None), Some(2.0));
        assert_eq!(duration_days(Some(7.0), None, Some("days")), Some(7.0));
        assert_eq!(
            duration_days(Some(7.0), Some("local-days"), Some("Days")),
            Some(7.0)
        );
        assert_eq!(duration_days(Some(7.0), Some("fortnight"), None), None);
        assert_eq!(duration_days(None, Some("d"), None), None);
        assert_eq!(duration_days(Some(-7.0), Some("d"), None), None);
    }

    #[test]
    fn unknown_unit_bad_numbers_are_unknown() {
        let t = [Test::Below(30.0)];
        assert_eq!(
            convert(&q(json!({"value": 45, "code": "furlongs"})), egfr, &t),
            Measured::Unknown
        );
        assert_eq!(
            convert(&q(json!({"value": 45})), egfr, &t),
            Measured::Unknown
        );
        assert_eq!(
            convert(&q(json!({"value": -1, "code": "mL/min"})), egfr, &t),
            Measured::Unknown
        );
        assert_eq!(
            convert(&q(json!({"code": "mL/min"})), egfr, &t),
            Measured::Unknown
        );
        // The code wins; a local code falls back to the unit text.
        assert_eq!(
            convert(
                &q(json!({"value": 45, "code": "GFR", "unit": "mL/min/1.73m2"})),
                egfr,
                &t
            ),
            Measured::Known(45.0)
        );
    }

    #[test]
    fn censored_values_kept_only_when_decisive() {
        let renal = [Test::Below(30.0), Test::Below(15.0)];
        assert_eq!(
            convert(
                &q(json!({"value": 60, "comparator": ">", "code": "mL/min/{1.73_m2}"})),
                egfr,
                &renal
            ),
            Measured::Known(60.0)
        );
        assert_eq!(
            convert(
                &q(json!({"value": 20, "comparator": ">", "code": "mL/min/{1.73_m2}"})),
                egfr,
                &renal
            ),
            Measured::Unknown
        );
        assert_eq!(
            convert(
                &q(json!({"value": 10, "comparator": "<", "code": "mL/min/{1.73_m2}"})),
                egfr,
                &renal
            ),
            Measured::Known(10.0)
        );
        // "<15": below 15, but the bound read as 15 would not be: unknown.
        assert_eq!(
            convert(
                &q(json!({"value": 15, "comparator": "<", "code": "mL/min/{1.73_m2}"})),
                egfr,
                &renal
            ),
            Measured::Unknown
        );
        // No test to decide (body weight doses drugs): unknown.
        assert_eq!(
            convert(
                &q(json!({"value": 150, "comparator": ">", "code": "kg"})),
                body_weight,
                &[]
            ),
            Measured::Unknown
        );
    }

    #[test]
    fn bound_decisiveness_table() {
        use QuantityComparator::*;
        // D-dimer "<270 ng/mL" against cutoff ≥ 500: negative either way.
        assert!(bound_is_decisive(Less, 270.0, &[Test::AtLeast(500.0)]));
        assert!(!bound_is_decisive(Less, 500.0, &[Test::AtLeast(500.0)]));
        assert!(bound_is_decisive(
            GreaterOrEqual,
            500.0,
            &[Test::AtLeast(500.0)]
        ));
        assert!(!bound_is_decisive(Greater, 400.0, &[Test::AtLeast(500.0)]));
        // Length > 5 cm.
        assert!(bound_is_decisive(LessOrEqual, 5.0, &[Test::Above(5.0)]));
        assert!(bound_is_decisive(Greater, 5.1, &[Test::Above(5.0)]));
        assert!(!bound_is_decisive(Greater, 5.0, &[Test::Above(5.0)]));
        // Distance ≤ 5 cm.
        assert!(bound_is_decisive(Less, 5.0, &[Test::AtMost(5.0)]));
        assert!(!bound_is_decisive(
            GreaterOrEqual,
            5.0,
            &[Test::AtMost(5.0)]
        ));
        assert!(!bound_is_decisive(Less, 1.0, &[]));
    }
}
