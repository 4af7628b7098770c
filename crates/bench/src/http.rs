//! HTTP: the peers under the same load client in the same run, each server alone while measured, then swaps under load and the neighbour under attack.
//!
//! The peers: bare hyper (a hello-world), the wasmtime-wasi-http serving path
//! (`wasi_http.rs`: what `wasmtime serve` runs) with a trivial component, and
//! modhost's trivial read route (template `GET /ping`, no kv), kv read route
//! (`GET /notes/{id}` of a note stored first) and kv write route
//! (`GET /hello/{name}`, which counts the visit). Each is recorded under
//! `http.<peer>.*`, with ratios under `http.ratio.*`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use modhost_registry::{NewToken, Publisher, Role, TenantKind};

use crate::support::{self, ACTOR, Modules};
use crate::{Plan, Results, wasi_http};

/// A server running on its own thread with its own two-worker tokio runtime.
struct ServerThread {
    address: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
}

impl ServerThread {
    fn spawn<F, Fut>(serve: F) -> anyhow::Result<Self>
    where
        F: FnOnce(tokio::net::TcpListener, tokio::sync::oneshot::Receiver<()>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = anyhow::Result<()>>,
    {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").context("no free port")?;
        let address = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let (shutdown, stopped) = tokio::sync::oneshot::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                serve(listener, stopped).await
            })
        });
        Ok(Self {
            address,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    fn stop(mut self) -> anyhow::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(outcome)) => outcome,
            Some(Err(_)) => anyhow::bail!("a server thread panicked"),
            None => Ok(()),
        }
    }
}

/// A plain hyper HTTP/1 hello-world: the baseline.
async fn plain_hello(
    listener: tokio::net::TcpListener,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) -> anyhow::Result<()> {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let service = hyper::service::service_fn(|_request| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                        br#"{"message":"hello, x"}"#,
                    ))))
                });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            _ = &mut stopped => return Ok(()),
        }
    }
}

/// A keep-alive client connection.
async fn connect(address: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// Sends one request and returns its status and body.
async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    address: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> anyhow::Result<(u16, Bytes)> {
    sender.ready().await?;
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", address.to_string());
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if !body.is_empty() {
        request = request.header("content-type", "application/json");
    }
    let request = request.body(Full::new(Bytes::copy_from_slice(body.as_bytes())))?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await?.to_bytes();
    Ok((status, bytes))
}

/// What a load run saw: a request answered 2xx is ok, any other answer or a
/// broken connection is failed.
struct Load {
    ok: u64,
    failed: u64,
    /// The first failure, for the report.
    first_failure: Option<String>,
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Load {
    #[allow(clippy::cast_precision_loss, reason = "request counts")]
    fn record(mut self, results: &mut Results, prefix: &str) -> f64 {
        let rps = self.ok as f64 / self.elapsed.as_secs_f64();
        results.insert(format!("{prefix}.rps"), rps);
        results.insert(format!("{prefix}.requests"), self.ok as f64);
        results.insert(format!("{prefix}.failed"), self.failed as f64);
        support::percentiles_us(results, prefix, &mut self.latencies);
        rps
    }

    /// Records a peer's figures, reporting its failures (a peer should have none).
    fn record_peer(self, results: &mut Results, peer: &str) -> f64 {
        if let Some(failure) = &self.first_failure {
            eprintln!(
                "modhost-bench: peer {peer}: {} failed requests; the first: {failure}",
                self.failed
            );
        }
        self.record(results, &format!("http.{peer}"))
    }
}

/// `connections` keep-alive connections each sending `GET path` back to back until `stop`.
async fn load(
    address: SocketAddr,
    path: &'static str,
    token: Option<Arc<str>>,
    connections: usize,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Load> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (token, stop) = (token.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut failed, mut latencies) = (0_u64, 0_u64, Vec::new());
            let mut first_failure = None;
            let mut sender = connect(address).await?;
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                match send(&mut sender, address, "GET", path, token.as_deref(), "").await {
                    Ok((200..=299, _)) => {
                        ok += 1;
                        latencies.push(sent.elapsed());
                    }
                    Ok((status, body)) => {
                        failed += 1;
                        first_failure
                            .get_or_insert_with(|| format!("{status} {}", String::from_utf8_lossy(&body)));
                    }
                    Err(error) => {
                        failed += 1;
                        first_failure.get_or_insert_with(|| format!("{error:#}"));
                        sender = connect(address).await?;
                    }
                }
            }
            anyhow::Ok((ok, failed, first_failure, latencies))
        }));
    }
    let mut total = Load {
        ok: 0,
        failed: 0,
        first_failure: None,
        latencies: Vec::new(),
        elapsed: Duration::ZERO,
    };
    for task in tasks {
        let (ok, failed, first_failure, latencies) = task.await??;
        total.ok += ok;
        total.failed += failed;
        total.first_failure = total.first_failure.or(first_failure);
        total.latencies.extend(latencies);
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

/// Runs a load for `seconds`.
async fn timed_load(
    address: SocketAddr,
    path: &'static str,
    token: Option<Arc<str>>,
    plan: Plan,
) -> anyhow::Result<Load> {
    let stop = Arc::new(AtomicBool::new(false));
    let run = tokio::spawn(load(address, path, token, plan.connections, stop.clone()));
    tokio::time::sleep(Duration::from_secs(plan.http_seconds)).await;
    stop.store(true, Ordering::Relaxed);
    run.await?
}

/// The modhost server over a data dir where acme runs template 0.1.0 and 0.2.0 is ready too.
struct Modhost {
    server: ServerThread,
    admin: SendRequest<Full<Bytes>>,
    operator: String,
    invoker: Arc<str>,
    _dir: tempfile::TempDir,
}

impl Modhost {
    async fn start(modules: &Modules) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let data_dir = dir.path().join("data");
        let (operator, invoker) = {
            let registry = support::open_registry(&data_dir.join("registry"))?;
            support::tenant(&registry, "acme", TenantKind::Standard)?;
            support::tenant(&registry, ATTACKER, TenantKind::Standard)?;
            let operator_publisher = Publisher::Operator { owner: None };
            support::publish(
                &registry,
                &(modules.template_text.clone(), modules.template_bytes.clone()),
                &operator_publisher,
            )?;
            support::publish(&registry, &modules.chaos, &operator_publisher)?;
            support::publish(&registry, &modules.variant("0.2.0"), &operator_publisher)?;
            let token = |role, tenant: Option<&str>| {
                let new = NewToken {
                    name: format!("bench {}", Role::name(role)),
                    role,
                    tenant: tenant.map(str::to_owned),
                    permissions: None,
                };
                registry.create_token(new, ACTOR).map(|(_, secret)| secret)
            };
            (token(Role::Operator, None)?, token(Role::Invoker, Some("acme"))?)
        };
        let config = modhost_server::ServerConfig {
            data_dir,
            ..modhost_server::ServerConfig::default()
        };
        let server = ServerThread::spawn(move |listener, stopped| async move {
            modhost_server::serve_on(listener, config, async move {
                let _ = stopped.await;
            })
            .await
        })?;
        let admin = wait_until_up(server.address, "/healthz")
            .await
            .context("the modhost server did not come up")?;
        let mut modhost = Self {
            server,
            admin,
            operator,
            invoker: invoker.into(),
            _dir: dir,
        };
        modhost.promote("0.1.0").await?;
        modhost.promote("0.2.0").await?;
        modhost.rollback().await?;
        // The attacker runs chaos (which needs template) for the isolation figure.
        let version = r#"{"version": "0.1.0"}"#;
        modhost.admin_at(ATTACKER, "template", "promote", version).await?;
        let version = r#"{"version": "1.0.0"}"#;
        modhost.admin_at(ATTACKER, "chaos", "promote", version).await?;
        Ok(modhost)
    }

    async fn admin(&mut self, action: &str, body: &str) -> anyhow::Result<Duration> {
        self.admin_at("acme", "template", action, body).await
    }

    async fn admin_at(
        &mut self,
        tenant: &str,
        module: &str,
        action: &str,
        body: &str,
    ) -> anyhow::Result<Duration> {
        let path = format!("/v1/tenants/{tenant}/deployments/{module}/{action}");
        // The server closes a kept-alive connection idle past its header
        // timeout (10 s), as the admin one is during a timed load.
        if self.admin.is_closed() {
            self.admin = connect(self.server.address).await?;
        }
        let started = Instant::now();
        let (status, answer) = send(
            &mut self.admin,
            self.server.address,
            "POST",
            &path,
            Some(&self.operator),
            body,
        )
        .await?;
        let elapsed = started.elapsed();
        anyhow::ensure!(
            status == 200,
            "{action} answered {status}: {}",
            String::from_utf8_lossy(&answer)
        );
        Ok(elapsed)
    }

    async fn promote(&mut self, version: &str) -> anyhow::Result<Duration> {
        self.admin("promote", &format!(r#"{{"version": "{version}"}}"#))
            .await
    }

    async fn rollback(&mut self) -> anyhow::Result<Duration> {
        self.admin("rollback", "{}").await
    }

    /// Stores the note the kv read route reads, as acme's invoker.
    async fn store_note(&self) -> anyhow::Result<()> {
        let address = self.server.address;
        let mut sender = connect(address).await?;
        let (status, answer) = send(
            &mut sender,
            address,
            "PUT",
            KV_READ_PATH,
            Some(&self.invoker),
            r#"{"text": "read by the bench"}"#,
        )
        .await?;
        anyhow::ensure!(
            status == 200,
            "storing the note answered {status}: {}",
            String::from_utf8_lossy(&answer)
        );
        Ok(())
    }
}

/// A connection to `address` once `GET path` answers 200 (the server is up,
/// its start-up work done), trying for 5 s.
async fn wait_until_up(address: SocketAddr, path: &str) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    for _ in 0..200 {
        if let Ok(mut sender) = connect(address).await
            && let Ok((200, _)) = send(&mut sender, address, "GET", path, None, "").await
        {
            return Ok(sender);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    anyhow::bail!("GET {path} on {address} never answered 200")
}

/// The peers, as named in their `http.<peer>.*` figures.
pub const PEERS: [&str; 5] = [
    "hyper",
    "wasi_http",
    "modhost_trivial",
    "modhost_kv_read",
    "modhost_kv_write",
];

/// modhost's trivial read route: template `GET /ping`, no kv. The other
/// peers, which ignore the path, get the same request line.
const TRIVIAL_PATH: &str = "/t/acme/template/ping";
/// modhost's kv read route: a note stored before the load.
const KV_READ_PATH: &str = "/t/acme/template/notes/bench";
/// modhost's kv write route: reads and writes the visit counter of `x`. Also
/// the load during the swaps and the neighbour's under attack.
const DATA_PLANE_PATH: &str = "/t/acme/template/hello/x";
/// The tenant that keeps CPU-bound calls at their deadline in the isolation figure.
const ATTACKER: &str = "hog";
/// chaos's endless loop, stopped by the host at chaos's 200 ms deadline.
const ATTACK_PATH: &str = "/t/hog/chaos/loop";
/// How many of the attacker's looping calls are kept in flight: its whole
/// default limit of concurrent calls.
const ATTACK_CONNECTIONS: usize = 8;

/// The peers' throughput, one server at a time, then promote/rollback flips
/// under load and the neighbour under attack.
pub async fn run(modules: &Modules, plan: Plan, results: &mut Results) -> anyhow::Result<()> {
    let hyper = ServerThread::spawn(plain_hello)?;
    let hyper_rps = timed_load(hyper.address, TRIVIAL_PATH, None, plan)
        .await?
        .record_peer(results, "hyper");
    hyper.stop()?;

    let component = modules.http_hello.clone();
    let wasi = ServerThread::spawn(move |listener, stopped| wasi_http::serve(component, listener, stopped))?;
    if let Err(error) = wait_until_up(wasi.address, TRIVIAL_PATH).await {
        // Its own error (the component did not load) says more than the probe's.
        wasi.stop()?;
        return Err(error.context("the wasmtime-wasi-http peer did not come up"));
    }
    let wasi_rps = timed_load(wasi.address, TRIVIAL_PATH, None, plan)
        .await?
        .record_peer(results, "wasi_http");
    wasi.stop()?;

    let mut modhost = Modhost::start(modules).await?;
    modhost.store_note().await?;
    let token = Some(modhost.invoker.clone());
    let address = modhost.server.address;
    let trivial_rps = timed_load(address, TRIVIAL_PATH, token.clone(), plan)
        .await?
        .record_peer(results, "modhost_trivial");
    let kv_read_rps = timed_load(address, KV_READ_PATH, token.clone(), plan)
        .await?
        .record_peer(results, "modhost_kv_read");
    let kv_write_rps = timed_load(address, DATA_PLANE_PATH, token.clone(), plan)
        .await?
        .record_peer(results, "modhost_kv_write");
    let ratios = [
        ("trivial_vs_wasi_http", trivial_rps, wasi_rps),
        ("trivial_vs_hyper", trivial_rps, hyper_rps),
        ("wasi_http_vs_hyper", wasi_rps, hyper_rps),
        ("kv_read_vs_hyper", kv_read_rps, hyper_rps),
        ("kv_write_vs_hyper", kv_write_rps, hyper_rps),
        ("kv_read_vs_trivial", kv_read_rps, trivial_rps),
        ("kv_write_vs_trivial", kv_write_rps, trivial_rps),
    ];
    for (name, measured, baseline) in ratios {
        results.insert(format!("http.ratio.{name}"), measured / baseline.max(1e-9));
    }
    #[allow(clippy::cast_precision_loss, reason = "a small count")]
    results.insert("http.connections".into(), plan.connections as f64);

    // Swaps under load.
    let stop = Arc::new(AtomicBool::new(false));
    let running = tokio::spawn(load(
        modhost.server.address,
        DATA_PLANE_PATH,
        token,
        plan.connections,
        stop.clone(),
    ));
    let mut latencies = Vec::with_capacity(plan.flips);
    let mut flip_error = None;
    for index in 0..plan.flips {
        let flip = if index % 2 == 0 {
            modhost.promote("0.2.0").await
        } else {
            modhost.rollback().await
        };
        match flip {
            Ok(latency) => latencies.push(latency),
            Err(error) => {
                flip_error = Some(error);
                break;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let during = running.await??;
    if let Some(error) = flip_error {
        return Err(error.context("a flip failed"));
    }
    #[allow(clippy::cast_precision_loss, reason = "counts")]
    {
        results.insert("swap.flips".into(), latencies.len() as f64);
        results.insert("swap.failed_requests".into(), during.failed as f64);
        results.insert("swap.requests".into(), during.ok as f64);
        results.insert(
            "swap.rps_during".into(),
            during.ok as f64 / during.elapsed.as_secs_f64(),
        );
    }
    support::percentiles_us(results, "swap.promote", &mut latencies);
    attack(&modhost, plan, kv_write_rps, results).await?;
    modhost.server.stop()
}

/// The neighbour under attack: acme's load while the attacker keeps
/// [`ATTACK_CONNECTIONS`] CPU-bound calls at their deadline, as a ratio to
/// acme's unattacked load on the same route (the kv write peer) measured
/// earlier in the same run, and `/healthz` latency meanwhile.
async fn attack(
    modhost: &Modhost,
    plan: Plan,
    unattacked_rps: f64,
    results: &mut Results,
) -> anyhow::Result<()> {
    let address = modhost.server.address;
    let operator: Arc<str> = modhost.operator.as_str().into();
    let stop = Arc::new(AtomicBool::new(false));
    let attacker = tokio::spawn(load(
        address,
        ATTACK_PATH,
        Some(operator),
        ATTACK_CONNECTIONS,
        stop.clone(),
    ));
    // Let the attacker fill its slots first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let health = tokio::spawn(load(address, "/healthz", None, 1, stop.clone()));
    let neighbour = timed_load(address, DATA_PLANE_PATH, Some(modhost.invoker.clone()), plan).await?;
    stop.store(true, Ordering::Relaxed);
    let attacked_rps = neighbour.record(results, "attack.neighbour");
    results.insert("attack.ratio".into(), attacked_rps / unattacked_rps.max(1e-9));
    health.await??.record(results, "attack.healthz");
    let attacker = attacker.await??;
    #[allow(clippy::cast_precision_loss, reason = "counts")]
    {
        results.insert("attack.connections".into(), ATTACK_CONNECTIONS as f64);
        // Every attacking call ends at its deadline (504), so none counts as ok.
        results.insert(
            "attack.attacker_calls".into(),
            (attacker.ok + attacker.failed) as f64,
        );
    }
    Ok(())
}
