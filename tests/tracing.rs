//! End to end: OpenTelemetry trace export from the real `modhost` binary to an OTLP/HTTP receiver that decodes the real protobuf.
//!
//! With `[tracing] otlp_endpoint` set, a promote exports its steps' spans,
//! and a data-plane call carrying a W3C `traceparent` exports its request
//! span as a child of the caller's span, the guest call as a child of the
//! request, and the nested `modules.call` (BanBan's module reading the
//! inventory) in the same trace; no span attribute holds the bearer token.
//! Without it, nothing is sent.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

#[path = "support/host.rs"]
mod host;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use host::Host;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message as _;

/// One span as the receiver decoded it.
#[derive(Debug, Clone)]
struct Collected {
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    attributes: Vec<(String, String)>,
    service: String,
}

impl Collected {
    fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }
}

/// An OTLP/HTTP receiver: `POST /v1/traces` bodies decoded as `ExportTraceServiceRequest`.
struct Receiver {
    endpoint: String,
    spans: Arc<Mutex<Vec<Collected>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

fn text(value: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match value.and_then(|value| value.value.as_ref()) {
        Some(Value::StringValue(text)) => text.clone(),
        Some(Value::IntValue(number)) => number.to_string(),
        Some(Value::BoolValue(flag)) => flag.to_string(),
        Some(Value::DoubleValue(number)) => number.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn decode(body: &[u8]) -> Vec<Collected> {
    let request = ExportTraceServiceRequest::decode(body).expect("a protobuf ExportTraceServiceRequest");
    let mut spans = Vec::new();
    for resource_spans in request.resource_spans {
        let service = resource_spans
            .resource
            .iter()
            .flat_map(|resource| &resource.attributes)
            .find(|attribute| attribute.key == "service.name")
            .map(|attribute| text(attribute.value.as_ref()))
            .unwrap_or_default();
        for scope_spans in resource_spans.scope_spans {
            for span in scope_spans.spans {
                spans.push(Collected {
                    name: span.name,
                    trace_id: hex::encode(&span.trace_id),
                    span_id: hex::encode(&span.span_id),
                    parent_span_id: hex::encode(&span.parent_span_id),
                    attributes: span
                        .attributes
                        .iter()
                        .map(|attribute| (attribute.key.clone(), text(attribute.value.as_ref())))
                        .collect(),
                    service: service.clone(),
                });
            }
        }
    }
    spans
}

impl Receiver {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("free port");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        let spans = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (collected, seen) = (spans.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (collected, seen) = (collected.clone(), seen.clone());
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() {
                        return;
                    }
                    let mut length = 0;
                    let mut content_type = String::new();
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                            break;
                        }
                        if let Some((name, value)) = header.split_once(':') {
                            match name.trim().to_ascii_lowercase().as_str() {
                                "content-length" => length = value.trim().parse().unwrap_or(0),
                                "content-type" => content_type = value.trim().to_owned(),
                                _ => {}
                            }
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    let request_line = line.trim().to_owned();
                    seen.lock()
                        .unwrap()
                        .push(format!("{request_line} {content_type}"));
                    if request_line.starts_with("POST /v1/traces ") {
                        collected.lock().unwrap().extend(decode(&body));
                    }
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                });
            }
        });
        Self {
            endpoint,
            spans,
            requests,
        }
    }

    fn spans(&self) -> Vec<Collected> {
        self.spans.lock().unwrap().clone()
    }

    /// Waits (up to a generous deadline) until `check` holds; returns the spans either way.
    fn wait_for(&self, check: impl Fn(&[Collected]) -> bool) -> Vec<Collected> {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let spans = self.spans();
            if check(&spans) || Instant::now() > deadline {
                return spans;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// BanBan's tenant with inventory and its custom module promoted.
fn banban(host: &Host) {
    host.ok(&[
        "tenant", "create", "banban", "--name", "BanBan", "--kind", "custom",
    ]);
    host.push_built("inventory@1.0.0", None);
    host.push_built("banban@1.0.0", Some("banban"));
    host.ok(&["promote", "banban", "inventory@1.0.0"]);
    host.ok(&["promote", "banban", "banban@1.0.0"]);
    host.ok(&[
        "call",
        "banban",
        "inventory",
        "/products/TS-M-PRE",
        "-X",
        "PUT",
        "-d",
        r#"{"name": "Camiseta", "price_cents": 7990, "attributes": {"style": "TS", "size": "M", "colour": "preto"}}"#,
    ]);
}

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN_ID: &str = "00f067aa0ba902b7";

/// `GET /t/banban/banban/grid/TS` (which reads the inventory through `modules.call`) with a `traceparent`.
fn call_grid(host: &Host) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent
        .get(format!("{}/t/banban/banban/grid/TS", host.url))
        .header("authorization", format!("Bearer {}", host.token))
        .header("traceparent", format!("00-{TRACE_ID}-{PARENT_SPAN_ID}-01"))
        .call()
        .expect("http");
    response.status().as_u16()
}

const PROMOTE_STEPS: &[&str] = &[
    "promote",
    "promote.prepare",
    "module.self_test",
    "promote.smoke_tests",
    "promote.migrate",
    "promote.commit",
];

#[test]
fn spans_of_promotes_and_calls_reach_an_otlp_receiver_in_the_callers_trace() {
    let receiver = Receiver::start();
    let host = Host::start_with_config(&format!(
        "[tracing]\notlp_endpoint = \"{}\"\nservice_name = \"modhost-e2e\"\n",
        receiver.endpoint
    ));
    banban(&host);
    assert_eq!(call_grid(&host), 200);

    let in_trace = |spans: &[Collected], name: &str| {
        spans
            .iter()
            .filter(|span| span.trace_id == TRACE_ID && span.name == name)
            .count()
    };
    let spans = receiver.wait_for(|spans| {
        in_trace(spans, "data_plane.request") == 1
            && in_trace(spans, "guest.call") >= 2
            && in_trace(spans, "modules.call") >= 1
            && PROMOTE_STEPS
                .iter()
                .all(|step| spans.iter().any(|span| span.name == *step))
    });
    let names: Vec<&str> = spans.iter().map(|span| span.name.as_str()).collect();
    for request in receiver.requests.lock().unwrap().iter() {
        assert_eq!(request, "POST /v1/traces HTTP/1.1 application/x-protobuf");
    }

    // The request span: a child of the caller's span, in the caller's trace.
    let request = spans
        .iter()
        .find(|span| span.name == "data_plane.request" && span.trace_id == TRACE_ID)
        .unwrap_or_else(|| panic!("no request span in the caller's trace; got {names:?}"));
    assert_eq!(request.parent_span_id, PARENT_SPAN_ID);
    assert_eq!(request.service, "modhost-e2e");
    assert_eq!(request.attribute("modhost.tenant"), Some("banban"));
    assert_eq!(request.attribute("modhost.module"), Some("banban"));
    assert_eq!(request.attribute("http.request.method"), Some("GET"));
    assert_eq!(request.attribute("http.response.status_code"), Some("200"));
    assert!(
        request
            .attribute("modhost.request_id")
            .is_some_and(|id| !id.is_empty())
    );

    // The guest call: a child of the request span.
    let guest = spans
        .iter()
        .find(|span| span.name == "guest.call" && span.parent_span_id == request.span_id)
        .unwrap_or_else(|| panic!("no guest call under the request span; got {spans:#?}"));
    assert_eq!(guest.trace_id, TRACE_ID);
    assert_eq!(guest.attribute("modhost.module"), Some("banban"));
    assert_eq!(guest.attribute("modhost.version"), Some("1.0.0"));
    assert_eq!(guest.attribute("modhost.outcome"), Some("ok"));

    // The nested `modules.call`: under the guest call, same trace, and the inventory's guest call under it.
    let nested = spans
        .iter()
        .find(|span| span.name == "modules.call" && span.trace_id == TRACE_ID)
        .unwrap_or_else(|| panic!("no modules.call in the trace; got {names:?}"));
    assert_eq!(nested.parent_span_id, guest.span_id);
    assert_eq!(nested.attribute("modhost.module"), Some("inventory"));
    assert!(
        spans.iter().any(|span| span.name == "guest.call"
            && span.parent_span_id == nested.span_id
            && span.attribute("modhost.module") == Some("inventory")),
        "no inventory guest call under the nested call; got {spans:#?}"
    );

    // The promote steps, each under its promote.
    for step in PROMOTE_STEPS {
        assert!(names.contains(step), "no {step} span; got {names:?}");
    }
    let promote = spans
        .iter()
        .find(|span| span.name == "promote" && span.attribute("modhost.module") == Some("banban"))
        .expect("banban's promote");
    for step in [
        "promote.prepare",
        "promote.smoke_tests",
        "promote.migrate",
        "promote.commit",
    ] {
        assert!(
            spans
                .iter()
                .any(|span| span.name == step && span.parent_span_id == promote.span_id),
            "no {step} under banban's promote"
        );
    }

    // Nothing carries the token.
    for span in &spans {
        for (key, value) in &span.attributes {
            assert!(
                !value.contains(&host.token),
                "{}'s `{key}` holds the token",
                span.name
            );
        }
    }
}

#[test]
fn without_tracing_configured_nothing_is_exported() {
    let receiver = Receiver::start();
    // A `[tracing]` section without an endpoint: no exporter is built.
    let host = Host::start_with_config("[tracing]\nservice_name = \"modhost-e2e\"\nsample_ratio = 1.0\n");
    banban(&host);
    assert_eq!(call_grid(&host), 200);
    // Longer than the exporter's batch delay (5 s), had one been built.
    std::thread::sleep(Duration::from_secs(7));
    assert!(receiver.spans().is_empty());
    assert!(receiver.requests.lock().unwrap().is_empty());
}
