//! The gateway's own metrics, next to the kit's RED families. Every label value comes from a
//! closed set (upstream names, outcome names, policy names).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// `upstream`, `outcome`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamLabels {
    pub upstream: &'static str,
    pub outcome: &'static str,
}

/// `upstream`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamLabel {
    pub upstream: &'static str,
}

/// `policy`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PolicyLabel {
    pub policy: &'static str,
}

/// `outcome`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: &'static str,
}

/// The gateway's metric families.
#[derive(Debug, Default)]
pub struct GatewayMetrics {
    /// `gateway_upstream_requests_total{upstream,outcome}`: `ok` (any answer), `refused`,
    /// `timeout`, `circuit_open`, `too_large`.
    pub upstream: Family<UpstreamLabels, Counter>,
    /// `gateway_circuit_open{upstream}`: 1 while the upstream's breaker is open.
    pub circuit_open: Family<UpstreamLabel, Gauge>,
    /// `gateway_rate_limited_total{policy}`: requests answered 429.
    pub rate_limited: Family<PolicyLabel, Counter>,
    /// `gateway_rate_limit_unavailable_total`: requests served unlimited because Redis failed.
    pub rate_limit_unavailable: Counter,
    /// `gateway_rate_limit_store_up`: 1 when the last rate-limit call reached Redis.
    pub rate_limit_store_up: Gauge,
    /// `gateway_session_refreshes_total{outcome}`: `ok`, `rejected`, `unavailable`, `shared`.
    pub refreshes: Family<OutcomeLabel, Counter>,
    /// `gateway_csrf_rejected_total`.
    pub csrf_rejected: Counter,
    /// `gateway_image_requests_total{outcome}`: `hit`, `miss`, `refused`, `failed`.
    pub images: Family<OutcomeLabel, Counter>,
    /// `gateway_image_cache_bytes`: bytes in the disk cache.
    pub image_cache_bytes: Gauge,
}

impl GatewayMetrics {
    /// Registers the families into `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "gateway_upstream_requests",
            "Requests forwarded to each upstream, by outcome",
            m.upstream.clone(),
        );
        registry.register(
            "gateway_circuit_open",
            "1 while the upstream's circuit breaker is open",
            m.circuit_open.clone(),
        );
        registry.register(
            "gateway_rate_limited",
            "Requests refused with 429, by policy",
            m.rate_limited.clone(),
        );
        registry.register(
            "gateway_rate_limit_unavailable",
            "Requests served without a limit because the rate-limit store failed",
            m.rate_limit_unavailable.clone(),
        );
        registry.register(
            "gateway_rate_limit_store_up",
            "1 when the last rate-limit call reached Redis",
            m.rate_limit_store_up.clone(),
        );
        registry.register(
            "gateway_session_refreshes",
            "Transparent access-token refreshes, by outcome",
            m.refreshes.clone(),
        );
        registry.register(
            "gateway_csrf_rejected",
            "State-changing cookie requests refused for a missing or bad CSRF token",
            m.csrf_rejected.clone(),
        );
        registry.register(
            "gateway_image_requests",
            "Image proxy answers, by outcome",
            m.images.clone(),
        );
        registry.register(
            "gateway_image_cache_bytes",
            "Bytes held by the image proxy's disk cache",
            m.image_cache_bytes.clone(),
        );
        m
    }

    /// Counts one forwarded request.
    pub fn upstream(&self, upstream: &'static str, outcome: &'static str) {
        self.upstream.get_or_create(&UpstreamLabels { upstream, outcome }).inc();
    }

    /// Counts one image answer.
    pub fn image(&self, outcome: &'static str) {
        self.images.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    /// Counts one refresh.
    pub fn refresh(&self, outcome: &'static str) {
        self.refreshes.get_or_create(&OutcomeLabel { outcome }).inc();
    }
}
