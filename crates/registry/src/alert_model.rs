//! The alerting model: rules, notification channels, alerts and the deliveries that tell people about them.
//!
//! A rule and a channel belong to a scope: the operators' (`tenant: None`,
//! global) or one tenant's. A global rule is judged for every tenant; a
//! tenant's rule only for that tenant and may only notify that tenant's
//! channels. An alert is one (rule, subject) being in breach — deduplicated:
//! at most one open alert per pair — that moves firing → acknowledged →
//! resolved. Each notification is a [`Delivery`] in the durable outbox.

use serde::{Deserialize, Serialize};

/// What a rule measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleKind {
    /// Errors per request, in percent, over the window (at least `min_count` requests).
    ErrorRate,
    /// 99th-percentile latency in milliseconds over the window (at least `min_count` requests).
    P99Ms,
    /// Calls that trapped in the window.
    Traps,
    /// Calls that ran out of time in the window.
    Deadlines,
    /// Calls stopped or refused at a tenant limit (busy, memory, fuel, stack, data quota) in the window.
    LimitHits,
    /// Calls that failed on the host's storage in the window.
    StorageErrors,
    /// A module's data as a percentage of its data quota (keys or bytes, the higher).
    QuotaUse,
    /// Routes serving a fallback instead of their active version (1 while falling back).
    Fallbacks,
    /// Promotes that failed in the window.
    FailedPromotes,
    /// Rollbacks the host made by itself (a watched promote breached) in the window.
    AutomaticRollbacks,
    /// A series left its own recent band: further than `threshold` standard
    /// deviations from its exponentially weighted moving average.
    Anomaly,
    /// Scheduled backups of the tenant that failed in the window (the
    /// subject is the tenant, without a module).
    BackupFailures,
    /// Milestones of the tenant's implementation project that are overdue
    /// now (due before today, UTC, and not done); the subject is the
    /// tenant, without a module.
    OverdueMilestones,
}

impl RuleKind {
    /// Every kind, for help texts and validation messages.
    pub const ALL: [RuleKind; 13] = [
        Self::ErrorRate,
        Self::P99Ms,
        Self::Traps,
        Self::Deadlines,
        Self::LimitHits,
        Self::StorageErrors,
        Self::QuotaUse,
        Self::Fallbacks,
        Self::FailedPromotes,
        Self::AutomaticRollbacks,
        Self::Anomaly,
        Self::BackupFailures,
        Self::OverdueMilestones,
    ];

    /// The kind's name as it travels (`error-rate`).
    pub fn name(self) -> &'static str {
        match self {
            Self::ErrorRate => "error-rate",
            Self::P99Ms => "p99-ms",
            Self::Traps => "traps",
            Self::Deadlines => "deadlines",
            Self::LimitHits => "limit-hits",
            Self::StorageErrors => "storage-errors",
            Self::QuotaUse => "quota-use",
            Self::Fallbacks => "fallbacks",
            Self::FailedPromotes => "failed-promotes",
            Self::AutomaticRollbacks => "automatic-rollbacks",
            Self::Anomaly => "anomaly",
            Self::BackupFailures => "backup-failures",
            Self::OverdueMilestones => "overdue-milestones",
        }
    }
}

/// What an anomaly rule follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnomalySeries {
    /// Requests per second.
    Requests,
    /// Errors per request, in percent.
    ErrorRate,
    /// 99th-percentile latency in milliseconds.
    P99Ms,
}

impl AnomalySeries {
    /// The series' name as it travels.
    pub fn name(self) -> &'static str {
        match self {
            Self::Requests => "requests",
            Self::ErrorRate => "error-rate",
            Self::P99Ms => "p99-ms",
        }
    }
}

/// How loud an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Worth looking at soon.
    #[default]
    Warning,
    /// Worth waking someone.
    Critical,
}

impl Severity {
    /// The severity's name as it travels.
    pub fn name(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// An alert rule.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    /// The tenant whose rule it is; `None` for a global (operators') rule.
    pub tenant: Option<String>,
    /// The rule's name, unique in its scope (kebab-case).
    pub name: String,
    /// What it measures.
    pub kind: RuleKind,
    /// For an anomaly rule, the series it follows.
    pub series: Option<AnomalySeries>,
    /// Only this module's calls (`None`: every module).
    pub module: Option<String>,
    /// The value at or past which the rule fires (for an anomaly rule, the
    /// number of standard deviations).
    pub threshold: f64,
    /// The span measured, in seconds.
    pub window_secs: u64,
    /// The least evidence before judging: requests for rates and
    /// percentiles, samples for an anomaly rule.
    pub min_count: u64,
    /// How loud.
    pub severity: Severity,
    /// The escalation chain: the first channel is told when the alert fires,
    /// the next one each `escalate_after_secs` it stays unacknowledged.
    pub channels: Vec<String>,
    /// Seconds without acknowledgement before the next channel is told (`0`: never).
    pub escalate_after_secs: u64,
    /// Who last wrote it.
    pub updated_by: String,
    /// When.
    pub updated_at_ms: u64,
}

/// Where a channel sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum ChannelTarget {
    /// A JSON POST signed with the channel's secret.
    Webhook {
        /// The URL.
        url: String,
    },
    /// A Slack incoming webhook.
    Slack {
        /// The incoming-webhook URL (itself a secret).
        url: String,
    },
    /// Email through the operator's SMTP server.
    Email {
        /// The recipients.
        to: Vec<String>,
    },
}

impl ChannelTarget {
    /// The type's name as it travels (`webhook`, `slack`, `email`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Webhook { .. } => "webhook",
            Self::Slack { .. } => "slack",
            Self::Email { .. } => "email",
        }
    }
}

/// A notification channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// The tenant whose channel it is; `None` for the operators'.
    pub tenant: Option<String>,
    /// The channel's name, unique in its scope (kebab-case).
    pub name: String,
    /// Where it sends.
    pub target: ChannelTarget,
    /// The secret webhook bodies are signed with (webhooks only).
    pub secret: Option<String>,
    /// Who made it.
    pub created_by: String,
    /// When.
    pub created_at_ms: u64,
}

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertState {
    /// In breach, nobody has acknowledged it.
    Firing,
    /// In breach, someone is on it: no more escalation.
    Acknowledged,
    /// No longer in breach.
    Resolved,
}

impl AlertState {
    /// The state's name as it travels.
    pub fn name(self) -> &'static str {
        match self {
            Self::Firing => "firing",
            Self::Acknowledged => "acknowledged",
            Self::Resolved => "resolved",
        }
    }
}

/// One (rule, subject) in breach, or that was.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Increasing id.
    pub id: u64,
    /// The rule's scope (`None`: global).
    pub rule_tenant: Option<String>,
    /// The rule's name.
    pub rule: String,
    /// What it measures.
    pub kind: RuleKind,
    /// The tenant concerned (`None` for a host-wide subject).
    pub tenant: Option<String>,
    /// The module concerned.
    pub module: Option<String>,
    /// Where it is.
    pub state: AlertState,
    /// How loud.
    pub severity: Severity,
    /// The last measured value.
    pub value: f64,
    /// The rule's threshold when it fired.
    pub threshold: f64,
    /// What happened, in a sentence.
    pub summary: String,
    /// How many channels of the chain have been told (1 after firing).
    pub escalation: u32,
    /// When it fired.
    pub fired_at_ms: u64,
    /// When it was last escalated (or fired).
    pub escalated_at_ms: u64,
    /// Who acknowledged it, and when.
    pub acknowledged: Option<(String, u64)>,
    /// When it resolved.
    pub resolved_at_ms: Option<u64>,
    /// Notifications are held until then.
    pub silenced_until_ms: Option<u64>,
}

impl Alert {
    /// The subject as people read it: `tenant/module` (or `tenant`, `host`).
    pub fn subject(&self) -> String {
        match (&self.tenant, &self.module) {
            (Some(tenant), Some(module)) => format!("{tenant}/{module}"),
            (Some(tenant), None) => tenant.clone(),
            (None, _) => "host".to_owned(),
        }
    }
}

/// What a notification says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertEvent {
    /// The alert fired.
    Firing,
    /// Nobody acknowledged it in time; this channel is next in the chain.
    Escalated,
    /// It resolved.
    Resolved,
    /// A test notification asked for by a person.
    Test,
}

impl AlertEvent {
    /// The event's name as it travels.
    pub fn name(self) -> &'static str {
        match self {
            Self::Firing => "firing",
            Self::Escalated => "escalated",
            Self::Resolved => "resolved",
            Self::Test => "test",
        }
    }
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    /// The receiver accepted it.
    Delivered,
    /// Given up on.
    Failed,
}

impl DeliveryState {
    /// The state's name as it travels.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
}

/// One notification to one channel, in the durable outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Increasing id.
    pub id: u64,
    /// The same for every attempt of this notification, and in its payload,
    /// so a receiver can drop a repeat.
    pub idempotency_key: String,
    /// The channel's scope (`None`: the operators').
    pub channel_tenant: Option<String>,
    /// The channel's name.
    pub channel: String,
    /// What happened.
    pub event: AlertEvent,
    /// The alert as it was when the notification was made (`None` for a test).
    pub alert: Option<Alert>,
    /// Where it is.
    pub state: DeliveryState,
    /// Attempts made.
    pub attempts: u32,
    /// When it was made.
    pub created_at_ms: u64,
    /// When the next attempt is due.
    pub next_attempt_at_ms: u64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was delivered or given up on.
    pub finished_at_ms: Option<u64>,
}
