//! Tokens: create (the secret is shown once), list, revoke, and the caller's own (`/v1/session`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use modhost_api::{CreatedToken, NewToken, Role, Token, TokenList, TokensQuery};
use utoipa_axum::routes;

use crate::access::{Access, Caller};
use crate::admin::convert;
use crate::admin::scope::{operator_or_tenant_admin, scoped_tenant};
use crate::admin::table::{AppState, Routes};
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, JsonBody};

/// The token routes and who may call each.
pub(crate) fn routes(routes: Routes) -> Routes {
    routes
        .add(Access::Console, routes!(create_token))
        .add(Access::Console, routes!(list_tokens))
        .add(Access::Console, routes!(revoke_token))
        .add(Access::Console, routes!(session))
}

/// the token the caller signed in with
///
/// Its record (never the secret): role, tenant and permissions, so a client
/// such as the dashboard shows only what this role may do. Invoker tokens
/// reach the data plane only, so they get `403` here as on every console route.
#[utoipa::path(get, path = "/v1/session", operation_id = "Session", tag = "tokens",
    responses((status = 200, description = "the caller's token record", body = Token)))]
async fn session(caller: Caller) -> Json<Token> {
    Json(convert::token(caller.0.token))
}

/// create a token (the secret is shown once)
///
/// Operators create any token; a tenant admin creates non-operator tokens of its own tenant.
#[utoipa::path(post, path = "/v1/tokens", operation_id = "CreateToken", tag = "tokens",
    request_body = NewToken,
    responses((status = 201, description = "the token's record and its secret", body = CreatedToken)))]
async fn create_token(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(mut new): JsonBody<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let principal = &caller.0;
    if !principal.is_operator() {
        if principal.token.role != modhost_registry::Role::TenantAdmin {
            return Err(ApiError::forbidden(
                "only operators and tenant admins create tokens",
            ));
        }
        if new.role == Role::Operator || new.tenant.as_deref() != principal.tenant() {
            return Err(ApiError::forbidden(
                "a tenant admin creates tokens of its own tenant only, never operator tokens",
            ));
        }
        // A token never grants more than the token that mints it; without a
        // list it gets exactly the creator's.
        let requested = new
            .permissions
            .take()
            .unwrap_or_else(|| principal.token.permissions.clone());
        let wider: Vec<String> = requested
            .iter()
            .filter(|permission| !principal.token.grants_permission(permission))
            .map(|permission| format!("`{}`", crate::text::bounded(permission)))
            .collect();
        if !wider.is_empty() {
            return Err(ApiError::forbidden(format!(
                "a token can grant only permissions its creator holds; yours do not cover {}",
                wider.join(", ")
            )));
        }
        new.permissions = Some(requested);
    }
    let (token, secret) = app
        .registry
        .create_token(convert::new_token(new), &principal.actor())?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            record: convert::token(token),
            token: secret,
        }),
    ))
}

/// list tokens the caller may manage
#[utoipa::path(get, path = "/v1/tokens", operation_id = "ListTokens", tag = "tokens",
    params(TokensQuery),
    responses((status = 200, description = "the tokens' records, never their secrets", body = TokenList)))]
async fn list_tokens(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<TokensQuery>,
) -> Result<Json<TokenList>, ApiError> {
    operator_or_tenant_admin(&caller.0, "list tokens")?;
    let tenant = scoped_tenant(&caller.0, query.tenant)?;
    let tokens = app
        .registry
        .tokens(tenant.as_deref())?
        .into_iter()
        .map(convert::token)
        .collect();
    Ok(Json(TokenList { tokens }))
}

/// revoke a token
#[utoipa::path(delete, path = "/v1/tokens/{id}", operation_id = "RevokeToken", tag = "tokens",
    params(("id" = String, Path, description = "the token's public id")),
    responses((status = 200, description = "the revoked token", body = Token)))]
async fn revoke_token(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Token>, ApiError> {
    let principal = &caller.0;
    let not_found = || ApiError::not_found(format!("no token has id `{id}`"));
    let token = app.registry.token(&id)?.ok_or_else(not_found)?;
    let may = principal.is_operator()
        || (principal.token.role == modhost_registry::Role::TenantAdmin
            && token.tenant.is_some()
            && token.tenant.as_deref() == principal.tenant());
    if !may {
        return Err(not_found());
    }
    let revoked = app.registry.revoke_token(&id, &principal.actor())?;
    Ok(Json(convert::token(revoked)))
}
