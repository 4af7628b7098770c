//! Modules: upload a version (multipart), list versions, read one version with its manifest.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use bytes::Bytes;
use modhost_api::{PublishQuery, PublishResult, PublishUpload, VersionDetail, VersionList, VersionsQuery};
use modhost_registry::{Publisher, Role, Upload};
use utoipa_axum::routes;

use crate::access::{Access, Caller};
use crate::admin::convert;
use crate::admin::scope::scoped_tenant;
use crate::admin::table::{AppState, Routes};
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, linger_on, parse_version, read_body};

/// The module routes and who may call each.
pub(crate) fn routes(routes: Routes) -> Routes {
    routes
        .add(Access::Authenticated, routes!(publish))
        .add(Access::Authenticated, routes!(list_versions))
        .add(Access::Authenticated, routes!(get_version))
}

/// upload a module version (multipart: manifest, component)
///
/// Operators publish standard modules, or custom ones for `owner`; a tenant
/// admin publishes custom modules its tenant owns. The body is refused with
/// `413` past the component cap before it is read whole.
#[utoipa::path(post, path = "/v1/modules", operation_id = "PublishModule", tag = "modules",
    params(PublishQuery),
    request_body(content = PublishUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "a new version", body = PublishResult),
        (status = 200, description = "an identical re-upload; nothing changed", body = PublishResult),
    ))]
async fn publish(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PublishQuery>,
    request: Request,
) -> Result<(StatusCode, Json<PublishResult>), ApiError> {
    let principal = caller.0;
    let (parts, body) = request.into_parts();
    // Who may upload is decided before a byte of the body is read: a refused
    // upload costs the host nothing (the connection closes after the answer).
    let publisher = match (principal.token.role, query.owner) {
        (Role::Operator, owner) => Ok(Publisher::Operator { owner }),
        (Role::TenantAdmin, owner) => {
            let own = principal.tenant().unwrap_or_default().to_owned();
            match owner.filter(|owner| *owner != own) {
                Some(other) => Err(ApiError::not_found(format!("tenant `{other}` does not exist"))),
                None => Ok(Publisher::Tenant(own)),
            }
        }
        (role, _) => Err(ApiError::forbidden(format!(
            "the role `{}` may not upload modules",
            role.name()
        ))),
    };
    let publisher = match publisher {
        Ok(publisher) => publisher,
        Err(refusal) => {
            linger_on(body);
            return Err(refusal.closing());
        }
    };
    let limit = app.config.max_component_bytes + 1024 * 1024;
    let body = read_body(&parts.headers, body, limit).await?;
    let boundary = parts
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| multer::parse_boundary(value).ok())
        .ok_or_else(|| {
            ApiError::bad_request("send multipart/form-data with parts `manifest` and `component`")
        })?;
    let (manifest, component) = read_parts(body, boundary).await?;
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
    .map_err(|error| ApiError::internal(format!("the upload task failed: {error}")))??;
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(PublishResult {
            created: outcome.created,
            version: convert::module_version(&outcome.version),
        }),
    ))
}

/// The `manifest` and `component` parts of a multipart upload.
async fn read_parts(body: Bytes, boundary: String) -> Result<(String, Bytes), ApiError> {
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
    match (manifest, component) {
        (Some(manifest), Some(component)) => Ok((manifest, component)),
        _ => Err(ApiError::bad_request(
            "send both parts: `manifest` (module.toml) and `component` (.wasm)",
        )),
    }
}

/// list module versions the caller may see
#[utoipa::path(get, path = "/v1/modules", operation_id = "ListVersions", tag = "modules",
    params(VersionsQuery),
    responses((status = 200, description = "tenant-scoped callers see standard modules and their own custom ones", body = VersionList)))]
async fn list_versions(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<VersionsQuery>,
) -> Result<Json<VersionList>, ApiError> {
    let tenant = scoped_tenant(&caller.0, query.tenant)?;
    let versions = app
        .registry
        .versions(query.module.as_deref(), tenant.as_deref())?;
    Ok(Json(VersionList {
        versions: versions.iter().map(convert::module_version).collect(),
    }))
}

/// one module version with its manifest
#[utoipa::path(get, path = "/v1/modules/{module}/versions/{version}", operation_id = "GetVersion", tag = "modules",
    params(("module" = String, Path, description = "the module id"), ("version" = String, Path, description = "a semver version")),
    responses((status = 200, description = "the version and its manifest as JSON", body = VersionDetail)))]
async fn get_version(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((module, version)): ApiPath<(String, String)>,
) -> Result<Json<VersionDetail>, ApiError> {
    let version = parse_version(&version)?;
    let record = app.registry.version(&module, &version, caller.0.tenant())?;
    let manifest =
        serde_json::from_str(&record.manifest()?.to_json_pretty()).unwrap_or(serde_json::Value::Null);
    Ok(Json(VersionDetail {
        version: convert::module_version(&record),
        manifest,
    }))
}
