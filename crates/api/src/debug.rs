//! Debug tools: a version's smoke tests on demand and a promote's dry run; both change nothing.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST …/deployments/{module}/smoke` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmokeRequest {
    /// The version whose smoke tests to run, e.g. `1.1.0`.
    pub version: String,
}

/// How one smoke test went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SmokeTestResult {
    /// The test's `name` in the manifest.
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// For a failed test: what differed, or how the call failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// How long its call took, in milliseconds.
    pub took_ms: u64,
}

/// `POST …/deployments/{module}/smoke` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SmokeReport {
    /// The module.
    pub module: String,
    /// The version tested.
    pub version: String,
    /// Whether every test passed (also when the manifest has none).
    pub passed: bool,
    /// The tests that ran, in order: every one, or up to and including the
    /// first that failed (a promote stops there too).
    pub tests: Vec<SmokeTestResult>,
}

/// `POST …/deployments/{module}/promote/dry-run` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteDryRunRequest {
    /// The version a promote would make active, e.g. `1.1.0`.
    pub version: String,
}

/// One check a promote makes before it switches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PromoteCheck {
    /// `dependencies`, `dependents`, `config`, `ready`, `smoke` or `migration`.
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// For a failed check, exactly the error the promote would answer; for a
    /// passed one, what it found when there is something to say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `POST …/deployments/{module}/promote/dry-run` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PromoteDryRun {
    /// The module.
    pub module: String,
    /// The active version now, if any.
    pub from: Option<String>,
    /// The version asked for.
    pub to: String,
    /// Whether a promote would move the pointer (`false`: `to` is already active).
    pub would_change: bool,
    /// Whether a promote would succeed now.
    pub ok: bool,
    /// The checks that ran, in the promote's order; after a failed one a
    /// promote would stop, so the later ones are not run or listed.
    pub checks: Vec<PromoteCheck>,
}
