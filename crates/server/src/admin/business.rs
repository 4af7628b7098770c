//! Business figures for the operators' dashboard (`GET /v1/business`): tenants by kind and over time, custom modules, implementation progress, monthly revenue.
//!
//! Everything is computed from the tenants that exist now: a deleted
//! tenant leaves no trace in any figure, the monthly history included
//! (a month's count is the existing tenants created before it ended).
//! Monthly revenue is the sum of the operators' `monthly_value_cents`;
//! suspended tenants count like the others (and are counted apart).

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::State;
use modhost_api::{
    BusinessMetrics, ImplementationStates, KindFigures, PlanFigures, TenantCustomModules, TenantsInMonth,
};
use modhost_registry::{Date, ImplementationState, ModuleVersion, Tenant, TenantKind};
use utoipa_axum::routes;

use crate::access::Access;
use crate::admin::table::{AppState, Routes};
use crate::error::ApiError;

/// How many months `tenants_over_time` covers, the current one included.
const MONTHS: u32 = 12;

/// The business route and who may call it.
pub(crate) fn routes(routes: Routes) -> Routes {
    routes.add(Access::Operator, routes!(business))
}

fn add(figures: &mut KindFigures, kind: TenantKind, amount: u64) {
    let slot = match kind {
        TenantKind::Standard => &mut figures.standard,
        TenantKind::Custom => &mut figures.custom,
    };
    *slot = slot.saturating_add(amount);
}

/// The figures of `tenants` as of `today`, given each tenant's project
/// state and every published version.
fn figures(
    tenants: &[Tenant],
    states: &BTreeMap<String, ImplementationState>,
    versions: &[ModuleVersion],
    today: Date,
) -> BusinessMetrics {
    let mut by_kind = KindFigures::default();
    let mut mrr_by_kind = KindFigures::default();
    let mut implementations = ImplementationStates::default();
    let mut plans: BTreeMap<Option<&str>, (u64, u64)> = BTreeMap::new();
    let mut suspended = 0;
    for tenant in tenants {
        let value = tenant.monthly_value_cents.unwrap_or(0);
        add(&mut by_kind, tenant.kind, 1);
        add(&mut mrr_by_kind, tenant.kind, value);
        let slot = match states.get(&tenant.id).copied() {
            None | Some(ImplementationState::NotStarted) => &mut implementations.not_started,
            Some(ImplementationState::Ongoing) => &mut implementations.ongoing,
            Some(ImplementationState::Completed) => &mut implementations.completed,
        };
        *slot += 1;
        let plan = plans.entry(tenant.plan.as_deref()).or_default();
        plan.0 += 1;
        plan.1 = plan.1.saturating_add(value);
        suspended += u64::from(tenant.suspended.is_some());
    }
    let tenants_over_time = (0..MONTHS)
        .rev()
        .map(|back| {
            let month = today.months_back(back);
            let end = month.next_month_start_ms();
            let mut existing = KindFigures::default();
            for tenant in tenants.iter().filter(|tenant| tenant.created_at_ms < end) {
                add(&mut existing, tenant.kind, 1);
            }
            TenantsInMonth {
                month: month.month_label(),
                standard: existing.standard,
                custom: existing.custom,
            }
        })
        .collect();
    let mut owned: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for version in versions {
        if let Some(owner) = &version.owner {
            owned.entry(owner).or_default().insert(&version.module);
        }
    }
    let custom_modules_per_tenant = tenants
        .iter()
        .map(|tenant| TenantCustomModules {
            tenant: tenant.id.clone(),
            custom_modules: owned
                .get(tenant.id.as_str())
                .map_or(0, |modules| modules.len() as u64),
        })
        .collect();
    // Named plans by name, then the tenants without one.
    let (named, unnamed): (Vec<_>, Vec<_>) = plans.into_iter().partition(|(plan, _)| plan.is_some());
    let plans = named
        .into_iter()
        .chain(unnamed)
        .map(|(plan, (tenants, mrr_cents))| PlanFigures {
            plan: plan.map(str::to_owned),
            tenants,
            mrr_cents,
        })
        .collect();
    BusinessMetrics {
        mrr_cents: mrr_by_kind.standard.saturating_add(mrr_by_kind.custom),
        tenants_by_kind: by_kind,
        tenants_over_time,
        custom_modules_per_tenant,
        implementations,
        mrr_cents_by_kind: mrr_by_kind,
        plans,
        suspended,
    }
}

/// the operators' business figures: tenants, implementation progress, monthly revenue
///
/// Computed from the tenants that exist now: deleted tenants are not
/// counted, in the monthly history either.
#[utoipa::path(get, path = "/v1/business", operation_id = "BusinessMetrics", tag = "business",
    responses((status = 200, description = "the figures", body = BusinessMetrics)))]
async fn business(State(app): State<AppState>) -> Result<Json<BusinessMetrics>, ApiError> {
    let today = Date::today();
    let tenants = app.registry.tenants()?;
    let states = app
        .registry
        .implementations()?
        .into_iter()
        .map(|project| {
            let state = project.summary(today).state;
            (project.tenant, state)
        })
        .collect();
    let versions = app.registry.versions(None, None)?;
    Ok(Json(figures(&tenants, &states, &versions, today)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn tenant(id: &str, kind: TenantKind, created: &str, plan: Option<&str>, cents: Option<u64>) -> Tenant {
        let created = Date::parse(created).unwrap();
        let created_at_ms =
            created.months_back(1).next_month_start_ms() + u64::from(created.day() - 1) * 86_400_000;
        Tenant {
            id: id.to_owned(),
            name: id.to_owned(),
            kind,
            organisation: Default::default(),
            features: Default::default(),
            created_at_ms,
            updated_at_ms: created_at_ms,
            suspended: None,
            plan: plan.map(str::to_owned),
            monthly_value_cents: cents,
        }
    }

    #[test]
    fn months_count_tenants_created_by_their_end_and_plans_sum_their_values() {
        let tenants = [
            tenant("a", TenantKind::Standard, "2024-06-15", Some("basic"), Some(100)),
            tenant(
                "b",
                TenantKind::Custom,
                "2025-03-01",
                Some("enterprise"),
                Some(5000),
            ),
            tenant("c", TenantKind::Standard, "2025-03-31", None, None),
            tenant("d", TenantKind::Standard, "2025-04-01", Some("basic"), Some(150)),
        ];
        let states = BTreeMap::from([("b".to_owned(), ImplementationState::Ongoing)]);
        let figures = figures(&tenants, &states, &[], Date::parse("2025-12-02").unwrap());
        let months: Vec<(String, u64, u64)> = figures
            .tenants_over_time
            .iter()
            .map(|month| (month.month.clone(), month.standard, month.custom))
            .collect();
        assert_eq!(months.len(), 12);
        assert_eq!(months[0], ("2025-01".to_owned(), 1, 0));
        assert_eq!(months[1], ("2025-02".to_owned(), 1, 0));
        assert_eq!(months[2], ("2025-03".to_owned(), 2, 1));
        assert_eq!(months[3], ("2025-04".to_owned(), 3, 1));
        assert_eq!(months[11], ("2025-12".to_owned(), 3, 1));
        assert_eq!(
            (figures.mrr_cents, figures.mrr_cents_by_kind.standard),
            (5250, 250)
        );
        assert_eq!(
            figures
                .plans
                .iter()
                .map(|plan| (plan.plan.as_deref(), plan.tenants, plan.mrr_cents))
                .collect::<Vec<_>>(),
            [
                (Some("basic"), 2, 250),
                (Some("enterprise"), 1, 5000),
                (None, 1, 0)
            ]
        );
        assert_eq!(
            (
                figures.implementations.not_started,
                figures.implementations.ongoing
            ),
            (3, 1)
        );
    }
}
