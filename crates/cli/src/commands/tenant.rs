//! `modhost tenant create|list|show`.

use modhost_api::{DeploymentList, NewTenant, Tenant};
use serde_json::Value;

use crate::client::{path, typed};
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
