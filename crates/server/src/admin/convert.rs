//! The registry's records as the API's wire types ([`modhost_api`]).

use modhost_api as api;
use modhost_registry as registry;

fn version(version: Option<&semver::Version>) -> Option<String> {
    version.map(ToString::to_string)
}

pub(crate) fn tenant_kind(kind: registry::TenantKind) -> api::TenantKind {
    match kind {
        registry::TenantKind::Standard => api::TenantKind::Standard,
        registry::TenantKind::Custom => api::TenantKind::Custom,
    }
}

fn tenant_kind_in(kind: api::TenantKind) -> registry::TenantKind {
    match kind {
        api::TenantKind::Standard => registry::TenantKind::Standard,
        api::TenantKind::Custom => registry::TenantKind::Custom,
    }
}

pub(crate) fn organisation(organisation: registry::Organisation) -> api::Organisation {
    api::Organisation {
        legal_name: organisation.legal_name,
        country: organisation.country,
        contact_email: organisation.contact_email,
    }
}

fn organisation_in(organisation: api::Organisation) -> registry::Organisation {
    registry::Organisation {
        legal_name: organisation.legal_name,
        country: organisation.country,
        contact_email: organisation.contact_email,
    }
}

pub(crate) fn tenant(tenant: registry::Tenant) -> api::Tenant {
    api::Tenant {
        id: tenant.id,
        name: tenant.name,
        kind: tenant_kind(tenant.kind),
        organisation: organisation(tenant.organisation),
        features: tenant.features,
        created_at_ms: tenant.created_at_ms,
        updated_at_ms: tenant.updated_at_ms,
        suspended: tenant.suspended.map(|suspension| api::Suspension {
            at_ms: suspension.at_ms,
            reason: suspension.reason,
        }),
        plan: tenant.plan,
        monthly_value_cents: tenant.monthly_value_cents,
    }
}

pub(crate) fn new_tenant(new: api::NewTenant) -> registry::NewTenant {
    registry::NewTenant {
        id: new.id,
        name: new.name,
        kind: tenant_kind_in(new.kind),
        organisation: organisation_in(new.organisation),
        features: new.features,
        plan: new.plan,
        monthly_value_cents: new.monthly_value_cents,
    }
}

pub(crate) fn tenant_update(update: api::TenantUpdate) -> registry::TenantUpdate {
    registry::TenantUpdate {
        name: update.name,
        organisation: update.organisation.map(organisation_in),
        features: update.features,
        plan: update.plan,
        monthly_value_cents: update.monthly_value_cents,
    }
}

pub(crate) fn module_version(version: &registry::ModuleVersion) -> api::ModuleVersion {
    api::ModuleVersion {
        module: version.module.clone(),
        version: version.version.to_string(),
        kind: match version.kind {
            modhost_manifest::ModuleKind::Standard => api::ModuleKind::Standard,
            modhost_manifest::ModuleKind::Custom => api::ModuleKind::Custom,
        },
        owner: version.owner.clone(),
        sha256: version.sha256.clone(),
        size_bytes: version.size_bytes,
        published_by: version.published_by.clone(),
        published_at_ms: version.published_at_ms,
    }
}

fn deployment_event(event: registry::DeploymentEvent) -> api::DeploymentEvent {
    api::DeploymentEvent {
        seq: event.seq,
        action: match event.action {
            registry::DeploymentAction::Promote => api::DeploymentAction::Promote,
            registry::DeploymentAction::Rollback => api::DeploymentAction::Rollback,
            registry::DeploymentAction::Disable => api::DeploymentAction::Disable,
        },
        from: version(event.from.as_ref()),
        to: version(event.to.as_ref()),
        actor: event.actor,
        at_ms: event.at_ms,
        snapshot: event.snapshot,
        restored_snapshot: event.restored_snapshot,
    }
}

pub(crate) fn deployment(deployment: registry::Deployment) -> api::Deployment {
    api::Deployment {
        tenant: deployment.tenant,
        module: deployment.module,
        active: version(deployment.active.as_ref()),
        history: deployment.history.into_iter().map(deployment_event).collect(),
        canary: None,
    }
}

/// A canary for the wire.
pub(crate) fn canary(canary: &registry::Canary) -> api::Canary {
    api::Canary {
        version: canary.version.to_string(),
        percent: canary.percent,
        started_by: canary.started_by.clone(),
        started_at_ms: canary.started_at_ms,
    }
}

pub(crate) fn deployment_change(change: registry::DeploymentChange) -> api::DeploymentChange {
    api::DeploymentChange {
        changed: change.event.is_some(),
        seq: change.event.as_ref().map(|event| event.seq),
        tenant: change.tenant,
        module: change.module,
        from: version(change.from.as_ref()),
        to: version(change.to.as_ref()),
        restored_snapshot: change.restored_snapshot,
    }
}

pub(crate) fn config_version(version: registry::ConfigVersion) -> api::ConfigVersion {
    api::ConfigVersion {
        version: version.version,
        values: version.values,
        actor: version.actor,
        at_ms: version.at_ms,
        reason: version.reason,
    }
}

fn role(role: registry::Role) -> api::Role {
    match role {
        registry::Role::Operator => api::Role::Operator,
        registry::Role::TenantAdmin => api::Role::TenantAdmin,
        registry::Role::TenantViewer => api::Role::TenantViewer,
        registry::Role::Invoker => api::Role::Invoker,
    }
}

pub(crate) fn role_in(role: api::Role) -> registry::Role {
    match role {
        api::Role::Operator => registry::Role::Operator,
        api::Role::TenantAdmin => registry::Role::TenantAdmin,
        api::Role::TenantViewer => registry::Role::TenantViewer,
        api::Role::Invoker => registry::Role::Invoker,
    }
}

pub(crate) fn token(token: registry::Token) -> api::Token {
    api::Token {
        id: token.id,
        name: token.name,
        role: role(token.role),
        tenant: token.tenant,
        permissions: token.permissions,
        created_at_ms: token.created_at_ms,
        created_by: token.created_by,
        revoked_at_ms: token.revoked_at_ms,
    }
}

pub(crate) fn new_token(new: api::NewToken) -> registry::NewToken {
    registry::NewToken {
        name: new.name,
        role: role_in(new.role),
        tenant: new.tenant,
        permissions: new.permissions,
    }
}

pub(crate) fn audit_entry(entry: registry::AuditEntry) -> api::AuditEntry {
    api::AuditEntry {
        id: entry.id,
        at_ms: entry.at_ms,
        actor: entry.actor,
        action: entry.action,
        target: entry.target,
        tenant: entry.tenant,
        outcome: match entry.outcome {
            registry::AuditOutcome::Ok => api::AuditOutcome::Ok,
            registry::AuditOutcome::Denied => api::AuditOutcome::Denied,
            registry::AuditOutcome::Failed => api::AuditOutcome::Failed,
        },
        detail: entry.detail,
    }
}

/// A version's health for the wire.
pub(crate) fn version_health(
    version: &semver::Version,
    stats: &modhost_deploy::HealthStats,
) -> api::VersionHealth {
    api::VersionHealth {
        version: version.to_string(),
        requests: stats.requests,
        errors: stats.errors,
        error_rate: stats.error_rate(),
        shed: stats.shed,
        p50_ms: stats.p50_ms,
        p99_ms: stats.p99_ms,
    }
}

/// A watch for the wire.
pub(crate) fn watch(watch: &modhost_deploy::Watch) -> api::WatchReport {
    api::WatchReport {
        version: watch.version.to_string(),
        previous: watch.previous.to_string(),
        state: watch.state.name().to_owned(),
        migrated: watch.migrated,
        started_at_ms: watch.started_at_ms,
        ends_at_ms: watch.ends_at_ms,
        baseline: version_health(&watch.previous, &watch.baseline),
        current: version_health(&watch.version, &watch.current),
        verdict: watch.verdict.clone(),
    }
}

/// A rollout for the wire.
pub(crate) fn rollout(rollout: &registry::Rollout) -> api::Rollout {
    api::Rollout {
        id: rollout.id,
        module: rollout.module.clone(),
        version: rollout.version.to_string(),
        rings: rollout.rings.clone(),
        soak_secs: rollout.soak_ms / 1000,
        watch_secs: rollout.watch_ms.map(|ms| ms / 1000),
        state: rollout.state.name().to_owned(),
        ring: rollout.rings.get(rollout.ring).cloned(),
        soaking: rollout.soak_started_ms.is_some(),
        done: rollout
            .done
            .iter()
            .map(|done| api::RolloutTenant {
                tenant: done.tenant.clone(),
                ring: done.ring.clone(),
                outcome: done.outcome.clone(),
                at_ms: done.at_ms,
            })
            .collect(),
        in_flight: rollout.in_flight.clone(),
        started_by: rollout.started_by.clone(),
        started_at_ms: rollout.started_at_ms,
        updated_at_ms: rollout.updated_at_ms,
        reason: rollout.reason.clone(),
    }
}

pub(crate) fn alert_rule(rule: registry::AlertRule) -> api::AlertRule {
    api::AlertRule {
        name: rule.name,
        tenant: rule.tenant,
        body: api::AlertRuleBody {
            kind: rule.kind.name().to_owned(),
            series: rule.series.map(|series| series.name().to_owned()),
            module: rule.module,
            threshold: rule.threshold,
            window_secs: rule.window_secs,
            min_count: rule.min_count,
            severity: rule.severity.name().to_owned(),
            channels: rule.channels,
            escalate_after_secs: rule.escalate_after_secs,
        },
        updated_by: rule.updated_by,
        updated_at_ms: rule.updated_at_ms,
    }
}

pub(crate) fn channel(channel: &registry::Channel) -> api::Channel {
    let target = match &channel.target {
        registry::ChannelTarget::Webhook { url } => url.clone(),
        registry::ChannelTarget::Slack { url } => {
            let origin_end = url.find("://").map_or(0, |scheme| {
                url[scheme + 3..]
                    .find('/')
                    .map_or(url.len(), |slash| scheme + 3 + slash)
            });
            format!("{}/…", &url[..origin_end])
        }
        registry::ChannelTarget::Email { to } => to.join(", "),
    };
    api::Channel {
        name: channel.name.clone(),
        tenant: channel.tenant.clone(),
        kind: channel.target.type_name().to_owned(),
        target,
        signed: channel.secret.is_some(),
        created_by: channel.created_by.clone(),
        created_at_ms: channel.created_at_ms,
    }
}

pub(crate) fn alert(alert: registry::Alert) -> api::Alert {
    let (acknowledged_by, acknowledged_at_ms) = alert.acknowledged.clone().unzip();
    api::Alert {
        id: alert.id,
        rule: alert.rule,
        rule_tenant: alert.rule_tenant,
        kind: alert.kind.name().to_owned(),
        tenant: alert.tenant,
        module: alert.module,
        state: alert.state.name().to_owned(),
        severity: alert.severity.name().to_owned(),
        value: alert.value,
        threshold: alert.threshold,
        summary: alert.summary,
        escalation: alert.escalation,
        fired_at_ms: alert.fired_at_ms,
        acknowledged_by,
        acknowledged_at_ms,
        resolved_at_ms: alert.resolved_at_ms,
        silenced_until_ms: alert.silenced_until_ms,
    }
}

pub(crate) fn delivery(delivery: registry::Delivery) -> api::Delivery {
    api::Delivery {
        id: delivery.id,
        idempotency_key: delivery.idempotency_key,
        channel: delivery.channel,
        channel_tenant: delivery.channel_tenant,
        event: delivery.event.name().to_owned(),
        alert_id: delivery.alert.map(|alert| alert.id),
        state: delivery.state.name().to_owned(),
        attempts: delivery.attempts,
        created_at_ms: delivery.created_at_ms,
        next_attempt_at_ms: delivery.next_attempt_at_ms,
        last_error: delivery.last_error,
        finished_at_ms: delivery.finished_at_ms,
    }
}
