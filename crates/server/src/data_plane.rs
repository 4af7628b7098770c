//! The data plane: `ANY /t/{tenant}/{module}/{path…}` → the tenant's active module version.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse as _, Response};
use modhost_deploy::module_error_reply;
use modhost_manifest::{Method, TenantKind};
use modhost_registry::Tenant;
use modhost_runtime::{CallError, Caller};
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::access::{Access, check};
use crate::app::App;
use crate::error::ApiError;
use crate::extract::{BodyRules, read_body};

/// Pins a request to the active version or the canary, e.g. `x-modhost-pin: 1.1.0`.
const PIN_HEADER: &str = "x-modhost-pin";
/// Whose share of a canary a request falls in (default: the token's id).
const AFFINITY_HEADER: &str = "x-modhost-affinity";

/// Headers a module never sees.
const WITHHELD_HEADERS: &[&str] = &["authorization", "cookie", "proxy-authorization"];

fn request_method(method: &axum::http::Method) -> Option<Method> {
    Some(match *method {
        axum::http::Method::GET => Method::Get,
        axum::http::Method::HEAD => Method::Head,
        axum::http::Method::POST => Method::Post,
        axum::http::Method::PUT => Method::Put,
        axum::http::Method::PATCH => Method::Patch,
        axum::http::Method::DELETE => Method::Delete,
        axum::http::Method::OPTIONS => Method::Options,
        _ => return None,
    })
}

/// The HTTP answer for a failed module call: a module's own error as
/// [`module_error_reply`] renders it, a host failure as an [`ApiError`].
fn call_error(error: &CallError) -> Response {
    let message = error.to_string();
    let error = match error {
        CallError::Module(module_error) => {
            let (status, body) = module_error_reply(module_error);
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, axum::Json(body)).into_response();
        }
        CallError::DeadlineExceeded(_) => {
            ApiError::new(StatusCode::GATEWAY_TIMEOUT, "deadline-exceeded", message)
        }
        CallError::MemoryLimit(_) | CallError::OutOfFuel(_) | CallError::StackOverflow => {
            ApiError::new(StatusCode::BAD_GATEWAY, "resource-limit", message)
        }
        CallError::Trapped(_) => ApiError::new(StatusCode::BAD_GATEWAY, "module-trapped", message),
        CallError::InvalidResponse(_) => ApiError::new(StatusCode::BAD_GATEWAY, "invalid-response", message),
        CallError::Instantiation(_) | CallError::Storage(_) => {
            ApiError::host_failure(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
        }
        CallError::QuotaExceeded(_) => {
            ApiError::new(StatusCode::INSUFFICIENT_STORAGE, "kv-quota-exceeded", message)
        }
        CallError::Busy(_) => {
            let mut error = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "busy", message);
            error.headers.push(("retry-after", "1".to_owned()));
            error
        }
    };
    error.into_response()
}

/// `423 tenant-suspended` when `record` (the tenant as the loader's table
/// holds it: no storage read) is suspended, counted for `/metrics`.
fn refuse_if_suspended(app: &App, tenant: &str, record: Option<&Tenant>) -> Result<(), ApiError> {
    if record.is_some_and(|record| record.suspended.is_some()) {
        app.suspended_refusals
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Err(ApiError::new(
            StatusCode::LOCKED,
            "tenant-suspended",
            format!(
                "tenant `{tenant}` is suspended, so its modules answer no requests; its data is kept, and an operator can resume it with `modhost tenant resume {tenant}`"
            ),
        ));
    }
    Ok(())
}

/// Serves one data-plane request, in its own span: a child of the caller's
/// `traceparent` when it sends one. The span names the method, route, tenant,
/// module, request id and status; never a token, header value or body. It is
/// a debug span, so it costs next to nothing unless a layer (the binary's
/// OpenTelemetry export) wants it.
pub(crate) async fn handle(app: &Arc<App>, request: Request, request_id: &str) -> Response {
    // The field values are computed only when the span is enabled.
    let span = tracing::debug_span!(
        "data_plane.request",
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = %request.method(),
        http.route = "/t/{tenant}/{module}/{*path}",
        http.response.status_code = tracing::field::Empty,
        modhost.tenant = crate::tenant_and_module(request.uri().path()).0.unwrap_or("-"),
        modhost.module = crate::tenant_and_module(request.uri().path()).1.unwrap_or("-"),
        modhost.request_id = request_id,
    );
    if !span.is_disabled()
        && let Some(parent) = crate::trace_context::remote_parent(request.headers())
    {
        // Fails only when no OpenTelemetry layer is installed: nothing to join then.
        let _ = span.set_parent(parent);
    }
    let response = match serve(app, request, request_id).instrument(span.clone()).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    };
    span.record("http.response.status_code", response.status().as_u16());
    if response.status().is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    response
}

async fn serve(app: &Arc<App>, request: Request, request_id: &str) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let rest = path.strip_prefix("/t/").unwrap_or_default();
    let mut segments = rest.splitn(3, '/');
    let (Some(tenant), Some(module)) = (segments.next(), segments.next()) else {
        return Err(ApiError::not_found("use /t/{tenant}/{module}/{path}"));
    };
    let module_path = format!("/{}", segments.next().unwrap_or_default());
    let principal = check(app, &parts, Access::Invoke, Some(tenant), "data-plane.call")?;
    let principal = principal.ok_or_else(ApiError::unauthorized)?;
    // The tenant as the routing table holds it, looked up once.
    let tenant_record = app.loader.tenant(tenant).map(|routes| routes.tenant.clone());
    refuse_if_suspended(app, tenant, tenant_record.as_deref())?;
    let method = request_method(&parts.method).ok_or_else(|| {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            format!("{} is not supported", parts.method),
        )
    })?;
    let pin = match parts.headers.get(PIN_HEADER) {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|text| text.trim().parse::<semver::Version>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request(format!("`{PIN_HEADER}` must be a version like 1.2.0"))
                })?,
        ),
        None => None,
    };
    let affinity = parts
        .headers
        .get(AFFINITY_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or(&principal.token.id);
    let serving = app
        .loader
        .serving_request(tenant, module, affinity, pin.as_ref())
        .await?;
    let Some((endpoint, _)) = serving.manifest.find_endpoint(method, &module_path) else {
        let allowed: Vec<&str> = serving
            .manifest
            .endpoints
            .iter()
            .filter(|endpoint| endpoint.path.matches(&module_path).is_some())
            .map(|endpoint| endpoint.method.name())
            .collect();
        if allowed.is_empty() {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "no-endpoint",
                format!("{module} has no endpoint {} {module_path}", parts.method),
            ));
        }
        let mut error = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            format!(
                "{} is not allowed on {module_path}; use {}",
                parts.method,
                allowed.join(", ")
            ),
        );
        error.headers.push(("allow", allowed.join(", ")));
        return Err(error);
    };
    if !principal.token.grants_permission(&endpoint.permission) {
        return Err(ApiError::forbidden(format!(
            "this token lacks the permission `{}`",
            endpoint.permission
        )));
    }
    let rules = BodyRules::new(&app.config, app.config.max_request_body_bytes);
    let body = read_body(&parts.headers, body, rules).await?;
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter(|(name, _)| !WITHHELD_HEADERS.contains(&name.as_str()))
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
        .take(64)
        .collect();
    // The route's endpoint permissions (sorted, each once, computed when
    // the route was built) that this token holds.
    let permissions = serving
        .endpoint_permissions
        .iter()
        .filter(|permission| principal.token.grants_permission(permission))
        .cloned()
        .collect();
    let caller = Caller {
        tenant_id: tenant.to_owned(),
        tenant_kind: tenant_record
            .as_ref()
            .map_or(TenantKind::Standard, |tenant| tenant.kind),
        request_id: request_id.to_owned(),
        permissions,
        grants: principal.token.permissions.clone(),
        features: tenant_record
            .map(|tenant| tenant.features.iter().cloned().collect())
            .unwrap_or_default(),
    };
    let wit_request = modhost_runtime::Request {
        method,
        path: module_path.clone(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers,
        // The buffer `read_body` filled, moved rather than copied.
        body: Vec::from(body),
    };
    let outcome = app.loader.call(&serving, &caller, wit_request).await;
    let mut response = match outcome {
        Ok(answer) => match crate::guest_response::to_http(answer) {
            Ok(response) => response,
            Err(refused) => refused.into_response(),
        },
        Err(error) => call_error(&error),
    };
    if let Ok(value) = HeaderValue::from_str(&serving.version_label) {
        response.headers_mut().insert("x-modhost-version", value);
    }
    Ok(response)
}
