//! CPU budgets: how much of the host's processor time one tenant's guests may use, charged at every epoch tick.
//!
//! Admission bounds how many calls a tenant runs at once; this bounds how
//! much CPU they burn together. Each tenant has a budget of processor time per
//! [`WINDOW`] (its `max_cpu_percent` of every core the host has). Every epoch
//! tick of a running call charges the wall time the call ran since it last
//! resumed (at most two ticks, so time blocked in WASI or in a nested call is
//! not charged as CPU) to its tenant. While the tenant is over budget, its
//! calls sleep at their next tick until the window ends instead of yielding
//! for a moment, so the executor threads go to other tenants and to the host
//! itself. Overuse carries into the next windows as debt, so a tenant's long
//! run average stays at its share however many calls it runs.
//!
//! The alternative, a separate thread pool for guests, bounds threads but
//! not shares: eight looping calls of one tenant would still take the whole
//! pool from everyone else. A budget charged at every tick is fair by tenant,
//! costs one short lock per tick, and leaves the wall-clock deadline as the
//! only thing that ends a throttled call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use wasmtime::UpdateDeadline;

/// The accounting window: a tenant over budget waits at most this long.
pub(crate) const WINDOW: Duration = Duration::from_millis(100);

/// One tenant's CPU window, shared by all its calls.
pub(crate) struct TenantCpu {
    /// Processor time the tenant may use per [`WINDOW`], across all cores.
    budget: Duration,
    window: Mutex<Window>,
    used_nanos: AtomicU64,
    throttled_nanos: AtomicU64,
}

struct Window {
    start: Instant,
    used: Duration,
}

/// What a tenant's guests have used so far, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuUsage {
    /// Processor time charged to the tenant's calls.
    pub used: Duration,
    /// Time the tenant's calls spent paused because the tenant was over budget.
    pub throttled: Duration,
}

impl TenantCpu {
    /// A tenant allowed `percent` of `cores` processors.
    pub(crate) fn new(percent: u32, cores: u32) -> Self {
        let share = u64::from(percent.clamp(1, 100)) * u64::from(cores.max(1));
        let budget_nanos = u64::try_from(WINDOW.as_nanos()).unwrap_or(u64::MAX) * share / 100;
        Self {
            budget: Duration::from_nanos(budget_nanos),
            window: Mutex::new(Window {
                start: Instant::now(),
                used: Duration::ZERO,
            }),
            used_nanos: AtomicU64::new(0),
            throttled_nanos: AtomicU64::new(0),
        }
    }

    /// Charges `ran` of processor time at `now`; when the tenant is then
    /// over its budget, when its calls may run again.
    fn charge(&self, ran: Duration, now: Instant) -> Option<Instant> {
        self.used_nanos.fetch_add(
            u64::try_from(ran.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        let mut window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        let elapsed = now.saturating_duration_since(window.start);
        if elapsed >= WINDOW {
            let windows = u32::try_from(elapsed.as_nanos() / WINDOW.as_nanos()).unwrap_or(u32::MAX);
            window.start += WINDOW * windows;
            window.used = window.used.saturating_sub(self.budget.saturating_mul(windows));
        }
        window.used += ran;
        if window.used < self.budget {
            return None;
        }
        // Debt beyond this window pushes the wake-up further out.
        let over = window.used - self.budget;
        let windows_owed = u32::try_from(over.as_nanos() / self.budget.as_nanos().max(1)).unwrap_or(u32::MAX);
        Some(window.start + WINDOW * windows_owed.saturating_add(1))
    }

    fn record_throttled(&self, paused: Duration) {
        self.throttled_nanos.fetch_add(
            u64::try_from(paused.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// What the tenant has used so far.
    pub(crate) fn usage(&self) -> CpuUsage {
        CpuUsage {
            used: Duration::from_nanos(self.used_nanos.load(Ordering::Relaxed)),
            throttled: Duration::from_nanos(self.throttled_nanos.load(Ordering::Relaxed)),
        }
    }
}

/// One call's meter: decides at every epoch tick whether the call yields for
/// a moment, sleeps until its tenant's budget allows, or is interrupted.
pub(crate) struct CpuMeter {
    tenant: Arc<TenantCpu>,
    deadline: Instant,
    /// The longest run one tick may be charged (two ticks).
    max_charge: Duration,
    origin: Instant,
    /// When the call last resumed, in nanoseconds since `origin`; written by
    /// the yield future when it completes.
    resumed_nanos: Arc<AtomicU64>,
}

impl CpuMeter {
    /// A meter for a call of `tenant` ending at `deadline`, ticked every `tick`.
    pub(crate) fn new(tenant: Arc<TenantCpu>, deadline: Instant, tick: Duration) -> Self {
        Self {
            tenant,
            deadline,
            max_charge: tick * 2,
            origin: Instant::now(),
            resumed_nanos: Arc::new(AtomicU64::new(0)),
        }
    }

    /// What the call does at this epoch tick.
    pub(crate) fn on_tick(&mut self) -> UpdateDeadline {
        let now = Instant::now();
        if now >= self.deadline {
            return UpdateDeadline::Interrupt;
        }
        let resumed = self.origin + Duration::from_nanos(self.resumed_nanos.load(Ordering::Relaxed));
        let ran = now.saturating_duration_since(resumed).min(self.max_charge);
        let resume_at = self.tenant.charge(ran, now).map(|until| until.min(self.deadline));
        let origin = self.origin;
        let resumed_nanos = self.resumed_nanos.clone();
        let tenant = self.tenant.clone();
        UpdateDeadline::YieldCustom(
            1,
            Box::pin(async move {
                match resume_at {
                    Some(until) => {
                        tokio::time::sleep_until(until.into()).await;
                        tenant.record_throttled(Instant::now().saturating_duration_since(now));
                    }
                    None => tokio::task::yield_now().await,
                }
                let resumed = Instant::now().saturating_duration_since(origin);
                resumed_nanos.store(
                    u64::try_from(resumed.as_nanos()).unwrap_or(u64::MAX),
                    Ordering::Relaxed,
                );
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_within_its_budget_runs_on_and_one_over_it_waits_for_the_next_window() {
        // 50% of one core: 50 ms per 100 ms window.
        let cpu = TenantCpu::new(50, 1);
        let start = cpu.window.lock().expect("unpoisoned").start;
        for _ in 0..49 {
            assert_eq!(cpu.charge(Duration::from_millis(1), start), None);
        }
        assert_eq!(
            cpu.charge(Duration::from_millis(1), start),
            Some(start + WINDOW),
            "the 50th millisecond uses the budget up"
        );
        // In the next window the budget is back.
        assert_eq!(cpu.charge(Duration::from_millis(1), start + WINDOW), None);
        assert_eq!(cpu.usage().used, Duration::from_millis(51));
    }

    #[test]
    fn overuse_is_a_debt_paid_in_later_windows() {
        let cpu = TenantCpu::new(10, 1); // 10 ms per window
        let start = cpu.window.lock().expect("unpoisoned").start;
        // 35 ms in one go (eight calls charged at once): 25 ms over, so the
        // tenant waits out this window and two more.
        assert_eq!(
            cpu.charge(Duration::from_millis(35), start),
            Some(start + WINDOW * 3)
        );
        // Two windows later 15 ms of debt remain: still over.
        assert!(cpu.charge(Duration::ZERO, start + WINDOW * 2).is_some());
        // Four windows later the debt is paid.
        assert_eq!(cpu.charge(Duration::ZERO, start + WINDOW * 4), None);
    }

    #[test]
    fn the_budget_scales_with_cores_and_is_never_zero() {
        assert_eq!(TenantCpu::new(25, 4).budget, WINDOW);
        assert_eq!(TenantCpu::new(0, 0).budget, WINDOW / 100);
        assert_eq!(TenantCpu::new(500, 2).budget, WINDOW * 2);
    }
}
