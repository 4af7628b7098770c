//! Stored records: the on-disk shape of every registry record, versioned apart from the API types.
//!
//! The public model types (`model.rs`) may grow and change; what is written
//! to the store is a `Stored…V1` struct with a `format` field, converted to
//! and from the model here. A record without `format` (written before records
//! were versioned) is format 1, which has the same fields. A record with a
//! format this build does not know is refused with
//! a [`RegistryError::Storage`] saying so rather than misread. Changing a
//! stored shape means a `Stored…V2` and a conversion from V1, never editing V1.

use std::collections::BTreeSet;

use semver::Version;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::RegistryError;
use crate::model::{
    AuditEntry, AuditOutcome, Canary, ConfigHistory, ConfigVersion, Deployment, DeploymentAction,
    DeploymentEvent, ModuleVersion, Organisation, Role, Suspension, Tenant, TenantKind, Token,
};

/// The record format this build writes and reads.
pub const FORMAT: u32 = 1;

/// A model type with a stored form.
pub(crate) trait Record: Sized {
    /// The record's name in errors, e.g. `tenant`.
    const NAME: &'static str;
    /// The current stored form.
    type Stored: Serialize + DeserializeOwned;
    /// The stored form of `self`.
    fn to_stored(&self) -> Self::Stored;
    /// The model value of a stored form.
    fn from_stored(stored: Self::Stored) -> Self;
}

/// The bytes to store for `record`.
pub(crate) fn encode<R: Record>(record: &R) -> Result<Vec<u8>, RegistryError> {
    serde_json::to_vec(&record.to_stored())
        .map_err(|error| RegistryError::Storage(format!("could not encode a {} record: {error}", R::NAME)))
}

/// Reads only the `format` field of a stored record.
#[derive(Deserialize)]
struct FormatProbe {
    #[serde(default)]
    format: Option<u32>,
}

/// The record stored as `bytes`, refusing a format this build does not read.
pub(crate) fn decode<R: Record>(bytes: &[u8]) -> Result<R, RegistryError> {
    let unreadable = |error: serde_json::Error| {
        RegistryError::Storage(format!(
            "a stored {} record is unreadable: {error}; restore the data directory from a backup",
            R::NAME
        ))
    };
    let probe: FormatProbe = serde_json::from_slice(bytes).map_err(unreadable)?;
    let found = probe.format.unwrap_or(1);
    if found != FORMAT {
        return Err(unknown_format(R::NAME, found));
    }
    let stored: R::Stored = serde_json::from_slice(bytes).map_err(unreadable)?;
    Ok(R::from_stored(stored))
}

/// The refusal of a record in a format this build does not read (written by a newer modhost).
pub(crate) fn unknown_format(record: &str, found: u32) -> RegistryError {
    RegistryError::Storage(format!(
        "a stored {record} record has format version {found}; this build reads {FORMAT}; upgrade modhost"
    ))
}

pub(crate) fn format_v1() -> u32 {
    1
}

/// A tenant, format 1.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredTenantV1 {
    #[serde(default = "format_v1")]
    format: u32,
    id: String,
    name: String,
    kind: TenantKind,
    organisation: StoredOrganisationV1,
    features: BTreeSet<String>,
    created_at_ms: u64,
    updated_at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    suspended: Option<StoredSuspensionV1>,
    /// Absent from records written before plans existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    plan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    monthly_value_cents: Option<u64>,
}

/// A tenant's suspension, format 1 (absent from records written before suspensions existed).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredSuspensionV1 {
    at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// Organisation details, format 1.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct StoredOrganisationV1 {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    legal_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    contact_email: Option<String>,
}

impl Record for Tenant {
    const NAME: &'static str = "tenant";
    type Stored = StoredTenantV1;

    fn to_stored(&self) -> StoredTenantV1 {
        StoredTenantV1 {
            format: FORMAT,
            id: self.id.clone(),
            name: self.name.clone(),
            kind: self.kind,
            organisation: StoredOrganisationV1 {
                legal_name: self.organisation.legal_name.clone(),
                country: self.organisation.country.clone(),
                contact_email: self.organisation.contact_email.clone(),
            },
            features: self.features.clone(),
            created_at_ms: self.created_at_ms,
            updated_at_ms: self.updated_at_ms,
            suspended: self.suspended.as_ref().map(|suspension| StoredSuspensionV1 {
                at_ms: suspension.at_ms,
                reason: suspension.reason.clone(),
            }),
            plan: self.plan.clone(),
            monthly_value_cents: self.monthly_value_cents,
        }
    }

    fn from_stored(stored: StoredTenantV1) -> Self {
        Self {
            id: stored.id,
            name: stored.name,
            kind: stored.kind,
            organisation: Organisation {
                legal_name: stored.organisation.legal_name,
                country: stored.organisation.country,
                contact_email: stored.organisation.contact_email,
            },
            features: stored.features,
            created_at_ms: stored.created_at_ms,
            updated_at_ms: stored.updated_at_ms,
            suspended: stored.suspended.map(|suspension| Suspension {
                at_ms: suspension.at_ms,
                reason: suspension.reason,
            }),
            plan: stored.plan,
            monthly_value_cents: stored.monthly_value_cents,
        }
    }
}

/// A published module version, format 1.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredModuleVersionV1 {
    #[serde(default = "format_v1")]
    format: u32,
    module: String,
    version: Version,
    kind: modhost_manifest::ModuleKind,
    owner: Option<String>,
    sha256: String,
    size_bytes: u64,
    manifest_text: String,
    published_by: String,
    published_at_ms: u64,
}

impl Record for ModuleVersion {
    const NAME: &'static str = "module version";
    type Stored = StoredModuleVersionV1;

    fn to_stored(&self) -> StoredModuleVersionV1 {
        StoredModuleVersionV1 {
            format: FORMAT,
            module: self.module.clone(),
            version: self.version.clone(),
            kind: self.kind,
            owner: self.owner.clone(),
            sha256: self.sha256.clone(),
            size_bytes: self.size_bytes,
            manifest_text: self.manifest_text.clone(),
            published_by: self.published_by.clone(),
            published_at_ms: self.published_at_ms,
        }
    }

    fn from_stored(stored: StoredModuleVersionV1) -> Self {
        Self {
            module: stored.module,
            version: stored.version,
            kind: stored.kind,
            owner: stored.owner,
            sha256: stored.sha256,
            size_bytes: stored.size_bytes,
            manifest_text: stored.manifest_text,
            published_by: stored.published_by,
            published_at_ms: stored.published_at_ms,
        }
    }
}

/// A deployment and its history, format 1.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredDeploymentV1 {
    #[serde(default = "format_v1")]
    format: u32,
    tenant: String,
    module: String,
    active: Option<Version>,
    history: Vec<StoredDeploymentEventV1>,
}

/// One deployment history entry, format 1.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredDeploymentEventV1 {
    seq: u64,
    action: DeploymentAction,
    from: Option<Version>,
    to: Option<Version>,
    actor: String,
    at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    snapshot: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    restored_snapshot: Option<u64>,
}

impl Record for Deployment {
    const NAME: &'static str = "deployment";
    type Stored = StoredDeploymentV1;

    fn to_stored(&self) -> StoredDeploymentV1 {
        StoredDeploymentV1 {
            format: FORMAT,
            tenant: self.tenant.clone(),
            module: self.module.clone(),
            active: self.active.clone(),
            history: self
                .history
                .iter()
                .map(|event| StoredDeploymentEventV1 {
                    seq: event.seq,
                    action: event.action,
                    from: event.from.clone(),
                    to: event.to.clone(),
                    actor: event.actor.clone(),
                    at_ms: event.at_ms,
                    snapshot: event.snapshot,
                    restored_snapshot: event.restored_snapshot,
                })
                .collect(),
        }
    }

    fn from_stored(stored: StoredDeploymentV1) -> Self {
        Self {
            tenant: stored.tenant,
            module: stored.module,
            active: stored.active,
            history: stored
                .history
                .into_iter()
                .map(|event| DeploymentEvent {
                    seq: event.seq,
                    action: event.action,
                    from: event.from,
                    to: event.to,
                    actor: event.actor,
                    at_ms: event.at_ms,
                    snapshot: event.snapshot,
                    restored_snapshot: event.restored_snapshot,
                })
                .collect(),
        }
    }
}

/// A config history, format 1.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredConfigHistoryV1 {
    #[serde(default = "format_v1")]
    format: u32,
    versions: Vec<StoredConfigVersionV1>,
}

/// One config version, format 1.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredConfigVersionV1 {
    version: u64,
    values: serde_json::Map<String, serde_json::Value>,
    actor: String,
    at_ms: u64,
    reason: String,
}

impl Record for ConfigHistory {
    const NAME: &'static str = "config history";
    type Stored = StoredConfigHistoryV1;

    fn to_stored(&self) -> StoredConfigHistoryV1 {
        StoredConfigHistoryV1 {
            format: FORMAT,
            versions: self
                .versions
                .iter()
                .map(|version| StoredConfigVersionV1 {
                    version: version.version,
                    values: version.values.clone(),
                    actor: version.actor.clone(),
                    at_ms: version.at_ms,
                    reason: version.reason.clone(),
                })
                .collect(),
        }
    }

    fn from_stored(stored: StoredConfigHistoryV1) -> Self {
        Self {
            versions: stored
                .versions
                .into_iter()
                .map(|version| ConfigVersion {
                    version: version.version,
                    values: version.values,
                    actor: version.actor,
                    at_ms: version.at_ms,
                    reason: version.reason,
                })
                .collect(),
        }
    }
}

/// An audit entry, format 1.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredAuditEntryV1 {
    #[serde(default = "format_v1")]
    format: u32,
    id: u64,
    at_ms: u64,
    actor: String,
    action: String,
    target: String,
    tenant: Option<String>,
    outcome: AuditOutcome,
    detail: Option<String>,
}

impl Record for AuditEntry {
    const NAME: &'static str = "audit";
    type Stored = StoredAuditEntryV1;

    fn to_stored(&self) -> StoredAuditEntryV1 {
        StoredAuditEntryV1 {
            format: FORMAT,
            id: self.id,
            at_ms: self.at_ms,
            actor: self.actor.clone(),
            action: self.action.clone(),
            target: self.target.clone(),
            tenant: self.tenant.clone(),
            outcome: self.outcome,
            detail: self.detail.clone(),
        }
    }

    fn from_stored(stored: StoredAuditEntryV1) -> Self {
        Self {
            id: stored.id,
            at_ms: stored.at_ms,
            actor: stored.actor,
            action: stored.action,
            target: stored.target,
            tenant: stored.tenant,
            outcome: stored.outcome,
            detail: stored.detail,
        }
    }
}

/// A canary, format 1.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredCanaryV1 {
    #[serde(default = "format_v1")]
    format: u32,
    tenant: String,
    module: String,
    version: Version,
    percent: u8,
    started_by: String,
    started_at_ms: u64,
}

impl Record for Canary {
    const NAME: &'static str = "canary";
    type Stored = StoredCanaryV1;

    fn to_stored(&self) -> StoredCanaryV1 {
        StoredCanaryV1 {
            format: FORMAT,
            tenant: self.tenant.clone(),
            module: self.module.clone(),
            version: self.version.clone(),
            percent: self.percent,
            started_by: self.started_by.clone(),
            started_at_ms: self.started_at_ms,
        }
    }

    fn from_stored(stored: StoredCanaryV1) -> Self {
        Self {
            tenant: stored.tenant,
            module: stored.module,
            version: stored.version,
            percent: stored.percent,
            started_by: stored.started_by,
            started_at_ms: stored.started_at_ms,
        }
    }
}

/// An API token's metadata (never the secret), format 1.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredTokenV1 {
    #[serde(default = "format_v1")]
    format: u32,
    id: String,
    name: String,
    role: Role,
    tenant: Option<String>,
    permissions: Vec<String>,
    created_at_ms: u64,
    created_by: String,
    revoked_at_ms: Option<u64>,
}

impl Record for Token {
    const NAME: &'static str = "token";
    type Stored = StoredTokenV1;

    fn to_stored(&self) -> StoredTokenV1 {
        StoredTokenV1 {
            format: FORMAT,
            id: self.id.clone(),
            name: self.name.clone(),
            role: self.role,
            tenant: self.tenant.clone(),
            permissions: self.permissions.clone(),
            created_at_ms: self.created_at_ms,
            created_by: self.created_by.clone(),
            revoked_at_ms: self.revoked_at_ms,
        }
    }

    fn from_stored(stored: StoredTokenV1) -> Self {
        Self {
            id: stored.id,
            name: stored.name,
            role: stored.role,
            tenant: stored.tenant,
            permissions: stored.permissions,
            created_at_ms: stored.created_at_ms,
            created_by: stored.created_by,
            revoked_at_ms: stored.revoked_at_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;

    #[test]
    fn records_without_a_format_are_format_one_and_newer_formats_are_refused() {
        let legacy = br#"{"versions":[{"version":1,"values":{"a":1},"actor":"x","at_ms":5,"reason":"set"}]}"#;
        let history: ConfigHistory = decode(legacy).expect("legacy record");
        assert_eq!(history.versions[0].version, 1);
        let written = encode(&history).unwrap();
        assert!(
            String::from_utf8(written.clone())
                .unwrap()
                .contains(r#""format":1"#)
        );
        assert_eq!(decode::<ConfigHistory>(&written).unwrap(), history);

        let before_plans = br#"{"format":1,"id":"acme","name":"Acme","kind":"standard","organisation":{},"features":[],"created_at_ms":1,"updated_at_ms":2}"#;
        let tenant: Tenant = decode(before_plans).expect("a tenant written before plans existed");
        assert_eq!((tenant.plan.as_deref(), tenant.monthly_value_cents), (None, None));
        assert_eq!(
            encode(&tenant).unwrap(),
            before_plans.to_vec(),
            "unset fields are left out"
        );

        let newer = br#"{"format":2,"versions":[]}"#;
        let error = decode::<ConfigHistory>(newer).expect_err("format 2");
        assert_eq!(
            error.to_string(),
            "the registry's storage failed: a stored config history record has format version 2; this build reads 1; upgrade modhost"
        );
    }
}
