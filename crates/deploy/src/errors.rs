//! Why a request could not be routed, and why a promote, rollback or disable did not happen.

use modhost_registry::RegistryError;
use semver::Version;

/// Why a request could not be routed to a module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServeError {
    /// No such tenant.
    #[error("tenant `{0}` does not exist")]
    UnknownTenant(String),
    /// The module is not enabled for the tenant (or does not exist).
    #[error("module `{module}` is not enabled for tenant `{tenant}`")]
    NotEnabled {
        /// The tenant.
        tenant: String,
        /// The module.
        module: String,
    },
    /// No version of the module could be made ready.
    #[error("no version of `{module}` is ready for tenant `{tenant}`: {reason}")]
    NoReadyVersion {
        /// The tenant.
        tenant: String,
        /// The module.
        module: String,
        /// What went wrong loading it.
        reason: String,
    },
    /// A request pinned itself to a version that neither is active nor runs as a canary.
    #[error(
        "{module}@{version} is neither active nor a canary for tenant `{tenant}`; pin the active version or the canary"
    )]
    PinNotServed {
        /// The tenant.
        tenant: String,
        /// The module.
        module: String,
        /// The pinned version.
        version: Version,
    },
}

/// Why a promote, rollback or disable did not happen. Nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The registry refused (unknown version, dependencies, config, ...).
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The target version could not be made ready (compile, link or self-test).
    #[error("{module}@{version} could not be made ready: {reason}")]
    NotReady {
        /// The module.
        module: String,
        /// The version.
        version: Version,
        /// What failed.
        reason: String,
    },
    /// One of the target version's smoke tests (`[[tests]]`) failed; nothing changed.
    #[error("{module}@{version} failed its smoke tests, so it was not promoted: {reason}")]
    SmokeTestFailed {
        /// The module.
        module: String,
        /// The version.
        version: Version,
        /// Which test failed, and how.
        reason: String,
    },
    /// The target version's `migrate` failed; the data was restored.
    #[error("{module}@{version} failed to migrate the tenant's data, which was left untouched: {reason}")]
    MigrationFailed {
        /// The module.
        module: String,
        /// The version.
        version: Version,
        /// The module's message or the failure.
        reason: String,
    },
    /// A canary's candidate would migrate the tenant's data.
    #[error(
        "{module}@{version} would migrate {tenant}'s data from {from}, and a canary would run both versions on data in two shapes; promote it instead (a watched promote rolls back by itself)"
    )]
    CanaryNeedsMigration {
        /// The tenant.
        tenant: String,
        /// The module.
        module: String,
        /// The candidate.
        version: Version,
        /// The active version.
        from: Version,
    },
}
