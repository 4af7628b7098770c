//! `modhost tenant create|list|show`.

use serde_json::{Value, json};

use crate::TenantKind;
use crate::client::path;
use crate::commands::Context;
use crate::error::CliError;
use crate::output::{self, fields, table, text, time};

/// `POST /v1/tenants`.
pub fn create(
    ctx: &Context,
    id: &str,
    name: &str,
    kind: TenantKind,
    features: &[String],
) -> Result<(), CliError> {
    let kind = match kind {
        TenantKind::Standard => "standard",
        TenantKind::Custom => "custom",
    };
    let body = json!({"id": id, "name": name, "kind": kind, "features": features});
    let tenant = ctx.client.post("/v1/tenants", &body)?;
    ctx.show(&tenant, |tenant| {
        format!(
            "created tenant {} ({})\n{}",
            text(tenant, "id"),
            text(tenant, "kind"),
            describe(tenant)
        )
    });
    Ok(())
}

/// `GET /v1/tenants`.
pub fn list(ctx: &Context) -> Result<(), CliError> {
    let answer = ctx.client.get("/v1/tenants")?;
    ctx.show(&answer, |answer| {
        let tenants = tenants(answer);
        if tenants.is_empty() {
            return "no tenants".into();
        }
        let rows = tenants
            .iter()
            .map(|tenant| {
                vec![
                    text(tenant, "id"),
                    text(tenant, "name"),
                    text(tenant, "kind"),
                    text(tenant, "features"),
                    time(tenant, "created_at_ms"),
                ]
            })
            .collect();
        table(&["id", "name", "kind", "features", "created"], rows)
    });
    Ok(())
}

/// `GET /v1/tenants/{tenant}`, and for people its deployments too.
pub fn show(ctx: &Context, id: &str) -> Result<(), CliError> {
    let tenant = ctx.client.get(&path(&["v1", "tenants", id]))?;
    if ctx.json {
        output::print_json(&tenant);
        return Ok(());
    }
    let mut out = describe(&tenant);
    // Deployments are a second read the caller may not be allowed; the tenant alone is still an answer.
    match ctx.client.get(&path(&["v1", "tenants", id, "deployments"])) {
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

/// One tenant as aligned fields.
fn describe(tenant: &Value) -> String {
    let organisation = tenant.get("organisation").unwrap_or(&Value::Null);
    let mut pairs = vec![
        ("id", text(tenant, "id")),
        ("name", text(tenant, "name")),
        ("kind", text(tenant, "kind")),
        ("features", text(tenant, "features")),
    ];
    for (key, label) in [
        ("legal_name", "legal name"),
        ("country", "country"),
        ("contact_email", "contact"),
    ] {
        if organisation.get(key).is_some_and(|value| !value.is_null()) {
            pairs.push((label, text(organisation, key)));
        }
    }
    pairs.push(("created", time(tenant, "created_at_ms")));
    pairs.push(("updated", time(tenant, "updated_at_ms")));
    fields(&pairs)
}

/// A `{"deployments": [...]}` answer as a table.
fn deployments(answer: &Value) -> String {
    let deployments = output::list(answer, "deployments");
    if deployments.is_empty() {
        return "no modules deployed".into();
    }
    let rows = deployments
        .iter()
        .map(|deployment| {
            let last = output::list(deployment, "history")
                .last()
                .cloned()
                .unwrap_or(Value::Null);
            vec![
                text(deployment, "module"),
                output::show(deployment.get("active").unwrap_or(&Value::Null)),
                text(&last, "action"),
                time(&last, "at_ms"),
                text(&last, "actor"),
            ]
        })
        .collect();
    table(&["module", "active", "last change", "at", "by"], rows)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            describe(&tenant),
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
            deployments(&answer),
            "MODULE     ACTIVE  LAST CHANGE  AT                   BY\n\
             inventory  1.1.0   promote      1970-01-01 00:00:00  ops (operator)\n\
             analytics  -       -            -                    -"
        );
        assert_eq!(deployments(&json!({"deployments": []})), "no modules deployed");
    }
}
