//! Deployment: the registry's per-tenant deployments made ready, routed, moved and watched.
//!
//! The [`Loader`] connects the registry (what each tenant should run) to the
//! sandbox (`modhost-runtime`, running it). Its routing table maps tenant →
//! module → route and is an immutable snapshot behind an `ArcSwap`: the
//! request path reads it without a lock, and a change builds a new table and
//! swaps it in, so in-flight requests finish on the version they started
//! with and new ones get the new one.
//!
//! - **Lazy and warm.** A route's version is compiled (or loaded from the
//!   compile cache) and self-tested on first use, then kept; versions are
//!   shared by every tenant that runs them, and at most
//!   `max_resident_versions` stay in memory, the least recently used idle
//!   one evicted and loaded again on its next request (`resident.rs`). The server warms every route up
//!   in the background at start (`warm.rs`, [`Loader::warm_up`]), and
//!   [`Loader::unready_routes`] says which are not ready yet.
//! - **Prepare, then swap.** `promote` and `rollback` make the target ready
//!   first (promote also runs the manifest's smoke tests on a scratch store);
//!   only then does the registry move the pointer (durably) and the loader
//!   install the route. One path changes a route: the loader's own moves,
//!   plus config and tenant changes it follows from the registry.
//! - **Checks on demand.** Every check a promote makes before it switches
//!   can run alone, changing nothing: a promote's dry run
//!   ([`Loader::promote_dry_run`]) and a version's smoke tests
//!   ([`Loader::smoke_test`]), sharing the promote's own code (`checks.rs`).
//! - **Migrations with a safety net.** Promoting snapshots the tenant's data,
//!   runs the new version's `migrate(from)` and records the snapshot if the
//!   data changed; a failed migration restores the data and changes nothing.
//!   The registry restores the snapshot when rolling back across it.
//! - **Health and watches.** Every call is recorded per (tenant, module,
//!   version) in rolling windows (`health.rs`); after a promote from another
//!   version the new one is watched against the previous one's baseline and
//!   rolled back automatically on a breach, or held for a person when the
//!   promote migrated data (`watch.rs`).
//! - **Canaries.** A candidate may serve a sticky share of one tenant's
//!   requests beside the active version (`canary.rs`), refused when its
//!   migration would change the tenant's data.
//! - **Rollouts.** A rollout promotes one version ring by ring of tenants,
//!   each tenant by a watched promote, each ring soaked before the next,
//!   halting when a tenant fails; its progress is durable (`rollout.rs`).
//! - **Fallback.** If the active version cannot be loaded (corrupt blob,
//!   compile failure), the route serves the newest earlier version from the
//!   tenant's history that loads, reports it (log, counter, [`Loader::status`]),
//!   and never crashes.
//!
//! # Invariants
//!
//! - Knows nothing of HTTP serving; the only HTTP-shaped rule here is how a
//!   module's error is rendered for smoke-test expectations
//!   ([`module_error_reply`]), which the server reuses.
//! - The sandbox never learns about the registry: it gets bytes, specs and a
//!   [`RegistryKvStore`].

mod canary;
mod checks;
mod data;
mod errors;
mod health;
mod loader;
mod moves;
mod resident;
mod resident_set;
mod rollout;
mod smoke;
mod table;
mod warm;
mod watch;
mod watching;

pub use crate::canary::canary_bucket;
pub use crate::checks::{PromoteCheck, PromoteDryRun};
pub use crate::data::RegistryKvStore;
pub use crate::errors::{DeployError, ServeError};
pub use crate::health::{CallHealth, HealthStats};
pub use crate::loader::Loader;
pub use crate::resident_set::DEFAULT_MAX_RESIDENT_VERSIONS;
pub use crate::smoke::{
    SmokeReport, SmokeTestOutcome, error_code_status, module_error_reply, run_smoke_tests, smoke_report,
};
pub use crate::table::{Route, RouteStatus, Serving, TenantRoutes};
pub use crate::warm::{UnreadyRoute, UnreadyState, WARM_EVERY, WarmUp};
pub use crate::watch::{Watch, WatchPolicy, WatchState};
