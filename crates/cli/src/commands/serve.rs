//! `modhost serve`: logging set up from `RUST_LOG` (text or JSON lines) and, when configured, OpenTelemetry trace export; then the server run on a multi-thread tokio runtime.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _, Registry};

use crate::commands::telemetry;

use crate::error::CliError;

/// The log filter: `RUST_LOG` when set, else `info`.
fn log_filter(rust_log: Option<&str>) -> Result<EnvFilter, CliError> {
    match rust_log
        .map(str::trim)
        .filter(|directives| !directives.is_empty())
    {
        Some(directives) => EnvFilter::try_new(directives).map_err(|error| {
            CliError::Usage(format!(
                "RUST_LOG={directives:?} is not a valid log filter: {error}"
            ))
        }),
        None => Ok(EnvFilter::new("info")),
    }
}

/// Runs the server until it stops.
pub fn serve(
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    config_file: Option<PathBuf>,
    json_logs: bool,
) -> Result<(), CliError> {
    let filter = log_filter(std::env::var("RUST_LOG").ok().as_deref())?;
    let config = modhost_server::ServerConfig::load(config_file.as_deref())
        .map_err(|error| CliError::failed(format!("{error:#}")))?;
    let env_endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok();
    let export = telemetry::start(&config.tracing, env_endpoint.as_deref())?;
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    // `RUST_LOG` filters the log lines only; the export sees every span of
    // modhost's crates (the data-plane request, guest calls, promote steps;
    // debug spans, so with export off they cost next to nothing) and no events.
    let logs = if json_logs {
        logs.json().with_current_span(false).with_filter(filter).boxed()
    } else {
        logs.with_ansi(std::io::stderr().is_terminal())
            .with_filter(filter)
            .boxed()
    };
    let spans = export.as_ref().map(|export| {
        tracing_opentelemetry::layer()
            .with_tracer(export.tracer())
            .with_filter(tracing_subscriber::filter::filter_fn(|metadata| {
                metadata.is_span() && metadata.target().starts_with("modhost")
            }))
    });
    Registry::default()
        .with(logs)
        .with(spans)
        .try_init()
        .map_err(|error| CliError::failed(format!("cannot set up logging: {error}")))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| CliError::failed(format!("cannot start the tokio runtime: {error}")))?;
    let options = modhost_server::ServeOptions {
        listen,
        data_dir,
        config_file,
        config: Some(config),
    };
    let served = runtime.block_on(modhost_server::run(options));
    if let Some(export) = export {
        export.shutdown();
    }
    served.map_err(|error| CliError::failed(format!("{error:#}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_filters() {
        assert_eq!(log_filter(None).unwrap().to_string(), "info");
        assert_eq!(log_filter(Some("  ")).unwrap().to_string(), "info");
        assert_eq!(
            log_filter(Some("modhost_server=debug")).unwrap().to_string(),
            "modhost_server=debug"
        );
        assert!(matches!(log_filter(Some("=[")), Err(CliError::Usage(_))));
    }
}
