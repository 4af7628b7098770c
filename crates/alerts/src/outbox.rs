//! The outbox worker: sends pending deliveries, retries failures with exponential backoff and jitter, gives up after a bounded time.
//!
//! Deliveries are durable before the worker sees them (written with the
//! alert change that caused them), so a restart, even after `kill -9`,
//! resumes every pending one. A delivery is marked delivered right after
//! its receiver accepted it; the idempotency key in every attempt lets a
//! receiver drop the one repeat a kill between those two steps could cause.
//! At most [`MAX_IN_FLIGHT`] attempts run at once, and at most
//! [`MAX_IN_FLIGHT_PER_SCOPE`] for one scope (a tenant, or the operators),
//! so one tenant's slow receiver cannot hold everyone's notifications.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use modhost_registry::{AuditDraft, AuditOutcome, Delivery, DeliveryState, Registry, now_ms};

use crate::config::AlertsConfig;
use crate::notify::{SendError, send};

/// Attempts running at once.
pub const MAX_IN_FLIGHT: usize = 8;
/// Attempts of one scope running at once.
pub const MAX_IN_FLIGHT_PER_SCOPE: usize = 2;

/// What the outbox did, for `/metrics` and status.
#[derive(Debug, Default)]
pub struct OutboxStats {
    /// Deliveries a receiver accepted.
    pub delivered: AtomicU64,
    /// Attempts that failed and will be retried.
    pub retried: AtomicU64,
    /// Deliveries given up on.
    pub failed: AtomicU64,
    /// Deliveries waiting, as of the last poll.
    pub pending: AtomicU64,
}

/// The wait before attempt `attempts + 1`: `base × 2^(attempts-1)` up to
/// `max`, times a jitter factor in [0.8, 1.2].
pub fn backoff(attempts: u32, config: &AlertsConfig, jitter: f64) -> Duration {
    let exponent = attempts.saturating_sub(1).min(30);
    let wait = config
        .retry_base_ms
        .saturating_mul(1_u64 << exponent)
        .min(config.retry_max_ms);
    Duration::from_millis((wait as f64 * jitter.clamp(0.8, 1.2)) as u64)
}

fn jitter() -> f64 {
    let mut byte = [0_u8; 1];
    let random = getrandom::fill(&mut byte).map_or(128, |()| byte[0]);
    (0.8 + 0.4 * f64::from(random) / 255.0).clamp(0.8, 1.2)
}

struct InFlight {
    ids: HashSet<u64>,
    per_scope: HashMap<Option<String>, usize>,
}

/// Polls the outbox until the task is aborted.
pub(crate) async fn run(registry: Registry, config: Arc<AlertsConfig>, stats: Arc<OutboxStats>) {
    let in_flight = Arc::new(Mutex::new(InFlight {
        ids: HashSet::new(),
        per_scope: HashMap::new(),
    }));
    let poll = Duration::from_millis((config.retry_base_ms / 2).clamp(50, 1000));
    let mut ticks = tokio::time::interval(poll);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let reader = registry.clone();
        let pending = match tokio::task::spawn_blocking(move || reader.pending_deliveries(10_000)).await {
            Ok(Ok(pending)) => pending,
            Ok(Err(error)) => {
                tracing::error!(%error, "could not read the notification outbox");
                continue;
            }
            Err(error) => {
                tracing::error!(%error, "the outbox read failed");
                continue;
            }
        };
        stats.pending.store(pending.len() as u64, Ordering::Relaxed);
        let now = now_ms();
        for delivery in pending
            .into_iter()
            .filter(|delivery| delivery.next_attempt_at_ms <= now)
        {
            {
                let mut flight = in_flight
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let scope_count = flight
                    .per_scope
                    .get(&delivery.channel_tenant)
                    .copied()
                    .unwrap_or(0);
                if flight.ids.contains(&delivery.id)
                    || flight.ids.len() >= MAX_IN_FLIGHT
                    || scope_count >= MAX_IN_FLIGHT_PER_SCOPE
                {
                    continue;
                }
                flight.ids.insert(delivery.id);
                *flight
                    .per_scope
                    .entry(delivery.channel_tenant.clone())
                    .or_default() += 1;
            }
            let (registry, config, stats, in_flight) =
                (registry.clone(), config.clone(), stats.clone(), in_flight.clone());
            tokio::spawn(async move {
                let (id, scope) = (delivery.id, delivery.channel_tenant.clone());
                let attempt =
                    tokio::task::spawn_blocking(move || attempt(&registry, &config, &stats, delivery)).await;
                if let Err(error) = attempt {
                    tracing::error!(%error, "a notification attempt failed to run");
                }
                let mut flight = in_flight
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                flight.ids.remove(&id);
                if let Some(count) = flight.per_scope.get_mut(&scope) {
                    *count = count.saturating_sub(1);
                }
            });
        }
    }
}

/// One attempt of one delivery, and its durable outcome.
fn attempt(registry: &Registry, config: &AlertsConfig, stats: &OutboxStats, mut delivery: Delivery) {
    let channel = match registry.channel(delivery.channel_tenant.as_deref(), &delivery.channel) {
        Ok(channel) => channel,
        Err(error) => {
            tracing::error!(%error, "could not read a notification channel");
            return;
        }
    };
    let result = match &channel {
        Some(channel) => send(&delivery, channel, config, now_ms()),
        None => Err(SendError::Permanent(format!(
            "channel `{}` no longer exists",
            delivery.channel
        ))),
    };
    delivery.attempts = delivery.attempts.saturating_add(1);
    let now = now_ms();
    let mut audited = None;
    match result {
        Ok(()) => {
            delivery.state = DeliveryState::Delivered;
            delivery.finished_at_ms = Some(now);
            delivery.last_error = None;
            stats.delivered.fetch_add(1, Ordering::Relaxed);
            tracing::info!(delivery = delivery.id, channel = %delivery.channel, attempts = delivery.attempts, "notification delivered");
        }
        Err(error) => {
            let expired =
                now.saturating_sub(delivery.created_at_ms) >= config.give_up_secs.saturating_mul(1000);
            delivery.last_error = Some(error.to_string());
            if matches!(error, SendError::Permanent(_)) || expired {
                delivery.state = DeliveryState::Failed;
                delivery.finished_at_ms = Some(now);
                stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(delivery = delivery.id, channel = %delivery.channel, attempts = delivery.attempts, %error, "notification given up");
                let mut draft = AuditDraft::ok(
                    crate::engine::ACTOR,
                    "alert.delivery",
                    format!("delivery {} to channel `{}`", delivery.id, delivery.channel),
                    delivery.channel_tenant.as_deref(),
                );
                draft.outcome = AuditOutcome::Failed;
                draft.detail = Some(format!("given up after {} attempts: {error}", delivery.attempts));
                audited = Some(draft);
            } else {
                delivery.next_attempt_at_ms = now.saturating_add(
                    u64::try_from(backoff(delivery.attempts, config, jitter()).as_millis())
                        .unwrap_or(u64::MAX),
                );
                stats.retried.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(delivery = delivery.id, channel = %delivery.channel, attempts = delivery.attempts, %error, "notification will be retried");
            }
        }
    }
    if let Err(error) = registry.save_delivery(&delivery, audited) {
        tracing::error!(%error, delivery = delivery.id, "could not record a notification attempt");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_within_the_jitter() {
        let config = AlertsConfig {
            retry_base_ms: 1000,
            retry_max_ms: 10_000,
            ..AlertsConfig::default()
        };
        let waits: Vec<u64> = (1..=6)
            .map(|attempts| u64::try_from(backoff(attempts, &config, 1.0).as_millis()).unwrap_or(0))
            .collect();
        assert_eq!(waits, vec![1000, 2000, 4000, 8000, 10_000, 10_000]);
        assert_eq!(backoff(1, &config, 0.0), Duration::from_millis(800));
        assert_eq!(backoff(1, &config, 9.0), Duration::from_millis(1200));
        assert_eq!(backoff(u32::MAX, &config, 1.0), Duration::from_millis(10_000));
        for _ in 0..100 {
            assert!((0.8..=1.2).contains(&jitter()));
        }
    }
}
