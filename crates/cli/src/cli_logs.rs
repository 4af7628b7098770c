//! The `modhost logs` arguments as clap parses them (apart from `cli.rs`, which is near the length cap).

use clap::Args;

/// Show a tenant's module log records, filtered, or follow them live.
#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// The tenant.
    pub(crate) tenant: String,
    /// Only this module's records.
    #[arg(long, value_name = "MODULE")]
    pub(crate) module: Option<String>,
    /// Only records of this level or a more severe one.
    #[arg(long, value_name = "LEVEL", value_parser = ["trace", "debug", "info", "warn", "error"])]
    pub(crate) level: Option<String>,
    /// Only the records of this request.
    #[arg(long, value_name = "ID")]
    pub(crate) request_id: Option<String>,
    /// Only records from this long ago on: 90, 30s, 10m, 6h, 1d.
    #[arg(long, value_name = "AGE", value_parser = crate::cli_backup::parse_every)]
    pub(crate) since: Option<u64>,
    /// At most this many records, the newest (1 to 1000; default 100).
    #[arg(short = 'n', long = "limit", value_name = "N")]
    pub(crate) limit: Option<u32>,
    /// Then keep printing records as they are written, until Ctrl-C or the server closes the stream.
    #[arg(short, long)]
    pub(crate) follow: bool,
}
