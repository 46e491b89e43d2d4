//! Traces over OTLP/HTTP: off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, in which case every service exports its spans
//! to that collector with the OpenTelemetry SDK (batched, on the SDK's own thread).
//!
//! What becomes a span:
//! - every request a service serves (`GET /products/{id}`, kind `server`), continuing the
//!   caller's `traceparent` — except the machine-polled [`crate::observe::QUIET_ROUTES`], which
//!   are never sampled, so probes and scrapes do not flood the collector;
//! - every outgoing call made through [`crate::client::send`] (kind `client`), whose
//!   `traceparent` names that span as the callee's parent;
//! - the spans the services open at [`SPAN_TARGET`] with level `debug`: the checkout saga's
//!   steps and the database and Redis calls of each store.
//!
//! Those `debug` spans exist only for the exporter: the log filter (`RUST_LOG`) does not see
//! them unless asked for `shop::span=debug`, so a log line still carries its request's
//! `request_id` and `trace_id`. With tracing off they are disabled.
//!
//! The SDK reads the standard variables: `OTEL_SERVICE_NAME` (default `shop-<service>`),
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`/`OTEL_TRACES_SAMPLER_ARG` (default: the
//! caller's decision, else every trace), `OTEL_BSP_SCHEDULE_DELAY` and the other batch settings.

use std::sync::OnceLock;

use axum::http::HeaderMap;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider as _};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;

use crate::observe::TraceContext;

pub use crate::observe::SPAN_TARGET;

/// The provider, once tracing is on; flushed and shut down by [`shutdown`].
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Whether spans are exported (set once by [`layer`]).
pub fn enabled() -> bool {
    PROVIDER.get().is_some()
}

/// Where spans go, when tracing is asked for: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as it is,
/// or `OTEL_EXPORTER_OTLP_ENDPOINT` (the collector's base URL) with `/v1/traces` appended.
pub fn traces_url_from_env() -> Option<String> {
    let set = |name: &str| std::env::var(name).ok().filter(|value| !value.trim().is_empty());
    set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| {
        set("OTEL_EXPORTER_OTLP_ENDPOINT").map(|base| format!("{}/v1/traces", base.trim().trim_end_matches('/')))
    })
}

/// The `tracing` layer that turns spans into OpenTelemetry spans of the service `service`,
/// exported over OTLP/HTTP (protobuf) to `traces_url`.
pub fn layer<S>(service: &str, traces_url: &str) -> anyhow::Result<impl Layer<S> + use<S>>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    // The exporter's HTTP client uses rustls (for an `https` collector).
    crate::install_crypto_provider();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(traces_url.trim())
        .build()?;
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(format!("shop-{service}"));
    }
    let provider = SdkTracerProvider::builder()
        .with_resource(resource.build())
        .with_batch_exporter(exporter)
        .build();
    let tracer = provider.tracer("shopkeeper");
    if PROVIDER.set(provider).is_err() {
        anyhow::bail!("tracing was already initialised");
    }
    // Spans: requests (`info`) and those opened for the exporter. Events: warnings and errors
    // only, as span events; the logs have the rest, with the trace id.
    let filter = filter_fn(|meta| {
        if meta.is_span() {
            *meta.level() <= tracing::Level::INFO || meta.target() == SPAN_TARGET
        } else {
            *meta.level() <= tracing::Level::WARN
        }
    });
    Ok(tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_location(false)
        .with_threads(false)
        .with_tracked_inactivity(false)
        .with_filter(filter))
}

/// Joins `span` (a request's, not yet entered) to the caller's trace from `headers`, or starts
/// a trace; `quiet` requests (probes, scrapes) are never sampled. The context outgoing calls
/// continue from, `None` when tracing is off.
pub fn adopt(span: &tracing::Span, headers: &HeaderMap, quiet: bool) -> Option<TraceContext> {
    if !enabled() {
        return None;
    }
    let parent = if quiet {
        // A remote parent that is not sampled: the span is not recorded, and costs little.
        let unsampled = SpanContext::new(
            TraceId::from_bytes(TraceContext::new_root().trace_id),
            opentelemetry::trace::SpanId::from_bytes(rand::random::<[u8; 8]>().map(|b| b | 1)),
            TraceFlags::default(),
            true,
            TraceState::default(),
        );
        opentelemetry::Context::new().with_remote_span_context(unsampled)
    } else {
        propagator().extract(&opentelemetry_http::HeaderExtractor(headers))
    };
    span.set_parent(parent).ok()?;
    context_of(span)
}

/// The trace context of `span` (starting it in the exporter if it was not yet), `None` when
/// tracing is off or `span` is disabled.
pub fn context_of(span: &tracing::Span) -> Option<TraceContext> {
    if !enabled() {
        return None;
    }
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| TraceContext {
        trace_id: sc.trace_id().to_bytes(),
        span_id: sc.span_id().to_bytes(),
        flags: sc.trace_flags().to_u8(),
    })
}

fn propagator() -> &'static TraceContextPropagator {
    static PROPAGATOR: OnceLock<TraceContextPropagator> = OnceLock::new();
    PROPAGATOR.get_or_init(TraceContextPropagator::new)
}

/// Exports every span ended so far (tests, and before a process exits). Blocks: call it from a
/// thread that may block.
pub fn flush() {
    if let Some(provider) = PROVIDER.get()
        && let Err(err) = provider.force_flush()
    {
        tracing::warn!(error = %err, "exporting spans failed");
    }
}

/// Exports what is left and stops the exporter (the process is about to exit).
pub fn shutdown() {
    if let Some(provider) = PROVIDER.get()
        && let Err(err) = provider.shutdown()
    {
        tracing::warn!(error = %err, "stopping the span exporter failed");
    }
}
