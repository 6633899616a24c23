//! Patient, Condition, Encounter, Procedure and ServiceRequest.

use fhir_sdk::Date as FhirDate;
use fhir_sdk::r4b::codes::{
    EncounterStatus as FhirEncounterStatus, EventStatus, RequestStatus as FhirRequestStatus,
};
use fhir_sdk::r4b::resources::{
    Condition, ConditionAbatement, ConditionOnset, Encounter, Patient, Procedure,
    ProcedurePerformed, ServiceRequest, ServiceRequestOccurrence,
};
use fhir_sdk::r4b::types::CodeableConcept;

use super::common::{codes, codes_of_all, codings, fhir_time, label, period_end, period_start};
use crate::facts::{
    BirthDate, ClinicalStatus, ConditionFact, EncounterFact, EncounterStatus, PatientFact,
    ProcedureFact, ProcedureStatus, RequestStatus, ServiceRequestFact, VerificationStatus,
};

const CONDITION_CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";
const CONDITION_VER_STATUS: &str = "http://terminology.hl7.org/CodeSystem/condition-ver-status";

pub(super) fn patient(p: &Patient) -> PatientFact {
    PatientFact {
        id: p.id.clone(),
        birth_date: p.birth_date.as_ref().map(|d| match d {
            FhirDate::Year(y) => BirthDate::Year(*y),
            FhirDate::YearMonth(y, m) => BirthDate::YearMonth(*y, *m),
            FhirDate::Date(d) => BirthDate::Date(*d),
        }),
    }
}

/// The status code from its own system (a coding without a system is read too: some EHRs
/// omit it on these required-binding elements).
fn status_code<'a>(concept: &'a CodeableConcept, system: &str) -> Option<&'a str> {
    codings(concept)
        .filter(|c| c.system.as_deref().is_none_or(|s| s == system))
        .find_map(|c| c.code.as_deref())
        .map(str::trim)
}

pub(super) fn condition(c: &Condition) -> ConditionFact {
    ConditionFact {
        id: c.id.clone(),
        codes: codes(c.code.as_ref()),
        label: label(c.code.as_ref()),
        clinical_status: c.clinical_status.as_ref().map(|cc| {
            match status_code(cc, CONDITION_CLINICAL) {
                Some("active") => ClinicalStatus::Active,
                Some("recurrence") => ClinicalStatus::Recurrence,
                Some("relapse") => ClinicalStatus::Relapse,
                Some("inactive") => ClinicalStatus::Inactive,
                Some("remission") => ClinicalStatus::Remission,
                Some("resolved") => ClinicalStatus::Resolved,
                _ => ClinicalStatus::Other,
            }
        }),
        verification_status: c.verification_status.as_ref().map(|cc| {
            match status_code(cc, CONDITION_VER_STATUS) {
                Some("unconfirmed") => VerificationStatus::Unconfirmed,
                Some("provisional") => VerificationStatus::Provisional,
                Some("differential") => VerificationStatus::Differential,
                Some("confirmed") => VerificationStatus::Confirmed,
                Some("refuted") => VerificationStatus::Refuted,
                Some("entered-in-error") => VerificationStatus::EnteredInError,
                _ => VerificationStatus::Other,
            }
        }),
        body_sites: codes_of_all(&c.body_site),
        severity: codes(c.severity.as_ref()),
        onset: match &c.onset {
            Some(ConditionOnset::DateTime(dt)) => fhir_time(dt),
            Some(ConditionOnset::Period(p)) => period_start(p),
            _ => None,
        },
        recorded: c.recorded_date.as_ref().and_then(fhir_time),
        abatement: match &c.abatement {
            Some(ConditionAbatement::DateTime(dt)) => fhir_time(dt),
            Some(ConditionAbatement::Period(p)) => period_end(p),
            _ => None,
        },
    }
}

pub(super) fn encounter(e: &Encounter) -> EncounterFact {
    EncounterFact {
        id: e.id.clone(),
        status: match e.status {
            FhirEncounterStatus::Planned => EncounterStatus::Planned,
            FhirEncounterStatus::Arrived => EncounterStatus::Arrived,
            FhirEncounterStatus::Triaged => EncounterStatus::Triaged,
            FhirEncounterStatus::InProgress => EncounterStatus::InProgress,
            FhirEncounterStatus::Onleave => EncounterStatus::Onleave,
            FhirEncounterStatus::Finished => EncounterStatus::Finished,
            FhirEncounterStatus::Cancelled => EncounterStatus::Cancelled,
            FhirEncounterStatus::EnteredInError => EncounterStatus::EnteredInError,
            _ => EncounterStatus::Unknown,
        },
        class_code: e
            .class
            .code
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned),
        period_start: e.period.as_ref().and_then(period_start),
        period_end: e.period.as_ref().and_then(period_end),
    }
}

pub(super) fn procedure(p: &Procedure) -> ProcedureFact {
    ProcedureFact {
        id: p.id.clone(),
        status: match p.status {
            EventStatus::Preparation => ProcedureStatus::Preparation,
            EventStatus::InProgress => ProcedureStatus::InProgress,
            EventStatus::NotDone => ProcedureStatus::NotDone,
            EventStatus::OnHold => ProcedureStatus::OnHold,
            EventStatus::Stopped => ProcedureStatus::Stopped,
            EventStatus::Completed => ProcedureStatus::Completed,
            EventStatus::EnteredInError => ProcedureStatus::EnteredInError,
            _ => ProcedureStatus::Unknown,
        },
        codes: codes(p.code.as_ref()),
        category: codes(p.category.as_ref()),
        label: label(p.code.as_ref()),
        performed: match &p.performed {
            Some(ProcedurePerformed::DateTime(dt)) => fhir_time(dt),
            Some(ProcedurePerformed::Period(period)) => {
                period_end(period).or_else(|| period_start(period))
            }
            _ => None,
        },
    }
}

pub(super) fn service_request(s: &ServiceRequest) -> ServiceRequestFact {
    ServiceRequestFact {
        id: s.id.clone(),
        status: match s.status {
            FhirRequestStatus::Draft => RequestStatus::Draft,
            FhirRequestStatus::Active => RequestStatus::Active,
            FhirRequestStatus::OnHold => RequestStatus::OnHold,
            FhirRequestStatus::Revoked => RequestStatus::Revoked,
            FhirRequestStatus::Completed => RequestStatus::Completed,
            FhirRequestStatus::EnteredInError => RequestStatus::EnteredInError,
            _ => RequestStatus::Unknown,
        },
        codes: codes(s.code.as_ref()),
        label: label(s.code.as_ref()),
        occurrence: match &s.occurrence {
            Some(ServiceRequestOccurrence::DateTime(dt)) => fhir_time(dt),
            Some(ServiceRequestOccurrence::Period(p)) => period_start(p),
            // A Timing: its first event, if it lists one.
            Some(ServiceRequestOccurrence::Timing(t)) => {
                t.event.iter().flatten().find_map(fhir_time)
            }
            None => None,
        },
        authored_on: s.authored_on.as_ref().and_then(fhir_time),
        body_sites: codes_of_all(&s.body_site),
    }
}
