//! `thresholds.toml`: every number the rule book leaves to the site, and every window.

use std::path::Path;

use serde::Deserialize;

use super::{ConfigError, read_toml};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Thresholds {
    pub ruleset_version: String,
    pub extension: ExtensionThresholds,
    pub bleeding: BleedingThresholds,
    pub windows: Windows,
    pub renal: RenalThresholds,
    pub follow_up: FollowUp,
}

/// §2 extension risk factors.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ExtensionThresholds {
    /// present when length > this (cm).
    pub thrombus_length_cm: f64,
    /// present when maximum diameter > this (mm).
    pub thrombus_diameter_mm: f64,
    /// present when distance to the proximal veins ≤ this (cm).
    pub near_proximal_distance_cm: f64,
    /// present when ≥ this many distinct calf veins are involved.
    pub multiple_veins_count: u32,
    /// D-dimer cutoffs (value ≥ cutoff is positive), ng/mL.
    pub d_dimer_feu_cutoff_ng_ml: f64,
    pub d_dimer_ddu_cutoff_ng_ml: f64,
    /// pain score (0–10) at or above this is severe.
    pub severe_pain_score: f64,
}

/// §3 bleeding risk.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BleedingThresholds {
    /// age (completed years) above which `age-over-65` counts (66–75 → 1 point).
    pub age_over: u32,
    /// age above which `age-over-75` counts 2 (≥ 76).
    pub age_high_over: u32,
    pub platelets_below_10e9_l: f64,
    pub hemoglobin_below_g_dl: f64,
    /// `renal-failure` below this eGFR / CrCl.
    pub renal_failure_below_ml_min: f64,
    /// Estimated major bleeding in the first 3 months, by category (percent), stated on the card.
    pub low_percent: f64,
    pub moderate_percent: f64,
    pub high_percent: f64,
}

/// Look-back windows, in days (`[now − N days, now]`, inclusive) — §0.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Windows {
    pub clock_skew_hours: i64,
    pub surgery_days: i64,
    pub hospital_stay_days: i64,
    pub covid_days: i64,
    pub lower_limb_injury_days: i64,
    pub pain_days: i64,
    pub postpartum_days: i64,
    pub pregnancy_status_days: i64,
    pub platelets_days: i64,
    pub hemoglobin_days: i64,
    pub renal_days: i64,
    pub weight_days: i64,
    /// findings and D-dimer count from this many days before the index date.
    pub before_index_days: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RenalThresholds {
    /// `renal-impairment` special population below this (mL/min).
    pub impairment_below: f64,
    /// `severe-renal-impairment` / `end-stage-renal-disease` below this.
    pub severe_below: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FollowUp {
    /// A duplex order due ≥ index + this many days is follow-up (already managed).
    pub min_days_after_index: i64,
    /// Serial imaging: due dates index + these days.
    pub first_scan_days: i64,
    pub second_scan_days: i64,
    /// minimum gap between the two scans (days).
    pub min_gap_days: i64,
    /// total anticoagulation duration, days (3 months); `short-duration` fires below it.
    pub treatment_days: i64,
}

pub(super) fn load(file: &Path) -> Result<Thresholds, ConfigError> {
    let t: Thresholds = read_toml(file)?;
    let positive = [
        (
            "extension.thrombus-length-cm",
            t.extension.thrombus_length_cm,
        ),
        (
            "extension.thrombus-diameter-mm",
            t.extension.thrombus_diameter_mm,
        ),
        (
            "extension.near-proximal-distance-cm",
            t.extension.near_proximal_distance_cm,
        ),
        (
            "extension.d-dimer-feu-cutoff-ng-ml",
            t.extension.d_dimer_feu_cutoff_ng_ml,
        ),
        (
            "extension.d-dimer-ddu-cutoff-ng-ml",
            t.extension.d_dimer_ddu_cutoff_ng_ml,
        ),
        (
            "bleeding.platelets-below-10e9-l",
            t.bleeding.platelets_below_10e9_l,
        ),
        (
            "bleeding.hemoglobin-below-g-dl",
            t.bleeding.hemoglobin_below_g_dl,
        ),
        (
            "bleeding.renal-failure-below-ml-min",
            t.bleeding.renal_failure_below_ml_min,
        ),
        ("renal.impairment-below", t.renal.impairment_below),
        ("renal.severe-below", t.renal.severe_below),
    ];
    for (field, v) in positive {
        if !(v.is_finite() && v > 0.0) {
            return Err(ConfigError::invalid(
                file,
                field,
                "must be a positive number",
            ));
        }
    }
    if t.renal.severe_below >= t.renal.impairment_below {
        return Err(ConfigError::invalid(
            file,
            "renal.severe-below",
            "must be below renal.impairment-below",
        ));
    }
    if t.bleeding.age_high_over <= t.bleeding.age_over {
        return Err(ConfigError::invalid(
            file,
            "bleeding.age-high-over",
            "must be above bleeding.age-over",
        ));
    }
    let w = &t.windows;
    for (field, v) in [
        ("windows.surgery-days", w.surgery_days),
        ("windows.hospital-stay-days", w.hospital_stay_days),
        ("windows.covid-days", w.covid_days),
        ("windows.lower-limb-injury-days", w.lower_limb_injury_days),
        ("windows.pain-days", w.pain_days),
        ("windows.postpartum-days", w.postpartum_days),
        ("windows.pregnancy-status-days", w.pregnancy_status_days),
        ("windows.platelets-days", w.platelets_days),
        ("windows.hemoglobin-days", w.hemoglobin_days),
        ("windows.renal-days", w.renal_days),
        ("windows.weight-days", w.weight_days),
        ("windows.before-index-days", w.before_index_days),
        ("windows.clock-skew-hours", w.clock_skew_hours),
        ("follow-up.treatment-days", t.follow_up.treatment_days),
        ("follow-up.first-scan-days", t.follow_up.first_scan_days),
        ("follow-up.second-scan-days", t.follow_up.second_scan_days),
    ] {
        if !(0..=36500).contains(&v) {
            return Err(ConfigError::invalid(
                file,
                field,
                "must be between 0 and 36500",
            ));
        }
    }
    if t.ruleset_version.is_empty() {
        return Err(ConfigError::invalid(
            file,
            "ruleset-version",
            "must not be empty",
        ));
    }
    Ok(t)
}
