//! Module logs: a tenant's records queried by module, level, request id and time, paged back with a cursor, and streamed live (SSE).

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse as _, Response};
use futures_util::stream;
use modhost_api::{LogRecord, LogRecords, LogStreamQuery, LogsQuery};
use tokio::sync::broadcast::error::RecvError;
use utoipa_axum::routes;

use crate::access::Access;
use crate::admin::table::{AppState, Routes};
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::module_logs::record::{Cursor, Entry, Filter, Level};
use crate::module_logs::{MAX_LIMIT, STREAMS_IN_ALL, STREAMS_PER_TENANT, StreamRefusal};
use crate::text::bounded;

/// The page size when the query names none.
const DEFAULT_LIMIT: usize = 100;
/// How long a query waits for records still on their way to disk.
const SYNC_WAIT: Duration = Duration::from_secs(2);
/// How often an idle live stream sends a comment, so proxies and clients see it alive.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// The log routes and who may call each.
pub(crate) fn routes(routes: Routes) -> Routes {
    routes
        .add(Access::TenantRead, routes!(tenant_logs))
        .add(Access::TenantRead, routes!(tenant_log_stream))
}

fn api_record(entry: &Entry) -> LogRecord {
    LogRecord {
        time_ms: entry.time_ms,
        module: entry.module.clone(),
        version: entry.version.clone(),
        request_id: entry.request_id.clone(),
        level: entry.level.as_str().to_owned(),
        message: entry.message.clone(),
        fields: entry.fields.clone(),
    }
}

fn level(text: Option<&str>) -> Result<Option<Level>, ApiError> {
    text.map(|text| {
        Level::parse(text).ok_or_else(|| {
            ApiError::bad_request(format!(
                "`level` is `{}`; use trace, debug, info, warn or error",
                bounded(text)
            ))
        })
    })
    .transpose()
}

fn millis(name: &str, text: Option<&str>) -> Result<Option<u64>, ApiError> {
    text.map(|text| {
        text.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!(
                "`{name}` is `{}`; it must be a time in milliseconds since the Unix epoch",
                bounded(text)
            ))
        })
    })
    .transpose()
}

/// The query's filter, page size and cursor, or the first value that is wrong.
fn parse_query(query: LogsQuery) -> Result<(Filter, usize, Option<Cursor>), ApiError> {
    let limit = match query.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|limit| (1..=MAX_LIMIT).contains(limit))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "`limit` is `{}`; it must be a number from 1 to {MAX_LIMIT}",
                    bounded(text)
                ))
            })?,
    };
    let since_ms = millis("since_ms", query.since_ms.as_deref())?;
    let until_ms = millis("until_ms", query.until_ms.as_deref())?;
    if let (Some(since), Some(until)) = (since_ms, until_ms)
        && since > until
    {
        return Err(ApiError::bad_request(format!(
            "`since_ms` ({since}) is after `until_ms` ({until}); give a range that starts before it ends"
        )));
    }
    let before = query
        .before
        .as_deref()
        .map(|text| {
            Cursor::parse(text).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "`before` is `{}`; pass the `next` of a previous page",
                    bounded(text)
                ))
            })
        })
        .transpose()?;
    let filter = Filter {
        module: query.module,
        min_level: level(query.level.as_deref())?,
        request_id: query.request_id,
        since_ms,
        until_ms,
    };
    Ok((filter, limit, before))
}

/// the tenant's module log records, newest page first
#[utoipa::path(get, path = "/v1/tenants/{tenant}/logs", operation_id = "TenantLogs", tag = "tenants",
    params(("tenant" = String, Path, description = "the tenant id"), LogsQuery),
    responses((status = 200, description = "the newest matching records (before the cursor), oldest first, and the cursor to the older ones", body = LogRecords)))]
async fn tenant_logs(
    State(app): State<AppState>,
    ApiPath(tenant): ApiPath<String>,
    ApiQuery(query): ApiQuery<LogsQuery>,
) -> Result<Json<LogRecords>, ApiError> {
    app.registry.tenant(&tenant)?;
    let (filter, limit, before) = parse_query(query)?;
    app.module_logs.sync(SYNC_WAIT).await;
    let reader = app.clone();
    let page = tokio::task::spawn_blocking(move || reader.module_logs.query(&tenant, &filter, limit, before))
        .await
        .map_err(|error| ApiError::internal(format!("the module log query failed: {error}")))?
        .map_err(|error| ApiError::internal(format!("could not read the module logs: {error}")))?;
    let records = page.entries.iter().rev().map(api_record).collect();
    Ok(Json(LogRecords {
        records,
        next: page.next.map(Cursor::encode),
    }))
}

/// the tenant's module log records as they are written (server-sent events)
#[utoipa::path(get, path = "/v1/tenants/{tenant}/logs/stream", operation_id = "TenantLogStream", tag = "tenants",
    params(("tenant" = String, Path, description = "the tenant id"), LogStreamQuery),
    responses((status = 200, description = "`text/event-stream`: one `data: {record}` event per matching record, a `:heartbeat` comment every 15 s, `event: lagged` with the number of records missed when the reader fell behind", body = LogRecord, content_type = "text/event-stream")))]
async fn tenant_log_stream(
    State(app): State<AppState>,
    ApiPath(tenant): ApiPath<String>,
    ApiQuery(query): ApiQuery<LogStreamQuery>,
) -> Result<Response, ApiError> {
    app.registry.tenant(&tenant)?;
    let filter = Filter {
        module: query.module,
        min_level: level(query.level.as_deref())?,
        request_id: query.request_id,
        ..Filter::default()
    };
    let slot = app.module_logs.open_stream(&tenant).map_err(|refusal| {
        let message = match refusal {
            StreamRefusal::Tenant => format!(
                "this tenant already has {STREAMS_PER_TENANT} live log streams open; close one or query `/logs` instead"
            ),
            StreamRefusal::Host => format!(
                "the server already has {STREAMS_IN_ALL} live log streams open; try again later or query `/logs` instead"
            ),
        };
        let mut error = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "busy", message);
        error.headers.push(("retry-after", "5".to_owned()));
        error
    })?;
    let state = (
        app.module_logs.subscribe(&tenant),
        app.module_logs.closing(),
        filter,
        slot,
    );
    let events = stream::unfold(state, |(mut live, mut closing, filter, slot)| async move {
        loop {
            let received = tokio::select! {
                received = live.recv() => received,
                _ = closing.wait_for(|closed| *closed) => return None,
            };
            let event = match received {
                Ok(entry) if filter.matches(&entry) => {
                    let Ok(json) = serde_json::to_string(&api_record(&entry)) else {
                        continue;
                    };
                    Event::default().data(json)
                }
                Ok(_) => continue,
                Err(RecvError::Lagged(missed)) => Event::default().event("lagged").data(missed.to_string()),
                Err(RecvError::Closed) => return None,
            };
            return Some((Ok::<_, Infallible>(event), (live, closing, filter, slot)));
        }
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat"))
        .into_response())
}
