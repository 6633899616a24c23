//! The HTTP layer (actix-web): start-up, routes, errors, metrics.
//!
//! Arrow: **HTTP request** → CDS Hooks request. Everything about HTTP (media types, limits,
//! status codes, CORS, JWT authentication, logging, metrics) stays here; the clinical pipeline never sees it.

pub mod auth;
pub mod bench_floor;
pub mod body;
pub mod errors;
pub mod hooks;
pub mod limits;
pub mod metrics;
pub mod playground;
pub mod routes;
pub mod startup;
pub mod state;

pub use errors::ApiError;
pub use startup::{Application, StartupError};
