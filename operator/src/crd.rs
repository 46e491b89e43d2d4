//! The `Shop` custom resource (`shopkeeper.dev/v1alpha1`): spec, status and their defaults.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The services and what each owns, calls and reads: the one table `cargo xtask dev` also
/// runs from (`shop-contract`).
pub use shop_contract::{SERVICES, ServiceName};

/// A running Shopkeeper shop: Postgres, Redis, migrations and the five services.
// `printcolumn(...)` repeats `type_ = "string"`, which clippy mistakes for a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "shopkeeper.dev",
    version = "v1alpha1",
    kind = "Shop",
    namespaced,
    status = "ShopStatus",
    shortname = "shop",
    category = "shopkeeper",
    derive = "PartialEq",
    doc = "A Shopkeeper shop: the operator turns it into Postgres, Redis, migration Jobs and five services.",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Version", type_ = "string", json_path = ".status.version"),
    printcolumn(name = "URL", type_ = "string", json_path = ".status.url"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.readyServices"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new(
        "size(self.metadata.name) <= 40 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')"
    ).message("a Shop's name is at most 40 characters: a lower-case letter, then letters, digits and '-' (it prefixes Service names, which must be DNS labels)")
)]
#[serde(rename_all = "camelCase")]
pub struct ShopSpec {
    /// The one container image holding every service binary (`ghcr.io/shopkeeper-dev/shop:0.1.0`, published by the release workflow).
    #[x_kube(validation = Rule::new("size(self) > 0").message("image must not be empty"))]
    pub image: String,
    /// The Ingress host, a DNS name.
    #[serde(default = "default_host")]
    #[x_kube(validation = Rule::new(
        "size(self) <= 253 && self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')"
    ).message("host must be a DNS name (lower case letters, digits, '-' and '.')"))]
    pub host: String,
    /// Ingress options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressSpec>,
    /// The currency prices are shown in (ISO 4217).
    #[serde(default = "default_currency")]
    pub currency: String,
    /// The admin account seeded by auth (default `admin@<host>`); its password is generated
    /// into `<shop>-admin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[^@ ]+@[^@ .]+([.][^@ .]+)+$')")
        .message("adminEmail must be an email address whose domain has at least two labels"))]
    pub admin_email: Option<String>,
    /// Postgres: managed by the operator (default) or external.
    #[serde(default)]
    pub postgres: PostgresSpec,
    /// Redis: managed by the operator (default) or external.
    #[serde(default)]
    pub redis: RedisSpec,
    /// Per-service settings; every service is on by default.
    #[serde(default)]
    pub services: ServicesSpec,
    /// Prometheus Operator objects (made only when its CRDs are installed).
    #[serde(default)]
    pub monitoring: MonitoringSpec,
    /// When true, the operator writes nothing but the status.
    #[serde(default)]
    pub paused: bool,
}

fn default_host() -> String {
    "shop.local".to_owned()
}

fn default_currency() -> String {
    "KZT".to_owned()
}

/// How the shop is exposed.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngressSpec {
    /// `spec.ingressClassName` of the Ingress; the cluster default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// TLS: a Secret of type `kubernetes.io/tls` for the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSpec>,
    /// Annotations added to the Ingress (for the ingress controller or cert-manager).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// TLS for the Ingress.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlsSpec {
    /// The Secret holding the certificate and key.
    pub secret_name: String,
}

/// A reference to a Secret in the Shop's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretRef {
    /// The Secret's name.
    pub name: String,
}

/// An external database or cache.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct External {
    /// Postgres: keys `auth`, `catalog`, `order`, each a `postgres://` URL of that service's own
    /// database and role. Redis: key `url`, a `redis://` URL.
    pub secret_ref: SecretRef,
}

/// A key of a Secret in the Shop's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// The Secret's name.
    pub name: String,
    /// The key holding the `postgres://` URL (default `uri`, as CloudNativePG and most
    /// Postgres operators write it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// The database URLs of an external Postgres, one per service: in one Secret with a key per
/// service, or each in a Secret of its own (as CloudNativePG and most operators issue them).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.secretRef) != has(self.services)")
    .message("postgres.external: either secretRef (one Secret, a key per service) or services (a Secret per service)"))]
pub struct ExternalPostgres {
    /// One Secret with keys `auth`, `catalog`, `order`, each that service's `postgres://` URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretRef>,
    /// A Secret (and key) per service: `auth`, `catalog`, `order`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, SecretKeyRef>,
}

impl ExternalPostgres {
    /// Where `service`'s `DATABASE_URL` is: `(secret, key)`.
    pub fn url_of(&self, service: ServiceName) -> (String, String) {
        match (self.services.get(service.as_str()), &self.secret_ref) {
            (Some(r), _) => (r.name.clone(), r.key.clone().unwrap_or_else(|| "uri".to_owned())),
            (None, Some(r)) => (r.name.clone(), service.as_str().to_owned()),
            // Refused by the CRD; the spec check names it too.
            (None, None) => (String::new(), service.as_str().to_owned()),
        }
    }

    /// Every Secret it names.
    pub fn secrets(&self) -> Vec<String> {
        let mut names: Vec<String> = self.secret_ref.iter().map(|r| r.name.clone()).collect();
        names.extend(self.services.values().map(|r| r.name.clone()));
        names.sort();
        names.dedup();
        names
    }
}

/// Postgres: the operator's single instance (the fields below `cloudNativePG`), a
/// CloudNativePG cluster, or external.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(
    "!has(self.external) || (!has(self.storage) && !has(self.storageClassName) && !has(self.resources) && !has(self.image) && !has(self.backup))"
).message("postgres: external and managed settings are mutually exclusive"))]
#[x_kube(validation = Rule::new(
    "!has(self.cloudNativePG) || (!has(self.external) && !has(self.storage) && !has(self.storageClassName) && !has(self.resources) && !has(self.image) && !has(self.backup))"
).message("postgres: cloudNativePG excludes external and the single instance's settings"))]
pub struct PostgresSpec {
    /// An external Postgres; the operator then runs none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalPostgres>,
    /// A CloudNativePG `Cluster` (needs the CloudNativePG operator): replicated instances,
    /// scheduled backups to an object store, one role and database per service.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "cloudNativePG")]
    pub cloud_native_pg: Option<CloudNativePg>,
    /// Volume size of the managed Postgres (default `1Gi`); it may grow, never shrink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("quantity(self).compareTo(quantity(oldSelf)) >= 0").message("storage may not shrink"))]
    pub storage: Option<String>,
    /// Storage class of the volume; the cluster default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// Requests and limits of the Postgres container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// The Postgres image (default `postgres:17`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// A scheduled logical backup (`pg_dump` of every service's database) to a volume of its
    /// own, kept when the Shop goes; restore it into a new Shop (docs/operator.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<LogicalBackup>,
}

/// Logical backups of the single instance.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogicalBackup {
    /// When, as a five-field cron expression (default `0 3 * * *`, in the cluster's time zone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// How many backups to keep (default 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 365))]
    pub keep: Option<i32>,
    /// Size of the backup volume (default `2Gi`); it may grow, never shrink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("quantity(self).compareTo(quantity(oldSelf)) >= 0").message("storage may not shrink"))]
    pub storage: Option<String>,
    /// Storage class of the backup volume; the cluster default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

/// Postgres run by CloudNativePG.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudNativePg {
    /// Instances: one primary, the others streaming replicas (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 9))]
    pub instances: Option<i32>,
    /// Volume size of each instance (default `10Gi`); it may grow, never shrink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("quantity(self).compareTo(quantity(oldSelf)) >= 0").message("storage may not shrink"))]
    pub storage: Option<String>,
    /// Storage class of the volumes; the cluster default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// The Postgres image (CloudNativePG's default when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_name: Option<String>,
    /// Scheduled base backups and WAL archiving to an object store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<CloudNativePgBackup>,
}

/// Backups of a CloudNativePG cluster (Barman Cloud).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudNativePgBackup {
    /// Where: `s3://bucket/path` (or another Barman Cloud destination).
    pub destination_path: String,
    /// The object store's endpoint, when not AWS S3 (`https://minio.example:9000`).
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "endpointURL")]
    pub endpoint_url: Option<String>,
    /// A Secret with the keys `ACCESS_KEY_ID` and `ACCESS_SECRET_KEY`.
    pub secret_ref: SecretRef,
    /// When, as a six-field cron expression with seconds first (default `0 0 3 * * *`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// How long backups are kept (default `30d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<String>,
}

/// Which Postgres a Shop runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostgresMode {
    /// The operator's single instance (a StatefulSet), for development and small shops.
    Single,
    /// A CloudNativePG `Cluster`.
    CloudNativePg,
    /// Someone else's: per-service URLs in a Secret.
    External,
}

impl PostgresSpec {
    /// Which Postgres this is.
    pub fn mode(&self) -> PostgresMode {
        match (&self.external, &self.cloud_native_pg) {
            (Some(_), _) => PostgresMode::External,
            (None, Some(_)) => PostgresMode::CloudNativePg,
            (None, None) => PostgresMode::Single,
        }
    }
}

/// Redis, managed (the fields below `external`) or external.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(
    "!has(self.external) || (!has(self.persistence) && !has(self.storage) && !has(self.storageClassName) && !has(self.resources) && !has(self.image))"
).message("redis: external and managed settings are mutually exclusive"))]
pub struct RedisSpec {
    /// An external Redis; the operator then runs none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<External>,
    /// Append-only file on a volume (default false: carts live in memory only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence: Option<bool>,
    /// Volume size when persistent (default `1Gi`); it may grow, never shrink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("quantity(self).compareTo(quantity(oldSelf)) >= 0").message("storage may not shrink"))]
    pub storage: Option<String>,
    /// Storage class of the volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// Requests and limits of the Redis container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// The Redis image (default `redis:7.4`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// Settings per service.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServicesSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<ServiceSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<ServiceSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cart: Option<ServiceSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<ServiceSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<ServiceSpec>,
}

impl ServicesSpec {
    /// The settings of one service (defaults when absent).
    pub fn get(&self, name: ServiceName) -> ServiceSpec {
        match name {
            ServiceName::Auth => &self.auth,
            ServiceName::Catalog => &self.catalog,
            ServiceName::Cart => &self.cart,
            ServiceName::Order => &self.order,
            ServiceName::Gateway => &self.gateway,
        }
        .clone()
        .unwrap_or_default()
    }
}

/// One service's settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// Switch the service off (default on). Its objects are deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Fixed replica count (default 2); ignored when autoscaling is set. Gateway, catalog and
    /// cart autoscale by default (2–6 replicas at 70% CPU) unless `replicas` or `autoscaling`
    /// is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub replicas: Option<i32>,
    /// A HorizontalPodAutoscaler on CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<Autoscaling>,
    /// Requests and limits (default requests cpu 50m, memory 64Mi; limit memory 256Mi).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// `RUST_LOG` of the service (default `info`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

impl ServiceSpec {
    /// The autoscaling in force: the spec's, else the default of the stateless services that
    /// take the shoppers' traffic (gateway, catalog, cart) when no fixed `replicas` is set.
    pub fn autoscaling_for(&self, service: ServiceName) -> Option<Autoscaling> {
        match (&self.autoscaling, self.replicas) {
            (Some(a), _) => Some(a.clone()),
            (None, None) if matches!(service, ServiceName::Gateway | ServiceName::Catalog | ServiceName::Cart) => {
                Some(Autoscaling {
                    min_replicas: Some(2),
                    max_replicas: 6,
                    target_cpu: Some(70),
                })
            }
            (None, _) => None,
        }
    }
}

/// CPU-based autoscaling.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.minReplicas) || self.minReplicas <= self.maxReplicas")
    .message("minReplicas must not exceed maxReplicas"))]
pub struct Autoscaling {
    /// Fewest replicas (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub min_replicas: Option<i32>,
    /// Most replicas.
    #[schemars(range(min = 1, max = 100))]
    pub max_replicas: i32,
    /// Target average CPU utilisation in percent of requests (default 70).
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "targetCPU")]
    #[schemars(range(min = 1, max = 100))]
    pub target_cpu: Option<i32>,
}

/// Prometheus Operator objects.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringSpec {
    /// A ServiceMonitor scraping every service's admin port (default true).
    #[serde(default = "yes")]
    pub service_monitor: bool,
    /// A PrometheusRule with the shop's recording rules and alerts (default true).
    #[serde(default = "yes")]
    pub prometheus_rule: bool,
    /// A ConfigMap `<shop>-dashboards` with the Grafana dashboards, labelled
    /// `grafana_dashboard: "1"` (and `labels`) for Grafana's dashboard sidecar (default true;
    /// needs no CRD).
    #[serde(default = "yes")]
    pub dashboards: bool,
    /// Labels added to the ServiceMonitor, the PrometheusRule and the dashboards' ConfigMap, for
    /// a Prometheus (or Grafana) that selects them by label (kube-prometheus-stack:
    /// `release: <its Helm release>`). The operator's own
    /// labels (`app.kubernetes.io/*`, `shopkeeper.dev/shop`) win over these.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 16))]
    #[x_kube(validation = Rule::new(
        "self.all(k, size(k) <= 253 && k.matches('^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$') && size(self[k]) <= 63 && self[k].matches('^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$'))"
    ).message("monitoring.labels must be Kubernetes labels: a name of at most 63 characters with an optional DNS prefix, and a value of at most 63 letters, digits, '-', '_' or '.'"))]
    pub labels: BTreeMap<String, String>,
    /// The page the alerts' `runbook_url` points at, each alert adding its `#anchor` (default
    /// `docs/operations.md` of the Shopkeeper repository; point it at your own copy).
    #[serde(default, rename = "runbookURL", skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^https?://[^#]+$')")
        .message("runbookURL must be an http(s) URL without a #fragment"))]
    pub runbook_url: Option<String>,
    /// Traces: every service exports its spans over OTLP/HTTP to this collector. Unset: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traces: Option<TracesSpec>,
}

/// Where the services send their spans, and how many of the traces started at the shop.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TracesSpec {
    /// The collector's OTLP/HTTP base URL (`http://otel-collector.observability:4318`); each
    /// service posts to its `/v1/traces`.
    #[x_kube(validation = Rule::new("self.matches('^https?://[^/?#]+(/[^?#]*)?$')")
        .message("traces.endpoint must be an http(s) URL without a query or fragment"))]
    pub endpoint: String,
    /// The share of traces started at the shop that are kept, from 0 to 1 (default 1: all). A
    /// trace started by a caller follows the caller's decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1.0))]
    #[x_kube(validation = Rule::new("self >= 0.0 && self <= 1.0")
        .message("traces.sampleRatio must be between 0 and 1"))]
    pub sample_ratio: Option<f64>,
}

impl TracesSpec {
    /// The collector's port (the URL's, or the scheme's default), which the services' network
    /// policies let them reach; `None` for an endpoint that is not a URL.
    pub fn port(&self) -> Option<u16> {
        url::Url::parse(&self.endpoint).ok()?.port_or_known_default()
    }
}

impl Default for MonitoringSpec {
    fn default() -> Self {
        Self {
            service_monitor: true,
            prometheus_rule: true,
            dashboards: true,
            labels: BTreeMap::new(),
            runbook_url: None,
            traces: None,
        }
    }
}

fn yes() -> bool {
    true
}

/// The phase a person reads in `kubectl get shops`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Phase {
    /// Nothing made yet.
    #[default]
    Pending,
    /// Secrets, Postgres and Redis are being created.
    Provisioning,
    /// Migration Jobs for the target image run.
    Migrating,
    /// Every service is available at the target version.
    Ready,
    /// Serving, but something is wrong (a failed migration, unavailable services).
    Degraded,
    /// The spec cannot be reconciled (see `phaseReason`).
    Failed,
}

/// What the operator observed.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShopStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default)]
    pub phase: Phase,
    /// Why the shop is in this phase, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase_reason: Option<String>,
    /// The image fully rolled out to every service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The newest image whose migrations succeeded: what the Deployments run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrated_image: Option<String>,
    /// Where shoppers go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Ready services out of enabled ones (`5/5`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_services: Option<String>,
    /// `DatabaseReady`, `CacheReady`, `Migrated`, `ServicesAvailable`, `Progressing`,
    /// `Available`, `Degraded`, `Paused`, `Ready`: one per type (a map keyed by `type`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Replicas per service.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, ServiceStatus>,
}

/// One service's replicas.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatus {
    pub ready: i32,
    pub desired: i32,
}

impl ShopSpec {
    /// Whether a service is switched on.
    pub fn enabled(&self, name: ServiceName) -> bool {
        self.services.get(name).enabled.unwrap_or(true)
    }

    /// The enabled services, in build order.
    pub fn enabled_services(&self) -> impl Iterator<Item = ServiceName> + '_ {
        SERVICES.into_iter().filter(|s| self.enabled(*s))
    }

    /// The admin's email: `adminEmail`, else `admin@<host>` (auth wants a domain of two labels
    /// or more, so a single-label host gets `.local`).
    pub fn admin_email(&self) -> String {
        match &self.admin_email {
            Some(email) => email.clone(),
            None if self.host.contains('.') => format!("admin@{}", self.host),
            None => format!("admin@{}.local", self.host),
        }
    }

    /// The shop's public URL.
    pub fn url(&self) -> String {
        let scheme = if self.ingress.as_ref().and_then(|i| i.tls.as_ref()).is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.host)
    }
}
