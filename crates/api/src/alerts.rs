//! Alerting: rules, channels, alerts and the deliveries of their notifications.
//!
//! Kinds, severities and states travel as the kebab-case names listed on
//! each field; the server refuses an unknown one naming the valid ones.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

fn default_one() -> u64 {
    1
}

fn default_severity() -> String {
    "warning".to_owned()
}

/// `PUT /v1/alert-rules/{rule}` (or the tenant's) body: creates or replaces the rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertRuleBody {
    /// What it measures: `error-rate` (percent), `p99-ms`, `traps`,
    /// `deadlines`, `limit-hits`, `storage-errors` (counts in the window),
    /// `quota-use` (percent), `fallbacks`, `failed-promotes`,
    /// `automatic-rollbacks` (counts in the window), `anomaly`,
    /// `backup-failures` (count in the window) or `overdue-milestones` (the
    /// tenant's overdue implementation milestones now).
    pub kind: String,
    /// For `anomaly`: `requests`, `error-rate` or `p99-ms`.
    #[serde(default)]
    pub series: Option<String>,
    /// Only this module (default: every module).
    #[serde(default)]
    pub module: Option<String>,
    /// The value at or past which it fires (for `anomaly`: standard deviations).
    pub threshold: f64,
    /// The span measured, in seconds (1 to 600).
    pub window_secs: u64,
    /// The least evidence before judging: requests for `error-rate` and
    /// `p99-ms`, samples for `anomaly` (default 1).
    #[serde(default = "default_one")]
    pub min_count: u64,
    /// `info`, `warning` (default) or `critical`.
    #[serde(default = "default_severity")]
    pub severity: String,
    /// The escalation chain: channel names of the same scope, the first told when it fires.
    #[serde(default)]
    pub channels: Vec<String>,
    /// Seconds unacknowledged before the next channel is told (0: never).
    #[serde(default)]
    pub escalate_after_secs: u64,
}

/// An alert rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlertRule {
    /// Its name.
    pub name: String,
    /// The tenant whose rule it is (`null`: global).
    pub tenant: Option<String>,
    /// What it measures, and how.
    #[serde(flatten)]
    pub body: AlertRuleBody,
    /// Who last wrote it.
    pub updated_by: String,
    /// When, in milliseconds since the Unix epoch.
    pub updated_at_ms: u64,
}

/// A list of rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlertRuleList {
    /// The rules, by name.
    pub rules: Vec<AlertRule>,
}

/// `POST /v1/channels` (or the tenant's) body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChannel {
    /// Its name (kebab-case), unique in its scope.
    pub name: String,
    /// `webhook`, `slack` or `email`.
    #[serde(rename = "type")]
    pub kind: String,
    /// For `webhook` and `slack`: the URL (its origin must be allowed by the operator).
    #[serde(default)]
    pub url: Option<String>,
    /// For `email`: the recipients.
    #[serde(default)]
    pub to: Vec<String>,
}

/// A channel, as listed: Slack URLs show only their origin (the URL is the credential).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Channel {
    /// Its name.
    pub name: String,
    /// The tenant whose channel it is (`null`: the operators').
    pub tenant: Option<String>,
    /// `webhook`, `slack` or `email`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Where it sends (Slack: origin only).
    pub target: String,
    /// Whether webhook bodies are signed.
    pub signed: bool,
    /// Who made it.
    pub created_by: String,
    /// When, in milliseconds since the Unix epoch.
    pub created_at_ms: u64,
}

/// The answer to making a channel: the only time its secret is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreatedChannel {
    /// The channel.
    pub channel: Channel,
    /// For a webhook: the secret its bodies are signed with
    /// (`x-modhost-signature`); keep it, it is not shown again.
    pub secret: Option<String>,
}

/// A list of channels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChannelList {
    /// The channels, by name.
    pub channels: Vec<Channel>,
}

/// An alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Alert {
    /// Its id.
    pub id: u64,
    /// The rule's name.
    pub rule: String,
    /// The rule's tenant (`null`: a global rule).
    pub rule_tenant: Option<String>,
    /// The rule's kind.
    pub kind: String,
    /// The tenant concerned.
    pub tenant: Option<String>,
    /// The module concerned.
    pub module: Option<String>,
    /// `firing`, `acknowledged` or `resolved`.
    pub state: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// The measured value when it fired or last escalated.
    pub value: f64,
    /// The rule's threshold.
    pub threshold: f64,
    /// What happened.
    pub summary: String,
    /// How many channels of the chain have been told.
    pub escalation: u32,
    /// When it fired (ms since the epoch).
    pub fired_at_ms: u64,
    /// Who acknowledged it.
    pub acknowledged_by: Option<String>,
    /// When.
    pub acknowledged_at_ms: Option<u64>,
    /// When it resolved.
    pub resolved_at_ms: Option<u64>,
    /// Notifications are held until then.
    pub silenced_until_ms: Option<u64>,
}

/// A list of alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlertList {
    /// The alerts, newest first.
    pub alerts: Vec<Alert>,
}

/// `GET …/alerts` query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AlertsQuery {
    /// Only alerts in this state: `firing`, `acknowledged` or `resolved`.
    pub state: Option<String>,
    /// Only alerts about this tenant (operators' listing).
    pub tenant: Option<String>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<usize>,
}

/// `POST …/alerts/{id}/silence` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SilenceRequest {
    /// How long notifications about this rule and subject are held, in seconds (at most 30 days).
    pub for_secs: u64,
}

/// One notification to one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Delivery {
    /// Its id.
    pub id: u64,
    /// The key every attempt carries, for receivers to drop repeats.
    pub idempotency_key: String,
    /// The channel.
    pub channel: String,
    /// The channel's tenant (`null`: the operators').
    pub channel_tenant: Option<String>,
    /// `firing`, `escalated`, `resolved` or `test`.
    pub event: String,
    /// The alert (`null` for a test).
    pub alert_id: Option<u64>,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    /// Attempts made.
    pub attempts: u32,
    /// When it was made (ms since the epoch).
    pub created_at_ms: u64,
    /// When the next attempt is due.
    pub next_attempt_at_ms: u64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was delivered or given up.
    pub finished_at_ms: Option<u64>,
}

/// A list of deliveries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryList {
    /// Pending ones first, then finished ones, newest first.
    pub deliveries: Vec<Delivery>,
}
