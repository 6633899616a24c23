//! Facts: the patient's record and the hook's draft orders as plain domain values.
//!
//! Arrow: prefetch → **facts**. `extract` reads FHIR R4 JSON with the fhir-sdk `r4b` models,
//! one resource at a time: a resource that cannot be read becomes an `UnreadableResource`
//! (its own facts are unknown) and never sinks the request. Units are converted here, with
//! care; a unit we cannot convert makes the value `Measured::Unknown`, never a guess.
//! No FHIR types leave this module.

mod extract;

pub use extract::{ExtractInput, extract};

use time::{Date, Month, OffsetDateTime};

pub use crate::config::Code;
use crate::config::{Ingredient, LabKind, UltrasoundFindingKind};

/// Everything the clinical core may read about one patient, for one hook call.
#[derive(Debug, Clone, Default)]
pub struct PatientFacts {
    /// `None` when the Patient resource is missing, `null` or unreadable.
    pub patient: Option<PatientFact>,
    pub conditions: Vec<ConditionFact>,
    pub observations: Vec<ObservationFact>,
    /// MedicationRequests on record (prefetch `medications`).
    pub medications: Vec<MedicationOrderFact>,
    pub encounters: Vec<EncounterFact>,
    pub procedures: Vec<ProcedureFact>,
    /// ServiceRequests on record (prefetch `serviceRequests`).
    pub service_requests: Vec<ServiceRequestFact>,
    /// The hook's `context.draftOrders`, with `selected` set from `context.selections`.
    pub draft_orders: Vec<DraftOrder>,
    /// `context.encounterId`.
    pub context_encounter_id: Option<String>,
    /// Prefetch keys the EHR answered with `null`.
    pub unavailable_sources: Vec<DataSource>,
    /// Absent prefetch keys the fallback fetch from `fhirServer` could not deliver, or
    /// delivered only in part (see [`FetchGap`]).
    pub fetch_gaps: Vec<FetchGap>,
    /// Resources that could not be read, by type (their facts are unknown).
    pub unreadable: Vec<UnreadableResource>,
    /// Bundle entries skipped as OperationOutcome / `search.mode = outcome`.
    pub skipped_outcomes: usize,
}

/// A prefetch key, as a source of facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataSource {
    Patient,
    Conditions,
    Observations,
    Medications,
    Encounters,
    Procedures,
    ServiceRequests,
}

impl DataSource {
    pub const ALL: [DataSource; 7] = [
        DataSource::Patient,
        DataSource::Conditions,
        DataSource::Observations,
        DataSource::Medications,
        DataSource::Encounters,
        DataSource::Procedures,
        DataSource::ServiceRequests,
    ];

    /// The contract's prefetch key.
    pub fn key(self) -> &'static str {
        match self {
            DataSource::Patient => "patient",
            DataSource::Conditions => "conditions",
            DataSource::Observations => "observations",
            DataSource::Medications => "medications",
            DataSource::Encounters => "encounters",
            DataSource::Procedures => "procedures",
            DataSource::ServiceRequests => "serviceRequests",
        }
    }

    pub fn from_key(key: &str) -> Option<DataSource> {
        DataSource::ALL.into_iter().find(|s| s.key() == key)
    }
}

/// An absent prefetch key the fallback fetch from `fhirServer` could not deliver in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchGap {
    pub source: DataSource,
    pub problem: FetchProblem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchProblem {
    /// Nothing was fetched: the key's facts are unknown.
    Failed(FetchFailure),
    /// Some pages were fetched and are used; the rest were not.
    Incomplete(FetchShortfall),
}

/// Why a key could not be fetched. A bounded set: `code()` is a metrics label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FetchFailure {
    /// HTTP 401 or 403: the access token was refused (or there was none).
    Unauthorized,
    /// HTTP 404 or 410.
    NotFound,
    /// Any other non-2xx status.
    HttpError,
    /// One request took longer than the per-request timeout.
    Timeout,
    /// The overall time budget ran out.
    BudgetExhausted,
    /// No connection (refused, DNS, TLS).
    Unreachable,
    /// The answer was not a FHIR resource or Bundle (or was an OperationOutcome, or too large).
    InvalidBody,
    /// The prefetch template has a token the hook context cannot fill.
    UnfillableTemplate,
    /// `fhirServer` is not an http(s) URL.
    InvalidServerUrl,
}

impl FetchFailure {
    /// Stable code (metrics label `outcome`).
    pub fn code(self) -> &'static str {
        match self {
            FetchFailure::Unauthorized => "unauthorized",
            FetchFailure::NotFound => "not-found",
            FetchFailure::HttpError => "http-error",
            FetchFailure::Timeout => "timeout",
            FetchFailure::BudgetExhausted => "budget-exhausted",
            FetchFailure::Unreachable => "unreachable",
            FetchFailure::InvalidBody => "invalid-body",
            FetchFailure::UnfillableTemplate => "unfillable-template",
            FetchFailure::InvalidServerUrl => "invalid-server-url",
        }
    }

    /// For the card's data gaps.
    pub fn describe(self) -> &'static str {
        match self {
            FetchFailure::Unauthorized => "access denied",
            FetchFailure::NotFound => "not found",
            FetchFailure::HttpError => "server error",
            FetchFailure::Timeout => "the server did not answer in time",
            FetchFailure::BudgetExhausted => "the time budget ran out",
            FetchFailure::Unreachable => "the server could not be reached",
            FetchFailure::InvalidBody => "the answer was not a FHIR resource or Bundle",
            FetchFailure::UnfillableTemplate => {
                "its prefetch template needs a value the hook context does not have"
            }
            FetchFailure::InvalidServerUrl => "`fhirServer` is not an http(s) URL",
        }
    }
}

/// Why a fetched key is incomplete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FetchShortfall {
    /// More pages than the configured page limit.
    PageLimit,
    /// A `next` link pointed to another server (not followed).
    ForeignNextLink,
}

impl FetchShortfall {
    pub fn code(self) -> &'static str {
        match self {
            FetchShortfall::PageLimit => "page-limit",
            FetchShortfall::ForeignNextLink => "foreign-next-link",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            FetchShortfall::PageLimit => "more result pages than the page limit",
            FetchShortfall::ForeignNextLink => {
                "a next-page link pointed to another server and was not followed"
            }
        }
    }
}

/// A resource that could not be read. `lab` / `finding` say what it was, when its code could
/// still be recognised (an unreadable D-dimer makes the D-dimer unknown, not negative).
#[derive(Debug, Clone, PartialEq)]
pub struct UnreadableResource {
    pub resource_type: String,
    pub source: DataSource,
    pub lab: Option<LabKind>,
    pub finding: Option<UltrasoundFindingKind>,
}

/// A value read from the record, or known to be unreadable (unknown unit, bad number).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measured<T> {
    Known(T),
    Unknown,
}

impl<T: Copy> Measured<T> {
    pub fn known(self) -> Option<T> {
        match self {
            Measured::Known(v) => Some(v),
            Measured::Unknown => None,
        }
    }
}

/// FHIR `date` of birth, possibly partial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BirthDate {
    Year(i32),
    YearMonth(i32, Month),
    Date(Date),
}

#[derive(Debug, Clone, PartialEq)]
pub struct PatientFact {
    pub id: Option<String>,
    pub birth_date: Option<BirthDate>,
}

/// When a resource is dated: a FHIR date/dateTime resolved to an instant (a date or partial
/// date resolves to its first instant, UTC). `precise` is false for date-only values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FhirTime {
    pub instant: OffsetDateTime,
    pub precise: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClinicalStatus {
    Active,
    Recurrence,
    Relapse,
    Inactive,
    Remission,
    Resolved,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerificationStatus {
    Unconfirmed,
    Provisional,
    Differential,
    Confirmed,
    Refuted,
    EnteredInError,
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConditionFact {
    pub id: Option<String>,
    /// `Condition.code.coding` (text-only codes are not matched).
    pub codes: Vec<Code>,
    /// `code.text` or the first coding's display, for the card.
    pub label: Option<String>,
    pub clinical_status: Option<ClinicalStatus>,
    pub verification_status: Option<VerificationStatus>,
    /// Every coding of every `bodySite` (veins and laterality alike).
    pub body_sites: Vec<Code>,
    pub severity: Vec<Code>,
    /// `onsetDateTime` or `onsetPeriod.start`.
    pub onset: Option<FhirTime>,
    pub recorded: Option<FhirTime>,
    /// `abatementDateTime` / `abatementPeriod.end`.
    pub abatement: Option<FhirTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObservationStatus {
    Final,
    Amended,
    Corrected,
    Preliminary,
    /// registered, cancelled, entered-in-error, unknown: ignored by the rules.
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObservationFact {
    pub id: Option<String>,
    pub status: ObservationStatus,
    /// `effectiveDateTime` / `effectivePeriod.start` / `effectiveInstant`, else `issued`.
    pub effective: Option<FhirTime>,
    /// References in `basedOn` (`ServiceRequest/123`).
    pub based_on: Vec<String>,
    pub value: ObservationValue,
}

/// What an Observation says, by kind (the kind comes from the configured code lists).
#[derive(Debug, Clone, PartialEq)]
pub enum ObservationValue {
    DDimer(DDimerFact),
    /// mL/min/1.73 m² (eGFR) — UCUM `mL/min/{1.73_m2}` and look-alikes.
    Egfr(Measured<f64>),
    /// mL/min.
    CreatinineClearance(Measured<f64>),
    /// 10⁹/L (= 10³/µL).
    Platelets(Measured<f64>),
    /// g/dL (g/L ÷ 10; mmol/L × 1.611).
    Hemoglobin(Measured<f64>),
    /// kg (g ÷ 1000; [lb_av] × 0.45359237).
    BodyWeight(Measured<f64>),
    /// 0–10.
    PainSeverity(Measured<f64>),
    /// Pregnancy status: `Known(true)` = pregnant (77386006), `Known(false)` = another answer.
    PregnancyStatus(Measured<bool>),
    /// SARS-CoV-2 test: `Known(true)` = positive/detected.
    SarsCov2(Measured<bool>),
    Finding(UltrasoundFinding),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DDimerBasis {
    Feu,
    Ddu,
    Unknown,
    Qualitative,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpretation {
    /// H, HH, A, AA, POS, DET
    Positive,
    /// N, L, NEG, ND
    Negative,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DDimerFact {
    pub basis: DDimerBasis,
    /// Value converted to ng/mL; `Unknown` when there is a value whose unit cannot be
    /// converted; `None` when there is no numeric value.
    pub value_ng_ml: Option<Measured<f64>>,
    /// `referenceRange.high` in ng/mL (a range without a unit is read in the value's unit).
    pub reference_high_ng_ml: Option<Measured<f64>>,
    /// Whether the raw value exceeds `referenceRange.high` when both share a unit string that
    /// cannot be converted (e.g. a local unit): still judgeable by rule (2).
    pub exceeds_reference_same_unit: Option<bool>,
    /// From `interpretation` codes.
    pub interpretation: Option<Interpretation>,
    /// Coded or string qualitative result (positive/detected vs negative/not detected).
    pub qualitative: Option<bool>,
    /// The value as reported, for the card ("1.2 mg/L FEU").
    pub shown: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum UltrasoundFinding {
    /// cm.
    ThrombusLength(Measured<f64>),
    /// mm.
    ThrombusDiameter(Measured<f64>),
    VeinsInvolved(Measured<u32>),
    /// The vein's codes (from valueCodeableConcept or bodySite).
    VeinInvolved(Vec<Code>),
    /// cm.
    DistanceToProximalVeins(Measured<f64>),
    NearProximalVeins(Measured<bool>),
    ExtendsToProximalVeins(Measured<bool>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MedicationStatus {
    Active,
    OnHold,
    Cancelled,
    Completed,
    EnteredInError,
    Stopped,
    Draft,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MedicationIntent {
    Proposal,
    Plan,
    Order,
    OriginalOrder,
    ReflexOrder,
    FillerOrder,
    InstanceOrder,
    Option,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DoseUnit {
    Mg,
    /// International units / units (`[iU]`, `U`, `IU`, `units`).
    InternationalUnit,
    MgPerKg,
    Other(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dose {
    pub amount: f64,
    pub unit: DoseUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Subcutaneous,
    Intravenous,
    Oral,
    Other,
}

/// One MedicationRequest, on record or drafted.
#[derive(Debug, Clone, PartialEq)]
pub struct MedicationOrderFact {
    pub id: Option<String>,
    pub status: MedicationStatus,
    pub intent: MedicationIntent,
    /// From RxNorm codes (ingredient, SCD, SBD), else the name in display/text.
    pub ingredient: Option<Ingredient>,
    pub codes: Vec<Code>,
    /// `medicationCodeableConcept.text` or first display.
    pub label: Option<String>,
    /// First dose of the first dosage instruction (`doseQuantity`, or `doseRange.high`).
    pub dose: Option<Dose>,
    /// Doses per day from `timing.repeat` (frequency / period in days) or timing codes
    /// (QD, BID, TID, QID, Q12H, Q8H, Q6H, Q24H).
    pub doses_per_day: Option<f64>,
    pub route: Option<Route>,
    /// Explicit total duration in days: `boundsDuration`, `boundsPeriod` (end − start), or
    /// `dispenseRequest.expectedSupplyDuration`. `None` when none is given.
    pub total_duration_days: Option<f64>,
    /// Codes of `reasonCode`, and references of `reasonReference` (`Condition/123`).
    pub reason_codes: Vec<Code>,
    pub reason_references: Vec<String>,
    pub authored_on: Option<FhirTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    Draft,
    Active,
    OnHold,
    Revoked,
    Completed,
    EnteredInError,
    Unknown,
}

/// One ServiceRequest, on record or drafted.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceRequestFact {
    pub id: Option<String>,
    pub status: RequestStatus,
    pub codes: Vec<Code>,
    pub label: Option<String>,
    /// `occurrenceDateTime` or `occurrencePeriod.start`.
    pub occurrence: Option<FhirTime>,
    pub authored_on: Option<FhirTime>,
    pub body_sites: Vec<Code>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DraftOrderKind {
    Medication(MedicationOrderFact),
    Service(ServiceRequestFact),
    /// Another resource type (NutritionOrder, DeviceRequest…): never acted on.
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DraftOrder {
    /// `ResourceType/id` (what `selections` and the safety card name).
    pub reference: String,
    pub selected: bool,
    pub order: DraftOrderKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncounterStatus {
    Planned,
    Arrived,
    Triaged,
    InProgress,
    Onleave,
    Finished,
    Cancelled,
    EnteredInError,
    Unknown,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EncounterFact {
    pub id: Option<String>,
    pub status: EncounterStatus,
    /// `Encounter.class` code (v3 ActCode: IMP, ACUTE, NONAC, OBSENC, EMER, AMB…).
    pub class_code: Option<String>,
    pub period_start: Option<FhirTime>,
    pub period_end: Option<FhirTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcedureStatus {
    Preparation,
    InProgress,
    NotDone,
    OnHold,
    Stopped,
    Completed,
    EnteredInError,
    Unknown,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProcedureFact {
    pub id: Option<String>,
    pub status: ProcedureStatus,
    pub codes: Vec<Code>,
    pub category: Vec<Code>,
    pub label: Option<String>,
    /// `performedDateTime`, else `performedPeriod.end`, else `performedPeriod.start`.
    pub performed: Option<FhirTime>,
}
