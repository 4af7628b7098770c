//! Work slots: how many uploads, and how many on-demand checks, the server runs at once, in all and per owner.
//!
//! An upload holds up to `max_component_bytes` in memory while it is
//! checked, and a slow one holds its slot for up to `body_read_timeout_ms`.
//! Without a bound, one tenant admin opening many uploads could take the
//! host's memory, or every slot. So at most `max_concurrent_uploads` run in
//! all, and one publisher (a tenant, or the operators together) at most half
//! of them (at least one); past either, `429 busy` before the body is read.
//!
//! Smoke tests and promote dry runs on demand ([`CHECKS`]) are bounded the
//! same way by `max_concurrent_checks`, per tenant: each may compile a
//! version and runs its tests, so a tenant admin sending many at once is
//! refused past its half instead of queueing work in front of the others.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::StatusCode;

use crate::error::ApiError;

/// What a set of slots bounds, for its refusals.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SlotNames {
    /// Who one share belongs to: `publisher`, `tenant`.
    owner: &'static str,
    /// The work, plural: `uploads`.
    work: &'static str,
    /// What the server does with it: `reading`.
    doing: &'static str,
}

/// Module uploads, per publisher.
pub(crate) const UPLOADS: SlotNames = SlotNames {
    owner: "publisher",
    work: "uploads",
    doing: "reading",
};

/// Smoke tests and promote dry runs on demand, per tenant.
pub(crate) const CHECKS: SlotNames = SlotNames {
    owner: "tenant",
    work: "smoke tests and dry runs",
    doing: "running",
};

/// The running work, by owner.
#[derive(Debug)]
pub(crate) struct WorkSlots {
    names: SlotNames,
    max_total: usize,
    max_per_publisher: usize,
    running: Mutex<HashMap<String, usize>>,
}

/// A running upload's slot, given back when dropped.
#[derive(Debug)]
pub(crate) struct WorkSlot<'a> {
    slots: &'a WorkSlots,
    publisher: String,
}

impl WorkSlots {
    /// At most `max_total` at once, half of them per owner.
    pub(crate) fn new(names: SlotNames, max_total: usize) -> Self {
        Self {
            names,
            max_total,
            max_per_publisher: (max_total / 2).max(1),
            running: Mutex::new(HashMap::new()),
        }
    }

    /// A slot for `publisher`, or `429 busy` if it or the server is at its limit.
    pub(crate) fn try_acquire(&self, publisher: &str) -> Result<WorkSlot<'_>, ApiError> {
        let mut running = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let total: usize = running.values().sum();
        let own = running.get(publisher).copied().unwrap_or(0);
        let SlotNames { owner, work, doing } = self.names;
        let refusal = if own >= self.max_per_publisher {
            Some(format!(
                "this {owner} already runs as many {work} as it may ({own}); retry when one finishes"
            ))
        } else if total >= self.max_total {
            Some(format!(
                "the server is already {doing} {total} {work}; retry when one finishes"
            ))
        } else {
            None
        };
        if let Some(message) = refusal {
            let mut error = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "busy", message);
            error.headers.push(("retry-after", "1".to_owned()));
            return Err(error);
        }
        *running.entry(publisher.to_owned()).or_insert(0) += 1;
        Ok(WorkSlot {
            slots: self,
            publisher: publisher.to_owned(),
        })
    }
}

impl Drop for WorkSlot<'_> {
    fn drop(&mut self) {
        let mut running = self
            .slots
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = running.get_mut(&self.publisher) {
            *count -= 1;
            if *count == 0 {
                running.remove(&self.publisher);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_publisher_gets_half_the_slots_and_all_publishers_the_total() {
        let slots = WorkSlots::new(UPLOADS, 4);
        let first = slots.try_acquire("acme").expect("one");
        let second = slots.try_acquire("acme").expect("two");
        let refused = slots.try_acquire("acme").expect_err("a third of acme's");
        assert_eq!(
            (refused.status, refused.message.as_str()),
            (
                StatusCode::TOO_MANY_REQUESTS,
                "this publisher already runs as many uploads as it may (2); retry when one finishes"
            )
        );
        let third = slots.try_acquire("banban").expect("banban's first");
        let fourth = slots.try_acquire("operator").expect("the operators' first");
        let refused = slots.try_acquire("other").expect_err("past the total");
        assert_eq!(
            refused.message,
            "the server is already reading 4 uploads; retry when one finishes"
        );
        drop(first);
        let again = slots.try_acquire("acme").expect("a slot was given back");
        drop((second, third, fourth, again));
        assert!(slots.running.lock().expect("lock").is_empty());
    }

    #[test]
    fn check_slots_name_the_tenant_and_the_work() {
        let slots = WorkSlots::new(CHECKS, 4);
        let held = [
            slots.try_acquire("acme").expect("one"),
            slots.try_acquire("acme").expect("two"),
        ];
        let refused = slots.try_acquire("acme").expect_err("a third");
        assert_eq!(
            refused.message,
            "this tenant already runs as many smoke tests and dry runs as it may (2); retry when one finishes"
        );
        assert_eq!(refused.headers, vec![("retry-after", "1".to_owned())]);
        drop(held);
    }
}
