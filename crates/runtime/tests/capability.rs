//! A new capability is one module plus one WIT interface: a test-only counter added from outside the sandbox crate.
//!
//! The whole capability is below: the WIT interface (`modhost:probe/counter`,
//! in `plugins/fixtures/counter-probe/wit/probe.wit`, written inline here for
//! the host side), its per-call state ([`Counter`]), and one [`Capability`]
//! impl that links the interface and hands each call its state. Nothing in
//! the sandbox crate changes: [`Runtime::with_capabilities`] takes it, and the
//! guest fixture `counter-probe`, built by `cargo xtask build-plugins`,
//! imports it.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

use std::any::Any;
use std::sync::Arc;

use modhost_runtime::kv::MemoryKvStore;
use modhost_runtime::{
    CallInfo, CallState, Caller, Capability, Method, ModuleSpec, PrepareError, Request, Runtime,
    RuntimeConfig, TenantKind,
};
use wasmtime::component::{HasData, Linker};

mod probe {
    //! The host side of the test-only WIT interface.
    #![allow(missing_docs)]
    wasmtime::component::bindgen!({
        inline: "
            package modhost:probe@1.0.0;
            interface counter {
                next: func() -> u64;
            }
            world host {
                import counter;
            }
        ",
    });
}

/// One call's counter: what the capability keeps per call, scoped by the
/// tenant the host established (never by guest input).
struct Counter {
    tenant: String,
    count: u64,
}

impl probe::modhost::probe::counter::Host for Counter {
    fn next(&mut self) -> u64 {
        self.count += 1;
        // The tenant is host-established: a tenant named `acme` counts from 100.
        if self.tenant == "acme" {
            self.count + 99
        } else {
            self.count
        }
    }
}

/// Reaches the call's [`Counter`] from the store data.
struct HasCounter;

impl HasData for HasCounter {
    type Data<'a> = &'a mut Counter;
}

/// The capability: links `modhost:probe/counter` and gives each call a fresh counter.
struct CounterCapability;

impl Capability for CounterCapability {
    fn add_to_linker(&self, linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
        probe::modhost::probe::counter::add_to_linker::<CallState, HasCounter>(linker, |state| {
            state
                .extension::<Counter>()
                .expect("the runtime gives every call the state from call_state")
        })
    }

    fn call_state(&self, call: &CallInfo<'_>) -> Box<dyn Any + Send> {
        Box::new(Counter {
            tenant: call.tenant.to_owned(),
            count: 0,
        })
    }
}

fn spec() -> ModuleSpec {
    ModuleSpec {
        id: "counter-probe".to_owned(),
        version: semver::Version::new(0, 1, 0),
        memory_bytes: 16 * 1024 * 1024,
        timeout: std::time::Duration::from_secs(5),
        fuel: None,
        kv_quota: modhost_runtime::kv::KvQuota::UNLIMITED,
        dependencies: Default::default(),
        endpoints: vec![],
    }
}

fn caller(tenant: &str) -> Caller {
    Caller {
        tenant_id: tenant.to_owned(),
        tenant_kind: TenantKind::Standard,
        request_id: "capability-test".to_owned(),
        permissions: vec![],
        grants: vec![],
        features: vec![],
    }
}

fn request() -> Request {
    Request {
        method: Method::Get,
        path: "/".to_owned(),
        query: String::new(),
        headers: vec![],
        body: vec![],
    }
}

#[tokio::test]
async fn an_added_capability_serves_the_guest_with_per_call_state() {
    let runtime = Runtime::with_capabilities(
        RuntimeConfig::default(),
        Arc::new(MemoryKvStore::new()),
        vec![Arc::new(CounterCapability)],
    )
    .expect("runtime");
    let module = Arc::new(
        runtime
            .prepare(spec(), &modhost_testkit::fixture("counter-probe"))
            .expect("the probe links against the added capability"),
    );
    let mut answers = Vec::new();
    for tenant in ["shop", "shop", "acme"] {
        let response = runtime
            .call(module.clone(), &caller(tenant), Arc::default(), request())
            .await
            .expect("the call succeeds");
        assert_eq!(response.status, 200);
        answers.push(String::from_utf8(response.body).expect("text"));
    }
    // Each call gets a fresh counter (1, 2 again on the second call), scoped
    // by the tenant the host established.
    assert_eq!(answers, ["shop 1 2", "shop 1 2", "acme 100 101"]);
}

#[tokio::test]
async fn without_the_capability_the_guest_is_refused_at_prepare_naming_the_import() {
    let runtime = Runtime::new(RuntimeConfig::default(), Arc::new(MemoryKvStore::new())).expect("runtime");
    let error = runtime
        .prepare(spec(), &modhost_testkit::fixture("counter-probe"))
        .expect_err("a guest importing an unknown interface must not link");
    let PrepareError::Link(message) = &error else {
        panic!("expected a link error, got {error:?}");
    };
    assert!(
        message.contains("modhost:probe/counter@1.0.0"),
        "the error names the missing import: {message}"
    );
}
