//! The audit log, filtered by tenant, actor, action prefix, time and paging; and its export as CSV.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::Response;
use modhost_api::{AuditExportQuery, AuditList, AuditQuery};
use modhost_registry::{AuditEntry, AuditOutcome, AuditPage, Registry};
use utoipa_axum::routes;

use crate::access::{Access, Caller};
use crate::admin::convert;
use crate::admin::scope::{operator_or_tenant_admin, scoped_tenant};
use crate::admin::table::{AppState, Routes};
use crate::error::ApiError;
use crate::extract::ApiQuery;

/// The audit routes and who may call them.
pub(crate) fn routes(routes: Routes) -> Routes {
    routes
        .add(Access::Console, routes!(audit))
        .add(Access::Console, routes!(export_audit))
}

/// A time filter from the query: a whole number of milliseconds, or `400`.
fn millis(name: &str, value: Option<String>) -> Result<Option<u64>, ApiError> {
    value
        .map(|text| {
            text.trim().parse().map_err(|_| {
                ApiError::bad_request(format!(
                    "`{name}` must be a whole number of milliseconds since the Unix epoch, e.g. 1767225600000, not `{text}`"
                ))
            })
        })
        .transpose()
}

/// One page of the audit log, read on a blocking thread.
async fn page(registry: &Registry, query: modhost_registry::AuditQuery) -> Result<AuditPage, ApiError> {
    let registry = registry.clone();
    tokio::task::spawn_blocking(move || registry.audit_page(&query))
        .await
        .map_err(|error| ApiError::internal(format!("the audit task failed: {error}")))?
        .map_err(ApiError::from)
}

/// query the audit log
///
/// Operators read every entry; a tenant admin reads its tenant's. One
/// answer holds at most `limit` entries (default and cap 1,000) found among
/// at most 50,000 records; `next_after` is set when more may follow.
#[utoipa::path(get, path = "/v1/audit", operation_id = "Audit", tag = "audit",
    params(AuditQuery),
    responses((status = 200, description = "matching entries, oldest first", body = AuditList)))]
async fn audit(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditList>, ApiError> {
    operator_or_tenant_admin(&caller.0, "read the audit log")?;
    let query = modhost_registry::AuditQuery {
        tenant: scoped_tenant(&caller.0, query.tenant)?,
        actor: query.actor,
        action: query.action,
        after: query.after.and_then(|after| after.parse().ok()),
        limit: query.limit.and_then(|limit| limit.parse().ok()),
        since_ms: millis("since_ms", query.since_ms)?,
        until_ms: millis("until_ms", query.until_ms)?,
    };
    let page = page(&app.registry, query).await?;
    Ok(Json(AuditList {
        entries: page.entries.into_iter().map(convert::audit_entry).collect(),
        next_after: page.next_after,
    }))
}

/// The CSV export's first line.
const CSV_HEADER: &str = "id,at,actor,action,target,tenant,outcome,detail\r\n";

/// export the audit log as CSV
///
/// Every matching entry, oldest first, as `text/csv` (RFC 4180: CRLF line
/// ends, a field holding a comma, quote or line break in double quotes, a
/// quote doubled) with the header `id,at,actor,action,target,tenant,outcome,detail`;
/// `at` is RFC 3339 UTC with milliseconds. A field starting with `=`, `+`,
/// `-`, `@`, a tab or a carriage return gets a leading `'`, so a spreadsheet
/// does not run it as a formula. Streamed a page of at most 1,000 entries at
/// a time. Operators export every entry; a tenant admin its tenant's.
#[utoipa::path(get, path = "/v1/audit/export", operation_id = "ExportAudit", tag = "audit",
    params(AuditExportQuery),
    responses((status = 200, description = "the matching entries as CSV, oldest first", body = String, content_type = "text/csv")))]
async fn export_audit(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<AuditExportQuery>,
) -> Result<Response, ApiError> {
    operator_or_tenant_admin(&caller.0, "read the audit log")?;
    let query = modhost_registry::AuditQuery {
        tenant: scoped_tenant(&caller.0, query.tenant)?,
        actor: query.actor,
        action: query.action,
        after: None,
        limit: None,
        since_ms: millis("since_ms", query.since_ms)?,
        until_ms: millis("until_ms", query.until_ms)?,
    };
    // The first page is read before answering, so a failure is a proper error.
    let first = page(&app.registry, query.clone()).await?;
    let export = Export {
        registry: app.registry.clone(),
        query,
        first: Some(first),
        header: true,
    };
    let chunks = futures_util::stream::unfold(Some(export), |export| async move {
        let mut export = export?;
        match export.next_chunk().await {
            Ok(Some(chunk)) => Some((Ok(bytes::Bytes::from(chunk)), Some(export))),
            Ok(None) => None,
            Err(error) => {
                tracing::error!(error = %error.message, "the audit export stopped");
                Some((Err(std::io::Error::other("the audit export stopped")), None))
            }
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/csv; charset=utf-8")
        .header(
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"modhost-audit.csv\"",
        )
        .body(Body::from_stream(chunks))
        .map_err(|error| ApiError::internal(format!("could not answer the export: {error}")))
}

/// An audit export under way: where it is in the log.
struct Export {
    registry: Registry,
    query: modhost_registry::AuditQuery,
    /// The page read before answering, not yet written.
    first: Option<AuditPage>,
    /// Whether the header is still to be written.
    header: bool,
}

impl Export {
    /// The next piece of the CSV: the rows of the next page with any (after
    /// the header); `None` at the end of the log.
    async fn next_chunk(&mut self) -> Result<Option<String>, ApiError> {
        let mut out = String::new();
        if std::mem::take(&mut self.header) {
            out.push_str(CSV_HEADER);
        }
        loop {
            let page = match self.first.take() {
                Some(page) => page,
                None => match self.query.after {
                    Some(_) => page(&self.registry, self.query.clone()).await?,
                    None => return Ok((!out.is_empty()).then_some(out)),
                },
            };
            for entry in &page.entries {
                csv_row(&mut out, entry);
            }
            match page.next_after {
                Some(after) => self.query.after = Some(after),
                None => {
                    self.query.after = None;
                    // Nothing more to read: the next call ends the stream.
                    return Ok((!out.is_empty()).then_some(out));
                }
            }
            if !out.is_empty() {
                return Ok(Some(out));
            }
        }
    }
}

/// Appends one entry as a CSV record.
fn csv_row(out: &mut String, entry: &AuditEntry) {
    let outcome = match entry.outcome {
        AuditOutcome::Ok => "ok",
        AuditOutcome::Denied => "denied",
        AuditOutcome::Failed => "failed",
    };
    let fields = [
        entry.id.to_string(),
        rfc3339(entry.at_ms),
        entry.actor.clone(),
        entry.action.clone(),
        entry.target.clone(),
        entry.tenant.clone().unwrap_or_default(),
        outcome.to_owned(),
        entry.detail.clone().unwrap_or_default(),
    ];
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        csv_field(out, field);
    }
    out.push_str("\r\n");
}

/// Appends one field: a leading `'` when a spreadsheet would read it as a
/// formula, then quoted as RFC 4180 says when it holds a comma, quote or line break.
fn csv_field(out: &mut String, text: &str) {
    let guard = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = text.contains([',', '"', '\n', '\r']);
    if quote {
        out.push('"');
    }
    if guard {
        out.push('\'');
    }
    if quote {
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

/// Milliseconds since the Unix epoch as RFC 3339 UTC: `2026-01-31T09:05:01.250Z`.
fn rfc3339(ms: u64) -> String {
    let date = modhost_registry::Date::from_unix_ms(ms);
    let of_day = ms / 1000 % 86_400;
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        date.year(),
        date.month(),
        date.day(),
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(text: &str) -> String {
        let mut out = String::new();
        csv_field(&mut out, text);
        out
    }

    #[test]
    fn fields_are_quoted_as_rfc_4180_says_and_formulas_are_defused() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field(""), "");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("=1+2"), "'=1+2");
        assert_eq!(field("+1"), "'+1");
        assert_eq!(field("-1"), "'-1");
        assert_eq!(field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(field("\tx"), "'\tx");
        assert_eq!(field("\rx"), "\"'\rx\"");
        assert_eq!(
            field("=HYPERLINK(\"x\",\"y\")"),
            "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\""
        );
        assert_eq!(field("a=b"), "a=b");
    }

    #[tokio::test]
    async fn an_export_reads_the_log_a_page_at_a_time_and_writes_every_match_once() {
        let dir = tempfile::tempdir().unwrap();
        let registry = Registry::in_memory(dir.path(), Default::default()).unwrap();
        for index in 0..2_500 {
            let action = if index % 2 == 0 { "even.entry" } else { "odd.entry" };
            let draft = modhost_registry::AuditDraft::ok("operator:test", action, format!("t{index}"), None);
            registry.record_audit_lazily(draft).unwrap();
        }
        let query = modhost_registry::AuditQuery {
            action: Some("even.".to_owned()),
            ..Default::default()
        };
        let mut export = Export {
            registry: registry.clone(),
            first: Some(page(&registry, query.clone()).await.unwrap()),
            query,
            header: true,
        };
        let mut chunks = Vec::new();
        while let Some(chunk) = export.next_chunk().await.unwrap() {
            chunks.push(chunk);
        }
        assert_eq!(chunks.len(), 2, "1,250 matches: a page of 1,000, then the rest");
        let text = chunks.concat();
        let mut lines = text.split_terminator("\r\n");
        assert_eq!(lines.next(), Some(CSV_HEADER.trim_end()));
        let targets: Vec<String> = lines
            .map(|line| line.split(',').nth(4).unwrap().to_owned())
            .collect();
        let expected: Vec<String> = (0..2_500).step_by(2).map(|index| format!("t{index}")).collect();
        assert_eq!(targets, expected);
    }

    #[test]
    fn times_are_rfc_3339_utc_with_milliseconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339(1_767_225_599_999), "2025-12-31T23:59:59.999Z");
    }
}
