//! Shared helpers for the runtime's tests: built modules, registries on temp dirs, version variants.

#![allow(dead_code, unused_imports, reason = "each test file uses a different subset")]

use modhost_registry::{NewTenant, Publisher, Registry, RegistryConfig, TenantKind, Upload};

pub const OPERATOR: &str = "operator:test";

pub use modhost_testkit::{built, variant};

pub fn registry() -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().expect("temp dir");
    let registry = Registry::open(dir.path().join("data"), RegistryConfig::default()).expect("registry");
    (dir, registry)
}

pub fn publish(registry: &Registry, module: &(String, Vec<u8>)) {
    publish_owned(registry, module, None);
}

/// Publishes as an operator; a custom module is owned by `owner`.
pub fn publish_owned(registry: &Registry, (text, bytes): &(String, Vec<u8>), owner: Option<&str>) {
    let publisher = Publisher::Operator {
        owner: owner.map(str::to_owned),
    };
    registry
        .publish(Upload {
            manifest_text: text,
            component: bytes,
            publisher: &publisher,
            actor: OPERATOR,
        })
        .unwrap_or_else(|error| panic!("publish: {error}"));
}

pub fn tenant(registry: &Registry, id: &str) {
    tenant_of_kind(registry, id, TenantKind::Standard);
}

pub fn tenant_of_kind(registry: &Registry, id: &str, kind: TenantKind) {
    let new = NewTenant {
        id: id.to_owned(),
        name: id.to_owned(),
        kind,
        organisation: Default::default(),
        features: Default::default(),
        plan: None,
        monthly_value_cents: None,
    };
    registry.create_tenant(new, OPERATOR).expect("tenant");
}

pub fn version(text: &str) -> semver::Version {
    text.parse().expect("version")
}

pub fn request(method: modhost_runtime::Method, path: &str, body: &str) -> modhost_runtime::Request {
    modhost_runtime::Request {
        method,
        path: path.to_owned(),
        query: String::new(),
        headers: vec![],
        body: body.as_bytes().to_vec(),
    }
}

pub fn caller(tenant: &str) -> modhost_runtime::Caller {
    modhost_runtime::Caller {
        tenant_id: tenant.to_owned(),
        tenant_kind: modhost_runtime::TenantKind::Standard,
        request_id: "test".to_owned(),
        permissions: vec![],
        grants: vec!["*".to_owned()],
        features: vec![],
    }
}

/// A host for testing the shipped modules end to end below HTTP: a real
/// registry on a temp dir, the real loader and runtime, modules published from
/// `target/modules/`, promoted (self-test, smoke tests and migrations
/// included) and called the way the data plane calls them.
pub struct ModuleHost {
    pub registry: Registry,
    pub loader: modhost_deploy::Loader,
    _dir: tempfile::TempDir,
}

/// A module's answer as the data plane would send it: module errors become
/// their HTTP status with `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub json: serde_json::Value,
}

impl Reply {
    /// The `(code, message)` of an error reply; panics on a success.
    pub fn error(&self) -> (&str, &str) {
        let error = &self.json["error"];
        match (error["code"].as_str(), error["message"].as_str()) {
            (Some(code), Some(message)) => (code, message),
            _ => panic!("expected an error reply, got {} {}", self.status, self.json),
        }
    }

    /// Asserts the status is `status` and returns the JSON body.
    #[track_caller]
    pub fn expect(self, status: u16) -> serde_json::Value {
        assert_eq!(self.status, status, "unexpected reply: {}", self.json);
        self.json
    }
}

impl ModuleHost {
    /// An empty host.
    pub fn start() -> Self {
        let (dir, registry) = registry();
        let runtime = modhost_runtime::Runtime::new(
            modhost_runtime::RuntimeConfig::default(),
            std::sync::Arc::new(modhost_deploy::RegistryKvStore(registry.clone())),
        )
        .expect("runtime");
        let loader = modhost_deploy::Loader::start(runtime, registry.clone()).expect("loader");
        Self {
            registry,
            loader,
            _dir: dir,
        }
    }

    /// Creates a tenant of `kind`.
    pub fn tenant(&self, id: &str, kind: TenantKind) {
        tenant_of_kind(&self.registry, id, kind);
    }

    /// Publishes the built module `label` (`<id>@<version>`) as an operator;
    /// a custom module is owned by `owner`.
    pub fn publish(&self, label: &str, owner: Option<&str>) {
        publish_owned(&self.registry, &built(label), owner);
    }

    /// Promotes `module@version` for `tenant` through the loader.
    pub async fn promote(
        &self,
        tenant: &str,
        module: &str,
        version_text: &str,
    ) -> Result<modhost_registry::DeploymentChange, modhost_deploy::DeployError> {
        self.loader
            .promote(tenant, module, &version(version_text), OPERATOR)
            .await
    }

    /// Sets the tenant's config of `module` and waits until its route serves with it.
    pub async fn set_config(&self, tenant: &str, module: &str, values: serde_json::Value) {
        let values = values.as_object().cloned().expect("config values are an object");
        self.registry
            .set_config(tenant, module, values.clone(), OPERATOR)
            .unwrap_or_else(|error| panic!("config of {module}: {error}"));
        for _ in 0..500 {
            let serving = self.loader.serving(tenant, module).await.expect("serving");
            let applied = values.iter().all(|(key, wanted)| {
                serving
                    .config
                    .iter()
                    .any(|(name, value)| name == key && config_json(value) == *wanted)
            });
            if applied {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the config of {tenant}/{module} was not applied within 5 s");
    }

    /// Calls `tenant`'s `module` with `path_and_query` and an optional JSON body.
    pub async fn call(
        &self,
        tenant: &str,
        module: &str,
        method: modhost_runtime::Method,
        path_and_query: &str,
        body: Option<serde_json::Value>,
    ) -> Reply {
        let serving = self.loader.serving(tenant, module).await.expect("serving");
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let request = modhost_runtime::Request {
            method,
            path: path.to_owned(),
            query: query.to_owned(),
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: body.map(|json| json.to_string().into_bytes()).unwrap_or_default(),
        };
        match self.loader.call(&serving, &caller(tenant), request).await {
            Ok(response) => Reply {
                status: response.status,
                json: if response.body.is_empty() {
                    serde_json::Value::Null
                } else {
                    serde_json::from_slice(&response.body)
                        .unwrap_or_else(|error| panic!("{module}{path_and_query} answered non-JSON: {error}"))
                },
            },
            Err(modhost_runtime::CallError::Module(error)) => {
                let (status, json) = modhost_deploy::module_error_reply(&error);
                Reply { status, json }
            }
            Err(failure) => panic!("{module}{path_and_query} failed in the host: {failure}"),
        }
    }

    /// `GET`.
    pub async fn get(&self, tenant: &str, module: &str, path_and_query: &str) -> Reply {
        self.call(tenant, module, modhost_runtime::Method::Get, path_and_query, None)
            .await
    }

    /// `POST` with a JSON body.
    pub async fn post(&self, tenant: &str, module: &str, path: &str, body: serde_json::Value) -> Reply {
        self.call(tenant, module, modhost_runtime::Method::Post, path, Some(body))
            .await
    }

    /// `PUT` with a JSON body.
    pub async fn put(&self, tenant: &str, module: &str, path: &str, body: serde_json::Value) -> Reply {
        self.call(tenant, module, modhost_runtime::Method::Put, path, Some(body))
            .await
    }

    /// `DELETE`.
    pub async fn delete(&self, tenant: &str, module: &str, path: &str) -> Reply {
        self.call(tenant, module, modhost_runtime::Method::Delete, path, None)
            .await
    }
}

/// A config value as the JSON it was set from.
fn config_json(value: &modhost_manifest::ConfigValue) -> serde_json::Value {
    match value {
        modhost_manifest::ConfigValue::Text(text) => serde_json::json!(text),
        modhost_manifest::ConfigValue::Integer(integer) => serde_json::json!(integer),
        modhost_manifest::ConfigValue::Float(float) => serde_json::json!(float),
        modhost_manifest::ConfigValue::Boolean(boolean) => serde_json::json!(boolean),
    }
}
