//! The sandbox against the real `chaos` component: every guest misbehaviour becomes one call's typed error.
//!
//! `plugins/chaos` misbehaves on purpose (endless loops, memory and stack
//! bombs, oversized answers, panics, undeclared calls, kv keys that look like
//! escapes). Each test runs one misbehaviour through the real runtime and
//! checks both the exact [`CallError`] and that the protection really held:
//! the runtime keeps serving, another tenant sees nothing, the limit is the
//! configured one. `template` stands in for the modules chaos calls.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use modhost_runtime::kv::{KvScope, KvStore, MemoryKvStore};
use modhost_runtime::logs::LogLevel;
use modhost_runtime::{
    CallError, Caller, ErrorCode, Method, ModuleConfig, ModuleError, ModuleResolver, ModuleSpec, ReadyModule,
    Request, ResolveFuture, Response, Runtime, RuntimeConfig, TenantKind, TenantLimits, module_config,
};

use modhost_testkit::load as built_module;

const MIB: usize = 1024 * 1024;
/// Held by every test for its whole run. chaos's deadline is 200 ms and, in
/// a dev build, the host's unoptimised lifting of a 4-5 MiB response body
/// alone takes tens of milliseconds; with the other tests compiling
/// components and spinning a loop on a 2-core machine, `/huge` was seen to
/// miss its deadline. One test at a time keeps every deadline honest.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// chaos's `limits.memory_mb`.
const CHAOS_MEMORY_BYTES: u64 = 16 * 1024 * 1024;
/// chaos's `limits.timeout_ms`.
const CHAOS_TIMEOUT: Duration = Duration::from_millis(200);

/// Serves the modules tenant `acme` runs for `modules.call`; every other tenant runs none.
struct AcmeModules {
    active: BTreeMap<String, (Arc<ReadyModule>, Arc<ModuleConfig>)>,
}

impl ModuleResolver for AcmeModules {
    fn resolve<'a>(&'a self, tenant: &'a str, module: &'a str) -> ResolveFuture<'a> {
        let found = if tenant == "acme" {
            self.active.get(module).cloned()
        } else {
            None
        };
        Box::pin(std::future::ready(found))
    }
}

/// A runtime with chaos ready, and template active for `acme` under two names:
/// `template` (which chaos declares) and `inventory` (which it does not), so
/// only the dependency check can refuse the second.
struct Sandbox {
    runtime: Runtime,
    kv: Arc<MemoryKvStore>,
    chaos: Arc<ReadyModule>,
}

impl Sandbox {
    fn new() -> Self {
        Self::with_config(RuntimeConfig::default())
    }

    fn with_config(config: RuntimeConfig) -> Self {
        let kv = Arc::new(MemoryKvStore::new());
        let runtime = Runtime::new(config, kv.clone()).expect("runtime");
        let chaos = built_module("chaos@1.0.0");
        let chaos = runtime
            .prepare(ModuleSpec::from_manifest(&chaos.manifest), &chaos.component)
            .expect("chaos compiles and links");
        let template = built_module("template@0.1.0");
        let defaults = template
            .manifest
            .config
            .validate(&serde_json::Map::new())
            .expect("the template's defaults are valid");
        let template_config = Arc::new(module_config(&defaults));
        let template = Arc::new(
            runtime
                .prepare(ModuleSpec::from_manifest(&template.manifest), &template.component)
                .expect("the template compiles and links"),
        );
        let active = ["template", "inventory"]
            .into_iter()
            .map(|name| (name.to_owned(), (template.clone(), template_config.clone())))
            .collect();
        runtime.set_resolver(Arc::new(AcmeModules { active }));
        Self {
            runtime,
            kv,
            chaos: Arc::new(chaos),
        }
    }

    /// Calls chaos for `tenant`; `path` may carry a query string.
    async fn call(
        &self,
        tenant: &str,
        method: Method,
        path: &str,
        body: &str,
    ) -> Result<Response, CallError> {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let request = Request {
            method,
            path: path.to_owned(),
            query: query.to_owned(),
            headers: vec![],
            body: body.as_bytes().to_vec(),
        };
        self.call_as(&caller(tenant), request).await
    }

    async fn call_as(&self, caller: &Caller, request: Request) -> Result<Response, CallError> {
        self.runtime
            .call(self.chaos.clone(), caller, Arc::new(ModuleConfig::new()), request)
            .await
    }

    /// Runs chaos's `migrate` hook on `tenant`'s data.
    async fn migrate(&self, tenant: &str, from_version: Option<&str>) -> Result<(), String> {
        self.runtime
            .migrate(
                self.chaos.clone(),
                &caller(tenant),
                Arc::new(ModuleConfig::new()),
                from_version,
            )
            .await
    }

    async fn get(&self, tenant: &str, path: &str) -> Result<Response, CallError> {
        self.call(tenant, Method::Get, path, "").await
    }

    fn stored(&self, tenant: &str, module: &str, key: &str) -> Option<String> {
        let scope = KvScope {
            tenant: tenant.to_owned(),
            module: module.to_owned(),
        };
        self.kv
            .get(&scope, key)
            .expect("the memory store does not fail")
            .map(|value| String::from_utf8(value).expect("utf-8"))
    }
}

/// The caller of every test call: `tenant`, allowed to run chaos.
fn caller(tenant: &str) -> Caller {
    Caller {
        tenant_id: tenant.to_owned(),
        tenant_kind: TenantKind::Standard,
        request_id: format!("{tenant}-test"),
        permissions: vec!["chaos.run".to_owned()],
        grants: vec!["chaos.run".to_owned(), "template.read".to_owned()],
        features: vec![],
    }
}

fn json(response: &Response) -> serde_json::Value {
    serde_json::from_slice(&response.body).expect("a JSON body")
}

fn module_error(code: ErrorCode, message: &str) -> CallError {
    CallError::Module(ModuleError {
        code,
        message: message.to_owned(),
    })
}

/// A tokio runtime with two worker threads, as the server runs.
fn two_worker_tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a multi-thread tokio runtime")
}

/// Asserts chaos's `/ok` answers normally for `tenant`.
async fn assert_still_serves(sandbox: &Sandbox, tenant: &str) {
    let response = sandbox
        .get(tenant, "/ok")
        .await
        .expect("a well-behaved call succeeds");
    assert_eq!(response.status, 200);
    assert_eq!(json(&response), serde_json::json!({"ok": true}));
}

#[test]
fn an_endless_loop_is_stopped_at_its_deadline_while_another_tenant_is_served() {
    let _serial = SERIAL.blocking_lock();
    let tokio = two_worker_tokio();
    let sandbox = Arc::new(Sandbox::new());
    let started = Instant::now();
    let looping = tokio.spawn({
        let sandbox = sandbox.clone();
        async move {
            let outcome = sandbox.get("acme", "/loop").await;
            (outcome, Instant::now())
        }
    });

    // banban's calls run on this thread while acme's loop occupies a worker.
    let banban_completions = tokio.block_on(async {
        let mut completions = Vec::new();
        while !looping.is_finished() && started.elapsed() < Duration::from_secs(10) {
            assert_still_serves(&sandbox, "banban").await;
            completions.push(Instant::now());
        }
        completions
    });
    if !looping.is_finished() {
        // A worker is stuck in the guest's loop; dropping the runtime would wait for it forever.
        tokio.shutdown_background();
        panic!("the looping call is still running after 10 s: the deadline did not stop it");
    }
    let (outcome, loop_ended) = tokio
        .block_on(looping)
        .expect("the looping call's task did not panic");

    assert_eq!(outcome, Err(CallError::DeadlineExceeded(CHAOS_TIMEOUT)));
    let elapsed = loop_ended - started;
    assert!(
        elapsed >= CHAOS_TIMEOUT,
        "stopped after {elapsed:?}, before its deadline"
    );
    assert!(
        elapsed < Duration::from_secs(2),
        "stopped after {elapsed:?}, long past its deadline"
    );
    // Well after the loop started and before it was stopped: a runtime that
    // served one call at a time would have none here.
    let window_opens = started + Duration::from_millis(50);
    let served_while_looping = banban_completions
        .iter()
        .filter(|completed| **completed > window_opens && **completed < loop_ended)
        .count();
    assert!(
        served_while_looping > 0,
        "none of banban's {} calls completed while acme's loop ran",
        banban_completions.len()
    );
    tokio.block_on(assert_still_serves(&sandbox, "acme"));
}

#[tokio::test]
async fn a_memory_bomb_hits_the_memory_limit_and_the_runtime_keeps_serving() {
    let _serial = SERIAL.lock().await;
    let sandbox = Sandbox::new();
    assert_eq!(
        sandbox.get("acme", "/alloc").await,
        Err(CallError::MemoryLimit(CHAOS_MEMORY_BYTES)),
        "the default is 64 MiB, four times the limit"
    );
    let within_limit = sandbox
        .get("acme", "/alloc?mb=4")
        .await
        .expect("4 MiB fits in 16 MiB");
    assert_eq!(
        json(&within_limit),
        serde_json::json!({"mb": 4, "pages_touched": 4 * MIB / 4096}),
        "the limit refuses only what is over it"
    );
    assert_still_serves(&sandbox, "acme").await;
}

#[tokio::test]
async fn deep_recursion_is_stopped_as_one_calls_typed_error() {
    let _serial = SERIAL.lock().await;
    let sandbox = Sandbox::new();
    let shallow = sandbox
        .get("acme", "/recurse?depth=40")
        .await
        .expect("40 frames fit");
    assert_eq!(json(&shallow), serde_json::json!({"depth": 40}));

    // With 1 KiB of data per frame, Rust's shadow stack (the first 64 KiB of
    // linear memory as modules are linked, growing down, no guard page) runs
    // past address 0 after about sixty frames, long before the engine's wasm
    // stack is full:
    // the store wraps around to the top of the address space and traps as an
    // out-of-bounds access, not as a stack overflow.
    assert_eq!(
        sandbox.get("acme", "/recurse").await,
        Err(CallError::Trapped(
            "wasm trap: out of bounds memory access".to_owned()
        ))
    );
    // Without frame data only the engine's wasm stack grows, up to
    // `RuntimeConfig::max_wasm_stack_bytes`.
    assert_eq!(
        sandbox.get("acme", "/recurse?frame=none").await,
        Err(CallError::StackOverflow)
    );
    assert_still_serves(&sandbox, "acme").await;
}

#[tokio::test]
async fn an_oversized_response_is_refused() {
    let _serial = SERIAL.lock().await;
    let sandbox = Sandbox::new();
    assert_eq!(
        sandbox.get("acme", "/huge").await,
        Err(CallError::InvalidResponse(
            "the body is 5242880 bytes; the limit is 4194304".to_owned()
        ))
    );
    let at_the_limit = sandbox
        .get("acme", "/huge?mb=4")
        .await
        .expect("exactly 4 MiB is allowed");
    assert_eq!(at_the_limit.body.len(), 4 * MIB);
}

#[tokio::test]
async fn a_panic_traps_and_its_message_reaches_the_tenants_log() {
    let _serial = SERIAL.lock().await;
    let sandbox = Sandbox::new();
    assert_eq!(
        sandbox.get("acme", "/panic").await,
        Err(CallError::Trapped(
            "wasm trap: wasm `unreachable` instruction executed".to_owned()
        ))
    );
    let records = sandbox.runtime.logs().recent("acme", 100);
    let panic_record = records
        .iter()
        .find(|record| record.message == "chaos panic: deliberate")
        .unwrap_or_else(|| panic!("no record of the panic message in {records:#?}"));
    assert_eq!(panic_record.level, LogLevel::Warn);
    assert_eq!(panic_record.fields, [("stream".to_owned(), "stderr".to_owned())]);
    assert_eq!(
        (panic_record.module.as_str(), panic_record.version.as_str()),
        ("chaos", "1.0.0")
    );
    assert_eq!(panic_record.request_id, "acme-test");
    assert!(
        sandbox.runtime.logs().recent("banban", 100).is_empty(),
        "acme's panic is in acme's log only"
    );
    assert_still_serves(&sandbox, "acme").await;
}

#[tokio::test]
async fn only_declared_dependencies_can_be_called() {
    let _serial = SERIAL.lock().await;
    let sandbox = Sandbox::new();
    assert_eq!(
        sandbox.get("acme", "/call/inventory").await,
        Err(module_error(
            ErrorCode::Internal,
            "module `inventory` is not declared in [dependencies]"
        )),
        "inventory is active for acme, but chaos does not declare it"
    );
    let greeting = sandbox
        .get("acme", "/call/template")
        .await
        .expect("template is declared and active");
    assert_eq!(greeting.status, 200);
    assert_eq!(
        json(&greeting),
        serde_json::json!({"message": "hello, chaos", "visits": 1})
    );
    assert_eq!(
        sandbox.stored("acme", "template", "visits/chaos").as_deref(),
        Some("1"),
        "the callee wrote to its own scope"
    );
    assert_eq!(sandbox.stored("acme", "chaos", "visits/chaos"), None);
    assert_eq!(
        sandbox.get("banban", "/call/template").await,
        Err(module_error(
            ErrorCode::Unavailable,
            "module `template` is not active for tenant `banban`"
        )),
        "the callee is resolved for the caller's tenant"
    );
}

/// What `/kv-escape` reports for each key when `tenant` runs it and `before`
/// is what the tenant's own earlier run left under the allowed keys.
fn expected_escape_report(tenant: &str, before: Option<&str>) -> serde_json::Value {
    let written = format!("written by tenant {tenant}");
    let allowed = |key: &str| {
        serde_json::json!({
            "key": key, "before": before, "get_error": null,
            "set_ok": true, "set_error": null, "after": written,
        })
    };
    let refused = |key: &str, reason: &str| {
        let error = format!("bad-request: invalid storage key: {reason}");
        serde_json::json!({
            "key": key, "before": null, "get_error": error,
            "set_ok": false, "set_error": error, "after": null,
        })
    };
    serde_json::json!([
        allowed("../other/secret"),
        allowed("/etc/passwd"),
        refused("a\0b", "the key has a control character at position 1"),
        refused(&"k".repeat(513), "the key is 513 bytes long; the limit is 512"),
        refused("", "the key is empty"),
    ])
}

#[tokio::test]
async fn kv_keys_are_opaque_names_inside_the_tenants_scope() {
    let _serial = SERIAL.lock().await;
    let sandbox = Sandbox::new();
    let acme_first = sandbox.get("acme", "/kv-escape").await.expect("acme's report");
    assert_eq!(json(&acme_first), expected_escape_report("acme", None));

    let banban = sandbox
        .get("banban", "/kv-escape")
        .await
        .expect("banban's report");
    assert_eq!(
        json(&banban),
        expected_escape_report("banban", None),
        "banban must not see what acme wrote under the same keys"
    );
    let acme_again = sandbox
        .get("acme", "/kv-escape")
        .await
        .expect("acme's second report");
    assert_eq!(
        json(&acme_again),
        expected_escape_report("acme", Some("written by tenant acme")),
        "acme still finds its own value, untouched by banban"
    );

    assert_eq!(
        sandbox.stored("acme", "chaos", "../other/secret").as_deref(),
        Some("written by tenant acme"),
        "the key is stored verbatim in acme's chaos scope"
    );
    assert_eq!(
        sandbox.stored("banban", "chaos", "../other/secret").as_deref(),
        Some("written by tenant banban")
    );
    for (tenant, module, key) in [
        ("acme", "other", "secret"),
        ("other", "chaos", "secret"),
        ("other", "secret", "../other/secret"),
        ("acme", "chaos", "other/secret"),
        ("acme", "chaos", "etc/passwd"),
    ] {
        assert_eq!(
            sandbox.stored(tenant, module, key),
            None,
            "nothing landed in ({tenant}, {module}) under `{key}`"
        );
    }
}

#[tokio::test]
async fn data_endpoints_round_trip_per_tenant() {
    let _serial = SERIAL.lock().await;
    let sandbox = Sandbox::new();
    for (key, value) in [("a", "apple"), ("b", "Banana")] {
        let stored = sandbox
            .call("acme", Method::Put, &format!("/data/{key}"), value)
            .await
            .expect("stored");
        assert_eq!(stored.status, 204);
    }
    let read = sandbox.get("acme", "/data/b").await.expect("read");
    assert_eq!(read.body, b"Banana");
    let all = sandbox.get("acme", "/data").await.expect("listed");
    assert_eq!(json(&all), serde_json::json!({"a": "apple", "b": "Banana"}));
    assert_eq!(
        sandbox.get("banban", "/data/a").await,
        Err(module_error(ErrorCode::NotFound, "no data `a`"))
    );
}

#[tokio::test]
async fn migrate_rewrites_the_tenants_data_idempotently_and_can_be_refused() {
    let _serial = SERIAL.lock().await;
    let sandbox = Sandbox::new();
    for (tenant, value) in [("acme", "apple"), ("banban", "banana")] {
        sandbox
            .call(tenant, Method::Put, "/data/fruit", value)
            .await
            .expect("stored");
    }
    assert_eq!(sandbox.migrate("acme", None).await, Ok(()));
    assert_eq!(
        sandbox.stored("acme", "chaos", "data/fruit").as_deref(),
        Some("apple"),
        "a first activation changes nothing"
    );

    for _ in 0..2 {
        assert_eq!(sandbox.migrate("acme", Some("0.9.0")).await, Ok(()));
        let all = sandbox.get("acme", "/data").await.expect("listed");
        assert_eq!(json(&all), serde_json::json!({"fruit": "APPLE"}));
        assert_eq!(
            sandbox
                .stored("acme", "chaos", "control/migrated-from")
                .as_deref(),
            Some("0.9.0")
        );
    }
    assert_eq!(
        sandbox.stored("banban", "chaos", "data/fruit").as_deref(),
        Some("banana"),
        "acme's migration ran on acme's scope only"
    );

    let control = sandbox
        .call("banban", Method::Put, "/control/fail-migrate", "yes")
        .await
        .expect("stored");
    assert_eq!(control.status, 204);
    assert_eq!(
        sandbox.migrate("banban", Some("0.9.0")).await,
        Err("migration refused: control/fail-migrate is set".to_owned())
    );
    assert_eq!(
        sandbox.stored("banban", "chaos", "data/fruit").as_deref(),
        Some("banana"),
        "a refused migration leaves the data alone"
    );
}

#[tokio::test]
async fn a_call_blocked_in_wasi_is_stopped_at_its_wall_clock_deadline() {
    let _serial = SERIAL.lock().await;
    let sandbox = Sandbox::new();
    let started = Instant::now();
    let outcome = sandbox.get("acme", "/sleep?ms=60000").await;
    let took = started.elapsed();
    assert_eq!(outcome, Err(CallError::DeadlineExceeded(CHAOS_TIMEOUT)));
    // The guest asked to sleep a minute and ran no wasm meanwhile: only a
    // wall-clock deadline ends it before the sleep does.
    assert!(took < Duration::from_secs(30), "the sleep ran on for {took:?}");
    assert_still_serves(&sandbox, "acme").await;
}

#[test]
fn a_looping_guest_yields_its_only_thread_to_another_tenant() {
    let _serial = SERIAL.blocking_lock();
    // One executor thread: if running wasm did not yield, the neighbour's
    // calls could only run after the loop hit its deadline.
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread tokio runtime");
    let sandbox = Arc::new(Sandbox::new());
    tokio.block_on(async {
        let looping = tokio::spawn({
            let sandbox = sandbox.clone();
            async move {
                let outcome = sandbox.get("acme", "/loop").await;
                (outcome, Instant::now())
            }
        });
        tokio::task::yield_now().await;
        // The neighbour is a task of its own, as every connection is in the server.
        let neighbour = tokio::spawn({
            let sandbox = sandbox.clone();
            async move {
                let mut served = 0;
                for _ in 0..5 {
                    assert_still_serves(&sandbox, "globex").await;
                    served += 1;
                }
                (served, Instant::now())
            }
        });
        let (served, neighbour_done) = neighbour.await.expect("the neighbour's task ends");
        let (outcome, loop_done) = looping.await.expect("the looping task ends");
        assert_eq!(outcome, Err(CallError::DeadlineExceeded(CHAOS_TIMEOUT)));
        assert_eq!(served, 5);
        assert!(
            neighbour_done < loop_done,
            "the neighbour's 5 calls finished only after the loop's deadline"
        );
    });
}

#[test]
fn a_tenant_past_its_call_limit_is_refused_at_once_while_another_is_served() {
    let _serial = SERIAL.blocking_lock();
    let tokio = two_worker_tokio();
    let sandbox = Arc::new(Sandbox::with_config(RuntimeConfig {
        tenant_limits: TenantLimits {
            max_concurrent_calls: 2,
            max_queued_calls: 0,
            max_cpu_percent: 100,
        },
        ..RuntimeConfig::default()
    }));
    tokio.block_on(async {
        let loops: Vec<_> = (0..2)
            .map(|_| {
                let sandbox = sandbox.clone();
                tokio::spawn(async move { sandbox.get("acme", "/loop").await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(30)).await;
        let refused = sandbox.get("acme", "/ok").await;
        assert_eq!(
            refused,
            Err(CallError::Busy(
                "tenant `acme` already runs 2 calls and queues 0; retry shortly".into()
            ))
        );
        let mut neighbour_served = 0;
        for _ in 0..5 {
            assert_still_serves(&sandbox, "globex").await;
            neighbour_served += 1;
        }
        assert_eq!(neighbour_served, 5);
        for looping in loops {
            assert_eq!(
                looping.await.expect("the loop task ends"),
                Err(CallError::DeadlineExceeded(CHAOS_TIMEOUT))
            );
        }
        assert_still_serves(&sandbox, "acme").await;
    });
    let outcomes: BTreeMap<_, _> = sandbox
        .runtime
        .request_metrics()
        .snapshot()
        .into_iter()
        .map(|((tenant, _module), series)| (tenant, series.outcomes))
        .collect();
    assert_eq!(outcomes["acme"].get("busy"), Some(&1), "{outcomes:?}");
    assert_eq!(outcomes["acme"].get("deadline"), Some(&2), "{outcomes:?}");
    assert_eq!(outcomes["globex"].get("ok"), Some(&5), "{outcomes:?}");
}

#[tokio::test]
async fn a_nested_call_needs_the_callees_endpoint_permission_from_the_original_caller() {
    let _serial = SERIAL.lock().await;
    let sandbox = Sandbox::new();
    // A token that may run chaos but not read template: chaos must not reach
    // template's endpoint on its behalf.
    let chaos_only = Caller {
        grants: vec!["chaos.run".to_owned()],
        ..caller("acme")
    };
    let request = Request {
        method: Method::Get,
        path: "/call/template".to_owned(),
        query: String::new(),
        headers: vec![],
        body: vec![],
    };
    assert_eq!(
        sandbox.call_as(&chaos_only, request).await,
        Err(module_error(
            ErrorCode::Forbidden,
            "the caller lacks the permission `template.read` that `template` requires for GET /hello/chaos"
        ))
    );
    assert_eq!(
        sandbox.stored("acme", "template", "visits/chaos"),
        None,
        "the refused callee never ran"
    );
}

#[tokio::test]
async fn only_a_successful_call_keeps_its_writes() {
    let _serial = SERIAL.lock().await;
    let sandbox = Sandbox::new();
    let outcomes = [
        ("ok", None),
        (
            "error",
            Some(module_error(
                ErrorCode::Conflict,
                "chaos: refusing after writing, on purpose",
            )),
        ),
        ("deadline", Some(CallError::DeadlineExceeded(CHAOS_TIMEOUT))),
    ];
    for (ending, expected_error) in outcomes {
        let outcome = sandbox
            .call("acme", Method::Put, &format!("/write-then/{ending}"), "written")
            .await;
        match expected_error {
            None => assert_eq!(outcome.map(|response| response.status), Ok(204)),
            Some(error) => assert_eq!(outcome, Err(error), "{ending}"),
        }
    }
    let trapped = sandbox
        .call("acme", Method::Put, "/write-then/trap", "written")
        .await;
    assert!(matches!(trapped, Err(CallError::Trapped(_))), "{trapped:?}");
    assert_eq!(
        sandbox.stored("acme", "chaos", "data/ok").as_deref(),
        Some("written")
    );
    for ending in ["error", "deadline", "trap"] {
        assert_eq!(
            sandbox.stored("acme", "chaos", &format!("data/{ending}")),
            None,
            "a call ending in `{ending}` kept its write"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_nested_calls_without_the_permission_are_all_refused_and_none_runs() {
    let _serial = SERIAL.lock().await;
    let sandbox = Arc::new(Sandbox::new());
    let chaos_only = Caller {
        grants: vec!["chaos.run".to_owned()],
        ..caller("acme")
    };
    let calls: Vec<_> = (0..16)
        .map(|_| {
            let (sandbox, caller) = (sandbox.clone(), chaos_only.clone());
            tokio::spawn(async move {
                let request = Request {
                    method: Method::Get,
                    path: "/call/template".to_owned(),
                    query: String::new(),
                    headers: vec![],
                    body: vec![],
                };
                sandbox.call_as(&caller, request).await
            })
        })
        .collect();
    assert_still_serves(&sandbox, "globex").await;
    let mut refused = 0;
    for call in calls {
        assert_eq!(
            call.await.expect("the task ends"),
            Err(module_error(
                ErrorCode::Forbidden,
                "the caller lacks the permission `template.read` that `template` requires for GET /hello/chaos"
            ))
        );
        refused += 1;
    }
    assert_eq!(refused, 16);
    assert_eq!(
        sandbox.stored("acme", "template", "visits/chaos"),
        None,
        "no refused callee ran"
    );
}

#[test]
fn a_tenant_over_its_cpu_budget_is_paused_while_its_neighbour_runs_unthrottled() {
    let _serial = SERIAL.blocking_lock();
    let tokio = two_worker_tokio();
    let sandbox = Arc::new(Sandbox::with_config(RuntimeConfig {
        tenant_limits: TenantLimits {
            max_concurrent_calls: 8,
            max_queued_calls: 0,
            max_cpu_percent: 5,
        },
        ..RuntimeConfig::default()
    }));
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    tokio.block_on(async {
        let loops: Vec<_> = (0..4)
            .map(|_| {
                let sandbox = sandbox.clone();
                tokio::spawn(async move { sandbox.get("acme", "/loop").await })
            })
            .collect();
        let mut neighbour_served = 0;
        for _ in 0..5 {
            assert_still_serves(&sandbox, "globex").await;
            neighbour_served += 1;
        }
        assert_eq!(neighbour_served, 5);
        for looping in loops {
            assert_eq!(
                looping.await.expect("the loop task ends"),
                Err(CallError::DeadlineExceeded(CHAOS_TIMEOUT))
            );
        }
    });
    let usage: BTreeMap<_, _> = sandbox.runtime.cpu_usage().into_iter().collect();
    let acme = usage["acme"];
    // Four loops for 200 ms would burn 800 ms of CPU unthrottled (less on
    // fewer cores). At 5% of every core the tenant gets 5 ms × cores per
    // 100 ms window: three windows at most, plus what one tick per call can
    // overshoot (two ticks each).
    let budget = Duration::from_millis(5) * u32::try_from(cores).expect("few cores") * 3
        + Duration::from_millis(8 * 4);
    assert!(
        acme.used <= budget,
        "acme used {:?}, more than its budget {budget:?}",
        acme.used
    );
    assert!(
        acme.throttled >= Duration::from_millis(4 * 100),
        "acme's four loops were paused only {:?} in all",
        acme.throttled
    );
    assert_eq!(usage["globex"].throttled, Duration::ZERO, "{usage:?}");
}

fn chaos_scope(tenant: &str) -> KvScope {
    KvScope {
        tenant: tenant.to_owned(),
        module: "chaos".to_owned(),
    }
}

/// chaos's `[limits]`: `kv_keys = 100`, `kv_mb = 1`.
const CHAOS_KV_KEYS: u64 = 100;
const CHAOS_KV_BYTES: u64 = 1024 * 1024;

#[tokio::test]
async fn a_write_past_the_data_quota_is_refused_at_once_and_the_call_keeps_nothing() {
    let _serial = SERIAL.lock().await;
    let sandbox = Sandbox::new();
    // 100 keys of `fill/N` (6 or 7 bytes) + 2-byte values: at the key quota exactly.
    let filled = sandbox
        .call("acme", Method::Put, "/fill/100", "xy")
        .await
        .expect("100 keys fit the quota");
    assert_eq!(json(&filled), serde_json::json!({"written": 100}));
    let full = sandbox.kv.usage(&chaos_scope("acme")).expect("usage");
    assert_eq!(full.keys, CHAOS_KV_KEYS);
    // Rewriting the same keys does not grow the data; key 100 would.
    let refused = sandbox.call("acme", Method::Put, "/fill/101", "zz").await;
    assert_eq!(
        refused,
        Err(module_error(
            ErrorCode::Conflict,
            &format!(
                "storage quota exceeded: this write would leave the module's data at 101 keys, {} bytes; its quota is 100 keys, 1048576 bytes; delete keys or store less",
                full.bytes + "fill/100".len() as u64 + 2
            )
        ))
    );
    assert_eq!(sandbox.kv.usage(&chaos_scope("acme")).expect("usage"), full);
    assert_eq!(
        sandbox.stored("acme", "chaos", "fill/0").as_deref(),
        Some("xy"),
        "the refused call's rewrites of existing keys were discarded too"
    );
    // The bytes quota: the second 600 KiB value would pass 1 MiB.
    let big = "b".repeat(600 * 1024);
    let refused = sandbox.call("globex", Method::Put, "/fill/2", &big).await;
    assert_eq!(
        refused,
        Err(module_error(
            ErrorCode::Conflict,
            &format!(
                "storage quota exceeded: this write would leave the module's data at 2 keys, {} bytes; its quota is 100 keys, {CHAOS_KV_BYTES} bytes; delete keys or store less",
                2 * (600 * 1024 + "fill/0".len())
            )
        ))
    );
    assert_eq!(
        sandbox.kv.usage(&chaos_scope("globex")).expect("usage"),
        modhost_runtime::kv::KvUsage::default(),
        "nothing of the refused call was kept"
    );
    assert_still_serves(&sandbox, "globex").await;
}

#[tokio::test]
async fn a_tenant_over_its_quota_can_still_delete_but_not_grow() {
    let _serial = SERIAL.lock().await;
    let sandbox = Sandbox::new();
    // 150 keys put there by an operator (e.g. before the quota was lowered).
    for index in 0..150 {
        sandbox
            .kv
            .set(&chaos_scope("acme"), &format!("fill/{index}"), b"v")
            .expect("set");
    }
    let refused = sandbox.call("acme", Method::Put, "/data/new", "1").await;
    assert!(
        matches!(&refused, Err(CallError::Module(error)) if error.code == ErrorCode::Conflict
            && error.message.starts_with("storage quota exceeded: this write would leave the module's data at 151 keys")),
        "{refused:?}"
    );
    let deleted = sandbox
        .call("acme", Method::Delete, "/fill/60", "")
        .await
        .expect("deletes pass over the quota");
    assert_eq!(json(&deleted), serde_json::json!({"deleted": 60}));
    assert_eq!(sandbox.kv.usage(&chaos_scope("acme")).expect("usage").keys, 90);
    sandbox
        .call("acme", Method::Put, "/data/new", "1")
        .await
        .expect("under the quota again, a new key fits");
}

#[test]
fn of_two_calls_that_fit_the_quota_alone_but_not_together_the_second_to_commit_fails_whole() {
    let _serial = SERIAL.blocking_lock();
    let tokio = two_worker_tokio();
    let sandbox = Arc::new(Sandbox::new());
    let outcomes = tokio.block_on(async {
        // Each writes 60 keys, then holds them 100 ms uncommitted, so both
        // pass the check at `set` against the same empty scope.
        let calls: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|prefix| {
                let sandbox = sandbox.clone();
                tokio::spawn(async move {
                    sandbox
                        .call(
                            "acme",
                            Method::Put,
                            &format!("/fill/60?prefix={prefix}&hold_ms=100"),
                            "v",
                        )
                        .await
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for call in calls {
            outcomes.push(call.await.expect("the call task ends"));
        }
        outcomes
    });
    let succeeded = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    let refused: Vec<_> = outcomes
        .iter()
        .filter_map(|outcome| outcome.as_ref().err())
        .collect();
    assert_eq!(succeeded, 1, "{outcomes:?}");
    // 60 keys `fill/aN` of 7 or 8 bytes with a 1-byte value: 10×8 + 50×9 = 530 bytes each.
    assert_eq!(
        refused,
        vec![&CallError::QuotaExceeded(
            "the module's data would hold 120 keys, 1060 bytes; its quota is 100 keys, 1048576 bytes"
                .to_owned()
        )]
    );
    assert_eq!(
        refused[0].to_string(),
        "the module's data would hold 120 keys, 1060 bytes; its quota is 100 keys, 1048576 bytes; delete data or store less, then retry"
    );
    let usage = sandbox.kv.usage(&chaos_scope("acme")).expect("usage");
    assert_eq!(
        (usage.keys, usage.bytes),
        (60, 530),
        "only the first call's writes were kept"
    );
}
