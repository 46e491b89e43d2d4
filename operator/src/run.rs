//! `shop-operator run`: logs, the admin port, leader election, then the controller until
//! SIGTERM/SIGINT or until the Lease is lost.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, ListParams};
use kube::runtime::controller::Controller;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::watcher;
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use shop_kit::config::{self, ConfigError};
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::Shop;
use crate::leader::LeaderElector;
use crate::metrics::Metrics;
use crate::reconcile::{Context, error_policy, reconcile};

/// How long a Lease holds without renewal.
const LEASE_DURATION: Duration = Duration::from_secs(15);
/// The leader renews this often.
const RENEW_EVERY: Duration = Duration::from_secs(2);
/// The leader stops when no renewal succeeded for this long: shorter than the Lease, so it
/// has stopped before another candidate may take over.
const RENEW_DEADLINE: Duration = Duration::from_secs(10);

/// Settings from the environment.
struct Settings {
    admin_addr: SocketAddr,
    namespace: String,
    identity: String,
    lease: String,
    /// `WATCH_NAMESPACES`: the namespaces whose Shops this operator reconciles (comma-separated);
    /// empty for every namespace. With a list, the chart grants Roles in those namespaces only.
    watch_namespaces: Vec<String>,
}

/// The namespaces of `WATCH_NAMESPACES` (`"a, b,"` → `["a", "b"]`).
pub fn watch_namespaces(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|ns| !ns.is_empty())
        .map(str::to_owned)
        .collect()
}

fn settings() -> Result<Settings, ConfigError> {
    let identity = match config::optional::<String>("POD_NAME")? {
        Some(name) => name,
        None => config::or("HOSTNAME", format!("shop-operator-{}", std::process::id()))?,
    };
    Ok(Settings {
        admin_addr: config::or("ADMIN_ADDR", SocketAddr::from(([0, 0, 0, 0], 9090)))?,
        namespace: config::or("POD_NAMESPACE", "shopkeeper-system".to_owned())?,
        identity,
        lease: config::or("LEASE_NAME", "shop-operator".to_owned())?,
        watch_namespaces: watch_namespaces(&config::or("WATCH_NAMESPACES", String::new())?),
    })
}

/// The operator process: the kit's logging (`LOG_FORMAT`, `RUST_LOG`), configuration errors
/// that name the variable, and shutdown on SIGTERM or SIGINT.
pub fn main() -> anyhow::Result<()> {
    shop_kit::install_crypto_provider();
    shop_kit::telemetry::init_with("operator", "info,kube=warn")?;
    let settings = settings()?;
    tokio::runtime::Runtime::new()?.block_on(run(settings))
}

async fn admin(addr: SocketAddr, metrics: Arc<Metrics>) -> anyhow::Result<()> {
    use axum::routing::get;
    let app = axum::Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(|| async { "ok" }))
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move {
                    (
                        [(
                            http::header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        metrics.encode(),
                    )
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on ADMIN_ADDR={addr}"))?;
    axum::serve(listener, app).await?;
    Ok(())
}

/// An `Api` over every namespace (`None`) or one.
fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Watches children of one kind made by the operator, mapping them to their Shop.
fn owned<K>(controller: Controller<Shop>, client: &Client, namespace: Option<&str>) -> Controller<Shop>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let config = watcher::Config::default().labels(&format!("app.kubernetes.io/managed-by={}", crate::MANAGER));
    controller.owns(api::<K>(client, namespace), config)
}

/// The controller of the Shops in `namespace` (every namespace for `None`); with CloudNativePG
/// installed it also watches the Clusters and Databases it made, so a Cluster turning Ready
/// moves the Shop on at once.
fn controller(client: &Client, namespace: Option<&str>, cloudnative_pg: bool) -> Controller<Shop> {
    let mut controller = Controller::new(
        api::<Shop>(client, namespace),
        watcher::Config::default().any_semantic(),
    );
    controller = owned::<Deployment>(controller, client, namespace);
    controller = owned::<StatefulSet>(controller, client, namespace);
    controller = owned::<Job>(controller, client, namespace);
    controller = owned::<Service>(controller, client, namespace);
    controller = owned::<NetworkPolicy>(controller, client, namespace);
    controller = owned::<HorizontalPodAutoscaler>(controller, client, namespace);
    controller = owned::<PodDisruptionBudget>(controller, client, namespace);
    controller = owned::<Ingress>(controller, client, namespace);
    if cloudnative_pg {
        for kind in [
            crate::build::Kind::PostgresCluster,
            crate::build::Kind::PostgresDatabase,
        ] {
            let resource = kind.api_resource();
            let api = match namespace {
                Some(ns) => Api::<kube::api::DynamicObject>::namespaced_with(client.clone(), ns, &resource),
                None => Api::<kube::api::DynamicObject>::all_with(client.clone(), &resource),
            };
            let config = watcher::Config::default().labels(&format!("app.kubernetes.io/managed-by={}", crate::MANAGER));
            controller = controller.owns_with(api, resource, config);
        }
    }
    controller
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    let client = Client::try_default()
        .await
        .context("no Kubernetes configuration (in-cluster or kubeconfig)")?;
    // Every namespace, or only those listed (then the chart grants Roles there, nothing more).
    let namespaces: Vec<Option<&str>> = if settings.watch_namespaces.is_empty() {
        vec![None]
    } else {
        settings.watch_namespaces.iter().map(|ns| Some(ns.as_str())).collect()
    };
    for namespace in &namespaces {
        api::<Shop>(&client, *namespace)
            .list(&ListParams::default().limit(1))
            .await
            .with_context(|| {
                format!(
                    "cannot list Shops in {}: is the CRD installed (kubectl apply -f crds/shop.yaml, or the Helm chart) \
                     and may this service account list them?",
                    namespace.unwrap_or("any namespace")
                )
            })?;
    }
    info!(namespaces = ?settings.watch_namespaces, "watching (empty: every namespace)");
    let prometheus_operator = client
        .list_api_group_resources("monitoring.coreos.com/v1")
        .await
        .is_ok_and(|list| list.resources.iter().any(|r| r.name == "servicemonitors"));
    let cloudnative_pg = client
        .list_api_group_resources("postgresql.cnpg.io/v1")
        .await
        .is_ok_and(|list| list.resources.iter().any(|r| r.name == "clusters"));
    info!(prometheus_operator, cloudnative_pg, "starting");

    let metrics = Arc::new(Metrics::default());
    let admin_task = tokio::spawn(admin(settings.admin_addr, metrics.clone()));

    // Wait for the Lease; the controller runs only on the leader.
    let elector = Arc::new(LeaderElector::new(
        client.clone(),
        &settings.namespace,
        &settings.lease,
        &settings.identity,
        LEASE_DURATION,
    ));
    let (stop_tx, mut stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shop_kit::server::shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    loop {
        match elector.try_acquire().await {
            Ok(true) => break,
            Ok(false) => {}
            Err(err) => warn!(error = %err, "leader election"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {},
            _ = stop_rx.changed() => return Ok(()),
        }
    }
    metrics.leader.set(1);
    info!(identity = %settings.identity, "leading");

    // Renew; losing the Lease (or not renewing it within the deadline) ends the process
    // (a restart makes it a candidate again).
    let (lost_tx, lost_rx) = watch::channel(false);
    let renewer = elector.clone();
    tokio::spawn(async move {
        let why = renewer.keep(RENEW_EVERY, RENEW_DEADLINE).await;
        error!(%why, "lost the leader Lease");
        let _ = lost_tx.send(true);
    });

    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: crate::MANAGER.to_owned(),
            instance: Some(settings.identity.clone()),
        },
    );
    let ctx = Arc::new(
        Context::new(client.clone(), recorder, metrics.clone(), prometheus_operator)
            .with_cloudnative_pg(cloudnative_pg),
    );
    // One controller per watched namespace (one for all of them by default), sharing the
    // context (and so the backoff and metrics).
    let runs = namespaces.iter().map(|namespace| {
        let mut stop = stop_rx.clone();
        let mut lost = lost_rx.clone();
        let stopped = async move {
            tokio::select! {
                _ = stop.changed() => {},
                _ = lost.changed() => {},
            }
        };
        controller(&client, *namespace, cloudnative_pg)
            .graceful_shutdown_on(stopped)
            .run(reconcile, error_policy, ctx.clone())
            .boxed()
    });
    futures::stream::select_all(runs)
        .for_each(|result| async move {
            match result {
                Ok((shop, _)) => info!(shop = %shop.name, namespace = ?shop.namespace, "reconciled"),
                Err(err) => warn!(error = %err, "reconcile"),
            }
        })
        .await;
    admin_task.abort();
    if *lost_rx.borrow() {
        anyhow::bail!("lost the leader Lease");
    }
    if let Err(err) = elector.release().await {
        warn!(error = %err, "releasing the Lease");
    }
    info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn watch_namespaces_are_a_comma_separated_list() {
        assert_eq!(super::watch_namespaces(""), Vec::<String>::new());
        assert_eq!(super::watch_namespaces("shop, team-b,"), ["shop", "team-b"]);
    }
}
