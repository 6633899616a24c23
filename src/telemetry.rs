//! Logging: `tracing` to a sink (stderr in production), JSON lines or pretty text.
//!
//! What is logged is decided by the HTTP layer: method, route, service id, hook, a
//! `hookInstance` that is a UUID, status, cards returned, duration. Never patient ids, names,
//! birth dates, resource bodies, tokens, query strings or headers; panics are logged with
//! their location only (their message may quote request data).

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Registry};

use crate::settings::LogFormat;

/// The default filter when `RUST_LOG` is not set.
pub const DEFAULT_FILTER: &str = "info";

/// A subscriber writing to `sink`, filtered by `RUST_LOG` (default [`DEFAULT_FILTER`]).
pub fn subscriber<W>(format: LogFormat, sink: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let base = Registry::default().with(filter);
    match format {
        LogFormat::Json => Box::new(
            base.with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_target(true)
                    .with_writer(sink),
            ),
        ),
        LogFormat::Pretty => {
            Box::new(base.with(tracing_subscriber::fmt::layer().pretty().with_writer(sink)))
        }
    }
}

/// Install the global subscriber. Call once per process (tests: behind a `LazyLock`); a
/// second call returns an error. The server also calls [`install_panic_hook`].
pub fn init<W>(format: LogFormat, sink: W) -> Result<(), tracing::subscriber::SetGlobalDefaultError>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing::subscriber::set_global_default(subscriber(format, sink))
}

/// Log panics as an error event with their location, without their message (which may quote
/// request data). Not for tests: it would hide assertion messages.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_else(|| "unknown".to_owned());
        tracing::error!(panic.location = %location, "panic (message withheld: it may quote request data)");
    }));
}
