//! A module version made ready: its spec (limits capped by the operator) and the pre-instance for its WIT version.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::bindings::VersionedPre;

/// What the runtime needs to know about a module version, taken from its manifest.
#[derive(Debug, Clone)]
pub struct ModuleSpec {
    /// The module id.
    pub id: String,
    /// The version.
    pub version: semver::Version,
    /// The linear memory limit the manifest asks for.
    pub memory_bytes: u64,
    /// The deadline the manifest asks for.
    pub timeout: Duration,
    /// The fuel budget per call, if the manifest sets one.
    pub fuel: Option<u64>,
    /// How much one tenant's data of this module may hold.
    pub kv_quota: crate::kv::KvQuota,
    /// Modules it may call, with the version requirement.
    pub dependencies: BTreeMap<String, semver::VersionReq>,
    /// Its endpoints: what a nested `modules.call` may reach, and with which permission.
    pub endpoints: Vec<modhost_manifest::Endpoint>,
}

impl ModuleSpec {
    /// The endpoint serving `method` on `path` (any query ignored), if there is one.
    pub fn find_endpoint(
        &self,
        method: modhost_manifest::Method,
        path: &str,
    ) -> Option<&modhost_manifest::Endpoint> {
        let path = path.split_once('?').map_or(path, |(path, _query)| path);
        self.endpoints
            .iter()
            .filter(|endpoint| endpoint.method == method)
            .find(|endpoint| endpoint.path.matches(path).is_some())
    }

    /// The runtime's view of a validated manifest.
    pub fn from_manifest(manifest: &modhost_manifest::Manifest) -> Self {
        Self {
            id: manifest.module.id.as_str().to_owned(),
            version: manifest.module.version.clone(),
            memory_bytes: manifest.limits.memory_bytes(),
            timeout: manifest.limits.timeout(),
            fuel: manifest.limits.fuel,
            kv_quota: crate::kv::KvQuota {
                max_keys: manifest.limits.kv_keys,
                max_bytes: manifest.limits.kv_bytes(),
            },
            dependencies: manifest
                .dependencies
                .iter()
                .map(|(id, requirement)| (id.as_str().to_owned(), requirement.clone()))
                .collect(),
            endpoints: manifest.endpoints.clone(),
        }
    }
}

/// A compiled and linked module version, ready to be instantiated per call.
///
/// It holds the pre-instance for the WIT version the component was built
/// against, chosen once by [`crate::Runtime::prepare`].
pub struct ReadyModule {
    pub(crate) spec: ModuleSpec,
    pub(crate) sha256: String,
    pub(crate) pre: VersionedPre,
}

impl ReadyModule {
    /// The module's spec, with limits capped by the operator's maxima.
    pub fn spec(&self) -> &ModuleSpec {
        &self.spec
    }

    /// The SHA-256 of the component it was prepared from.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The `modhost:module` WIT version the component exports (`1.0.0`, …).
    pub fn wit_version(&self) -> semver::Version {
        self.pre.wit_version()
    }
}

impl std::fmt::Debug for ReadyModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadyModule")
            .field("spec", &self.spec)
            .field("wit_version", &self.wit_version())
            .finish_non_exhaustive()
    }
}
