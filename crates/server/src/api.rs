//! The admin API handlers: tenants, modules, deployments, config, tokens, audit, logs, status.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::{Response, StatusCode};
use modhost_registry::{
    AuditDraft, AuditOutcome, AuditQuery, DeploymentChange, NewTenant, NewToken, Publisher, Role,
    RollbackTarget, TenantUpdate, Upload,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::App;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::routes::{ApiRequest, Operation};

/// The most an admin JSON body may be.
const MAX_JSON_BODY_BYTES: usize = 1024 * 1024;

pub(crate) fn json_response(status: StatusCode, value: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(
        serde_json::to_vec(value).unwrap_or_default(),
    )));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn ok(value: Value) -> Result<Response<Full<Bytes>>, ApiError> {
    Ok(json_response(StatusCode::OK, &value))
}

/// Reads a body of at most `limit` bytes; `413` past it (checked on
/// `content-length` before reading, and while reading for chunked bodies).
pub(crate) async fn read_body(
    headers: &hyper::HeaderMap,
    body: Incoming,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(ApiError::too_large(limit));
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(ApiError::too_large(limit)),
        Err(error) => Err(ApiError::bad_request(format!(
            "could not read the request body: {error}"
        ))),
    }
}

async fn read_json<T: DeserializeOwned>(request: ApiRequest) -> Result<(T, ApiRequestHead), ApiError> {
    read_json_with(request, None).await
}

/// Like `read_json`, but an empty body means the type's default.
async fn read_json_or_empty<T: DeserializeOwned + Default>(
    request: ApiRequest,
) -> Result<(T, ApiRequestHead), ApiError> {
    read_json_with(request, Some(T::default())).await
}

/// Reads the JSON body; an empty one becomes `when_empty` when given.
async fn read_json_with<T: DeserializeOwned>(
    request: ApiRequest,
    when_empty: Option<T>,
) -> Result<(T, ApiRequestHead), ApiError> {
    let ApiRequest {
        params,
        query,
        headers,
        body,
        principal,
    } = request;
    let bytes = read_body(&headers, body, MAX_JSON_BODY_BYTES).await?;
    let head = ApiRequestHead {
        params,
        query,
        principal,
    };
    if let Some(default) = when_empty
        && bytes.iter().all(u8::is_ascii_whitespace)
    {
        return Ok((default, head));
    }
    let value = serde_json::from_slice(&bytes).map_err(|error| {
        ApiError::bad_request(format!(
            "the request body is not valid JSON for this operation: {error}"
        ))
    })?;
    Ok((value, head))
}

/// A request whose body has been consumed.
struct ApiRequestHead {
    params: modhost_path::Params,
    #[allow(dead_code, reason = "kept for handlers that read both body and query")]
    query: std::collections::HashMap<String, String>,
    principal: Option<Principal>,
}

impl ApiRequestHead {
    fn param(&self, name: &str) -> &str {
        self.params.get(name).unwrap_or_default()
    }

    fn actor(&self) -> String {
        self.principal
            .as_ref()
            .map_or_else(|| "anonymous".to_owned(), Principal::actor)
    }
}

/// Records a refused request in the audit log (never the token).
pub(crate) fn audit_denial(
    app: &App,
    principal: Option<&Principal>,
    action: &str,
    tenant: Option<&str>,
    error: &ApiError,
) {
    let draft = AuditDraft {
        actor: principal.map_or_else(|| "anonymous".to_owned(), Principal::actor),
        action: action.to_owned(),
        target: tenant.unwrap_or("-").to_owned(),
        tenant: tenant.map(str::to_owned),
        outcome: AuditOutcome::Denied,
        detail: Some(error.message.clone()),
    };
    if let Err(audit_error) = app.registry.record_audit(draft) {
        tracing::error!(error = %audit_error, "could not audit a denied request");
    }
}

/// The tenant a tenant-scoped caller is limited to, or a query's tenant for operators.
fn scoped_tenant(principal: &Principal, requested: Option<&String>) -> Result<Option<String>, ApiError> {
    match (principal.tenant(), requested) {
        (None, requested) => Ok(requested.cloned()),
        (Some(own), Some(requested)) if requested != own => Err(ApiError::not_found(format!(
            "tenant `{requested}` does not exist"
        ))),
        (Some(own), _) => Ok(Some(own.to_owned())),
    }
}

fn parse_version(text: &str) -> Result<semver::Version, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("`{text}` is not a semver version like 1.2.0")))
}

fn change_json(change: &DeploymentChange) -> Value {
    json!({
        "tenant": change.tenant,
        "module": change.module,
        "from": change.from.as_ref().map(ToString::to_string),
        "to": change.to.as_ref().map(ToString::to_string),
        "changed": change.event.is_some(),
        "seq": change.event.as_ref().map(|event| event.seq),
        "restored_snapshot": change.restored_snapshot,
    })
}

fn version_json(version: &modhost_registry::ModuleVersion) -> Value {
    json!({
        "module": version.module,
        "version": version.version.to_string(),
        "kind": version.kind.name(),
        "owner": version.owner,
        "sha256": version.sha256,
        "size_bytes": version.size_bytes,
        "published_by": version.published_by,
        "published_at_ms": version.published_at_ms,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PromoteBody {
    version: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RollbackBody {
    #[serde(default)]
    to: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigBody {
    values: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigRollbackBody {
    to: u64,
}

/// Runs one admin operation; access was already checked against the route.
pub(crate) async fn handle(
    app: &Arc<App>,
    operation: Operation,
    request: ApiRequest,
) -> Result<Response<Full<Bytes>>, ApiError> {
    let registry = &app.registry;
    match operation {
        Operation::Healthz => ok(json!({"status": "ok"})),
        Operation::Readyz => ok(json!({"status": "ready"})),
        Operation::OpenApi => ok(crate::openapi::document()),
        Operation::Metrics => {
            let mut response = Response::new(Full::new(Bytes::from(crate::metrics::render(app))));
            response.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            Ok(response)
        }
        Operation::Status => {
            let routes: Vec<Value> = app
                .loader
                .status()
                .into_iter()
                .map(|route| {
                    json!({
                        "tenant": route.tenant,
                        "module": route.module,
                        "active": route.active.to_string(),
                        "serving": route.serving.map(|version| version.to_string()),
                        "problem": route.problem,
                    })
                })
                .collect();
            let cache = app.runtime().cache_stats();
            ok(json!({
                "routes": routes,
                "swaps": app.loader.swap_count(),
                "fallbacks": app.loader.fallback_count(),
                "compiled": cache.compiled,
                "compile_cache_loads": cache.loaded,
            }))
        }
        Operation::CreateTenant => {
            let (new, head): (NewTenant, _) = read_json(request).await?;
            let tenant = registry.create_tenant(new, &head.actor())?;
            Ok(json_response(StatusCode::CREATED, &json!(tenant)))
        }
        Operation::ListTenants => {
            let principal = request.principal()?;
            let tenants: Vec<_> = registry
                .tenants()?
                .into_iter()
                .filter(|tenant| principal.tenant().is_none_or(|own| own == tenant.id))
                .collect();
            ok(json!({ "tenants": tenants }))
        }
        Operation::GetTenant => ok(json!(registry.tenant(request.param("tenant"))?)),
        Operation::UpdateTenant => {
            let (update, head): (TenantUpdate, _) = read_json(request).await?;
            ok(json!(registry.update_tenant(
                head.param("tenant"),
                update,
                &head.actor()
            )?))
        }
        Operation::TenantContext => tenant_context(app, &request),
        Operation::TenantLogs => {
            let tenant = request.param("tenant");
            registry.tenant(tenant)?;
            let limit = request
                .query
                .get("limit")
                .and_then(|limit| limit.parse().ok())
                .unwrap_or(100_usize)
                .min(1000);
            let records: Vec<Value> = app
                .runtime()
                .logs()
                .recent(tenant, limit)
                .into_iter()
                .map(|record| {
                    json!({
                        "time_ms": record.time.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0),
                        "module": record.module,
                        "version": record.version,
                        "request_id": record.request_id,
                        "level": record.level.as_str(),
                        "message": record.message,
                        "fields": record.fields.into_iter().collect::<std::collections::BTreeMap<_, _>>(),
                    })
                })
                .collect();
            ok(json!({ "records": records }))
        }
        Operation::PublishModule => publish(app, request).await,
        Operation::ListVersions => {
            let principal = request.principal()?;
            let tenant = scoped_tenant(principal, request.query.get("tenant"))?;
            let versions =
                registry.versions(request.query.get("module").map(String::as_str), tenant.as_deref())?;
            ok(json!({ "versions": versions.iter().map(version_json).collect::<Vec<_>>() }))
        }
        Operation::GetVersion => {
            let principal = request.principal()?;
            let version = parse_version(request.param("version"))?;
            let record = registry.version(request.param("module"), &version, principal.tenant())?;
            let mut body = version_json(&record);
            body["manifest"] =
                serde_json::from_str(&record.manifest()?.to_json_pretty()).unwrap_or(Value::Null);
            ok(body)
        }
        Operation::ListDeployments => {
            let tenant = request.param("tenant");
            registry.tenant(tenant)?;
            ok(json!({ "deployments": registry.deployments_of(tenant)? }))
        }
        Operation::GetDeployment => {
            let tenant = request.param("tenant");
            registry.tenant(tenant)?;
            ok(json!(registry.deployment(tenant, request.param("module"))?))
        }
        Operation::Promote => {
            let (body, head): (PromoteBody, _) = read_json(request).await?;
            let version = parse_version(&body.version)?;
            let change = app
                .loader
                .promote(
                    head.param("tenant"),
                    head.param("module"),
                    &version,
                    &head.actor(),
                )
                .await?;
            ok(change_json(&change))
        }
        Operation::Rollback => {
            let (body, head): (RollbackBody, _) = read_json_or_empty(request).await?;
            let target = match body.to {
                Some(version) => RollbackTarget::To(parse_version(&version)?),
                None => RollbackTarget::Previous,
            };
            let change = app
                .loader
                .rollback(head.param("tenant"), head.param("module"), &target, &head.actor())
                .await?;
            ok(change_json(&change))
        }
        Operation::Disable => {
            let actor = request.principal()?.actor();
            let change = app
                .loader
                .disable(request.param("tenant"), request.param("module"), &actor)
                .await?;
            ok(change_json(&change))
        }
        Operation::GetConfig => {
            let (tenant, module) = (request.param("tenant"), request.param("module"));
            let history = registry.config(tenant, module)?;
            let resolved = registry.resolved_config(tenant, module).ok();
            ok(json!({
                "version": history.versions.last().map_or(0, |version| version.version),
                "values": history.current_values(),
                "resolved": resolved,
                "history": history.versions,
            }))
        }
        Operation::SetConfig => {
            let (body, head): (ConfigBody, _) = read_json(request).await?;
            ok(json!(registry.set_config(
                head.param("tenant"),
                head.param("module"),
                body.values,
                &head.actor()
            )?))
        }
        Operation::RollbackConfig => {
            let (body, head): (ConfigRollbackBody, _) = read_json(request).await?;
            ok(json!(registry.rollback_config(
                head.param("tenant"),
                head.param("module"),
                body.to,
                &head.actor()
            )?))
        }
        Operation::CreateToken => {
            let (new, head): (NewToken, _) = read_json(request).await?;
            let principal = head.principal.as_ref().ok_or_else(ApiError::unauthorized)?;
            if !principal.is_operator() {
                if principal.token.role != Role::TenantAdmin {
                    return Err(ApiError::forbidden(
                        "only operators and tenant admins create tokens",
                    ));
                }
                if new.role == Role::Operator || new.tenant.as_deref() != principal.tenant() {
                    return Err(ApiError::forbidden(
                        "a tenant admin creates tokens of its own tenant only, never operator tokens",
                    ));
                }
            }
            let (token, secret) = registry.create_token(new, &principal.actor())?;
            let mut body = json!(token);
            body["token"] = json!(secret);
            Ok(json_response(StatusCode::CREATED, &body))
        }
        Operation::ListTokens => {
            let principal = request.principal()?;
            if !principal.is_operator() && principal.token.role != Role::TenantAdmin {
                return Err(ApiError::forbidden(
                    "only operators and tenant admins list tokens",
                ));
            }
            let tenant = scoped_tenant(principal, request.query.get("tenant"))?;
            ok(json!({ "tokens": registry.tokens(tenant.as_deref())? }))
        }
        Operation::RevokeToken => {
            let principal = request.principal()?;
            let id = request.param("id");
            let token = registry
                .token(id)?
                .ok_or_else(|| ApiError::not_found(format!("no token has id `{id}`")))?;
            let may = principal.is_operator()
                || (principal.token.role == Role::TenantAdmin
                    && token.tenant.is_some()
                    && token.tenant.as_deref() == principal.tenant());
            if !may {
                return Err(ApiError::not_found(format!("no token has id `{id}`")));
            }
            ok(json!(registry.revoke_token(id, &principal.actor())?))
        }
        Operation::Audit => {
            let principal = request.principal()?;
            if !principal.is_operator() && principal.token.role != Role::TenantAdmin {
                return Err(ApiError::forbidden(
                    "only operators and tenant admins read the audit log",
                ));
            }
            let query = AuditQuery {
                tenant: scoped_tenant(principal, request.query.get("tenant"))?,
                actor: request.query.get("actor").cloned(),
                action: request.query.get("action").cloned(),
                after: request.query.get("after").and_then(|after| after.parse().ok()),
                limit: request.query.get("limit").and_then(|limit| limit.parse().ok()),
            };
            ok(json!({ "entries": registry.audit(&query)? }))
        }
    }
}

fn tenant_context(app: &App, request: &ApiRequest) -> Result<Response<Full<Bytes>>, ApiError> {
    let principal = request.principal()?;
    let tenant = app.registry.tenant(request.param("tenant"))?;
    let mut modules = Vec::new();
    let mut granted = std::collections::BTreeSet::new();
    for deployment in app.registry.deployments_of(&tenant.id)? {
        let Some(active) = deployment.active else { continue };
        let manifest = app
            .registry
            .version(&deployment.module, &active, None)?
            .manifest()?;
        let endpoints: Vec<Value> = manifest
            .endpoints
            .iter()
            .map(|endpoint| {
                let allowed = principal.token.grants_permission(&endpoint.permission);
                if allowed {
                    granted.insert(endpoint.permission.clone());
                }
                json!({
                    "method": endpoint.method.name(),
                    "path": endpoint.path.as_str(),
                    "permission": endpoint.permission,
                    "allowed": allowed,
                })
            })
            .collect();
        modules.push(json!({
            "id": deployment.module,
            "title": manifest.module.title,
            "icon": manifest.module.icon,
            "version": active.to_string(),
            "endpoints": endpoints,
        }));
    }
    ok(json!({
        "tenant": {"id": tenant.id, "name": tenant.name, "kind": tenant.kind, "organisation": tenant.organisation},
        "features": tenant.features,
        "modules": modules,
        "permissions": granted,
    }))
}

async fn publish(app: &Arc<App>, request: ApiRequest) -> Result<Response<Full<Bytes>>, ApiError> {
    let principal = request.principal()?.clone();
    // The body is read (bounded) before any refusal, so a refused client still
    // gets its answer instead of a connection reset mid-upload.
    let limit = app.config.max_component_bytes + 1024 * 1024;
    let body = read_body(&request.headers, request.body, limit).await?;
    let publisher = match (principal.token.role, request.query.get("owner")) {
        (Role::Operator, owner) => Publisher::Operator {
            owner: owner.cloned(),
        },
        (Role::TenantAdmin, owner) => {
            let own = principal.tenant().unwrap_or_default().to_owned();
            if let Some(other) = owner.filter(|owner| **owner != own) {
                return Err(ApiError::not_found(format!("tenant `{other}` does not exist")));
            }
            Publisher::Tenant(own)
        }
        (role, _) => {
            return Err(ApiError::forbidden(format!(
                "the role `{}` may not upload modules",
                role.name()
            )));
        }
    };
    let boundary = request
        .headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| multer::parse_boundary(value).ok())
        .ok_or_else(|| {
            ApiError::bad_request("send multipart/form-data with parts `manifest` and `component`")
        })?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let (mut manifest, mut component) = (None, None);
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|error| ApiError::bad_request(format!("the multipart body is malformed: {error}")))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field
            .bytes()
            .await
            .map_err(|error| ApiError::bad_request(format!("could not read part `{name}`: {error}")))?;
        match name.as_str() {
            "manifest" => {
                manifest = Some(
                    String::from_utf8(bytes.to_vec())
                        .map_err(|_| ApiError::bad_request("the manifest part is not UTF-8"))?,
                )
            }
            "component" => component = Some(bytes),
            other => {
                return Err(ApiError::bad_request(format!(
                    "unexpected part `{other}`; send `manifest` and `component`"
                )));
            }
        }
    }
    let (Some(manifest), Some(component)) = (manifest, component) else {
        return Err(ApiError::bad_request(
            "send both parts: `manifest` (module.toml) and `component` (.wasm)",
        ));
    };
    if component.len() > app.config.max_component_bytes {
        return Err(ApiError::too_large(app.config.max_component_bytes));
    }
    let actor = principal.actor();
    let registry = app.registry.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        registry.publish(Upload {
            manifest_text: &manifest,
            component: &component,
            publisher: &publisher,
            actor: &actor,
        })
    })
    .await
    .map_err(|error| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the upload task failed: {error}"),
        )
    })??;
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(
        status,
        &json!({"created": outcome.created, "version": version_json(&outcome.version)}),
    ))
}
