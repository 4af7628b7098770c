//! Modules: upload a version (multipart), list versions, read one version with its manifest.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use bytes::{Bytes, BytesMut};
use modhost_api::{PublishQuery, PublishResult, PublishUpload, VersionDetail, VersionList, VersionsQuery};
use modhost_registry::{Publisher, Role, Upload};
use utoipa_axum::routes;

use crate::access::{Access, Caller};
use crate::admin::convert;
use crate::admin::scope::scoped_tenant;
use crate::admin::table::{AppState, Routes};
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, BodyChunks, BodyRules, parse_version};

/// The module routes and who may call each.
pub(crate) fn routes(routes: Routes) -> Routes {
    routes
        .add(Access::Console, routes!(publish))
        .add(Access::Console, routes!(list_versions))
        .add(Access::Console, routes!(get_version))
}

/// upload a module version (multipart: manifest, then component)
///
/// Operators publish standard modules, or custom ones for `owner`; a tenant
/// admin publishes custom modules its tenant owns. The role is checked before
/// the body is read; the body is streamed: the `manifest` part (which must come
/// first) is checked before a byte of the component is read, and the
/// component is refused with `413` as soon as it passes the cap.
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
    // Who may upload, and whether a slot is free, is decided before a byte of
    // the body is read: a refused upload costs the host nothing (the
    // connection closes after the answer).
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
    let slot = publisher.and_then(|publisher| {
        let scope = match &publisher {
            Publisher::Operator { .. } => "operators".to_owned(),
            Publisher::Tenant(tenant) => format!("tenant {tenant}"),
        };
        Ok((app.uploads.try_acquire(&scope)?, publisher))
    });
    let (_slot, publisher) = match slot {
        Ok(granted) => granted,
        Err(refusal) => {
            drop(body);
            return Err(refusal.closing());
        }
    };
    let boundary = parts
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| multer::parse_boundary(value).ok())
        .ok_or_else(|| {
            ApiError::bad_request("send multipart/form-data with parts `manifest` and `component`").closing()
        })?;
    let limits = BodyRules::new(
        &app.config,
        app.config.max_component_bytes + MULTIPART_OVERHEAD_BYTES,
    );
    let chunks = BodyChunks::new(&parts.headers, body, limits)?;
    let multipart = multer::Multipart::new(body_stream(chunks), boundary);
    let outcome = receive(&app, multipart, publisher, principal.actor()).await?;
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

/// Reads the upload part by part: the manifest is checked before the
/// component is read, then the whole upload is published.
async fn receive(
    app: &AppState,
    mut multipart: multer::Multipart<'static>,
    publisher: Publisher,
    actor: String,
) -> Result<modhost_registry::PublishOutcome, ApiError> {
    let manifest = next_part(&mut multipart, "manifest", MAX_MANIFEST_BYTES).await?;
    let manifest = String::from_utf8(manifest.to_vec())
        .map_err(|_| ApiError::bad_request("the manifest part is not UTF-8").closing())?;
    let registry = app.registry.clone();
    let checked = (manifest, publisher, actor);
    let (manifest, publisher, actor) = tokio::task::spawn_blocking(move || {
        let (manifest, publisher, actor) = checked;
        registry
            .check_upload_manifest(&manifest, &publisher, &actor)
            .map(|()| (manifest, publisher, actor))
    })
    .await
    .map_err(|error| ApiError::internal(format!("the upload task failed: {error}")))?
    .map_err(|error| ApiError::from(error).closing())?;
    let component = next_part(&mut multipart, "component", app.config.max_component_bytes).await?;
    if multipart.next_field().await.map_err(multipart_error)?.is_some() {
        return Err(ApiError::bad_request(
            "unexpected part after `component`; send `manifest` and `component` only",
        )
        .closing());
    }
    let registry = app.registry.clone();
    Ok(tokio::task::spawn_blocking(move || {
        registry.publish(Upload {
            manifest_text: &manifest,
            component: &component,
            publisher: &publisher,
            actor: &actor,
        })
    })
    .await
    .map_err(|error| ApiError::internal(format!("the upload task failed: {error}")))??)
}

/// The most a `manifest` part may be.
const MAX_MANIFEST_BYTES: usize = 256 * 1024;
/// What a multipart upload may carry beyond its component: the manifest, part headers, boundaries.
const MULTIPART_OVERHEAD_BYTES: usize = MAX_MANIFEST_BYTES + 64 * 1024;

/// A failure reading the body under its rules, carried through multer.
#[derive(Debug)]
struct BodyFailed(ApiError);

impl std::fmt::Display for BodyFailed {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0.message)
    }
}

impl std::error::Error for BodyFailed {}

/// The body's chunks as the stream multer reads; ends after the first failure.
fn body_stream(chunks: BodyChunks) -> impl futures_util::Stream<Item = Result<Bytes, BodyFailed>> {
    futures_util::stream::unfold(Some(chunks), |chunks| async move {
        let mut chunks = chunks?;
        match chunks.next().await {
            Ok(Some(chunk)) => Some((Ok(chunk), Some(chunks))),
            Ok(None) => None,
            Err(error) => Some((Err(BodyFailed(error)), None)),
        }
    })
}

/// A multipart failure: the body's own refusal (`408`, `413`) if that is
/// what stopped it, else `400`.
fn multipart_error(error: multer::Error) -> ApiError {
    if let multer::Error::StreamReadFailed(source) = &error
        && let Some(BodyFailed(refusal)) = source.downcast_ref::<BodyFailed>()
    {
        return refusal.clone();
    }
    ApiError::bad_request(format!("the multipart body is malformed: {error}")).closing()
}

/// The next part, which must be `name`, read whole up to `limit` bytes.
async fn next_part(
    multipart: &mut multer::Multipart<'static>,
    name: &str,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? else {
        return Err(ApiError::bad_request(format!(
            "the `{name}` part is missing; send `manifest` (module.toml) first, then `component` (.wasm)"
        )));
    };
    let found = field.name().unwrap_or_default().to_owned();
    if found != name {
        return Err(ApiError::bad_request(format!(
            "expected the `{name}` part but got `{}`; send `manifest` (module.toml) first, then `component` (.wasm)",
            crate::text::bounded(&found)
        ))
        .closing());
    }
    let mut bytes = BytesMut::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if bytes.len() + chunk.len() > limit {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                format!("the `{name}` part is larger than {limit} bytes"),
            )
            .closing());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes.freeze())
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
