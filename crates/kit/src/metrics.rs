//! The Prometheus registry, the RED metrics every service records, and what its readiness
//! checks saw of its dependencies (`shop_dependency_up`).

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::exemplar::HistogramWithExemplars;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of `http_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// HTTP method.
    pub method: String,
    /// The matched route template (`/users/{id}`), never the raw path; `unmatched` for 404s.
    pub route: String,
    /// The response status code.
    pub status: u16,
}

/// Labels of `http_request_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// HTTP method.
    pub method: String,
    /// The matched route template.
    pub route: String,
}

/// Labels of `shop_dependency_up`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DependencyLabels {
    /// The readiness check's name (`postgres`, `redis`, a peer service): a closed set, fixed in
    /// the code of each check.
    pub dependency: &'static str,
}

/// The exemplar of a latency observation: the trace of a request that fell into the bucket,
/// so a slow bucket on a dashboard links to a trace (only while traces are exported).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TraceExemplar {
    /// The W3C trace id, 32 hex digits.
    pub trace_id: String,
}

/// `http_request_duration_seconds`: a latency histogram whose buckets remember the trace of
/// their last sampled request.
pub type LatencyWithExemplars = HistogramWithExemplars<TraceExemplar>;

/// Latency buckets, 1 ms to 10 s.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// A histogram with the latency buckets.
pub fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The metric families every service has: RED and its dependencies' reachability.
#[derive(Clone)]
pub struct HttpMetrics {
    /// `http_requests_total{method,route,status}`.
    pub requests: Family<RequestLabels, Counter>,
    /// `http_request_duration_seconds{method,route}`, with [`TraceExemplar`]s.
    pub duration: Family<RouteLabels, LatencyWithExemplars, fn() -> LatencyWithExemplars>,
    /// `shop_dependency_up{dependency}`: 1 when the dependency answered the last readiness
    /// check, 0 when it did not; absent until `/ready` was first asked.
    pub dependencies: Family<DependencyLabels, Gauge>,
}

impl HttpMetrics {
    /// Creates the families and registers them.
    pub fn register(registry: &mut Registry) -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let duration =
            Family::<RouteLabels, LatencyWithExemplars, fn() -> LatencyWithExemplars>::new_with_constructor(|| {
                HistogramWithExemplars::new(LATENCY_BUCKETS.into_iter())
            });
        registry.register("http_requests", "HTTP requests handled", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time from request head to response head",
            duration.clone(),
        );
        let dependencies = Family::<DependencyLabels, Gauge>::default();
        registry.register(
            "shop_dependency_up",
            "1 when the dependency (postgres, redis, a peer) answered the last readiness check",
            dependencies.clone(),
        );
        Self {
            requests,
            duration,
            dependencies,
        }
    }
}

/// The registry a service exposes on `/metrics`, built once at start.
pub type SharedRegistry = Arc<Registry>;

/// Renders the registry as OpenMetrics text.
pub fn render(registry: &Registry) -> String {
    let mut out = String::with_capacity(4096);
    if prometheus_client::encoding::text::encode(&mut out, registry).is_err() {
        out.clear();
    }
    out
}

/// The content type of [`render`]'s output.
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
