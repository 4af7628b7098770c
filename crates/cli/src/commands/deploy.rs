//! `modhost promote|rollback|disable|history`: moving and reading a tenant's deployment of a module.

use serde_json::{Value, json};

use crate::args::ModuleRef;
use crate::client::path;
use crate::commands::Context;
use crate::error::CliError;
use crate::output::{list, show, table, text, time};

fn deployment_path(tenant: &str, module: &str, action: Option<&str>) -> String {
    match action {
        Some(action) => path(&["v1", "tenants", tenant, "deployments", module, action]),
        None => path(&["v1", "tenants", tenant, "deployments", module]),
    }
}

/// `POST …/deployments/{module}/promote`.
pub fn promote(ctx: &Context, tenant: &str, target: &ModuleRef) -> Result<(), CliError> {
    let change = ctx.client.post(
        &deployment_path(tenant, &target.module, Some("promote")),
        &json!({"version": target.version}),
    )?;
    ctx.show(&change, |change| describe_change(tenant, &target.module, change));
    Ok(())
}

/// `POST …/deployments/{module}/rollback`, to the previous version or `to`.
pub fn rollback(ctx: &Context, tenant: &str, module: &str, to: Option<String>) -> Result<(), CliError> {
    let body = match to {
        Some(version) => json!({"to": version}),
        None => json!({}),
    };
    let change = ctx
        .client
        .post(&deployment_path(tenant, module, Some("rollback")), &body)?;
    ctx.show(&change, |change| describe_change(tenant, module, change));
    Ok(())
}

/// `POST …/deployments/{module}/disable`.
pub fn disable(ctx: &Context, tenant: &str, module: &str) -> Result<(), CliError> {
    let change = ctx
        .client
        .post(&deployment_path(tenant, module, Some("disable")), &json!({}))?;
    ctx.show(&change, |change| describe_change(tenant, module, change));
    Ok(())
}

/// `GET …/deployments/{module}`.
pub fn history(ctx: &Context, tenant: &str, module: &str) -> Result<(), CliError> {
    let deployment = ctx.client.get(&deployment_path(tenant, module, None))?;
    ctx.show(&deployment, |deployment| {
        describe_history(tenant, module, deployment)
    });
    Ok(())
}

/// A version for people: `none` when disabled.
fn version(value: &Value, key: &str) -> String {
    match value.get(key) {
        None | Some(Value::Null) => "none".to_owned(),
        Some(other) => show(other),
    }
}

/// `{"from","to","changed","seq","restored_snapshot"?}` as a sentence or two.
fn describe_change(tenant: &str, module: &str, change: &Value) -> String {
    let from = version(change, "from");
    let to = version(change, "to");
    let changed = change.get("changed").and_then(Value::as_bool).unwrap_or(true);
    let mut out = if !changed {
        match change.get("to") {
            Some(Value::Null) => format!("{tenant}/{module} is already disabled; nothing changed"),
            _ => format!("{tenant}/{module} is already at {to}; nothing changed"),
        }
    } else if change.get("to").is_some_and(Value::is_null) {
        format!("{tenant}/{module}: disabled (was {from})")
    } else {
        format!("{tenant}/{module}: {from} -> {to}")
    };
    if changed && let Some(seq) = change.get("seq").filter(|seq| !seq.is_null()) {
        out.push_str(&format!(" (deployment event #{})", show(seq)));
    }
    if let Some(snapshot) = change
        .get("restored_snapshot")
        .filter(|snapshot| !snapshot.is_null())
    {
        out.push_str(&format!(
            "\nrestored data snapshot {}: the module's data is back as {to} left it; writes made since were discarded",
            show(snapshot)
        ));
    }
    out
}

/// A deployment and its history, newest first.
fn describe_history(tenant: &str, module: &str, deployment: &Value) -> String {
    let head = format!("{tenant}/{module}: active {}", version(deployment, "active"));
    let history = list(deployment, "history");
    if history.is_empty() {
        return format!("{head}\nno deployment history");
    }
    let rows = history
        .iter()
        .rev()
        .map(|event| {
            let mut snapshot = Vec::new();
            if let Some(taken) = event.get("snapshot").filter(|value| !value.is_null()) {
                snapshot.push(format!("took {}", show(taken)));
            }
            if let Some(restored) = event.get("restored_snapshot").filter(|value| !value.is_null()) {
                snapshot.push(format!("restored {}", show(restored)));
            }
            vec![
                text(event, "seq"),
                text(event, "action"),
                text(event, "from"),
                text(event, "to"),
                text(event, "actor"),
                time(event, "at_ms"),
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

    #[test]
    fn changes_read_as_sentences() {
        let promoted = json!({"from": "1.0.0", "to": "1.1.0", "changed": true, "seq": 4});
        assert_eq!(
            describe_change("banban", "inventory", &promoted),
            "banban/inventory: 1.0.0 -> 1.1.0 (deployment event #4)"
        );
        let first = json!({"from": null, "to": "1.0.0", "changed": true, "seq": 1});
        assert_eq!(
            describe_change("banban", "inventory", &first),
            "banban/inventory: none -> 1.0.0 (deployment event #1)"
        );
        let same = json!({"from": "1.1.0", "to": "1.1.0", "changed": false, "seq": 4});
        assert_eq!(
            describe_change("banban", "inventory", &same),
            "banban/inventory is already at 1.1.0; nothing changed"
        );
        let disabled = json!({"from": "1.1.0", "to": null, "changed": true, "seq": 5});
        assert_eq!(
            describe_change("banban", "inventory", &disabled),
            "banban/inventory: disabled (was 1.1.0) (deployment event #5)"
        );
        let restored =
            json!({"from": "2.0.0", "to": "1.1.0", "changed": true, "seq": 6, "restored_snapshot": 3});
        assert!(describe_change("banban", "inventory", &restored).ends_with(
            "\nrestored data snapshot 3: the module's data is back as 1.1.0 left it; writes made since were discarded"
        ));
    }

    #[test]
    fn history_newest_first() {
        let deployment = json!({"module": "inventory", "active": "1.1.0", "history": [
            {"seq": 1, "action": "promote", "from": null, "to": "1.0.0", "actor": "ops", "at_ms": 0},
            {"seq": 2, "action": "promote", "from": "1.0.0", "to": "1.1.0", "actor": "ops", "at_ms": 1000, "snapshot": 7}
        ]});
        assert_eq!(
            describe_history("banban", "inventory", &deployment),
            "banban/inventory: active 1.1.0\n\
             SEQ  ACTION   FROM   TO     BY   AT                   SNAPSHOT\n\
             2    promote  1.0.0  1.1.0  ops  1970-01-01 00:00:01  took 7\n\
             1    promote  -      1.0.0  ops  1970-01-01 00:00:00  -"
        );
        assert_eq!(
            describe_history("t", "m", &json!({"active": null, "history": []})),
            "t/m: active none\nno deployment history"
        );
    }
}
