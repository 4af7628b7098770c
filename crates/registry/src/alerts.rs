//! Alerting records: rules and channels per scope, alerts with one open per (rule, subject), and the durable outbox.
//!
//! Trees: `alert_rules` and `alert_channels` keyed by (scope, name), where
//! the scope is the tenant id or `*` for the operators'; `alerts` by id;
//! `alert_open` maps (rule scope, rule, subject) to the open alert's id, which
//! is how alerts are deduplicated; `alert_silences` holds silences by the
//! same key, so a silence outlives one alert; `outbox` holds pending
//! deliveries by id and `outbox_done` the delivered and given-up ones. An
//! alert's change and the deliveries it causes are one batch: a notification
//! exists exactly when the change that caused it was written.

use crate::alert_model::{
    Alert, AlertRule, AlertState, Channel, ChannelTarget, Delivery, DeliveryState, RuleKind,
};
use crate::audit::AuditDraft;
use crate::error::RegistryError;
use crate::model::{check_tenant_id, now_ms};
use crate::records::{decode, encode};
use crate::registry::{Registry, pair_key};
use crate::store::{Batch, Tree};

pub(crate) const RULES: Tree = Tree::new("alert_rules");
pub(crate) const CHANNELS: Tree = Tree::new("alert_channels");
pub(crate) const ALERTS: Tree = Tree::new("alerts");
pub(crate) const OPEN: Tree = Tree::new("alert_open");
pub(crate) const SILENCES: Tree = Tree::new("alert_silences");
pub(crate) const OUTBOX: Tree = Tree::new("outbox");
pub(crate) const OUTBOX_DONE: Tree = Tree::new("outbox_done");
/// Set once the default rules were written, so a deleted default stays deleted.
const DEFAULTS_MARKER: &[u8] = b"alert_defaults_seeded";
const META: Tree = Tree::new("meta");

/// The key part naming a scope: a tenant id, or `*` for the operators'.
fn scope(tenant: Option<&str>) -> &str {
    tenant.unwrap_or("*")
}

fn scoped(tenant: Option<&str>, name: &str) -> Vec<u8> {
    pair_key(scope(tenant), name)
}

/// The dedup key of an alert: (rule scope, rule, subject).
fn open_key(alert: &Alert) -> Vec<u8> {
    let mut key = scoped(alert.rule_tenant.as_deref(), &alert.rule);
    key.push(0);
    key.extend_from_slice(alert.subject().as_bytes());
    key
}

fn check_name(field: &str, name: &str) -> Result<(), RegistryError> {
    check_tenant_id(name).map_err(|_| RegistryError::InvalidInput {
        field: field.to_owned(),
        message: format!(
            "`{}` must be kebab-case: lower-case letters, digits and single dashes, starting with a letter",
            name.chars().take(64).collect::<String>()
        ),
    })
}

fn scope_label(tenant: Option<&str>) -> String {
    match tenant {
        Some(tenant) => format!("tenant `{tenant}`"),
        None => "the operators".to_owned(),
    }
}

/// The longest span a rule may measure: what the host keeps of its calls.
pub const MAX_RULE_WINDOW_SECS: u64 = 600;
/// The most rules one scope may have (each is judged every evaluation).
pub const MAX_RULES_PER_SCOPE: usize = 50;
/// The most channels one scope may have.
pub const MAX_CHANNELS_PER_SCOPE: usize = 20;

/// Which alerts to list.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    /// Only alerts about this tenant.
    pub tenant: Option<String>,
    /// Only alerts in this state.
    pub state: Option<AlertState>,
    /// At most this many, newest first.
    pub limit: usize,
}

impl Registry {
    /// Writes a rule (creating or replacing it) after checking it.
    pub fn put_alert_rule(&self, rule: AlertRule, actor: &str) -> Result<AlertRule, RegistryError> {
        let target = format!("{}:{}", scope(rule.tenant.as_deref()), rule.name);
        let draft = AuditDraft::ok(actor, "alert-rule.put", target, rule.tenant.as_deref());
        let result = self.checked_rule(&rule).and_then(|()| {
            let mut rule = rule.clone();
            rule.updated_by = actor.to_owned();
            rule.updated_at_ms = now_ms();
            let mut draft = draft.clone();
            draft.detail = Some(format!(
                "{} ≥ {} over {} s, channels [{}]",
                rule.kind.name(),
                rule.threshold,
                rule.window_secs,
                rule.channels.join(", ")
            ));
            self.commit_with_audit(
                RULES,
                &scoped(rule.tenant.as_deref(), &rule.name),
                &encode(&rule)?,
                draft,
            )?;
            Ok(rule)
        });
        if let Err(error) = &result {
            self.audit_refusal(draft, error);
        }
        result
    }

    fn checked_rule(&self, rule: &AlertRule) -> Result<(), RegistryError> {
        let invalid = |field: &str, message: String| RegistryError::InvalidInput {
            field: field.to_owned(),
            message,
        };
        check_name("name", &rule.name)?;
        if let Some(tenant) = &rule.tenant {
            self.tenant(tenant)?;
        }
        if let Some(module) = &rule.module {
            check_name("module", module)?;
        }
        if !rule.threshold.is_finite() || rule.threshold < 0.0 {
            return Err(invalid("threshold", "must be a number of at least 0".to_owned()));
        }
        if rule.window_secs == 0 || rule.window_secs > MAX_RULE_WINDOW_SECS {
            return Err(invalid(
                "window_secs",
                format!(
                    "is {}; it must be between 1 and {MAX_RULE_WINDOW_SECS}",
                    rule.window_secs
                ),
            ));
        }
        match (rule.kind, rule.series) {
            (RuleKind::Anomaly, None) => {
                return Err(invalid(
                    "series",
                    "an anomaly rule names the series it follows: requests, error-rate or p99-ms".to_owned(),
                ));
            }
            (RuleKind::Anomaly, Some(_)) | (_, None) => {}
            (kind, Some(_)) => {
                return Err(invalid(
                    "series",
                    format!("only anomaly rules follow a series; `{}` does not", kind.name()),
                ));
            }
        }
        let others = self
            .alert_rules(Some(rule.tenant.as_deref()))?
            .into_iter()
            .filter(|existing| existing.name != rule.name)
            .count();
        if others >= MAX_RULES_PER_SCOPE {
            return Err(RegistryError::Conflict(format!(
                "{} already has {MAX_RULES_PER_SCOPE} alert rules, the most allowed; remove one first",
                scope_label(rule.tenant.as_deref())
            )));
        }
        if rule.channels.len() > 8 {
            return Err(invalid("channels", "name at most 8 channels".to_owned()));
        }
        for (index, channel) in rule.channels.iter().enumerate() {
            if rule.channels[..index].contains(channel) {
                return Err(invalid("channels", format!("channel `{channel}` is named twice")));
            }
            if self.channel(rule.tenant.as_deref(), channel)?.is_none() {
                return Err(invalid(
                    "channels",
                    format!(
                        "{} has no channel `{channel}`; add it first",
                        scope_label(rule.tenant.as_deref())
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Writes the default rules once, on a store that never had them.
    pub fn seed_alert_rules(&self, defaults: Vec<AlertRule>) -> Result<bool, RegistryError> {
        if self.inner.store.get(META, DEFAULTS_MARKER)?.is_some() {
            return Ok(false);
        }
        let mut batch = Batch::new();
        for rule in defaults {
            batch.put(RULES, scoped(rule.tenant.as_deref(), &rule.name), encode(&rule)?);
        }
        batch.put(META, DEFAULTS_MARKER, b"1".to_vec());
        self.inner.store.apply(&batch)?;
        self.flush()?;
        Ok(true)
    }

    /// Deletes a rule; its open alerts resolve at the next evaluation.
    pub fn delete_alert_rule(
        &self,
        tenant: Option<&str>,
        name: &str,
        actor: &str,
    ) -> Result<AlertRule, RegistryError> {
        let target = format!("{}:{name}", scope(tenant));
        let draft = AuditDraft::ok(actor, "alert-rule.delete", target, tenant);
        let result = match self.alert_rule(tenant, name)? {
            None => Err(RegistryError::NotFound(format!(
                "{} has no alert rule `{name}`",
                scope_label(tenant)
            ))),
            Some(rule) => {
                let mut batch = Batch::new();
                batch.delete(RULES, scoped(tenant, name));
                self.commit_audited(batch, draft.clone()).map(|_| rule)
            }
        };
        if let Err(error) = &result {
            self.audit_refusal(draft, error);
        }
        result
    }

    /// One rule.
    pub fn alert_rule(&self, tenant: Option<&str>, name: &str) -> Result<Option<AlertRule>, RegistryError> {
        self.record(RULES, &scoped(tenant, name))
    }

    /// The rules of one scope (`Some(None)`: the operators'), or (`None`) every rule.
    pub fn alert_rules(&self, tenant: Option<Option<&str>>) -> Result<Vec<AlertRule>, RegistryError> {
        match tenant {
            Some(tenant) => {
                let mut prefix = scope(tenant).as_bytes().to_vec();
                prefix.push(0);
                self.records(RULES, &prefix)
            }
            None => self.records(RULES, &[]),
        }
    }

    /// Adds a channel; the name must be free in its scope.
    pub fn create_channel(&self, channel: Channel, actor: &str) -> Result<Channel, RegistryError> {
        let target = format!("{}:{}", scope(channel.tenant.as_deref()), channel.name);
        let draft = AuditDraft::ok(actor, "channel.create", target, channel.tenant.as_deref());
        let result = self.checked_channel(&channel).and_then(|()| {
            let key = scoped(channel.tenant.as_deref(), &channel.name);
            let mut batch = Batch::new();
            batch.put(CHANNELS, key.clone(), encode(&channel)?);
            batch.require_absent(CHANNELS, key);
            let mut draft = draft.clone();
            draft.detail = Some(format!("type {}", channel.target.type_name()));
            match self.commit_audited(batch, draft)? {
                Some(_) => Ok(channel.clone()),
                None => Err(RegistryError::Conflict(format!(
                    "{} already has a channel `{}`; remove it first or pick another name",
                    scope_label(channel.tenant.as_deref()),
                    channel.name
                ))),
            }
        });
        if let Err(error) = &result {
            self.audit_refusal(draft, error);
        }
        result
    }

    fn checked_channel(&self, channel: &Channel) -> Result<(), RegistryError> {
        check_name("name", &channel.name)?;
        if let Some(tenant) = &channel.tenant {
            self.tenant(tenant)?;
        }
        if self.channels(channel.tenant.as_deref())?.len() >= MAX_CHANNELS_PER_SCOPE {
            return Err(RegistryError::Conflict(format!(
                "{} already has {MAX_CHANNELS_PER_SCOPE} channels, the most allowed; remove one first",
                scope_label(channel.tenant.as_deref())
            )));
        }
        if let ChannelTarget::Email { to } = &channel.target
            && (to.is_empty() || to.len() > 20)
        {
            return Err(RegistryError::InvalidInput {
                field: "to".to_owned(),
                message: "name between 1 and 20 recipients".to_owned(),
            });
        }
        Ok(())
    }

    /// Removes a channel no rule of its scope uses.
    pub fn delete_channel(
        &self,
        tenant: Option<&str>,
        name: &str,
        actor: &str,
    ) -> Result<Channel, RegistryError> {
        let target = format!("{}:{name}", scope(tenant));
        let draft = AuditDraft::ok(actor, "channel.delete", target, tenant);
        let result = self.channel(tenant, name).and_then(|found| {
            let Some(channel) = found else {
                return Err(RegistryError::NotFound(format!(
                    "{} has no channel `{name}`",
                    scope_label(tenant)
                )));
            };
            let users: Vec<String> = self
                .alert_rules(Some(tenant))?
                .into_iter()
                .filter(|rule| rule.channels.iter().any(|channel| channel == name))
                .map(|rule| rule.name)
                .collect();
            if !users.is_empty() {
                return Err(RegistryError::Conflict(format!(
                    "channel `{name}` is used by the rules {}; take it out of them first",
                    users.join(", ")
                )));
            }
            let mut batch = Batch::new();
            batch.delete(CHANNELS, scoped(tenant, name));
            self.commit_audited(batch, draft.clone()).map(|_| channel)
        });
        if let Err(error) = &result {
            self.audit_refusal(draft, error);
        }
        result
    }

    /// One channel.
    pub fn channel(&self, tenant: Option<&str>, name: &str) -> Result<Option<Channel>, RegistryError> {
        self.record(CHANNELS, &scoped(tenant, name))
    }

    /// The channels of one scope.
    pub fn channels(&self, tenant: Option<&str>) -> Result<Vec<Channel>, RegistryError> {
        let mut prefix = scope(tenant).as_bytes().to_vec();
        prefix.push(0);
        self.records(CHANNELS, &prefix)
    }

    /// The open (firing or acknowledged) alert of a (rule, subject), if any.
    pub fn open_alert(&self, like: &Alert) -> Result<Option<Alert>, RegistryError> {
        match self.inner.store.get(OPEN, &open_key(like))? {
            Some(id) => self.alert_by_key(&id),
            None => Ok(None),
        }
    }

    fn alert_by_key(&self, id: &[u8]) -> Result<Option<Alert>, RegistryError> {
        self.record(ALERTS, id)
    }

    /// Every open alert.
    pub fn open_alerts(&self) -> Result<Vec<Alert>, RegistryError> {
        let mut alerts = Vec::new();
        for entry in self.inner.store.scan_prefix(OPEN, &[])? {
            let (_, id) = entry?;
            if let Some(alert) = self.alert_by_key(&id)? {
                alerts.push(alert);
            }
        }
        Ok(alerts)
    }

    /// One alert.
    pub fn alert(&self, id: u64) -> Result<Alert, RegistryError> {
        self.alert_by_key(&id.to_be_bytes())?
            .ok_or_else(|| RegistryError::NotFound(format!("there is no alert {id}")))
    }

    /// Alerts, newest first.
    pub fn alerts(&self, filter: &AlertFilter) -> Result<Vec<Alert>, RegistryError> {
        let mut alerts = Vec::new();
        let limit = filter.limit.clamp(1, 1000);
        for entry in self
            .inner
            .store
            .scan_prefix(ALERTS, &[])?
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            let alert: Alert = decode(&entry?.1)?;
            let tenant_matches = filter.tenant.is_none() || alert.tenant == filter.tenant;
            let state_matches = filter.state.is_none_or(|state| state == alert.state);
            if tenant_matches && state_matches {
                alerts.push(alert);
                if alerts.len() == limit {
                    break;
                }
            }
        }
        Ok(alerts)
    }

    /// A new id for an alert or a delivery.
    pub fn next_alert_id(&self) -> Result<u64, RegistryError> {
        Ok(self.inner.store.next_id()?)
    }

    /// Writes an alert's change together with the deliveries it causes (and
    /// an audit entry when given), in one batch, then flushes.
    pub fn save_alert(
        &self,
        alert: &Alert,
        deliveries: &[Delivery],
        audited: Option<AuditDraft>,
    ) -> Result<(), RegistryError> {
        let mut batch = Batch::new();
        batch.put(ALERTS, alert.id.to_be_bytes(), encode(alert)?);
        match alert.state {
            AlertState::Resolved => batch.delete(OPEN, open_key(alert)),
            AlertState::Firing | AlertState::Acknowledged => {
                batch.put(OPEN, open_key(alert), alert.id.to_be_bytes().to_vec())
            }
        };
        for delivery in deliveries {
            batch.put(OUTBOX, delivery.id.to_be_bytes(), encode(delivery)?);
        }
        match audited {
            Some(draft) => {
                self.commit_audited(batch, draft)?;
            }
            None => {
                self.inner.store.apply(&batch)?;
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Acknowledges an open alert: it stops escalating.
    pub fn acknowledge_alert(&self, id: u64, actor: &str) -> Result<Alert, RegistryError> {
        let mut alert = self.alert(id)?;
        if alert.state != AlertState::Firing {
            return Err(RegistryError::Conflict(format!(
                "alert {id} is {}; only a firing alert can be acknowledged",
                alert.state.name()
            )));
        }
        alert.state = AlertState::Acknowledged;
        alert.acknowledged = Some((actor.to_owned(), now_ms()));
        let draft = AuditDraft::ok(
            actor,
            "alert.acknowledge",
            format!("alert {id}: {} on {}", alert.rule, alert.subject()),
            alert.tenant.as_deref(),
        );
        self.save_alert(&alert, &[], Some(draft))?;
        Ok(alert)
    }

    /// Holds notifications of an alert's (rule, subject) until `until_ms`,
    /// this alert and any that fires again for the pair before then.
    pub fn silence_alert(&self, id: u64, until_ms: u64, actor: &str) -> Result<Alert, RegistryError> {
        let mut alert = self.alert(id)?;
        alert.silenced_until_ms = Some(until_ms);
        let mut batch = Batch::new();
        batch.put(ALERTS, id.to_be_bytes(), encode(&alert)?);
        batch.put(SILENCES, open_key(&alert), until_ms.to_be_bytes().to_vec());
        let mut draft = AuditDraft::ok(
            actor,
            "alert.silence",
            format!("alert {id}: {} on {}", alert.rule, alert.subject()),
            alert.tenant.as_deref(),
        );
        draft.detail = Some(format!("until {until_ms} (ms since the epoch)"));
        self.commit_audited(batch, draft)?;
        Ok(alert)
    }

    /// Until when notifications about this alert's (rule, subject) are held.
    pub fn silenced_until(&self, like: &Alert) -> Result<Option<u64>, RegistryError> {
        Ok(self
            .inner
            .store
            .get(SILENCES, &open_key(like))?
            .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_slice()).ok())
            .map(u64::from_be_bytes)
            .filter(|until| *until > now_ms()))
    }

    /// Pending deliveries, oldest first (at most `limit`).
    pub fn pending_deliveries(&self, limit: usize) -> Result<Vec<Delivery>, RegistryError> {
        let mut pending = Vec::new();
        for entry in self.inner.store.scan_prefix(OUTBOX, &[])?.take(limit) {
            pending.push(decode(&entry?.1)?);
        }
        Ok(pending)
    }

    /// Writes a delivery's new state: pending ones stay in the outbox, finished ones move out of it.
    pub fn save_delivery(
        &self,
        delivery: &Delivery,
        audited: Option<AuditDraft>,
    ) -> Result<(), RegistryError> {
        let key = delivery.id.to_be_bytes();
        let mut batch = Batch::new();
        match delivery.state {
            DeliveryState::Pending => {
                batch.put(OUTBOX, key, encode(delivery)?);
            }
            DeliveryState::Delivered | DeliveryState::Failed => {
                batch.delete(OUTBOX, key);
                batch.put(OUTBOX_DONE, key, encode(delivery)?);
            }
        }
        match audited {
            Some(draft) => {
                self.commit_audited(batch, draft)?;
            }
            None => {
                self.inner.store.apply(&batch)?;
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Adds deliveries to the outbox (a test notification), durably.
    pub fn enqueue_deliveries(&self, deliveries: &[Delivery]) -> Result<(), RegistryError> {
        let mut batch = Batch::new();
        for delivery in deliveries {
            batch.put(OUTBOX, delivery.id.to_be_bytes(), encode(delivery)?);
        }
        self.inner.store.apply(&batch)?;
        self.flush()
    }

    /// Recent deliveries, newest first: pending ones, then finished ones, at most `limit`.
    pub fn deliveries(
        &self,
        tenant: Option<Option<&str>>,
        limit: usize,
    ) -> Result<Vec<Delivery>, RegistryError> {
        let limit = limit.clamp(1, 1000);
        let mut found = Vec::new();
        for tree in [OUTBOX, OUTBOX_DONE] {
            for entry in self
                .inner
                .store
                .scan_prefix(tree, &[])?
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
            {
                let delivery: Delivery = decode(&entry?.1)?;
                if tenant.is_none_or(|tenant| delivery.channel_tenant.as_deref() == tenant) {
                    found.push(delivery);
                    if found.len() == limit {
                        return Ok(found);
                    }
                }
            }
        }
        Ok(found)
    }

    /// Deletes resolved alerts and finished deliveries older than `before_ms`; returns how many went.
    pub fn prune_alert_history(&self, before_ms: u64) -> Result<u64, RegistryError> {
        let mut batch = Batch::new();
        let mut count = 0;
        for entry in self.inner.store.scan_prefix(ALERTS, &[])? {
            let (key, bytes) = entry?;
            let alert: Alert = decode(&bytes)?;
            if alert.resolved_at_ms.is_some_and(|at| at < before_ms) {
                batch.delete(ALERTS, key);
                count += 1;
            }
        }
        for entry in self.inner.store.scan_prefix(OUTBOX_DONE, &[])? {
            let (key, bytes) = entry?;
            let delivery: Delivery = decode(&bytes)?;
            if delivery.finished_at_ms.is_some_and(|at| at < before_ms) {
                batch.delete(OUTBOX_DONE, key);
                count += 1;
            }
        }
        if count > 0 {
            self.inner.store.apply(&batch)?;
            self.flush()?;
        }
        Ok(count)
    }
}
