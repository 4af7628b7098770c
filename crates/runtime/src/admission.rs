//! Admission: how many calls each tenant may run and queue at once, so no tenant can take the whole instance pool.
//!
//! Every call from the host (not a nested `modules.call`, which runs inside
//! its caller's admission) takes one of its tenant's permits. Past
//! `max_concurrent_calls` a call waits in the tenant's queue, at most until its
//! own deadline; past `max_queued_calls` it is refused at once with
//! [`CallError::Busy`], before any instance, buffer or store is made. Limits
//! are the operator's defaults, or a tenant's override.
//!
//! The instance pool is shared: the defaults must leave a reserve, i.e. one
//! tenant at its limit, with every call nested to the maximum depth, uses at
//! most half of the pool ([`check_reserve`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::cpu::{CpuUsage, TenantCpu};
use crate::error::CallError;

/// How many calls one tenant may run and queue at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantLimits {
    /// Calls running at once (each holds one instance, more with nested calls).
    pub max_concurrent_calls: u32,
    /// Calls waiting for a running slot; past this a call is refused at once.
    pub max_queued_calls: u32,
    /// The share of the host's processor time (all cores together, in
    /// percent, 1 to 100) the tenant's running calls may use; see `cpu.rs`.
    pub max_cpu_percent: u32,
}

impl Default for TenantLimits {
    fn default() -> Self {
        Self {
            max_concurrent_calls: 8,
            max_queued_calls: 64,
            max_cpu_percent: 25,
        }
    }
}

/// Checks that one tenant at `limits`, each call nested `max_call_depth`
/// deep, leaves at least half of a pool of `pool_instances` to the others.
pub(crate) fn check_reserve(
    limits: TenantLimits,
    max_call_depth: u32,
    pool_instances: u32,
) -> anyhow::Result<()> {
    let worst = u64::from(limits.max_concurrent_calls) * (u64::from(max_call_depth) + 1);
    if worst * 2 > u64::from(pool_instances) {
        anyhow::bail!(
            "a tenant's {} concurrent calls, nested {max_call_depth} deep, could hold {worst} of the pool's {pool_instances} instances; \
             lower the tenant limit or raise the pool so one tenant holds at most half",
            limits.max_concurrent_calls
        );
    }
    Ok(())
}

/// One tenant's permits and queue.
struct TenantGate {
    limits: TenantLimits,
    permits: Arc<Semaphore>,
    queued: AtomicU32,
    cpu: Arc<TenantCpu>,
}

impl TenantGate {
    fn new(limits: TenantLimits, cores: u32) -> Self {
        Self {
            limits,
            permits: Arc::new(Semaphore::new(limits.max_concurrent_calls as usize)),
            queued: AtomicU32::new(0),
            cpu: Arc::new(TenantCpu::new(limits.max_cpu_percent, cores)),
        }
    }
}

/// A running call's slot; dropping it lets the next queued call run.
pub(crate) struct Admitted {
    _permit: OwnedSemaphorePermit,
}

/// The gates of every tenant that has called.
pub(crate) struct Admission {
    defaults: TenantLimits,
    /// The host's processors, which CPU shares are a percentage of.
    cores: u32,
    gates: Mutex<HashMap<String, Arc<TenantGate>>>,
}

impl Admission {
    pub(crate) fn new(defaults: TenantLimits) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
        Self {
            defaults,
            cores: u32::try_from(cores).unwrap_or(u32::MAX),
            gates: Mutex::new(HashMap::new()),
        }
    }

    /// Sets (or, with `None`, clears) `tenant`'s own limits. Calls already
    /// running or queued finish under the old ones.
    pub(crate) fn set_override(&self, tenant: &str, limits: Option<TenantLimits>) {
        let mut gates = self.gates.lock().unwrap_or_else(PoisonError::into_inner);
        let limits = limits.unwrap_or(self.defaults);
        let unchanged = gates.get(tenant).is_some_and(|gate| gate.limits == limits);
        if !unchanged {
            gates.insert(tenant.to_owned(), Arc::new(TenantGate::new(limits, self.cores)));
        }
    }

    /// `tenant`'s CPU budget, shared by all its calls.
    pub(crate) fn cpu(&self, tenant: &str) -> Arc<TenantCpu> {
        self.gate(tenant).cpu.clone()
    }

    /// The CPU each tenant that has called used so far, by tenant id.
    pub(crate) fn cpu_usage(&self) -> Vec<(String, CpuUsage)> {
        let gates = self.gates.lock().unwrap_or_else(PoisonError::into_inner);
        let mut usage: Vec<(String, CpuUsage)> = gates
            .iter()
            .map(|(tenant, gate)| (tenant.clone(), gate.cpu.usage()))
            .collect();
        usage.sort_by(|a, b| a.0.cmp(&b.0));
        usage
    }

    /// The limits `tenant`'s calls run under.
    pub(crate) fn limits(&self, tenant: &str) -> TenantLimits {
        self.gate(tenant).limits
    }

    fn gate(&self, tenant: &str) -> Arc<TenantGate> {
        let mut gates = self.gates.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(gate) = gates.get(tenant) {
            return gate.clone();
        }
        let gate = Arc::new(TenantGate::new(self.defaults, self.cores));
        gates.insert(tenant.to_owned(), gate.clone());
        gate
    }

    /// Takes one of `tenant`'s running slots, waiting in its queue until
    /// `deadline` at most; refuses at once when the queue is full.
    pub(crate) async fn admit(&self, tenant: &str, deadline: Instant) -> Result<Admitted, CallError> {
        let gate = self.gate(tenant);
        if let Ok(permit) = gate.permits.clone().try_acquire_owned() {
            return Ok(Admitted { _permit: permit });
        }
        let limits = gate.limits;
        let queued = gate.queued.fetch_add(1, Ordering::AcqRel);
        if queued >= limits.max_queued_calls {
            gate.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(CallError::Busy(format!(
                "tenant `{tenant}` already runs {} calls and queues {}; retry shortly",
                limits.max_concurrent_calls, limits.max_queued_calls
            )));
        }
        let waited = tokio::time::timeout_at(deadline.into(), gate.permits.clone().acquire_owned()).await;
        gate.queued.fetch_sub(1, Ordering::AcqRel);
        match waited {
            Ok(Ok(permit)) => Ok(Admitted { _permit: permit }),
            Ok(Err(_)) | Err(_) => Err(CallError::Busy(format!(
                "tenant `{tenant}` had {} calls running for the whole deadline; retry shortly",
                limits.max_concurrent_calls
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_leave_half_the_default_pool_in_reserve() {
        check_reserve(TenantLimits::default(), 4, 256).expect("the defaults fit");
        let error = check_reserve(
            TenantLimits {
                max_concurrent_calls: 64,
                max_queued_calls: 0,
                max_cpu_percent: 100,
            },
            4,
            256,
        )
        .expect_err("64 calls × 5 instances is more than half of 256");
        assert!(
            error
                .to_string()
                .contains("could hold 320 of the pool's 256 instances")
        );
    }

    #[tokio::test]
    async fn past_the_queue_a_call_is_refused_at_once_and_other_tenants_are_untouched() {
        let admission = Arc::new(Admission::new(TenantLimits {
            max_concurrent_calls: 2,
            max_queued_calls: 1,
            max_cpu_percent: 100,
        }));
        let far = Instant::now() + std::time::Duration::from_secs(60);
        let first = admission.admit("hog", far).await.expect("slot 1");
        let _second = admission.admit("hog", far).await.expect("slot 2");
        let queued = tokio::spawn({
            let admission = admission.clone();
            async move { admission.admit("hog", far).await.map(|_| ()) }
        });
        tokio::task::yield_now().await;
        // Two running, one queued: a fourth is refused without waiting.
        assert!(matches!(
            admission.admit("hog", far).await,
            Err(CallError::Busy(_))
        ));
        // Another tenant has slots of its own.
        let _other = admission
            .admit("other", far)
            .await
            .expect("another tenant is not limited by the hog");
        // A running call ending lets the queued one in.
        drop(first);
        assert_eq!(queued.await.expect("the task ends"), Ok(()));
        assert_eq!(
            admission.limits("other"),
            TenantLimits {
                max_concurrent_calls: 2,
                max_queued_calls: 1,
                max_cpu_percent: 100
            }
        );
    }

    #[tokio::test]
    async fn a_full_queue_refuses_with_the_limits_named() {
        let admission = Admission::new(TenantLimits {
            max_concurrent_calls: 1,
            max_queued_calls: 0,
            max_cpu_percent: 100,
        });
        let far = Instant::now() + std::time::Duration::from_secs(60);
        let _running = admission.admit("hog", far).await.expect("slot");
        let refused = admission.admit("hog", far).await.map(|_| ());
        assert_eq!(
            refused,
            Err(CallError::Busy(
                "tenant `hog` already runs 1 calls and queues 0; retry shortly".into()
            ))
        );
        let soon = Instant::now() + std::time::Duration::from_millis(20);
        admission.set_override(
            "hog",
            Some(TenantLimits {
                max_concurrent_calls: 1,
                max_queued_calls: 1,
                max_cpu_percent: 100,
            }),
        );
        // The override makes a fresh gate: the old running call no longer counts.
        assert!(admission.admit("hog", soon).await.is_ok());
    }
}
