//! Measurements of the data plane's request path (ignored: run by hand, in release, on a quiet machine).
//!
//! `MODHOST_MODULES_DIR=target/modules cargo test --release -p modhost-server --test lean_path -- --ignored --nocapture --test-threads 1`
//! prints figures and asserts nothing about time: the in-process call
//! (`Runtime::call` of the template), `RequestMetrics::observe` under 8
//! threads, and HTTP requests through a real server on keep-alive connections.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "test code: a failed expectation is a failed test; the figures are the output"
)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use modhost_runtime::kv::MemoryKvStore;
use modhost_runtime::{Caller, Method, ModuleSpec, RequestMetrics, Runtime, RuntimeConfig, TenantKind};
use serde_json::json;
use support::*;

fn percentile(samples: &mut [Duration], fraction: f64) -> f64 {
    samples.sort_unstable();
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((samples.len() as f64 - 1.0) * fraction).round() as usize;
    samples[index].as_secs_f64() * 1e6
}

#[test]
#[ignore = "a measurement: run by hand with --ignored --nocapture"]
fn measure_in_process_call() {
    let (text, component) = built("template@0.1.0");
    let manifest = modhost_manifest::parse(&text).expect("manifest");
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    tokio.block_on(async {
        let runtime =
            Runtime::new(RuntimeConfig::default(), Arc::new(MemoryKvStore::new())).expect("runtime");
        let ready = Arc::new(
            runtime
                .prepare(ModuleSpec::from_manifest(&manifest), &component)
                .expect("prepare"),
        );
        let caller = Caller {
            tenant_id: "acme".into(),
            tenant_kind: TenantKind::Standard,
            request_id: "bench".into(),
            permissions: vec!["*".into()],
            grants: vec!["*".into()],
            features: vec![],
        };
        let config = Arc::new(Vec::new());
        let mut samples = Vec::new();
        for index in 0..22_000 {
            let request = modhost_runtime::Request {
                method: Method::Get,
                path: "/hello/bench".into(),
                query: String::new(),
                headers: vec![],
                body: vec![],
            };
            let started = Instant::now();
            let response = runtime
                .call(ready.clone(), &caller, config.clone(), request)
                .await
                .expect("call");
            let elapsed = started.elapsed();
            assert_eq!(response.status, 200);
            if index >= 2_000 {
                samples.push(elapsed);
            }
        }
        let p50 = percentile(&mut samples, 0.5);
        let p99 = percentile(&mut samples, 0.99);
        println!("in_process.hello: p50 {p50:.1} us, p99 {p99:.1} us");
    });
}

#[test]
#[ignore = "a measurement: run by hand with --ignored --nocapture"]
fn measure_request_metrics_observe() {
    let metrics = Arc::new(RequestMetrics::default());
    let started = Instant::now();
    let threads: Vec<_> = (0..8)
        .map(|thread| {
            let metrics = metrics.clone();
            std::thread::spawn(move || {
                let module = if thread % 2 == 0 { "a" } else { "b" };
                for _ in 0..200_000 {
                    metrics.observe("acme", module, "ok", Duration::from_micros(300), 7);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("thread");
    }
    let elapsed = started.elapsed();
    let per_observe = elapsed.as_secs_f64() * 1e9 / 1_600_000.0;
    println!(
        "request_metrics.observe: 8 threads x 200,000 in {:.0} ms, {per_observe:.0} ns per observe (wall / total)",
        elapsed.as_secs_f64() * 1e3
    );
}

#[test]
#[ignore = "a measurement: run by hand with --ignored --nocapture"]
fn measure_http_data_plane() {
    let server = Arc::new(Server::start());
    let (manifest, component) = built("template@0.1.0");
    assert_eq!(server.push(&server.operator, &manifest, &component, None).0, 201);
    let (status, body) = server.post(
        "/v1/tenants",
        Some(&server.operator),
        json!({"id": "acme", "name": "acme", "kind": "standard"}),
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = server.post(
        "/v1/tenants/acme/deployments/template/promote",
        Some(&server.operator),
        json!({"version": "0.1.0"}),
    );
    assert_eq!(status, 200, "{body}");
    let token = server.token("invoker", Some("acme"));
    // `/ping` answers without touching kv; `/hello/bench` also writes a counter.
    let path = std::env::var("MEASURE_PATH").unwrap_or_else(|_| "/ping".to_owned());
    let run = |threads: usize, per_thread: usize| {
        let started = Instant::now();
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let url = format!("{}/t/acme/template{path}", server.url);
                let token = token.clone();
                std::thread::spawn(move || {
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .build()
                        .into();
                    let mut samples = Vec::with_capacity(per_thread);
                    for _ in 0..per_thread {
                        let started = Instant::now();
                        let mut response = agent
                            .get(&url)
                            .header("authorization", format!("Bearer {token}"))
                            .call()
                            .expect("request");
                        let _ = response.body_mut().read_to_vec().expect("body");
                        assert_eq!(response.status().as_u16(), 200);
                        samples.push(started.elapsed());
                    }
                    samples
                })
            })
            .collect();
        let mut samples: Vec<Duration> = workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("worker"))
            .collect();
        let elapsed = started.elapsed();
        #[allow(clippy::cast_precision_loss)]
        let rps = samples.len() as f64 / elapsed.as_secs_f64();
        (rps, percentile(&mut samples, 0.5), percentile(&mut samples, 0.99))
    };
    run(2, 500);
    for threads in [1, 4] {
        let (rps, p50, p99) = run(threads, 5_000);
        println!("http {path} ({threads} client threads): {rps:.0} req/s, p50 {p50:.1} us, p99 {p99:.1} us");
    }
}
