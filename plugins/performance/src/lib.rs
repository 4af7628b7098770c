//! The performance module: operational metrics with tags, threshold alerts and periodic reports.
//!
//! A retail tenant records operational measurements (say `checkout_latency_ms`
//! tagged by `store` and `channel`) and gets alerts when they cross a threshold
//! and reports per hour or day:
//!
//! - **metric definitions** (`PUT/GET/DELETE /metrics/{name}`, `GET /metrics`)
//!   name a metric, its unit and the tag keys its points may carry (at most 8);
//! - **ingest** (`POST /points`) takes a batch of points, validates all of it
//!   before writing any of it, stores the points in hourly chunks and
//!   evaluates the threshold rules the points touch;
//! - **threshold rules** (`PUT/GET/DELETE /rules/{id}`, `GET /rules`) watch a
//!   metric, optionally only points carrying some tags, `above` or `below` a
//!   threshold; each rule keeps one state per tag set of the points it matches
//!   and opens an **alert** when the state becomes breached and resolves it when
//!   it no longer is (`GET /alerts`, `GET /alerts/{id}`);
//! - **reports** (`GET /reports/{metric}`) give count, avg, min, max and
//!   nearest-rank p95 per period and tag set over a time range.
//!
//! Every request runs in a fresh instance, so all state is in kv; the key
//! layout is documented in [`keys`]. Decisions are plain functions unit tested
//! on the host: validation in [`model`], alert evaluation in [`alerts`], batch
//! grouping in [`ingest`], report parsing and statistics in [`report`], list
//! queries in [`paging`]. [`store`] reads and writes kv with every scan
//! bounded, and [`handlers`] only move data between the request, kv and the
//! response.

pub mod alerts;
pub mod handlers;
pub mod ingest;
pub mod keys;
pub mod model;
pub mod paging;
pub mod report;
pub mod store;

use modhost_sdk::{Module, Router};

/// The module; see the crate docs.
pub struct Performance;

impl Module for Performance {
    fn router() -> Router {
        use handlers::*;
        Router::new()
            .get("/metrics", list_metrics)
            .get("/metrics/{name}", get_metric)
            .put("/metrics/{name}", put_metric)
            .delete("/metrics/{name}", delete_metric)
            .post("/points", post_points)
            .get("/rules", list_rules)
            .get("/rules/{id}", get_rule)
            .put("/rules/{id}", put_rule)
            .delete("/rules/{id}", delete_rule)
            .get("/alerts", list_alerts)
            .get("/alerts/{id}", get_alert)
            .get("/reports/{metric}", get_report)
    }
}

modhost_sdk::export_module!(Performance);

/// The current time in unix milliseconds (the WASI wall clock).
pub fn now_ms() -> i64 {
    i64::try_from(modhost_sdk::clock::now_ms()).unwrap_or(i64::MAX)
}

/// The tenant's settings (`[config.fields.*]` in `module.toml`), with the manifest's defaults
/// as fallbacks.
pub mod settings {
    use modhost_sdk::config;

    /// Default of `retention_days`.
    pub const DEFAULT_RETENTION_DAYS: i64 = 90;
    /// Default of `max_points_per_batch`.
    pub const DEFAULT_MAX_POINTS_PER_BATCH: i64 = 1000;
    /// Default of `max_report_points`.
    pub const DEFAULT_MAX_REPORT_POINTS: i64 = 100_000;

    fn positive(name: &str, default: i64) -> i64 {
        config::int(name).filter(|value| *value > 0).unwrap_or(default)
    }

    fn count(name: &str, default: i64) -> usize {
        usize::try_from(positive(name, default)).unwrap_or(usize::MAX)
    }

    /// How many days points are kept.
    pub fn retention_days() -> i64 {
        positive("retention_days", DEFAULT_RETENTION_DAYS)
    }

    /// The most points one `POST /points` may carry.
    pub fn max_points_per_batch() -> usize {
        count("max_points_per_batch", DEFAULT_MAX_POINTS_PER_BATCH)
    }

    /// The most points one report may read.
    pub fn max_report_points() -> usize {
        count("max_report_points", DEFAULT_MAX_REPORT_POINTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_valid() {
        assert_eq!(Performance::self_test(), Ok(()));
    }

    #[test]
    fn the_clock_reads_unix_milliseconds() {
        assert!(now_ms() > 1_700_000_000_000);
    }
}
