//! distal-dvt-cds: a CDS Hooks 2.0 service for isolated distal (calf) deep vein thrombosis.
//!
//! The data flows one way, one module per arrow (see ARCHITECTURE.md):
//! HTTP request (`http`) → CDS Hooks request (`hook_request`) → prefetch (`prefetch`)
//! → facts (`facts`) → assessment (`clinical`, pure) → cards (`cards`) → HTTP response.
//! `pipeline` wires the arrows together for both the server and the `evaluate` command;
//! `config` loads `cds-services/`; `auth` verifies the CDS Hooks JWTs (used by `http`); `fetch`
//! fetches absent prefetch keys from `fhirServer` (async, before the pipeline).

pub mod allocator;
pub mod auth;
pub mod bundle_limit;
pub mod cards;
pub mod cds_schema;
pub mod clinical;
pub mod config;
pub mod facts;
pub mod fetch;
pub mod hook_request;
pub mod http;
pub mod pipeline;
pub mod prefetch;
pub mod settings;
pub mod skim;
pub mod telemetry;
