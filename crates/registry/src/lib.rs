//! The ModuleRegistry: the system's memory of modules, tenants, deployments, configs and who changed what.
//!
//! Records live in a [`store::Store`] (trees `tenants`, `modules`,
//! `deployments`, `configs`, `audit`, `tokens`, `kv`, `kv_snapshots`, `meta`):
//! [`Registry::open`] uses the on-disk engine in `data_dir/db`,
//! [`Registry::in_memory`] a [`store::MemoryStore`], [`Registry::with_store`]
//! any other. Component bytes go to the content-addressed artifact store under
//! `blobs/`. Records are written in a versioned stored format (`records.rs`),
//! apart from the API types. The registry validates before it stores, never
//! keeps anything invalid, and flushes every change before acknowledging it.
//!
//! # Operations
//!
//! - tenants: [`Registry::create_tenant`], [`Registry::update_tenant`],
//!   [`Registry::tenant`], [`Registry::tenants`]; their lifecycle:
//!   [`Registry::suspend_tenant`], [`Registry::resume_tenant`],
//!   [`Registry::delete_tenant`];
//! - clean-up: [`Registry::collect_garbage`] (unreferenced blobs and
//!   snapshots, data of deleted tenants; a dry run only lists them);
//! - module versions: [`Registry::publish`] (every upload check, reported
//!   together), [`Registry::versions`], [`Registry::version`], [`Registry::component`];
//! - deployments: [`Registry::promote`], [`Registry::rollback`],
//!   [`Registry::disable`], [`Registry::deployment`], [`Registry::deployments_of`];
//! - config: [`Registry::config`], [`Registry::set_config`],
//!   [`Registry::rollback_config`];
//! - audit: [`Registry::audit`], [`Registry::record_audit`];
//! - module data: [`Registry::kv_get`], [`Registry::kv_list`] and
//!   [`Registry::kv_apply`] (one call's writes, atomically; async callers use
//!   [`Registry::kv_commit`] and await its [`FlushTicket`]), with scope
//!   snapshots for migrations ([`Registry::kv_snapshot`],
//!   [`Registry::kv_restore_snapshot`]), behind [`ModuleDataStore`];
//! - alerting: rules and channels per scope ([`Registry::put_alert_rule`],
//!   [`Registry::create_channel`]), alerts deduplicated per (rule, subject)
//!   ([`Registry::save_alert`] writes a change and its deliveries in one
//!   batch) and the durable outbox ([`Registry::pending_deliveries`],
//!   [`Registry::save_delivery`]);
//! - implementation projects: [`Registry::put_implementation`],
//!   [`Registry::implementation`], [`Registry::implementations`],
//!   [`Registry::remove_implementation`] (onboarding milestones per tenant);
//! - backup schedules: [`Registry::set_backup_schedule`],
//!   [`Registry::backup_schedules`] and [`Registry::record_backup_run`] (the
//!   server's scheduler reports each run);
//! - changes: [`Registry::subscribe`] tells the runtime what moved;
//! - durability: [`Registry::flush_stats`] (flushes, tickets, largest group).
//!
//! # Invariants
//!
//! - **Domain files never name the storage engine.** They write through
//!   [`store::Store`]; only the engine's own file under `store/` knows it.
//! - **Knows nothing about wasmtime.** Components are inspected with
//!   `wasmparser` for their outer type only; nothing is compiled or run here.
//! - **Nothing invalid is stored, nothing partial is left.** An upload is
//!   stored only when every check passed; a deployment or config change is
//!   one store batch together with its audit record.
//! - **Acknowledged means durable.** Every successful mutation returns only
//!   after a flush that started after it was applied (the group commit,
//!   `group_commit.rs`, shares one flush among every writer waiting).
//! - **One tenant's changes are serialised; tenants don't block each other.**
//!   Deployment and config changes take a per-tenant lock.
//! - **A custom module is visible only to its owner.** To other tenants it
//!   does not exist (the same error as an unknown module).

mod alert_model;
mod alert_records;
mod alerts;
mod audit;
mod backup;
mod backup_format;
mod backup_schedules;
pub mod blobs;
mod calendar;
mod canaries;
mod capture;
pub mod component;
mod configs;
mod deployments;
mod error;
mod gc;
mod group_commit;
mod implementations;
mod kv;
mod lifecycle;
mod model;
mod module_data;
mod publish;
mod records;
mod registry;
mod restore;
mod rollout_records;
mod rollouts;
pub mod store;
mod tenants;
mod token_cache;
mod tokens;
mod usage;

pub use crate::alert_model::{
    Alert, AlertEvent, AlertRule, AlertState, AnomalySeries, Channel, ChannelTarget, Delivery, DeliveryState,
    RuleKind, Severity,
};
pub use crate::alerts::{AlertFilter, MAX_RULE_WINDOW_SECS};
pub use crate::audit::AuditDraft;
pub use crate::backup::BackupSummary;
pub use crate::backup_format::{
    BACKUP_EXTENSION, BACKUP_FORMAT, BackupCounts, BackupError, BackupHeader, BackupManifest, BackupMember,
    StandardRef,
};
pub use crate::backup_schedules::{
    BACKUP_RUN_ACTION, BACKUP_SCHEDULER_ACTOR, BackupOutcome, BackupRun, BackupSchedule, BackupScheduleSpec,
    MAX_BACKUP_AGE_DAYS, MAX_BACKUP_INTERVAL_SECS, MAX_BACKUP_KEEP_COUNT,
};
pub use crate::blobs::{BlobError, BlobFile, BlobStore};
pub use crate::calendar::Date;
pub use crate::deployments::{DeploymentChange, RollbackTarget};
pub use crate::error::{DeploymentProblem, RegistryError, UploadProblem};
pub use crate::gc::{GarbageBlob, GarbageScope, GarbageSnapshot, GcReport};
pub use crate::group_commit::{FlushStats, FlushTicket, GroupCommit};
pub use crate::implementations::{
    Implementation, ImplementationState, ImplementationSummary, MAX_MILESTONES, Milestone, MilestoneStatus,
    NewImplementation, NewMilestone, no_project,
};
pub use crate::lifecycle::DeletedTenant;
pub use crate::model::Suspension;
pub use crate::model::{
    AuditEntry, AuditOutcome, AuditPage, AuditQuery, Canary, ConfigHistory, ConfigVersion, Deployment,
    DeploymentAction, DeploymentEvent, ModuleVersion, NewRollout, NewTenant, Organisation, Role, Rollout,
    RolloutState, RolloutTenant, Tenant, TenantKind, TenantUpdate, Token,
};
pub use crate::model::{check_tenant_id, now_ms};
pub use crate::module_data::{DataWrite, ModuleDataStore, StoreModuleData};
pub use crate::publish::{PublishOutcome, Publisher, Upload};
pub use crate::records::FORMAT as RECORD_FORMAT;
pub use crate::registry::{Registry, RegistryConfig, RegistryEvent, SCHEMA_VERSION};
pub use crate::restore::{RestoreReport, verify_backup};
pub use crate::tenants::{MAX_MONTHLY_VALUE_CENTS, RESERVED_TENANT_PREFIX};
pub use crate::token_cache::MAX_CACHED_TOKENS;
pub use crate::tokens::{NewToken, TOKEN_PREFIX};
pub use crate::usage::{DataQuota, DataUsage};
