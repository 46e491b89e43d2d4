//! Mocked API-server scenarios: each pass of the reconciler must make exactly the calls listed.
//! The in-memory API server (`shop_operator::mock::FakeApi`) stores what it is sent and plays
//! the cluster (`settle`): a missing or an extra call fails the comparison.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use kube::runtime::controller::Action;
use kube::runtime::events::{Recorder, Reporter};
use serde_json::{Value, json};
use shop_operator::Shop;
use shop_operator::crd::Phase;
use shop_operator::metrics::Metrics;
use shop_operator::mock::FakeApi;
use shop_operator::reconcile::{Context, LONG_REQUEUE, SHORT_REQUEUE, error_policy, reconcile};

const NS: &str = "shop";

struct Harness {
    api: FakeApi,
    ctx: Arc<Context>,
}

fn harness(prometheus_operator: bool) -> Harness {
    harness_with(prometheus_operator, false)
}

fn harness_with(prometheus_operator: bool, cloudnative_pg: bool) -> Harness {
    shop_kit::install_crypto_provider();
    let api = FakeApi::new();
    let client = api.client();
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "shop-operator".to_owned(),
            instance: Some("test".to_owned()),
        },
    );
    let ctx = Arc::new(
        Context::new(client, recorder, Arc::new(Metrics::default()), prometheus_operator)
            .with_cloudnative_pg(cloudnative_pg),
    );
    let shop = json!({
        "apiVersion": "shopkeeper.dev/v1alpha1",
        "kind": "Shop",
        "metadata": {"name": "demo", "namespace": NS, "uid": "shop-uid"},
        "spec": {"image": "shop:1"},
    });
    api.insert("shops", shop);
    Harness { api, ctx }
}

impl Harness {
    fn shop(&self) -> Shop {
        serde_json::from_value(self.api.get("shops", NS, "demo").unwrap()).unwrap()
    }

    fn edit(&self, change: impl FnOnce(&mut Value)) {
        self.api.update("shops", NS, "demo", |shop| {
            change(&mut shop["spec"]);
            let generation = shop["metadata"]["generation"].as_i64().unwrap();
            shop["metadata"]["generation"] = json!(generation + 1);
        });
    }

    /// One reconcile of the stored Shop; the calls it made.
    async fn pass(&self) -> (Action, Vec<String>) {
        self.api.take_calls();
        let shop = Arc::new(self.shop());
        let action = tokio::time::timeout(Duration::from_secs(10), reconcile(shop, self.ctx.clone()))
            .await
            .expect("reconcile hung")
            .expect("reconcile failed");
        (action, self.api.take_calls())
    }

    /// Passes until the Shop is Ready (the cluster settling in between).
    async fn ready(&self) {
        for _ in 0..6 {
            self.pass().await;
            self.api.settle("", false);
        }
        self.pass().await;
        assert_eq!(self.status()["phase"], "Ready", "{:#}", self.status());
    }

    fn status(&self) -> Value {
        self.api.get("shops", NS, "demo").unwrap()["status"].clone()
    }

    fn condition(&self, type_: &str) -> Value {
        self.status()["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == type_)
            .cloned()
            .unwrap()
    }
}

fn calls(lines: &str) -> Vec<String> {
    lines
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The reads every pass starts with (no Prometheus Operator installed).
const LISTS: &str = "
    LIST secrets
    LIST configmaps
    LIST networkpolicies
    LIST services
    LIST statefulsets
    LIST jobs
    LIST deployments
    LIST cronjobs
    LIST persistentvolumeclaims
    LIST horizontalpodautoscalers
    LIST poddisruptionbudgets
    LIST ingresses
";

fn with_lists(rest: &str) -> Vec<String> {
    let mut all = calls(LISTS);
    all.extend(calls(rest));
    all
}

fn migration_jobs(api: &FakeApi, image: &str) -> Vec<String> {
    api.all("jobs")
        .iter()
        .filter(|j| j["metadata"]["annotations"]["shopkeeper.dev/image"] == image)
        .map(|j| j["metadata"]["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_new_shop_gets_secrets_then_data_then_migrations() {
    let h = harness(false);
    let (action, made) = h.pass().await;
    let bootstrap = h.api.all("jobs")[0]["metadata"]["name"].as_str().unwrap().to_owned();
    assert_eq!(
        made,
        with_lists_and_volume_check(&format!(
            "
            POST secrets
            POST secrets
            POST secrets
            POST secrets
            POST secrets
            POST secrets
            POST secrets
            POST secrets
            POST secrets
            POST secrets
            PATCH networkpolicies/demo-default-deny
            PATCH networkpolicies/demo-postgres
            PATCH networkpolicies/demo-db-bootstrap
            PATCH networkpolicies/demo-redis
            PATCH networkpolicies/demo-migrations
            PATCH services/demo-postgres-headless
            PATCH services/demo-postgres
            PATCH statefulsets/demo-postgres
            PATCH services/demo-redis-headless
            PATCH services/demo-redis
            PATCH statefulsets/demo-redis
            PATCH jobs/{bootstrap}
            PATCH shops/demo/status
            "
        ))
    );
    assert_eq!(action, Action::requeue(SHORT_REQUEUE));
    assert_eq!(h.status()["phase"], "Pending");
    assert!(h.api.all("deployments").is_empty());

    // Nothing changed in the cluster: only reads, and a status that now reads Provisioning.
    let (_, made) = h.pass().await;
    assert_eq!(made, with_lists("PATCH shops/demo/status"));
    assert_eq!(h.status()["phase"], "Provisioning");
    let (_, made) = h.pass().await;
    assert_eq!(made, with_lists(""), "an unchanged Shop writes nothing");

    // Postgres and Redis up, databases bootstrapped: the migration Jobs, nothing else.
    h.api.settle("bootstrap", false);
    let (action, made) = h.pass().await;
    let jobs = migration_jobs(&h.api, "shop:1");
    assert_eq!(jobs.len(), 3);
    let auth = jobs.iter().find(|j| j.starts_with("demo-migrate-auth-")).unwrap();
    let catalog = jobs.iter().find(|j| j.starts_with("demo-migrate-catalog-")).unwrap();
    let order = jobs.iter().find(|j| j.starts_with("demo-migrate-order-")).unwrap();
    assert_eq!(
        made,
        with_lists(&format!(
            "
            PATCH jobs/{auth}
            PATCH jobs/{catalog}
            PATCH jobs/{order}
            PATCH shops/demo/status
            "
        ))
    );
    assert_eq!(action, Action::requeue(SHORT_REQUEUE));
    assert_eq!(h.status()["phase"], "Migrating");
    assert_eq!(h.condition("DatabaseReady")["status"], "True");
    assert_eq!(h.condition("Migrated")["reason"], "Running");
    // Migrations still running: the Deployments wait.
    let (_, made) = h.pass().await;
    assert_eq!(made, with_lists(""));
    assert!(h.api.all("deployments").is_empty());
}

const WORKLOADS: &str = "
    PATCH deployments/demo-auth
    PATCH services/demo-auth
    PATCH poddisruptionbudgets/demo-auth
    PATCH deployments/demo-catalog
    PATCH services/demo-catalog
    PATCH horizontalpodautoscalers/demo-catalog
    PATCH poddisruptionbudgets/demo-catalog
    PATCH deployments/demo-cart
    PATCH services/demo-cart
    PATCH horizontalpodautoscalers/demo-cart
    PATCH poddisruptionbudgets/demo-cart
    PATCH deployments/demo-order
    PATCH services/demo-order
    PATCH poddisruptionbudgets/demo-order
    PATCH deployments/demo-gateway
    PATCH services/demo-gateway
    PATCH horizontalpodautoscalers/demo-gateway
    PATCH poddisruptionbudgets/demo-gateway
    PATCH networkpolicies/demo-auth
    PATCH networkpolicies/demo-catalog
    PATCH networkpolicies/demo-cart
    PATCH networkpolicies/demo-order
    PATCH networkpolicies/demo-gateway
    PATCH ingresses/demo
    PATCH configmaps/demo-dashboards
";

#[tokio::test]
async fn migrations_done_then_workloads_then_steady_state() {
    let h = harness(false);
    h.pass().await;
    h.api.settle("bootstrap", false);
    h.pass().await;
    h.api.settle("migrate", false);
    let (_, made) = h.pass().await;
    assert_eq!(made, with_lists(&format!("{WORKLOADS}\nPATCH shops/demo/status")));
    assert_eq!(h.status()["migratedImage"], "shop:1");
    assert_eq!(h.condition("Migrated")["status"], "True");
    assert_eq!(h.status()["phase"], "Provisioning", "Deployments not ready yet");

    h.api.settle("", false);
    let (action, made) = h.pass().await;
    assert_eq!(made, with_lists("PATCH shops/demo/status"));
    assert_eq!(action, Action::requeue(LONG_REQUEUE));
    let status = h.status();
    assert_eq!(status["phase"], "Ready");
    assert_eq!(status["version"], "shop:1");
    assert_eq!(status["url"], "http://shop.local");
    assert_eq!(status["readyServices"], "5/5");
    assert_eq!(status["services"]["catalog"], json!({"ready": 2, "desired": 2}));
    let ready_since = h.condition("Ready")["lastTransitionTime"].clone();

    // Steady state: reads only, not even the status.
    for _ in 0..3 {
        let (action, made) = h.pass().await;
        assert_eq!(made, with_lists(""));
        assert_eq!(action, Action::requeue(LONG_REQUEUE));
    }
    assert_eq!(h.condition("Ready")["lastTransitionTime"], ready_since);
}

#[tokio::test]
async fn drift_is_corrected() {
    let h = harness(false);
    h.ready().await;
    h.api.update("deployments", NS, "demo-cart", |d| {
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("evil:latest");
    });
    h.api.update("services", NS, "demo-auth", |s| {
        s["metadata"]["labels"]["app.kubernetes.io/managed-by"] = json!("someone");
    });
    let (_, made) = h.pass().await;
    // The Service lost our label, so the LIST no longer sees it: it is re-applied too. The
    // Deployment ran another image: the status says it is rolling back out.
    assert_eq!(
        made,
        with_lists("PATCH services/demo-auth\nPATCH deployments/demo-cart\nPATCH shops/demo/status")
    );
    assert_eq!(h.condition("Progressing")["reason"], "RollingOut");
    let cart = h.api.get("deployments", NS, "demo-cart").unwrap();
    assert_eq!(cart["spec"]["template"]["spec"]["containers"][0]["image"], "shop:1");
}

#[tokio::test]
async fn an_upgrade_migrates_first_then_rolls_out() {
    let h = harness(false);
    h.ready().await;
    let old_jobs = migration_jobs(&h.api, "shop:1");
    h.edit(|spec| spec["image"] = json!("shop:2"));
    let (_, made) = h.pass().await;
    let new_jobs = migration_jobs(&h.api, "shop:2");
    assert_eq!(new_jobs.len(), 3);
    let mut expected: Vec<String> = new_jobs.iter().map(|j| format!("PATCH jobs/{j}")).collect();
    // The old image's Jobs are no longer wanted.
    expected.extend(old_jobs.iter().map(|j| format!("DELETE jobs/{j}")));
    expected.push("PATCH shops/demo/status".to_owned());
    assert_eq!(made, with_lists(&expected.join("\n")));
    for d in h.api.all("deployments") {
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["image"], "shop:1",
            "old image until migrated"
        );
    }
    assert_eq!(h.status()["phase"], "Migrating");
    assert_eq!(h.status()["version"], "shop:1");
    assert_eq!(
        h.condition("ServicesAvailable")["status"],
        "True",
        "the old version serves"
    );

    h.api.settle("migrate", false);
    let (_, made) = h.pass().await;
    assert_eq!(
        made,
        with_lists(
            "
            PATCH deployments/demo-auth
            PATCH deployments/demo-catalog
            PATCH deployments/demo-cart
            PATCH deployments/demo-order
            PATCH deployments/demo-gateway
            PATCH shops/demo/status
            "
        )
    );
    for d in h.api.all("deployments") {
        assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["image"], "shop:2");
    }
    h.api.settle("", false);
    h.pass().await;
    assert_eq!(h.status()["phase"], "Ready");
    assert_eq!(h.status()["version"], "shop:2");
}

#[tokio::test]
async fn a_failed_migration_keeps_the_old_version_serving() {
    let h = harness(false);
    h.ready().await;
    h.edit(|spec| spec["image"] = json!("shop:broken"));
    h.pass().await;
    h.api.settle("migrate", true);
    let (action, made) = h.pass().await;
    assert_eq!(made, with_lists("POST events\nPATCH shops/demo/status"));
    assert_eq!(action, Action::requeue(LONG_REQUEUE));
    let status = h.status();
    assert_eq!(status["phase"], "Degraded");
    assert_eq!(status["version"], "shop:1");
    assert_eq!(status["migratedImage"], "shop:1");
    let migrated = h.condition("Migrated");
    assert_eq!(migrated["status"], "False");
    assert_eq!(migrated["reason"], "MigrationFailed");
    assert!(migrated["message"].as_str().unwrap().contains("BackoffLimitExceeded"));
    assert!(status["phaseReason"].as_str().unwrap().contains("shop:1 keeps serving"));
    for d in h.api.all("deployments") {
        assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["image"], "shop:1");
    }
    let event = &h.api.all("events")[0];
    assert_eq!(event["type"], "Warning");
    assert_eq!(event["reason"], "MigrationFailed");
    // The Event is published once, not on every pass.
    let (_, made) = h.pass().await;
    assert_eq!(made, with_lists(""));
}

#[tokio::test]
async fn replicas_and_autoscaling_changes_are_applied() {
    let h = harness(false);
    h.ready().await;
    assert!(
        h.api.get("horizontalpodautoscalers", NS, "demo-cart").is_some(),
        "by default"
    );
    assert!(h.api.get("horizontalpodautoscalers", NS, "demo-auth").is_none());
    h.edit(|spec| {
        spec["services"] = json!({
            "auth": {"autoscaling": {"minReplicas": 2, "maxReplicas": 8}},
            "cart": {"replicas": 4},
        });
    });
    let (_, made) = h.pass().await;
    assert_eq!(
        made,
        with_lists(
            "
            PATCH deployments/demo-auth
            PATCH deployments/demo-auth
            PATCH horizontalpodautoscalers/demo-auth
            PATCH deployments/demo-cart
            DELETE horizontalpodautoscalers/demo-cart
            PATCH shops/demo/status
            "
        )
    );
    assert_eq!(
        h.api.get("deployments", NS, "demo-cart").unwrap()["spec"]["replicas"],
        4
    );
    let hpa = h.api.get("horizontalpodautoscalers", NS, "demo-auth").unwrap();
    assert_eq!(hpa["spec"]["maxReplicas"], 8);
}

#[tokio::test]
async fn an_hpa_takes_over_without_the_deployment_falling_to_one_replica() {
    let h = harness(false);
    h.edit(|spec| spec["services"] = json!({"cart": {"replicas": 4}}));
    h.ready().await;
    h.edit(|spec| spec["services"] = json!({"cart": {"autoscaling": {"minReplicas": 2, "maxReplicas": 6}}}));
    let (_, made) = h.pass().await;
    assert_eq!(
        made,
        with_lists(
            "
            PATCH deployments/demo-cart
            PATCH deployments/demo-cart
            PATCH horizontalpodautoscalers/demo-cart
            PATCH shops/demo/status
            "
        ),
        "the replicas are handed over, then the Deployment applied without them"
    );
    let cart = h.api.get("deployments", NS, "demo-cart").unwrap();
    assert_eq!(cart["spec"]["replicas"], 4, "kept until the HPA decides");
    let owners: Vec<&str> = cart["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["manager"].as_str().unwrap())
        .collect();
    assert_eq!(owners, ["shop-operator-hpa-handover"]);
    // The HPA scales (an update through the scale subresource); the operator leaves it be.
    h.api.update("deployments", NS, "demo-cart", |d| {
        d["spec"]["replicas"] = json!(5);
        d["metadata"]["managedFields"] = json!([{"manager": "kube-controller-manager", "operation": "Update",
            "fieldsV1": {"f:spec": {"f:replicas": {}}}}]);
    });
    h.api.settle("", false);
    h.pass().await;
    let (_, made) = h.pass().await;
    assert_eq!(made, with_lists(""));
    assert_eq!(
        h.api.get("deployments", NS, "demo-cart").unwrap()["spec"]["replicas"],
        5
    );
}

#[tokio::test]
async fn a_disabled_service_is_deleted_by_label() {
    let h = harness(false);
    h.ready().await;
    h.edit(|spec| spec["services"] = json!({"cart": {"enabled": false}}));
    let (_, made) = h.pass().await;
    assert_eq!(
        made,
        with_lists(
            "
            PATCH networkpolicies/demo-redis
            PATCH networkpolicies/demo-auth
            PATCH networkpolicies/demo-catalog
            PATCH networkpolicies/demo-order
            PATCH networkpolicies/demo-gateway
            DELETE networkpolicies/demo-cart
            DELETE services/demo-cart
            DELETE deployments/demo-cart
            DELETE horizontalpodautoscalers/demo-cart
            DELETE poddisruptionbudgets/demo-cart
            PATCH shops/demo/status
            "
        )
    );
    assert!(h.api.get("deployments", NS, "demo-cart").is_none());
    assert_eq!(h.status()["readyServices"], "4/4");
}

#[tokio::test]
async fn a_paused_shop_gets_no_writes_but_its_status() {
    let h = harness(false);
    h.ready().await;
    h.edit(|spec| {
        spec["paused"] = json!(true);
        spec["image"] = json!("shop:2");
    });
    let (action, made) = h.pass().await;
    assert_eq!(made, with_lists("PATCH shops/demo/status"));
    assert_eq!(action, Action::requeue(LONG_REQUEUE));
    assert!(h.status()["phaseReason"].as_str().unwrap().starts_with("paused"));
    assert!(migration_jobs(&h.api, "shop:2").is_empty());
    let (_, made) = h.pass().await;
    assert_eq!(made, with_lists(""));
}

#[tokio::test]
async fn a_deleted_shop_is_left_to_the_garbage_collector() {
    let h = harness(false);
    h.ready().await;
    h.api.update("shops", NS, "demo", |shop| {
        shop["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    });
    let (action, made) = h.pass().await;
    assert!(made.is_empty(), "{made:?}");
    assert_eq!(action, Action::await_change());
}

#[tokio::test]
async fn monitoring_objects_are_made_when_the_prometheus_operator_is_there() {
    let h = harness(true);
    h.ready().await;
    assert!(h.api.get("servicemonitors", NS, "demo").is_some());
    assert!(h.api.get("prometheusrules", NS, "demo").is_some());
    h.edit(|spec| spec["monitoring"] = json!({"serviceMonitor": false, "prometheusRule": true}));
    let (_, made) = h.pass().await;
    assert!(made.contains(&"DELETE servicemonitors/demo".to_owned()), "{made:?}");
}

#[tokio::test]
async fn existing_secrets_are_never_overwritten() {
    let h = harness(false);
    h.api.insert(
        "secrets",
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "demo-admin", "namespace": NS,
               "labels": {"shopkeeper.dev/shop": "demo", "app.kubernetes.io/managed-by": "shop-operator"}},
               "stringData": {"password": "chosen-by-a-person"}}),
    );
    let (_, made) = h.pass().await;
    assert_eq!(made.iter().filter(|c| *c == "POST secrets").count(), 9);
    let admin = h.api.get("secrets", NS, "demo-admin").unwrap();
    assert_eq!(admin["stringData"]["password"], "chosen-by-a-person");
}

#[tokio::test]
async fn an_invalid_spec_fails_in_the_status() {
    let h = harness(false);
    h.edit(|spec| spec["services"] = json!({"auth": {"autoscaling": {"minReplicas": 5, "maxReplicas": 2}}}));
    let (action, made) = h.pass().await;
    assert_eq!(made, calls("PATCH shops/demo/status"));
    assert_eq!(action, Action::await_change());
    assert_eq!(h.status()["phase"], serde_json::to_value(Phase::Failed).unwrap());
}

#[tokio::test]
async fn a_restarting_postgres_deletes_nothing() {
    let h = harness(false);
    h.ready().await;
    h.api.update("statefulsets", NS, "demo-postgres", |s| {
        s["status"]["readyReplicas"] = json!(0)
    });
    let (_, made) = h.pass().await;
    assert_eq!(made, with_lists("POST events\nPATCH shops/demo/status"));
    assert_eq!(migration_jobs(&h.api, "shop:1").len(), 3, "migration Jobs stay");
    assert_eq!(h.status()["phase"], "Degraded");
    assert_eq!(h.condition("Degraded")["reason"], "Unavailable");
    assert_eq!(h.api.all("events")[0]["reason"], "Unavailable");
    assert_eq!(h.condition("DatabaseReady")["reason"], "Starting");
    assert_eq!(h.status()["version"], "shop:1");
}

#[tokio::test]
async fn a_bigger_volume_grows_the_pvc_not_the_claim_template() {
    let h = harness(false);
    h.ready().await;
    h.api.insert(
        "persistentvolumeclaims",
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
               "metadata": {"name": "data-demo-postgres-0", "namespace": NS},
               "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
    );
    h.edit(|spec| spec["postgres"] = json!({"storage": "5Gi"}));
    let (_, made) = h.pass().await;
    assert_eq!(
        made,
        with_lists(
            "
            PATCH statefulsets/demo-postgres
            GET persistentvolumeclaims/data-demo-postgres-0
            PATCH persistentvolumeclaims/data-demo-postgres-0
            PATCH shops/demo/status
            "
        )
    );
    let sts = h.api.get("statefulsets", NS, "demo-postgres").unwrap();
    let template = &sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"];
    assert_eq!(template, "1Gi", "claim templates are immutable");
    let pvc = h.api.get("persistentvolumeclaims", NS, "data-demo-postgres-0").unwrap();
    assert_eq!(pvc["spec"]["resources"]["requests"]["storage"], "5Gi");
    // Grown: a read, no write.
    let (_, made) = h.pass().await;
    assert_eq!(made, with_lists("GET persistentvolumeclaims/data-demo-postgres-0"));
}

#[tokio::test]
async fn switching_redis_persistence_recreates_its_statefulset() {
    let h = harness(false);
    h.ready().await;
    h.edit(|spec| spec["redis"] = json!({"persistence": true}));
    let (_, made) = h.pass().await;
    assert_eq!(
        made,
        with_lists("DELETE statefulsets/demo-redis\nPATCH shops/demo/status")
    );
    let (_, made) = h.pass().await;
    assert!(made.contains(&"PATCH statefulsets/demo-redis".to_owned()), "{made:?}");
    let sts = h.api.get("statefulsets", NS, "demo-redis").unwrap();
    assert_eq!(sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"], "data");
}

/// Plays a Deployment controller that saw the current generation but whose new pod never
/// becomes ready (maxSurge 1: the old replicas keep serving).
fn crash_loop(api: &FakeApi, name: &str, deadline_passed: bool) {
    api.update("deployments", NS, name, |d| {
        let mut status = json!({
            "observedGeneration": d["metadata"]["generation"].clone(),
            "replicas": 3, "updatedReplicas": 1, "readyReplicas": 2, "availableReplicas": 2,
        });
        if deadline_passed {
            status["conditions"] = json!([{"type": "Progressing", "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": format!("ReplicaSet \"{name}-2\" has timed out progressing.")}]);
        }
        d["status"] = status;
    });
}

#[tokio::test]
async fn the_version_waits_for_the_rollout_and_a_stuck_one_degrades() {
    let h = harness(false);
    h.ready().await;
    h.edit(|spec| spec["image"] = json!("shop:2"));
    h.pass().await;
    h.api.settle("migrate", false);
    h.pass().await; // the Deployments get shop:2
    // The Deployment controller has not looked yet: its status still describes the old spec.
    h.pass().await;
    let status = h.status();
    assert_eq!(status["version"], "shop:1", "{status:#}");
    assert_ne!(status["phase"], "Ready");
    assert_eq!(h.condition("Progressing")["status"], "True");
    assert_eq!(h.condition("Ready")["status"], "False");

    // The new catalog pod crash-loops; the old ones serve.
    crash_loop(&h.api, "demo-catalog", false);
    for other in ["auth", "cart", "order", "gateway"] {
        h.api.update("deployments", NS, &format!("demo-{other}"), |d| {
            d["status"]["observedGeneration"] = d["metadata"]["generation"].clone();
        });
    }
    h.pass().await;
    assert_eq!(h.status()["version"], "shop:1");
    assert_eq!(h.condition("Available")["status"], "True");
    assert!(
        h.condition("Progressing")["message"]
            .as_str()
            .unwrap()
            .contains("catalog: 1/2 replicas updated")
    );

    // Its progress deadline passes: Degraded, the old version recorded, an Event once.
    crash_loop(&h.api, "demo-catalog", true);
    let (action, made) = h.pass().await;
    assert_eq!(made, with_lists("POST events\nPATCH shops/demo/status"));
    assert_eq!(action, Action::requeue(SHORT_REQUEUE));
    let status = h.status();
    assert_eq!(status["phase"], "Degraded");
    assert_eq!(status["version"], "shop:1");
    assert!(status["phaseReason"].as_str().unwrap().contains("shop:1 keeps serving"));
    assert_eq!(h.condition("Degraded")["reason"], "RolloutFailed");
    assert_eq!(h.condition("Progressing")["reason"], "ProgressDeadlineExceeded");
    let event = &h.api.all("events")[0];
    assert_eq!(event["reason"], "RolloutFailed");
    assert!(event["note"].as_str().unwrap().contains("ProgressDeadlineExceeded"));
    let (_, made) = h.pass().await;
    assert_eq!(made, with_lists(""), "announced once");

    // Fixed (the pod came up): Ready at shop:2.
    h.api.settle("", false);
    h.pass().await;
    assert_eq!(h.status()["phase"], "Ready");
    assert_eq!(h.status()["version"], "shop:2");
    assert_eq!(h.condition("Degraded")["status"], "False");
}

#[tokio::test]
async fn a_pvc_that_cannot_grow_is_reported_and_retried_with_backoff() {
    let h = harness(false);
    h.ready().await;
    h.api.insert(
        "persistentvolumeclaims",
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
               "metadata": {"name": "data-demo-postgres-0", "namespace": NS},
               "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
    );
    let why = "only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize";
    h.api
        .refuse("PATCH persistentvolumeclaims/data-demo-postgres-0", 403, why);
    h.edit(|spec| spec["postgres"] = json!({"storage": "5Gi"}));
    h.api.take_calls();
    let shop = Arc::new(h.shop());
    let err = reconcile(shop.clone(), h.ctx.clone()).await.unwrap_err();
    assert!(err.to_string().contains("resized"), "{err}");
    assert_eq!(
        h.api.take_calls(),
        with_lists(
            "
            PATCH statefulsets/demo-postgres
            GET persistentvolumeclaims/data-demo-postgres-0
            PATCH persistentvolumeclaims/data-demo-postgres-0
            POST events
            PATCH shops/demo/status
            "
        ),
        "the status is written before the error goes to the backoff"
    );
    let status = h.status();
    assert_eq!(status["phase"], "Degraded");
    assert_eq!(status["version"], "shop:1", "the shop still serves");
    let degraded = h.condition("Degraded");
    assert_eq!(degraded["reason"], "VolumeGrowFailed");
    assert!(degraded["message"].as_str().unwrap().contains("storageclass"));
    assert_eq!(h.api.all("events")[0]["reason"], "VolumeGrowFailed");

    // Retries back off; a success forgets the failures.
    let first = error_policy(shop.clone(), &err, h.ctx.clone());
    assert_eq!(h.ctx.failures_of(&shop), 1);
    assert_ne!(first, Action::requeue(Duration::from_secs(15)));
    let err = reconcile(Arc::new(h.shop()), h.ctx.clone()).await.unwrap_err();
    error_policy(shop.clone(), &err, h.ctx.clone());
    assert_eq!(h.ctx.failures_of(&shop), 2);
    assert_eq!(h.api.all("events").len(), 1, "the same failure is announced once");
    // What the Shop's alerts read (ShopReconcileFailing, ShopNotReady).
    let failures =
        |n: u32| format!(r#"shop_operator_shop_consecutive_failures{{shop_namespace="{NS}",shop="demo"}} {n}"#);
    let phase =
        |p: &str, v: u8| format!(r#"shop_operator_shop_phase{{shop_namespace="{NS}",shop="demo",phase="{p}"}} {v}"#);
    let metrics = h.ctx.metrics.encode();
    assert!(
        metrics.contains(&failures(2)) && metrics.contains(&phase("Degraded", 1)),
        "{metrics}"
    );
    assert!(metrics.contains(&phase("Ready", 0)), "{metrics}");
    h.edit(|spec| spec["postgres"] = json!({"storage": "1Gi"}));
    h.pass().await;
    assert_eq!(h.ctx.failures_of(&shop), 0);
    let metrics = h.ctx.metrics.encode();
    assert!(metrics.contains(&failures(0)), "{metrics}");
}

#[tokio::test]
async fn the_steady_state_is_write_free_against_a_canonicalizing_server() {
    // Quantities as people write them; the server stores `500m`, `1536Mi`, `1Gi`.
    let h = harness(false);
    h.edit(|spec| {
        spec["postgres"] = json!({"storage": "1.5Gi",
            "resources": {"requests": {"cpu": "0.25", "memory": "256Mi"}, "limits": {"memory": "1024Mi"}}});
        spec["services"] = json!({"catalog": {"resources": {
            "requests": {"cpu": 0.5, "memory": "65536Ki"}, "limits": {"memory": "0.5Gi"}}}});
    });
    h.ready().await;
    let pg = h.api.get("statefulsets", NS, "demo-postgres").unwrap();
    let container = &pg["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["resources"]["requests"]["cpu"], "250m");
    assert_eq!(container["resources"]["limits"]["memory"], "1Gi");
    let catalog = h.api.get("deployments", NS, "demo-catalog").unwrap();
    assert_eq!(
        catalog["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"],
        "512Mi"
    );
    let deny = h.api.get("networkpolicies", NS, "demo-default-deny").unwrap();
    assert!(deny["spec"].get("ingress").is_none(), "the server drops `ingress: []`");
    assert_eq!(deny["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    for _ in 0..2 {
        let (_, made) = h.pass().await;
        assert_eq!(made, with_lists(""), "re-patched what the server rewrote");
    }
}

#[tokio::test]
async fn a_redis_nobody_uses_admits_nobody() {
    // `from: []` would be dropped by the server and then admit every pod.
    let h = harness(false);
    h.edit(|spec| spec["services"] = json!({"cart": {"enabled": false}, "gateway": {"enabled": false}}));
    h.pass().await;
    let policy = h.api.get("networkpolicies", NS, "demo-redis").unwrap();
    assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress"]));
    assert!(policy["spec"].get("ingress").is_none(), "{policy:#}");
}

fn bootstrap_jobs(api: &FakeApi) -> Vec<String> {
    api.all("jobs")
        .iter()
        .map(|j| j["metadata"]["name"].as_str().unwrap().to_owned())
        .filter(|n| n.starts_with("demo-db-bootstrap-"))
        .collect()
}

#[tokio::test]
async fn a_changed_secret_rolls_the_pods_that_use_it_and_reaches_the_role() {
    let h = harness(false);
    h.ready().await;
    let secret = h.api.get("secrets", NS, "demo-db-catalog").unwrap();
    assert!(secret.get("stringData").is_none(), "the server keeps data only");
    let old_bootstrap = bootstrap_jobs(&h.api);
    let before = |name: &str| {
        h.api.get("deployments", NS, name).unwrap()["spec"]["template"]["metadata"]["annotations"]
            ["shopkeeper.dev/secrets-hash"]
            .clone()
    };
    let (catalog_before, order_before) = (before("demo-catalog"), before("demo-order"));
    // A person rotates catalog's database password (deleting the Secret has the same effect:
    // the operator generates a new one).
    h.api.update("secrets", NS, "demo-db-catalog", |s| {
        s["data"]["password"] = json!("bmV3LXBhc3N3b3Jk");
    });
    let (_, made) = h.pass().await;
    let new_bootstrap = bootstrap_jobs(&h.api);
    assert_eq!(new_bootstrap.len(), 1);
    assert_ne!(
        new_bootstrap, old_bootstrap,
        "a new bootstrap Job sets the role's password"
    );
    assert_eq!(
        made,
        with_lists(&format!(
            "
            PATCH jobs/{}
            PATCH deployments/demo-catalog
            DELETE jobs/{}
            PATCH shops/demo/status
            ",
            new_bootstrap[0], old_bootstrap[0]
        )),
        "only catalog reads that Secret"
    );
    assert_ne!(before("demo-catalog"), catalog_before);
    assert_eq!(before("demo-order"), order_before);
    assert_eq!(h.condition("DatabaseReady")["status"], "True");
    assert_eq!(h.condition("DatabaseReady")["reason"], "UpdatingRoles");
    h.api.settle("", false);
    h.pass().await;
    assert_eq!(h.condition("DatabaseReady")["reason"], "Bootstrapped");
    assert_eq!(h.status()["phase"], "Ready");
    let (_, made) = h.pass().await;
    assert_eq!(made, with_lists(""));
}

/// The reads of a pass while the Postgres superuser Secret is missing.
fn with_lists_and_volume_check(rest: &str) -> Vec<String> {
    let mut all = calls("LIST secrets\nGET persistentvolumeclaims/data-demo-postgres-0");
    all.extend(calls(LISTS).into_iter().skip(1));
    all.extend(calls(rest));
    all
}

#[tokio::test]
async fn a_shop_recreated_over_its_kept_volume_is_refused_with_what_to_do() {
    let h = harness(false);
    // The PVC of an earlier Shop of the same name (kept by the StatefulSet's retention policy);
    // its Secrets went with it.
    h.api.insert(
        "persistentvolumeclaims",
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
               "metadata": {"name": "data-demo-postgres-0", "namespace": NS},
               "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
    );
    let (action, made) = h.pass().await;
    assert_eq!(
        made,
        with_lists_and_volume_check("POST events\nPATCH shops/demo/status"),
        "no Secret is generated: new passwords would not open the old data"
    );
    assert_eq!(action, Action::requeue(SHORT_REQUEUE));
    assert!(h.api.all("secrets").is_empty());
    assert!(h.api.all("statefulsets").is_empty());
    let degraded = h.condition("Degraded");
    assert_eq!(degraded["reason"], "DataWithoutSecrets");
    let message = degraded["message"].as_str().unwrap();
    assert!(
        message.contains("data-demo-postgres-0") && message.contains("delete the PVC"),
        "{message}"
    );
    assert_eq!(h.api.all("events")[0]["reason"], "DataWithoutSecrets");

    // The person chooses to start empty: the Shop proceeds.
    h.api.remove("persistentvolumeclaims", NS, "data-demo-postgres-0");
    let (_, made) = h.pass().await;
    assert_eq!(made.iter().filter(|c| *c == "POST secrets").count(), 10);
    assert!(h.api.get("statefulsets", NS, "demo-postgres").is_some());
}

#[tokio::test]
async fn a_postgres_major_version_change_is_refused_a_minor_one_applied() {
    let h = harness(false);
    h.ready().await;
    let image = |api: &FakeApi| {
        api.get("statefulsets", NS, "demo-postgres").unwrap()["spec"]["template"]["spec"]["containers"][0]["image"]
            .clone()
    };
    h.edit(|spec| spec["postgres"] = json!({"image": "postgres:18.1"}));
    let (_, made) = h.pass().await;
    assert_eq!(
        made,
        with_lists("POST events\nPATCH shops/demo/status"),
        "nothing re-applied"
    );
    assert_eq!(image(&h.api), "postgres:17");
    let degraded = h.condition("Degraded");
    assert_eq!(degraded["reason"], "PostgresMajorChange");
    assert!(degraded["message"].as_str().unwrap().contains("dump and restore"));
    assert_eq!(h.status()["phase"], "Degraded");
    assert_eq!(h.status()["version"], "shop:1", "the shop serves on");

    h.edit(|spec| spec["postgres"] = json!({"image": "postgres:17.2"}));
    let (_, made) = h.pass().await;
    assert!(
        made.contains(&"PATCH statefulsets/demo-postgres".to_owned()),
        "{made:?}"
    );
    assert_eq!(image(&h.api), "postgres:17.2");
    assert_eq!(h.condition("Degraded")["status"], "False");
}

type Rule = (Vec<String>, Vec<String>, Vec<String>);

fn rule_of(rule: &Value) -> Rule {
    let list = |key: &str| -> Vec<String> {
        rule[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    (list("apiGroups"), list("resources"), list("verbs"))
}

/// The chart's RBAC rules, `(apiGroups, resources, verbs)`: the Shop rules (one definition in
/// `_helpers.tpl`, which both the cluster-wide ClusterRole and the namespaced mode's Roles
/// include) and the literal rules of its Roles (the leader election's Lease).
fn chart_rules() -> Vec<Rule> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../charts/shopkeeper-operator/templates");
    let helpers = std::fs::read_to_string(format!("{dir}/_helpers.tpl")).unwrap();
    let start = r#"{{- define "shopkeeper-operator.rules" -}}"#;
    let body = helpers
        .split(start)
        .nth(1)
        .unwrap()
        .split("{{- end -}}")
        .next()
        .unwrap();
    let shared: Vec<Value> = serde_yaml::from_str(body).unwrap();
    let mut rules: Vec<Rule> = shared.iter().map(rule_of).collect();
    for mode in ["rbac.yaml", "rbac-namespaces.yaml"] {
        let text = std::fs::read_to_string(format!("{dir}/{mode}")).unwrap();
        assert!(
            text.contains(r#"include "shopkeeper-operator.rules""#),
            "{mode} does not grant the shared rules"
        );
    }
    // The template's few expressions are names and labels, never rules: blank them.
    let text: String = std::fs::read_to_string(format!("{dir}/rbac.yaml"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with("{{"))
        .map(|l| {
            let mut line = l.to_owned();
            while let (Some(a), Some(b)) = (line.find("{{"), line.find("}}")) {
                line.replace_range(a..b + 2, "x");
            }
            line + "\n"
        })
        .collect();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let doc: Value = serde_yaml::with::singleton_map_recursive::deserialize(doc).unwrap();
        if !matches!(doc["kind"].as_str(), Some("ClusterRole" | "Role")) {
            continue;
        }
        // The ClusterRole's rules are the shared ones (an include, blanked above).
        rules.extend(doc["rules"].as_array().into_iter().flatten().map(rule_of));
    }
    rules
}

fn group_of(resource: &str) -> &'static str {
    match resource.split('/').next().unwrap() {
        "shops" => "shopkeeper.dev",
        "events" => "events.k8s.io",
        "leases" => "coordination.k8s.io",
        "secrets" | "persistentvolumeclaims" | "services" | "configmaps" => "",
        "deployments" | "statefulsets" => "apps",
        "jobs" | "cronjobs" => "batch",
        "horizontalpodautoscalers" => "autoscaling",
        "poddisruptionbudgets" => "policy",
        "networkpolicies" | "ingresses" => "networking.k8s.io",
        "servicemonitors" | "prometheusrules" => "monitoring.coreos.com",
        "clusters" | "databases" | "scheduledbackups" => "postgresql.cnpg.io",
        other => panic!("no API group known for {other}: add it here and to the chart"),
    }
}

/// `(resource, verb)` of a recorded call. A server-side apply may create the object, so it
/// needs `create` as well as `patch`; a merge patch of a PVC or the status never creates.
fn permissions(call: &str) -> Vec<(String, &'static str)> {
    let (method, path) = call.split_once(' ').unwrap();
    let mut parts = path.split('/');
    let plural = parts.next().unwrap().to_owned();
    let status = path.ends_with("/status");
    let resource = if status {
        format!("{plural}/status")
    } else {
        plural.clone()
    };
    match method {
        "LIST" => vec![(resource, "list")],
        "GET" => vec![(resource, "get")],
        "POST" => vec![(resource, "create")],
        "DELETE" => vec![(resource, "delete")],
        "PATCH" if status || path.starts_with("persistentvolumeclaims/data-") => vec![(resource, "patch")],
        "PATCH" => vec![(resource.clone(), "patch"), (resource, "create")],
        other => panic!("unexpected call {other}"),
    }
}

/// Every verb on every resource the reconciler uses in a Shop's life is granted by the chart:
/// a new call without its rule fails here, not on a cluster with a 403.
#[tokio::test]
async fn the_chart_grants_every_call_the_operator_makes() {
    let mut made: Vec<String> = Vec::new();
    // A Shop's life: created, migrated, ready, upgraded, a failed migration, a volume grown,
    // autoscaling, a service switched off, monitoring, external data stores, a kept volume.
    let h = harness(true);
    h.api.insert(
        "persistentvolumeclaims",
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
               "metadata": {"name": "data-demo-postgres-0", "namespace": NS},
               "spec": {"resources": {"requests": {"storage": "1Gi"}}}}),
    );
    made.extend(h.pass().await.1);
    h.api.remove("persistentvolumeclaims", NS, "data-demo-postgres-0");
    for _ in 0..7 {
        made.extend(h.pass().await.1);
        h.api.settle("", false);
    }
    h.api.insert(
        "persistentvolumeclaims",
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
               "metadata": {"name": "data-demo-postgres-0", "namespace": NS},
               "spec": {"resources": {"requests": {"storage": "1Gi"}}}}),
    );
    h.edit(|spec| {
        spec["image"] = json!("shop:2");
        spec["postgres"] = json!({"storage": "2Gi", "backup": {}});
        spec["services"] = json!({"cart": {"enabled": false}, "auth": {"autoscaling": {"maxReplicas": 3}}});
        spec["monitoring"] = json!({"serviceMonitor": false, "prometheusRule": true});
    });
    made.extend(h.pass().await.1);
    h.api.settle("migrate", true);
    made.extend(h.pass().await.1);
    let external = harness(false);
    external.edit(|spec| {
        spec["postgres"] = json!({"external": {"secretRef": {"name": "pg"}}});
        spec["redis"] = json!({"external": {"secretRef": {"name": "redis"}}});
    });
    made.extend(external.pass().await.1);
    let cnpg = harness_with(false, true);
    cnpg.edit(|spec| {
        spec["postgres"] = json!({"cloudNativePG": {"instances": 2,
            "backup": {"destinationPath": "s3://b/x", "secretRef": {"name": "s3"}}}});
    });
    for _ in 0..4 {
        made.extend(cnpg.pass().await.1);
        cnpg.api.settle("", false);
    }

    let mut needed: BTreeSet<(String, &'static str)> = made.iter().flat_map(|c| permissions(c)).collect();
    // The controller watches Shops and its children (run.rs), and the leader election's Lease.
    for resource in [
        "shops",
        "deployments",
        "statefulsets",
        "jobs",
        "services",
        "networkpolicies",
        "horizontalpodautoscalers",
        "poddisruptionbudgets",
        "ingresses",
    ] {
        needed.insert((resource.to_owned(), "list"));
        needed.insert((resource.to_owned(), "watch"));
    }
    // With CloudNativePG it also watches the Clusters and Databases it made.
    for resource in ["clusters", "databases"] {
        needed.insert((resource.to_owned(), "watch"));
    }
    for verb in ["get", "create", "update"] {
        needed.insert(("leases".to_owned(), verb));
    }
    for expected in [
        ("secrets", "create"),
        ("secrets", "get"),
        ("persistentvolumeclaims", "get"),
        ("persistentvolumeclaims", "patch"),
        ("events", "create"),
        ("shops/status", "patch"),
        ("jobs", "delete"),
        ("servicemonitors", "delete"),
        ("clusters", "create"),
        ("cronjobs", "create"),
        ("persistentvolumeclaims", "create"),
        ("scheduledbackups", "patch"),
    ] {
        assert!(
            needed.contains(&(expected.0.to_owned(), expected.1)),
            "the walk through a Shop's life missed {expected:?}: {made:?}"
        );
    }

    let rules = chart_rules();
    let missing: Vec<String> = needed
        .iter()
        .filter(|(resource, verb)| {
            let group = group_of(resource);
            !rules.iter().any(|(groups, resources, verbs)| {
                groups.iter().any(|g| g == group)
                    && resources.iter().any(|r| r == resource)
                    && verbs.iter().any(|v| v == verb || v == "*")
            })
        })
        .map(|(resource, verb)| format!("{verb} {resource}"))
        .collect();
    assert!(missing.is_empty(), "the chart's RBAC does not grant: {missing:?}");
}

#[tokio::test]
async fn a_cloudnative_pg_shop_gets_a_cluster_with_a_role_and_database_per_service() {
    let h = harness_with(false, true);
    h.edit(|spec| {
        spec["postgres"] = json!({"cloudNativePG": {"instances": 3, "storage": "20Gi",
            "backup": {"destinationPath": "s3://backups/demo", "secretRef": {"name": "s3"}}}});
    });
    let (_, made) = h.pass().await;
    // No single instance, no superuser Secret, no bootstrap Job: CloudNativePG makes roles
    // from the services' Secrets and databases from the Database objects.
    assert!(
        !made
            .iter()
            .any(|c| c.contains("statefulsets/demo-postgres") || c.contains("db-bootstrap")),
        "{made:?}"
    );
    assert!(
        !made.iter().any(|c| c.starts_with("GET persistentvolumeclaims")),
        "{made:?}"
    );
    for call in [
        "LIST clusters",
        "PATCH clusters/demo-pg",
        "PATCH databases/demo-db-auth",
        "PATCH databases/demo-db-catalog",
        "PATCH databases/demo-db-order",
        "PATCH scheduledbackups/demo-pg",
    ] {
        assert!(made.contains(&call.to_owned()), "{call}: {made:?}");
    }
    assert!(h.api.get("secrets", NS, "demo-postgres").is_none());
    let catalog = h.api.get("secrets", NS, "demo-db-catalog").unwrap();
    assert_eq!(catalog["type"], "kubernetes.io/basic-auth");
    use base64::Engine as _;
    let url = base64::engine::general_purpose::STANDARD
        .decode(catalog["data"]["url"].as_str().unwrap())
        .unwrap();
    let url = String::from_utf8(url).unwrap();
    assert!(url.contains("@demo-pg-rw:5432/catalog"), "the primary's Service: {url}");
    let cluster = h.api.get("clusters", NS, "demo-pg").unwrap();
    let roles: Vec<&str> = cluster["spec"]["managed"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["passwordSecret"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["demo-db-auth", "demo-db-catalog", "demo-db-order"]);
    assert_eq!(cluster["spec"]["instances"], 3);
    assert_eq!(
        cluster["spec"]["backup"]["barmanObjectStore"]["destinationPath"],
        "s3://backups/demo"
    );
    assert_eq!(h.condition("DatabaseReady")["reason"], "Starting");
    assert!(
        migration_jobs(&h.api, "shop:1").is_empty(),
        "migrations wait for the databases"
    );

    // The cluster is ready and the databases exist: migrations, then the services, Ready.
    h.api.settle("", false);
    h.pass().await;
    assert_eq!(migration_jobs(&h.api, "shop:1").len(), 3);
    h.ready().await;
    let order = h.api.get("deployments", NS, "demo-order").unwrap();
    let env = order["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .clone();
    let url = env.iter().find(|e| e["name"] == "DATABASE_URL").unwrap();
    assert_eq!(url["valueFrom"]["secretKeyRef"]["name"], "demo-db-order");
    let (_, made) = h.pass().await;
    assert!(made.iter().all(|c| c.starts_with("LIST")), "steady state: {made:?}");
}

#[tokio::test]
async fn cloudnative_pg_asked_for_but_not_installed_says_so() {
    let h = harness(false);
    h.edit(|spec| spec["postgres"] = json!({"cloudNativePG": {}}));
    h.pass().await;
    let (_, made) = h.pass().await;
    assert!(!made.iter().any(|c| c.contains("clusters")), "{made:?}");
    assert_eq!(h.condition("DatabaseReady")["reason"], "CloudNativePGMissing");
    assert_eq!(h.status()["phase"], "Provisioning");
}

#[tokio::test]
async fn a_backup_volume_outlives_its_backups_being_switched_off() {
    let h = harness(false);
    h.edit(|spec| spec["postgres"] = json!({"backup": {"keep": 3}}));
    h.ready().await;
    assert!(h.api.get("cronjobs", NS, "demo-backup").is_some());
    assert!(h.api.get("persistentvolumeclaims", NS, "demo-backups").is_some());
    // A Job the CronJob made (unlabelled, as its template says) is none of the operator's business.
    h.api.insert(
        "jobs",
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "demo-backup-29400000", "namespace": NS}}),
    );
    let (_, made) = h.pass().await;
    assert_eq!(made, with_lists(""), "steady, and the CronJob's Job is left alone");
    h.edit(|spec| spec["postgres"] = json!({}));
    let (_, made) = h.pass().await;
    assert!(made.contains(&"DELETE cronjobs/demo-backup".to_owned()), "{made:?}");
    assert!(
        !made.iter().any(|c| c.starts_with("DELETE persistentvolumeclaims")),
        "{made:?}"
    );
    assert!(
        h.api.get("persistentvolumeclaims", NS, "demo-backups").is_some(),
        "backups are kept"
    );
    let (_, made) = h.pass().await;
    assert_eq!(made, with_lists(""));
}

#[tokio::test]
async fn a_clients_file_without_scopes_is_brought_up_to_the_contract() {
    use base64::Engine as _;
    let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let h = harness(false);
    h.ready().await;
    let hash = |name: &str| {
        h.api.get("deployments", NS, name).unwrap()["spec"]["template"]["metadata"]["annotations"]
            ["shopkeeper.dev/secrets-hash"]
            .clone()
    };
    let clients = || -> String {
        let secret = h.api.get("secrets", NS, "demo-service-clients").unwrap();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(secret["data"]["clients"].as_str().unwrap())
            .unwrap();
        String::from_utf8(raw).unwrap()
    };
    let current = clients();
    assert!(
        current.contains("catalog:reserve"),
        "a new Shop's file has scopes: {current}"
    );
    let (_, steady) = h.pass().await;
    assert!(
        !steady.iter().any(|c| c.starts_with("PATCH secrets")),
        "a current file is left alone: {steady:?}"
    );

    // The file as a Shop made before scopes has it: the same secrets, no scopes.
    let old: String = current
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let mut parts = l.splitn(3, ':');
            format!("{}:{}\n", parts.next().unwrap(), parts.next().unwrap())
        })
        .collect();
    let auth_current = hash("demo-auth");
    h.api.update("secrets", NS, "demo-service-clients", |s| {
        s["data"]["clients"] = json!(b64(&old));
    });
    let (_, made) = h.pass().await;
    assert!(
        made.contains(&"PATCH secrets/demo-service-clients".to_owned()),
        "{made:?}"
    );
    assert_eq!(
        clients(),
        current,
        "rebuilt from the per-caller secrets with the contract's scopes"
    );
    // The pods are built in the same pass from the rewritten Secret's hash, not the one observed
    // before the rewrite (which would roll them to the old file's hash).
    assert_eq!(hash("demo-auth"), auth_current, "auth reads the rewritten file");

    // A Secret made by hand, without the per-caller keys, is not touched.
    h.api.update("secrets", NS, "demo-service-clients", |s| {
        s["data"] = json!({"clients": b64("order:chosen-by-a-person\n")});
    });
    let (_, made) = h.pass().await;
    assert!(!made.iter().any(|c| c.starts_with("PATCH secrets")), "{made:?}");
}
