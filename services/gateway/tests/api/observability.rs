//! The dashboards (`monitoring/dashboards/*.json`) and the alert rules (`monitoring/rules.yaml`)
//! against the running services: every metric name they read is one the services export, and
//! every dashboard panel's query, run by a real Prometheus scraping the shop under a short load,
//! succeeds and returns data. A renamed metric fails here, not on an SRE's empty panel.
//!
//! The Prometheus is Debian's (`SHOP_TEST_PROMETHEUS`, which `cargo xtask test` exports);
//! without it the second test fails, never passes silently. Panels over kube-state-metrics,
//! cAdvisor and the operator have no source here and are skipped by name.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use shop_testkit::promql;

use crate::support::{self, client, spawn_gateway};

fn monitoring_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../monitoring")
}

/// Every `expr` of a dashboard, with where it is.
fn dashboard_exprs() -> Vec<(String, String)> {
    fn walk(value: &Value, at: &str, out: &mut Vec<(String, String)>) {
        match value {
            Value::Object(map) => {
                let here = map
                    .get("title")
                    .and_then(Value::as_str)
                    .map_or(at.to_owned(), |t| format!("{at} / {t}"));
                for (key, child) in map {
                    match (key.as_str(), child) {
                        ("expr", Value::String(expr)) => out.push((here.clone(), expr.clone())),
                        _ => walk(child, &here, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, at, out)),
            _ => {}
        }
    }
    let mut exprs = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(monitoring_dir().join("dashboards"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "the four dashboards: {files:?}");
    for file in files {
        let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        walk(&dashboard, &name, &mut exprs);
    }
    exprs
}

/// Every `expr` of the rendered rules, and the names its recording rules define.
fn rule_exprs() -> (Vec<(String, String)>, BTreeSet<String>) {
    let text = std::fs::read_to_string(monitoring_dir().join("rules.yaml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let (mut exprs, mut recorded) = (Vec::new(), BTreeSet::new());
    for group in doc["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            let name = rule["alert"].as_str().or(rule["record"].as_str()).unwrap().to_owned();
            if let Some(record) = rule["record"].as_str() {
                recorded.insert(record.to_owned());
            }
            exprs.push((
                format!("rules.yaml / {name}"),
                rule["expr"].as_str().unwrap().to_owned(),
            ));
        }
    }
    (exprs, recorded)
}

/// Names other exporters provide (Prometheus itself, kube-state-metrics, cAdvisor) or the
/// operator exports.
fn from_elsewhere(name: &str) -> bool {
    name == "up"
        || name == "ALERTS"
        || ["kube_", "container_", "shop_operator_"]
            .iter()
            .any(|p| name.starts_with(p))
}

/// Browses, searches, signs in, adds to the cart and checks out (`round` keeps the
/// idempotency keys apart), and asks every service's `/ready` as a kubelet would.
async fn shop_a_little(shop: &support::Shop, gateway: &shop_testkit::Spawned, round: u32) {
    let product = support::product(shop, "Observed sweater", 5).await;
    let email = support::register(shop).await;
    let token = support::api_login(gateway, &email).await;
    for path in ["/api/v1/products", "/api/v1/search?q=sweater", "/"] {
        assert!(
            client()
                .get(gateway.url(path))
                .send()
                .await
                .unwrap()
                .status()
                .is_success(),
            "{path}"
        );
    }
    support::add_one(gateway, &token, &product).await;
    let checkout = client()
        .post(gateway.url("/api/v1/orders/checkout"))
        .bearer_auth(&token)
        .header("idempotency-key", format!("observed-{round}"))
        .send()
        .await
        .unwrap();
    shop_testkit::expect(checkout, 201).await;
    for service in [&shop.auth, &shop.catalog, &shop.cart, &shop.order, gateway] {
        client().get(service.admin_url("/ready")).send().await.unwrap();
    }
}

#[tokio::test]
async fn every_metric_a_dashboard_or_rule_reads_is_exported() {
    let shop = support::spawn_shop().await;
    let gateway = spawn_gateway(shop.config()).await;
    shop_a_little(&shop, &gateway, 0).await;

    let mut exported = BTreeSet::new();
    for service in [&shop.auth, &shop.catalog, &shop.cart, &shop.order, &gateway] {
        exported.extend(promql::exported_names(&service.metrics().await));
    }

    let (rules, recorded) = rule_exprs();
    let mut missing: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut read = 0;
    for (at, expr) in dashboard_exprs().into_iter().chain(rules) {
        for name in promql::metric_names(&expr) {
            read += 1;
            if !exported.contains(&name) && !recorded.contains(&name) && !from_elsewhere(&name) {
                missing.entry(name).or_default().push(at.clone());
            }
        }
    }
    assert!(read > 50, "the dashboards and rules read metrics ({read} names read)");
    assert!(missing.is_empty(), "read but exported by no service: {missing:#?}");
}

/// A Prometheus of our own, stopped on drop.
struct Prometheus {
    child: Child,
    url: String,
    dir: PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts Prometheus scraping `targets` (service name, admin address) every second, with the
/// labels a ServiceMonitor gives in a cluster: `namespace` and `service` (`<shop>-<name>`).
async fn start_prometheus(targets: &[(&str, std::net::SocketAddr)]) -> Prometheus {
    let binary = std::env::var("SHOP_TEST_PROMETHEUS")
        .expect("SHOP_TEST_PROMETHEUS: run the tests with `cargo xtask test`, which installs Prometheus");
    let dir = std::env::temp_dir().join(format!("shop-prometheus-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut config = String::from("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n");
    for (name, addr) in targets {
        config.push_str(&format!(
            "  - job_name: shop-{name}\n    static_configs:\n      - targets: ['{addr}']\n        labels: {{namespace: local, service: shop-{name}}}\n"
        ));
    }
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(binary)
        .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let prometheus = Prometheus {
        child,
        url: format!("http://127.0.0.1:{port}"),
        dir,
    };
    let started = Instant::now();
    while !client()
        .get(format!("{}/-/ready", prometheus.url))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(started.elapsed() < Duration::from_secs(30), "Prometheus did not start");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    prometheus
}

/// A panel's query as Grafana sends it for namespace `local`, shop `shop`.
fn as_grafana_sends(expr: &str) -> String {
    expr.replace("$__rate_interval", "30s")
        .replace("$__range", "2m")
        .replace("$namespace", "local")
        .replace("$shop", "shop")
}

#[tokio::test]
async fn every_dashboard_panel_returns_data_from_a_real_prometheus() {
    let shop = support::spawn_shop().await;
    let gateway = spawn_gateway(shop.config()).await;
    let prometheus = start_prometheus(&[
        ("auth", shop.auth.admin),
        ("catalog", shop.catalog.admin),
        ("cart", shop.cart.admin),
        ("order", shop.order.admin),
        ("gateway", gateway.admin),
    ])
    .await;
    // A short load, long enough for rates over several scrapes.
    let started = Instant::now();
    let mut round = 0;
    while started.elapsed() < Duration::from_secs(8) {
        round += 1;
        shop_a_little(&shop, &gateway, round).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    let (mut failures, mut ran, mut skipped) = (Vec::new(), 0, BTreeSet::new());
    for (at, expr) in dashboard_exprs() {
        if promql::metric_names(&expr)
            .iter()
            .any(|name| name != "up" && from_elsewhere(name))
        {
            skipped.insert(at);
            continue;
        }
        let query = as_grafana_sends(&expr);
        let url =
            url::Url::parse_with_params(&format!("{}/api/v1/query", prometheus.url), [("query", &query)]).unwrap();
        let answer: Value = client().get(url).send().await.unwrap().json().await.unwrap();
        ran += 1;
        if answer["status"] != "success" {
            failures.push(format!("{at}: {query}: {}", answer["error"]));
        } else if answer["data"]["result"].as_array().is_none_or(Vec::is_empty) {
            failures.push(format!("{at}: {query}: no data"));
        }
    }
    // Only the saturation panels (kube-state-metrics, cAdvisor) and the operator's are skipped.
    let unexpected: Vec<&String> = skipped
        .iter()
        .filter(|at| !at.starts_with("operator.json") && !at.contains("limit") && !at.contains("Pods ready"))
        .collect();
    assert!(unexpected.is_empty(), "skipped for no good reason: {unexpected:#?}");
    assert!(ran >= 30, "the dashboards' queries ran ({ran})");
    assert!(
        failures.is_empty(),
        "{} of {ran} panel queries failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
