//! [`RegistryError`]: every way a registry operation can be refused, typed so callers can branch.

use semver::{Version, VersionReq};
use serde::Serialize;

use crate::blobs::BlobError;
use crate::store::StoreError;

/// One failed upload check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadProblem {
    /// Which check: `size`, `manifest`, `sha256`, `component`, `interface`, `owner`, `version`.
    pub check: &'static str,
    /// What is wrong and what to do.
    pub message: String,
}

/// Why a promotion, rollback or disable cannot happen; all are reported together.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DeploymentProblem {
    /// A dependency of the target version is not active for the tenant, or not at a matching version.
    DependencyMissing {
        /// The dependency.
        dependency: String,
        /// What the target version requires.
        requirement: VersionReq,
        /// What the tenant runs now, if anything.
        active: Option<Version>,
    },
    /// An active module of the tenant depends on this one and would not accept the change.
    DependentWouldBreak {
        /// The module that depends on this one.
        dependent: String,
        /// Its active version.
        dependent_version: Version,
        /// What it requires of this module.
        requirement: VersionReq,
    },
    /// The tenant's current config does not validate against the target version's schema.
    ConfigInvalid {
        /// Every problem, named `config.<field>`.
        problems: Vec<modhost_manifest::Problem>,
    },
}

impl std::fmt::Display for DeploymentProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::DependencyMissing {
                dependency,
                requirement,
                active: None,
            } => {
                write!(
                    f,
                    "it needs `{dependency}` {requirement}, which the tenant does not run; promote it first"
                )
            }
            Self::DependencyMissing {
                dependency,
                requirement,
                active: Some(active),
            } => write!(
                f,
                "it needs `{dependency}` {requirement}, but the tenant runs {dependency}@{active}; promote a matching version first"
            ),
            Self::DependentWouldBreak {
                dependent,
                dependent_version,
                requirement,
            } => write!(
                f,
                "the tenant's {dependent}@{dependent_version} needs this module at {requirement}; change that module first"
            ),
            Self::ConfigInvalid { problems } => {
                let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "the tenant's config does not fit this version: {}",
                    listed.join("; ")
                )
            }
        }
    }
}

/// Why a registry operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A caller-supplied value is malformed.
    #[error("invalid {field}: {message}")]
    InvalidInput {
        /// Which input.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// No such tenant.
    #[error("tenant `{0}` does not exist")]
    TenantNotFound(String),
    /// The tenant id is taken.
    #[error("tenant `{0}` already exists")]
    TenantExists(String),
    /// No such module, or not one this tenant may see.
    #[error("module `{0}` does not exist")]
    ModuleNotFound(String),
    /// No such version, or not one this tenant may see.
    #[error("module `{module}` has no version {version}")]
    VersionNotFound {
        /// The module.
        module: String,
        /// The missing version.
        version: Version,
    },
    /// The upload failed one or more checks; nothing was stored.
    #[error("the upload was refused: {}", problems.iter().map(|p| format!("[{}] {}", p.check, p.message)).collect::<Vec<_>>().join("; "))]
    UploadRejected {
        /// Every failed check.
        problems: Vec<UploadProblem>,
    },
    /// The deployment change would break the tenant; nothing changed.
    #[error("cannot move {tenant}/{module} to {target}: {}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    DeploymentBlocked {
        /// The tenant.
        tenant: String,
        /// The module.
        module: String,
        /// The version it would have moved to (`disabled` for a disable).
        target: String,
        /// Every reason.
        problems: Vec<DeploymentProblem>,
    },
    /// The module is not active for the tenant.
    #[error("module `{module}` is not enabled for tenant `{tenant}`; promote a version first")]
    NotEnabled {
        /// The tenant.
        tenant: String,
        /// The module.
        module: String,
    },
    /// There is no earlier version to go back to.
    #[error("{tenant}/{module} has no earlier version to roll back to")]
    NothingToRollBack {
        /// The tenant.
        tenant: String,
        /// The module.
        module: String,
    },
    /// Rolling back to a version that was never active for the tenant.
    #[error("{module}@{version} was never active for tenant `{tenant}`; promote it instead")]
    NeverActive {
        /// The tenant.
        tenant: String,
        /// The module.
        module: String,
        /// The requested version.
        version: Version,
    },
    /// The tenant's config has no such version.
    #[error("{tenant}/{module} has no config version {version}")]
    ConfigVersionNotFound {
        /// The tenant.
        tenant: String,
        /// The module.
        module: String,
        /// The missing version.
        version: u64,
    },
    /// The config does not validate; nothing changed.
    #[error("invalid config for {module}: {}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    ConfigInvalid {
        /// The module.
        module: String,
        /// Every problem.
        problems: Vec<modhost_manifest::Problem>,
    },
    /// A call's writes would take a module's data past its quota; nothing was written.
    #[error("{tenant}/{module}'s data would hold {} (quota {}); delete data, or have the operator or the module's manifest raise the quota", after.describe(), quota.describe())]
    QuotaExceeded {
        /// The tenant.
        tenant: String,
        /// The module.
        module: String,
        /// What the scope would have held.
        after: crate::usage::DataUsage,
        /// The quota.
        quota: crate::usage::DataQuota,
    },
    /// No such record (an alert, rule or channel); the message names it.
    #[error("{0}")]
    NotFound(String),
    /// The change conflicts with what is stored; the message says how.
    #[error("{0}")]
    Conflict(String),
    /// The artifact store failed or a component is corrupted.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// A backup could not be written, read or restored; nothing was changed.
    #[error(transparent)]
    Backup(#[from] crate::backup_format::BackupError),
    /// The database failed, or holds something unreadable.
    #[error("the registry's storage failed: {0}")]
    Storage(String),
}

impl From<StoreError> for RegistryError {
    fn from(error: StoreError) -> Self {
        Self::Storage(error.0)
    }
}

impl From<serde_json::Error> for RegistryError {
    fn from(error: serde_json::Error) -> Self {
        Self::Storage(format!(
            "a stored record is unreadable: {error}; restore the data directory from a backup"
        ))
    }
}
