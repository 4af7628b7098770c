//! The runtime against the real template component built by `cargo xtask build-plugins`.
//!
//! No mock host: the component is compiled by wasmtime, linked against the
//! real capabilities, and called through the generated WIT bindings.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

use std::sync::Arc;

use modhost_runtime::kv::MemoryKvStore;
use modhost_runtime::{
    CallError, Caller, ErrorCode, Method, ModuleConfig, ModuleError, ModuleSpec, ReadyModule, Request,
    Response, Runtime, RuntimeConfig, TenantKind, module_config,
};

use modhost_testkit::load as built_module;

struct Harness {
    runtime: Runtime,
    module: Arc<ReadyModule>,
    manifest: modhost_manifest::Manifest,
}

impl Harness {
    fn new() -> Self {
        let built = built_module("template@0.1.0");
        let runtime =
            Runtime::new(RuntimeConfig::default(), Arc::new(MemoryKvStore::new())).expect("runtime");
        let module = runtime
            .prepare(ModuleSpec::from_manifest(&built.manifest), &built.component)
            .expect("the template compiles and links");
        Self {
            runtime,
            module: Arc::new(module),
            manifest: built.manifest,
        }
    }

    fn config(&self, values: serde_json::Value) -> Arc<ModuleConfig> {
        let values = values.as_object().cloned().unwrap_or_default();
        let resolved = self.manifest.config.validate(&values).expect("valid config");
        Arc::new(module_config(&resolved))
    }

    async fn call(
        &self,
        tenant: &str,
        config: serde_json::Value,
        method: Method,
        path: &str,
        body: &str,
    ) -> Result<Response, CallError> {
        let caller = Caller {
            tenant_id: tenant.to_owned(),
            tenant_kind: TenantKind::Standard,
            request_id: "test".to_owned(),
            permissions: vec!["template.read".to_owned()],
            grants: vec!["template.read".to_owned()],
            features: vec![],
        };
        let request = Request {
            method,
            path: path.to_owned(),
            query: String::new(),
            headers: vec![],
            body: body.as_bytes().to_vec(),
        };
        self.runtime
            .call(self.module.clone(), &caller, self.config(config), request)
            .await
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

#[tokio::test]
async fn hello_counts_visits_per_tenant_with_the_tenants_greeting() {
    let harness = Harness::new();
    let defaults = serde_json::json!({});
    let first = harness
        .call("acme", defaults.clone(), Method::Get, "/hello/world", "")
        .await
        .expect("ok");
    assert_eq!(first.status, 200);
    assert_eq!(
        json(&first),
        serde_json::json!({"message": "hello, world", "visits": 1})
    );
    let second = harness
        .call("acme", defaults, Method::Get, "/hello/world", "")
        .await
        .expect("ok");
    assert_eq!(json(&second)["visits"], 2);
    let other_tenant = harness
        .call(
            "banban",
            serde_json::json!({"greeting": "olá"}),
            Method::Get,
            "/hello/world",
            "",
        )
        .await
        .expect("ok");
    assert_eq!(
        json(&other_tenant),
        serde_json::json!({"message": "olá, world", "visits": 1})
    );
}

#[tokio::test]
async fn notes_round_trip_and_errors_are_typed() {
    let harness = Harness::new();
    let config = serde_json::json!({"max_note_length": 10});
    let stored = harness
        .call(
            "acme",
            config.clone(),
            Method::Put,
            "/notes/monday",
            r#"{"text":"restock"}"#,
        )
        .await
        .expect("stored");
    assert_eq!(json(&stored), serde_json::json!({"text": "restock"}));
    let read = harness
        .call("acme", config.clone(), Method::Get, "/notes/monday", "")
        .await
        .expect("read");
    assert_eq!(json(&read), serde_json::json!({"text": "restock"}));

    let missing = harness
        .call("acme", config.clone(), Method::Get, "/notes/tuesday", "")
        .await;
    assert_eq!(
        missing,
        Err(module_error(ErrorCode::NotFound, "no note `tuesday`"))
    );
    let too_long = harness
        .call(
            "acme",
            config.clone(),
            Method::Put,
            "/notes/x",
            r#"{"text":"restock friday"}"#,
        )
        .await;
    assert_eq!(
        too_long,
        Err(module_error(
            ErrorCode::Unprocessable,
            "the note has 14 characters; this tenant allows at most 10"
        ))
    );
    let Err(CallError::Module(not_json)) = harness
        .call("acme", config.clone(), Method::Put, "/notes/x", "{")
        .await
    else {
        panic!("invalid JSON should be a module error");
    };
    assert_eq!(not_json.code, ErrorCode::BadRequest);
    let unknown = harness.call("acme", config, Method::Get, "/nope", "").await;
    assert_eq!(
        unknown,
        Err(module_error(ErrorCode::NotFound, "no endpoint GET /nope"))
    );
    let other_tenant = harness
        .call("banban", serde_json::json!({}), Method::Get, "/notes/monday", "")
        .await;
    assert_eq!(
        other_tenant,
        Err(module_error(ErrorCode::NotFound, "no note `monday`")),
        "notes are per tenant"
    );
}

#[tokio::test]
async fn self_test_passes_and_logs_reach_the_tenant_buffer() {
    let harness = Harness::new();
    let defaults = harness.config(serde_json::json!({}));
    assert_eq!(
        harness.runtime.self_test(harness.module.clone(), defaults).await,
        Ok(())
    );
    harness
        .call(
            "acme",
            serde_json::json!({}),
            Method::Put,
            "/notes/a",
            r#"{"text":"hi"}"#,
        )
        .await
        .expect("stored");
    let records = harness.runtime.logs().recent("acme", 10);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].message, "note stored");
    assert_eq!(records[0].fields, [("id".to_owned(), "a".to_owned())]);
    assert_eq!(
        (records[0].module.as_str(), records[0].version.as_str()),
        ("template", "0.1.0")
    );
}

/// The resident bytes of the mapping of the compile cache's `.cwasm` files, from `/proc/self/smaps`.
fn resident_cwasm_kib() -> u64 {
    let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
    let mut in_cwasm = false;
    let mut total = 0;
    for line in smaps.lines() {
        if line.chars().next().is_some_and(|first| first.is_ascii_hexdigit()) && line.contains('-') {
            in_cwasm = line.ends_with(".cwasm");
        } else if in_cwasm && let Some(rss) = line.strip_prefix("Rss:") {
            total += rss
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .expect("kB");
        }
    }
    total
}

#[tokio::test]
async fn idle_code_is_paged_out_after_a_sweep_without_calls_and_a_later_call_still_runs() {
    let cache = tempfile::tempdir().unwrap();
    let built = built_module("template@0.1.0");
    let config = RuntimeConfig {
        compile_cache_dir: Some(cache.path().to_path_buf()),
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::new(config, Arc::new(MemoryKvStore::new())).expect("runtime");
    let harness = Harness {
        module: Arc::new(
            runtime
                .prepare(ModuleSpec::from_manifest(&built.manifest), &built.component)
                .expect("prepared"),
        ),
        runtime,
        manifest: built.manifest,
    };
    let hello = async || {
        harness
            .call("acme", serde_json::json!({}), Method::Get, "/hello/ana", "")
            .await
            .expect("hello answers")
    };
    hello().await;
    // The first sweep only notes the calls it sees; a called artefact is kept.
    assert_eq!(harness.runtime.page_out_idle_code().artefacts, 0);
    hello().await;
    assert_eq!(
        harness.runtime.page_out_idle_code().artefacts,
        0,
        "it was called since"
    );
    let mapped = resident_cwasm_kib();
    assert!(
        mapped > 64,
        "the compiled code is mapped from the cache file: {mapped} KiB"
    );
    // No call between two sweeps: the second pages the code out, once.
    let paged = harness.runtime.page_out_idle_code();
    assert_eq!((paged.artefacts, paged.failed), (1, 0));
    assert!(paged.bytes >= 64 * 1024, "{paged:?}");
    let left = resident_cwasm_kib();
    assert!(
        left < mapped / 4,
        "{mapped} KiB resident before, {left} KiB after"
    );
    assert_eq!(
        harness.runtime.page_out_idle_code().artefacts,
        0,
        "already paged out"
    );
    // The next call reads the code back and answers as before.
    let again = hello().await;
    assert_eq!(again.status, 200);
    assert!(resident_cwasm_kib() > left, "the call brought code back");
}
