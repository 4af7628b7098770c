//! Rollouts driven by the loader: ring by ring, each tenant by an ordinary watched promote, resumed from the registry after a restart.
//!
//! Every [`TICK`] the driver takes one step of each running rollout:
//!
//! 1. In the current ring, the first tenant (by id) with the module enabled
//!    and not yet dealt with is marked in flight (durably), then promoted
//!    with a watch, then recorded as done. After a restart, an in-flight
//!    tenant already at the version is recorded as promoted, not promoted
//!    again; one that is not is promoted. So no tenant is repeated or skipped.
//!    A refused promote halts the rollout.
//! 2. Once every tenant of the ring is at the version, the ring soaks: the
//!    rollout moves to the next ring only when `soak` has passed and no
//!    tenant's watch is still running. A tenant whose watch rolled it back or
//!    was held, or that no longer runs the version, halts the rollout.
//! 3. After the last ring the rollout completes.
//!
//! Pause, resume and abort are the registry's; the driver only advances
//! rollouts that are running, and never overwrites a state an operator set
//! while it was promoting.

use std::collections::HashSet;
use std::time::Duration;

use modhost_registry::{RegistryError, Rollout, RolloutState, RolloutTenant};

use crate::loader::Loader;
use crate::watch::WatchState;

/// How often running rollouts are advanced.
pub const TICK: Duration = Duration::from_millis(250);

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
}

impl Loader {
    /// Starts the task that advances running rollouts; it ends when the loader is dropped.
    pub fn drive_rollouts(&self) -> tokio::task::JoinHandle<()> {
        let weak = std::sync::Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(TICK).await;
                let Some(inner) = weak.upgrade() else {
                    break;
                };
                let loader = Loader { inner };
                let rollouts = match loader.inner.registry.rollouts() {
                    Ok(rollouts) => rollouts,
                    Err(error) => {
                        tracing::error!(%error, "could not read the rollouts");
                        continue;
                    }
                };
                for rollout in rollouts
                    .into_iter()
                    .filter(|rollout| rollout.state == RolloutState::Running)
                {
                    let id = rollout.id;
                    if let Err(error) = loader.step_rollout(rollout).await {
                        tracing::error!(rollout = id, %error, "could not advance a rollout");
                    }
                }
            }
        })
    }

    /// Writes `rollout`'s progress, keeping a state an operator set meanwhile.
    fn save_progress(
        &self,
        rollout: &mut Rollout,
        audited: Option<(&str, &str, bool)>,
    ) -> Result<(), RegistryError> {
        let stored = self.inner.registry.rollout(rollout.id)?;
        if stored.state != RolloutState::Running && rollout.state == RolloutState::Running {
            rollout.state = stored.state;
        }
        self.inner.registry.save_rollout(rollout, audited)
    }

    fn halt_rollout(&self, rollout: &mut Rollout, reason: String) -> Result<(), RegistryError> {
        tracing::warn!(rollout = rollout.id, %reason, "rollout halted");
        rollout.state = RolloutState::Halted;
        rollout.reason = Some(reason.clone());
        self.save_progress(rollout, Some(("rollout.halt", &reason, false)))
    }

    /// The tenants of `ring` with the module enabled, by id.
    fn ring_targets(&self, rollout: &Rollout, ring: &str) -> Result<Vec<String>, RegistryError> {
        let mut targets = Vec::new();
        for tenant in self.inner.registry.tenants_in_ring(ring)? {
            if self
                .inner
                .registry
                .deployment(&tenant, &rollout.module)?
                .active
                .is_some()
            {
                targets.push(tenant);
            }
        }
        Ok(targets)
    }

    async fn step_rollout(&self, mut rollout: Rollout) -> Result<(), RegistryError> {
        let Some(ring) = rollout.rings.get(rollout.ring).cloned() else {
            rollout.state = RolloutState::Completed;
            let reason = format!(
                "every ring ({}) runs {}@{}",
                rollout.rings.join(", "),
                rollout.module,
                rollout.version
            );
            rollout.reason = Some(reason.clone());
            return self.save_progress(&mut rollout, Some(("rollout.complete", &reason, true)));
        };
        let targets = self.ring_targets(&rollout, &ring)?;
        let done: HashSet<String> = rollout.done.iter().map(|done| done.tenant.clone()).collect();
        if let Some(tenant) = targets.iter().find(|tenant| !done.contains(*tenant)).cloned() {
            return self.promote_in_rollout(&mut rollout, &ring, &tenant).await;
        }
        for tenant in &targets {
            let active = self.inner.registry.deployment(tenant, &rollout.module)?.active;
            if let Some(watch) = self
                .watch(tenant, &rollout.module)
                .filter(|watch| watch.version == rollout.version)
                && matches!(watch.state, WatchState::RolledBack | WatchState::Held)
            {
                let verdict = watch.verdict.unwrap_or_default();
                return self.halt_rollout(&mut rollout, format!("{tenant} failed its watch: {verdict}"));
            }
            if active.as_ref() != Some(&rollout.version) {
                let runs = active.map_or_else(|| "nothing".to_owned(), |version| version.to_string());
                let reason = format!("{tenant} no longer runs {} (it runs {runs})", rollout.version);
                return self.halt_rollout(&mut rollout, reason);
            }
        }
        let now = now_ms();
        let Some(started) = rollout.soak_started_ms else {
            rollout.soak_started_ms = Some(now);
            return self.save_progress(&mut rollout, None);
        };
        let watching = targets.iter().any(|tenant| {
            self.watch(tenant, &rollout.module)
                .is_some_and(|watch| watch.version == rollout.version && watch.state == WatchState::Watching)
        });
        if now >= started.saturating_add(rollout.soak_ms) && !watching {
            let detail = format!(
                "ring {ring} ({} tenants) stayed healthy for {} s",
                targets.len(),
                rollout.soak_ms / 1000
            );
            rollout.ring += 1;
            rollout.soak_started_ms = None;
            return self.save_progress(&mut rollout, Some(("rollout.ring", &detail, true)));
        }
        Ok(())
    }

    async fn promote_in_rollout(
        &self,
        rollout: &mut Rollout,
        ring: &str,
        tenant: &str,
    ) -> Result<(), RegistryError> {
        let active = self.inner.registry.deployment(tenant, &rollout.module)?.active;
        let record = |outcome: &str| RolloutTenant {
            tenant: tenant.to_owned(),
            ring: ring.to_owned(),
            outcome: outcome.to_owned(),
            at_ms: now_ms(),
        };
        if active.as_ref() == Some(&rollout.version) {
            // Promoted before a restart, or already there.
            let outcome = if rollout.in_flight.as_deref() == Some(tenant) {
                "promoted"
            } else {
                "already"
            };
            rollout.done.push(record(outcome));
            rollout.in_flight = None;
            return self.save_progress(rollout, None);
        }
        rollout.in_flight = Some(tenant.to_owned());
        self.save_progress(rollout, None)?;
        let watch = rollout.watch_ms.map(Duration::from_millis);
        let actor = format!("system:rollout-{}", rollout.id);
        match self
            .promote_watched(tenant, &rollout.module, &rollout.version, &actor, watch)
            .await
        {
            Ok(_) => {
                rollout.done.push(record("promoted"));
                rollout.in_flight = None;
                self.save_progress(rollout, None)
            }
            Err(error) => {
                rollout.done.push(record(&format!("failed: {error}")));
                rollout.in_flight = None;
                self.halt_rollout(rollout, format!("promoting {tenant} failed: {error}"))
            }
        }
    }
}
