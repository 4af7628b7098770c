//! `modhost promote|rollback|disable|history`: moving and reading a tenant's deployment of a module.

use modhost_api::{
    Canary, CanaryAbort, CanaryRequest, Deployment, DeploymentChange, DeploymentHealth, PromoteRequest,
    RollbackRequest, VersionHealth,
};
use serde_json::json;

use crate::args::ModuleRef;
use crate::client::path;
use crate::commands::Context;
use crate::error::CliError;
use crate::output::{format_ms, show, table};

fn deployment_path(tenant: &str, module: &str, action: Option<&str>) -> String {
    match action {
        Some(action) => path(&["v1", "tenants", tenant, "deployments", module, action]),
        None => path(&["v1", "tenants", tenant, "deployments", module]),
    }
}

/// `POST …/deployments/{module}/promote`.
pub fn promote(ctx: &Context, tenant: &str, target: &ModuleRef, watch: Option<u64>) -> Result<(), CliError> {
    let change: DeploymentChange = ctx.client.post_as(
        &deployment_path(tenant, &target.module, Some("promote")),
        &PromoteRequest {
            version: target.version.to_string(),
            watch_secs: watch,
        },
    )?;
    ctx.show(&change, |change| describe_change(tenant, &target.module, change));
    Ok(())
}

/// `POST …/deployments/{module}/canary`: `target` serves `percent` of the tenant's callers.
pub fn canary(ctx: &Context, tenant: &str, target: &ModuleRef, percent: u8) -> Result<(), CliError> {
    let canary: Canary = ctx.client.post_as(
        &deployment_path(tenant, &target.module, Some("canary")),
        &CanaryRequest {
            version: target.version.to_string(),
            percent,
        },
    )?;
    ctx.show(&canary, |canary| {
        format!(
            "{tenant}/{}: canary {} serves {}% of callers; promote it or `modhost canary abort {tenant} {}`",
            target.module, canary.version, canary.percent, target.module
        )
    });
    Ok(())
}

/// `POST …/deployments/{module}/canary/abort`.
pub fn abort_canary(ctx: &Context, tenant: &str, module: &str) -> Result<(), CliError> {
    let answer: CanaryAbort = ctx.client.post_as(
        &path(&["v1", "tenants", tenant, "deployments", module, "canary", "abort"]),
        &json!({}),
    )?;
    ctx.show(&answer, |answer| match &answer.aborted {
        Some(canary) => format!(
            "{tenant}/{module}: canary {} ended; the active version serves everyone",
            canary.version
        ),
        None => format!("{tenant}/{module}: no canary was running"),
    });
    Ok(())
}

/// `POST …/deployments/{module}/rollback`, to the previous version or `to`.
pub fn rollback(ctx: &Context, tenant: &str, module: &str, to: Option<String>) -> Result<(), CliError> {
    let change: DeploymentChange = ctx.client.post_as(
        &deployment_path(tenant, module, Some("rollback")),
        &RollbackRequest { to },
    )?;
    ctx.show(&change, |change| describe_change(tenant, module, change));
    Ok(())
}

/// `POST …/deployments/{module}/disable`.
pub fn disable(ctx: &Context, tenant: &str, module: &str) -> Result<(), CliError> {
    let change: DeploymentChange = ctx.client.post_as(
        &deployment_path(tenant, module, Some("disable")),
        &serde_json::json!({}),
    )?;
    ctx.show(&change, |change| describe_change(tenant, module, change));
    Ok(())
}

/// `GET …/deployments/{module}/health`.
pub fn health(ctx: &Context, tenant: &str, module: &str) -> Result<(), CliError> {
    let health: DeploymentHealth = ctx
        .client
        .get_as(&deployment_path(tenant, module, Some("health")))?;
    ctx.show(&health, describe_health);
    Ok(())
}

fn milliseconds(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |ms| format!("{ms:.1}"))
}

fn health_row(label: &str, health: &VersionHealth) -> Vec<String> {
    vec![
        label.to_owned(),
        health.version.clone(),
        health.requests.to_string(),
        health.errors.to_string(),
        format!("{:.1}%", health.error_rate * 100.0),
        health.shed.to_string(),
        milliseconds(health.p50_ms),
        milliseconds(health.p99_ms),
    ]
}

fn describe_health(health: &DeploymentHealth) -> String {
    let header = [
        "",
        "version",
        "requests",
        "errors",
        "error rate",
        "shed",
        "p50 ms",
        "p99 ms",
    ];
    let mut rows: Vec<Vec<String>> = health
        .versions
        .iter()
        .map(|version| health_row(&format!("last {} s", health.span_secs), version))
        .collect();
    let mut text = String::new();
    if let Some(watch) = &health.watch {
        rows.push(health_row("baseline", &watch.baseline));
        rows.push(health_row("since promote", &watch.current));
        text = format!(
            "\nwatch of {} (after {}): {}{}",
            watch.version,
            watch.previous,
            watch.state,
            watch
                .verdict
                .as_ref()
                .map_or_else(String::new, |verdict| format!(": {verdict}"))
        );
    }
    if rows.is_empty() {
        return "no requests in the span and no watch".to_owned();
    }
    format!("{}{text}", table(&header, rows))
}

/// `GET …/deployments/{module}`.
pub fn history(ctx: &Context, tenant: &str, module: &str) -> Result<(), CliError> {
    let deployment: Deployment = ctx.client.get_as(&deployment_path(tenant, module, None))?;
    ctx.show(&deployment, |deployment| {
        describe_history(tenant, module, deployment)
    });
    Ok(())
}

/// A version for people: `none` when disabled.
fn version(version: Option<&String>) -> String {
    version.map_or_else(|| "none".to_owned(), Clone::clone)
}

/// A promote, rollback or disable answer as a sentence or two.
fn describe_change(tenant: &str, module: &str, change: &DeploymentChange) -> String {
    let from = version(change.from.as_ref());
    let to = version(change.to.as_ref());
    let mut out = if !change.changed {
        match change.to {
            None => format!("{tenant}/{module} is already disabled; nothing changed"),
            Some(_) => format!("{tenant}/{module} is already at {to}; nothing changed"),
        }
    } else if change.to.is_none() {
        format!("{tenant}/{module}: disabled (was {from})")
    } else {
        format!("{tenant}/{module}: {from} -> {to}")
    };
    if change.changed
        && let Some(seq) = change.seq
    {
        out.push_str(&format!(" (deployment event #{seq})"));
    }
    if let Some(snapshot) = change.restored_snapshot {
        out.push_str(&format!(
            "\nrestored data snapshot {snapshot}: the module's data is back as {to} left it; writes made since were discarded"
        ));
    }
    out
}

/// A deployment and its history, newest first.
fn describe_history(tenant: &str, module: &str, deployment: &Deployment) -> String {
    let mut head = format!(
        "{tenant}/{module}: active {}",
        version(deployment.active.as_ref())
    );
    if let Some(canary) = &deployment.canary {
        head.push_str(&format!(
            ", canary {} for {}% of callers (started by {})",
            canary.version, canary.percent, canary.started_by
        ));
    }
    if deployment.history.is_empty() {
        return format!("{head}\nno deployment history");
    }
    let rows = deployment
        .history
        .iter()
        .rev()
        .map(|event| {
            let mut snapshot = Vec::new();
            if let Some(taken) = event.snapshot {
                snapshot.push(format!("took {taken}"));
            }
            if let Some(restored) = event.restored_snapshot {
                snapshot.push(format!("restored {restored}"));
            }
            vec![
                event.seq.to_string(),
                show(&json!(event.action)),
                event.from.clone().unwrap_or_else(|| "-".into()),
                event.to.clone().unwrap_or_else(|| "-".into()),
                event.actor.clone(),
                format_ms(event.at_ms),
                if snapshot.is_empty() {
                    "-".into()
                } else {
                    snapshot.join(", ")
                },
            ]
        })
        .collect();
    format!(
        "{head}\n{}",
        table(&["seq", "action", "from", "to", "by", "at", "snapshot"], rows)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(value: serde_json::Value) -> DeploymentChange {
        let mut full = json!({"tenant": "banban", "module": "inventory", "restored_snapshot": null});
        for (key, value) in value.as_object().cloned().unwrap_or_default() {
            full[key] = value;
        }
        serde_json::from_value(full).unwrap()
    }

    fn typed_deployment(value: serde_json::Value) -> Deployment {
        let mut full = json!({"tenant": "banban", "module": "inventory"});
        for (key, value) in value.as_object().cloned().unwrap_or_default() {
            full[key] = value;
        }
        serde_json::from_value(full).unwrap()
    }

    #[test]
    fn changes_read_as_sentences() {
        let promoted = change(json!({"from": "1.0.0", "to": "1.1.0", "changed": true, "seq": 4}));
        assert_eq!(
            describe_change("banban", "inventory", &promoted),
            "banban/inventory: 1.0.0 -> 1.1.0 (deployment event #4)"
        );
        let first = change(json!({"from": null, "to": "1.0.0", "changed": true, "seq": 1}));
        assert_eq!(
            describe_change("banban", "inventory", &first),
            "banban/inventory: none -> 1.0.0 (deployment event #1)"
        );
        let same = change(json!({"from": "1.1.0", "to": "1.1.0", "changed": false, "seq": 4}));
        assert_eq!(
            describe_change("banban", "inventory", &same),
            "banban/inventory is already at 1.1.0; nothing changed"
        );
        let disabled = change(json!({"from": "1.1.0", "to": null, "changed": true, "seq": 5}));
        assert_eq!(
            describe_change("banban", "inventory", &disabled),
            "banban/inventory: disabled (was 1.1.0) (deployment event #5)"
        );
        let restored = change(
            json!({"from": "2.0.0", "to": "1.1.0", "changed": true, "seq": 6, "restored_snapshot": 3}),
        );
        assert!(describe_change("banban", "inventory", &restored).ends_with(
            "\nrestored data snapshot 3: the module's data is back as 1.1.0 left it; writes made since were discarded"
        ));
    }

    #[test]
    fn history_newest_first() {
        let deployment = typed_deployment(json!({"module": "inventory", "active": "1.1.0", "history": [
            {"seq": 1, "action": "promote", "from": null, "to": "1.0.0", "actor": "ops", "at_ms": 0},
            {"seq": 2, "action": "promote", "from": "1.0.0", "to": "1.1.0", "actor": "ops", "at_ms": 1000, "snapshot": 7}
        ]}));
        assert_eq!(
            describe_history("banban", "inventory", &deployment),
            "banban/inventory: active 1.1.0\n\
             SEQ  ACTION   FROM   TO     BY   AT                   SNAPSHOT\n\
             2    promote  1.0.0  1.1.0  ops  1970-01-01 00:00:01  took 7\n\
             1    promote  -      1.0.0  ops  1970-01-01 00:00:00  -"
        );
        assert_eq!(
            describe_history(
                "t",
                "m",
                &typed_deployment(json!({"active": null, "history": []}))
            ),
            "t/m: active none\nno deployment history"
        );
    }
}
