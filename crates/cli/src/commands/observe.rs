//! `modhost status|audit`: what is serving, who did what (`modhost logs` is `logs.rs`).

use modhost_api::{AuditList, AuditOutcome, DataUsage, Status};

use crate::client::with_query;
use crate::commands::Context;
use crate::error::CliError;
use crate::output::{format_ms, table};

/// `GET /v1/status`.
pub fn status(ctx: &Context) -> Result<(), CliError> {
    let status: Status = ctx.client.get_as("/v1/status")?;
    ctx.show(&status, describe_status);
    Ok(())
}

fn dash(value: Option<&String>) -> String {
    value.map_or_else(|| "-".to_owned(), Clone::clone)
}

/// `3 keys, 120 B of 64 MiB` (the quota once a version has served).
fn describe_data(data: &DataUsage) -> String {
    let mut out = format!("{} keys, {}", data.keys, human_bytes(data.bytes));
    if let Some(max_bytes) = data.max_bytes {
        out.push_str(&format!(" of {}", human_bytes(max_bytes)));
    }
    out
}

fn human_bytes(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    } else {
        format!("{bytes} B")
    }
}

fn describe_status(status: &Status) -> String {
    let routes = &status.routes;
    let mut out = if routes.is_empty() {
        "no modules enabled".to_owned()
    } else {
        let rows = routes
            .iter()
            .map(|route| {
                vec![
                    route.tenant.clone(),
                    route.module.clone(),
                    route.active.clone(),
                    dash(route.serving.as_ref()),
                    describe_data(&route.data),
                    dash(route.problem.as_ref()),
                ]
            })
            .collect();
        table(
            &["tenant", "module", "active", "serving", "data", "problem"],
            rows,
        )
    };
    out.push_str(&format!(
        "\n\nswaps: {}  fallbacks: {}\nalerts firing: {}  acknowledged: {}  notifications pending: {}  given up: {}",
        status.swaps,
        status.fallbacks,
        status.alerts_firing,
        status.alerts_acknowledged,
        status.notifications_pending,
        status.notifications_failed
    ));
    let backups = &status.backups;
    if backups.scheduled > 0 {
        out.push_str(&format!(
            "\nbackups scheduled: {}  failing: {}",
            backups.scheduled, backups.failing
        ));
    }
    if let Some(failure) = &backups.last_failure {
        out.push_str(&format!(
            "  last failure: {} at {}: {}",
            failure.tenant,
            format_ms(failure.at_ms),
            failure.error
        ));
    }
    out
}

/// The filters of `GET /v1/audit`.
#[derive(Debug, Default)]
pub struct AuditFilter {
    /// Only this tenant's entries.
    pub tenant: Option<String>,
    /// Only this actor's.
    pub actor: Option<String>,
    /// Only actions starting with this.
    pub action: Option<String>,
    /// Only entries from this many seconds ago on.
    pub since_secs: Option<u64>,
    /// Only entries up to this many seconds ago.
    pub until_secs: Option<u64>,
    /// Only entries with a larger id.
    pub after: Option<u64>,
    /// At most this many.
    pub limit: Option<u32>,
}

impl AuditFilter {
    /// The query pairs of the filters both `GET /v1/audit` and its export take.
    pub fn pairs(&self) -> Vec<(&'static str, Option<String>)> {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX));
        let ago =
            |secs: Option<u64>| secs.map(|secs| now_ms.saturating_sub(secs.saturating_mul(1000)).to_string());
        vec![
            ("tenant", self.tenant.clone()),
            ("actor", self.actor.clone()),
            ("action", self.action.clone()),
            ("since_ms", ago(self.since_secs)),
            ("until_ms", ago(self.until_secs)),
        ]
    }
}

/// `GET /v1/audit?tenant=&actor=&action=&since_ms=&until_ms=&after=&limit=`.
pub fn audit(ctx: &Context, filter: &AuditFilter) -> Result<(), CliError> {
    let mut pairs = filter.pairs();
    pairs.push(("after", filter.after.map(|after| after.to_string())));
    pairs.push(("limit", filter.limit.map(|limit| limit.to_string())));
    let query = with_query("/v1/audit", &pairs);
    let answer: AuditList = ctx.client.get_as(&query)?;
    ctx.show(&answer, describe_audit);
    Ok(())
}

fn describe_audit(answer: &AuditList) -> String {
    let entries = &answer.entries;
    let listed = if entries.is_empty() {
        "no audit entries".to_owned()
    } else {
        audit_table(entries)
    };
    match answer.next_after {
        Some(after) => format!("{listed}\nmore may follow: add --after {after}"),
        None => listed,
    }
}

fn audit_table(entries: &[modhost_api::AuditEntry]) -> String {
    let rows = entries
        .iter()
        .map(|entry| {
            vec![
                entry.id.to_string(),
                format_ms(entry.at_ms),
                entry.actor.clone(),
                entry.action.clone(),
                entry.target.clone(),
                match entry.outcome {
                    AuditOutcome::Ok => "ok",
                    AuditOutcome::Denied => "denied",
                    AuditOutcome::Failed => "failed",
                }
                .to_owned(),
                dash(entry.detail.as_ref()),
            ]
        })
        .collect();
    table(
        &["id", "at", "actor", "action", "target", "outcome", "detail"],
        rows,
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn typed<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn status_table() {
        let status = json!({"routes": [
            {"tenant": "banban", "module": "inventory", "active": "1.1.0", "serving": "1.0.0", "problem": "compile failed",
             "data": {"keys": 3, "bytes": 120, "max_keys": 100000, "max_bytes": 67108864}},
            {"tenant": "globex", "module": "inventory", "active": "1.1.0", "serving": null, "problem": null,
             "data": {"keys": 2, "bytes": 1572864, "max_keys": null, "max_bytes": null}}
        ], "swaps": 3, "fallbacks": 1, "compiled": 0, "compile_cache_loads": 0,
            "alerts_firing": 2, "alerts_acknowledged": 1, "notifications_pending": 4, "notifications_failed": 0});
        assert_eq!(
            describe_status(&typed(status)),
            "TENANT  MODULE     ACTIVE  SERVING  DATA                     PROBLEM\n\
             banban  inventory  1.1.0   1.0.0    3 keys, 120 B of 64 MiB  compile failed\n\
             globex  inventory  1.1.0   -        2 keys, 1.5 MiB          -\n\
             \n\
             swaps: 3  fallbacks: 1\n\
             alerts firing: 2  acknowledged: 1  notifications pending: 4  given up: 0"
        );
        let status = json!({"routes": [], "swaps": 0, "fallbacks": 0, "compiled": 0, "compile_cache_loads": 0,
            "alerts_firing": 0, "alerts_acknowledged": 0, "notifications_pending": 0, "notifications_failed": 0,
            "backups": {"scheduled": 2, "failing": 1,
                "last_failure": {"tenant": "acme", "at_ms": 0, "error": "the backup could not be stored"}}});
        assert!(
            describe_status(&typed(status)).ends_with(
                "\nbackups scheduled: 2  failing: 1  last failure: acme at 1970-01-01 00:00:00: the backup could not be stored"
            )
        );
    }

    #[test]
    fn audit_entries() {
        let answer = json!({"entries": [{"id": 7, "at_ms": 0, "actor": "ops (operator)", "action": "deployment.promote",
            "target": "banban/inventory@1.1.0", "tenant": "banban", "outcome": "ok", "detail": null}]});
        assert_eq!(
            describe_audit(&typed(answer)),
            "ID  AT                   ACTOR           ACTION              TARGET                  OUTCOME  DETAIL\n\
             7   1970-01-01 00:00:00  ops (operator)  deployment.promote  banban/inventory@1.1.0  ok       -"
        );
        assert_eq!(describe_audit(&typed(json!({"entries": []}))), "no audit entries");
        assert_eq!(
            describe_audit(&typed(json!({"entries": [], "next_after": 50000}))),
            "no audit entries\nmore may follow: add --after 50000"
        );
    }
}
