//! The admin API on axum: one file of handlers per resource, each route added with its access rule.
//!
//! [`build`] assembles the router from every resource's `routes`; the
//! route table ([`table::Routes`]) wraps each route in the one guard and
//! records it, and `utoipa` collects each handler's `#[utoipa::path]`
//! (request and response schemas from `modhost-api`) into the OpenAPI
//! document. Nothing here imports the crate root's serving code.

mod alerts;
mod audit;
mod backup_schedules;
mod backups;
mod business;
mod configs;
mod convert;
mod debug;
mod deployments;
mod implementations;
mod lifecycle;
mod logs;
mod modules;
mod observe;
mod rollouts;
mod scope;
pub(crate) mod table;
mod tenants;
mod tokens;

use utoipa_axum::router::OpenApiRouter;

use crate::admin::table::{AdminRoute, AppState, Routes};

/// Every admin route: the router with its OpenAPI paths, and the route table.
pub(crate) fn build() -> (OpenApiRouter<AppState>, Vec<AdminRoute>) {
    let routes = Routes::new();
    let routes = observe::routes(routes);
    let routes = tenants::routes(routes);
    let routes = logs::routes(routes);
    let routes = lifecycle::routes(routes);
    let routes = modules::routes(routes);
    let routes = deployments::routes(routes);
    let routes = debug::routes(routes);
    let routes = configs::routes(routes);
    let routes = tokens::routes(routes);
    let routes = audit::routes(routes);
    let routes = backups::routes(routes);
    let routes = backup_schedules::routes(routes);
    let routes = rollouts::routes(routes);
    let routes = alerts::routes(routes);
    let routes = implementations::routes(routes);
    let routes = business::routes(routes);
    routes.finish()
}
