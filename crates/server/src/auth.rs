//! Who is calling and what they may do: bearer tokens, roles, tenant scoping. Deny by default.

use hyper::header::AUTHORIZATION;
use modhost_registry::{Registry, Role, Token};

use crate::error::ApiError;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The token's record (never the secret).
    pub token: Token,
}

impl Principal {
    /// How the caller appears in the audit log: token id and role, never the secret.
    pub fn actor(&self) -> String {
        format!("{}:{}", self.token.id, self.token.role.name())
    }

    /// Whether this is an operator.
    pub fn is_operator(&self) -> bool {
        self.token.role == Role::Operator
    }

    /// The tenant the caller is scoped to (`None` for operators).
    pub fn tenant(&self) -> Option<&str> {
        self.token.tenant.as_deref()
    }
}

/// The token presented with a request, resolved against the registry.
pub fn authenticate(registry: &Registry, headers: &hyper::HeaderMap) -> Result<Option<Principal>, ApiError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let Some(secret) = value
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Bearer "))
    else {
        return Err(ApiError::unauthorized());
    };
    match registry.authenticate(secret.trim())? {
        Some(token) => Ok(Some(Principal { token })),
        None => Err(ApiError::unauthorized()),
    }
}

/// What an operation needs of the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Operators only.
    Operator,
    /// Tenant admins and viewers of the tenant, or an operator.
    TenantRead,
    /// Any role scoped to the tenant, or an operator (the tenant context).
    Context,
    /// Tenant admins of the tenant, or an operator.
    TenantAdmin,
    /// The data plane: invokers and tenant admins of the tenant, or an operator.
    Invoke,
    /// Any authenticated caller (the operation filters what it shows).
    Authenticated,
}

/// Checks `access` for `tenant`. A tenant-scoped caller asking about another
/// tenant gets `404`, as if it did not exist: no cross-tenant existence leaks.
pub fn authorize(
    principal: Option<&Principal>,
    access: Access,
    tenant: Option<&str>,
) -> Result<(), ApiError> {
    let principal = principal.ok_or_else(ApiError::unauthorized)?;
    if principal.is_operator() {
        return Ok(());
    }
    if let (Some(wanted), Some(own)) = (tenant, principal.tenant())
        && wanted != own
    {
        return Err(ApiError::not_found(format!("tenant `{wanted}` does not exist")));
    }
    let role = principal.token.role;
    let allowed = match access {
        Access::Operator => false,
        Access::Authenticated => true,
        Access::Context => true,
        Access::TenantRead => matches!(role, Role::TenantAdmin | Role::TenantViewer),
        Access::TenantAdmin => role == Role::TenantAdmin,
        Access::Invoke => matches!(role, Role::TenantAdmin | Role::Invoker),
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "the role `{}` may not do this",
            role.name()
        )))
    }
}
