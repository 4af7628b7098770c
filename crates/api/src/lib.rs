//! The admin API's request and response bodies, shared by the server and the CLI.
//!
//! Each type is exactly what travels on the wire (the server's JSON), derives
//! `serde` both ways (the server writes responses and reads requests, the CLI
//! the reverse) and [`utoipa::ToSchema`], so the server's OpenAPI document at
//! `/v1/openapi.json` describes the same types the CLI decodes.
//!
//! Versions travel as strings (`"1.2.0"`); the server parses them.

pub mod alerts;
pub mod audit;
pub mod backups;
pub mod business;
pub mod configs;
pub mod debug;
pub mod deployments;
pub mod error;
pub mod implementations;
pub mod lifecycle;
pub mod modules;
pub mod observe;
pub mod rollouts;
pub mod tenants;
pub mod tokens;

pub use crate::alerts::{
    Alert, AlertList, AlertRule, AlertRuleBody, AlertRuleList, AlertsQuery, Channel, ChannelList,
    CreatedChannel, Delivery, DeliveryList, NewChannel, SilenceRequest,
};
pub use crate::audit::{AuditEntry, AuditExportQuery, AuditList, AuditOutcome, AuditQuery};
pub use crate::backups::{BackupContents, CreatedBackup, RestoreQuery, RestoredTenant, VerifiedBackup};
pub use crate::backups::{
    BackupFailure, BackupRun, BackupSchedule, BackupScheduleList, BackupScheduleRequest, BackupsQuery,
    BackupsStatus, StoredBackup, StoredBackupList,
};
pub use crate::business::{
    BusinessMetrics, ImplementationStates, KindFigures, PlanFigures, TenantCustomModules, TenantsInMonth,
};
pub use crate::configs::{ConfigRollbackRequest, ConfigVersion, ConfigView, SetConfigRequest};
pub use crate::debug::{
    PromoteCheck, PromoteDryRun, PromoteDryRunRequest, SmokeReport, SmokeRequest, SmokeTestResult,
};
pub use crate::deployments::{
    Canary, CanaryAbort, CanaryRequest, Deployment, DeploymentAction, DeploymentChange, DeploymentEvent,
    DeploymentHealth, DeploymentList, PromoteRequest, RollbackRequest, VersionHealth, WatchReport,
};
pub use crate::error::{ErrorBody, ErrorDetail};
pub use crate::implementations::{
    Implementation, ImplementationList, ImplementationRequest, ImplementationSummary, Milestone,
    MilestoneRequest,
};
pub use crate::lifecycle::{
    DeleteTenantQuery, DeletedTenant, FinalBackup, GcFile, GcQuery, GcReport, GcScope, GcSnapshot,
    SuspendRequest, Suspension,
};
pub use crate::modules::{
    ModuleKind, ModuleVersion, PublishQuery, PublishResult, PublishUpload, VersionDetail, VersionList,
    VersionsQuery,
};
pub use crate::observe::{DataUsage, Health, Readiness, RouteStatus, Status, UnreadyRoute, UnreadyState};
pub use crate::rollouts::{
    NewRollout, RingList, RingRequest, Rollout, RolloutList, RolloutTenant, TenantRing,
};
pub use crate::tenants::{
    ContextEndpoint, ContextModule, ContextTenant, LogRecord, LogRecords, LogStreamQuery, LogsQuery,
    NewTenant, Organisation, Tenant, TenantContext, TenantKind, TenantList, TenantUpdate,
};
pub use crate::tokens::{CreatedToken, NewToken, Role, Token, TokenList, TokensQuery};
