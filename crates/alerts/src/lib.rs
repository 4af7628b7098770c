//! modhost's alerting: rules judged on what the host measures, the alert lifecycle with escalation, and notifications through a durable outbox.
//!
//! - **Rules** ([`modhost_registry::AlertRule`]) are global (operators'; judged
//!   for every tenant) or a tenant's own. Each names a kind (error rate, p99,
//!   traps, deadlines, limit hits, storage errors, quota use, fallbacks,
//!   failed promotes, automatic rollbacks, anomaly), a threshold, a window, a
//!   minimum count and an escalation chain of channels. [`default_rules`] are
//!   written once on a new host.
//! - **The evaluator** (`engine.rs`, on `signals.rs`) judges every rule each
//!   `eval_interval_ms` and moves alerts (deduplicated per rule and subject)
//!   through firing → acknowledged → resolved, escalating along the chain;
//!   `anomaly.rs` is the EWMA band of anomaly rules.
//! - **Notifications** (`notify.rs`: signed webhook JSON, Slack, email over
//!   SMTP with lettre) are deliveries in the registry's outbox, written in
//!   the same batch as the alert change; `outbox.rs` sends them with
//!   exponential backoff and jitter, gives up after `give_up_secs` (audited),
//!   and resumes after any restart.
//! - **Targets** are allow-listed by the operator (`config.rs`); a channel
//!   secret is shown once, when the channel is made, and never logged.
//!
//! The server starts it with [`start`] and reads [`Alerting`] for its API,
//! metrics and status.

mod anomaly;
mod config;
mod engine;
pub mod notify;
mod outbox;
mod signals;

use std::sync::Arc;

use modhost_deploy::Loader;
use modhost_registry::{
    AlertEvent, AlertRule, Channel, Delivery, DeliveryState, Registry, RegistryError, RuleKind, Severity,
    now_ms,
};

pub use crate::anomaly::{Band, Judgement};
pub use crate::config::{AlertsConfig, SmtpConfig, SmtpTls};
pub use crate::engine::ACTOR;
pub use crate::outbox::{OutboxStats, backoff};

/// The running alerting: its settings and what the outbox did.
#[derive(Clone)]
pub struct Alerting {
    /// The settings.
    pub config: Arc<AlertsConfig>,
    /// The outbox's counters.
    pub stats: Arc<OutboxStats>,
}

/// The evaluator and outbox tasks; aborted when dropped.
pub struct AlertTasks {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for AlertTasks {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// How often resolved alerts and finished deliveries past `history_days` are deleted.
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

impl Alerting {
    /// Writes the default rules on a host that never had them (when the settings ask for it).
    pub fn new(registry: &Registry, config: AlertsConfig) -> Result<Self, RegistryError> {
        if config.default_rules && registry.seed_alert_rules(default_rules())? {
            tracing::info!("wrote the default alert rules");
        }
        Ok(Self {
            config: Arc::new(config),
            stats: Arc::default(),
        })
    }

    /// Starts the evaluator and the outbox worker on the current tokio runtime.
    pub fn start(&self, loader: &Loader) -> Result<AlertTasks, RegistryError> {
        let mut engine = engine::Engine::start(loader.clone())?;
        let interval = self.config.eval_interval();
        let registry = loader.registry().clone();
        let history = std::time::Duration::from_secs(self.config.history_days.saturating_mul(86_400));
        let evaluator = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut pruned = std::time::Instant::now();
            loop {
                ticks.tick().await;
                let prune = pruned.elapsed() >= PRUNE_EVERY;
                let registry = registry.clone();
                let ticked = tokio::task::spawn_blocking(move || {
                    if let Err(error) = engine.tick() {
                        tracing::error!(%error, "could not evaluate the alert rules");
                    }
                    if prune {
                        let before =
                            now_ms().saturating_sub(u64::try_from(history.as_millis()).unwrap_or(u64::MAX));
                        if let Err(error) = registry.prune_alert_history(before) {
                            tracing::error!(%error, "could not prune the alert history");
                        }
                    }
                    engine
                })
                .await;
                match ticked {
                    Ok(returned) => engine = returned,
                    Err(error) => {
                        tracing::error!(%error, "the alert evaluator stopped");
                        return;
                    }
                }
                if prune {
                    pruned = std::time::Instant::now();
                }
            }
        });
        let outbox = tokio::spawn(outbox::run(
            loader.registry().clone(),
            self.config.clone(),
            self.stats.clone(),
        ));
        Ok(AlertTasks {
            tasks: vec![evaluator, outbox],
        })
    }

    /// Checks a channel's target against the operator's allow lists.
    pub fn check_target(&self, target: &modhost_registry::ChannelTarget) -> Result<(), String> {
        match target {
            modhost_registry::ChannelTarget::Webhook { url }
            | modhost_registry::ChannelTarget::Slack { url } => self.config.check_url(url),
            modhost_registry::ChannelTarget::Email { to } => to
                .iter()
                .try_for_each(|address| self.config.check_recipient(address)),
        }
    }
}

/// A new webhook signing secret: `whsec_` and 32 random bytes in hex.
pub fn new_channel_secret() -> Result<String, RegistryError> {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|error| RegistryError::Storage(format!("the system's random source failed: {error}")))?;
    Ok(format!("whsec_{}", hex::encode(bytes)))
}

/// Puts a test notification for `channel` in the outbox; returns it.
pub fn enqueue_test(registry: &Registry, channel: &Channel) -> Result<Delivery, RegistryError> {
    let id = registry.next_alert_id()?;
    let now = now_ms();
    let delivery = Delivery {
        id,
        idempotency_key: format!("test-{id}-{}", channel.name),
        channel_tenant: channel.tenant.clone(),
        channel: channel.name.clone(),
        event: AlertEvent::Test,
        alert: None,
        state: DeliveryState::Pending,
        attempts: 0,
        created_at_ms: now,
        next_attempt_at_ms: now,
        last_error: None,
        finished_at_ms: None,
    };
    registry.enqueue_deliveries(std::slice::from_ref(&delivery))?;
    Ok(delivery)
}

/// The rules a new host starts with: global, with no channels (alerts show
/// in the API, metrics and audit; add channels to be told).
pub fn default_rules() -> Vec<AlertRule> {
    let rule = |name: &str, kind, threshold, window_secs, min_count, severity| AlertRule {
        tenant: None,
        name: name.to_owned(),
        kind,
        series: None,
        module: None,
        threshold,
        window_secs,
        min_count,
        severity,
        channels: Vec::new(),
        escalate_after_secs: 0,
        updated_by: "system:defaults".to_owned(),
        updated_at_ms: now_ms(),
    };
    vec![
        rule(
            "error-rate",
            RuleKind::ErrorRate,
            5.0,
            300,
            20,
            Severity::Critical,
        ),
        rule("p99-latency", RuleKind::P99Ms, 1000.0, 300, 20, Severity::Warning),
        rule("traps", RuleKind::Traps, 10.0, 300, 1, Severity::Warning),
        rule("deadlines", RuleKind::Deadlines, 10.0, 300, 1, Severity::Warning),
        rule("limit-hits", RuleKind::LimitHits, 50.0, 300, 1, Severity::Warning),
        rule(
            "storage-errors",
            RuleKind::StorageErrors,
            1.0,
            300,
            1,
            Severity::Critical,
        ),
        rule("quota-use", RuleKind::QuotaUse, 90.0, 60, 1, Severity::Warning),
        rule("fallbacks", RuleKind::Fallbacks, 1.0, 60, 1, Severity::Critical),
        rule(
            "failed-promotes",
            RuleKind::FailedPromotes,
            1.0,
            600,
            1,
            Severity::Warning,
        ),
        rule(
            "automatic-rollbacks",
            RuleKind::AutomaticRollbacks,
            1.0,
            600,
            1,
            Severity::Critical,
        ),
    ]
}
