//! `modhost metrics TENANT`: a tenant's own Prometheus metrics, printed as the server sends them.

use crate::client::path;
use crate::commands::Context;
use crate::error::CliError;

/// `GET /v1/tenants/{tenant}/metrics`: OpenMetrics text, printed as is (also with `--json`).
pub fn metrics(ctx: &Context, tenant: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    ctx.client
        .download(&path(&["v1", "tenants", tenant, "metrics"]), &mut out)?;
    Ok(())
}
