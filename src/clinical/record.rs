//! Reading the record by the rule book's conventions (§0, §1 "Which Conditions count"):
//! windows, clock skew, ages, the most recent result of a kind, condition status.

use time::{Date, Duration, Month, OffsetDateTime};

use super::model::{AgeFact, Evidence};
use crate::config::{Code, Rules, ValueSetId};
use crate::facts::{
    BirthDate, ClinicalStatus, ConditionFact, FhirTime, ObservationFact, ObservationStatus,
    ObservationValue, PatientFacts, VerificationStatus,
};

/// The evaluation instant and the clock-skew allowance (§0).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub now: OffsetDateTime,
    pub skew: Duration,
}

impl Clock {
    pub fn new(now: OffsetDateTime, rules: &Rules) -> Clock {
        Clock {
            now,
            skew: Duration::hours(rules.thresholds.windows.clock_skew_hours),
        }
    }

    pub fn today(&self) -> Date {
        self.now.date()
    }

    /// §0: dated up to `skew` after now counts as now; later is ignored (`None`).
    pub fn effective(&self, t: FhirTime) -> Option<OffsetDateTime> {
        if t.instant > self.now + self.skew {
            None
        } else if t.instant > self.now {
            Some(self.now)
        } else {
            Some(t.instant)
        }
    }

    /// §0: `t` lies in `[start, now]` (with skew). Date-only values compare by day, so a
    /// scan dated on the first day of the window counts (the inclusive reading).
    pub fn since(&self, t: Option<FhirTime>, start: OffsetDateTime) -> bool {
        let Some(t) = t else { return false };
        let Some(eff) = self.effective(t) else {
            return false;
        };
        if t.precise {
            eff >= start
        } else {
            eff.date() >= start.date()
        }
    }

    /// §0: `t` lies in `[now − days, now]`.
    pub fn within_days(&self, t: Option<FhirTime>, days: i64) -> bool {
        self.since(t, self.now - Duration::days(days))
    }
}

/// §1 "Which Conditions count": never refuted or entered-in-error.
pub fn counts(c: &ConditionFact) -> bool {
    !matches!(
        c.verification_status,
        Some(VerificationStatus::Refuted | VerificationStatus::EnteredInError)
    )
}

/// §1: active, recurrence or relapse — or absent (R4 allows a Condition without one).
pub fn is_active(c: &ConditionFact) -> bool {
    counts(c)
        && matches!(
            c.clinical_status,
            None | Some(
                ClinicalStatus::Active | ClinicalStatus::Recurrence | ClinicalStatus::Relapse
            )
        )
}

/// Onset, else recordedDate.
pub fn condition_date(c: &ConditionFact) -> Option<FhirTime> {
    c.onset.or(c.recorded)
}

pub fn in_set(rules: &Rules, set: ValueSetId, codes: &[Code]) -> bool {
    rules.value_sets.any(set, codes)
}

/// Active (current-factor) Conditions in a value set, with evidence.
pub fn active_conditions<'a>(
    facts: &'a PatientFacts,
    rules: &'a Rules,
    set: ValueSetId,
) -> impl Iterator<Item = &'a ConditionFact> + 'a {
    facts
        .conditions
        .iter()
        .filter(move |c| is_active(c) && in_set(rules, set, &c.codes))
}

/// History Conditions (any clinical status, not refuted) in a value set.
pub fn history_conditions<'a>(
    facts: &'a PatientFacts,
    rules: &'a Rules,
    set: ValueSetId,
) -> impl Iterator<Item = &'a ConditionFact> + 'a {
    facts
        .conditions
        .iter()
        .filter(move |c| counts(c) && in_set(rules, set, &c.codes))
}

pub fn condition_label(c: &ConditionFact) -> String {
    let code = c
        .codes
        .first()
        .map(|k| k.code.clone())
        .unwrap_or_else(|| "no code".to_owned());
    match &c.label {
        Some(l) => format!("{l} ({code})"),
        None => format!("Condition {code}"),
    }
}

pub fn condition_evidence(c: &ConditionFact) -> Evidence {
    Evidence::new(condition_label(c), condition_date(c).map(|t| t.instant))
}

/// Observations the rules read: final, amended, corrected or preliminary (contract).
pub fn readable_status(o: &ObservationFact) -> bool {
    o.status != ObservationStatus::Other
}

/// The most recent observation matching `pick` dated in `[start, now]`; undated results
/// cannot be placed in a window and are not used.
pub fn latest<'a, T>(
    facts: &'a PatientFacts,
    clock: &Clock,
    start: OffsetDateTime,
    accept: impl Fn(&ObservationFact) -> bool,
    pick: impl Fn(&'a ObservationValue) -> Option<T>,
) -> Option<(T, &'a ObservationFact)> {
    facts
        .observations
        .iter()
        .filter(|o| accept(o) && clock.since(o.effective, start))
        .filter_map(|o| pick(&o.value).map(|v| (v, o)))
        .max_by_key(|(_, o)| o.effective.map(|t| t.instant))
}

/// Age in completed years at `now`; a partial birthDate gives the youngest possible age (§0).
pub fn age(facts: &PatientFacts, now: OffsetDateTime) -> AgeFact {
    let Some(birth) = facts.patient.as_ref().and_then(|p| p.birth_date) else {
        return AgeFact::Unknown;
    };
    let (latest_birth, at_least) = match birth {
        BirthDate::Date(d) => (d, false),
        BirthDate::YearMonth(y, m) => {
            let last = time::util::days_in_month(m, y);
            match Date::from_calendar_date(y, m, last) {
                Ok(d) => (d, true),
                Err(_) => return AgeFact::Unknown,
            }
        }
        BirthDate::Year(y) => match Date::from_calendar_date(y, Month::December, 31) {
            Ok(d) => (d, true),
            Err(_) => return AgeFact::Unknown,
        },
    };
    let today = now.date();
    if latest_birth > today {
        return AgeFact::Unknown;
    }
    let mut years = today.year() - latest_birth.year();
    if (today.month() as u8, today.day()) < (latest_birth.month() as u8, latest_birth.day()) {
        years -= 1;
    }
    AgeFact::Known {
        years: u32::try_from(years).unwrap_or(0),
        at_least,
    }
}

pub fn fmt_date(t: OffsetDateTime) -> String {
    let d = t.date();
    format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day())
}

/// Numbers for the card: no trailing ".0".
pub fn fmt_num(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::PatientFact;
    use time::macros::{date, datetime};

    fn facts_born(b: BirthDate) -> PatientFacts {
        PatientFacts {
            patient: Some(PatientFact {
                id: None,
                birth_date: Some(b),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn age_in_completed_years() {
        let now = datetime!(2026-11-20 12:00 UTC);
        assert_eq!(
            age(&facts_born(BirthDate::Date(date!(1961 - 11 - 20))), now),
            AgeFact::Known {
                years: 65,
                at_least: false
            }
        );
        assert_eq!(
            age(&facts_born(BirthDate::Date(date!(1961 - 11 - 21))), now),
            AgeFact::Known {
                years: 64,
                at_least: false
            }
        );
    }

    #[test]
    fn partial_birth_date_gives_youngest_age() {
        let now = datetime!(2026-11-20 12:00 UTC);
        // Born some time in 1950: at least 75 (if born 31 December).
        assert_eq!(
            age(&facts_born(BirthDate::Year(1950)), now),
            AgeFact::Known {
                years: 75,
                at_least: true
            }
        );
        assert_eq!(
            age(
                &facts_born(BirthDate::YearMonth(1950, Month::November)),
                now
            ),
            AgeFact::Known {
                years: 75,
                at_least: true
            }
        );
        assert_eq!(
            age(&facts_born(BirthDate::YearMonth(1950, Month::October)), now),
            AgeFact::Known {
                years: 76,
                at_least: true
            }
        );
        assert_eq!(age(&PatientFacts::default(), now), AgeFact::Unknown);
    }

    #[test]
    fn windows_are_inclusive_and_allow_clock_skew() {
        let now = datetime!(2026-11-20 12:00 UTC);
        let clock = Clock {
            now,
            skew: Duration::hours(24),
        };
        let precise = |t: OffsetDateTime| {
            Some(FhirTime {
                instant: t,
                precise: true,
            })
        };
        let day = |d: Date| {
            Some(FhirTime {
                instant: d.midnight().assume_utc(),
                precise: false,
            })
        };
        assert!(clock.within_days(precise(datetime!(2026-08-22 12:00 UTC)), 90));
        assert!(!clock.within_days(precise(datetime!(2026-08-22 11:59 UTC)), 90));
        assert!(clock.within_days(day(date!(2026 - 08 - 22)), 90));
        assert!(!clock.within_days(day(date!(2026 - 08 - 21)), 90));
        // Up to 24 h in the future counts as now; later is ignored.
        assert!(clock.within_days(precise(datetime!(2026-11-21 11:00 UTC)), 1));
        assert!(!clock.within_days(precise(datetime!(2026-11-21 13:00 UTC)), 1));
        assert!(!clock.within_days(None, 90));
    }

    #[test]
    fn number_formatting() {
        assert_eq!(fmt_num(5.0), "5");
        assert_eq!(fmt_num(5.1), "5.1");
        assert_eq!(fmt_num(0.49), "0.49");
    }
}
