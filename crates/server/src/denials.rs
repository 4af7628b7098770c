//! Refused requests: every one counted for `/metrics`, at most one audit entry per (who, action, tenant) per minute, with bounded fields and no fsync.
//!
//! A refusal must cost the host nothing an attacker can multiply. Without a
//! token, "who" is the client's IP address; with one, the token's public id
//! and role. The first refusal of a kind in a [`WINDOW`] writes an audit
//! entry (without flushing: it becomes durable with the next change, or
//! the store's periodic flush); the rest of the window only counts. Fields taken
//! from the request (the tenant segment of the URL) are cut to
//! [`MAX_FIELD_CHARS`](crate::text::MAX_FIELD_CHARS) and stripped of control characters, so an entry stays
//! small whatever the URL. At most [`MAX_TRACKED`] kinds are tracked; when
//! that many are live, further kinds are counted as not audited
//! (`modhost_denials_not_audited_total`) instead of growing memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use modhost_registry::{AuditDraft, AuditOutcome, Registry};

use crate::text::bounded;

/// How long one audit entry stands for all refusals of its kind.
pub(crate) const WINDOW: Duration = Duration::from_secs(60);
/// The most kinds of refusal tracked at once.
pub(crate) const MAX_TRACKED: usize = 10_000;

/// The kind of one refusal: who, what, which tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Kind {
    who: String,
    action: String,
    tenant: Option<String>,
}

/// The refusals seen since start.
#[derive(Debug, Default)]
pub(crate) struct Denials {
    /// Kind → when its window started.
    windows: Mutex<HashMap<Kind, Instant>>,
    unauthenticated: AtomicU64,
    forbidden: AtomicU64,
    not_audited: AtomicU64,
}

/// Why a request was refused, for the metric's `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// No valid token.
    Unauthenticated,
    /// A valid token without the access.
    Forbidden,
}

/// One refusal to record.
pub(crate) struct Denial<'a> {
    /// The token's actor (`id:role`), if a valid token was sent.
    pub(crate) actor: Option<String>,
    /// The client's address.
    pub(crate) client: Option<IpAddr>,
    /// The action refused, e.g. `api.CreateTenant`.
    pub(crate) action: &'a str,
    /// The tenant named by the request, as sent.
    pub(crate) tenant: Option<&'a str>,
    /// Why.
    pub(crate) reason: Reason,
    /// The refusal's message.
    pub(crate) message: &'a str,
}

impl Denials {
    /// Counts `denial` and audits it if it is the first of its kind in the window.
    pub(crate) fn record(&self, registry: &Registry, denial: &Denial<'_>) {
        let counter = match denial.reason {
            Reason::Unauthenticated => &self.unauthenticated,
            Reason::Forbidden => &self.forbidden,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let who = match (&denial.actor, denial.client) {
            (Some(actor), _) => actor.clone(),
            (None, Some(client)) => format!("anonymous@{client}"),
            (None, None) => "anonymous".to_owned(),
        };
        let kind = Kind {
            who,
            action: bounded(denial.action),
            tenant: denial.tenant.map(bounded),
        };
        if !self.first_in_window(&kind, Instant::now()) {
            return;
        }
        let draft = AuditDraft {
            actor: kind.who,
            action: kind.action,
            target: kind.tenant.clone().unwrap_or_else(|| "-".to_owned()),
            tenant: kind.tenant,
            outcome: AuditOutcome::Denied,
            detail: Some(format!(
                "{}; further refusals of this kind in the next {} s are only counted (modhost_denials_total)",
                bounded(denial.message),
                WINDOW.as_secs()
            )),
        };
        if let Err(error) = registry.record_audit_lazily(draft) {
            tracing::error!(%error, "could not audit a denied request");
        }
    }

    /// Whether `kind` starts a new window at `now` (and so gets an entry).
    fn first_in_window(&self, kind: &Kind, now: Instant) -> bool {
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(started) = windows.get_mut(kind) {
            if now.duration_since(*started) < WINDOW {
                return false;
            }
            *started = now;
            return true;
        }
        if windows.len() >= MAX_TRACKED {
            windows.retain(|_, started| now.duration_since(*started) < WINDOW);
            if windows.len() >= MAX_TRACKED {
                self.not_audited.fetch_add(1, Ordering::Relaxed);
                return false;
            }
        }
        windows.insert(kind.clone(), now);
        true
    }

    /// (reason, count) of every refusal since start.
    pub(crate) fn counts(&self) -> [(&'static str, u64); 2] {
        [
            ("unauthenticated", self.unauthenticated.load(Ordering::Relaxed)),
            ("forbidden", self.forbidden.load(Ordering::Relaxed)),
        ]
    }

    /// Refusals not audited because too many kinds were live.
    pub(crate) fn not_audited(&self) -> u64 {
        self.not_audited.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(who: &str) -> Kind {
        Kind {
            who: who.to_owned(),
            action: "api.ListTenants".to_owned(),
            tenant: None,
        }
    }

    #[test]
    fn one_entry_per_kind_per_window() {
        let denials = Denials::default();
        let start = Instant::now();
        assert!(denials.first_in_window(&kind("a"), start));
        assert!(!denials.first_in_window(&kind("a"), start + Duration::from_secs(59)));
        assert!(denials.first_in_window(&kind("b"), start + Duration::from_secs(1)));
        assert!(denials.first_in_window(&kind("a"), start + WINDOW));
    }

    #[test]
    fn tracked_kinds_are_bounded_and_expired_ones_make_room() {
        let denials = Denials::default();
        let start = Instant::now();
        for index in 0..MAX_TRACKED {
            assert!(denials.first_in_window(&kind(&index.to_string()), start));
        }
        assert!(!denials.first_in_window(&kind("one more"), start));
        assert_eq!(denials.not_audited(), 1);
        assert!(denials.first_in_window(&kind("one more"), start + WINDOW));
        let tracked = denials.windows.lock().expect("unpoisoned").len();
        assert_eq!(tracked, 1, "the expired kinds were dropped");
    }
}
