//! The `modhost metrics` arguments as clap parses them (apart from `cli.rs`, which is near the length cap).

use clap::Args;

/// Print a tenant's Prometheus metrics: its own series only (operator, tenant admin or viewer).
#[derive(Debug, Args)]
pub(crate) struct MetricsArgs {
    /// The tenant.
    pub(crate) tenant: String,
}
