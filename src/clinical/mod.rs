//! The clinical core: facts → assessment. Pure: no I/O, no clock (`now` is passed in), no
//! HTTP or FHIR types. Every rule cites its section of `shared/clinical-rules.md`.

mod model;

pub use model::*;

use time::OffsetDateTime;

use crate::config::Rules;
use crate::facts::PatientFacts;

/// Assess one patient at `now` (§1–§5).
pub fn assess(facts: &PatientFacts, rules: &Rules, moment: Moment, now: OffsetDateTime) -> Assessment {
    let _ = (facts, rules, moment, now);
    todo!("clinical core")
}
