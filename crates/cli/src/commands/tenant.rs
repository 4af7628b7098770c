//! `modhost tenant create|list|show|suspend|resume|delete`.

use modhost_api::{DeletedTenant, DeploymentList, NewTenant, SuspendRequest, Tenant};
use serde_json::Value;

use crate::client::{path, typed, with_query};
use crate::commands::Context;
use crate::error::CliError;
use crate::output::{self, fields, format_ms, table};
use modhost_api::TenantKind;

/// `POST /v1/tenants`.
pub fn create(
    ctx: &Context,
    id: &str,
    name: &str,
    kind: TenantKind,
    features: &[String],
) -> Result<(), CliError> {
    let body = NewTenant {
        id: id.to_owned(),
        name: name.to_owned(),
        kind,
        organisation: modhost_api::Organisation::default(),
        features: features.iter().cloned().collect(),
        plan: None,
        monthly_value_cents: None,
    };
    let tenant: Tenant = ctx.client.post_as("/v1/tenants", &body)?;
    ctx.show(&tenant, |tenant| {
        format!(
            "created tenant {} ({})\n{}",
            tenant.id,
            kind_name(tenant.kind),
            describe(tenant)
        )
    });
    Ok(())
}

/// `GET /v1/tenants`.
pub fn list(ctx: &Context) -> Result<(), CliError> {
    let answer = ctx.client.get("/v1/tenants")?;
    let list: Vec<Tenant> = tenants(&answer)
        .iter()
        .map(|tenant| typed("/v1/tenants", tenant.clone()))
        .collect::<Result<_, _>>()?;
    ctx.show(&list, |tenants| {
        if tenants.is_empty() {
            return "no tenants".into();
        }
        let rows = tenants
            .iter()
            .map(|tenant| {
                vec![
                    tenant.id.clone(),
                    tenant.name.clone(),
                    kind_name(tenant.kind).to_owned(),
                    features_text(tenant),
                    format_ms(tenant.created_at_ms),
                ]
            })
            .collect();
        table(&["id", "name", "kind", "features", "created"], rows)
    });
    Ok(())
}

/// `GET /v1/tenants/{tenant}`, and for people its deployments too.
pub fn show(ctx: &Context, id: &str) -> Result<(), CliError> {
    let tenant: Tenant = ctx.client.get_as(&path(&["v1", "tenants", id]))?;
    if ctx.json {
        output::print_json(&serde_json::to_value(&tenant).unwrap_or(Value::Null));
        return Ok(());
    }
    let mut out = describe(&tenant);
    // Deployments are a second read the caller may not be allowed; the tenant alone is still an answer.
    match ctx
        .client
        .get_as::<DeploymentList>(&path(&["v1", "tenants", id, "deployments"]))
    {
        Ok(answer) => out.push_str(&format!("\n\n{}", deployments(&answer))),
        Err(CliError::Api(error)) if error.status == 403 => {}
        Err(error) => return Err(error),
    }
    output::print(&out);
    Ok(())
}

/// `modhost tenant suspend|resume|delete`, flattened into `modhost tenant`
/// (declared here so the command tree in `cli.rs` stays short).
#[derive(Debug, clap::Subcommand)]
pub enum Lifecycle {
    /// Suspend a tenant (operator): its modules answer `423` until it is resumed; nothing is removed.
    Suspend {
        /// The tenant.
        id: String,
        /// Why; kept with the suspension and in the audit log.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Resume a suspended tenant (operator): its modules serve again.
    Resume {
        /// The tenant.
        id: String,
    },
    /// Delete a tenant with its deployments, config, data, tokens, alerting
    /// and custom modules (operator), after storing a final backup.
    Delete {
        /// The tenant.
        id: String,
        /// Delete without taking a final backup first.
        #[arg(long)]
        no_backup: bool,
        /// Confirm the deletion (it cannot be undone but by restoring the final backup).
        #[arg(long)]
        yes: bool,
    },
}

/// Runs a [`Lifecycle`] command.
pub fn lifecycle(ctx: &Context, command: Lifecycle) -> Result<(), CliError> {
    match command {
        Lifecycle::Suspend { id, reason } => {
            let tenant: Tenant = ctx.client.post_as(
                &path(&["v1", "tenants", &id, "suspend"]),
                &SuspendRequest { reason },
            )?;
            ctx.show(&tenant, |tenant| {
                format!(
                    "suspended tenant {}: its modules answer 423 until `modhost tenant resume {}`\n{}",
                    tenant.id,
                    tenant.id,
                    describe(tenant)
                )
            });
        }
        Lifecycle::Resume { id } => {
            let tenant: Tenant = ctx
                .client
                .post_as(&path(&["v1", "tenants", &id, "resume"]), &Value::Null)?;
            ctx.show(&tenant, |tenant| {
                format!("resumed tenant {}\n{}", tenant.id, describe(tenant))
            });
        }
        Lifecycle::Delete { id, no_backup, yes } => {
            confirm_delete(&id, no_backup, yes)?;
            let target = with_query(
                &path(&["v1", "tenants", &id]),
                &[("final_backup", Some((!no_backup).to_string()))],
            );
            let deleted: DeletedTenant = ctx.client.delete_as(&target)?;
            ctx.show(&deleted, deleted_text);
        }
    }
    Ok(())
}

/// Refuses a delete without `--yes`, saying what it would remove.
fn confirm_delete(id: &str, no_backup: bool, yes: bool) -> Result<(), CliError> {
    if yes {
        return Ok(());
    }
    let backup = if no_backup {
        "without a final backup"
    } else {
        "after storing a final backup on the server"
    };
    Err(CliError::Usage(format!(
        "deleting tenant `{id}` removes its deployments, config, data, tokens, alerting and custom modules for good ({backup}); run it again with --yes to confirm"
    )))
}

/// What a delete removed, for people.
fn deleted_text(deleted: &DeletedTenant) -> String {
    let backup = match &deleted.final_backup {
        Some(backup) => format!("{} ({})", backup.path, output::format_bytes(backup.bytes)),
        None => "none (--no-backup)".to_owned(),
    };
    let mut pairs = vec![
        ("final backup", backup),
        ("deployments", deleted.deployments.to_string()),
        ("configs", deleted.configs.to_string()),
        (
            "data",
            format!(
                "{} entries, {} ({} snapshots)",
                deleted.kv_entries,
                output::format_bytes(deleted.kv_bytes),
                deleted.snapshots
            ),
        ),
        ("tokens", deleted.tokens.to_string()),
        (
            "alerting",
            format!(
                "{} rules, {} channels, {} alerts, {} deliveries",
                deleted.alert_rules, deleted.channels, deleted.alerts, deleted.deliveries
            ),
        ),
    ];
    if deleted.backup_schedule {
        pairs.push(("backup schedule", "removed (stored backups stay)".to_owned()));
    }
    if !deleted.module_versions.is_empty() {
        pairs.push(("custom modules", deleted.module_versions.join(", ")));
    }
    if !deleted.kept_module_versions.is_empty() {
        pairs.push(("kept (in use)", deleted.kept_module_versions.join(", ")));
    }
    format!(
        "deleted tenant {}; components no version uses any more go at the next `modhost gc`\n{}",
        deleted.tenant,
        fields(&pairs)
    )
}

/// The tenants of a `GET /v1/tenants` answer: `{"tenants": [...]}` or a bare array.
fn tenants(answer: &Value) -> &[Value] {
    match answer {
        Value::Array(items) => items,
        other => output::list(other, "tenants"),
    }
}

fn kind_name(kind: TenantKind) -> &'static str {
    kind.name()
}

fn features_text(tenant: &Tenant) -> String {
    if tenant.features.is_empty() {
        "-".to_owned()
    } else {
        tenant.features.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// One tenant as aligned fields.
fn describe(tenant: &Tenant) -> String {
    let organisation = &tenant.organisation;
    let mut pairs = vec![
        ("id", tenant.id.clone()),
        ("name", tenant.name.clone()),
        ("kind", kind_name(tenant.kind).to_owned()),
        ("features", features_text(tenant)),
    ];
    for (value, label) in [
        (&organisation.legal_name, "legal name"),
        (&organisation.country, "country"),
        (&organisation.contact_email, "contact"),
    ] {
        if let Some(value) = value {
            pairs.push((label, value.clone()));
        }
    }
    pairs.push(("created", format_ms(tenant.created_at_ms)));
    pairs.push(("updated", format_ms(tenant.updated_at_ms)));
    if let Some(suspension) = &tenant.suspended {
        let reason = suspension
            .reason
            .as_ref()
            .map_or_else(String::new, |reason| format!(": {reason}"));
        pairs.push((
            "suspended",
            format!("since {}{reason}", format_ms(suspension.at_ms)),
        ));
    }
    fields(&pairs)
}

/// A tenant's deployments as a table.
fn deployments(answer: &DeploymentList) -> String {
    if answer.deployments.is_empty() {
        return "no modules deployed".into();
    }
    let rows = answer
        .deployments
        .iter()
        .map(|deployment| {
            let last = deployment.history.last();
            let dash = || "-".to_owned();
            vec![
                deployment.module.clone(),
                deployment.active.clone().unwrap_or_else(dash),
                last.map_or_else(dash, |event| output::show(&serde_json::json!(event.action))),
                last.map_or_else(dash, |event| format_ms(event.at_ms)),
                last.map_or_else(dash, |event| event.actor.clone()),
            ]
        })
        .collect();
    table(&["module", "active", "last change", "at", "by"], rows)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn typed<T: serde::de::DeserializeOwned>(value: Value) -> T {
        serde_json::from_value(value).unwrap()
    }

    /// Fills in the `tenant` of each deployment, which the answer carries.
    fn deployment_list(mut value: Value) -> DeploymentList {
        for deployment in value["deployments"].as_array_mut().unwrap() {
            deployment["tenant"] = json!("banban");
        }
        typed(value)
    }

    #[test]
    fn tenant_lists_come_wrapped_or_bare() {
        let tenant = json!({"id": "banban"});
        assert_eq!(tenants(&json!({"tenants": [tenant.clone()]})).len(), 1);
        assert_eq!(tenants(&json!([tenant])).len(), 1);
        assert!(tenants(&json!({})).is_empty());
    }

    #[test]
    fn describes_a_tenant() {
        let tenant = json!({
            "id": "banban", "name": "Banban", "kind": "custom",
            "organisation": {"country": "FR"}, "features": ["beta"],
            "created_at_ms": 0, "updated_at_ms": 0
        });
        assert_eq!(
            describe(&typed(tenant)),
            "id:        banban\nname:      Banban\nkind:      custom\nfeatures:  beta\ncountry:   FR\n\
             created:   1970-01-01 00:00:00\nupdated:   1970-01-01 00:00:00"
        );
    }

    #[test]
    fn a_delete_without_yes_is_refused_saying_what_it_would_remove() {
        let error = confirm_delete("banban", false, false).unwrap_err();
        assert_eq!(error.exit_code(), 2);
        assert_eq!(
            error.render(),
            "error: deleting tenant `banban` removes its deployments, config, data, tokens, alerting and custom modules for good (after storing a final backup on the server); run it again with --yes to confirm"
        );
        let error = confirm_delete("banban", true, false).unwrap_err();
        assert!(
            error.render().contains("(without a final backup)"),
            "{}",
            error.render()
        );
        assert!(confirm_delete("banban", true, true).is_ok());
    }

    #[test]
    fn describes_a_suspension_and_a_deletion() {
        let tenant = json!({
            "id": "banban", "name": "Banban", "kind": "custom", "organisation": {}, "features": [],
            "created_at_ms": 0, "updated_at_ms": 0, "suspended": {"at_ms": 86_400_000, "reason": "unpaid"}
        });
        assert!(
            describe(&typed(tenant)).ends_with("\nsuspended:  since 1970-01-02 00:00:00: unpaid"),
            "a suspended tenant says since when and why"
        );
        let deleted: DeletedTenant = typed(json!({
            "tenant": "banban", "final_backup": {"path": "/b/banban/1.mhbk", "bytes": 2048},
            "deployments": 2, "configs": 1, "canaries": 0, "kv_entries": 3, "kv_bytes": 33, "snapshots": 1,
            "tokens": 2, "alert_rules": 1, "channels": 1, "alerts": 0, "deliveries": 0,
            "module_versions": ["banban@1.0.0"]
        }));
        assert_eq!(
            deleted_text(&deleted),
            "deleted tenant banban; components no version uses any more go at the next `modhost gc`\n\
             final backup:    /b/banban/1.mhbk (2.0 KiB)\n\
             deployments:     2\n\
             configs:         1\n\
             data:            3 entries, 33 B (1 snapshots)\n\
             tokens:          2\n\
             alerting:        1 rules, 1 channels, 0 alerts, 0 deliveries\n\
             custom modules:  banban@1.0.0"
        );
    }

    #[test]
    fn deployments_table() {
        let answer = json!({"deployments": [
            {"module": "inventory", "active": "1.1.0", "history": [
                {"seq": 1, "action": "promote", "from": null, "to": "1.1.0", "actor": "ops (operator)", "at_ms": 0}
            ]},
            {"module": "analytics", "active": null, "history": []}
        ]});
        assert_eq!(
            deployments(&deployment_list(answer)),
            "MODULE     ACTIVE  LAST CHANGE  AT                   BY\n\
             inventory  1.1.0   promote      1970-01-01 00:00:00  ops (operator)\n\
             analytics  -       -            -                    -"
        );
        assert_eq!(
            deployments(&deployment_list(json!({"deployments": []}))),
            "no modules deployed"
        );
    }
}
