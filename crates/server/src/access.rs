//! Who is calling and what they may do: bearer tokens, roles, tenant scoping. Deny by default.
//!
//! [`check`] is the one gate: the admin routes' guard and the data plane both
//! call it, and it is the one place a refusal is counted and audited.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use modhost_registry::{Registry, Role, Token};

use crate::app::App;
use crate::denials::{Denial, Reason};
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
pub fn authenticate(registry: &Registry, headers: &HeaderMap) -> Result<Option<Principal>, ApiError> {
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
    /// Anyone, without a token (a token that is sent must still be valid).
    Public,
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
    /// The management API: operators, tenant admins and tenant viewers, not
    /// invokers (the operation filters what each may see). Invokers reach
    /// only the data plane and their tenant context.
    Console,
}

/// Checks `access` for `tenant`. A tenant-scoped caller asking about another
/// tenant gets `404`, as if it did not exist: no cross-tenant existence leaks.
pub fn authorize(
    principal: Option<&Principal>,
    access: Access,
    tenant: Option<&str>,
) -> Result<(), ApiError> {
    if access == Access::Public {
        return Ok(());
    }
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
        Access::Public => true,
        Access::Operator => false,
        Access::Console => role != Role::Invoker,
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

impl Access {
    /// Who may call, in words, for the OpenAPI document.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Operator => "operator",
            Self::TenantRead => "operator, or tenant-admin / tenant-viewer of the tenant",
            Self::Context => "operator, or any token of the tenant",
            Self::TenantAdmin => "operator, or tenant-admin of the tenant",
            Self::Invoke => "operator, or tenant-admin / invoker of the tenant",
            Self::Console => {
                "operator, tenant-admin or tenant-viewer (not invoker); results are limited to what the caller may see"
            }
        }
    }

    /// The stable name, e.g. `tenant-admin` (the `x-access` of each OpenAPI operation).
    pub fn name(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Operator => "operator",
            Self::TenantRead => "tenant-read",
            Self::Context => "tenant-context",
            Self::TenantAdmin => "tenant-admin",
            Self::Invoke => "invoke",
            Self::Console => "console",
        }
    }
}

/// Who the request's caller authenticated as, filled in by [`check`] for
/// the request loop: it shows host failure details to operators only, and
/// names the caller in the access log line.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallerSeen(pub(crate) Arc<OnceLock<SeenCaller>>);

/// What the access log and the failure answer need of a principal.
#[derive(Debug, Clone)]
pub(crate) struct SeenCaller {
    /// [`Principal::actor`]: the token id and role, never the secret.
    pub(crate) actor: String,
    /// Whether it is an operator.
    pub(crate) operator: bool,
}

impl CallerSeen {
    /// Whether an operator token was checked for this request.
    pub(crate) fn is_operator(&self) -> bool {
        self.0.get().is_some_and(|caller| caller.operator)
    }

    /// The authenticated caller's actor, if a token was checked.
    pub(crate) fn actor(&self) -> Option<&str> {
        self.0.get().map(|caller| caller.actor.as_str())
    }
}

/// The address of the client a request came from, put in its extensions by
/// the accept loop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddress(pub(crate) IpAddr);

/// Authenticates the caller of `parts` and checks `access` for `tenant`; a
/// refusal is counted and audited here as `action` (never with the token,
/// at most once per kind and minute: see `denials.rs`), and only here.
pub(crate) fn check(
    app: &App,
    parts: &Parts,
    access: Access,
    tenant: Option<&str>,
    action: &str,
) -> Result<Option<Principal>, ApiError> {
    let denied = |principal: Option<&Principal>, reason: Reason, error: &ApiError| {
        app.denials.record(
            &app.registry,
            &Denial {
                actor: principal.map(Principal::actor),
                client: parts.extensions.get::<ClientAddress>().map(|client| client.0),
                action,
                tenant,
                reason,
                message: &error.message,
            },
        );
    };
    let principal = match authenticate(&app.registry, &parts.headers) {
        Ok(principal) => principal,
        Err(error) => {
            denied(None, Reason::Unauthenticated, &error);
            return Err(error);
        }
    };
    if let (Some(principal), Some(seen)) = (&principal, parts.extensions.get::<CallerSeen>()) {
        let _ = seen.0.set(SeenCaller {
            actor: principal.actor(),
            operator: principal.is_operator(),
        });
    }
    if let Err(error) = authorize(principal.as_ref(), access, tenant) {
        let reason = if principal.is_some() {
            Reason::Forbidden
        } else {
            Reason::Unauthenticated
        };
        denied(principal.as_ref(), reason, &error);
        return Err(error);
    }
    Ok(principal)
}

/// The authenticated caller of an admin route, as the route's guard let it in.
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub(crate) Principal);

impl Caller {
    /// How the caller appears in the audit log.
    pub(crate) fn actor(&self) -> String {
        self.0.actor()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or_else(ApiError::unauthorized)
    }
}
