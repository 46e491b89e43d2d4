//! The Shop's ServiceMonitor, PrometheusRule and dashboards' ConfigMap: configurable labels, the rules file kept in
//! `monitoring/rules.yaml`, and what every alert must carry. `promtool check rules` and
//! `promtool test rules monitoring/tests/*.yaml` run in `cargo xtask test` (step `rules`).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use serde_json::{Value, json};
use shop_operator::Shop;
use shop_operator::build::{DEFAULT_RUNBOOK_URL, Inputs, LATENCY_THRESHOLD_SECONDS, build, rules_file, validate};

fn root(path: &str) -> String {
    format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))
}

fn shop(spec: Value) -> Shop {
    let mut spec = spec;
    spec["image"] = json!("shop:1");
    serde_json::from_value(json!({
        "apiVersion": "shopkeeper.dev/v1alpha1",
        "kind": "Shop",
        "metadata": {"name": "demo", "namespace": "shop", "uid": "uid-1"},
        "spec": spec,
    }))
    .unwrap()
}

fn monitoring_objects(shop: &Shop) -> Vec<Value> {
    let spec = validate(shop).unwrap();
    let inputs = Inputs {
        database_bootstrapped: true,
        migrated_image: Some(shop.spec.image.clone()),
        prometheus_operator: true,
        ..Inputs::default()
    };
    build(&spec, &inputs)
        .unwrap()
        .into_iter()
        .filter(|o| o.kind.is_prometheus())
        .map(|o| o.value)
        .collect()
}

/// Every rule of the rules file, alerts and recording rules.
fn rules(shop: &Shop) -> Vec<Value> {
    let file = rules_file(&validate(shop).unwrap());
    file["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().clone())
        .collect()
}

fn alerts(shop: &Shop) -> Vec<Value> {
    rules(shop).into_iter().filter(|r| r.get("alert").is_some()).collect()
}

#[test]
fn monitoring_labels_go_on_the_service_monitor_and_the_rule_but_never_replace_ours() {
    let shop = shop(json!({"monitoring": {"labels": {
        "release": "kube-prometheus-stack",
        "app.kubernetes.io/instance": "hijacked",
    }}}));
    let objects = monitoring_objects(&shop);
    assert_eq!(objects.len(), 2);
    for object in objects {
        let labels = &object["metadata"]["labels"];
        assert_eq!(labels["release"], "kube-prometheus-stack", "{}", object["kind"]);
        assert_eq!(labels["app.kubernetes.io/instance"], "demo", "{}", object["kind"]);
        assert_eq!(labels["shopkeeper.dev/shop"], "demo", "{}", object["kind"]);
    }
}

#[test]
fn without_monitoring_labels_only_ours_are_set() {
    for object in monitoring_objects(&shop(json!({}))) {
        let labels = object["metadata"]["labels"].as_object().unwrap();
        assert!(
            labels
                .keys()
                .all(|k| k.starts_with("app.kubernetes.io/") || k.starts_with("shopkeeper.dev/")),
            "{labels:?}"
        );
    }
}

#[test]
fn the_rule_spec_is_the_rules_file() {
    let shop = shop(json!({}));
    let rule = monitoring_objects(&shop)
        .into_iter()
        .find(|o| o["kind"] == "PrometheusRule")
        .unwrap();
    assert_eq!(rule["spec"], rules_file(&validate(&shop).unwrap()));
}

#[test]
fn committed_rules_file_matches_the_minimal_example() {
    let text = std::fs::read_to_string(root("examples/minimal.yaml")).unwrap();
    let shop: Shop = serde_yaml::from_str(&text).unwrap();
    let rendered = shop_operator::cli::rules(shop).unwrap();
    let committed = std::fs::read_to_string(root("monitoring/rules.yaml")).unwrap_or_default();
    assert!(
        committed == rendered,
        "monitoring/rules.yaml is stale: run\n    cargo run -p shop-operator -- rules -f examples/minimal.yaml > monitoring/rules.yaml\n\
         then `promtool test rules monitoring/tests/*.yaml` (cargo xtask test, step `rules`)"
    );
}

/// GitHub's anchor of a Markdown heading.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn every_alert_has_a_severity_a_summary_numbers_and_a_runbook_section() {
    let operations = std::fs::read_to_string(root("docs/operations.md")).unwrap();
    let anchors: BTreeSet<String> = operations
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|l| anchor(l.trim_start_matches('#')))
        .collect();
    let alerts = alerts(&shop(json!({})));
    assert!(alerts.len() >= 15, "{}", alerts.len());
    for alert in alerts {
        let name = alert["alert"].as_str().unwrap();
        assert!(
            matches!(alert["labels"]["severity"].as_str(), Some("critical" | "warning")),
            "{name}: severity"
        );
        let annotations = &alert["annotations"];
        assert!(
            annotations["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{name}: summary"
        );
        let description = annotations["description"].as_str().unwrap_or_default();
        assert!(
            description.chars().any(|c| c.is_ascii_digit()),
            "{name}: a description with numbers: {description}"
        );
        let url = annotations["runbook_url"].as_str().unwrap();
        let (page, section) = url.split_once('#').unwrap();
        assert_eq!(page, DEFAULT_RUNBOOK_URL, "{name}");
        assert!(
            anchors.contains(section),
            "{name}: docs/operations.md has no section #{section}"
        );
        assert!(alert["for"].as_str().is_some(), "{name}: a `for`");
    }
}

#[test]
fn the_runbook_page_is_configurable() {
    let shop = shop(json!({"monitoring": {"runbookURL": "https://wiki.example.com/shop/ops"}}));
    for alert in alerts(&shop) {
        let url = alert["annotations"]["runbook_url"].as_str().unwrap();
        assert!(url.starts_with("https://wiki.example.com/shop/ops#"), "{url}");
    }
}

#[test]
fn every_enabled_service_has_an_absent_alert_and_a_disabled_one_none() {
    let shop = shop(json!({"services": {"cart": {"enabled": false}}}));
    let down: BTreeSet<String> = alerts(&shop)
        .iter()
        .filter(|a| a["alert"] == "ShopServiceDown")
        .map(|a| {
            assert!(a["expr"].as_str().unwrap().starts_with("absent("), "{a}");
            a["labels"]["service"].as_str().unwrap().to_owned()
        })
        .collect();
    let want: BTreeSet<String> = ["demo-auth", "demo-catalog", "demo-order", "demo-gateway"]
        .map(String::from)
        .into();
    assert_eq!(down, want);
    for alert in alerts(&shop) {
        assert!(!alert["expr"].as_str().unwrap().contains("demo-cart"), "{alert}");
    }
}

#[test]
fn slo_alerts_burn_at_the_workbook_rates_over_recorded_ratios() {
    let rules = rules(&shop(json!({})));
    let recorded: BTreeSet<&str> = rules.iter().filter_map(|r| r["record"].as_str()).collect();
    for window in ["5m", "30m", "1h", "2h", "6h", "1d", "3d"] {
        assert!(
            recorded.contains(format!("shop:slo_errors:ratio_rate{window}").as_str()),
            "{window}"
        );
    }
    for rule in &rules {
        let expr = rule["expr"].as_str().unwrap();
        // Bounded labels only: the route template, never a raw path; the shop's own series.
        assert!(!expr.contains("path=") && !expr.contains("uri="), "{expr}");
        if rule.get("record").is_some() {
            assert!(expr.contains(r#"namespace="shop""#), "{expr}");
        }
    }
    let burn = |name: &str| {
        rules
            .iter()
            .find(|r| r["alert"] == name)
            .unwrap_or_else(|| panic!("{name}"))["expr"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let fast = burn("ShopApiAvailabilityFastBurn");
    assert!(
        fast.contains("ratio_rate1h") && fast.contains("ratio_rate5m") && fast.contains("(14.4 * 0.005)"),
        "{fast}"
    );
    let slow = burn("ShopApiLatencySlowBurn");
    assert!(
        slow.contains("ratio_rate6h") && slow.contains("ratio_rate30m") && slow.contains("(6 * 0.01)"),
        "{slow}"
    );
    let ticket = burn("ShopCheckoutFailuresBudgetBurn");
    assert!(
        ticket.contains("ratio_rate1d") && ticket.contains("ratio_rate3d"),
        "{ticket}"
    );
}

#[test]
fn every_alert_is_proven_to_fire_by_a_promtool_test() {
    let mut tested = BTreeSet::new();
    for entry in std::fs::read_dir(root("monitoring/tests")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let file: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        for test in file["tests"].as_sequence().unwrap() {
            for case in test["alert_rule_test"].as_sequence().into_iter().flatten() {
                if case["exp_alerts"].as_sequence().is_some_and(|a| !a.is_empty()) {
                    tested.insert(case["alertname"].as_str().unwrap().to_owned());
                }
            }
        }
    }
    let text = std::fs::read_to_string(root("examples/minimal.yaml")).unwrap();
    let mut example: Shop = serde_yaml::from_str(&text).unwrap();
    example.metadata.uid = Some("uid".to_owned());
    for alert in alerts(&example) {
        let name = alert["alert"].as_str().unwrap();
        assert!(
            tested.contains(name),
            "no promtool test in monitoring/tests/ shows {name} firing"
        );
    }
}

#[test]
fn the_latency_threshold_is_a_bucket_bound_the_services_export() {
    // Otherwise `le="0.5"` matches no series and the latency SLO is silently empty.
    assert!(shop_kit::metrics::LATENCY_BUCKETS.contains(&LATENCY_THRESHOLD_SECONDS));
}

fn dashboards_config_map(shop: &Shop) -> Option<Value> {
    let spec = validate(shop).unwrap();
    // A settled shop without the Prometheus Operator: the dashboards need none of its CRDs.
    let inputs = Inputs {
        database_bootstrapped: true,
        migrated_image: Some(shop.spec.image.clone()),
        ..Inputs::default()
    };
    build(&spec, &inputs)
        .unwrap()
        .into_iter()
        .find(|o| o.value["kind"] == "ConfigMap")
        .map(|o| o.value)
}

#[test]
fn the_dashboards_are_a_config_map_for_grafanas_sidecar_with_the_shop_preselected() {
    let config_map = dashboards_config_map(&shop(json!({"monitoring": {"labels": {"release": "kps"}}}))).unwrap();
    assert_eq!(config_map["metadata"]["name"], "demo-dashboards");
    let labels = &config_map["metadata"]["labels"];
    assert_eq!(labels["grafana_dashboard"], "1", "{labels}");
    assert_eq!(labels["release"], "kps", "the Shop's monitoring labels select it too");
    let data = config_map["data"].as_object().unwrap();
    let mut files: Vec<&str> = data.keys().map(String::as_str).collect();
    files.sort_unstable();
    assert_eq!(
        files,
        [
            "catalog-data.json",
            "checkout-funnel.json",
            "operator.json",
            "shop-overview.json"
        ]
    );
    for (file, text) in data {
        let dashboard: Value = serde_json::from_str(text.as_str().unwrap()).unwrap();
        assert!(
            dashboard["uid"]
                .as_str()
                .is_some_and(|uid| uid.starts_with("shopkeeper-")),
            "{file}"
        );
        assert!(!dashboard["panels"].as_array().unwrap().is_empty(), "{file}");
        for variable in dashboard["templating"]["list"].as_array().unwrap() {
            if variable["name"] == "shop" {
                assert_eq!(variable["current"]["value"], "demo", "{file}: the Shop's own name");
            }
        }
    }
    // Nothing of it needs the Prometheus Operator, and it can be turned off.
    assert!(dashboards_config_map(&shop(json!({"monitoring": {"dashboards": false}}))).is_none());
}
