//! `modhost logs`: a tenant's module log records, filtered by module, level, request and age, and followed live (`-f`) over server-sent events.

use modhost_api::{LogRecord, LogRecords};

use crate::client::{path, with_query};
use crate::commands::Context;
use crate::error::CliError;
use crate::output::{format_ms, table};

/// What `modhost logs` asks for.
#[derive(Debug, Default)]
pub struct LogsFilter {
    /// Only this module's records.
    pub module: Option<String>,
    /// This level or a more severe one.
    pub level: Option<String>,
    /// Only this request's records.
    pub request_id: Option<String>,
    /// Only records from this many seconds ago on.
    pub since_secs: Option<u64>,
    /// At most this many records.
    pub limit: Option<u32>,
    /// Keep printing records as they are written.
    pub follow: bool,
}

/// `GET /v1/tenants/{tenant}/logs[?…]`, then with `follow` `GET …/logs/stream[?…]`.
pub fn logs(ctx: &Context, tenant: &str, filter: &LogsFilter) -> Result<(), CliError> {
    let filters = [
        ("module", filter.module.clone()),
        ("level", filter.level.clone()),
        ("request_id", filter.request_id.clone()),
    ];
    // Opened first, so no record falls between the page and the stream.
    let stream = if filter.follow {
        Some(ctx.client.stream_lines(&with_query(
            &path(&["v1", "tenants", tenant, "logs", "stream"]),
            &filters,
        ))?)
    } else {
        None
    };
    let since_ms = filter
        .since_secs
        .map(|secs| now_ms().saturating_sub(secs.saturating_mul(1000)).to_string());
    let mut query = filters.to_vec();
    query.push(("since_ms", since_ms));
    query.push(("limit", filter.limit.map(|limit| limit.to_string())));
    let answer: LogRecords = ctx
        .client
        .get_as(&with_query(&path(&["v1", "tenants", tenant, "logs"]), &query))?;
    let Some(stream) = stream else {
        ctx.show(&answer, describe_logs);
        return Ok(());
    };
    for record in &answer.records {
        print_record(ctx, record);
    }
    let newest_ms = answer.records.last().map_or(0, |record| record.time_ms);
    let mut events = Events::default();
    for line in stream {
        match events.line(&line?) {
            Some(Event::Record(record)) => {
                let seen = record.time_ms <= newest_ms && answer.records.contains(&record);
                if !seen {
                    print_record(ctx, &record);
                }
            }
            Some(Event::Lagged(missed)) => {
                eprintln!("(missed {missed} records: this reader fell behind the stream)");
            }
            None => {}
        }
    }
    Ok(())
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// One record on one line: JSON with `--json`, else text for people.
fn print_record(ctx: &Context, record: &LogRecord) {
    if ctx.json {
        if let Ok(line) = serde_json::to_string(record) {
            println!("{line}");
        }
    } else {
        println!("{}", record_line(record));
    }
}

fn record_line(record: &LogRecord) -> String {
    let mut line = format!(
        "{} {:<5} {}@{} [{}] {}",
        format_ms(record.time_ms),
        record.level,
        record.module,
        record.version,
        record.request_id,
        record.message
    );
    for (key, value) in &record.fields {
        line.push_str(&format!(" {key}={value}"));
    }
    line.chars()
        .map(|character| if character.is_control() { '?' } else { character })
        .collect()
}

/// What one server-sent event carried.
#[derive(Debug, PartialEq)]
enum Event {
    Record(LogRecord),
    Lagged(u64),
}

/// Server-sent events put together from their lines.
#[derive(Debug, Default)]
struct Events {
    name: Option<String>,
    data: String,
}

impl Events {
    /// Takes one line; at the blank line ending an event, what it carried.
    fn line(&mut self, line: &str) -> Option<Event> {
        if line.is_empty() {
            let name = self.name.take();
            let data = std::mem::take(&mut self.data);
            return match name.as_deref() {
                Some("lagged") => data.trim().parse().ok().map(Event::Lagged),
                None | Some("message") => serde_json::from_str(&data).ok().map(Event::Record),
                Some(_) => None,
            };
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => self.name = Some(value.to_owned()),
            "data" => {
                if !self.data.is_empty() {
                    self.data.push('\n');
                }
                self.data.push_str(value);
            }
            _ => {}
        }
        None
    }
}

pub(crate) fn describe_logs(answer: &LogRecords) -> String {
    let records = &answer.records;
    if records.is_empty() {
        return "no log records".into();
    }
    let rows = records
        .iter()
        .map(|record| {
            let mut message = record.message.clone();
            for (key, value) in &record.fields {
                message.push_str(&format!(" {key}={value}"));
            }
            vec![
                format_ms(record.time_ms),
                record.level.clone(),
                format!("{}@{}", record.module, record.version),
                record.request_id.clone(),
                message,
            ]
        })
        .collect();
    let mut out = table(&["time", "level", "module", "request", "message"], rows);
    if answer.next.is_some() {
        out.push_str("\n(older records exist: narrow the filters, or raise -n)");
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn typed(value: serde_json::Value) -> LogRecords {
        serde_json::from_value(value).expect("decodes")
    }

    #[test]
    fn log_records_with_fields() {
        let answer = json!({"records": [{"time_ms": 0, "module": "inventory", "version": "1.1.0",
            "request_id": "r1", "level": "info", "message": "stock low", "fields": {"sku": "TS-01", "left": "2"}}]});
        assert_eq!(
            describe_logs(&typed(answer)),
            "TIME                 LEVEL  MODULE           REQUEST  MESSAGE\n\
             1970-01-01 00:00:00  info   inventory@1.1.0  r1       stock low left=2 sku=TS-01"
        );
    }

    #[test]
    fn events_are_put_together_from_their_lines() {
        let mut events = Events::default();
        let record = r#"{"time_ms":0,"module":"m","version":"1.0.0","request_id":"r","level":"warn","message":"hi\nthere","fields":{"k":"v"}}"#;
        assert_eq!(events.line(":heartbeat"), None);
        assert_eq!(events.line(""), None, "a comment alone is no event");
        assert_eq!(events.line(&format!("data: {record}")), None);
        let Some(Event::Record(parsed)) = events.line("") else {
            panic!("a record");
        };
        assert_eq!(parsed.message, "hi\nthere");
        assert_eq!(
            record_line(&parsed),
            "1970-01-01 00:00:00 warn  m@1.0.0 [r] hi?there k=v"
        );
        assert_eq!(events.line("event: lagged"), None);
        assert_eq!(events.line("data: 12"), None);
        assert_eq!(events.line(""), Some(Event::Lagged(12)));
    }
}
