//! Implementation projects: per tenant, the onboarding milestones an operator tracks (due dates, status, who), with what is overdue today.
//!
//! One record per tenant (tree `implementations`, key = tenant id): the
//! project's name and at most [`MAX_MILESTONES`] milestones, each with a
//! kebab-case id unique in the project, a title, a due date (`YYYY-MM-DD`,
//! a real day), a status (`planned`, `in-progress`, `done`, `blocked`), an
//! optional assignee and notes, and when it was done. A put replaces the
//! whole project, under the tenant's lock, with its audit entry
//! (`implementation.put`) in the same batch; a remove is audited
//! (`implementation.delete`). Nothing invalid is stored: every field is
//! checked first and the first problem is named (`milestones[2].due_date`).
//!
//! A milestone is **overdue** when its due date is before today (UTC) and
//! it is not done. The project is `not-started` while no milestone is done
//! or in progress, `completed` once every milestone is done, and `ongoing`
//! in between. The record is part of a tenant backup and is removed with
//! the tenant (`backup.rs`, `restore.rs`).

use serde::{Deserialize, Serialize};

use crate::audit::AuditDraft;
use crate::calendar::Date;
use crate::error::RegistryError;
use crate::model::now_ms;
use crate::records::{FORMAT, Record, encode};
use crate::registry::Registry;
use crate::store::{Batch, Tree};

/// Implementation projects, by tenant id.
pub(crate) const IMPLEMENTATIONS: Tree = Tree::new("implementations");

/// The most milestones a project may have.
pub const MAX_MILESTONES: usize = 100;
/// The longest project name or milestone title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// The longest assignee, in characters.
pub const MAX_ASSIGNEE_CHARS: usize = 100;
/// The longest notes, in characters.
pub const MAX_NOTES_CHARS: usize = 2000;

/// Where a milestone is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MilestoneStatus {
    /// Not begun.
    Planned,
    /// Being worked on.
    InProgress,
    /// Finished.
    Done,
    /// Waiting on something.
    Blocked,
}

impl MilestoneStatus {
    /// Every status, in order.
    pub const ALL: [MilestoneStatus; 4] = [Self::Planned, Self::InProgress, Self::Done, Self::Blocked];

    /// The status as it travels (`in-progress`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Planned => "planned",
            Self::InProgress => "in-progress",
            Self::Done => "done",
            Self::Blocked => "blocked",
        }
    }

    /// The status named `name`, if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.name() == name)
    }
}

/// One milestone of a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Milestone {
    /// Kebab-case, unique in the project.
    pub id: String,
    /// What it is.
    pub title: String,
    /// When it is due.
    pub due_date: Date,
    /// Where it is.
    pub status: MilestoneStatus,
    /// Who is on it.
    pub assignee: Option<String>,
    /// Anything worth writing down.
    pub notes: Option<String>,
    /// When it was done (ms since the Unix epoch); only for a done milestone.
    pub completed_at_ms: Option<u64>,
}

impl Milestone {
    /// Whether it is due before `today` and not done.
    pub fn is_overdue(&self, today: Date) -> bool {
        self.status != MilestoneStatus::Done && self.due_date < today
    }
}

/// Where a project is as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ImplementationState {
    /// No milestone is done or in progress (also: a tenant without a project).
    NotStarted,
    /// Some work is done or under way, not all.
    Ongoing,
    /// Every milestone is done.
    Completed,
}

impl ImplementationState {
    /// The state as it travels (`not-started`).
    pub fn name(self) -> &'static str {
        match self {
            Self::NotStarted => "not-started",
            Self::Ongoing => "ongoing",
            Self::Completed => "completed",
        }
    }
}

/// A project's figures on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImplementationSummary {
    /// Milestones.
    pub total: u64,
    /// Those done.
    pub done: u64,
    /// Those overdue.
    pub overdue: u64,
    /// Where the project is.
    pub state: ImplementationState,
}

/// A tenant's implementation project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Implementation {
    /// The tenant.
    pub tenant: String,
    /// The project's name.
    pub name: String,
    /// Its milestones, in the order given.
    pub milestones: Vec<Milestone>,
    /// Who set it last.
    pub updated_by: String,
    /// When (ms since the Unix epoch).
    pub updated_at_ms: u64,
}

impl Implementation {
    /// The project's figures as of `today`.
    pub fn summary(&self, today: Date) -> ImplementationSummary {
        let count =
            |keep: &dyn Fn(&Milestone) -> bool| self.milestones.iter().filter(|m| keep(m)).count() as u64;
        let total = self.milestones.len() as u64;
        let done = count(&|milestone| milestone.status == MilestoneStatus::Done);
        let started = count(&|milestone| milestone.status == MilestoneStatus::InProgress);
        let state = if total > 0 && done == total {
            ImplementationState::Completed
        } else if done + started > 0 {
            ImplementationState::Ongoing
        } else {
            ImplementationState::NotStarted
        };
        ImplementationSummary {
            total,
            done,
            overdue: count(&|milestone| milestone.is_overdue(today)),
            state,
        }
    }
}

/// A milestone as an operator sends it: checked by [`Registry::put_implementation`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewMilestone {
    /// Kebab-case, unique in the project.
    pub id: String,
    /// 1 to [`MAX_TITLE_CHARS`] characters.
    pub title: String,
    /// `YYYY-MM-DD`.
    pub due_date: String,
    /// `planned`, `in-progress`, `done` or `blocked`.
    pub status: String,
    /// At most [`MAX_ASSIGNEE_CHARS`] characters; blank means none.
    pub assignee: Option<String>,
    /// At most [`MAX_NOTES_CHARS`] characters; blank means none.
    pub notes: Option<String>,
    /// For a done milestone, when it was done; by default when it was first
    /// stored as done. Ignored for a milestone that is not done.
    pub completed_at_ms: Option<u64>,
}

/// A whole project as an operator sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewImplementation {
    /// 1 to [`MAX_TITLE_CHARS`] characters.
    pub name: String,
    /// At most [`MAX_MILESTONES`].
    pub milestones: Vec<NewMilestone>,
}

fn invalid(field: impl Into<String>, message: String) -> RegistryError {
    RegistryError::InvalidInput {
        field: field.into(),
        message,
    }
}

/// Checks a one-line text: not blank, at most `max` characters, no control characters.
fn check_line(field: &str, text: &str, max: usize, what: &str) -> Result<(), RegistryError> {
    if text.trim().is_empty() || text.chars().count() > max || text.chars().any(char::is_control) {
        return Err(invalid(
            field,
            format!("{what} must be 1 to {max} characters on one line, without control characters"),
        ));
    }
    Ok(())
}

/// An optional text: blank is none; else at most `max` characters, and
/// control characters only where `multiline` allows line breaks and tabs.
fn optional_text(
    field: &str,
    text: Option<String>,
    max: usize,
    multiline: bool,
) -> Result<Option<String>, RegistryError> {
    let Some(text) = text.filter(|text| !text.trim().is_empty()) else {
        return Ok(None);
    };
    let allowed = |c: char| !c.is_control() || (multiline && matches!(c, '\n' | '\r' | '\t'));
    if text.chars().count() > max || !text.chars().all(allowed) {
        let lines = if multiline {
            "line breaks and tabs are fine, other control characters are not"
        } else {
            "on one line, without control characters"
        };
        return Err(invalid(
            field,
            format!("must be at most {max} characters ({lines}); leave it out for none"),
        ));
    }
    Ok(Some(text))
}

/// Checks `new` and makes it the stored project's milestones; `previous`
/// gives done milestones their completion time when none is sent.
fn check_milestones(
    new: Vec<NewMilestone>,
    previous: Option<&Implementation>,
    now: u64,
) -> Result<Vec<Milestone>, RegistryError> {
    if new.len() > MAX_MILESTONES {
        return Err(invalid(
            "milestones",
            format!(
                "a project has at most {MAX_MILESTONES} milestones, not {}; merge some or remove finished ones",
                new.len()
            ),
        ));
    }
    let mut milestones: Vec<Milestone> = Vec::with_capacity(new.len());
    for (index, milestone) in new.into_iter().enumerate() {
        let field = |name: &str| format!("milestones[{index}].{name}");
        if modhost_manifest::ModuleId::parse(&milestone.id).is_err() {
            return Err(invalid(
                field("id"),
                format!(
                    "`{}` must be kebab-case: lower-case letters, digits and single dashes, starting with a letter, at most 64 bytes",
                    milestone.id.chars().take(64).collect::<String>()
                ),
            ));
        }
        if let Some(first) = milestones.iter().position(|seen| seen.id == milestone.id) {
            return Err(invalid(
                field("id"),
                format!(
                    "`{}` is already the id of milestones[{first}]; give each milestone its own id",
                    milestone.id
                ),
            ));
        }
        check_line(&field("title"), &milestone.title, MAX_TITLE_CHARS, "a title")?;
        let due_date = Date::parse(&milestone.due_date).ok_or_else(|| {
            invalid(
                field("due_date"),
                format!(
                    "`{}` is not a real date in the form YYYY-MM-DD, e.g. 2026-03-31",
                    milestone.due_date.chars().take(32).collect::<String>()
                ),
            )
        })?;
        let status = MilestoneStatus::parse(&milestone.status).ok_or_else(|| {
            invalid(
                field("status"),
                format!(
                    "`{}` is not one of planned, in-progress, done, blocked",
                    milestone.status.chars().take(32).collect::<String>()
                ),
            )
        })?;
        let assignee = optional_text(&field("assignee"), milestone.assignee, MAX_ASSIGNEE_CHARS, false)?;
        let notes = optional_text(&field("notes"), milestone.notes, MAX_NOTES_CHARS, true)?;
        let completed_at_ms = (status == MilestoneStatus::Done).then(|| {
            milestone.completed_at_ms.unwrap_or_else(|| {
                previous
                    .and_then(|previous| previous.milestones.iter().find(|old| old.id == milestone.id))
                    .and_then(|old| old.completed_at_ms)
                    .unwrap_or(now)
            })
        });
        milestones.push(Milestone {
            id: milestone.id,
            title: milestone.title,
            due_date,
            status,
            assignee,
            notes,
            completed_at_ms,
        });
    }
    Ok(milestones)
}

impl Registry {
    /// Sets (creates or replaces) `tenant`'s implementation project;
    /// audited as `implementation.put`. Refused, with nothing stored, when
    /// the tenant does not exist or any field is invalid (the first is named).
    pub fn put_implementation(
        &self,
        tenant: &str,
        new: NewImplementation,
        actor: &str,
    ) -> Result<Implementation, RegistryError> {
        let lock = self.tenant_lock(tenant);
        let _guard = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.tenant(tenant)?;
        check_line("name", &new.name, MAX_TITLE_CHARS, "a project name")?;
        let now = now_ms();
        let previous = self.implementation(tenant)?;
        let milestones = check_milestones(new.milestones, previous.as_ref(), now)?;
        let project = Implementation {
            tenant: tenant.to_owned(),
            name: new.name,
            milestones,
            updated_by: actor.to_owned(),
            updated_at_ms: now,
        };
        let summary = project.summary(Date::from_unix_ms(now));
        let mut draft = AuditDraft::ok(actor, "implementation.put", tenant, Some(tenant));
        draft.detail = Some(format!(
            "{} milestones, {} done, {} overdue",
            summary.total, summary.done, summary.overdue
        ));
        self.commit_with_audit(IMPLEMENTATIONS, tenant.as_bytes(), &encode(&project)?, draft)?;
        Ok(project)
    }

    /// `tenant`'s implementation project, if it has one.
    pub fn implementation(&self, tenant: &str) -> Result<Option<Implementation>, RegistryError> {
        self.record(IMPLEMENTATIONS, tenant.as_bytes())
    }

    /// Every implementation project, by tenant id.
    pub fn implementations(&self) -> Result<Vec<Implementation>, RegistryError> {
        self.records(IMPLEMENTATIONS, &[])
    }

    /// Removes `tenant`'s implementation project; audited as `implementation.delete`.
    pub fn remove_implementation(&self, tenant: &str, actor: &str) -> Result<Implementation, RegistryError> {
        let lock = self.tenant_lock(tenant);
        let _guard = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.tenant(tenant)?;
        let project = self.implementation(tenant)?.ok_or_else(|| no_project(tenant))?;
        let mut batch = Batch::new();
        batch.delete(IMPLEMENTATIONS, tenant.as_bytes());
        let draft = AuditDraft::ok(actor, "implementation.delete", tenant, Some(tenant));
        self.commit_audited(batch, draft)?;
        Ok(project)
    }
}

/// The refusal of a tenant without a project.
pub fn no_project(tenant: &str) -> RegistryError {
    RegistryError::NotFound(format!(
        "tenant `{tenant}` has no implementation project; an operator sets one with PUT /v1/tenants/{tenant}/implementation"
    ))
}

fn format_v1() -> u32 {
    1
}

/// An implementation project, format 1.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredImplementationV1 {
    #[serde(default = "format_v1")]
    format: u32,
    tenant: String,
    name: String,
    milestones: Vec<StoredMilestoneV1>,
    updated_by: String,
    updated_at_ms: u64,
}

/// One milestone, format 1.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredMilestoneV1 {
    id: String,
    title: String,
    due_date: Date,
    status: MilestoneStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    assignee: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    notes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    completed_at_ms: Option<u64>,
}

impl Record for Implementation {
    const NAME: &'static str = "implementation project";
    type Stored = StoredImplementationV1;

    fn to_stored(&self) -> StoredImplementationV1 {
        StoredImplementationV1 {
            format: FORMAT,
            tenant: self.tenant.clone(),
            name: self.name.clone(),
            milestones: self
                .milestones
                .iter()
                .map(|milestone| StoredMilestoneV1 {
                    id: milestone.id.clone(),
                    title: milestone.title.clone(),
                    due_date: milestone.due_date,
                    status: milestone.status,
                    assignee: milestone.assignee.clone(),
                    notes: milestone.notes.clone(),
                    completed_at_ms: milestone.completed_at_ms,
                })
                .collect(),
            updated_by: self.updated_by.clone(),
            updated_at_ms: self.updated_at_ms,
        }
    }

    fn from_stored(stored: StoredImplementationV1) -> Self {
        Self {
            tenant: stored.tenant,
            name: stored.name,
            milestones: stored
                .milestones
                .into_iter()
                .map(|milestone| Milestone {
                    id: milestone.id,
                    title: milestone.title,
                    due_date: milestone.due_date,
                    status: milestone.status,
                    assignee: milestone.assignee,
                    notes: milestone.notes,
                    completed_at_ms: milestone.completed_at_ms,
                })
                .collect(),
            updated_by: stored.updated_by,
            updated_at_ms: stored.updated_at_ms,
        }
    }
}
