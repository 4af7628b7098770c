//! Business figures for the operators' dashboard: tenants by kind and over time, custom modules, implementation progress, monthly revenue by kind and plan.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A figure per tenant kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KindFigures {
    /// Standard tenants'.
    pub standard: u64,
    /// Custom tenants'.
    pub custom: u64,
}

/// How many tenants existed at the end of one month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TenantsInMonth {
    /// `YYYY-MM` (UTC).
    pub month: String,
    /// Standard tenants created before the month ended (the current month: until now).
    pub standard: u64,
    /// Custom tenants likewise.
    pub custom: u64,
}

/// The custom modules one tenant owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TenantCustomModules {
    /// The tenant.
    pub tenant: String,
    /// Distinct custom module ids it owns.
    pub custom_modules: u64,
}

/// Tenants by where their implementation project is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImplementationStates {
    /// No project, or no milestone done or in progress.
    pub not_started: u64,
    /// Some milestones done or in progress, not all done.
    pub ongoing: u64,
    /// Every milestone done.
    pub completed: u64,
}

/// The tenants of one plan and what they are worth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlanFigures {
    /// The plan; `null` for tenants without one.
    pub plan: Option<String>,
    /// Tenants on it.
    pub tenants: u64,
    /// The sum of their monthly values, in cents.
    pub mrr_cents: u64,
}

/// `GET /v1/business`: the operators' business figures, from the tenants that exist now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BusinessMetrics {
    /// Tenants by kind.
    pub tenants_by_kind: KindFigures,
    /// The last 12 months, oldest first, up to the current one (UTC):
    /// tenants created by each month's end. Deleted tenants are not counted.
    pub tenants_over_time: Vec<TenantsInMonth>,
    /// Every tenant, by id, with the distinct custom modules it owns.
    pub custom_modules_per_tenant: Vec<TenantCustomModules>,
    /// Tenants by implementation state.
    pub implementations: ImplementationStates,
    /// Monthly recurring revenue by kind: the sum of the tenants' `monthly_value_cents`.
    pub mrr_cents_by_kind: KindFigures,
    /// Monthly recurring revenue of every tenant, in cents.
    pub mrr_cents: u64,
    /// Per plan (tenants without one under `null`, last), by plan.
    pub plans: Vec<PlanFigures>,
    /// Tenants suspended now (counted in every figure above too).
    pub suspended: u64,
}
