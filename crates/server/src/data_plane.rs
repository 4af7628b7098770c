//! The data plane: `ANY /t/{tenant}/{module}/{path…}` → the tenant's active module version.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use modhost_deploy::error_code_status;
use modhost_manifest::{Method, TenantKind};
use modhost_runtime::{CallError, Caller, error_code_name};

use crate::App;
use crate::api::read_body;
use crate::auth::{Access, authenticate, authorize};
use crate::error::ApiError;

/// Headers a module never sees.
const WITHHELD_HEADERS: &[&str] = &["authorization", "cookie", "proxy-authorization"];
/// Headers the host sets itself on responses.
const HOST_RESPONSE_HEADERS: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "x-request-id",
    "x-modhost-version",
];

fn request_method(method: &hyper::Method) -> Option<Method> {
    Some(match *method {
        hyper::Method::GET => Method::Get,
        hyper::Method::HEAD => Method::Head,
        hyper::Method::POST => Method::Post,
        hyper::Method::PUT => Method::Put,
        hyper::Method::PATCH => Method::Patch,
        hyper::Method::DELETE => Method::Delete,
        hyper::Method::OPTIONS => Method::Options,
        _ => return None,
    })
}

/// The HTTP answer for a failed module call.
pub(crate) fn call_error(error: &CallError) -> ApiError {
    let message = error.to_string();
    match error {
        CallError::Module(module_error) => {
            let status = StatusCode::from_u16(error_code_status(module_error.code))
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            ApiError::new(
                status,
                error_code_name(module_error.code),
                module_error.message.clone(),
            )
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
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
        }
        CallError::Busy(_) => {
            let mut error = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "busy", message);
            error.headers.push(("retry-after", "1".to_owned()));
            error
        }
    }
}

/// Serves one data-plane request.
pub(crate) async fn handle(
    app: &Arc<App>,
    request: Request<Incoming>,
    request_id: &str,
) -> Response<Full<Bytes>> {
    match serve(app, request, request_id).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn serve(
    app: &Arc<App>,
    request: Request<Incoming>,
    request_id: &str,
) -> Result<Response<Full<Bytes>>, ApiError> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let rest = path.strip_prefix("/t/").unwrap_or_default();
    let mut segments = rest.splitn(3, '/');
    let (Some(tenant), Some(module)) = (segments.next(), segments.next()) else {
        return Err(ApiError::not_found("use /t/{tenant}/{module}/{path}"));
    };
    let module_path = format!("/{}", segments.next().unwrap_or_default());
    let principal = authenticate(&app.registry, &parts.headers)?;
    if let Err(error) = authorize(principal.as_ref(), Access::Invoke, Some(tenant)) {
        crate::api::audit_denial(app, principal.as_ref(), "data-plane.call", Some(tenant), &error);
        return Err(error);
    }
    let principal = principal.ok_or_else(ApiError::unauthorized)?;
    let method = request_method(&parts.method).ok_or_else(|| {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            format!("{} is not supported", parts.method),
        )
    })?;
    let serving = app.loader.serving(tenant, module).await?;
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
    let body = read_body(&parts.headers, body, app.config.max_request_body_bytes).await?;
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter(|(name, _)| !WITHHELD_HEADERS.contains(&name.as_str()))
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
        .take(64)
        .collect();
    let tenant_record = app.loader.tenant(tenant).map(|routes| routes.tenant.clone());
    let permissions: Vec<String> = serving
        .manifest
        .endpoints
        .iter()
        .map(|endpoint| endpoint.permission.clone())
        .filter(|permission| principal.token.grants_permission(permission))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let caller = Caller {
        tenant_id: tenant.to_owned(),
        tenant_kind: tenant_record
            .as_ref()
            .map_or(TenantKind::Standard, |tenant| tenant.kind),
        request_id: request_id.to_owned(),
        permissions,
        features: tenant_record
            .map(|tenant| tenant.features.iter().cloned().collect())
            .unwrap_or_default(),
    };
    let wit_request = modhost_runtime::Request {
        method,
        path: module_path.clone(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers,
        body: body.to_vec(),
    };
    let version_label = format!("{module}@{}", serving.version);
    let outcome = app.loader.call(&serving, &caller, wit_request).await;
    let mut response = match outcome {
        Ok(answer) => {
            let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
            let mut response = Response::new(Full::new(Bytes::from(answer.body)));
            *response.status_mut() = status;
            for (name, value) in &answer.headers {
                if HOST_RESPONSE_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                    continue;
                }
                if let (Ok(name), Ok(value)) = (
                    hyper::header::HeaderName::from_bytes(name.as_bytes()),
                    hyper::header::HeaderValue::from_str(value),
                ) {
                    response.headers_mut().append(name, value);
                }
            }
            response
        }
        Err(error) => call_error(&error).into_response(),
    };
    if let Ok(value) = hyper::header::HeaderValue::from_str(&version_label) {
        response.headers_mut().insert("x-modhost-version", value);
    }
    Ok(response)
}
