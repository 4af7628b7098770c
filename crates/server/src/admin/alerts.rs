//! Alert rules, notification channels, alerts and deliveries: the operators' (global) and each tenant's own.
//!
//! Every resource exists twice: under `/v1/…` for the operators' scope and
//! under `/v1/tenants/{tenant}/…` for a tenant's, where tenant admins manage
//! their own rules and channels and acknowledge or silence their own rules'
//! alerts; tenant viewers read. A tenant's listing of alerts shows every
//! alert about it, global rules' included. Channel targets are checked
//! against the operator's allow lists before anything is stored.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use modhost_api::{
    Alert, AlertList, AlertRule, AlertRuleBody, AlertRuleList, AlertsQuery, Channel, ChannelList,
    CreatedChannel, Delivery, DeliveryList, NewChannel, SilenceRequest,
};
use modhost_registry::{self as registry, AlertState, AnomalySeries, ChannelTarget, RuleKind, Severity};
use utoipa_axum::routes;

use crate::access::{Access, Caller};
use crate::admin::convert;
use crate::admin::table::{AppState, Routes};
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, JsonBody};

/// The alerting routes and who may call each.
pub(crate) fn routes(routes: Routes) -> Routes {
    routes
        .add(Access::Operator, routes!(list_global_rules))
        .add(Access::Operator, routes!(put_global_rule))
        .add(Access::Operator, routes!(delete_global_rule))
        .add(Access::TenantRead, routes!(list_tenant_rules))
        .add(Access::TenantAdmin, routes!(put_tenant_rule))
        .add(Access::TenantAdmin, routes!(delete_tenant_rule))
        .add(Access::Operator, routes!(list_global_channels))
        .add(Access::Operator, routes!(create_global_channel))
        .add(Access::Operator, routes!(delete_global_channel))
        .add(Access::Operator, routes!(test_global_channel))
        .add(Access::TenantRead, routes!(list_tenant_channels))
        .add(Access::TenantAdmin, routes!(create_tenant_channel))
        .add(Access::TenantAdmin, routes!(delete_tenant_channel))
        .add(Access::TenantAdmin, routes!(test_tenant_channel))
        .add(Access::Operator, routes!(list_all_alerts))
        .add(Access::Operator, routes!(acknowledge_any_alert))
        .add(Access::Operator, routes!(silence_any_alert))
        .add(Access::TenantRead, routes!(list_tenant_alerts))
        .add(Access::TenantAdmin, routes!(acknowledge_tenant_alert))
        .add(Access::TenantAdmin, routes!(silence_tenant_alert))
        .add(Access::Operator, routes!(list_all_deliveries))
        .add(Access::TenantRead, routes!(list_tenant_deliveries))
}

fn parse_named<T: Copy>(field: &str, value: &str, all: &[(T, &'static str)]) -> Result<T, ApiError> {
    all.iter()
        .find(|(_, name)| *name == value)
        .map(|(item, _)| *item)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "invalid {field}: `{}` is not one of {}",
                value.chars().take(64).collect::<String>(),
                all.iter().map(|(_, name)| *name).collect::<Vec<_>>().join(", ")
            ))
        })
}

fn rule_from(
    tenant: Option<&str>,
    name: String,
    body: AlertRuleBody,
) -> Result<registry::AlertRule, ApiError> {
    let kinds: Vec<(RuleKind, &'static str)> =
        RuleKind::ALL.iter().map(|kind| (*kind, kind.name())).collect();
    let series = [
        AnomalySeries::Requests,
        AnomalySeries::ErrorRate,
        AnomalySeries::P99Ms,
    ]
    .map(|series| (series, series.name()));
    let severities =
        [Severity::Info, Severity::Warning, Severity::Critical].map(|severity| (severity, severity.name()));
    Ok(registry::AlertRule {
        tenant: tenant.map(str::to_owned),
        name,
        kind: parse_named("kind", &body.kind, &kinds)?,
        series: body
            .series
            .as_deref()
            .map(|value| parse_named("series", value, &series))
            .transpose()?,
        module: body.module,
        threshold: body.threshold,
        window_secs: body.window_secs,
        min_count: body.min_count,
        severity: parse_named("severity", &body.severity, &severities)?,
        channels: body.channels,
        escalate_after_secs: body.escalate_after_secs,
        updated_by: String::new(),
        updated_at_ms: 0,
    })
}

fn list_rules(app: &AppState, tenant: Option<&str>) -> Result<Json<AlertRuleList>, ApiError> {
    let rules = app
        .registry
        .alert_rules(Some(tenant))?
        .into_iter()
        .map(convert::alert_rule)
        .collect();
    Ok(Json(AlertRuleList { rules }))
}

fn put_rule(
    app: &AppState,
    caller: &Caller,
    tenant: Option<&str>,
    name: String,
    body: AlertRuleBody,
) -> Result<Json<AlertRule>, ApiError> {
    let rule = rule_from(tenant, name, body)?;
    Ok(Json(convert::alert_rule(
        app.registry.put_alert_rule(rule, &caller.actor())?,
    )))
}

/// the operators' alert rules (judged for every tenant)
#[utoipa::path(get, path = "/v1/alert-rules", operation_id = "ListGlobalAlertRules", tag = "alerts",
    responses((status = 200, description = "the global rules, by name", body = AlertRuleList)))]
async fn list_global_rules(State(app): State<AppState>) -> Result<Json<AlertRuleList>, ApiError> {
    list_rules(&app, None)
}

/// create or replace a global alert rule
#[utoipa::path(put, path = "/v1/alert-rules/{rule}", operation_id = "PutGlobalAlertRule", tag = "alerts",
    params(("rule" = String, Path, description = "the rule's name")),
    request_body = AlertRuleBody,
    responses((status = 200, description = "the rule as stored", body = AlertRule)))]
async fn put_global_rule(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(rule): ApiPath<String>,
    JsonBody(body): JsonBody<AlertRuleBody>,
) -> Result<Json<AlertRule>, ApiError> {
    put_rule(&app, &caller, None, rule, body)
}

/// delete a global alert rule (its open alerts resolve)
#[utoipa::path(delete, path = "/v1/alert-rules/{rule}", operation_id = "DeleteGlobalAlertRule", tag = "alerts",
    params(("rule" = String, Path, description = "the rule's name")),
    responses((status = 200, description = "the deleted rule", body = AlertRule)))]
async fn delete_global_rule(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(rule): ApiPath<String>,
) -> Result<Json<AlertRule>, ApiError> {
    Ok(Json(convert::alert_rule(app.registry.delete_alert_rule(
        None,
        &rule,
        &caller.actor(),
    )?)))
}

/// a tenant's own alert rules
#[utoipa::path(get, path = "/v1/tenants/{tenant}/alert-rules", operation_id = "ListTenantAlertRules", tag = "alerts",
    params(("tenant" = String, Path, description = "the tenant id")),
    responses((status = 200, description = "the tenant's rules, by name", body = AlertRuleList)))]
async fn list_tenant_rules(
    State(app): State<AppState>,
    ApiPath(tenant): ApiPath<String>,
) -> Result<Json<AlertRuleList>, ApiError> {
    app.registry.tenant(&tenant)?;
    list_rules(&app, Some(&tenant))
}

/// create or replace one of a tenant's alert rules (its channels must be the tenant's)
#[utoipa::path(put, path = "/v1/tenants/{tenant}/alert-rules/{rule}", operation_id = "PutTenantAlertRule", tag = "alerts",
    params(("tenant" = String, Path, description = "the tenant id"), ("rule" = String, Path, description = "the rule's name")),
    request_body = AlertRuleBody,
    responses((status = 200, description = "the rule as stored", body = AlertRule)))]
async fn put_tenant_rule(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((tenant, rule)): ApiPath<(String, String)>,
    JsonBody(body): JsonBody<AlertRuleBody>,
) -> Result<Json<AlertRule>, ApiError> {
    put_rule(&app, &caller, Some(&tenant), rule, body)
}

/// delete one of a tenant's alert rules
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/alert-rules/{rule}", operation_id = "DeleteTenantAlertRule", tag = "alerts",
    params(("tenant" = String, Path, description = "the tenant id"), ("rule" = String, Path, description = "the rule's name")),
    responses((status = 200, description = "the deleted rule", body = AlertRule)))]
async fn delete_tenant_rule(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((tenant, rule)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app.registry
        .delete_alert_rule(Some(&tenant), &rule, &caller.actor())?;
    Ok(StatusCode::NO_CONTENT)
}

fn list_channels(app: &AppState, tenant: Option<&str>) -> Result<Json<ChannelList>, ApiError> {
    let channels = app
        .registry
        .channels(tenant)?
        .iter()
        .map(convert::channel)
        .collect();
    Ok(Json(ChannelList { channels }))
}

fn create_channel(
    app: &AppState,
    caller: &Caller,
    tenant: Option<&str>,
    body: NewChannel,
) -> Result<(StatusCode, Json<CreatedChannel>), ApiError> {
    let needs_url = || {
        body.url.clone().ok_or_else(|| {
            ApiError::bad_request(format!("invalid url: a `{}` channel needs a `url`", body.kind))
        })
    };
    let target = match body.kind.as_str() {
        "webhook" => ChannelTarget::Webhook { url: needs_url()? },
        "slack" => ChannelTarget::Slack { url: needs_url()? },
        "email" => ChannelTarget::Email { to: body.to.clone() },
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid type: `{}` is not one of webhook, slack, email",
                other.chars().take(64).collect::<String>()
            )));
        }
    };
    if body.url.as_ref().is_some_and(|url| url.len() > 2048) {
        return Err(ApiError::bad_request("invalid url: longer than 2048 bytes"));
    }
    app.alerting
        .check_target(&target)
        .map_err(|problem| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "target-not-allowed", problem))?;
    let secret = match target {
        ChannelTarget::Webhook { .. } => Some(modhost_alerts::new_channel_secret()?),
        ChannelTarget::Slack { .. } | ChannelTarget::Email { .. } => None,
    };
    let channel = app.registry.create_channel(
        registry::Channel {
            tenant: tenant.map(str::to_owned),
            name: body.name,
            target,
            secret: secret.clone(),
            created_by: caller.actor(),
            created_at_ms: registry::now_ms(),
        },
        &caller.actor(),
    )?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedChannel {
            channel: convert::channel(&channel),
            secret,
        }),
    ))
}

fn test_channel(
    app: &AppState,
    tenant: Option<&str>,
    name: &str,
) -> Result<(StatusCode, Json<Delivery>), ApiError> {
    let channel = app
        .registry
        .channel(tenant, name)?
        .ok_or_else(|| ApiError::not_found(format!("there is no channel `{name}` here")))?;
    // One test at a time per channel: a test cannot be used to flood the outbox.
    if let Some(pending) = app
        .registry
        .pending_deliveries(10_000)?
        .into_iter()
        .find(|delivery| {
            delivery.event == registry::AlertEvent::Test
                && delivery.channel == channel.name
                && delivery.channel_tenant == channel.tenant
        })
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "a test notification to `{name}` is still pending (delivery {}, {} attempts, last error: {}); wait for it to be delivered or given up",
                pending.id,
                pending.attempts,
                pending.last_error.as_deref().unwrap_or("none yet")
            ),
        ));
    }
    let delivery = modhost_alerts::enqueue_test(&app.registry, &channel)?;
    Ok((StatusCode::ACCEPTED, Json(convert::delivery(delivery))))
}

/// the operators' notification channels
#[utoipa::path(get, path = "/v1/channels", operation_id = "ListGlobalChannels", tag = "alerts",
    responses((status = 200, description = "the channels, by name", body = ChannelList)))]
async fn list_global_channels(State(app): State<AppState>) -> Result<Json<ChannelList>, ApiError> {
    list_channels(&app, None)
}

/// add an operators' channel (webhook, Slack or email); a webhook's signing secret is in the answer, once
#[utoipa::path(post, path = "/v1/channels", operation_id = "CreateGlobalChannel", tag = "alerts",
    request_body = NewChannel,
    responses((status = 201, description = "the channel, and a webhook's secret", body = CreatedChannel)))]
async fn create_global_channel(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewChannel>,
) -> Result<(StatusCode, Json<CreatedChannel>), ApiError> {
    create_channel(&app, &caller, None, body)
}

/// remove an operators' channel no rule uses
#[utoipa::path(delete, path = "/v1/channels/{channel}", operation_id = "DeleteGlobalChannel", tag = "alerts",
    params(("channel" = String, Path, description = "the channel's name")),
    responses((status = 200, description = "the removed channel", body = Channel)))]
async fn delete_global_channel(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(channel): ApiPath<String>,
) -> Result<Json<Channel>, ApiError> {
    Ok(Json(convert::channel(&app.registry.delete_channel(
        None,
        &channel,
        &caller.actor(),
    )?)))
}

/// send a test notification through an operators' channel (through the outbox, like any other)
#[utoipa::path(post, path = "/v1/channels/{channel}/test", operation_id = "TestGlobalChannel", tag = "alerts",
    params(("channel" = String, Path, description = "the channel's name")),
    responses((status = 202, description = "the delivery, pending", body = Delivery)))]
async fn test_global_channel(
    State(app): State<AppState>,
    ApiPath(channel): ApiPath<String>,
) -> Result<(StatusCode, Json<Delivery>), ApiError> {
    test_channel(&app, None, &channel)
}

/// a tenant's notification channels
#[utoipa::path(get, path = "/v1/tenants/{tenant}/channels", operation_id = "ListTenantChannels", tag = "alerts",
    params(("tenant" = String, Path, description = "the tenant id")),
    responses((status = 200, description = "the channels, by name", body = ChannelList)))]
async fn list_tenant_channels(
    State(app): State<AppState>,
    ApiPath(tenant): ApiPath<String>,
) -> Result<Json<ChannelList>, ApiError> {
    app.registry.tenant(&tenant)?;
    list_channels(&app, Some(&tenant))
}

/// add one of a tenant's channels; a webhook's signing secret is in the answer, once
#[utoipa::path(post, path = "/v1/tenants/{tenant}/channels", operation_id = "CreateTenantChannel", tag = "alerts",
    params(("tenant" = String, Path, description = "the tenant id")),
    request_body = NewChannel,
    responses((status = 201, description = "the channel, and a webhook's secret", body = CreatedChannel)))]
async fn create_tenant_channel(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
    JsonBody(body): JsonBody<NewChannel>,
) -> Result<(StatusCode, Json<CreatedChannel>), ApiError> {
    create_channel(&app, &caller, Some(&tenant), body)
}

/// remove one of a tenant's channels no rule uses
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/channels/{channel}", operation_id = "DeleteTenantChannel", tag = "alerts",
    params(("tenant" = String, Path, description = "the tenant id"), ("channel" = String, Path, description = "the channel's name")),
    responses((status = 200, description = "the removed channel", body = Channel)))]
async fn delete_tenant_channel(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((tenant, channel)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app.registry
        .delete_channel(Some(&tenant), &channel, &caller.actor())?;
    Ok(StatusCode::NO_CONTENT)
}

/// send a test notification through one of a tenant's channels
#[utoipa::path(post, path = "/v1/tenants/{tenant}/channels/{channel}/test", operation_id = "TestTenantChannel", tag = "alerts",
    params(("tenant" = String, Path, description = "the tenant id"), ("channel" = String, Path, description = "the channel's name")),
    responses((status = 202, description = "the delivery, pending", body = Delivery)))]
async fn test_tenant_channel(
    State(app): State<AppState>,
    ApiPath((tenant, channel)): ApiPath<(String, String)>,
) -> Result<(StatusCode, Json<Delivery>), ApiError> {
    test_channel(&app, Some(&tenant), &channel)
}

fn list_alerts(
    app: &AppState,
    tenant: Option<String>,
    query: AlertsQuery,
) -> Result<Json<AlertList>, ApiError> {
    let states = [AlertState::Firing, AlertState::Acknowledged, AlertState::Resolved]
        .map(|state| (state, state.name()));
    let filter = registry::AlertFilter {
        tenant,
        state: query
            .state
            .as_deref()
            .map(|state| parse_named("state", state, &states))
            .transpose()?,
        limit: query.limit.unwrap_or(100),
    };
    let alerts = app
        .registry
        .alerts(&filter)?
        .into_iter()
        .map(convert::alert)
        .collect();
    Ok(Json(AlertList { alerts }))
}

/// The alert `id`, when `tenant` (if given) may act on it: only its own rules' alerts.
fn actionable(app: &AppState, tenant: Option<&str>, id: u64) -> Result<registry::Alert, ApiError> {
    let alert = app.registry.alert(id)?;
    match tenant {
        Some(tenant) if alert.rule_tenant.as_deref() != Some(tenant) => {
            if alert.tenant.as_deref() == Some(tenant) {
                Err(ApiError::forbidden(format!(
                    "alert {id} comes from the operators' rule `{}`; ask an operator to acknowledge or silence it",
                    alert.rule
                )))
            } else {
                Err(ApiError::not_found(format!("there is no alert {id}")))
            }
        }
        _ => Ok(alert),
    }
}

fn silence(
    app: &AppState,
    caller: &Caller,
    tenant: Option<&str>,
    id: u64,
    body: &SilenceRequest,
) -> Result<Json<Alert>, ApiError> {
    const MAX_SILENCE_SECS: u64 = 30 * 86_400;
    if body.for_secs == 0 || body.for_secs > MAX_SILENCE_SECS {
        return Err(ApiError::bad_request(format!(
            "invalid for_secs: {} is not between 1 and {MAX_SILENCE_SECS} (30 days)",
            body.for_secs
        )));
    }
    actionable(app, tenant, id)?;
    let until = registry::now_ms().saturating_add(body.for_secs.saturating_mul(1000));
    Ok(Json(convert::alert(app.registry.silence_alert(
        id,
        until,
        &caller.actor(),
    )?)))
}

/// every alert (operators), newest first
#[utoipa::path(get, path = "/v1/alerts", operation_id = "ListAlerts", tag = "alerts",
    params(AlertsQuery),
    responses((status = 200, description = "alerts, newest first", body = AlertList)))]
async fn list_all_alerts(
    State(app): State<AppState>,
    ApiQuery(query): ApiQuery<AlertsQuery>,
) -> Result<Json<AlertList>, ApiError> {
    let tenant = query.tenant.clone();
    list_alerts(&app, tenant, query)
}

/// acknowledge a firing alert: it stops escalating
#[utoipa::path(post, path = "/v1/alerts/{id}/ack", operation_id = "AcknowledgeAlert", tag = "alerts",
    params(("id" = u64, Path, description = "the alert id")),
    responses((status = 200, description = "the alert, acknowledged", body = Alert)))]
async fn acknowledge_any_alert(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<Alert>, ApiError> {
    Ok(Json(convert::alert(
        app.registry.acknowledge_alert(id, &caller.actor())?,
    )))
}

/// hold notifications about an alert's rule and subject for a while
#[utoipa::path(post, path = "/v1/alerts/{id}/silence", operation_id = "SilenceAlert", tag = "alerts",
    params(("id" = u64, Path, description = "the alert id")),
    request_body = SilenceRequest,
    responses((status = 200, description = "the alert, silenced", body = Alert)))]
async fn silence_any_alert(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<u64>,
    JsonBody(body): JsonBody<SilenceRequest>,
) -> Result<Json<Alert>, ApiError> {
    silence(&app, &caller, None, id, &body)
}

/// alerts about a tenant (its own rules' and the operators'), newest first
#[utoipa::path(get, path = "/v1/tenants/{tenant}/alerts", operation_id = "ListTenantAlerts", tag = "alerts",
    params(("tenant" = String, Path, description = "the tenant id"), AlertsQuery),
    responses((status = 200, description = "alerts, newest first", body = AlertList)))]
async fn list_tenant_alerts(
    State(app): State<AppState>,
    ApiPath(tenant): ApiPath<String>,
    ApiQuery(query): ApiQuery<AlertsQuery>,
) -> Result<Json<AlertList>, ApiError> {
    app.registry.tenant(&tenant)?;
    list_alerts(&app, Some(tenant), query)
}

/// acknowledge a firing alert of one of the tenant's own rules
#[utoipa::path(post, path = "/v1/tenants/{tenant}/alerts/{id}/ack", operation_id = "AcknowledgeTenantAlert", tag = "alerts",
    params(("tenant" = String, Path, description = "the tenant id"), ("id" = u64, Path, description = "the alert id")),
    responses((status = 200, description = "the alert, acknowledged", body = Alert)))]
async fn acknowledge_tenant_alert(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((tenant, id)): ApiPath<(String, u64)>,
) -> Result<Json<Alert>, ApiError> {
    actionable(&app, Some(&tenant), id)?;
    Ok(Json(convert::alert(
        app.registry.acknowledge_alert(id, &caller.actor())?,
    )))
}

/// silence an alert of one of the tenant's own rules
#[utoipa::path(post, path = "/v1/tenants/{tenant}/alerts/{id}/silence", operation_id = "SilenceTenantAlert", tag = "alerts",
    params(("tenant" = String, Path, description = "the tenant id"), ("id" = u64, Path, description = "the alert id")),
    request_body = SilenceRequest,
    responses((status = 200, description = "the alert, silenced", body = Alert)))]
async fn silence_tenant_alert(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((tenant, id)): ApiPath<(String, u64)>,
    JsonBody(body): JsonBody<SilenceRequest>,
) -> Result<Json<Alert>, ApiError> {
    silence(&app, &caller, Some(&tenant), id, &body)
}

/// recent notification deliveries of every channel (operators)
#[utoipa::path(get, path = "/v1/deliveries", operation_id = "ListDeliveries", tag = "alerts",
    responses((status = 200, description = "pending deliveries, then finished ones, newest first (at most 200)", body = DeliveryList)))]
async fn list_all_deliveries(State(app): State<AppState>) -> Result<Json<DeliveryList>, ApiError> {
    let deliveries = app
        .registry
        .deliveries(None, 200)?
        .into_iter()
        .map(convert::delivery)
        .collect();
    Ok(Json(DeliveryList { deliveries }))
}

/// recent notification deliveries of a tenant's channels
#[utoipa::path(get, path = "/v1/tenants/{tenant}/deliveries", operation_id = "ListTenantDeliveries", tag = "alerts",
    params(("tenant" = String, Path, description = "the tenant id")),
    responses((status = 200, description = "pending deliveries, then finished ones, newest first (at most 200)", body = DeliveryList)))]
async fn list_tenant_deliveries(
    State(app): State<AppState>,
    ApiPath(tenant): ApiPath<String>,
) -> Result<Json<DeliveryList>, ApiError> {
    app.registry.tenant(&tenant)?;
    let deliveries = app
        .registry
        .deliveries(Some(Some(&tenant)), 200)?
        .into_iter()
        .map(convert::delivery)
        .collect();
    Ok(Json(DeliveryList { deliveries }))
}
