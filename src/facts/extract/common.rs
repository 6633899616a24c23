//! Small readers shared by every resource: codes, labels, references and FHIR times.

use fhir_sdk::r4b::types::{CodeableConcept, Coding, Period, Reference};
use fhir_sdk::{Date as FhirDate, DateTime as FhirDateTime, Instant};
use time::{Date, Month, OffsetDateTime, Time, UtcOffset};

use crate::config::codes::{CPT, ICD10CM};
use crate::facts::{Code, FhirTime};

/// A coding with both a system and a code (one without either cannot match a value set).
/// ICD-10-CM and CPT codes are ASCII by definition: another one is garbage, and the value
/// set ranges slice such codes by bytes, so it is dropped here.
pub(super) fn code_of(coding: &Coding) -> Option<Code> {
    let system = coding
        .system
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())?;
    let code = coding
        .code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())?;
    if (system == ICD10CM || system == CPT) && !code.is_ascii() {
        return None;
    }
    Some(Code {
        system: system.to_owned(),
        code: code.to_owned(),
        display: coding.display.clone(),
    })
}

pub(super) fn codings(concept: &CodeableConcept) -> impl Iterator<Item = &Coding> {
    concept.coding.iter().flatten()
}

pub(super) fn codes(concept: Option<&CodeableConcept>) -> Vec<Code> {
    concept
        .into_iter()
        .flat_map(codings)
        .filter_map(code_of)
        .collect()
}

/// Every coding of every concept (`bodySite`, `reasonCode`, …).
pub(super) fn codes_of_all<'a>(
    concepts: impl IntoIterator<Item = &'a Option<CodeableConcept>>,
) -> Vec<Code> {
    concepts
        .into_iter()
        .flatten()
        .flat_map(codings)
        .filter_map(code_of)
        .collect()
}

/// `text`, else the first coding's display: what the card shows.
pub(super) fn label(concept: Option<&CodeableConcept>) -> Option<String> {
    let concept = concept?;
    non_empty(concept.text.as_deref())
        .or_else(|| codings(concept).find_map(|c| non_empty(c.display.as_deref())))
        .map(str::to_owned)
}

pub(super) fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

pub(super) fn references<'a>(refs: impl IntoIterator<Item = &'a Option<Reference>>) -> Vec<String> {
    refs.into_iter()
        .flatten()
        .filter_map(|r| non_empty(r.reference.as_deref()))
        .map(str::to_owned)
        .collect()
}

/// The first instant (UTC) of a possibly partial date.
pub(super) fn date_start(date: &FhirDate) -> Option<OffsetDateTime> {
    let day = match date {
        FhirDate::Year(y) => Date::from_calendar_date(*y, Month::January, 1).ok()?,
        FhirDate::YearMonth(y, m) => Date::from_calendar_date(*y, *m, 1).ok()?,
        FhirDate::Date(d) => *d,
    };
    Some(day.with_time(Time::MIDNIGHT).assume_utc())
}

/// The first instant after a possibly partial date: a date-only period end includes its
/// whole day (month, year) — FHIR R4 datatypes, Period.
pub(super) fn date_end(date: &FhirDate) -> Option<OffsetDateTime> {
    let next = match date {
        FhirDate::Year(y) => Date::from_calendar_date(y.checked_add(1)?, Month::January, 1).ok()?,
        FhirDate::YearMonth(y, m) => {
            let year = if *m == Month::December {
                y.checked_add(1)?
            } else {
                *y
            };
            Date::from_calendar_date(year, m.next(), 1).ok()?
        }
        FhirDate::Date(d) => d.next_day()?,
    };
    Some(next.with_time(Time::MIDNIGHT).assume_utc())
}

pub(super) fn instant(i: &Instant) -> Option<FhirTime> {
    Some(FhirTime {
        instant: i.0.checked_to_offset(UtcOffset::UTC)?,
        precise: true,
    })
}

/// A date resolves to its first instant (imprecise); a dateTime to its instant (precise).
pub(super) fn fhir_time(dt: &FhirDateTime) -> Option<FhirTime> {
    match dt {
        FhirDateTime::Date(d) => Some(FhirTime {
            instant: date_start(d)?,
            precise: false,
        }),
        FhirDateTime::DateTime(i) => instant(i),
    }
}

pub(super) fn period_start(p: &Period) -> Option<FhirTime> {
    p.start.as_ref().and_then(fhir_time)
}

pub(super) fn period_end(p: &Period) -> Option<FhirTime> {
    p.end.as_ref().and_then(fhir_time)
}

/// Length of a period in days, counting a date-only end as its whole day.
pub(super) fn period_days(p: &Period) -> Option<f64> {
    let start = fhir_time(p.start.as_ref()?)?.instant;
    let end = match p.end.as_ref()? {
        FhirDateTime::Date(d) => date_end(d)?,
        FhirDateTime::DateTime(i) => instant(i)?.instant,
    };
    let days = (end - start).as_seconds_f64() / 86_400.0;
    (days.is_finite() && days >= 0.0).then_some(days)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;
    use time::macros::datetime;

    use super::*;

    fn dt(s: &str) -> FhirDateTime {
        FhirDateTime::deserialize(&json!(s)).unwrap()
    }

    #[test]
    fn dates_resolve_to_their_first_instant_imprecise() {
        let t = fhir_time(&dt("2024-03-05")).unwrap();
        assert_eq!(t.instant, datetime!(2024-03-05 00:00 UTC));
        assert!(!t.precise);
        assert_eq!(
            fhir_time(&dt("2024-03")).unwrap().instant,
            datetime!(2024-03-01 00:00 UTC)
        );
        assert_eq!(
            fhir_time(&dt("2024")).unwrap().instant,
            datetime!(2024-01-01 00:00 UTC)
        );
    }

    #[test]
    fn date_times_keep_their_instant_precise() {
        let t = fhir_time(&dt("2024-03-05T10:30:00+02:00")).unwrap();
        assert_eq!(t.instant, datetime!(2024-03-05 08:30 UTC));
        assert_eq!(t.instant.offset(), UtcOffset::UTC);
        assert!(t.precise);
    }

    #[test]
    fn period_days_counts_a_date_end_inclusively() {
        let p = Period::deserialize(&json!({"start": "2024-01-01", "end": "2024-01-07"})).unwrap();
        assert_eq!(period_days(&p), Some(7.0));
        let p = Period::deserialize(
            &json!({"start": "2024-01-01T08:00:00Z", "end": "2024-01-08T08:00:00Z"}),
        )
        .unwrap();
        assert_eq!(period_days(&p), Some(7.0));
        let p = Period::deserialize(&json!({"start": "2024-02", "end": "2024-12"})).unwrap();
        assert_eq!(period_days(&p), Some(335.0));
        let p = Period::deserialize(&json!({"start": "2024-01-10", "end": "2024-01-01"})).unwrap();
        assert_eq!(period_days(&p), None);
        let p = Period::deserialize(&json!({"start": "2024-01-10"})).unwrap();
        assert_eq!(period_days(&p), None);
    }

    #[test]
    fn codes_need_system_and_code() {
        let cc = CodeableConcept::deserialize(&json!({
            "coding": [
                {"system": "http://snomed.info/sct", "code": "4258007", "display": "Posterior tibial vein"},
                {"code": "no-system"},
                {"system": "http://snomed.info/sct"}
            ],
            "text": "PTV"
        }))
        .unwrap();
        let c = codes(Some(&cc));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].code, "4258007");
        assert_eq!(c[0].display.as_deref(), Some("Posterior tibial vein"));
        assert_eq!(label(Some(&cc)).as_deref(), Some("PTV"));
    }
}
