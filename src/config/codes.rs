//! `value-sets.toml`: value sets (conditions, procedures, body sites, answers), laboratory
//! codes, ultrasound-finding code maps and follow-up duplex codes, loaded into hash lookups.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::Deserialize;

use super::{ConfigError, read_toml};

pub const ICD10CM: &str = "http://hl7.org/fhir/sid/icd-10-cm";
pub const SNOMED: &str = "http://snomed.info/sct";
pub const LOINC: &str = "http://loinc.org";
pub const CPT: &str = "http://www.ama-assn.org/go/cpt";
pub const FINDING_SYSTEM: &str = "https://fhir.distal-dvt-cds.org/CodeSystem/ultrasound-finding";

/// A coded value, with the system as sent (compared exactly) and the code as sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Code {
    pub system: String,
    pub code: String,
    pub display: Option<String>,
}

impl Code {
    pub fn new(system: &str, code: &str) -> Code {
        Code {
            system: system.to_owned(),
            code: code.to_owned(),
            display: None,
        }
    }
}

/// ICD-10-CM codes compare without the dot and case: `I82.461` = `I82461` = `i82.461`.
fn normalize_icd(code: &str) -> String {
    code.trim()
        .chars()
        .filter(|c| *c != '.')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Every value set the rule book names (`terminology.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ValueSetId {
    /// Distal DVT codes (index DVT by code alone).
    Distal,
    /// Lower-limb DVT codes that need distal-only sites (I82.40, I82.49, SNOMED DVT concepts).
    Ambiguous,
    Proximal,
    PulmonaryEmbolism,
    ChronicDvt,
    VteHistory,
    ActiveCancer,
    MetastaticCancer,
    #[serde(rename = "covid-19")]
    Covid19,
    Pregnancy,
    Delivery,
    EndStageRenalDisease,
    #[serde(rename = "ckd-stage-4-5")]
    CkdStage45,
    Stroke,
    PreviousBleeding,
    LiverFailure,
    Thrombocytopenia,
    Anemia,
    Diabetes,
    AlcoholAbuse,
    FrequentFalls,
    BedConfinement,
    LowerLimbInjury,
    ReducedMobility,
    Dialysis,
    SurgicalProcedure,
    VeinDistalMuscular,
    VeinDistalAxial,
    VeinProximal,
    VeinSuperficial,
    LateralityRight,
    LateralityLeft,
    LateralityBoth,
    /// Condition severity "severe".
    SevereSeverity,
    /// Pregnancy-status answer "pregnant".
    PregnantAnswer,
    PositiveResult,
    NegativeResult,
}

pub const ALL_VALUE_SETS: [ValueSetId; 37] = [
    ValueSetId::Distal,
    ValueSetId::Ambiguous,
    ValueSetId::Proximal,
    ValueSetId::PulmonaryEmbolism,
    ValueSetId::ChronicDvt,
    ValueSetId::VteHistory,
    ValueSetId::ActiveCancer,
    ValueSetId::MetastaticCancer,
    ValueSetId::Covid19,
    ValueSetId::Pregnancy,
    ValueSetId::Delivery,
    ValueSetId::EndStageRenalDisease,
    ValueSetId::CkdStage45,
    ValueSetId::Stroke,
    ValueSetId::PreviousBleeding,
    ValueSetId::LiverFailure,
    ValueSetId::Thrombocytopenia,
    ValueSetId::Anemia,
    ValueSetId::Diabetes,
    ValueSetId::AlcoholAbuse,
    ValueSetId::FrequentFalls,
    ValueSetId::BedConfinement,
    ValueSetId::LowerLimbInjury,
    ValueSetId::ReducedMobility,
    ValueSetId::Dialysis,
    ValueSetId::SurgicalProcedure,
    ValueSetId::VeinDistalMuscular,
    ValueSetId::VeinDistalAxial,
    ValueSetId::VeinProximal,
    ValueSetId::VeinSuperficial,
    ValueSetId::LateralityRight,
    ValueSetId::LateralityLeft,
    ValueSetId::LateralityBoth,
    ValueSetId::SevereSeverity,
    ValueSetId::PregnantAnswer,
    ValueSetId::PositiveResult,
    ValueSetId::NegativeResult,
];

/// One value set: exact codes, ICD-10-CM prefixes and 3-character category ranges, exclusions.
#[derive(Debug, Clone, Default)]
pub struct CodeMatcher {
    exact: HashSet<(String, String)>,
    icd_prefixes: Vec<String>,
    /// inclusive ranges compared on the code's first `lo.len()` characters (ICD categories, CPT).
    ranges: Vec<(String, String, String)>,
    icd_excluded_prefixes: Vec<String>,
}

impl CodeMatcher {
    pub fn matches(&self, system: &str, code: &str) -> bool {
        if system == ICD10CM {
            let c = normalize_icd(code);
            if self
                .icd_excluded_prefixes
                .iter()
                .any(|p| c.starts_with(p.as_str()))
            {
                return false;
            }
            if self.icd_prefixes.iter().any(|p| c.starts_with(p.as_str())) {
                return true;
            }
            return self.in_range(system, &c);
        }
        self.exact
            .contains(&(system.to_owned(), code.trim().to_owned()))
            || self.in_range(system, code.trim())
    }

    fn in_range(&self, system: &str, code: &str) -> bool {
        self.ranges.iter().any(|(s, lo, hi)| {
            // `get` rather than slicing: a non-ASCII code must not split a character.
            s == system
                && code
                    .get(..lo.len())
                    .is_some_and(|head| head >= lo.as_str() && head <= hi.as_str())
        })
    }

    pub fn matches_any<'a>(&self, codes: impl IntoIterator<Item = &'a Code>) -> bool {
        codes.into_iter().any(|c| self.matches(&c.system, &c.code))
    }
}

#[derive(Debug, Clone)]
pub struct ValueSets {
    sets: HashMap<ValueSetId, CodeMatcher>,
}

impl ValueSets {
    pub fn get(&self, id: ValueSetId) -> &CodeMatcher {
        // Every id is loaded (checked at start-up), so the index never fails.
        &self.sets[&id]
    }

    pub fn contains(&self, id: ValueSetId, code: &Code) -> bool {
        self.get(id).matches(&code.system, &code.code)
    }

    pub fn any(&self, id: ValueSetId, codes: &[Code]) -> bool {
        self.get(id).matches_any(codes)
    }
}

/// Laboratory observations the rules read (`terminology.md`, Laboratory).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LabKind {
    DDimerFeu,
    DDimerDdu,
    DDimerUnknownBasis,
    DDimerQualitative,
    Egfr,
    CreatinineClearance,
    Platelets,
    Hemoglobin,
    BodyWeight,
    PainSeverity,
    PregnancyStatus,
    SarsCov2,
}

#[derive(Debug, Clone)]
pub struct LabCodes {
    by_code: HashMap<(String, String), LabKind>,
}

impl LabCodes {
    pub fn kind(&self, system: &str, code: &str) -> Option<LabKind> {
        self.by_code
            .get(&(system.to_owned(), code.trim().to_owned()))
            .copied()
    }
}

/// Ultrasound findings (`cds-contract.md`, "Ultrasound findings as FHIR Observations").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UltrasoundFindingKind {
    ThrombusLength,
    ThrombusDiameter,
    VeinsInvolved,
    VeinInvolved,
    DistanceToProximalVeins,
    NearProximalVeins,
    ExtendsToProximalVeins,
}

#[derive(Debug, Clone)]
pub struct FindingCodes {
    by_code: HashMap<(String, String), UltrasoundFindingKind>,
}

impl FindingCodes {
    pub fn kind(&self, system: &str, code: &str) -> Option<UltrasoundFindingKind> {
        self.by_code
            .get(&(system.to_owned(), code.trim().to_owned()))
            .copied()
    }
}

/// Venous duplex codes: any of them recognises a duplex ServiceRequest; the first of each
/// list is used when drafting one.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DuplexCodes {
    pub unilateral_loinc: String,
    pub bilateral_loinc: String,
    pub unilateral_cpt: String,
    pub bilateral_cpt: String,
    #[serde(default)]
    pub other: Vec<LocalCode>,
}

impl DuplexCodes {
    pub fn is_duplex(&self, code: &Code) -> bool {
        let c = code.code.trim();
        (code.system == LOINC && (c == self.unilateral_loinc || c == self.bilateral_loinc))
            || (code.system == CPT && (c == self.unilateral_cpt || c == self.bilateral_cpt))
            || self
                .other
                .iter()
                .any(|o| o.system == code.system && o.code == c)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalCode {
    pub system: String,
    pub code: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct File {
    value_set: HashMap<ValueSetId, RawValueSet>,
    labs: HashMap<LabKind, Vec<String>>,
    #[serde(default)]
    local_labs: Vec<LocalMapping<LabKind>>,
    #[serde(default)]
    finding_map: Vec<LocalMapping<UltrasoundFindingKind>>,
    duplex: DuplexCodes,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LocalMapping<K> {
    system: String,
    code: String,
    kind: K,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawValueSet {
    /// ICD-10-CM prefixes (`I82.46` matches I82.461 … I82.469).
    #[serde(default)]
    icd10cm: Vec<String>,
    /// ICD-10-CM 3-character category ranges, inclusive (`["C00", "C96"]`).
    #[serde(default)]
    icd10cm_ranges: Vec<[String; 2]>,
    #[serde(default)]
    icd10cm_exclude: Vec<String>,
    #[serde(default)]
    snomed: Vec<String>,
    /// CPT ranges, inclusive (`["10000", "69999"]`).
    #[serde(default)]
    cpt_ranges: Vec<[String; 2]>,
    /// Local or other codes: exact match on (system, code).
    #[serde(default)]
    local: Vec<LocalCode>,
}

pub(super) type Loaded = (ValueSets, LabCodes, FindingCodes, DuplexCodes);

pub(super) fn load(file: &Path) -> Result<Loaded, ConfigError> {
    let raw: File = read_toml(file)?;
    let mut sets = HashMap::new();
    for id in ALL_VALUE_SETS {
        let Some(v) = raw.value_set.get(&id) else {
            return Err(ConfigError::invalid(
                file,
                "value-set",
                format!("value set {id:?} is missing"),
            ));
        };
        let mut m = CodeMatcher::default();
        for p in &v.icd10cm {
            m.icd_prefixes.push(normalize_icd(p));
        }
        for [lo, hi] in &v.icd10cm_ranges {
            let (lo, hi) = (normalize_icd(lo), normalize_icd(hi));
            if lo.len() != hi.len() || lo > hi {
                return Err(ConfigError::invalid(
                    file,
                    "icd10cm-ranges",
                    format!("bad range {lo}–{hi}"),
                ));
            }
            m.ranges.push((ICD10CM.to_owned(), lo, hi));
        }
        for p in &v.icd10cm_exclude {
            m.icd_excluded_prefixes.push(normalize_icd(p));
        }
        for c in &v.snomed {
            m.exact.insert((SNOMED.to_owned(), c.trim().to_owned()));
        }
        for [lo, hi] in &v.cpt_ranges {
            if lo.len() != hi.len() || lo > hi {
                return Err(ConfigError::invalid(
                    file,
                    "cpt-ranges",
                    format!("bad range {lo}–{hi}"),
                ));
            }
            m.ranges.push((CPT.to_owned(), lo.clone(), hi.clone()));
        }
        for l in &v.local {
            m.exact.insert((l.system.clone(), l.code.trim().to_owned()));
        }
        sets.insert(id, m);
    }
    let mut labs = HashMap::new();
    for (kind, codes) in &raw.labs {
        for c in codes {
            labs.insert((LOINC.to_owned(), c.trim().to_owned()), *kind);
        }
    }
    for l in &raw.local_labs {
        labs.insert((l.system.clone(), l.code.trim().to_owned()), l.kind);
    }
    let mut findings = HashMap::new();
    for (code, kind) in [
        ("thrombus-length", UltrasoundFindingKind::ThrombusLength),
        ("thrombus-diameter", UltrasoundFindingKind::ThrombusDiameter),
        ("veins-involved", UltrasoundFindingKind::VeinsInvolved),
        ("vein-involved", UltrasoundFindingKind::VeinInvolved),
        (
            "distance-to-proximal-veins",
            UltrasoundFindingKind::DistanceToProximalVeins,
        ),
        (
            "near-proximal-veins",
            UltrasoundFindingKind::NearProximalVeins,
        ),
        (
            "extends-to-proximal-veins",
            UltrasoundFindingKind::ExtendsToProximalVeins,
        ),
    ] {
        findings.insert((FINDING_SYSTEM.to_owned(), code.to_owned()), kind);
    }
    for l in &raw.finding_map {
        findings.insert((l.system.clone(), l.code.trim().to_owned()), l.kind);
    }
    Ok((
        ValueSets { sets },
        LabCodes { by_code: labs },
        FindingCodes { by_code: findings },
        raw.duplex,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(prefixes: &[&str], ranges: &[(&str, &str)], exclude: &[&str]) -> CodeMatcher {
        CodeMatcher {
            icd_prefixes: prefixes.iter().map(|p| normalize_icd(p)).collect(),
            ranges: ranges
                .iter()
                .map(|(l, h)| (ICD10CM.to_owned(), l.to_string(), h.to_string()))
                .collect(),
            icd_excluded_prefixes: exclude.iter().map(|p| normalize_icd(p)).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn icd_prefix_ignores_dot_and_case() {
        let m = matcher(&["I82.46"], &[], &[]);
        assert!(m.matches(ICD10CM, "I82.461"));
        assert!(m.matches(ICD10CM, "I82461"));
        assert!(m.matches(ICD10CM, "i82.469"));
        assert!(!m.matches(ICD10CM, "I82.41"));
        assert!(!m.matches(SNOMED, "I82.461"));
    }

    #[test]
    fn icd_ranges_and_exclusions() {
        let m = matcher(&[], &[("C00", "C96")], &["C44"]);
        assert!(m.matches(ICD10CM, "C50.911"));
        assert!(m.matches(ICD10CM, "C96.0"));
        assert!(!m.matches(ICD10CM, "C97"));
        assert!(!m.matches(ICD10CM, "C44.91"));
        assert!(!m.matches(ICD10CM, "D05.1"));
        // Non-ASCII codes never panic.
        assert!(!m.matches(ICD10CM, "éé"));
        assert!(!m.matches(ICD10CM, "Cé"));
        let preg = matcher(&[], &[("O00", "O9A")], &["O80"]);
        assert!(preg.matches(ICD10CM, "O9A.111"));
        assert!(preg.matches(ICD10CM, "O26.891"));
        assert!(!preg.matches(ICD10CM, "O80"));
    }
}
