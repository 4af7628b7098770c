//! The modhost HTTP server: the data plane, the admin API, auth and roles, metrics.
//!
//! `run` opens the data directory (registry + compile cache), starts the
//! runtime and the loader, makes sure an operator token exists (writing a new
//! one to `<data>/operator-token`, mode `0600`, or taking
//! `MODHOST_ADMIN_TOKEN`), keeps the data directory private to the server's
//! user (`0700`/`0600`), and serves HTTP/1.1 with hyper
//! until SIGINT or SIGTERM, then drains in-flight requests.
//!
//! The admin API is an axum router (`admin/`, one file per resource). Each
//! route is added with its access rule ([`access::Access`]), enforced by one
//! guard that also audits every refusal; its `#[utoipa::path]` gives the
//! OpenAPI document (`/v1/openapi.json`) the request and response schemas of
//! `modhost-api`. Anything the router does not match goes to the fallback:
//! `/t/{tenant}/{module}/…` to the data plane (`data_plane.rs`), the rest `404`.
//! The browser dashboard's static files are served under `/ui/` (`ui/`).
//!
//! # Invariants
//!
//! - Deny by default: every route names the access it needs; nothing is
//!   served before the caller is checked.
//! - A tenant-scoped token never learns about another tenant: it gets the
//!   same `404` as for a tenant that does not exist.
//! - Tokens and request bodies are never logged or audited; the audit log
//!   names a token by its public id.

pub mod access;
mod admin;
mod app;
mod backup_files;
mod backup_scheduler;
pub mod config;
mod data_plane;
mod denials;
mod edge;
mod error;
mod extract;
mod guest_response;
mod metrics;
mod module_logs;
pub mod openapi;
mod text;
mod trace_context;
mod ui;
mod work_slots;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::{ALLOW, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse as _, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tower::ServiceExt as _;

use crate::app::App;

pub use crate::config::ServerConfig;
pub use crate::error::ApiError;

/// What `modhost serve` passes in; unset fields come from the config file or defaults.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Where to listen.
    pub listen: Option<SocketAddr>,
    /// The data directory.
    pub data_dir: Option<PathBuf>,
    /// A `modhost.toml`.
    pub config_file: Option<PathBuf>,
    /// The settings already read from `config_file` (by `modhost serve`, to
    /// set up trace export before the server starts); read here when `None`.
    pub config: Option<ServerConfig>,
}

/// Runs the server until SIGINT or SIGTERM.
pub async fn run(options: ServeOptions) -> anyhow::Result<()> {
    let mut config = match options.config {
        Some(config) => config,
        None => ServerConfig::load(options.config_file.as_deref())?,
    };
    if let Some(listen) = options.listen {
        config.listen = listen;
    }
    if let Some(data_dir) = options.data_dir {
        config.data_dir = data_dir;
    }
    let (app, router) = start(config)?;
    let listener = tokio::net::TcpListener::bind(app.config.listen)
        .await
        .with_context(|| {
            format!(
                "could not listen on {}; is another server running there?",
                app.config.listen
            )
        })?;
    let address = listener.local_addr()?;
    tracing::info!(%address, data_dir = %app.config.data_dir.display(), "modhost is serving");
    println!("modhost is listening on http://{address}");
    serve(listener, app, router, shutdown_signal()).await
}

/// Opens the data directory and builds the router over it.
fn start(config: ServerConfig) -> anyhow::Result<(Arc<App>, Router)> {
    let (router, _) = admin::build();
    let (router, mut document) = router.split_for_parts();
    openapi::finish(&mut document);
    let document = serde_json::to_vec(&document).context("could not render the OpenAPI document")?;
    let app = Arc::new(app::open(config, document.into())?);
    let router = router
        .merge(ui::router())
        .fallback(fallback)
        .with_state(app.clone());
    Ok((app, router))
}

/// What no admin route matches: the data plane under `/t/`, else `404`.
async fn fallback(State(app): State<Arc<App>>, request: Request) -> Response {
    if request.uri().path().starts_with("/t/") {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_default();
        return data_plane::handle(&app, request, &request_id).await;
    }
    ApiError::not_found(format!("no route {} {}", request.method(), request.uri().path())).into_response()
}

/// How many routes the start-up warm-up compiles at once (compiling is CPU-heavy).
const WARM_UP_CONCURRENCY: usize = 2;

/// How often the audit log is pruned to `audit_max_entries` and `audit_max_age_days`.
const AUDIT_PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Prunes the audit log at start and then every [`AUDIT_PRUNE_EVERY`].
async fn prune_audit_periodically(app: Arc<App>) {
    let max_entries = app.config.audit_max_entries;
    let max_age = Duration::from_secs(app.config.audit_max_age_days.saturating_mul(86_400));
    let mut ticks = tokio::time::interval(AUDIT_PRUNE_EVERY);
    loop {
        ticks.tick().await;
        let registry = app.registry.clone();
        match tokio::task::spawn_blocking(move || registry.prune_audit(max_entries, max_age)).await {
            Ok(Ok(_deleted)) => {}
            Ok(Err(error)) => tracing::error!(%error, "could not prune the audit log"),
            Err(error) => tracing::error!(%error, "the audit pruning task failed"),
        }
    }
}

/// The id of the request being served, as `x-request-id` names it.
#[derive(Debug, Clone)]
struct RequestId(String);

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        () = terminate => {},
    }
}

/// Accepts connections until `shutdown` resolves, then drains in-flight requests.
async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    router: Router,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let pruning = tokio::spawn(prune_audit_periodically(app.clone()));
    let rollouts = app.loader.drive_rollouts();
    let alert_tasks = app.alerting.start(&app.loader)?;
    let backups = backup_scheduler::start(app.clone());
    // In the background: serving starts at once; `/readyz` waits for it.
    let warm_up = app.loader.warm_up(&app.warm_up, WARM_UP_CONCURRENCY);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = edge::connection_builder(&app.config);
    let permits = Arc::new(tokio::sync::Semaphore::new(
        usize::try_from(app.config.max_connections).unwrap_or(usize::MAX),
    ));
    let mut failures = edge::AcceptFailures::new(app.edge.clone());
    tokio::pin!(shutdown);
    loop {
        // At the cap, wait for a connection to close before accepting.
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break,
            },
            () = &mut shutdown => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, client) = match accepted {
            Ok((stream, address)) => (stream, access::ClientAddress(address.ip())),
            Err(error) => {
                drop(permit);
                let wait = failures.failed(&error);
                tokio::select! {
                    () = tokio::time::sleep(wait) => continue,
                    () = &mut shutdown => break,
                }
            }
        };
        let open = app.edge.opened();
        let (app, router) = (app.clone(), router.clone());
        let service = service_fn(move |request: hyper::Request<Incoming>| {
            let (app, router) = (app.clone(), router.clone());
            async move { Ok::<_, std::convert::Infallible>(handle(app, router, client, request).await) }
        });
        let connection = builder.serve_connection(TokioIo::new(edge::LingeringClose::new(stream)), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
            drop((open, permit));
        });
    }
    pruning.abort();
    rollouts.abort();
    backups.abort();
    warm_up.abort();
    drop(alert_tasks);
    app.module_logs.close_streams();
    tracing::info!("shutting down: draining in-flight requests");
    drop(listener);
    let grace = Duration::from_millis(app.config.shutdown_grace_ms);
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::warn!("some requests were still running after the grace period");
    }
    Ok(())
}

async fn handle(
    app: Arc<App>,
    router: Router,
    client: access::ClientAddress,
    request: hyper::Request<Incoming>,
) -> Response {
    let request_id = incoming_request_id(request.headers()).unwrap_or_else(|| app.next_request_id());
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = std::time::Instant::now();
    let mut request = request.map(axum::body::Body::new);
    request.extensions_mut().insert(app.clone());
    request.extensions_mut().insert(RequestId(request_id.clone()));
    request.extensions_mut().insert(client);
    let caller_seen = access::CallerSeen::default();
    request.extensions_mut().insert(caller_seen.clone());
    let mut response = match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    if let Some(failure) = response.extensions_mut().remove::<error::HostFailure>() {
        response = host_failure_response(&response, &failure, &request_id, caller_seen.is_operator());
    }
    if response.status() == StatusCode::METHOD_NOT_ALLOWED && !response.headers().contains_key(CONTENT_TYPE) {
        response = method_not_allowed(&method, &path, &response);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    if tracing::enabled!(tracing::Level::INFO) {
        let (tenant, module) = tenant_and_module(&path);
        tracing::info!(
            %method,
            %path,
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            %request_id,
            principal = caller_seen.actor().unwrap_or("-"),
            tenant = tenant.unwrap_or("-"),
            module = module.unwrap_or("-"),
            "request"
        );
    }
    response
}

/// The longest `x-request-id` taken from a caller.
const MAX_INCOMING_REQUEST_ID: usize = 64;

/// The caller's `x-request-id` when it is a plain token (1 to 64 of
/// `A-Z a-z 0-9 - _ . :`), so a proxy's or client's id follows the request
/// through the logs and the answer; anything else is ignored and the host
/// makes its own id (never refused: the id is for tracing, not access).
fn incoming_request_id(headers: &hyper::HeaderMap) -> Option<String> {
    let value = headers.get("x-request-id")?.to_str().ok()?;
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
    (!value.is_empty() && value.len() <= MAX_INCOMING_REQUEST_ID && value.chars().all(plain))
        .then(|| value.to_owned())
}

/// The tenant and module a path addresses, for the access log:
/// `/t/{tenant}/{module}/…` and `/v1/tenants/{tenant}/…` (with
/// `deployments/{module}` or `config/{module}` after it).
fn tenant_and_module(path: &str) -> (Option<&str>, Option<&str>) {
    let mut segments = path.split('/').filter(|segment| !segment.is_empty());
    match (segments.next(), segments.next()) {
        (Some("t"), tenant) => (tenant, segments.next()),
        (Some("v1"), Some("tenants")) => {
            let tenant = segments.next();
            let module = match segments.next() {
                Some("deployments" | "config") => segments.next(),
                _ => None,
            };
            (tenant, module)
        }
        _ => (None, None),
    }
}

/// The answer to a host failure: logged with its detail and the request id;
/// operators get the detail, other callers only the request id to report.
fn host_failure_response(
    answered: &Response,
    failure: &error::HostFailure,
    request_id: &str,
    operator: bool,
) -> Response {
    tracing::error!(%request_id, code = failure.code, detail = %failure.detail, "the host failed a request");
    let message = if operator {
        format!("{} (request id `{request_id}`)", failure.detail)
    } else {
        error::host_failure_message(request_id)
    };
    let mut response = ApiError::new(answered.status(), failure.code, message).into_response();
    for (name, value) in answered.headers() {
        if name != axum::http::header::CONTENT_LENGTH {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    response
}

/// The JSON `405` for an admin path that exists with other methods (the router answers it bare).
fn method_not_allowed(method: &axum::http::Method, path: &str, bare: &Response) -> Response {
    let allowed = bare
        .headers()
        .get(ALLOW)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|allowed| !allowed.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    let mut error = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        format!("{method} is not allowed on {path}; use {allowed}"),
    );
    error.headers.push(("allow", allowed));
    error.into_response()
}

/// Starts a server on an already bound listener, for tests that need a free port.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    config: ServerConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let (app, router) = start(config)?;
    serve(listener, app, router, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_incoming_request_id_is_kept_anything_else_is_not() {
        let with = |value: &str| {
            let mut headers = hyper::HeaderMap::new();
            headers.insert(
                "x-request-id",
                HeaderValue::from_str(value).unwrap_or(HeaderValue::from_static("")),
            );
            incoming_request_id(&headers)
        };
        assert_eq!(with("edge-7f3a:42.1_b").as_deref(), Some("edge-7f3a:42.1_b"));
        assert_eq!(with(&"a".repeat(64)).as_deref(), Some("a".repeat(64).as_str()));
        assert_eq!(with(&"a".repeat(65)), None);
        assert_eq!(with(""), None);
        assert_eq!(with("has space"), None);
        assert_eq!(with("new\\nline"), None);
        assert_eq!(with("quote\""), None);
        assert_eq!(incoming_request_id(&hyper::HeaderMap::new()), None);
    }

    #[test]
    fn the_access_log_names_the_tenant_and_module_a_path_addresses() {
        assert_eq!(
            tenant_and_module("/t/acme/inventory/items/1"),
            (Some("acme"), Some("inventory"))
        );
        assert_eq!(tenant_and_module("/t/acme"), (Some("acme"), None));
        assert_eq!(
            tenant_and_module("/v1/tenants/acme/deployments/inventory/promote"),
            (Some("acme"), Some("inventory"))
        );
        assert_eq!(
            tenant_and_module("/v1/tenants/acme/config/inventory"),
            (Some("acme"), Some("inventory"))
        );
        assert_eq!(tenant_and_module("/v1/tenants/acme/logs"), (Some("acme"), None));
        assert_eq!(tenant_and_module("/v1/modules"), (None, None));
        assert_eq!(tenant_and_module("/healthz"), (None, None));
    }
}
