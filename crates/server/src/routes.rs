//! The route table of the admin API: method, path pattern, required access, handler, summary.
//!
//! One table feeds the dispatcher, the authorization check and the OpenAPI
//! document, so a route cannot exist without being documented and checked.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use modhost_path::{Params, PathPattern};

use crate::App;
use crate::api;
use crate::auth::{Access, Principal, authenticate, authorize};
use crate::error::ApiError;

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Liveness.
    Healthz,
    /// Readiness.
    Readyz,
    /// The OpenAPI document.
    OpenApi,
    /// Prometheus metrics.
    Metrics,
    /// Route status, swaps, fallbacks.
    Status,
    /// Create a tenant.
    CreateTenant,
    /// List tenants.
    ListTenants,
    /// One tenant.
    GetTenant,
    /// Change a tenant.
    UpdateTenant,
    /// What a front end needs to draw a tenant's navigation.
    TenantContext,
    /// Recent module logs of a tenant.
    TenantLogs,
    /// Upload a module version.
    PublishModule,
    /// List module versions.
    ListVersions,
    /// One module version.
    GetVersion,
    /// A tenant's deployments.
    ListDeployments,
    /// One deployment with history.
    GetDeployment,
    /// Promote a version.
    Promote,
    /// Roll back.
    Rollback,
    /// Disable a module for a tenant.
    Disable,
    /// A tenant's config of a module.
    GetConfig,
    /// Set a tenant's config of a module.
    SetConfig,
    /// Roll a tenant's config back.
    RollbackConfig,
    /// Create a token.
    CreateToken,
    /// List tokens.
    ListTokens,
    /// Revoke a token.
    RevokeToken,
    /// Query the audit log.
    Audit,
}

/// One row of the route table.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    /// The HTTP method.
    pub method: &'static str,
    /// The path pattern (`modhost_path` syntax).
    pub path: &'static str,
    /// The access it needs; `None` for public routes.
    pub access: Option<Access>,
    /// The handler.
    pub operation: Operation,
    /// A one-line description for the OpenAPI document.
    pub summary: &'static str,
}

const fn route(
    method: &'static str,
    path: &'static str,
    access: Option<Access>,
    operation: Operation,
    summary: &'static str,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        access,
        operation,
        summary,
    }
}

use Operation as Op;

/// Every admin route. The data plane (`/t/{tenant}/{module}/…`) is separate.
pub const ROUTES: &[RouteSpec] = &[
    route(
        "GET",
        "/healthz",
        None,
        Op::Healthz,
        "liveness: the process answers",
    ),
    route(
        "GET",
        "/readyz",
        None,
        Op::Readyz,
        "readiness: registry and runtime are up",
    ),
    route("GET", "/v1/openapi.json", None, Op::OpenApi, "this document"),
    route(
        "GET",
        "/metrics",
        Some(Access::Operator),
        Op::Metrics,
        "Prometheus metrics",
    ),
    route(
        "GET",
        "/v1/status",
        Some(Access::Operator),
        Op::Status,
        "routes, swaps and fallbacks",
    ),
    route(
        "POST",
        "/v1/tenants",
        Some(Access::Operator),
        Op::CreateTenant,
        "create a tenant",
    ),
    route(
        "GET",
        "/v1/tenants",
        Some(Access::Authenticated),
        Op::ListTenants,
        "list the tenants the caller may see",
    ),
    route(
        "GET",
        "/v1/tenants/{tenant}",
        Some(Access::TenantRead),
        Op::GetTenant,
        "one tenant",
    ),
    route(
        "PATCH",
        "/v1/tenants/{tenant}",
        Some(Access::Operator),
        Op::UpdateTenant,
        "change a tenant's name, organisation or features",
    ),
    route(
        "GET",
        "/v1/tenants/{tenant}/context",
        Some(Access::Context),
        Op::TenantContext,
        "the tenant's kind, features and enabled modules, for front ends",
    ),
    route(
        "GET",
        "/v1/tenants/{tenant}/logs",
        Some(Access::TenantRead),
        Op::TenantLogs,
        "recent module log records of the tenant",
    ),
    route(
        "POST",
        "/v1/modules",
        Some(Access::Authenticated),
        Op::PublishModule,
        "upload a module version (multipart: manifest, component)",
    ),
    route(
        "GET",
        "/v1/modules",
        Some(Access::Authenticated),
        Op::ListVersions,
        "list module versions the caller may see",
    ),
    route(
        "GET",
        "/v1/modules/{module}/versions/{version}",
        Some(Access::Authenticated),
        Op::GetVersion,
        "one module version with its manifest",
    ),
    route(
        "GET",
        "/v1/tenants/{tenant}/deployments",
        Some(Access::TenantRead),
        Op::ListDeployments,
        "the tenant's deployments",
    ),
    route(
        "GET",
        "/v1/tenants/{tenant}/deployments/{module}",
        Some(Access::TenantRead),
        Op::GetDeployment,
        "one deployment with its history",
    ),
    route(
        "POST",
        "/v1/tenants/{tenant}/deployments/{module}/promote",
        Some(Access::TenantAdmin),
        Op::Promote,
        "make a version active",
    ),
    route(
        "POST",
        "/v1/tenants/{tenant}/deployments/{module}/rollback",
        Some(Access::TenantAdmin),
        Op::Rollback,
        "go back to the previous or a given version",
    ),
    route(
        "POST",
        "/v1/tenants/{tenant}/deployments/{module}/disable",
        Some(Access::TenantAdmin),
        Op::Disable,
        "turn a module off for the tenant",
    ),
    route(
        "GET",
        "/v1/tenants/{tenant}/config/{module}",
        Some(Access::TenantRead),
        Op::GetConfig,
        "the tenant's config of a module with its history",
    ),
    route(
        "PUT",
        "/v1/tenants/{tenant}/config/{module}",
        Some(Access::TenantAdmin),
        Op::SetConfig,
        "set the tenant's config of a module",
    ),
    route(
        "POST",
        "/v1/tenants/{tenant}/config/{module}/rollback",
        Some(Access::TenantAdmin),
        Op::RollbackConfig,
        "make an earlier config version current",
    ),
    route(
        "POST",
        "/v1/tokens",
        Some(Access::Authenticated),
        Op::CreateToken,
        "create a token (the secret is shown once)",
    ),
    route(
        "GET",
        "/v1/tokens",
        Some(Access::Authenticated),
        Op::ListTokens,
        "list tokens the caller may manage",
    ),
    route(
        "DELETE",
        "/v1/tokens/{id}",
        Some(Access::Authenticated),
        Op::RevokeToken,
        "revoke a token",
    ),
    route(
        "GET",
        "/v1/audit",
        Some(Access::Authenticated),
        Op::Audit,
        "query the audit log",
    ),
];

fn compiled_routes() -> &'static [(Method, PathPattern, RouteSpec)] {
    static COMPILED: OnceLock<Vec<(Method, PathPattern, RouteSpec)>> = OnceLock::new();
    COMPILED.get_or_init(|| {
        ROUTES
            .iter()
            .filter_map(|spec| {
                let method = Method::from_bytes(spec.method.as_bytes()).ok()?;
                let pattern = PathPattern::parse(spec.path).ok()?;
                Some((method, pattern, *spec))
            })
            .collect()
    })
}

/// One admin request, with its route's parameters and the caller.
pub(crate) struct ApiRequest {
    pub(crate) params: Params,
    pub(crate) query: HashMap<String, String>,
    pub(crate) headers: hyper::HeaderMap,
    pub(crate) body: Incoming,
    pub(crate) principal: Option<Principal>,
}

impl ApiRequest {
    pub(crate) fn param(&self, name: &str) -> &str {
        self.params.get(name).unwrap_or_default()
    }

    pub(crate) fn principal(&self) -> Result<&Principal, ApiError> {
        self.principal.as_ref().ok_or_else(ApiError::unauthorized)
    }
}

fn parse_query(query: Option<&str>) -> HashMap<String, String> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((
                modhost_path::percent_decode(key)?,
                modhost_path::percent_decode(&value.replace('+', " "))?,
            ))
        })
        .collect()
}

/// Routes an admin request, checks access, runs the handler, and audits denials.
pub(crate) async fn dispatch(
    app: &Arc<App>,
    request: Request<Incoming>,
    _request_id: &str,
) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let mut allowed = Vec::new();
    let mut found = None;
    for (method, pattern, spec) in compiled_routes() {
        if let Some(params) = pattern.matches(path) {
            if *method == parts.method {
                found = Some((params, *spec));
                break;
            }
            allowed.push(spec.method);
        }
    }
    let Some((params, spec)) = found else {
        if allowed.is_empty() {
            return ApiError::not_found(format!("no route {} {path}", parts.method)).into_response();
        }
        let mut error = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            format!(
                "{} is not allowed on {path}; use {}",
                parts.method,
                allowed.join(", ")
            ),
        );
        error.headers.push(("allow", allowed.join(", ")));
        return error.into_response();
    };
    let principal = match authenticate(&app.registry, &parts.headers) {
        Ok(principal) => principal,
        Err(error) => {
            api::audit_denial(
                app,
                None,
                &format!("api.{:?}", spec.operation),
                params.get("tenant"),
                &error,
            );
            return refuse(&parts.headers, body, error).await;
        }
    };
    if let Some(access) = spec.access
        && let Err(error) = authorize(principal.as_ref(), access, params.get("tenant"))
    {
        api::audit_denial(
            app,
            principal.as_ref(),
            &format!("api.{:?}", spec.operation),
            params.get("tenant"),
            &error,
        );
        return refuse(&parts.headers, body, error).await;
    }
    let request = ApiRequest {
        params,
        query: parse_query(parts.uri.query()),
        headers: parts.headers,
        body,
        principal,
    };
    match api::handle(app, spec.operation, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

/// The most of a refused request's body that is read (and dropped) so the
/// client receives the refusal instead of a reset connection.
const DRAINED_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Answers `error` after draining a bounded amount of the request body.
async fn refuse(headers: &hyper::HeaderMap, body: Incoming, error: ApiError) -> Response<Full<Bytes>> {
    let _ = api::read_body(headers, body, DRAINED_BODY_BYTES).await;
    error.into_response()
}
