//! The stored form (format 1) of a staged rollout and its per-tenant progress.
//!
//! Same rules as `records.rs`: the model may change, what is written is a
//! `Stored…V1` with a `format` field; a new shape is a V2 plus a conversion.

use semver::Version;
use serde::{Deserialize, Serialize};

use crate::model::{Rollout, RolloutState, RolloutTenant};
use crate::records::{FORMAT, Record, format_v1};

/// A rollout, format 1.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredRolloutV1 {
    #[serde(default = "format_v1")]
    format: u32,
    id: u64,
    module: String,
    version: Version,
    rings: Vec<String>,
    soak_ms: u64,
    watch_ms: Option<u64>,
    state: RolloutState,
    ring: usize,
    soak_started_ms: Option<u64>,
    done: Vec<StoredRolloutTenantV1>,
    in_flight: Option<String>,
    started_by: String,
    started_at_ms: u64,
    updated_at_ms: u64,
    reason: Option<String>,
}

/// One tenant a rollout dealt with, format 1.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredRolloutTenantV1 {
    tenant: String,
    ring: String,
    outcome: String,
    at_ms: u64,
}

impl Record for Rollout {
    const NAME: &'static str = "rollout";
    type Stored = StoredRolloutV1;

    fn to_stored(&self) -> StoredRolloutV1 {
        StoredRolloutV1 {
            format: FORMAT,
            id: self.id,
            module: self.module.clone(),
            version: self.version.clone(),
            rings: self.rings.clone(),
            soak_ms: self.soak_ms,
            watch_ms: self.watch_ms,
            state: self.state,
            ring: self.ring,
            soak_started_ms: self.soak_started_ms,
            done: self
                .done
                .iter()
                .map(|done| StoredRolloutTenantV1 {
                    tenant: done.tenant.clone(),
                    ring: done.ring.clone(),
                    outcome: done.outcome.clone(),
                    at_ms: done.at_ms,
                })
                .collect(),
            in_flight: self.in_flight.clone(),
            started_by: self.started_by.clone(),
            started_at_ms: self.started_at_ms,
            updated_at_ms: self.updated_at_ms,
            reason: self.reason.clone(),
        }
    }

    fn from_stored(stored: StoredRolloutV1) -> Self {
        Self {
            id: stored.id,
            module: stored.module,
            version: stored.version,
            rings: stored.rings,
            soak_ms: stored.soak_ms,
            watch_ms: stored.watch_ms,
            state: stored.state,
            ring: stored.ring,
            soak_started_ms: stored.soak_started_ms,
            done: stored
                .done
                .into_iter()
                .map(|done| RolloutTenant {
                    tenant: done.tenant,
                    ring: done.ring,
                    outcome: done.outcome,
                    at_ms: done.at_ms,
                })
                .collect(),
            in_flight: stored.in_flight,
            started_by: stored.started_by,
            started_at_ms: stored.started_at_ms,
            updated_at_ms: stored.updated_at_ms,
            reason: stored.reason,
        }
    }
}
