//! Prometheus Operator objects: one ServiceMonitor and one PrometheusRule per Shop.
//!
//! The rule is the shop's service-level objectives as recording rules (the error ratio of each
//! SLI over seven windows) with multiwindow, multi-burn-rate alerts on them (the Google SRE
//! workbook, chapter 5), plus alerts on what breaks them: services without a scrapable target,
//! Postgres and Redis unreachable as the services see them, and, from the operator's own
//! metrics, reconciles that keep failing and a Shop that stays un-`Ready`. Every alert carries
//! `severity`, `summary`, a `description` with the numbers and a `runbook_url` into
//! `docs/operations.md`. `monitoring/rules.yaml` is this rule rendered for `examples/minimal.yaml`;
//! `monitoring/tests/` holds its `promtool test rules` unit tests.

use serde_json::{Value, json};

use super::resolved::Resolved;
use super::{Ctx, Kind, Object, Stage};

/// Where `runbook_url`s point when the Shop names no page (`monitoring.runbookURL`).
pub const DEFAULT_RUNBOOK_URL: &str = "https://github.com/shopkeeper-dev/shopkeeper/blob/main/docs/operations.md";

/// The SLO window: error budgets and burn rates are relative to it.
const SLO_PERIOD_DAYS: f64 = 30.0;

/// The windows the error ratios are recorded over: the alerts' long and short windows.
const WINDOWS: [&str; 7] = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"];

/// The public API: what the gateway serves under `/api/v1` (its matched route templates).
const API_ROUTES: &str = "/api/v1/.*";

/// A request slower than this (seconds) spends the latency SLO's budget. A bucket bound of
/// `shop_kit::metrics::LATENCY_BUCKETS`, so the ratio is exact.
pub const LATENCY_THRESHOLD_SECONDS: f64 = 0.5;

/// `order_checkout_failures_total` reasons that are the shop's fault, not the shopper's (an
/// empty cart, stock sold out, an unsellable product or a reused idempotency key are answers,
/// not failures).
const CHECKOUT_FAILURE_REASONS: &str =
    "cart_unavailable|catalog_unavailable|reservation_refused|released|fault_injected";

/// One service-level objective.
struct Slo {
    /// The `slo` label of its recorded ratios.
    id: &'static str,
    /// Alert name prefix (`<prefix>FastBurn`, …).
    alert: &'static str,
    /// The runbook section (a heading of `docs/operations.md`, as GitHub anchors it).
    anchor: &'static str,
    /// The objective, as a fraction (0.995).
    objective: f64,
    /// What a bad event is, for the annotations ("API requests failed (5xx)").
    bad: &'static str,
    /// Where the events come from, for the summary ("the public API").
    subject: &'static str,
}

const SLOS: [Slo; 3] = [
    Slo {
        id: "api-availability",
        alert: "ShopApiAvailability",
        anchor: "shopapiavailabilityburn",
        objective: 0.995,
        bad: "of the public API requests failed with a 5xx",
        subject: "public API availability",
    },
    Slo {
        id: "api-latency",
        alert: "ShopApiLatency",
        anchor: "shopapilatencyburn",
        objective: 0.99,
        bad: "of the public API requests took longer than 500 ms",
        subject: "public API latency",
    },
    Slo {
        id: "checkout",
        alert: "ShopCheckoutFailures",
        anchor: "shopcheckoutfailuresburn",
        objective: 0.99,
        bad: "of the checkouts failed for the shop's own reasons",
        subject: "checkout success",
    },
];

/// The ServiceMonitor and PrometheusRule the spec asks for (when the cluster has the
/// Prometheus Operator's CRDs), and the dashboards' ConfigMap (which needs none).
pub fn objects(ctx: &Ctx, prometheus_operator: bool) -> Vec<Object> {
    let monitoring = &ctx.spec.monitoring;
    let mut objects = Vec::new();
    if prometheus_operator && monitoring.service_monitor {
        let mut object = ctx.object(
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
        );
        add_labels(&mut object, ctx);
        objects.push(object);
    }
    if prometheus_operator && monitoring.prometheus_rule {
        let mut object = ctx.object(
            Stage::Workloads,
            Kind::PrometheusRule,
            ctx.name.clone(),
            "shopkeeper",
            "monitoring",
            json!({ "spec": rule_groups(ctx) }),
        );
        add_labels(&mut object, ctx);
        objects.push(object);
    }
    if monitoring.dashboards {
        let mut object = ctx.object(
            Stage::Workloads,
            Kind::ConfigMap,
            format!("{}-dashboards", ctx.name),
            "shopkeeper",
            "monitoring",
            json!({ "data": dashboards(&ctx.name) }),
        );
        if let Some(Value::Object(labels)) = object.value.pointer_mut("/metadata/labels") {
            labels.insert("grafana_dashboard".into(), Value::from("1"));
        }
        add_labels(&mut object, ctx);
        objects.push(object);
    }
    objects
}

/// The PrometheusRule's `spec` for a Shop, which is also a Prometheus rules file
/// (`shop-operator rules -f shop.yaml`, what `promtool` checks).
pub fn rules_file(spec: &Resolved) -> Value {
    rule_groups(&Ctx::new(spec))
}

/// `monitoring.labels` under the operator's own labels (which win: the clean-up and the
/// watches select by them).
fn add_labels(object: &mut Object, ctx: &Ctx) {
    if ctx.spec.monitoring.labels.is_empty() {
        return;
    }
    if let Some(Value::Object(labels)) = object.value.pointer_mut("/metadata/labels") {
        for (key, value) in &ctx.spec.monitoring.labels {
            labels.entry(key.clone()).or_insert_with(|| Value::from(value.clone()));
        }
    }
}

/// The Grafana dashboards of `monitoring/dashboards/`, built into the operator.
pub const DASHBOARDS: [(&str, &str); 4] = [
    (
        "shop-overview.json",
        include_str!("../../../monitoring/dashboards/shop-overview.json"),
    ),
    (
        "checkout-funnel.json",
        include_str!("../../../monitoring/dashboards/checkout-funnel.json"),
    ),
    (
        "catalog-data.json",
        include_str!("../../../monitoring/dashboards/catalog-data.json"),
    ),
    (
        "operator.json",
        include_str!("../../../monitoring/dashboards/operator.json"),
    ),
];

/// The dashboards' ConfigMap data: each JSON with its `shop` variable defaulting to `shop`.
fn dashboards(shop: &str) -> Value {
    let mut data = serde_json::Map::new();
    for (file, text) in DASHBOARDS {
        let Ok(mut dashboard) = serde_json::from_str::<Value>(text) else {
            continue;
        };
        if let Some(Value::Array(variables)) = dashboard.pointer_mut("/templating/list") {
            for variable in variables.iter_mut().filter(|v| v["name"] == "shop") {
                variable["query"] = Value::from(shop);
                variable["current"] = json!({"text": shop, "value": shop});
            }
        }
        data.insert(file.to_owned(), Value::from(dashboard.to_string()));
    }
    Value::Object(data)
}

/// Label matchers shared by the rules of one Shop.
struct Scope {
    shop: String,
    namespace: String,
    runbook: String,
    /// `service=~"…"`: the Services of the enabled services.
    services: String,
    /// `namespace="…", shop="…"` of the recorded series.
    recorded: String,
}

impl Scope {
    fn new(ctx: &Ctx) -> Self {
        let names: Vec<String> = ctx.spec.enabled_services().map(|s| ctx.child(s.as_str())).collect();
        Self {
            shop: ctx.name.clone(),
            namespace: ctx.namespace.clone(),
            runbook: ctx
                .spec
                .monitoring
                .runbook_url
                .clone()
                .unwrap_or_else(|| DEFAULT_RUNBOOK_URL.to_owned()),
            services: names.join("|"),
            recorded: format!(r#"namespace="{}", shop="{}""#, ctx.namespace, ctx.name),
        }
    }

    /// Matchers of one service's scraped series.
    fn service(&self, ctx: &Ctx, service: &str) -> String {
        format!(r#"namespace="{}", service="{}""#, self.namespace, ctx.child(service))
    }

    fn runbook(&self, anchor: &str) -> String {
        format!("{}#{anchor}", self.runbook)
    }
}

fn rule_groups(ctx: &Ctx) -> Value {
    let scope = Scope::new(ctx);
    let mut slo_rules = recording_rules(ctx, &scope);
    slo_rules.extend(SLOS.iter().flat_map(|slo| burn_alerts(slo, &scope)));
    json!({"groups": [
        {"name": format!("shopkeeper-{}-slo", scope.shop), "rules": slo_rules},
        {"name": format!("shopkeeper-{}", scope.shop), "rules": health_alerts(ctx, &scope)},
    ]})
}

/// `shop:slo_errors:ratio_rate<window>{namespace, shop, slo}`: the fraction of bad events of
/// each SLO over each window.
fn recording_rules(ctx: &Ctx, scope: &Scope) -> Vec<Value> {
    let gateway = scope.service(ctx, "gateway");
    let order = scope.service(ctx, "order");
    let mut rules = Vec::new();
    for slo in &SLOS {
        for window in WINDOWS {
            let expr = match slo.id {
                "api-availability" => format!(
                    r#"sum by (namespace) (rate(http_requests_total{{{gateway}, route=~"{API_ROUTES}", status=~"5.."}}[{window}]))
/
sum by (namespace) (rate(http_requests_total{{{gateway}, route=~"{API_ROUTES}"}}[{window}]))"#
                ),
                "api-latency" => format!(
                    r#"1 - (
  sum by (namespace) (rate(http_request_duration_seconds_bucket{{{gateway}, route=~"{API_ROUTES}", le="{LATENCY_THRESHOLD_SECONDS}"}}[{window}]))
  /
  sum by (namespace) (rate(http_request_duration_seconds_count{{{gateway}, route=~"{API_ROUTES}"}}[{window}]))
)"#
                ),
                _ => format!(
                    r#"sum by (namespace) (rate(order_checkout_failures_total{{{order}, reason=~"{CHECKOUT_FAILURE_REASONS}"}}[{window}]))
/
sum by (namespace) (rate(order_checkout_duration_seconds_count{{{order}}}[{window}]))"#
                ),
            };
            rules.push(json!({
                "record": format!("shop:slo_errors:ratio_rate{window}"),
                "expr": expr,
                "labels": {"shop": scope.shop, "slo": slo.id},
            }));
        }
    }
    rules
}

/// `0.995` → `99.5`, `0.005` → `0.5` (percentages as people write them).
fn percent(fraction: f64) -> String {
    let p = (fraction * 100_000.0).round() / 1000.0;
    format!("{p}")
}

/// The page-and-ticket alert pairs of one SLO: a fast burn (14.4× over 1 h and 5 m: 2 % of a
/// 30-day budget in an hour) and a slow one (6× over 6 h and 30 m: 5 % in 6 hours) page; a
/// budget that erodes (3× over 1 d and 2 h, or 1× over 3 d and 6 h) is a ticket.
fn burn_alerts(slo: &Slo, scope: &Scope) -> Vec<Value> {
    let budget = 1.0 - slo.objective;
    let sel = format!(r#"{}, slo="{}""#, scope.recorded, slo.id);
    let ratio = |window: &str, factor: f64| {
        format!(
            "shop:slo_errors:ratio_rate{window}{{{sel}}} > ({factor} * {})",
            (budget * 1e6).round() / 1e6
        )
    };
    let objective = percent(slo.objective);
    let budget_pct = percent(budget);
    let who = format!("{}/{}", scope.namespace, scope.shop);
    let pair = |name: &str, long: &str, short: &str, factor: f64, for_: &str, severity: &str| {
        let lasts = (SLO_PERIOD_DAYS / factor * 10.0).round() / 10.0;
        json!({
            "alert": format!("{}{name}", slo.alert),
            "expr": format!("{}\nand\n{}", ratio(long, factor), ratio(short, factor)),
            "for": for_,
            "labels": {"severity": severity, "shop": scope.shop, "slo": slo.id},
            "annotations": {
                "summary": format!("Shop {who}: the {} SLO burns its error budget {factor}× too fast", slo.subject),
                "description": format!(
                    "{{{{ $value | humanizePercentage }}}} {} over the last {long} (and over the last {short} too): \
                     more than {factor} × the {budget_pct} % error budget of the {objective} % objective. \
                     At this rate the {SLO_PERIOD_DAYS}-day budget is gone in {lasts} days.",
                    slo.bad
                ),
                "runbook_url": scope.runbook(slo.anchor),
            },
        })
    };
    let mut alerts = vec![
        pair("FastBurn", "1h", "5m", 14.4, "2m", "critical"),
        pair("SlowBurn", "6h", "30m", 6.0, "15m", "critical"),
    ];
    alerts.push(json!({
        "alert": format!("{}BudgetBurn", slo.alert),
        "expr": format!(
            "(\n  {}\n  and\n  {}\n)\nor\n(\n  {}\n  and\n  {}\n)",
            ratio("1d", 3.0),
            ratio("2h", 3.0),
            ratio("3d", 1.0),
            ratio("6h", 1.0)
        ),
        "for": "1h",
        "labels": {"severity": "warning", "shop": scope.shop, "slo": slo.id},
        "annotations": {
            "summary": format!("Shop {who}: the {} SLO is spending its error budget", slo.subject),
            "description": format!(
                "{{{{ $value | humanizePercentage }}}} {} over the last day (or three days): more than 3 × \
                 (1 ×) the {budget_pct} % error budget of the {objective} % objective, over 1 d and 2 h \
                 (3 d and 6 h). Not urgent, but the {SLO_PERIOD_DAYS}-day budget will not last.",
                slo.bad
            ),
            "runbook_url": scope.runbook(slo.anchor),
        },
    }));
    alerts
}

/// Services without targets, data stores unreachable, the operator failing on the Shop.
fn health_alerts(ctx: &Ctx, scope: &Scope) -> Vec<Value> {
    let who = format!("{}/{}", scope.namespace, scope.shop);
    let ns = &scope.namespace;
    let services = &scope.services;
    let mut alerts = Vec::new();
    for service in ctx.spec.enabled_services() {
        let name = ctx.child(service.as_str());
        alerts.push(json!({
            "alert": "ShopServiceDown",
            "expr": format!("absent(up{{{}}} == 1)", scope.service(ctx, service.as_str())),
            "for": "5m",
            "labels": {"severity": "critical", "shop": scope.shop, "namespace": ns, "service": name},
            "annotations": {
                "summary": format!("Shop {who}: {service} has no target Prometheus can scrape"),
                "description": format!(
                    "No pod of the Service {ns}/{name} has answered Prometheus' scrape for 5 minutes: \
                     it has no pods, none is running, or its ServiceMonitor finds none."
                ),
                "runbook_url": scope.runbook("shopservicedown"),
            },
        }));
    }
    alerts.push(json!({
        "alert": "ShopServiceTargetDown",
        "expr": format!(r#"up{{namespace="{ns}", service=~"{services}"}} == 0"#),
        "for": "10m",
        "labels": {"severity": "warning", "shop": scope.shop},
        "annotations": {
            "summary": format!("Shop {who}: a pod of {{{{ $labels.service }}}} cannot be scraped"),
            "description": "Prometheus has not been able to scrape {{ $labels.pod }} ({{ $labels.instance }}) of {{ $labels.service }} for 10 minutes ({{ $labels.service }} is down only when no pod answers: ShopServiceDown).",
            "runbook_url": scope.runbook("shopservicedown"),
        },
    }));
    for (dependency, alert, anchor, what) in [
        (
            "postgres",
            "ShopPostgresUnreachable",
            "shoppostgresunreachable",
            "its database",
        ),
        ("redis", "ShopRedisUnreachable", "shopredisunreachable", "Redis"),
    ] {
        alerts.push(json!({
            "alert": alert,
            // The pods that say it is down, when none says it is up.
            "expr": format!(
                r#"count by (namespace, service, dependency) (shop_dependency_up{{namespace="{ns}", service=~"{services}", dependency="{dependency}"}} == 0)
unless on (namespace, service)
shop_dependency_up{{namespace="{ns}", service=~"{services}", dependency="{dependency}"}} == 1"#
            ),
            "for": "2m",
            "labels": {"severity": "critical", "shop": scope.shop},
            "annotations": {
                "summary": format!("Shop {who}: {{{{ $labels.service }}}} cannot reach {what}"),
                "description": format!(
                    "Every pod of {{{{ $labels.service }}}} ({{{{ $value }}}}) has failed its {dependency} readiness \
                     check for 2 minutes: the pods are unready, and requests that need {what} get 503."
                ),
                "runbook_url": scope.runbook(anchor),
            },
        }));
    }
    alerts.push(json!({
        "alert": "ShopOrderHoldsLapsed",
        "expr": format!(
            r#"round(sum by (namespace, service) (increase(order_sweeper_actions_total{{namespace="{ns}", service=~"{services}", action="lapsed"}}[15m]))) > 0"#
        ),
        "for": "1m",
        "labels": {"severity": "critical", "shop": scope.shop},
        "annotations": {
            "summary": format!("Shop {who}: placed orders were canceled because their stock hold expired"),
            "description": "{{ $value }} placed orders were canceled in the last 15 minutes: the order service could not confirm their reservations at the catalog within RESERVATION_TTL_SECS, so the catalog gave their stock back. Customers were told their order is canceled.",
            "runbook_url": scope.runbook("shoporderholdslapsed"),
        },
    }));
    let operator = format!(r#"shop_namespace="{ns}", shop="{}""#, scope.shop);
    alerts.push(json!({
        "alert": "ShopReconcileFailing",
        "expr": format!("max by (shop_namespace, shop) (shop_operator_shop_consecutive_failures{{{operator}}}) > 0"),
        "for": "15m",
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": format!("Shop {who}: the operator's reconciles keep failing"),
            "description": "The operator has failed every reconcile of the Shop for 15 minutes ({{ $value }} in a row): changes to the Shop are not applied. Its status (Degraded) and Events say which step fails.",
            "runbook_url": scope.runbook("shopreconcilefailing"),
        },
    }));
    alerts.push(json!({
        "alert": "ShopNotReady",
        "expr": format!(r#"max by (shop_namespace, shop) (shop_operator_shop_phase{{{operator}, phase="Ready"}}) == 0"#),
        "for": "30m",
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": format!("Shop {who} has not been Ready for 30 minutes"),
            "description": "The Shop's phase has not been Ready for more than 30 minutes (longer than a migration and a rollout take): `kubectl get shop` shows its phase and phaseReason.",
            "runbook_url": scope.runbook("shopnotready"),
        },
    }));
    alerts
}
