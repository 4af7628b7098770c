//! Implementation projects: a tenant's onboarding milestones as operators set them and as the dashboard reads them (with what is overdue).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One milestone of a `PUT /v1/tenants/{tenant}/implementation` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MilestoneRequest {
    /// Kebab-case, unique in the project (e.g. `kickoff`).
    pub id: String,
    /// What it is: 1 to 200 characters on one line.
    pub title: String,
    /// When it is due: `YYYY-MM-DD`, a real day.
    pub due_date: String,
    /// `planned`, `in-progress`, `done` or `blocked`.
    pub status: String,
    /// Who is on it: at most 100 characters; blank or absent for nobody.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Notes: at most 2,000 characters (line breaks allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// For a `done` milestone, when it was done (ms since the Unix epoch);
    /// by default the time it was first stored as done. Dropped for any
    /// other status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at_ms: Option<u64>,
}

/// `PUT /v1/tenants/{tenant}/implementation` body: the whole project, replacing any before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImplementationRequest {
    /// The project's name: 1 to 200 characters on one line.
    pub name: String,
    /// At most 100 milestones, in the order to show them.
    #[serde(default)]
    pub milestones: Vec<MilestoneRequest>,
}

/// One milestone as stored, with whether it is overdue today.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Milestone {
    /// Kebab-case, unique in the project.
    pub id: String,
    /// What it is.
    pub title: String,
    /// When it is due (`YYYY-MM-DD`).
    pub due_date: String,
    /// `planned`, `in-progress`, `done` or `blocked`.
    pub status: String,
    /// Who is on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// When it was done (ms since the Unix epoch); only for a done milestone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at_ms: Option<u64>,
    /// Computed, not stored: due before today (UTC) and not done.
    pub overdue: bool,
}

/// A project's figures today.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImplementationSummary {
    /// Milestones.
    pub total: u64,
    /// Those done.
    pub done: u64,
    /// Those overdue.
    pub overdue: u64,
    /// `not-started` (no milestone done or in progress), `ongoing`, or
    /// `completed` (every milestone done).
    pub state: String,
}

/// `GET /v1/tenants/{tenant}/implementation`: a tenant's implementation project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Implementation {
    /// The tenant.
    pub tenant: String,
    /// The project's name.
    pub name: String,
    /// Its milestones, in the order set.
    pub milestones: Vec<Milestone>,
    /// Who set it last.
    pub updated_by: String,
    /// When (ms since the Unix epoch).
    pub updated_at_ms: u64,
    /// Its figures today.
    pub summary: ImplementationSummary,
}

/// `GET /v1/implementations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImplementationList {
    /// Every project, by tenant id.
    pub implementations: Vec<Implementation>,
}
