//! Prometheus Operator objects: one ServiceMonitor and one PrometheusRule per Shop.

use serde_json::json;

use super::{Ctx, Kind, Object, Stage};

/// The ServiceMonitor and PrometheusRule the spec asks for.
pub fn objects(ctx: &Ctx) -> Vec<Object> {
    let monitoring = &ctx.spec.monitoring;
    let mut objects = Vec::new();
    if monitoring.service_monitor {
        objects.push(ctx.object(
            Stage::Workloads,
            Kind::ServiceMonitor,
            ctx.name.clone(),
            "shopkeeper",
            "monitoring",
            json!({"spec": {
                "selector": {"matchLabels": {
                    "app.kubernetes.io/instance": ctx.name,
                    "app.kubernetes.io/part-of": "shopkeeper",
                    "app.kubernetes.io/component": "service",
                }},
                "endpoints": [{"port": "admin", "path": "/metrics", "interval": "30s"}],
            }}),
        ));
    }
    if monitoring.prometheus_rule {
        let ns = &ctx.namespace;
        let shop = &ctx.name;
        let job = format!(r#"namespace="{ns}", service=~"{shop}-(auth|catalog|cart|order|gateway)""#);
        objects.push(ctx.object(
            Stage::Workloads,
            Kind::PrometheusRule,
            ctx.name.clone(),
            "shopkeeper",
            "monitoring",
            json!({"spec": {"groups": [{
                "name": format!("shopkeeper-{shop}"),
                "rules": [
                    {
                        "alert": "ShopServiceDown",
                        "expr": format!("up{{{job}}} == 0"),
                        "for": "5m",
                        "labels": {"severity": "critical"},
                        "annotations": {"summary": "A Shopkeeper service of {{ $labels.namespace }}/{{ $labels.service }} cannot be scraped"},
                    },
                    {
                        "alert": "ShopHighErrorRate",
                        "expr": format!("sum by (service) (rate(http_requests_total{{{job}, status=~\"5..\"}}[5m])) / sum by (service) (rate(http_requests_total{{{job}}}[5m])) > 0.05"),
                        "for": "10m",
                        "labels": {"severity": "warning"},
                        "annotations": {"summary": "More than 5% of {{ $labels.service }}'s requests fail"},
                    },
                    {
                        "alert": "ShopHighLatency",
                        "expr": format!("histogram_quantile(0.99, sum by (service, le) (rate(http_request_duration_seconds_bucket{{{job}}}[5m]))) > 1"),
                        "for": "10m",
                        "labels": {"severity": "warning"},
                        "annotations": {"summary": "p99 latency of {{ $labels.service }} is above 1 s"},
                    },
                ],
            }]}}),
        ));
    }
    objects
}
