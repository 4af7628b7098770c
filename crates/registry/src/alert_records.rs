//! The stored form (format 1) of the alerting records: rules, channels, alerts and outbox deliveries.
//!
//! Same rules as `records.rs`: the model may change, what is written is a
//! `Stored…V1` with a `format` field; a new shape is a V2 plus a conversion.

use serde::{Deserialize, Serialize};

use crate::alert_model::{
    Alert, AlertEvent, AlertRule, AlertState, AnomalySeries, Channel, ChannelTarget, Delivery, DeliveryState,
    RuleKind, Severity,
};
use crate::records::{FORMAT, Record};

fn format_v1() -> u32 {
    1
}

/// An alert rule, format 1.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredAlertRuleV1 {
    #[serde(default = "format_v1")]
    format: u32,
    tenant: Option<String>,
    name: String,
    kind: RuleKind,
    series: Option<AnomalySeries>,
    module: Option<String>,
    threshold: f64,
    window_secs: u64,
    min_count: u64,
    severity: Severity,
    channels: Vec<String>,
    escalate_after_secs: u64,
    updated_by: String,
    updated_at_ms: u64,
}

impl Record for AlertRule {
    const NAME: &'static str = "alert rule";
    type Stored = StoredAlertRuleV1;

    fn to_stored(&self) -> StoredAlertRuleV1 {
        StoredAlertRuleV1 {
            format: FORMAT,
            tenant: self.tenant.clone(),
            name: self.name.clone(),
            kind: self.kind,
            series: self.series,
            module: self.module.clone(),
            threshold: self.threshold,
            window_secs: self.window_secs,
            min_count: self.min_count,
            severity: self.severity,
            channels: self.channels.clone(),
            escalate_after_secs: self.escalate_after_secs,
            updated_by: self.updated_by.clone(),
            updated_at_ms: self.updated_at_ms,
        }
    }

    fn from_stored(stored: StoredAlertRuleV1) -> Self {
        Self {
            tenant: stored.tenant,
            name: stored.name,
            kind: stored.kind,
            series: stored.series,
            module: stored.module,
            threshold: stored.threshold,
            window_secs: stored.window_secs,
            min_count: stored.min_count,
            severity: stored.severity,
            channels: stored.channels,
            escalate_after_secs: stored.escalate_after_secs,
            updated_by: stored.updated_by,
            updated_at_ms: stored.updated_at_ms,
        }
    }
}

/// A channel, format 1.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredChannelV1 {
    #[serde(default = "format_v1")]
    format: u32,
    tenant: Option<String>,
    name: String,
    target: ChannelTarget,
    secret: Option<String>,
    created_by: String,
    created_at_ms: u64,
}

impl Record for Channel {
    const NAME: &'static str = "channel";
    type Stored = StoredChannelV1;

    fn to_stored(&self) -> StoredChannelV1 {
        StoredChannelV1 {
            format: FORMAT,
            tenant: self.tenant.clone(),
            name: self.name.clone(),
            target: self.target.clone(),
            secret: self.secret.clone(),
            created_by: self.created_by.clone(),
            created_at_ms: self.created_at_ms,
        }
    }

    fn from_stored(stored: StoredChannelV1) -> Self {
        Self {
            tenant: stored.tenant,
            name: stored.name,
            target: stored.target,
            secret: stored.secret,
            created_by: stored.created_by,
            created_at_ms: stored.created_at_ms,
        }
    }
}

/// An alert, format 1.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredAlertV1 {
    #[serde(default = "format_v1")]
    format: u32,
    id: u64,
    rule_tenant: Option<String>,
    rule: String,
    kind: RuleKind,
    tenant: Option<String>,
    module: Option<String>,
    state: AlertState,
    severity: Severity,
    value: f64,
    threshold: f64,
    summary: String,
    escalation: u32,
    fired_at_ms: u64,
    escalated_at_ms: u64,
    acknowledged: Option<(String, u64)>,
    resolved_at_ms: Option<u64>,
    silenced_until_ms: Option<u64>,
}

impl Record for Alert {
    const NAME: &'static str = "alert";
    type Stored = StoredAlertV1;

    fn to_stored(&self) -> StoredAlertV1 {
        StoredAlertV1 {
            format: FORMAT,
            id: self.id,
            rule_tenant: self.rule_tenant.clone(),
            rule: self.rule.clone(),
            kind: self.kind,
            tenant: self.tenant.clone(),
            module: self.module.clone(),
            state: self.state,
            severity: self.severity,
            value: self.value,
            threshold: self.threshold,
            summary: self.summary.clone(),
            escalation: self.escalation,
            fired_at_ms: self.fired_at_ms,
            escalated_at_ms: self.escalated_at_ms,
            acknowledged: self.acknowledged.clone(),
            resolved_at_ms: self.resolved_at_ms,
            silenced_until_ms: self.silenced_until_ms,
        }
    }

    fn from_stored(stored: StoredAlertV1) -> Self {
        Self {
            id: stored.id,
            rule_tenant: stored.rule_tenant,
            rule: stored.rule,
            kind: stored.kind,
            tenant: stored.tenant,
            module: stored.module,
            state: stored.state,
            severity: stored.severity,
            value: stored.value,
            threshold: stored.threshold,
            summary: stored.summary,
            escalation: stored.escalation,
            fired_at_ms: stored.fired_at_ms,
            escalated_at_ms: stored.escalated_at_ms,
            acknowledged: stored.acknowledged,
            resolved_at_ms: stored.resolved_at_ms,
            silenced_until_ms: stored.silenced_until_ms,
        }
    }
}

/// An outbox delivery, format 1.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredDeliveryV1 {
    #[serde(default = "format_v1")]
    format: u32,
    id: u64,
    idempotency_key: String,
    channel_tenant: Option<String>,
    channel: String,
    event: AlertEvent,
    alert: Option<StoredAlertV1>,
    state: DeliveryState,
    attempts: u32,
    created_at_ms: u64,
    next_attempt_at_ms: u64,
    last_error: Option<String>,
    finished_at_ms: Option<u64>,
}

impl Record for Delivery {
    const NAME: &'static str = "delivery";
    type Stored = StoredDeliveryV1;

    fn to_stored(&self) -> StoredDeliveryV1 {
        StoredDeliveryV1 {
            format: FORMAT,
            id: self.id,
            idempotency_key: self.idempotency_key.clone(),
            channel_tenant: self.channel_tenant.clone(),
            channel: self.channel.clone(),
            event: self.event,
            alert: self.alert.as_ref().map(Record::to_stored),
            state: self.state,
            attempts: self.attempts,
            created_at_ms: self.created_at_ms,
            next_attempt_at_ms: self.next_attempt_at_ms,
            last_error: self.last_error.clone(),
            finished_at_ms: self.finished_at_ms,
        }
    }

    fn from_stored(stored: StoredDeliveryV1) -> Self {
        Self {
            id: stored.id,
            idempotency_key: stored.idempotency_key,
            channel_tenant: stored.channel_tenant,
            channel: stored.channel,
            event: stored.event,
            alert: stored.alert.map(Alert::from_stored),
            state: stored.state,
            attempts: stored.attempts,
            created_at_ms: stored.created_at_ms,
            next_attempt_at_ms: stored.next_attempt_at_ms,
            last_error: stored.last_error,
            finished_at_ms: stored.finished_at_ms,
        }
    }
}
