//! The loader's watches: a task per promote that judges the new version's health and rolls back or holds on a breach.

use std::time::{Duration, Instant};

use modhost_registry::{AuditDraft, AuditOutcome, RollbackTarget};
use semver::Version;

use crate::health::HealthStats;
use crate::loader::Loader;
use crate::watch::{Watch, WatchState};

/// How often a watch looks at the version's health.
const LOOK_EVERY: Duration = Duration::from_millis(500);

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
}

impl Loader {
    /// Starts watching `version`, just promoted over `previous`, for `window`.
    pub(crate) fn start_watch(
        &self,
        tenant: &str,
        module: &str,
        version: &Version,
        previous: &Version,
        migrated: bool,
        window: Duration,
    ) {
        let started = Instant::now();
        let baseline = self.inner.health.stats(
            tenant,
            module,
            previous,
            started.checked_sub(window).unwrap_or(started),
        );
        let started_at_ms = now_ms();
        let watch = Watch {
            tenant: tenant.to_owned(),
            module: module.to_owned(),
            version: version.clone(),
            previous: previous.clone(),
            migrated,
            started_at_ms,
            ends_at_ms: started_at_ms + u64::try_from(window.as_millis()).unwrap_or(u64::MAX),
            baseline,
            current: HealthStats::default(),
            state: WatchState::Watching,
            verdict: None,
            started,
        };
        self.set_watch(watch.clone());
        let loader = self.clone();
        tokio::spawn(async move { loader.run_watch(watch, window).await });
    }

    fn set_watch(&self, watch: Watch) {
        self.inner
            .watches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert((watch.tenant.clone(), watch.module.clone()), watch);
    }

    /// The latest watch of `tenant`'s `module`, with its current figures.
    pub fn watch(&self, tenant: &str, module: &str) -> Option<Watch> {
        let mut watch = self
            .inner
            .watches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(tenant.to_owned(), module.to_owned()))
            .cloned()?;
        if watch.state == WatchState::Watching {
            watch.current = self
                .inner
                .health
                .stats(tenant, module, &watch.version, watch.started);
        }
        Some(watch)
    }

    async fn run_watch(&self, mut watch: Watch, window: Duration) {
        let ends = watch.started + window;
        loop {
            tokio::time::sleep(LOOK_EVERY.min(window)).await;
            // The routing table follows every move; no store read needed.
            let active = self.tenant(&watch.tenant).and_then(|routes| {
                routes
                    .modules
                    .get(&watch.module)
                    .map(|route| route.active.clone())
            });
            if active.as_ref() != Some(&watch.version) {
                watch.state = WatchState::Superseded;
                watch.verdict = Some(format!(
                    "the route moved to {} during the watch",
                    active.map_or_else(|| "disabled".to_owned(), |version| version.to_string())
                ));
                break;
            }
            watch.current =
                self.inner
                    .health
                    .stats(&watch.tenant, &watch.module, &watch.version, watch.started);
            let policy = self.watch_policy();
            if let Some(breach) = policy.breach(&watch.current, &watch.baseline) {
                self.act_on_breach(&mut watch, breach).await;
                break;
            }
            if Instant::now() >= ends {
                watch.state = WatchState::Passed;
                watch.verdict = Some(format!(
                    "healthy for {} s: {} requests, error rate {:.1}%",
                    window.as_secs(),
                    watch.current.requests,
                    watch.current.error_rate() * 100.0
                ));
                self.audit_watch(&watch, AuditOutcome::Ok);
                break;
            }
            self.set_watch(watch.clone());
        }
        tracing::info!(tenant = %watch.tenant, module = %watch.module, version = %watch.version, state = watch.state.name(), verdict = ?watch.verdict, "watch ended");
        self.set_watch(watch);
    }

    async fn act_on_breach(&self, watch: &mut Watch, breach: String) {
        let target = format!("{}@{}", watch.module, watch.version);
        if watch.migrated {
            watch.state = WatchState::Held;
            watch.verdict = Some(format!(
                "{target} breached its watch ({breach}); the automatic rollback is held for a person because the promote migrated the data and rolling back would restore the snapshot and discard the writes made since"
            ));
            self.audit_watch(watch, AuditOutcome::Failed);
            return;
        }
        let reason = format!("automatic rollback of {target} to {}: {breach}", watch.previous);
        match self
            .rollback_because(
                &watch.tenant,
                &watch.module,
                &RollbackTarget::To(watch.previous.clone()),
                "system:watch",
                Some(&reason),
            )
            .await
        {
            Ok(_) => {
                watch.state = WatchState::RolledBack;
                watch.verdict = Some(reason);
            }
            Err(error) => {
                watch.state = WatchState::Held;
                watch.verdict = Some(format!(
                    "{target} breached its watch ({breach}) but the automatic rollback failed: {error}"
                ));
                self.audit_watch(watch, AuditOutcome::Failed);
            }
        }
    }

    fn audit_watch(&self, watch: &Watch, outcome: AuditOutcome) {
        let mut draft = AuditDraft::ok(
            "system:watch",
            "deployment.watch",
            format!("{}/{}@{}", watch.tenant, watch.module, watch.version),
            Some(&watch.tenant),
        );
        draft.outcome = outcome;
        draft.detail.clone_from(&watch.verdict);
        if let Err(error) = self.inner.registry.record_audit(draft) {
            tracing::error!(%error, "could not audit the end of a watch");
        }
    }
}
