//! `distal-dvt-cds`: serve the CDS Hooks services, evaluate one request, or check the
//! configuration. See README.md ("Command line").

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use distal_dvt_cds::cds_schema::Schemas;
use distal_dvt_cds::config::Config;
use distal_dvt_cds::fetch::Fetcher;
use distal_dvt_cds::http::state::discovery_document;
use distal_dvt_cds::http::{Application, hooks};
use distal_dvt_cds::settings::{self, FetchArgs, ServeArgs, Settings};
use distal_dvt_cds::telemetry;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Parser)]
#[command(
    name = "distal-dvt-cds",
    version,
    about = "CDS Hooks 2.0 service for isolated distal (calf) DVT"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Without a subcommand: serve with these flags.
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
// Parsed once at start-up: the size of the `Serve` variant does not matter.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Serve the CDS Hooks services (the default).
    Serve(ServeArgs),
    /// Evaluate one hook request (FILE, or `-` for stdin) and print the response JSON.
    Evaluate {
        /// The CDS Hooks request JSON (`-` = stdin).
        file: PathBuf,
        /// Evaluation instant, RFC 3339 (default: now).
        #[arg(long, value_name = "RFC3339")]
        now: Option<String>,
        /// Configuration directory [default: ./cds-services if it exists, else the shipped one]
        #[arg(long, env = "DVT_CDS_CONFIG_DIR", value_name = "DIR")]
        config_dir: Option<PathBuf>,
        /// Absent prefetch keys are fetched from the request's fhirServer, as `serve` does.
        #[command(flatten)]
        fetch: FetchArgs,
    },
    /// Validate the configuration directory and print a one-line summary.
    CheckConfig {
        /// Configuration directory [default: ./cds-services if it exists, else the shipped one]
        #[arg(long, env = "DVT_CDS_CONFIG_DIR", value_name = "DIR")]
        config_dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => serve(cli.serve),
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Evaluate {
            file,
            now,
            config_dir,
            fetch,
        }) => evaluate(&file, now.as_deref(), config_dir, &fetch),
        Some(Command::CheckConfig { config_dir }) => check_config(config_dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> Result<(), String> {
    let settings = Settings::from_args(args).map_err(|e| e.to_string())?;
    telemetry::init(settings.log_format, std::io::stderr).map_err(|e| e.to_string())?;
    telemetry::install_panic_hook();
    distal_dvt_cds::allocator::tune();
    actix_web::rt::System::new().block_on(async move {
        let application = Application::build(settings).map_err(|e| {
            tracing::error!(error = %e, "cannot start");
            e.to_string()
        })?;
        application
            .run_until_stopped()
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!("stopped");
        Ok(())
    })
}

fn load_config(dir: Option<PathBuf>) -> Result<(PathBuf, Config), String> {
    let dir = dir.unwrap_or_else(settings::default_config_dir);
    let config = Config::load(&dir).map_err(|e| e.to_string())?;
    Ok((dir, config))
}

fn evaluate(
    file: &Path,
    now: Option<&str>,
    config_dir: Option<PathBuf>,
    fetch: &FetchArgs,
) -> Result<(), String> {
    let now = match now {
        Some(text) => OffsetDateTime::parse(text, &Rfc3339)
            .map_err(|e| format!("--now `{text}`: expected an RFC 3339 date-time: {e}"))?,
        None => OffsetDateTime::now_utc(),
    };
    let (_, config) = load_config(config_dir)?;
    let schemas = Schemas::compile().map_err(|e| e.to_string())?;
    let text = if file == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("stdin: {e}"))?;
        text
    } else {
        std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?
    };
    let name = if file == Path::new("-") {
        "stdin".to_owned()
    } else {
        file.display().to_string()
    };
    let body = serde_json::from_str(&text)
        .map_err(|e| format!("{name}: the request is not valid JSON: {e}"))?;
    let fail = |e: distal_dvt_cds::http::ApiError| {
        format!("{name}: {} ({})", e.client_message(), e.code())
    };
    let mut request = hooks::parse_request(&schemas, &body).map_err(|e| match &e {
        distal_dvt_cds::http::ApiError::SchemaViolation { pointer, .. }
        | distal_dvt_cds::http::ApiError::InvalidRequest { pointer, .. } => {
            format!(
                "{name}: at `{pointer}`: {} ({})",
                e.client_message(),
                e.code()
            )
        }
        _ => fail(e),
    })?;
    let service = hooks::service_for(&config, &request).map_err(fail)?;
    // Absent prefetch keys: fetched from fhirServer as the server does (failures become data
    // gaps on the card, reported on stderr by key and outcome only).
    if request.fhir_server.is_some() && !distal_dvt_cds::fetch::absent_keys(&request).is_empty() {
        let fetcher = Fetcher::new(fetch.limits())
            .map_err(|_| "cannot build the HTTP client for fhirServer".to_owned())?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        if let Some(report) = runtime.block_on(hooks::fetch_absent(&fetcher, service, &mut request))
        {
            for key in report.keys.iter().filter(|k| k.outcome.code() != "fetched") {
                eprintln!(
                    "warning: prefetch `{}` not fetched in full from fhirServer: {}",
                    key.source.key(),
                    key.outcome.code()
                );
            }
        }
    }
    let outcome = hooks::run(&config, service, &request, now).map_err(fail)?;
    let json = serde_json::to_string_pretty(&outcome.response).map_err(|e| e.to_string())?;
    println!("{json}");
    Ok(())
}

fn check_config(config_dir: Option<PathBuf>) -> Result<(), String> {
    let (dir, config) = load_config(config_dir)?;
    let schemas = Schemas::compile().map_err(|e| e.to_string())?;
    discovery_document(&config, &schemas).map_err(|v| {
        format!(
            "{}: services.toml: the discovery document breaks its schema at `{}`: {}",
            dir.display(),
            v.pointer,
            v.message
        )
    })?;
    let services: Vec<String> = config
        .services
        .iter()
        .map(|s| format!("{} ({})", s.id, s.hook.as_str()))
        .collect();
    println!(
        "OK: {}: {} services: {}; ruleset {}",
        dir.display(),
        config.services.len(),
        services.join(", "),
        config.rules.ruleset_version
    );
    Ok(())
}
