//! `modhost gc [--dry-run]`: garbage collection on the server — what nothing references, listed and (unless a dry run) removed.

use modhost_api::GcReport;

use crate::client::with_query;
use crate::commands::Context;
use crate::error::CliError;
use crate::output::{format_bytes, short_hash};

/// Remove what nothing references: component blobs, compiled code, migration
/// snapshots, deleted tenants' data, audit entries past retention (operator).
///
/// Blobs and snapshots younger than an hour are kept (an upload or a promote
/// may be about to name them).
// Declared here rather than in `cli.rs`, which keeps the command tree short.
#[derive(Debug, clap::Args)]
pub struct GcArgs {
    /// Only list what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `POST /v1/gc[?dry_run=true]`.
pub fn gc(ctx: &Context, args: &GcArgs) -> Result<(), CliError> {
    let target = with_query("/v1/gc", &[("dry_run", Some(args.dry_run.to_string()))]);
    let report: GcReport = ctx.client.post_as(&target, &serde_json::Value::Null)?;
    ctx.show(&report, report_text);
    Ok(())
}

/// A report for people: one section per kind that has something, then the total.
fn report_text(report: &GcReport) -> String {
    let mut lines = vec![if report.dry_run {
        "dry run: nothing was removed; a collection now would remove:".to_owned()
    } else {
        "removed:".to_owned()
    }];
    let mut section = |title: &str, items: Vec<String>| {
        if !items.is_empty() {
            lines.push(format!("{title} ({}):", items.len()));
            lines.extend(items.into_iter().map(|item| format!("  {item}")));
        }
    };
    section(
        "component blobs no version uses",
        report
            .blobs
            .iter()
            .map(|blob| format!("{}  {}", short_hash(&blob.name), format_bytes(blob.bytes)))
            .collect(),
    );
    section(
        "compiled components",
        report
            .compiled
            .iter()
            .map(|file| {
                let reason = file.reason.as_deref().unwrap_or("-");
                format!(
                    "{}  {}  {reason}",
                    short_hash(&file.name),
                    format_bytes(file.bytes)
                )
            })
            .collect(),
    );
    section(
        "migration snapshots no history names",
        report
            .snapshots
            .iter()
            .map(|snapshot| {
                format!(
                    "{}  {} entries, {}",
                    snapshot.id,
                    snapshot.entries,
                    format_bytes(snapshot.bytes)
                )
            })
            .collect(),
    );
    section(
        "data of tenants that no longer exist",
        report
            .data_scopes
            .iter()
            .map(|scope| {
                format!(
                    "{}/{}  {} entries, {}",
                    scope.tenant,
                    scope.module,
                    scope.entries,
                    format_bytes(scope.bytes)
                )
            })
            .collect(),
    );
    if report.audit_entries > 0 {
        lines.push(format!("audit entries past retention: {}", report.audit_entries));
    }
    if lines.len() == 1 {
        return format!(
            "nothing to collect (blobs and snapshots younger than {} s are kept)",
            report.grace_secs
        );
    }
    lines.push(format!("total: {}", format_bytes(report.bytes)));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_report_lists_each_kind_then_the_total() {
        let report: GcReport = serde_json::from_value(json!({
            "dry_run": true,
            "blobs": [{"name": "ab".repeat(32), "bytes": 2048}],
            "compiled": [{"name": format!("{}-0123456789abcdef.cwasm", "cd".repeat(32)), "bytes": 4096, "reason": "other-engine"}],
            "snapshots": [{"id": 42, "entries": 3, "bytes": 100}],
            "data_scopes": [{"tenant": "gone", "module": "inventory", "entries": 1, "bytes": 10}],
            "audit_entries": 7, "bytes": 6254, "grace_secs": 3600
        }))
        .unwrap();
        assert_eq!(
            report_text(&report),
            "dry run: nothing was removed; a collection now would remove:\n\
             component blobs no version uses (1):\n  abababababab  2.0 KiB\n\
             compiled components (1):\n  cdcdcdcdcdcd  4.0 KiB  other-engine\n\
             migration snapshots no history names (1):\n  42  3 entries, 100 B\n\
             data of tenants that no longer exist (1):\n  gone/inventory  1 entries, 10 B\n\
             audit entries past retention: 7\n\
             total: 6.1 KiB"
        );
        let empty = GcReport {
            grace_secs: 3600,
            ..GcReport::default()
        };
        assert_eq!(
            report_text(&empty),
            "nothing to collect (blobs and snapshots younger than 3600 s are kept)"
        );
    }
}
