//! Shared pieces: the built modules and fixture, variants with distinct bytes, registries, percentiles.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use modhost_registry::{NewTenant, Publisher, Registry, RegistryConfig, TenantKind, Upload};

/// The actor recorded in the audit log for the harness's changes.
pub const ACTOR: &str = "operator:bench";

/// The template module as built by `cargo xtask build-plugins`.
pub struct Modules {
    /// Its manifest text (with `component.sha256`).
    pub template_text: String,
    /// Its component.
    pub template_bytes: Vec<u8>,
    /// `chaos@1.0.0`'s manifest text and component: the attacker of the isolation figure.
    pub chaos: (String, Vec<u8>),
    /// The trivial `wasi:http/proxy` component (`target/fixtures/http-hello.wasm`): the wasmtime-wasi-http peer.
    pub http_hello: Vec<u8>,
}

impl Modules {
    /// Reads `template@0.1.0` and `chaos@1.0.0` from `dir`, and the
    /// `http-hello` fixture from the `fixtures` folder beside it.
    pub fn new(dir: &Path) -> anyhow::Result<Self> {
        let chaos = read_built(&dir.join("chaos@1.0.0"))?;
        let fixture = dir
            .parent()
            .context("the modules folder has no parent")?
            .join("fixtures")
            .join("http-hello.wasm");
        let http_hello = std::fs::read(&fixture)
            .with_context(|| format!("{}: run `cargo xtask build-plugins` first", fixture.display()))?;
        let dir = dir.join("template@0.1.0");
        let template_text = std::fs::read_to_string(dir.join("module.toml"))
            .with_context(|| format!("{}: run `cargo xtask build-plugins` first", dir.display()))?;
        let manifest = modhost_manifest::parse(&template_text)
            .map_err(|error| anyhow::anyhow!("the built template manifest: {error:?}"))?;
        let path = dir.join(&manifest.component.path);
        let template_bytes =
            std::fs::read(&path).with_context(|| format!("could not read {}", path.display()))?;
        Ok(Self {
            template_text,
            template_bytes,
            chaos,
            http_hello,
        })
    }

    /// The template republished as `version`, with distinct bytes (an appended custom section).
    pub fn variant(&self, version: &str) -> (String, Vec<u8>) {
        let bytes = with_custom_section(
            self.template_bytes.clone(),
            "modhost-bench-variant",
            version.as_bytes(),
        );
        let text = self
            .template_text
            .replacen("version = \"0.1.0\"", &format!("version = \"{version}\""), 1)
            .replace(&sha(&self.template_bytes), &sha(&bytes));
        (text, bytes)
    }

    /// A custom module `id` with distinct bytes, copied from the template.
    pub fn custom(&self, id: &str) -> (String, Vec<u8>) {
        let bytes = with_custom_section(self.template_bytes.clone(), "modhost-bench-custom", id.as_bytes());
        let text = self
            .template_text
            .replacen("id = \"template\"", &format!("id = \"{id}\""), 1)
            .replacen("kind = \"standard\"", "kind = \"custom\"", 1)
            .replace("\"template.", &format!("\"{id}."))
            .replace(&sha(&self.template_bytes), &sha(&bytes));
        (text, bytes)
    }
}

/// The manifest text and component of the built module in `dir`.
fn read_built(dir: &Path) -> anyhow::Result<(String, Vec<u8>)> {
    let text = std::fs::read_to_string(dir.join("module.toml"))
        .with_context(|| format!("{}: run `cargo xtask build-plugins` first", dir.display()))?;
    let manifest = modhost_manifest::parse(&text)
        .map_err(|error| anyhow::anyhow!("the built manifest in {}: {error:?}", dir.display()))?;
    let path = dir.join(&manifest.component.path);
    let bytes = std::fs::read(&path).with_context(|| format!("could not read {}", path.display()))?;
    Ok((text, bytes))
}

use modhost_testkit::{sha256 as sha, with_custom_section};

/// Opens a registry in `dir`.
pub fn open_registry(dir: &Path) -> anyhow::Result<Registry> {
    Ok(Registry::open(dir, RegistryConfig::default())?)
}

/// Creates tenant `id`.
pub fn tenant(registry: &Registry, id: &str, kind: TenantKind) -> anyhow::Result<()> {
    let new = NewTenant {
        id: id.to_owned(),
        name: id.to_owned(),
        kind,
        organisation: Default::default(),
        features: Default::default(),
        plan: None,
        monthly_value_cents: None,
    };
    registry.create_tenant(new, ACTOR)?;
    Ok(())
}

/// Publishes a module version.
pub fn publish(
    registry: &Registry,
    (text, bytes): &(String, Vec<u8>),
    publisher: &Publisher,
) -> anyhow::Result<()> {
    registry.publish(Upload {
        manifest_text: text,
        component: bytes,
        publisher,
        actor: ACTOR,
    })?;
    Ok(())
}

/// A request with no query, headers or body.
pub fn request(method: modhost_runtime::Method, path: &str, body: &str) -> modhost_runtime::Request {
    modhost_runtime::Request {
        method,
        path: path.to_owned(),
        query: String::new(),
        headers: vec![],
        body: body.as_bytes().to_vec(),
    }
}

/// A standard caller for `tenant`.
pub fn caller(tenant: &str) -> modhost_runtime::Caller {
    modhost_runtime::Caller {
        tenant_id: tenant.to_owned(),
        tenant_kind: modhost_runtime::TenantKind::Standard,
        request_id: "bench".to_owned(),
        permissions: vec!["*".to_owned()],
        grants: vec!["*".to_owned()],
        features: vec![],
    }
}

/// Records p50 and p99 of `samples` (sorted here) under `prefix` in microseconds.
pub fn percentiles_us(results: &mut crate::Results, prefix: &str, samples: &mut [Duration]) {
    samples.sort_unstable();
    let at = |fraction: f64| -> f64 {
        if samples.is_empty() {
            return 0.0;
        }
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "an index into a non-empty sample set"
        )]
        let index = ((samples.len() as f64 * fraction) as usize).min(samples.len() - 1);
        samples[index].as_secs_f64() * 1e6
    };
    results.insert(format!("{prefix}.p50_us"), at(0.50));
    results.insert(format!("{prefix}.p99_us"), at(0.99));
    #[allow(clippy::cast_precision_loss, reason = "a sample count")]
    results.insert(format!("{prefix}.samples"), samples.len() as f64);
}

/// The process's resident set size in KiB (VmRSS from /proc/self/status).
pub fn rss_kib() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status").context("could not read /proc/self/status")?;
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .context("no VmRSS in /proc/self/status")?;
    let kib = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .context("unreadable VmRSS")?;
    Ok(kib)
}
