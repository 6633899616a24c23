//! The assessment: what the pure clinical core concludes, in the rule book's words.
//! Cards render it; nothing here knows about FHIR or HTTP.

use time::{Date, OffsetDateTime};

use crate::config::{Ingredient, RegimenId};

/// When guidance is asked for (the hook, in clinical terms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// order-select: guidance at selection, over the selected drafts.
    Selection,
    /// order-sign: the safety net, over all drafts.
    Signing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Indicator {
    Info,
    Warning,
    Critical,
}

/// The data behind a conclusion, shown on the card ("D-dimer 1.2 mg/L FEU", 2026-11-19).
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub what: String,
    pub when: Option<OffsetDateTime>,
}

impl Evidence {
    pub fn new(what: impl Into<String>, when: Option<OffsetDateTime>) -> Evidence {
        Evidence {
            what: what.into(),
            when,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Legs {
    Left,
    Right,
    Both,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VeinKind {
    /// gastrocnemius, soleal
    Muscular,
    /// posterior/anterior tibial, peroneal, tibioperoneal trunk
    Axial,
}

/// The acute isolated distal DVT the card is about (§1).
#[derive(Debug, Clone, PartialEq)]
pub struct IndexDvt {
    pub condition_id: Option<String>,
    pub label: Option<String>,
    /// onset, else recordedDate.
    pub date: OffsetDateTime,
    pub legs: Legs,
    /// Distinct named calf vein sites (SNOMED codes) with their kind.
    pub veins: Vec<(String, VeinKind)>,
    /// true when every named vein is gastrocnemius/soleal; false when an axial vein is named;
    /// `None` when no vein is named (§2).
    pub muscular_only: Option<bool>,
}

/// Why there is no stratification card.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    /// No acute isolated distal DVT Condition (§1): no card at all.
    NoIndexDvt,
    /// Proximal DVT, PE, or extension to the proximal veins (§1 "Not isolated").
    NotIsolated(Evidence),
    /// Therapeutic anticoagulant or follow-up duplex already ordered (§1 "Already managed").
    AlreadyManaged(Evidence),
    /// A draft already implements the plan (§1 "Draft orders that already implement a plan").
    PlanDrafted(Evidence),
    /// A stratification card is due.
    InScope,
}

/// §2, in the rule book's table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExtensionRiskFactor {
    ThrombusLength,
    MultipleVeins,
    ThrombusDiameter,
    NearProximalVeins,
    PositiveDDimer,
    Unprovoked,
    ActiveCancer,
    PriorVte,
    Inpatient,
    RecentSurgery,
    SevereSymptoms,
    Covid19,
}

impl ExtensionRiskFactor {
    pub const ALL: [ExtensionRiskFactor; 12] = [
        ExtensionRiskFactor::ThrombusLength,
        ExtensionRiskFactor::MultipleVeins,
        ExtensionRiskFactor::ThrombusDiameter,
        ExtensionRiskFactor::NearProximalVeins,
        ExtensionRiskFactor::PositiveDDimer,
        ExtensionRiskFactor::Unprovoked,
        ExtensionRiskFactor::ActiveCancer,
        ExtensionRiskFactor::PriorVte,
        ExtensionRiskFactor::Inpatient,
        ExtensionRiskFactor::RecentSurgery,
        ExtensionRiskFactor::SevereSymptoms,
        ExtensionRiskFactor::Covid19,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ExtensionRiskFactor::ThrombusLength => "thrombus-length",
            ExtensionRiskFactor::MultipleVeins => "multiple-veins",
            ExtensionRiskFactor::ThrombusDiameter => "thrombus-diameter",
            ExtensionRiskFactor::NearProximalVeins => "near-proximal-veins",
            ExtensionRiskFactor::PositiveDDimer => "positive-d-dimer",
            ExtensionRiskFactor::Unprovoked => "unprovoked",
            ExtensionRiskFactor::ActiveCancer => "active-cancer",
            ExtensionRiskFactor::PriorVte => "prior-vte",
            ExtensionRiskFactor::Inpatient => "inpatient",
            ExtensionRiskFactor::RecentSurgery => "recent-surgery",
            ExtensionRiskFactor::SevereSymptoms => "severe-symptoms",
            ExtensionRiskFactor::Covid19 => "covid-19",
        }
    }
}

/// Data the record lacks (`missingData` of the contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MissingData {
    DDimer,
    ThrombusLength,
    ThrombusDiameter,
    VeinsInvolved,
    DistanceToProximalVeins,
    Age,
    RenalFunction,
    Platelets,
    Hemoglobin,
    BodyWeight,
}

impl MissingData {
    pub fn code(self) -> &'static str {
        match self {
            MissingData::DDimer => "d-dimer",
            MissingData::ThrombusLength => "thrombus-length",
            MissingData::ThrombusDiameter => "thrombus-diameter",
            MissingData::VeinsInvolved => "veins-involved",
            MissingData::DistanceToProximalVeins => "distance-to-proximal-veins",
            MissingData::Age => "age",
            MissingData::RenalFunction => "renal-function",
            MissingData::Platelets => "platelets",
            MissingData::Hemoglobin => "hemoglobin",
            MissingData::BodyWeight => "body-weight",
        }
    }
}

/// Present / absent / unknown — unknown is never a silent "absent" (§2).
#[derive(Debug, Clone, PartialEq)]
pub enum Presence {
    Present(Vec<Evidence>),
    Absent(Vec<Evidence>),
    Unknown(MissingData),
}

impl Presence {
    pub fn is_present(&self) -> bool {
        matches!(self, Presence::Present(_))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FactorFinding {
    pub factor: ExtensionRiskFactor,
    pub presence: Presence,
}

/// §3 CHEST 2016 bleeding risk factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BleedingFactor {
    AgeOver65,
    AgeOver75,
    PreviousBleeding,
    Cancer,
    MetastaticCancer,
    RenalFailure,
    LiverFailure,
    Thrombocytopenia,
    PreviousStroke,
    Diabetes,
    Anemia,
    AntiplateletTherapy,
    RecentSurgery,
    FrequentFalls,
    AlcoholAbuse,
    NsaidTherapy,
}

impl BleedingFactor {
    pub fn code(self) -> &'static str {
        match self {
            BleedingFactor::AgeOver65 => "age-over-65",
            BleedingFactor::AgeOver75 => "age-over-75",
            BleedingFactor::PreviousBleeding => "previous-bleeding",
            BleedingFactor::Cancer => "cancer",
            BleedingFactor::MetastaticCancer => "metastatic-cancer",
            BleedingFactor::RenalFailure => "renal-failure",
            BleedingFactor::LiverFailure => "liver-failure",
            BleedingFactor::Thrombocytopenia => "thrombocytopenia",
            BleedingFactor::PreviousStroke => "previous-stroke",
            BleedingFactor::Diabetes => "diabetes",
            BleedingFactor::Anemia => "anemia",
            BleedingFactor::AntiplateletTherapy => "antiplatelet-therapy",
            BleedingFactor::RecentSurgery => "recent-surgery",
            BleedingFactor::FrequentFalls => "frequent-falls",
            BleedingFactor::AlcoholAbuse => "alcohol-abuse",
            BleedingFactor::NsaidTherapy => "nsaid-therapy",
        }
    }

    /// age-over-75 counts 2 (it also meets "age > 65"); every other factor 1.
    pub fn points(self) -> u32 {
        if self == BleedingFactor::AgeOver75 {
            2
        } else {
            1
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BleedingRisk {
    Low,
    Moderate,
    High,
}

impl BleedingRisk {
    pub fn code(self) -> &'static str {
        match self {
            BleedingRisk::Low => "low",
            BleedingRisk::Moderate => "moderate",
            BleedingRisk::High => "high",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BleedingAssessment {
    pub factors: Vec<(BleedingFactor, Evidence)>,
    pub score: u32,
    pub category: BleedingRisk,
    /// Data gaps for bleeding factors: the category is "at least" this.
    pub missing: Vec<MissingData>,
    /// Estimated major bleeding in the first 3 months for the category (percent).
    pub estimated_major_bleeding_percent: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recommendation {
    SerialImaging,
    Anticoagulate,
    Individualize,
}

impl Recommendation {
    pub fn code(self) -> &'static str {
        match self {
            Recommendation::SerialImaging => "serial-imaging",
            Recommendation::Anticoagulate => "anticoagulate",
            Recommendation::Individualize => "individualize",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SpecialPopulation {
    Pregnancy,
    Postpartum,
    ActiveCancer,
    RenalImpairment,
    SevereRenalImpairment,
}

impl SpecialPopulation {
    pub fn code(self) -> &'static str {
        match self {
            SpecialPopulation::Pregnancy => "pregnancy",
            SpecialPopulation::Postpartum => "postpartum",
            SpecialPopulation::ActiveCancer => "active-cancer",
            SpecialPopulation::RenalImpairment => "renal-impairment",
            SpecialPopulation::SevereRenalImpairment => "severe-renal-impairment",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProgressionModifier {
    EndStageRenalDisease,
    PriorStroke,
}

impl ProgressionModifier {
    pub fn code(self) -> &'static str {
        match self {
            ProgressionModifier::EndStageRenalDisease => "end-stage-renal-disease",
            ProgressionModifier::PriorStroke => "prior-stroke",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AgeFact {
    /// Completed years; `at_least` when the birthDate is partial (youngest possible age).
    Known {
        years: u32,
        at_least: bool,
    },
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenalSource {
    /// Cockcroft-Gault creatinine clearance (DOAC labels use it).
    CreatinineClearance,
    Egfr,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RenalFunction {
    Measured {
        ml_min: f64,
        source: RenalSource,
        when: Option<OffsetDateTime>,
    },
    /// Active ESRD or dialysis Condition: < 15 without a lab (§4 Renal function).
    EsrdOrDialysis(Evidence),
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenalClass {
    /// ≥ 30 (or unknown).
    Adequate,
    /// < 30.
    Impaired,
    /// < 15 or dialysis.
    Severe,
}

/// The follow-up duplex orders of serial imaging (§4).
#[derive(Debug, Clone, PartialEq)]
pub struct ImagingPlan {
    pub legs: Legs,
    pub first_due: Date,
    pub second_due: Date,
}

/// One drafted regimen (§4).
#[derive(Debug, Clone, PartialEq)]
pub struct RegimenChoice {
    pub regimen: RegimenId,
    pub ingredient: Ingredient,
    pub recommended: bool,
    /// Renal function < 30: the renal phases (enoxaparin once daily).
    pub renal_adjusted: bool,
    /// Latest body weight (kg) for per-kg doses; `None` → dose stated per kg.
    pub weight_kg: Option<f64>,
    pub duration: TreatmentDuration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreatmentDuration {
    /// 3 months.
    ThreeMonths,
    /// Until delivery, then ≥ 6 weeks postpartum, ≥ 3 months in total (drafted as 3 months).
    Pregnancy,
    /// ≥ 3 months; consider extended therapy while the cancer is active.
    ActiveCancer,
}

/// Statements the card must make, beyond the factors (§2–§4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Note {
    /// Pregnancy: D-dimer rises physiologically.
    PregnancyDDimer,
    /// Pregnancy, serial imaging: LMWH anticoagulation is a reasonable alternative.
    PregnancyLmwhAlternative,
    /// Pregnancy: only LMWH; never a DOAC or warfarin.
    PregnancyLmwhOnly,
    /// Postpartum: LMWH or warfarin; no DOAC while breastfeeding status is unknown.
    PostpartumNoDoac,
    /// Active cancer: LMWH recommended, apixaban an alternative; consider extended therapy.
    CancerRegimen,
    /// Renal < 30: no rivaroxaban/edoxaban/dabigatran; enoxaparin once daily.
    RenalImpairedRegimen,
    /// Renal < 15 or dialysis: no DOAC, no LMWH: warfarin with UFH bridging.
    RenalSevereRegimen,
    /// ESRD / stroke: closer monitoring, lower threshold for anticoagulation.
    CloserMonitoring,
    /// order-select: serial imaging stays beside a selected anticoagulant, an acceptable alternative.
    AnticoagulantSelectedIsAlternative,
    /// Poor anticoagulant control and reduced functional capacity are not scored.
    UnscoredBleedingFactors,
    /// Unprovoked is derived from the absence of a recorded provoking factor.
    UnprovokedDerived,
}

/// A stratification card's content (§2–§4, §6).
#[derive(Debug, Clone, PartialEq)]
pub struct Stratification {
    pub index: IndexDvt,
    /// All 12 factors in table order.
    pub factors: Vec<FactorFinding>,
    pub bleeding: BleedingAssessment,
    pub recommendation: Recommendation,
    pub indicator: Indicator,
    pub special_populations: Vec<SpecialPopulation>,
    pub progression_modifiers: Vec<ProgressionModifier>,
    /// Sorted, unique: extension-factor unknowns, bleeding data gaps, body-weight.
    pub missing_data: Vec<MissingData>,
    pub age: AgeFact,
    pub renal: RenalFunction,
    pub weight: Option<(f64, Option<OffsetDateTime>)>,
    /// Serial imaging and individualize.
    pub imaging: Option<ImagingPlan>,
    /// Anticoagulate and individualize (first recommended for anticoagulate only).
    pub regimens: Vec<RegimenChoice>,
    pub notes: Vec<Note>,
    /// Resources that could not be read or sources the EHR had no data for, named on the card.
    pub data_gaps: Vec<String>,
}

/// §5 order-safety checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SafetyCheck {
    PregnancyAnticoagulant,
    RenalDoac,
    DuplicateAnticoagulant,
    ShortDuration,
}

impl SafetyCheck {
    pub fn code(self) -> &'static str {
        match self {
            SafetyCheck::PregnancyAnticoagulant => "pregnancy-anticoagulant",
            SafetyCheck::RenalDoac => "renal-doac",
            SafetyCheck::DuplicateAnticoagulant => "duplicate-anticoagulant",
            SafetyCheck::ShortDuration => "short-duration",
        }
    }
}

/// What the card proposes to fix an unsafe draft.
#[derive(Debug, Clone, PartialEq)]
pub enum SafetyFix {
    /// Delete the drafts (references) and create this regimen instead.
    Replace {
        delete: Vec<String>,
        with: RegimenChoice,
    },
    /// Update the drafts (references) to a total duration of this many days.
    ExtendDuration {
        orders: Vec<String>,
        days: i64,
    },
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SafetyFinding {
    pub check: SafetyCheck,
    pub indicator: Indicator,
    /// `MedicationRequest/<id>` of the drafts concerned.
    pub orders: Vec<String>,
    /// The ingredients of those drafts.
    pub drafted: Vec<Ingredient>,
    /// duplicate-anticoagulant: the other anticoagulants (active or drafted).
    pub related: Vec<Ingredient>,
    /// One line per order or fact behind the finding (shown in the detail).
    pub evidence: Vec<Evidence>,
    pub fix: SafetyFix,
}

/// The whole assessment of one hook call.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub ruleset_version: String,
    pub moment: Moment,
    pub scope: Scope,
    /// The index DVT Condition's id, whenever there is an index DVT (safety cards cite it).
    pub index_condition_id: Option<String>,
    /// Set only when `scope` is `InScope`.
    pub stratification: Option<Stratification>,
    /// Order-safety findings (run whenever an index-DVT Condition exists).
    pub safety: Vec<SafetyFinding>,
}
