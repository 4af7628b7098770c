//! The wasmtime-wasi-http peer: a trivial `wasi:http/proxy` component served the way `wasmtime serve` serves one.
//!
//! The component is `target/fixtures/http-hello.wasm` (`plugins/fixtures/http-hello`,
//! built by `cargo xtask build-plugins`), which answers every request `200 hello`.
//! What follows is wasmtime 48's `src/commands/serve.rs` for a wasip2 component
//! run as `wasmtime serve -Scli` (no timeout, no profiling), minus logging:
//!
//! - once: an engine with the component model and the pooling allocator at
//!   its defaults (serve's `use_pooling_allocator_by_default` picks it on a
//!   64-bit host with a 48-bit address space), a linker with WASI's p2
//!   interfaces and `wasi:http` (`-Scli`: a component built with Rust's std
//!   imports `wasi:cli/environment`, outside the bare proxy world, so it needs
//!   `-Scli` under `wasmtime serve` too), the component compiled and
//!   pre-instantiated into a `ProxyPre`;
//! - per request (serve reuses a wasip2 instance for at most one request):
//!   a permit of the request semaphore (1,000 permits), a fresh `Store` with a
//!   new WASI context (its `INSTANCE_ID` environment variable, blocking the
//!   current thread allowed as serve does without a timeout), resource table,
//!   HTTP context and store limits; a task that instantiates the `ProxyPre`
//!   into it and calls `wasi:http/incoming-handler.handle` with the request and
//!   a response outparam; the response is awaited from the outparam's channel
//!   and streamed back by hyper (HTTP/1, keep-alive, `TCP_NODELAY`).
//!
//! Outgoing HTTP (`wasi:http/outgoing-handler`) is linked but refused: the
//! trivial component never sends a request, and the crate's default client
//! (rustls) is not built.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store, StoreLimits};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{
    RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView,
};

/// `wasmtime serve`'s default limit of requests handled at once.
const MAX_CONCURRENT_REQUESTS: usize = 1000;

/// The state of one request's store, as `wasmtime serve`'s `Host` without the optional interfaces.
struct Host {
    table: ResourceTable,
    ctx: WasiCtx,
    http: WasiHttpCtx,
    hooks: RefuseOutgoing,
    limits: StoreLimits,
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for Host {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// The default hooks, except that an outgoing request is refused.
struct RefuseOutgoing;

impl WasiHttpHooks for RefuseOutgoing {
    fn send_request(
        &mut self,
        _request: hyper::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        hyper::Response<WasiBody>,
                        Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}

/// The component, pre-instantiated, and the per-request bookkeeping.
struct Server {
    pre: ProxyPre<Host>,
    next_instance_id: AtomicU64,
    requests: tokio::sync::Semaphore,
    /// Whether a failed request was already reported (once is enough: the client counts them).
    reported: AtomicBool,
}

impl Server {
    /// Compiles and pre-instantiates the component.
    fn new(component: &[u8]) -> anyhow::Result<Self> {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(
            wasmtime::PoolingAllocationConfig::default(),
        ));
        let engine = Engine::new(&config).map_err(anyhow::Error::from)?;
        let component = Component::new(&engine, component)
            .map_err(anyhow::Error::from)
            .context("could not compile the http-hello fixture")?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(anyhow::Error::from)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(anyhow::Error::from)?;
        let pre = linker
            .instantiate_pre(&component)
            .and_then(ProxyPre::new)
            .map_err(anyhow::Error::from)
            .context("the http-hello fixture is not a wasi:http proxy")?;
        Ok(Self {
            pre,
            next_instance_id: AtomicU64::new(0),
            requests: tokio::sync::Semaphore::new(MAX_CONCURRENT_REQUESTS),
            reported: AtomicBool::new(false),
        })
    }

    /// A fresh store, as `wasmtime serve`'s `new_store`.
    fn new_store(&self) -> Store<Host> {
        let instance_id = self.next_instance_id.fetch_add(1, Ordering::Relaxed);
        let mut builder = WasiCtxBuilder::new();
        builder.allow_blocking_current_thread(true);
        builder.env("INSTANCE_ID", instance_id.to_string());
        let host = Host {
            table: ResourceTable::new(),
            ctx: builder.build(),
            http: WasiHttpCtx::new(),
            hooks: RefuseOutgoing,
            limits: StoreLimits::default(),
        };
        let mut store = Store::new(self.pre.engine(), host);
        store.limiter(|host| &mut host.limits);
        store
    }

    /// One request: a fresh store and instance, then `incoming-handler.handle`.
    async fn handle(
        &self,
        request: hyper::Request<hyper::body::Incoming>,
    ) -> anyhow::Result<hyper::Response<HyperOutgoingBody>> {
        let _permit = self.requests.acquire().await?;
        let mut store = self.new_store();
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let request = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)
            .map_err(anyhow::Error::from)?;
        let out = store
            .data_mut()
            .http()
            .new_response_outparam(sender)
            .map_err(anyhow::Error::from)?;
        let pre = self.pre.clone();
        // As serve does, the guest runs in its own task, so it can go on
        // (streaming the body) after the response head is sent.
        let task = tokio::spawn(async move {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, request, out)
                .await
        });
        match receiver.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(code)) => anyhow::bail!("the guest answered with an error: {code:?}"),
            Err(_) => {
                let outcome = task.await?.map_err(anyhow::Error::from);
                outcome.context("the guest never set a response")?;
                anyhow::bail!("the guest never set a response")
            }
        }
    }
}

/// A 500 as `wasmtime serve` answers one when a request fails.
fn internal_error() -> hyper::Response<HyperOutgoingBody> {
    let body = Full::new(Bytes::from_static(b"500 Internal Server Error"))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = hyper::Response::new(body);
    *response.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
    response
}

/// Serves `component` on `listener` until `stopped`.
pub async fn serve(
    component: Vec<u8>,
    listener: tokio::net::TcpListener,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) -> anyhow::Result<()> {
    let server = Arc::new(Server::new(&component)?);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let server = server.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let server = server.clone();
                        async move {
                            Ok::<_, Infallible>(server.handle(request).await.unwrap_or_else(|error| {
                                if !server.reported.swap(true, Ordering::Relaxed) {
                                    eprintln!("wasi-http peer: a request failed: {error:#}");
                                }
                                internal_error()
                            }))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            _ = &mut stopped => return Ok(()),
        }
    }
}
