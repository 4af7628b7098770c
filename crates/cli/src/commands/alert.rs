//! `modhost alert …` and `modhost channel …`: alert rules, alerts, notification channels and their deliveries.
//!
//! Every command works on the operators' (global) scope, or with
//! `--tenant T` on that tenant's own.

use modhost_api::{
    Alert, AlertList, AlertRule, AlertRuleBody, AlertRuleList, Channel, ChannelList, CreatedChannel,
    Delivery, DeliveryList, NewChannel, SilenceRequest,
};
use serde_json::json;

use crate::client::{path, with_query};
use crate::commands::Context;
use crate::error::CliError;
use crate::output::{format_ms, table};

/// The path of `resource` in the scope: `/v1/<resource>` or `/v1/tenants/<t>/<resource>`.
fn scoped(tenant: Option<&str>, rest: &[&str]) -> String {
    let mut segments = vec!["v1"];
    if let Some(tenant) = tenant {
        segments.extend(["tenants", tenant]);
    }
    segments.extend(rest);
    path(&segments)
}

/// `PUT …/alert-rules/{name}`.
pub fn put_rule(
    ctx: &Context,
    tenant: Option<&str>,
    name: &str,
    body: &AlertRuleBody,
) -> Result<(), CliError> {
    let rule: AlertRule = ctx.client.put_as(&scoped(tenant, &["alert-rules", name]), body)?;
    ctx.show(&rule, |rule| {
        format!("alert rule {} saved: {}", rule.name, describe_rule(rule))
    });
    Ok(())
}

fn describe_rule(rule: &AlertRule) -> String {
    let body = &rule.body;
    let what = match &body.series {
        Some(series) => format!("{} of {series} past {} σ", body.kind, body.threshold),
        None => format!("{} ≥ {}", body.kind, body.threshold),
    };
    let chain = if body.channels.is_empty() {
        "no channels".to_owned()
    } else if body.escalate_after_secs > 0 {
        format!(
            "{} (escalating every {} s)",
            body.channels.join(" → "),
            body.escalate_after_secs
        )
    } else {
        body.channels.join(", ")
    };
    format!(
        "{what} over {} s{}, {}, {chain}",
        body.window_secs,
        body.module
            .as_deref()
            .map(|module| format!(" on {module}"))
            .unwrap_or_default(),
        body.severity
    )
}

/// `GET …/alert-rules`.
pub fn list_rules(ctx: &Context, tenant: Option<&str>) -> Result<(), CliError> {
    let list: AlertRuleList = ctx.client.get_as(&scoped(tenant, &["alert-rules"]))?;
    ctx.show(&list, |list| {
        if list.rules.is_empty() {
            return "no alert rules".to_owned();
        }
        let rows = list
            .rules
            .iter()
            .map(|rule| vec![rule.name.clone(), describe_rule(rule)])
            .collect();
        table(&["rule", "fires when"], rows)
    });
    Ok(())
}

/// `DELETE …/alert-rules/{name}`.
pub fn remove_rule(ctx: &Context, tenant: Option<&str>, name: &str) -> Result<(), CliError> {
    ctx.client.delete(&scoped(tenant, &["alert-rules", name]))?;
    ctx.show(&json!({ "deleted": name }), |_| {
        format!("alert rule {name} deleted")
    });
    Ok(())
}

/// `GET /v1/alerts` (or the tenant's).
pub fn list_alerts(
    ctx: &Context,
    tenant: Option<&str>,
    state: Option<String>,
    limit: Option<u32>,
) -> Result<(), CliError> {
    let query = [("state", state), ("limit", limit.map(|limit| limit.to_string()))];
    let list: AlertList = ctx
        .client
        .get_as(&with_query(&scoped(tenant, &["alerts"]), &query))?;
    ctx.show(&list, |list| {
        if list.alerts.is_empty() {
            return "no alerts".to_owned();
        }
        let rows = list
            .alerts
            .iter()
            .map(|alert| {
                vec![
                    alert.id.to_string(),
                    alert.state.clone(),
                    alert.severity.clone(),
                    alert.rule.clone(),
                    subject(alert),
                    format_ms(alert.fired_at_ms),
                    alert.summary.clone(),
                ]
            })
            .collect();
        table(
            &["id", "state", "severity", "rule", "subject", "fired", "summary"],
            rows,
        )
    });
    Ok(())
}

fn subject(alert: &Alert) -> String {
    match (&alert.tenant, &alert.module) {
        (Some(tenant), Some(module)) => format!("{tenant}/{module}"),
        (Some(tenant), None) => tenant.clone(),
        _ => "host".to_owned(),
    }
}

/// `POST …/alerts/{id}/ack`.
pub fn acknowledge(ctx: &Context, tenant: Option<&str>, id: u64) -> Result<(), CliError> {
    let alert: Alert = ctx
        .client
        .post_as(&scoped(tenant, &["alerts", &id.to_string(), "ack"]), &json!({}))?;
    ctx.show(&alert, |alert| {
        format!(
            "alert {} acknowledged: {} on {}",
            alert.id,
            alert.rule,
            subject(alert)
        )
    });
    Ok(())
}

/// `POST …/alerts/{id}/silence`.
pub fn silence(ctx: &Context, tenant: Option<&str>, id: u64, for_secs: u64) -> Result<(), CliError> {
    let alert: Alert = ctx.client.post_as(
        &scoped(tenant, &["alerts", &id.to_string(), "silence"]),
        &SilenceRequest { for_secs },
    )?;
    ctx.show(&alert, |alert| {
        format!(
            "notifications about {} on {} held until {}",
            alert.rule,
            subject(alert),
            alert.silenced_until_ms.map(format_ms).unwrap_or_default()
        )
    });
    Ok(())
}

/// `GET /v1/deliveries` (or the tenant's).
pub fn deliveries(ctx: &Context, tenant: Option<&str>) -> Result<(), CliError> {
    let list: DeliveryList = ctx.client.get_as(&scoped(tenant, &["deliveries"]))?;
    ctx.show(&list, |list| {
        if list.deliveries.is_empty() {
            return "no deliveries".to_owned();
        }
        let rows = list
            .deliveries
            .iter()
            .map(|delivery| {
                vec![
                    delivery.id.to_string(),
                    delivery.channel.clone(),
                    delivery.event.clone(),
                    delivery
                        .alert_id
                        .map(|id| id.to_string())
                        .unwrap_or_else(|| "-".to_owned()),
                    delivery.state.clone(),
                    delivery.attempts.to_string(),
                    delivery.last_error.clone().unwrap_or_default(),
                ]
            })
            .collect();
        table(
            &[
                "id",
                "channel",
                "event",
                "alert",
                "state",
                "attempts",
                "last error",
            ],
            rows,
        )
    });
    Ok(())
}

/// `POST …/channels`.
pub fn add_channel(ctx: &Context, tenant: Option<&str>, channel: NewChannel) -> Result<(), CliError> {
    let created: CreatedChannel = ctx.client.post_as(&scoped(tenant, &["channels"]), &channel)?;
    ctx.show(&created, |created| {
        let mut text = format!(
            "channel {} added: {} to {}",
            created.channel.name, created.channel.kind, created.channel.target
        );
        if let Some(secret) = &created.secret {
            text.push_str(&format!(
                "\nsigning secret (shown once; verify x-modhost-signature with it):\n{secret}"
            ));
        }
        text
    });
    Ok(())
}

/// `GET …/channels`.
pub fn list_channels(ctx: &Context, tenant: Option<&str>) -> Result<(), CliError> {
    let list: ChannelList = ctx.client.get_as(&scoped(tenant, &["channels"]))?;
    ctx.show(&list, |list| {
        if list.channels.is_empty() {
            return "no channels".to_owned();
        }
        let rows = list
            .channels
            .iter()
            .map(|channel| {
                vec![
                    channel.name.clone(),
                    channel.kind.clone(),
                    channel.target.clone(),
                    if channel.signed { "yes" } else { "no" }.to_owned(),
                    channel.created_by.clone(),
                ]
            })
            .collect();
        table(&["channel", "type", "target", "signed", "created by"], rows)
    });
    Ok(())
}

/// `POST …/channels/{name}/test`.
pub fn test_channel(ctx: &Context, tenant: Option<&str>, name: &str) -> Result<(), CliError> {
    let delivery: Delivery = ctx
        .client
        .post_as(&scoped(tenant, &["channels", name, "test"]), &json!({}))?;
    ctx.show(&delivery, |delivery| {
        format!(
            "test notification {} queued for channel {}; see `modhost alert deliveries` for the outcome",
            delivery.idempotency_key, delivery.channel
        )
    });
    Ok(())
}

/// `DELETE …/channels/{name}`.
pub fn remove_channel(ctx: &Context, tenant: Option<&str>, name: &str) -> Result<(), CliError> {
    let channel: Channel = ctx.client.delete_as(&scoped(tenant, &["channels", name]))?;
    ctx.show(&channel, |channel| format!("channel {} removed", channel.name));
    Ok(())
}
