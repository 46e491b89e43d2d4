//! The CRD: `crds/shop.yaml` is current, and its CEL rules accept and refuse what they should.
#![allow(clippy::unwrap_used)]

use kube::CustomResourceExt;
use kube::core::cel::Validator;
use serde_json::{Value, json};
use shop_operator::Shop;

#[test]
fn committed_crd_matches_the_types() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../crds/shop.yaml")).unwrap();
    let generated = shop_operator::cli::crd_yaml().unwrap();
    assert!(
        committed == generated,
        "crds/shop.yaml is stale: run `cargo run -p shop-operator -- crd > crds/shop.yaml`"
    );
    let chart = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../charts/shopkeeper-operator/crds/shop.yaml"
    ))
    .unwrap();
    assert!(
        chart == generated,
        "the chart's CRD is stale: cp crds/shop.yaml charts/shopkeeper-operator/crds/shop.yaml"
    );
}

#[test]
fn crd_names_columns_and_subresources() {
    let crd = serde_json::to_value(Shop::crd()).unwrap();
    assert_eq!(crd["metadata"]["name"], "shops.shopkeeper.dev");
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    assert_eq!(crd["spec"]["names"]["shortNames"], json!(["shop"]));
    assert_eq!(crd["spec"]["names"]["categories"], json!(["shopkeeper"]));
    let version = &crd["spec"]["versions"][0];
    assert_eq!(version["name"], "v1alpha1");
    assert!(version["subresources"]["status"].is_object());
    let columns: Vec<&str> = version["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, ["Phase", "Version", "URL", "Ready", "Age"]);
    // Conditions are a map keyed by type (the Kubernetes convention): server-side apply merges
    // them by type instead of replacing the list.
    let conditions = &version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]["conditions"];
    assert_eq!(conditions["x-kubernetes-list-type"], "map");
    assert_eq!(conditions["x-kubernetes-list-map-keys"], json!(["type"]));
}

fn schema() -> Value {
    let crd = serde_json::to_value(Shop::crd()).unwrap();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

fn shop(spec: Value) -> Value {
    json!({
        "apiVersion": "shopkeeper.dev/v1alpha1",
        "kind": "Shop",
        "metadata": {"name": "demo", "namespace": "shop"},
        "spec": spec,
    })
}

fn check(spec: Value) -> Result<(), String> {
    Validator::new()
        .validate(&schema(), &shop(spec), None)
        .map_err(|e| format!("{e:?}"))
}

fn check_update(old: Value, new: Value) -> Result<(), String> {
    Validator::new()
        .validate(&schema(), &shop(new), Some(&shop(old)))
        .map_err(|e| format!("{e:?}"))
}

#[test]
fn examples_pass_the_rules() {
    for example in ["minimal", "full", "external", "cloudnative-pg"] {
        let path = format!("{}/../examples/{example}.yaml", env!("CARGO_MANIFEST_DIR"));
        let value: Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        Validator::new().validate(&schema(), &value, None).unwrap();
    }
}

#[test]
fn min_replicas_may_not_exceed_max() {
    let scaled = |min: i32, max: i32| json!({"image": "i", "services": {"catalog": {"autoscaling": {"minReplicas": min, "maxReplicas": max}}}});
    assert!(check(scaled(2, 6)).is_ok());
    assert!(check(scaled(3, 3)).is_ok());
    let err = check(scaled(7, 6)).unwrap_err();
    assert!(err.contains("minReplicas must not exceed maxReplicas"), "{err}");
}

#[test]
fn storage_may_grow_but_not_shrink() {
    let pg = |size: &str| json!({"image": "i", "postgres": {"storage": size}});
    assert!(check_update(pg("1Gi"), pg("2Gi")).is_ok());
    assert!(check_update(pg("1Gi"), pg("1024Mi")).is_ok());
    let err = check_update(pg("2Gi"), pg("1Gi")).unwrap_err();
    assert!(err.contains("storage may not shrink"), "{err}");
    let redis = |size: &str| json!({"image": "i", "redis": {"persistence": true, "storage": size}});
    assert!(check_update(redis("2Gi"), redis("500Mi")).is_err());
    // On creation there is no old value to compare with.
    assert!(check(pg("500Mi")).is_ok());
}

#[test]
fn external_and_managed_are_exclusive() {
    let external = json!({"external": {"secretRef": {"name": "db"}}});
    assert!(check(json!({"image": "i", "postgres": external, "redis": external})).is_ok());
    let err = check(json!({"image": "i", "postgres": {"external": {"secretRef": {"name": "db"}}, "storage": "1Gi"}}))
        .unwrap_err();
    assert!(err.contains("postgres: external and managed"), "{err}");
    let err = check(json!({"image": "i", "redis": {"external": {"secretRef": {"name": "r"}}, "persistence": true}}))
        .unwrap_err();
    assert!(err.contains("redis: external and managed"), "{err}");
}

#[test]
fn host_must_be_a_dns_name() {
    for good in ["shop.local", "a", "shop-1.example.com", "xn--80ak6aa92e.com"] {
        assert!(check(json!({"image": "i", "host": good})).is_ok(), "{good}");
    }
    for bad in [
        "Shop.Local",
        "-shop.local",
        "shop..local",
        "shop.local.",
        "shop_local",
        "http://shop.local",
        "",
    ] {
        let err = check(json!({"image": "i", "host": bad})).unwrap_err();
        assert!(err.contains("host must be a DNS name"), "{bad}: {err}");
    }
    let long = format!("{}.com", "a".repeat(250));
    assert!(check(json!({"image": "i", "host": long})).is_err());
}

#[test]
fn admin_email_must_be_an_address_auth_accepts() {
    assert!(check(json!({"image": "i", "adminEmail": "ops@example.com"})).is_ok());
    for bad in [
        "ops",
        "ops@localhost",
        "a b@example.com",
        "ops@@example.com",
        "ops@example.",
    ] {
        let err = check(json!({"image": "i", "adminEmail": bad})).unwrap_err();
        assert!(err.contains("adminEmail must be an email"), "{bad}: {err}");
    }
}

#[test]
fn image_must_not_be_empty() {
    assert!(
        check(json!({"image": ""}))
            .unwrap_err()
            .contains("image must not be empty")
    );
}

#[test]
fn the_shop_name_must_fit_every_derived_name() {
    let named = |name: &str| {
        let mut shop = shop(json!({"image": "i"}));
        shop["metadata"]["name"] = json!(name);
        Validator::new()
            .validate(&schema(), &shop, None)
            .map_err(|e| format!("{e:?}"))
    };
    named("a-shop-name-of-exactly-forty-characters1").unwrap();
    named("demo").unwrap();
    for bad in ["a-shop-name-of-exactly-forty-characters12", "my.shop", "9lives"] {
        let err = named(bad).unwrap_err();
        assert!(err.contains("at most 40 characters"), "{bad}: {err}");
    }
}

#[test]
fn cloudnative_pg_excludes_external_and_the_single_instance() {
    check(json!({"image": "i", "postgres": {"cloudNativePG": {"instances": 3}}})).unwrap();
    for bad in [
        json!({"cloudNativePG": {}, "storage": "1Gi"}),
        json!({"cloudNativePG": {}, "external": {"secretRef": {"name": "pg"}}}),
    ] {
        let err = check(json!({"image": "i", "postgres": bad})).unwrap_err();
        assert!(err.contains("cloudNativePG excludes"), "{err}");
    }
    let err = check_update(
        json!({"image": "i", "postgres": {"cloudNativePG": {"storage": "20Gi"}}}),
        json!({"image": "i", "postgres": {"cloudNativePG": {"storage": "10Gi"}}}),
    )
    .unwrap_err();
    assert!(err.contains("storage may not shrink"), "{err}");
}

#[test]
fn an_external_postgres_names_one_secret_or_one_per_service() {
    check(json!({"image": "i", "postgres": {"external": {"secretRef": {"name": "dbs"}}}})).unwrap();
    check(json!({"image": "i", "postgres": {"external": {"services": {"auth": {"name": "a"}}}}})).unwrap();
    for bad in [
        json!({}),
        json!({"secretRef": {"name": "dbs"}, "services": {"auth": {"name": "a"}}}),
    ] {
        let err = check(json!({"image": "i", "postgres": {"external": bad}})).unwrap_err();
        assert!(err.contains("either secretRef"), "{err}");
    }
}

#[test]
fn monitoring_labels_must_be_kubernetes_labels() {
    let labels = |labels: Value| check(json!({"image": "i", "monitoring": {"labels": labels}}));
    assert!(labels(json!({"release": "kube-prometheus-stack", "example.com/team": "shop", "empty": ""})).is_ok());
    for bad in [
        json!({"release": "has space"}),
        json!({"-release": "x"}),
        json!({"release": "x".repeat(64)}),
        json!({"Example.com/team": "x"}),
    ] {
        let err = labels(bad.clone()).unwrap_err();
        assert!(
            err.contains("monitoring.labels must be Kubernetes labels"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn the_runbook_url_is_a_page_without_a_fragment() {
    let runbook = |url: &str| check(json!({"image": "i", "monitoring": {"runbookURL": url}}));
    assert!(runbook("https://wiki.example.com/shop/operations").is_ok());
    for bad in [
        "wiki.example.com/ops",
        "https://wiki.example.com/ops#alerts",
        "ftp://x/y",
    ] {
        let err = runbook(bad).unwrap_err();
        assert!(err.contains("runbookURL must be an http(s) URL"), "{bad}: {err}");
    }
}

#[test]
fn the_trace_collector_is_an_http_url_and_the_ratio_a_share() {
    let traces = |traces: Value| check(json!({"image": "i", "monitoring": {"traces": traces}}));
    assert!(traces(json!({"endpoint": "http://otel-collector.observability:4318"})).is_ok());
    assert!(traces(json!({"endpoint": "https://collector.example.com/otlp", "sampleRatio": 0.05})).is_ok());
    for bad in [
        "otel-collector:4318",
        "grpc://collector:4317",
        "http://collector:4318/?x=1",
        "http://collector#a",
    ] {
        let err = traces(json!({"endpoint": bad})).unwrap_err();
        assert!(err.contains("traces.endpoint must be an http(s) URL"), "{bad}: {err}");
    }
    assert!(traces(json!({"endpoint": "http://c:4318", "sampleRatio": 1.0})).is_ok());
    for bad in [1.5, -0.1] {
        let err = traces(json!({"endpoint": "http://c:4318", "sampleRatio": bad})).unwrap_err();
        assert!(err.contains("sampleRatio must be between 0 and 1"), "{bad}: {err}");
    }
}
