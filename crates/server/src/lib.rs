//! The modhost HTTP server: the data plane, the admin API, auth and roles, metrics.
//!
//! `run` opens the data directory (registry + compile cache), starts the
//! runtime and the loader, makes sure an operator token exists (printing a new
//! one once, or taking `MODHOST_ADMIN_TOKEN`), and serves HTTP/1.1 with hyper
//! until SIGINT or SIGTERM, then drains in-flight requests.
//!
//! Requests are routed by [`routes::ROUTES`], one table that the dispatcher,
//! the authorization checks and the OpenAPI document (`/v1/openapi.json`) all
//! read, so they cannot drift apart. `/t/{tenant}/{module}/…` goes to the data
//! plane (`data_plane.rs`).
//!
//! # Invariants
//!
//! - Deny by default: every route names the access it needs; nothing is
//!   served before the caller is checked.
//! - A tenant-scoped token never learns about another tenant: it gets the
//!   same `404` as for a tenant that does not exist.
//! - Tokens and request bodies are never logged or audited; the audit log
//!   names a token by its public id.

mod api;
mod auth;
pub mod config;
mod data_plane;
mod error;
mod metrics;
pub mod openapi;
pub mod routes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use modhost_deploy::{Loader, RegistryKvStore};
use modhost_registry::{Registry, RegistryConfig};
use modhost_runtime::{Runtime, RuntimeConfig};

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
}

/// The shared state of every request.
pub(crate) struct App {
    pub(crate) registry: Registry,
    pub(crate) loader: Loader,
    pub(crate) config: ServerConfig,
    request_ids: AtomicU64,
    request_id_prefix: String,
}

impl App {
    pub(crate) fn next_request_id(&self) -> String {
        format!(
            "{}-{:x}",
            self.request_id_prefix,
            self.request_ids.fetch_add(1, Ordering::Relaxed)
        )
    }

    pub(crate) fn runtime(&self) -> &Runtime {
        self.loader.runtime()
    }
}

/// Runs the server until SIGINT or SIGTERM.
pub async fn run(options: ServeOptions) -> anyhow::Result<()> {
    let mut config = ServerConfig::load(options.config_file.as_deref())?;
    if let Some(listen) = options.listen {
        config.listen = listen;
    }
    if let Some(data_dir) = options.data_dir {
        config.data_dir = data_dir;
    }
    let app = Arc::new(open(config)?);
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
    serve(listener, app, shutdown_signal()).await
}

/// Opens the data directory and starts everything behind the HTTP layer.
fn open(config: ServerConfig) -> anyhow::Result<App> {
    let registry = Registry::open(
        config.data_dir.join("registry"),
        RegistryConfig {
            max_component_bytes: config.max_component_bytes,
        },
    )?;
    ensure_operator_token(&registry)?;
    let runtime_config = RuntimeConfig {
        max_memory_bytes: config.max_module_memory_mb * 1024 * 1024,
        max_timeout: Duration::from_millis(config.max_module_timeout_ms),
        compile_cache_dir: Some(config.data_dir.join("compiled")),
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::new(runtime_config, Arc::new(RegistryKvStore(registry.clone())))?;
    let loader = Loader::start(runtime, registry.clone())?;
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Ok(App {
        registry,
        loader,
        config,
        request_ids: AtomicU64::new(0),
        request_id_prefix: format!("{:x}", started.as_secs()),
    })
}

/// Takes `MODHOST_ADMIN_TOKEN`, or creates the first operator token and prints it once.
fn ensure_operator_token(registry: &Registry) -> anyhow::Result<()> {
    if let Ok(secret) = std::env::var("MODHOST_ADMIN_TOKEN") {
        registry
            .ensure_operator_secret(&secret, "system")
            .context("MODHOST_ADMIN_TOKEN was refused")?;
        return Ok(());
    }
    if registry.has_operator_token()? {
        return Ok(());
    }
    let (_, secret) = registry.create_token(
        modhost_registry::NewToken {
            name: "first operator".into(),
            role: modhost_registry::Role::Operator,
            tenant: None,
            permissions: None,
        },
        "system",
    )?;
    println!("operator token (shown once, keep it safe): {secret}");
    Ok(())
}

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
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = hyper::server::conn::http1::Builder::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "could not accept a connection");
                        continue;
                    }
                };
                let app = app.clone();
                let service = service_fn(move |request: Request<Incoming>| {
                    let app = app.clone();
                    async move { Ok::<_, std::convert::Infallible>(handle(app, request).await) }
                });
                                let connection = builder.serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => {
                tracing::info!("shutting down: draining in-flight requests");
                break;
            }
        }
    }
    drop(listener);
    let grace = Duration::from_millis(app.config.shutdown_grace_ms);
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::warn!("some requests were still running after the grace period");
    }
    Ok(())
}

async fn handle(app: Arc<App>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let request_id = app.next_request_id();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = std::time::Instant::now();
    let mut response = if path.starts_with("/t/") {
        data_plane::handle(&app, request, &request_id).await
    } else {
        routes::dispatch(&app, request, &request_id).await
    };
    if let Ok(value) = hyper::header::HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    tracing::info!(%method, %path, status = response.status().as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, %request_id, "request");
    response
}

/// Starts a server on an already bound listener, for tests that need a free port.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    config: ServerConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let app = Arc::new(open(config)?);
    serve(listener, app, shutdown).await
}
