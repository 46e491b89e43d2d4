//! Pure `build` tests from the examples: assertions that can fail, and `render` snapshots.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{TimeZone, Utc};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value;
use shop_operator::Shop;
use shop_operator::build::{Inputs, Kind, Object, build, migration_job_name, validate};
use shop_operator::crd::ServiceName;

const EXAMPLES: [&str; 4] = ["minimal", "full", "external", "cloudnative-pg"];

fn example(name: &str) -> Shop {
    let path = format!("{}/../examples/{name}.yaml", env!("CARGO_MANIFEST_DIR"));
    let mut shop: Shop = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    shop.metadata.uid = Some(format!("uid-{name}"));
    shop
}

fn done(shop: &Shop) -> Inputs {
    Inputs {
        database_bootstrapped: true,
        migrated_image: Some(shop.spec.image.clone()),
        prometheus_operator: true,
        cloudnative_pg: true,
        postgres_image: None,
        secret_hashes: secrets(shop)
            .iter()
            .map(|s| (s.name.clone(), shop_operator::secrets::content_hash(&s.value)))
            .collect(),
    }
}

fn secrets(shop: &Shop) -> Vec<Object> {
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 13, 5, 12).unwrap();
    shop_operator::secrets::generate_all(&validate(shop).unwrap(), now, &mut StdRng::seed_from_u64(7)).unwrap()
}

fn everything(shop: &Shop) -> Vec<Object> {
    let mut objects = secrets(shop);
    objects.extend(build(&validate(shop).unwrap(), &done(shop)).unwrap());
    objects
}

/// The pod templates of Deployments, StatefulSets and Jobs.
fn pod_templates(objects: &[Object]) -> Vec<(String, PodTemplateSpec)> {
    objects
        .iter()
        .filter(|o| matches!(o.kind, Kind::Deployment | Kind::StatefulSet | Kind::Job | Kind::CronJob))
        .map(|o| {
            let spec = if o.kind == Kind::CronJob {
                &o.value["spec"]["jobTemplate"]["spec"]
            } else {
                &o.value["spec"]
            };
            let template = serde_json::from_value(spec["template"].clone()).unwrap();
            (format!("{:?}/{}", o.kind, o.name), template)
        })
        .collect()
}

#[test]
fn every_container_has_limits_and_the_restricted_profile() {
    for name in EXAMPLES {
        let shop = example(name);
        let templates = pod_templates(&everything(&shop));
        assert!(templates.len() >= 4, "{name}");
        for (what, template) in templates {
            let pod = template.spec.unwrap();
            let psc = pod.security_context.clone().unwrap();
            assert_eq!(psc.run_as_non_root, Some(true), "{what}");
            assert_eq!(psc.seccomp_profile.unwrap().type_, "RuntimeDefault", "{what}");
            assert_eq!(pod.automount_service_account_token, Some(false), "{what}");
            let containers = pod.containers.iter().chain(pod.init_containers.iter().flatten());
            for c in containers {
                let limits = c.resources.as_ref().and_then(|r| r.limits.as_ref());
                assert!(
                    limits.is_some_and(|l| l.contains_key("memory")),
                    "{what}/{}: no memory limit",
                    c.name
                );
                let requests = c.resources.as_ref().and_then(|r| r.requests.as_ref());
                assert!(
                    requests.is_some_and(|r| r.contains_key("cpu")),
                    "{what}/{}: no cpu request",
                    c.name
                );
                let sc = c.security_context.clone().unwrap();
                assert_eq!(sc.allow_privilege_escalation, Some(false), "{what}");
                assert_eq!(sc.read_only_root_filesystem, Some(true), "{what}");
                assert_eq!(sc.run_as_non_root, Some(true), "{what}");
                assert_eq!(sc.capabilities.unwrap().drop, Some(vec!["ALL".to_owned()]), "{what}");
                assert_eq!(sc.seccomp_profile.unwrap().type_, "RuntimeDefault", "{what}");
                assert!(sc.privileged.is_none_or(|p| !p), "{what}");
            }
        }
    }
}

#[test]
fn deployments_wait_for_migrations() {
    let shop = example("minimal");
    let kinds = |inputs: &Inputs| -> Vec<Kind> {
        build(&validate(&shop).unwrap(), inputs)
            .unwrap()
            .iter()
            .map(|o| o.kind)
            .collect()
    };
    let fresh = Inputs::default();
    let objects = build(&validate(&shop).unwrap(), &fresh).unwrap();
    assert!(!kinds(&fresh).contains(&Kind::Deployment));
    // Only the bootstrap Job before the databases exist: no migration Job yet.
    let jobs: Vec<&str> = objects
        .iter()
        .filter(|o| o.kind == Kind::Job)
        .map(|o| o.name.as_str())
        .collect();
    assert_eq!(jobs.len(), 1);
    assert!(jobs[0].starts_with("demo-db-bootstrap-"));

    let bootstrapped = Inputs {
        database_bootstrapped: true,
        ..Inputs::default()
    };
    let objects = build(&validate(&shop).unwrap(), &bootstrapped).unwrap();
    assert!(
        !objects
            .iter()
            .any(|o| o.kind == Kind::Deployment || o.kind == Kind::Ingress)
    );
    let migrations: BTreeSet<String> = objects
        .iter()
        .filter(|o| o.kind == Kind::Job && o.name.contains("-migrate-"))
        .map(|o| o.name.clone())
        .collect();
    let expected: BTreeSet<String> = [ServiceName::Auth, ServiceName::Catalog, ServiceName::Order]
        .into_iter()
        .map(|s| migration_job_name("demo", "ghcr.io/shopkeeper-dev/shop:0.1.0", s))
        .collect();
    assert_eq!(migrations, expected);

    // An upgrade: the new image's migrations are built, the Deployments keep the old image.
    let mut upgraded = shop.clone();
    upgraded.spec.image = "ghcr.io/shopkeeper-dev/shop:0.2.0".to_owned();
    let inputs = Inputs {
        database_bootstrapped: true,
        migrated_image: Some("ghcr.io/shopkeeper-dev/shop:0.1.0".to_owned()),
        ..Inputs::default()
    };
    let objects = build(&validate(&upgraded).unwrap(), &inputs).unwrap();
    for o in objects.iter().filter(|o| o.kind == Kind::Deployment) {
        assert_eq!(
            o.value["spec"]["template"]["spec"]["containers"][0]["image"],
            "ghcr.io/shopkeeper-dev/shop:0.1.0"
        );
    }
    for o in objects.iter().filter(|o| o.name.contains("-migrate-")) {
        assert_eq!(
            o.value["spec"]["template"]["spec"]["containers"][0]["image"],
            "ghcr.io/shopkeeper-dev/shop:0.2.0"
        );
        assert_eq!(
            o.value["spec"]["template"]["spec"]["containers"][0]["args"][0],
            "migrate"
        );
    }
    assert!(!objects.iter().any(|o| o.kind.is_prometheus()));
}

#[test]
fn migration_jobs_are_named_by_image_and_service() {
    let a = migration_job_name("demo", "img:1", ServiceName::Auth);
    assert_eq!(a, migration_job_name("demo", "img:1", ServiceName::Auth));
    assert_ne!(a, migration_job_name("demo", "img:2", ServiceName::Auth));
    assert_ne!(a, migration_job_name("demo", "img:1", ServiceName::Order));
    assert!(a.len() <= 63);
}

#[test]
fn every_object_is_labelled_and_owned_by_its_shop() {
    for name in EXAMPLES {
        let shop = example(name);
        let shop_name = shop.metadata.name.clone().unwrap();
        let mut seen = BTreeSet::new();
        for o in everything(&shop) {
            let meta = &o.value["metadata"];
            assert_eq!(meta["name"], o.name.as_str());
            assert!(o.name.len() <= 63, "{}", o.name);
            assert!(
                seen.insert((o.kind, o.name.clone())),
                "duplicate {:?} {}",
                o.kind,
                o.name
            );
            assert_eq!(meta["namespace"], shop.metadata.namespace.clone().unwrap().as_str());
            let labels = &meta["labels"];
            for key in [
                "app.kubernetes.io/name",
                "app.kubernetes.io/instance",
                "app.kubernetes.io/component",
                "app.kubernetes.io/part-of",
                "app.kubernetes.io/managed-by",
            ] {
                assert!(labels[key].is_string(), "{:?} {} lacks {key}", o.kind, o.name);
            }
            assert_eq!(labels["shopkeeper.dev/shop"], shop_name.as_str());
            assert_eq!(labels["app.kubernetes.io/instance"], shop_name.as_str());
            if o.kind == Kind::PersistentVolumeClaim {
                // The backups' volume outlives the Shop on purpose.
                assert!(meta.get("ownerReferences").is_none(), "{}", o.name);
                continue;
            }
            let owners = meta["ownerReferences"].as_array().unwrap();
            assert_eq!(owners.len(), 1);
            assert_eq!(owners[0]["kind"], "Shop");
            assert_eq!(owners[0]["controller"], true);
            assert_eq!(owners[0]["uid"], format!("uid-{name}").as_str());
        }
    }
}

fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

#[test]
fn no_secret_value_appears_outside_secrets() {
    for name in EXAMPLES {
        let shop = example(name);
        let objects = everything(&shop);
        let mut values = Vec::new();
        for o in objects.iter().filter(|o| o.kind == Kind::Secret) {
            strings(&o.value["stringData"], &mut values);
        }
        // Each password, key and client secret, also as a part of a URL or a file line.
        let mut needles: Vec<String> = Vec::new();
        for v in values {
            needles.extend(
                v.split([':', '@', '/', '\n'])
                    .filter(|part| part.len() >= 16)
                    .map(str::to_owned),
            );
        }
        assert!(needles.len() > 5, "{name}");
        for o in objects.iter().filter(|o| o.kind != Kind::Secret) {
            let text = serde_json::to_string(&o.value).unwrap();
            for needle in &needles {
                assert!(
                    !text.contains(needle.as_str()),
                    "{:?} {} holds a secret value",
                    o.kind,
                    o.name
                );
            }
        }
    }
}

fn selects(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    selector["matchLabels"]
        .as_object()
        .unwrap()
        .iter()
        .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str())
}

#[test]
fn network_policies_cover_every_pod() {
    for name in EXAMPLES {
        let shop = example(name);
        let objects = everything(&shop);
        let policies: Vec<&Object> = objects.iter().filter(|o| o.kind == Kind::NetworkPolicy).collect();
        let deny = policies.iter().find(|p| p.name.ends_with("-default-deny")).unwrap();
        // Deny all ingress: the type listed, no rule (not `ingress: []`, which the API server
        // drops, so the object would never compare equal to the live one).
        assert!(deny.value["spec"].get("ingress").is_none());
        assert_eq!(deny.value["spec"]["policyTypes"][0], "Ingress");
        for (what, template) in pod_templates(&objects) {
            let labels = template.metadata.unwrap().labels.unwrap();
            assert!(
                selects(&deny.value["spec"]["podSelector"], &labels),
                "{what} is not fenced"
            );
            let own = policies
                .iter()
                .filter(|p| p.name != deny.name)
                .any(|p| selects(&p.value["spec"]["podSelector"], &labels));
            assert!(own, "{what} has no policy of its own");
        }
    }
}

/// The environment contract, per service (docs/configuration.md).
#[test]
fn services_get_exactly_the_contract_variables() {
    let shop = example("minimal");
    let objects = build(&validate(&shop).unwrap(), &done(&shop)).unwrap();
    let common = [
        "LISTEN_ADDR",
        "ADMIN_ADDR",
        "LOG_FORMAT",
        "RUST_LOG",
        "SHUTDOWN_DELAY_SECS",
        "JWT_ISSUER",
        "JWT_AUDIENCE",
    ];
    // Written out here, not read from shop-contract, so a change to the contract shows up as a
    // failing test to review; only the peers each service calls.
    let expect: BTreeMap<&str, Vec<&str>> = BTreeMap::from([
        (
            "auth",
            vec![
                "DATABASE_URL",
                "JWT_SIGNING_KEYS_DIR",
                "SERVICE_CLIENTS_FILE",
                "ADMIN_EMAIL",
                "ADMIN_PASSWORD",
                "TRUSTED_PROXY_HOPS",
                "MALLOC_MMAP_THRESHOLD_",
            ],
        ),
        (
            "catalog",
            vec!["AUTH_URL", "DATABASE_URL", "PUBLIC_URL", "JWT_PUBLIC_KEYS_DIR"],
        ),
        (
            "cart",
            vec![
                "AUTH_URL",
                "CATALOG_URL",
                "REDIS_URL",
                "JWT_PUBLIC_KEYS_DIR",
                "SERVICE_CLIENT_ID",
                "SERVICE_CLIENT_SECRET",
            ],
        ),
        (
            "order",
            vec![
                "AUTH_URL",
                "CATALOG_URL",
                "CART_URL",
                "DATABASE_URL",
                "JWT_PUBLIC_KEYS_DIR",
                "SERVICE_CLIENT_ID",
                "SERVICE_CLIENT_SECRET",
                "CURRENCY",
            ],
        ),
        (
            "gateway",
            vec![
                "AUTH_URL",
                "CATALOG_URL",
                "CART_URL",
                "ORDER_URL",
                "REDIS_URL",
                "JWT_PUBLIC_KEYS_DIR",
                "TRUSTED_PROXY_HOPS",
                "SERVICE_CLIENT_ID",
                "SERVICE_CLIENT_SECRET",
                "CURRENCY",
                "PUBLIC_URL",
                "COOKIE_SECURE",
                "SESSION_SECRET",
                "IMAGE_PROXY",
                "IMAGE_CACHE_DIR",
                "IMAGE_ALLOWED_HOSTS",
            ],
        ),
    ]);
    for o in objects.iter().filter(|o| o.kind == Kind::Deployment) {
        let service = o.name.strip_prefix("demo-").unwrap();
        let container = &o.value["spec"]["template"]["spec"]["containers"][0];
        let env: BTreeMap<String, Value> = container["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["name"].as_str().unwrap().to_owned(), e.clone()))
            .collect();
        let want: BTreeSet<&str> = common.iter().chain(expect[service].iter()).copied().collect();
        assert_eq!(
            env.keys().map(String::as_str).collect::<BTreeSet<_>>(),
            want,
            "{service}"
        );
        assert_eq!(env["LISTEN_ADDR"]["value"], "0.0.0.0:8080");
        assert_eq!(env["ADMIN_ADDR"]["value"], "0.0.0.0:9090");
        assert_eq!(env["LOG_FORMAT"]["value"], "json");
        assert_eq!(env["SHUTDOWN_DELAY_SECS"]["value"], "5");
        assert_eq!(env["JWT_ISSUER"]["value"], "http://demo-auth");
        assert_eq!(env["JWT_AUDIENCE"]["value"], "shopkeeper");
        if let Some(url) = env.get("AUTH_URL") {
            assert_eq!(url["value"], "http://demo-auth:8080");
        }
        match service {
            "auth" => assert_eq!(env["TRUSTED_PROXY_HOPS"]["value"], "2"),
            "catalog" => {
                assert_eq!(
                    env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"],
                    "demo-db-catalog"
                );
                assert_eq!(env["PUBLIC_URL"]["value"], "http://shop.local/api/v1");
            }
            "gateway" => {
                assert_eq!(env["TRUSTED_PROXY_HOPS"]["value"], "1");
                // Plain http (no TLS in the spec): a Secure cookie would never come back.
                assert_eq!(env["COOKIE_SECURE"]["value"], "false");
                assert_eq!(
                    env["SESSION_SECRET"]["valueFrom"]["secretKeyRef"]["name"],
                    "demo-gateway"
                );
                let dir = env["IMAGE_CACHE_DIR"]["value"].as_str().unwrap();
                let mounts = container["volumeMounts"].as_array().unwrap();
                assert!(
                    mounts.iter().any(|m| m["mountPath"] == dir),
                    "the image cache is not writable"
                );
            }
            _ => {}
        }
        assert_eq!(container["command"][0], format!("shop-{service}").as_str());
        assert_eq!(container["args"][0], "serve");
        assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/ready");
        assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/health");
        assert_eq!(container["livenessProbe"]["httpGet"]["port"], "admin");
        let grace = o.value["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
            .as_i64()
            .unwrap();
        assert!(grace >= 35);
        assert_eq!(o.value["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"], 0);
    }
}

#[test]
fn autoscaling_replaces_fixed_replicas() {
    let shop = example("full");
    let objects = build(&validate(&shop).unwrap(), &done(&shop)).unwrap();
    let get = |kind: Kind, name: &str| objects.iter().find(|o| o.kind == kind && o.name == name).cloned();
    let catalog = get(Kind::Deployment, "bazaar-catalog").unwrap();
    assert!(catalog.value["spec"].get("replicas").is_none());
    let hpa = get(Kind::HorizontalPodAutoscaler, "bazaar-catalog").unwrap();
    assert_eq!(hpa.value["apiVersion"], "autoscaling/v2");
    assert_eq!(hpa.value["spec"]["minReplicas"], 2);
    assert_eq!(hpa.value["spec"]["maxReplicas"], 6);
    assert_eq!(
        hpa.value["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        70
    );
    assert_eq!(
        get(Kind::Deployment, "bazaar-auth").unwrap().value["spec"]["replicas"],
        3
    );
    assert!(get(Kind::HorizontalPodAutoscaler, "bazaar-auth").is_none());
    let ingress = get(Kind::Ingress, "bazaar").unwrap();
    assert_eq!(ingress.value["spec"]["ingressClassName"], "nginx");
    assert_eq!(ingress.value["spec"]["tls"][0]["secretName"], "bazaar-tls");
}

#[test]
fn external_data_stores_run_nothing_of_their_own() {
    let shop = example("external");
    let objects = everything(&shop);
    assert!(!objects.iter().any(|o| o.kind == Kind::StatefulSet));
    assert!(!objects.iter().any(|o| o.name.contains("bootstrap")));
    assert!(
        !objects
            .iter()
            .any(|o| o.name.contains("-db-") || o.name == "outpost-redis")
    );
    let order = objects
        .iter()
        .find(|o| o.kind == Kind::Deployment && o.name == "outpost-order")
        .unwrap();
    let env = order.value["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap();
    let db = env.iter().find(|e| e["name"] == "DATABASE_URL").unwrap();
    assert_eq!(db["valueFrom"]["secretKeyRef"]["name"], "shop-databases");
    assert_eq!(db["valueFrom"]["secretKeyRef"]["key"], "order");
    assert!(!objects.iter().any(|o| o.kind.is_prometheus()), "monitoring is off");
}

#[test]
fn generated_keys_and_clients_follow_the_service_formats() {
    use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
    let shop = example("minimal");
    let secrets = secrets(&shop);
    let get = |name: &str| secrets.iter().find(|o| o.name == name).unwrap().value["stringData"].clone();
    let signing = get("demo-jwt-signing");
    let (file, pem) = signing.as_object().unwrap().iter().next().unwrap();
    let kid = file.strip_suffix(".pem").unwrap();
    assert_eq!(kid.len(), "20261123T130512Z-9f2c1a".len());
    assert!(kid.starts_with("20261123T130512Z-"));
    let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem.as_str().unwrap()).unwrap();
    assert!(pem.as_str().unwrap().starts_with("-----BEGIN PRIVATE KEY-----"));
    let public = get("demo-jwt-public");
    let public = ed25519_dalek::VerifyingKey::from_public_key_pem(public[file.as_str()].as_str().unwrap()).unwrap();
    assert_eq!(public, key.verifying_key());
    let clients = get("demo-service-clients");
    let lines: Vec<&str> = clients["clients"]
        .as_str()
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect();
    assert_eq!(lines.len(), 3);
    for line in lines {
        let client = shop_contract::ClientLine::parse(line).unwrap();
        assert_eq!(clients[client.id].as_str().unwrap(), client.secret);
        assert!(client.secret.len() >= 16);
        // The scopes of the contract, written into auth's file.
        let service = shop_contract::ServiceName::parse(client.id).unwrap();
        assert_eq!(client.scopes, service.scopes(), "{line}");
    }
    let db = get("demo-db-order");
    assert!(db["url"].as_str().unwrap().starts_with("postgres://order:"));
    assert!(db["url"].as_str().unwrap().ends_with("@demo-postgres:5432/order"));
}

#[test]
fn shops_in_two_namespaces_do_not_share_names_or_selectors() {
    let a = example("minimal");
    let mut b = example("minimal");
    b.metadata.name = Some("other".to_owned());
    let objects_b = everything(&b);
    for o in everything(&a) {
        assert!(!objects_b.iter().any(|p| p.kind == o.kind && p.name == o.name));
    }
    for p in objects_b.iter().filter(|o| o.kind == Kind::NetworkPolicy) {
        let selector = &p.value["spec"]["podSelector"]["matchLabels"];
        assert_eq!(selector["app.kubernetes.io/instance"], "other", "{}", p.name);
    }
}

#[test]
fn the_default_admin_email_has_a_two_label_domain() {
    let mut shop = example("minimal");
    assert_eq!(shop.spec.admin_email(), "admin@shop.local");
    shop.spec.host = "shop".to_owned();
    assert_eq!(shop.spec.admin_email(), "admin@shop.local");
    shop.spec.admin_email = Some("ops@example.com".to_owned());
    assert_eq!(shop.spec.admin_email(), "ops@example.com");
}

/// The dashboards' ConfigMap lines (`  shop-overview.json: '{…}'`) shortened to their names: the
/// dashboards are tested in `tests/monitoring.rs` and by the gateway's observability tests, and
/// 60 KB of JSON in every snapshot would hide the changes a snapshot is for.
fn without_dashboard_bodies(rendered: &str) -> String {
    rendered
        .lines()
        .map(|line| match line.split_once(".json: '{") {
            Some((file, _)) if line.starts_with("  ") => format!("{file}.json: <dashboard JSON>"),
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn render_snapshots() {
    for name in EXAMPLES {
        let path = format!("{}/../examples/{name}.yaml", env!("CARGO_MANIFEST_DIR"));
        let shop: Shop = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 13, 5, 12).unwrap();
        let rendered = shop_operator::cli::render(shop, now, &mut StdRng::seed_from_u64(1)).unwrap();
        insta::assert_snapshot!(format!("render_{name}"), without_dashboard_bodies(&rendered));
    }
}

/// Every name and label value the cluster derives from the longest Shop name fits 63
/// characters: object names, the StatefulSets' PVCs (`data-<sts>-<n>`) and pods'
/// `controller-revision-hash` (`<sts>-<10>`), Jobs' `job-name` labels.
#[test]
fn every_derived_name_fits_for_the_longest_shop_name() {
    let long = "a-shop-name-of-exactly-forty-characters1";
    assert_eq!(long.len(), shop_operator::build::MAX_SHOP_NAME);
    for name in EXAMPLES {
        let mut shop = example(name);
        shop.metadata.name = Some(long.to_owned());
        let objects = everything(&shop);
        let migrations: Vec<&Object> = objects.iter().filter(|o| o.name.contains("-migrate-")).collect();
        assert_eq!(migrations.len(), 3, "{name}");
        for o in &objects {
            assert!(o.name.len() <= 63, "{:?} {} is {} long", o.kind, o.name, o.name.len());
            assert_eq!(o.value["metadata"]["name"], o.name.as_str());
            for (key, value) in o.value["metadata"]["labels"].as_object().unwrap() {
                assert!(value.as_str().unwrap().len() <= 63, "{}: label {key}", o.name);
            }
            if o.kind == Kind::StatefulSet {
                assert!(format!("data-{}-0", o.name).len() <= 63, "{}", o.name);
                assert!(o.name.len() + 11 <= 63, "{}: controller-revision-hash", o.name);
            }
        }
        // Shortened names stay distinct and stable.
        let names: BTreeSet<&str> = migrations.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names.len(), 3);
        assert_eq!(
            migration_job_name(long, &shop.spec.image, ServiceName::Catalog),
            migration_job_name(long, &shop.spec.image, ServiceName::Catalog)
        );
    }
    let mut too_long = example("minimal");
    too_long.metadata.name = Some(format!("{long}x"));
    assert!(validate(&too_long).is_err());
}

#[test]
fn the_traffic_facing_services_autoscale_by_default() {
    let shop = example("minimal");
    let objects = build(&validate(&shop).unwrap(), &done(&shop)).unwrap();
    let hpas: BTreeSet<&str> = objects
        .iter()
        .filter(|o| o.kind == Kind::HorizontalPodAutoscaler)
        .map(|o| o.name.as_str())
        .collect();
    assert_eq!(hpas, BTreeSet::from(["demo-cart", "demo-catalog", "demo-gateway"]));
    for o in objects.iter().filter(|o| o.kind == Kind::Deployment) {
        let fixed = o.value["spec"].get("replicas");
        if hpas.contains(o.name.as_str()) {
            assert!(fixed.is_none(), "{}: the HPA owns replicas", o.name);
        } else {
            assert_eq!(fixed, Some(&serde_json::json!(2)), "{}", o.name);
        }
    }
    // A fixed replica count switches the default off.
    let mut fixed = shop.clone();
    fixed.spec.services.cart = Some(serde_json::from_value(serde_json::json!({"replicas": 3})).unwrap());
    let objects = build(&validate(&fixed).unwrap(), &done(&fixed)).unwrap();
    assert!(
        !objects
            .iter()
            .any(|o| o.kind == Kind::HorizontalPodAutoscaler && o.name == "demo-cart")
    );
}

#[test]
fn a_cloudnative_pg_shop_runs_no_postgres_of_its_own() {
    let shop = example("cloudnative-pg");
    let objects = everything(&shop);
    let names = |kind: Kind| -> Vec<&str> {
        objects
            .iter()
            .filter(|o| o.kind == kind)
            .map(|o| o.name.as_str())
            .collect()
    };
    assert_eq!(names(Kind::StatefulSet), ["market-redis"]);
    assert!(!names(Kind::Job).iter().any(|j| j.contains("bootstrap")));
    assert!(!names(Kind::Secret).contains(&"market-postgres"));
    assert_eq!(names(Kind::PostgresCluster), ["market-pg"]);
    assert_eq!(
        names(Kind::PostgresDatabase),
        ["market-db-auth", "market-db-catalog", "market-db-order"]
    );
    assert_eq!(names(Kind::ScheduledBackup), ["market-pg"]);
    let cluster = &objects.iter().find(|o| o.kind == Kind::PostgresCluster).unwrap().value;
    assert_eq!(cluster["apiVersion"], "postgresql.cnpg.io/v1");
    assert_eq!(cluster["spec"]["storage"]["size"], "20Gi");
    assert_eq!(cluster["spec"]["enableSuperuserAccess"], false);
    let store = &cluster["spec"]["backup"]["barmanObjectStore"];
    assert_eq!(store["endpointURL"], "https://minio.example.com");
    assert_eq!(store["s3Credentials"]["accessKeyId"]["name"], "shop-backups");
    assert_eq!(cluster["spec"]["backup"]["retentionPolicy"], "14d");
    let backup = &objects.iter().find(|o| o.kind == Kind::ScheduledBackup).unwrap().value;
    assert_eq!(backup["spec"]["schedule"], "0 30 2 * * *");
    // The services reach CloudNativePG's instances, by the label it gives them.
    let policy = &objects
        .iter()
        .find(|o| o.kind == Kind::NetworkPolicy && o.name == "market-catalog")
        .unwrap()
        .value;
    let to_postgres = policy["spec"]["egress"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ports"][0]["port"] == 5432)
        .unwrap();
    assert_eq!(
        to_postgres["to"][0]["podSelector"]["matchLabels"]["cnpg.io/cluster"],
        "market-pg"
    );
}

#[test]
fn an_external_postgres_may_give_each_service_its_own_secret() {
    let mut shop = example("external");
    shop.spec.postgres.external = Some(
        serde_json::from_value(serde_json::json!({"services": {
            "auth": {"name": "pg-auth-app"},
            "catalog": {"name": "pg-catalog-app", "key": "url"},
            "order": {"name": "pg-order-app"},
        }}))
        .unwrap(),
    );
    let objects = build(&validate(&shop).unwrap(), &done(&shop)).unwrap();
    let url_of = |o: &Object| {
        o.value["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "DATABASE_URL")
            .map(|e| e["valueFrom"]["secretKeyRef"].clone())
    };
    for (service, secret, key) in [
        ("auth", "pg-auth-app", "uri"),
        ("catalog", "pg-catalog-app", "url"),
        ("order", "pg-order-app", "uri"),
    ] {
        let deployment = objects
            .iter()
            .find(|o| o.kind == Kind::Deployment && o.name == format!("outpost-{service}"))
            .unwrap();
        let migration = objects
            .iter()
            .find(|o| o.kind == Kind::Job && o.name.starts_with(&format!("outpost-migrate-{service}-")))
            .unwrap();
        for o in [deployment, migration] {
            let r = url_of(o).unwrap();
            assert_eq!(
                (r["name"].as_str().unwrap(), r["key"].as_str().unwrap()),
                (secret, key),
                "{}",
                o.name
            );
        }
    }
    // A service without a Secret is refused before anything is built.
    shop.spec.postgres.external.as_mut().unwrap().services.remove("order");
    assert!(validate(&shop).unwrap_err().to_string().contains("order"));
}

#[test]
fn the_single_instance_backs_up_to_a_volume_of_its_own() {
    let shop = example("full");
    let objects = everything(&shop);
    let get = |kind: Kind, name: &str| objects.iter().find(|o| o.kind == kind && o.name == name).unwrap();
    let volume = get(Kind::PersistentVolumeClaim, "bazaar-backups");
    assert_eq!(volume.value["spec"]["resources"]["requests"]["storage"], "5Gi");
    let cronjob = &get(Kind::CronJob, "bazaar-backup").value;
    assert_eq!(cronjob["spec"]["schedule"], "30 2 * * *");
    assert_eq!(cronjob["spec"]["concurrencyPolicy"], "Forbid");
    assert!(
        cronjob["spec"]["jobTemplate"].get("metadata").is_none(),
        "its Jobs must not carry the Shop's labels, or the operator would delete them as orphans"
    );
    let pod = &cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    let env = pod["containers"][0]["env"].as_array().unwrap();
    let value = |name: &str| env.iter().find(|e| e["name"] == name).unwrap()["value"].clone();
    assert_eq!(value("DATABASES"), "auth catalog order");
    assert_eq!(value("KEEP"), "14");
    assert!(
        pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["persistentVolumeClaim"]["claimName"] == "bazaar-backups")
    );
    // Postgres admits the backup pods; they may reach Postgres only.
    let postgres = &get(Kind::NetworkPolicy, "bazaar-postgres").value;
    let from = postgres["spec"]["ingress"][0]["from"].as_array().unwrap();
    assert!(
        from.iter()
            .any(|p| p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "db-backup")
    );
    let own = &get(Kind::NetworkPolicy, "bazaar-db-backup").value;
    assert_eq!(own["spec"]["egress"][0]["ports"][0]["port"], 5432);
    // Without `backup`, neither.
    let minimal = everything(&example("minimal"));
    assert!(
        !minimal
            .iter()
            .any(|o| matches!(o.kind, Kind::CronJob | Kind::PersistentVolumeClaim))
    );
}

#[test]
fn a_trace_collector_reaches_every_service_and_its_network_policy() {
    let mut shop = example("minimal");
    let plain = everything(&shop);
    shop.spec.monitoring.traces = Some(shop_operator::crd::TracesSpec {
        endpoint: "http://otel-collector.observability:4318".to_owned(),
        sample_ratio: Some(0.1),
    });
    let traced = everything(&shop);
    let env_of = |objects: &[Object], what: &str| -> BTreeMap<String, String> {
        let (_, template) = pod_templates(objects)
            .into_iter()
            .find(|(name, _)| name == what)
            .unwrap_or_else(|| panic!("no {what}"));
        template.spec.unwrap().containers[0]
            .env
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|e| e.value.map(|v| (e.name, v)))
            .collect()
    };
    for service in ["auth", "catalog", "cart", "order", "gateway"] {
        let what = format!("Deployment/{}-{service}", shop.metadata.name.as_deref().unwrap());
        let before = env_of(&plain, &what);
        assert!(
            !before.keys().any(|k| k.starts_with("OTEL_")),
            "{what}: no traces unless asked"
        );
        let env = env_of(&traced, &what);
        assert_eq!(
            env.get("OTEL_EXPORTER_OTLP_ENDPOINT").map(String::as_str),
            Some("http://otel-collector.observability:4318"),
            "{what}"
        );
        assert_eq!(
            env.get("OTEL_TRACES_SAMPLER").map(String::as_str),
            Some("parentbased_traceidratio")
        );
        assert_eq!(env.get("OTEL_TRACES_SAMPLER_ARG").map(String::as_str), Some("0.1"));
        // The service's own policy lets it reach the collector's port, and only with traces on.
        let policy = |objects: &[Object]| {
            objects
                .iter()
                .find(|o| {
                    o.kind == Kind::NetworkPolicy
                        && o.name == format!("{}-{service}", shop.metadata.name.as_deref().unwrap())
                })
                .map(|o| o.value["spec"]["egress"].to_string())
                .unwrap_or_else(|| panic!("no policy for {service}"))
        };
        assert!(!policy(&plain).contains("4318"), "{service}");
        assert!(
            policy(&traced).contains("{\"port\":4318,\"protocol\":\"TCP\"}"),
            "{service}: {}",
            policy(&traced)
        );
    }
}
