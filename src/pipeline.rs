//! One hook call, end to end, shared by the HTTP server and the `evaluate` command:
//! CDS Hooks request → prefetch → facts → assessment → cards.

use time::OffsetDateTime;

use crate::cards::{self, CardContext, CdsResponse};
use crate::clinical::{self, Moment};
use crate::config::{Config, ServiceDefinition};
use crate::facts::{self, ExtractInput};
use crate::hook_request::{Hook, HookRequest};
use crate::prefetch;

/// The response and what the operator may count about it (no patient data).
#[derive(Debug)]
pub struct HookOutcome {
    pub response: CdsResponse,
    /// OperationOutcome / `search.mode = outcome` entries skipped in prefetch Bundles.
    pub skipped_prefetch_entries: usize,
    /// Resources that could not be read (their facts became unknown).
    pub unreadable_resources: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PipelineError {
    #[error("service `{service}` answers the `{expected}` hook, but the request says `{got}`")]
    HookMismatch {
        service: String,
        expected: &'static str,
        got: &'static str,
    },
    #[error(
        "prefetch keys missing and no fhirServer to fetch them from: {}",
        keys.join(", ")
    )]
    MissingPrefetch { keys: Vec<&'static str> },
}

pub fn moment(hook: Hook) -> Moment {
    match hook {
        Hook::OrderSelect => Moment::Selection,
        Hook::OrderSign => Moment::Signing,
    }
}

/// Run one hook call. `now` is the evaluation instant (the clock is read by the caller).
pub fn run(
    config: &Config,
    service: &ServiceDefinition,
    request: &HookRequest,
    now: OffsetDateTime,
) -> Result<HookOutcome, PipelineError> {
    if request.hook != service.hook {
        return Err(PipelineError::HookMismatch {
            service: service.id.clone(),
            expected: service.hook.as_str(),
            got: request.hook.as_str(),
        });
    }
    let prefetched = prefetch::collect_after_fetch(
        &request.prefetch,
        &request.prefetch_entries,
        &request.fetch_gaps,
    )
    .map_err(|missing| PipelineError::MissingPrefetch { keys: missing.keys })?;
    let facts = facts::extract(
        &ExtractInput {
            prefetched: &prefetched,
            draft_orders: &request.context.draft_orders,
            selections: &request.context.selections,
            encounter_id: request.context.encounter_id.as_deref(),
        },
        &config.rules,
    );
    let assessment = clinical::assess(&facts, &config.rules, moment(request.hook), now);
    let response = cards::render(
        &assessment,
        &CardContext {
            patient_id: &request.context.patient_id,
            draft_orders: &request.context.draft_orders,
            rules: &config.rules,
            now,
        },
    );
    Ok(HookOutcome {
        response,
        skipped_prefetch_entries: facts.skipped_outcomes,
        unreadable_resources: facts.unreadable.len(),
    })
}
