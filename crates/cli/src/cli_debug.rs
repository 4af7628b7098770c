//! The debug tools' and `modhost audit`'s arguments as clap parses them (apart from `cli.rs`, which is near the length cap).

use clap::Args;

use crate::args::parse_version;

/// Run a version's smoke tests for a tenant, exactly as a promote would, changing nothing.
#[derive(Debug, Args)]
#[command(disable_version_flag = true)]
pub(crate) struct SmokeArgs {
    /// The tenant.
    pub(crate) tenant: String,
    /// The module.
    pub(crate) module: String,
    /// The version whose smoke tests to run, e.g. 1.1.0 (this command has no
    /// `--version` of modhost's own: `modhost --version` prints that).
    #[arg(long, value_name = "VERSION", value_parser = parse_version)]
    pub(crate) version: String,
}

/// Show the audit log, or export it as CSV.
#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// Only this tenant's entries.
    #[arg(long, value_name = "TENANT")]
    pub(crate) tenant: Option<String>,
    /// Only this actor's entries.
    #[arg(long, value_name = "ACTOR")]
    pub(crate) actor: Option<String>,
    /// Only actions starting with this, e.g. `deployment.`.
    #[arg(long, value_name = "ACTION")]
    pub(crate) action: Option<String>,
    /// Only entries from this long ago on: 90, 30s, 10m, 6h, 1d.
    #[arg(long, value_name = "AGE", value_parser = crate::cli_backup::parse_every)]
    pub(crate) since: Option<u64>,
    /// Only entries up to this long ago: 90, 30s, 10m, 6h, 1d.
    #[arg(long, value_name = "AGE", value_parser = crate::cli_backup::parse_every)]
    pub(crate) until: Option<u64>,
    /// Only entries after this id (for paging).
    #[arg(long, value_name = "ID", conflicts_with = "csv")]
    pub(crate) after: Option<u64>,
    /// At most this many entries.
    #[arg(long, value_name = "N", conflicts_with = "csv")]
    pub(crate) limit: Option<u32>,
    /// Write every matching entry to standard output as CSV (RFC 4180), oldest first.
    #[arg(long)]
    pub(crate) csv: bool,
}
