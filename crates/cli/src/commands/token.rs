//! `modhost token create|list|revoke`: API tokens, whose secret is shown once.

use std::io::Write;

use serde_json::{Map, Value, json};

use crate::Role;
use crate::client::{path, with_query};
use crate::commands::Context;
use crate::error::CliError;
use crate::output::{self, list as items, table, text, time};

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Operator => "operator",
        Role::TenantAdmin => "tenant-admin",
        Role::TenantViewer => "tenant-viewer",
        Role::Invoker => "invoker",
    }
}

/// The body of `POST /v1/tokens`; `permissions` left out when none are given (the server grants all).
fn create_body(name: &str, role: Role, tenant: Option<String>, permissions: &[String]) -> Value {
    let mut body = Map::new();
    body.insert("name".into(), json!(name));
    body.insert("role".into(), json!(role_name(role)));
    if let Some(tenant) = tenant {
        body.insert("tenant".into(), json!(tenant));
    }
    if !permissions.is_empty() {
        body.insert("permissions".into(), json!(permissions));
    }
    Value::Object(body)
}

/// `POST /v1/tokens`. For people the secret alone goes to stdout (so
/// `$(modhost token create …)` captures just it) and the rest to stderr.
pub fn create(
    ctx: &Context,
    name: &str,
    role: Role,
    tenant: Option<String>,
    permissions: &[String],
) -> Result<(), CliError> {
    let token = ctx
        .client
        .post("/v1/tokens", &create_body(name, role, tenant, permissions))?;
    if ctx.json {
        output::print_json(&token);
        return Ok(());
    }
    let Some(secret) = token.get("token").and_then(Value::as_str) else {
        return Err(CliError::failed(
            "the server created the token but did not return its secret",
        ));
    };
    eprintln!("created token {}\n", summary(&token));
    output::print(secret);
    eprintln!(
        "\nthis secret is shown only this once: store it now (e.g. export MODHOST_TOKEN=<secret>); \
         `modhost token revoke {}` disables it",
        text(&token, "id")
    );
    let _ = std::io::stderr().flush();
    Ok(())
}

/// `tok_… "name" (role tenant-admin, tenant banban, permissions *)`.
fn summary(token: &Value) -> String {
    let mut parts = vec![format!("role {}", text(token, "role"))];
    if token.get("tenant").is_some_and(|tenant| !tenant.is_null()) {
        parts.push(format!("tenant {}", text(token, "tenant")));
    }
    parts.push(format!("permissions {}", text(token, "permissions")));
    format!(
        "{} {:?} ({})",
        text(token, "id"),
        text(token, "name"),
        parts.join(", ")
    )
}

/// `GET /v1/tokens[?tenant=]`.
pub fn list(ctx: &Context, tenant: Option<String>) -> Result<(), CliError> {
    let answer = ctx.client.get(&with_query("/v1/tokens", &[("tenant", tenant)]))?;
    ctx.show(&answer, tokens_table);
    Ok(())
}

fn tokens_table(answer: &Value) -> String {
    let tokens = items(answer, "tokens");
    if tokens.is_empty() {
        return "no tokens".into();
    }
    let rows = tokens
        .iter()
        .map(|token| {
            vec![
                text(token, "id"),
                text(token, "name"),
                text(token, "role"),
                text(token, "tenant"),
                text(token, "permissions"),
                text(token, "created_by"),
                time(token, "created_at_ms"),
                time(token, "revoked_at_ms"),
            ]
        })
        .collect();
    table(
        &[
            "id",
            "name",
            "role",
            "tenant",
            "permissions",
            "created by",
            "created",
            "revoked",
        ],
        rows,
    )
}

/// `DELETE /v1/tokens/{id}`.
pub fn revoke(ctx: &Context, id: &str) -> Result<(), CliError> {
    let token = ctx.client.delete(&path(&["v1", "tokens", id]))?;
    ctx.show(&token, |token| format!("revoked token {}", summary(token)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_bodies() {
        assert_eq!(
            create_body("ci", Role::Operator, None, &[]),
            json!({"name": "ci", "role": "operator"})
        );
        assert_eq!(
            create_body(
                "shop",
                Role::Invoker,
                Some("banban".into()),
                &["inventory.read".into()]
            ),
            json!({"name": "shop", "role": "invoker", "tenant": "banban", "permissions": ["inventory.read"]})
        );
        assert_eq!(role_name(Role::TenantAdmin), "tenant-admin");
        assert_eq!(role_name(Role::TenantViewer), "tenant-viewer");
    }

    #[test]
    fn summaries_and_tables() {
        let token = json!({"id": "tok_1", "name": "ci deploy", "role": "tenant-admin", "tenant": "banban",
            "permissions": ["*"], "created_at_ms": 0, "created_by": "ops", "revoked_at_ms": null});
        assert_eq!(
            summary(&token),
            "tok_1 \"ci deploy\" (role tenant-admin, tenant banban, permissions *)"
        );
        assert_eq!(
            tokens_table(&json!({"tokens": [token]})),
            "ID     NAME       ROLE          TENANT  PERMISSIONS  CREATED BY  CREATED              REVOKED\n\
             tok_1  ci deploy  tenant-admin  banban  *            ops         1970-01-01 00:00:00  -"
        );
    }
}
