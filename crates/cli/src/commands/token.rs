//! `modhost token create|list|revoke`: API tokens, whose secret is shown once.

use std::io::Write;

use modhost_api::{CreatedToken, NewToken, Token, TokenList};
use serde_json::Value;

use crate::cli::Role;
use crate::client::{path, with_query};
use crate::commands::Context;
use crate::error::CliError;
use crate::output::{self, format_ms, table};

#[cfg(test)]
fn role_name(role: Role) -> &'static str {
    match role {
        Role::Operator => "operator",
        Role::TenantAdmin => "tenant-admin",
        Role::TenantViewer => "tenant-viewer",
        Role::Invoker => "invoker",
    }
}

/// The body of `POST /v1/tokens`; `permissions` left out when none are given (the server grants all).
#[cfg(test)]
fn create_body(name: &str, role: Role, tenant: Option<String>, permissions: &[String]) -> Value {
    serde_json::to_value(new_token(name, role, tenant, permissions)).unwrap_or(Value::Null)
}

/// The request of `POST /v1/tokens`.
fn new_token(name: &str, role: Role, tenant: Option<String>, permissions: &[String]) -> NewToken {
    NewToken {
        name: name.to_owned(),
        role: match role {
            Role::Operator => modhost_api::Role::Operator,
            Role::TenantAdmin => modhost_api::Role::TenantAdmin,
            Role::TenantViewer => modhost_api::Role::TenantViewer,
            Role::Invoker => modhost_api::Role::Invoker,
        },
        tenant,
        permissions: (!permissions.is_empty()).then(|| permissions.to_vec()),
    }
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
    let created: CreatedToken = ctx
        .client
        .post_as("/v1/tokens", &new_token(name, role, tenant, permissions))?;
    if ctx.json {
        output::print_json(&serde_json::to_value(&created).unwrap_or(Value::Null));
        return Ok(());
    }
    let token = &created.record;
    eprintln!("created token {}\n", summary(token));
    output::print(&created.token);
    eprintln!(
        "\nthis secret is shown only this once: store it now (e.g. export MODHOST_TOKEN=<secret>); \
         `modhost token revoke {}` disables it",
        token.id
    );
    let _ = std::io::stderr().flush();
    Ok(())
}

/// `tok_… "name" (role tenant-admin, tenant banban, permissions *)`.
fn summary(token: &Token) -> String {
    let mut parts = vec![format!("role {}", token.role.name())];
    if let Some(tenant) = &token.tenant {
        parts.push(format!("tenant {tenant}"));
    }
    parts.push(format!("permissions {}", list_text(&token.permissions)));
    format!("{} {:?} ({})", token.id, token.name, parts.join(", "))
}

/// Items joined with `, `, or `-` when there are none.
fn list_text(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(", ")
    }
}

/// `GET /v1/tokens[?tenant=]`.
pub fn list(ctx: &Context, tenant: Option<String>) -> Result<(), CliError> {
    let answer: TokenList = ctx
        .client
        .get_as(&with_query("/v1/tokens", &[("tenant", tenant)]))?;
    ctx.show(&answer, tokens_table);
    Ok(())
}

fn tokens_table(answer: &TokenList) -> String {
    let tokens = &answer.tokens;
    if tokens.is_empty() {
        return "no tokens".into();
    }
    let rows = tokens
        .iter()
        .map(|token| {
            vec![
                token.id.clone(),
                token.name.clone(),
                token.role.name().to_owned(),
                token.tenant.clone().unwrap_or_else(|| "-".into()),
                list_text(&token.permissions),
                token.created_by.clone(),
                format_ms(token.created_at_ms),
                token.revoked_at_ms.map_or_else(|| "-".into(), format_ms),
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
    let token: Token = ctx.client.delete_as(&path(&["v1", "tokens", id]))?;
    ctx.show(&token, |token| format!("revoked token {}", summary(token)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn typed<T: serde::de::DeserializeOwned>(value: Value) -> T {
        serde_json::from_value(value).unwrap()
    }

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
            summary(&typed(token.clone())),
            "tok_1 \"ci deploy\" (role tenant-admin, tenant banban, permissions *)"
        );
        assert_eq!(
            tokens_table(&typed(json!({"tokens": [token]}))),
            "ID     NAME       ROLE          TENANT  PERMISSIONS  CREATED BY  CREATED              REVOKED\n\
             tok_1  ci deploy  tenant-admin  banban  *            ops         1970-01-01 00:00:00  -"
        );
    }
}
