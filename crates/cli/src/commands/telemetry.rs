//! OpenTelemetry trace export for `modhost serve`: the libraries' spans sent over OTLP/HTTP (protobuf), only when configured.
//!
//! The exporter runs on the SDK's own batch thread (never on a request
//! thread) behind a bounded queue: a span that finds the queue full is
//! dropped and counted, and drops and failed exports are logged at most once
//! a minute. The HTTP client is `ureq` (blocking, on that thread), so no
//! second HTTP stack or async runtime is pulled in.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use modhost_server::config::TracingConfig;
use opentelemetry::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracer, SdkTracerProvider, Span, SpanData,
    SpanExporter, SpanProcessor,
};

use crate::error::CliError;

/// Spans waiting to be exported before new ones are dropped.
const MAX_QUEUED_SPANS: usize = 2048;
/// How long one export may take before it is abandoned.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for the last spans to be sent.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// The least time between two log lines about dropped spans or failed exports.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// A running export: flushed and stopped by [`Export::shutdown`].
pub struct Export {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

impl Export {
    /// The tracer the `tracing-opentelemetry` layer records into.
    pub fn tracer(&self) -> SdkTracer {
        self.tracer.clone()
    }

    /// Sends what is queued (waiting at most a few seconds) and stops the exporter.
    pub fn shutdown(self) {
        if let Err(error) = self.provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT) {
            tracing::warn!(%error, "could not send the last spans before stopping");
        }
    }
}

/// The export `settings` (and `OTEL_EXPORTER_OTLP_ENDPOINT`, `env_endpoint`)
/// ask for; `None` when no endpoint is set (nothing is built).
pub fn start(settings: &TracingConfig, env_endpoint: Option<&str>) -> Result<Option<Export>, CliError> {
    let Some(url) = settings.traces_url(env_endpoint).map_err(CliError::Usage)? else {
        return Ok(None);
    };
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(EXPORT_TIMEOUT))
        .build()
        .new_agent();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(UreqClient(agent))
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url.clone())
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|error| CliError::failed(format!("cannot set up span export to {url}: {error}")))?;
    let queued = Arc::new(AtomicUsize::new(0));
    let notes = Arc::new(Notes::new(url));
    let exporter = Counted {
        inner: exporter,
        queued: queued.clone(),
        notes: notes.clone(),
    };
    // The SDK's own queue is larger than ours, so it never drops uncounted.
    let batches = BatchConfigBuilder::default()
        .with_max_queue_size(MAX_QUEUED_SPANS * 2)
        .build();
    let processor = Bounded {
        inner: BatchSpanProcessor::builder(exporter)
            .with_batch_config(batches)
            .build(),
        queued,
        notes,
    };
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            settings.sample_ratio,
        ))))
        .with_resource(
            Resource::builder_empty()
                .with_service_name(settings.service_name.clone())
                .build(),
        )
        .build();
    let tracer = provider.tracer("modhost");
    Ok(Some(Export { provider, tracer }))
}

/// Drops and failed exports, logged at most once per [`LOG_EVERY`].
#[derive(Debug)]
struct Notes {
    url: String,
    dropped: AtomicU64,
    failed: AtomicU64,
    last_logged: Mutex<Option<Instant>>,
}

impl Notes {
    fn new(url: String) -> Self {
        Self {
            url,
            dropped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            last_logged: Mutex::new(None),
        }
    }

    /// Logs what was counted since the last line, if a line is due (called on the export thread).
    fn log_if_due(&self, last_error: Option<&dyn fmt::Display>) {
        let mut last = self
            .last_logged
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.is_some_and(|at| at.elapsed() < LOG_EVERY) {
            return;
        }
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        let failed = self.failed.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "dropped spans because the export queue was full; the collector at {} is too slow or unreachable",
                self.url
            );
        }
        if let Some(error) = last_error {
            tracing::warn!(
                failed,
                %error,
                "could not export spans to {}; is the collector running there?",
                self.url
            );
        }
        if dropped > 0 || failed > 0 {
            *last = Some(Instant::now());
        }
    }
}

/// The batch processor behind a bounded, counted queue.
#[derive(Debug)]
struct Bounded {
    inner: BatchSpanProcessor,
    queued: Arc<AtomicUsize>,
    notes: Arc<Notes>,
}

impl SpanProcessor for Bounded {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        if self.queued.fetch_add(1, Ordering::Relaxed) >= MAX_QUEUED_SPANS {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            self.notes.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The OTLP exporter, releasing queue places as batches leave and noting failures.
#[derive(Debug)]
struct Counted<E> {
    inner: E,
    queued: Arc<AtomicUsize>,
    notes: Arc<Notes>,
}

impl<E: SpanExporter> SpanExporter for Counted<E> {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        self.queued.fetch_sub(batch.len(), Ordering::Relaxed);
        async move {
            let result = self.inner.export(batch).await;
            match &result {
                Ok(()) => self.notes.log_if_due(None),
                Err(error) => {
                    self.notes.failed.fetch_add(1, Ordering::Relaxed);
                    self.notes.log_if_due(Some(error));
                }
            }
            result
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let dropped = self.notes.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(dropped, "spans were dropped because the export queue was full");
        }
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// OTLP/HTTP over `ureq`: blocking, which is fine on the SDK's export thread.
#[derive(Debug)]
struct UreqClient(ureq::Agent);

/// The most of a collector's answer that is read.
const MAX_ANSWER_BYTES: u64 = 1024 * 1024;

impl HttpClient for UreqClient {
    fn send_bytes<'life0, 'async_trait>(
        &'life0 self,
        request: Request<Bytes>,
    ) -> Pin<Box<dyn Future<Output = Result<Response<Bytes>, HttpError>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let request = Request::from_parts(parts, body.to_vec());
            let mut answer = self.0.run(request)?;
            let body = answer
                .body_mut()
                .with_config()
                .limit(MAX_ANSWER_BYTES)
                .read_to_vec()?;
            let (parts, _) = answer.into_parts();
            Ok(Response::from_parts(parts, Bytes::from(body)))
        })
    }
}
