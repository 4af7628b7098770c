//! Rings and rollouts: operators label tenants with a ring, and a rollout promotes one module version ring by ring.
//!
//! A ring is a label on a tenant (`internal`, `beta`, `general`…), one per
//! tenant, in the `rings` tree. A rollout is a durable record: the module
//! version, the rings in order, the soak time, where it is (the ring, the
//! tenants done, the tenant being promoted) and its state. The loader's
//! driver (`modhost-deploy`) advances running rollouts and writes every step
//! here before and after it acts, so after a restart it resumes where it was,
//! never repeating or skipping a tenant. Every change is audited.

use crate::audit::AuditDraft;
use crate::error::RegistryError;
use crate::model::{NewRollout, Rollout, RolloutState, check_tenant_id, now_ms};
use crate::records::encode;
use crate::registry::Registry;
use crate::store::{Batch, Tree};

/// Ring labels, by tenant id.
pub(crate) const RINGS: Tree = Tree::new("rings");
/// Rollouts, by id (big-endian).
const ROLLOUTS: Tree = Tree::new("rollouts");
/// The lock key starts take (tenant ids never start with `modhost-`).
const ROLLOUT_LOCK: &str = "modhost-rollouts";

fn check_ring(ring: &str) -> Result<(), RegistryError> {
    check_tenant_id(ring).map_err(|_| RegistryError::InvalidInput {
        field: "ring".into(),
        message: format!(
            "ring `{}` must be kebab-case: lower-case letters, digits and single dashes, starting with a letter",
            ring.chars().take(64).collect::<String>()
        ),
    })
}

impl Registry {
    /// Puts `tenant` in `ring`, or (with `None`) in none.
    pub fn set_ring(&self, tenant: &str, ring: Option<&str>, actor: &str) -> Result<(), RegistryError> {
        self.tenant(tenant)?;
        let mut batch = Batch::new();
        let mut draft = AuditDraft::ok(actor, "tenant.ring", tenant, Some(tenant));
        match ring {
            Some(ring) => {
                check_ring(ring)?;
                batch.put(RINGS, tenant.as_bytes(), ring.as_bytes());
                draft.detail = Some(format!("ring {ring}"));
            }
            None => {
                batch.delete(RINGS, tenant.as_bytes());
                draft.detail = Some("no ring".to_owned());
            }
        }
        self.commit_audited(batch, draft)?;
        Ok(())
    }

    /// The ring `tenant` is in.
    pub fn ring_of(&self, tenant: &str) -> Result<Option<String>, RegistryError> {
        Ok(self
            .inner
            .store
            .get(RINGS, tenant.as_bytes())?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// Every ring label: (tenant, ring), by tenant.
    pub fn rings(&self) -> Result<Vec<(String, String)>, RegistryError> {
        let mut labels = Vec::new();
        for item in self.inner.store.scan_prefix(RINGS, &[])? {
            let (key, value) = item?;
            labels.push((
                String::from_utf8_lossy(&key).into_owned(),
                String::from_utf8_lossy(&value).into_owned(),
            ));
        }
        Ok(labels)
    }

    /// The tenants in `ring`, by id.
    pub fn tenants_in_ring(&self, ring: &str) -> Result<Vec<String>, RegistryError> {
        Ok(self
            .rings()?
            .into_iter()
            .filter(|(_, label)| label == ring)
            .map(|(tenant, _)| tenant)
            .collect())
    }

    /// Starts a rollout of `new.module`@`new.version` over `new.rings`.
    pub fn create_rollout(&self, new: NewRollout, actor: &str) -> Result<Rollout, RegistryError> {
        let draft = AuditDraft::ok(
            actor,
            "rollout.start",
            format!("{}@{}", new.module, new.version),
            None,
        );
        // One start at a time, so two cannot both pass the one-live-rollout check.
        let lock = self.tenant_lock(ROLLOUT_LOCK);
        let _guard = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let result = self.checked_rollout(&new).and_then(|()| {
            let id = self.inner.store.next_id()?;
            let now = now_ms();
            let rollout = Rollout {
                id,
                module: new.module,
                version: new.version,
                rings: new.rings,
                soak_ms: new.soak_ms,
                watch_ms: new.watch_ms,
                state: RolloutState::Running,
                ring: 0,
                soak_started_ms: None,
                done: Vec::new(),
                in_flight: None,
                started_by: actor.to_owned(),
                started_at_ms: now,
                updated_at_ms: now,
                reason: None,
            };
            let mut draft = draft.clone();
            draft.target = format!("rollout {id}: {}@{}", rollout.module, rollout.version);
            draft.detail = Some(format!("rings {}", rollout.rings.join(", ")));
            self.commit_with_audit(ROLLOUTS, &id.to_be_bytes(), &encode(&rollout)?, draft)?;
            Ok(rollout)
        });
        if let Err(error) = &result {
            self.audit_refusal(draft, error);
        }
        result
    }

    fn checked_rollout(&self, new: &NewRollout) -> Result<(), RegistryError> {
        self.version(&new.module, &new.version, None)?;
        if new.rings.is_empty() {
            return Err(RegistryError::InvalidInput {
                field: "rings".into(),
                message: "name at least one ring, e.g. [\"internal\", \"beta\", \"general\"]".into(),
            });
        }
        for (index, ring) in new.rings.iter().enumerate() {
            check_ring(ring)?;
            if new.rings[..index].contains(ring) {
                return Err(RegistryError::InvalidInput {
                    field: "rings".into(),
                    message: format!("ring `{ring}` is named twice; name each ring once, in order"),
                });
            }
        }
        if let Some(running) = self
            .rollouts()?
            .into_iter()
            .find(|rollout| rollout.module == new.module && rollout.state.is_live())
        {
            return Err(RegistryError::InvalidInput {
                field: "module".into(),
                message: format!(
                    "rollout {} of {}@{} is still {}; abort it first",
                    running.id,
                    running.module,
                    running.version,
                    running.state.name()
                ),
            });
        }
        Ok(())
    }

    /// One rollout.
    pub fn rollout(&self, id: u64) -> Result<Rollout, RegistryError> {
        self.record(ROLLOUTS, &id.to_be_bytes())?
            .ok_or_else(|| RegistryError::InvalidInput {
                field: "id".into(),
                message: format!("there is no rollout {id}"),
            })
    }

    /// Every rollout, oldest first.
    pub fn rollouts(&self) -> Result<Vec<Rollout>, RegistryError> {
        self.records(ROLLOUTS, &[])
    }

    /// Writes a rollout's progress durably (the driver's steps), auditing
    /// `action` with `detail` when given.
    pub fn save_rollout(
        &self,
        rollout: &Rollout,
        audited: Option<(&str, &str, bool)>,
    ) -> Result<(), RegistryError> {
        let mut rollout = rollout.clone();
        rollout.updated_at_ms = now_ms();
        let mut batch = Batch::new();
        batch.put(ROLLOUTS, rollout.id.to_be_bytes(), encode(&rollout)?);
        match audited {
            Some((action, detail, ok)) => {
                let mut draft = AuditDraft::ok(
                    "system:rollout",
                    action,
                    format!("rollout {}: {}@{}", rollout.id, rollout.module, rollout.version),
                    None,
                );
                draft.detail = Some(detail.to_owned());
                if !ok {
                    draft.outcome = crate::model::AuditOutcome::Failed;
                }
                self.commit_audited(batch, draft)?;
            }
            None => {
                self.inner.store.apply(&batch)?;
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Pauses, resumes or aborts a rollout (`to` is `Paused`, `Running` or `Aborted`).
    pub fn steer_rollout(&self, id: u64, to: RolloutState, actor: &str) -> Result<Rollout, RegistryError> {
        let mut rollout = self.rollout(id)?;
        let allowed = match to {
            RolloutState::Paused => rollout.state == RolloutState::Running,
            RolloutState::Running => rollout.state == RolloutState::Paused,
            RolloutState::Aborted => rollout.state.is_live(),
            RolloutState::Completed | RolloutState::Halted => false,
        };
        if !allowed {
            return Err(RegistryError::InvalidInput {
                field: "state".into(),
                message: format!(
                    "rollout {id} is {}; it cannot become {}",
                    rollout.state.name(),
                    to.name()
                ),
            });
        }
        rollout.state = to;
        rollout.updated_at_ms = now_ms();
        let draft = AuditDraft::ok(
            actor,
            &format!("rollout.{}", to.verb()),
            format!("rollout {id}: {}@{}", rollout.module, rollout.version),
            None,
        );
        self.commit_with_audit(ROLLOUTS, &id.to_be_bytes(), &encode(&rollout)?, draft)?;
        Ok(rollout)
    }
}
