//! `modhost serve`: logging set up from `RUST_LOG` (text or JSON lines), then the server run on a multi-thread tokio runtime.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;

use tracing_subscriber::EnvFilter;

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
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = if json_logs {
        logs.json().with_current_span(false).try_init()
    } else {
        logs.with_ansi(std::io::stderr().is_terminal()).try_init()
    };
    installed.map_err(|error| CliError::failed(format!("cannot set up logging: {error}")))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| CliError::failed(format!("cannot start the tokio runtime: {error}")))?;
    let options = modhost_server::ServeOptions {
        listen,
        data_dir,
        config_file,
    };
    runtime
        .block_on(modhost_server::run(options))
        .map_err(|error| CliError::failed(format!("{error:#}")))
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
