//! HTTP API tests: the real server on 127.0.0.1:0, talked to over HTTP (zero2prod style).
//! One module per endpoint or concern; shared set-up in `helpers`.

mod auth;
mod bench_floor;
mod cli;
mod cors;
mod discovery;
mod fallback;
mod fallback_hfs;
mod feedback;
mod fhir_server;
mod fhir_stub;
mod fixtures;
mod health;
mod helpers;
mod hooks;
mod jwt;
mod limits;
mod metrics;
mod openapi;
mod phi;
mod shutdown;
