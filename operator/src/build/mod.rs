//! Pure builders: from a validated Shop ([`Resolved`], made by [`validate`]) and what was
//! observed ([`Inputs`]) to the desired objects.
//!
//! Nothing here talks to the API server, so everything is unit-tested from YAML fixtures. The
//! objects come out in reconcile order and tagged with their [`Stage`]; a stage is only built
//! when the previous one is done (migrations after the database is bootstrapped, workloads
//! after the migrations of their image succeeded).

mod data;
mod jobs;
mod monitoring;
mod network;
mod resolved;
mod workloads;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource, PodSecurityContext, ResourceRequirements,
    SeccompProfile, SecretKeySelector, SecurityContext, ServicePort, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub(crate) use data::cnpg_rw_service;
pub use data::postgres_major;
pub use jobs::{bootstrap_job_name, migration_job_name};
pub use monitoring::{DEFAULT_RUNBOOK_URL, LATENCY_THRESHOLD_SECONDS, rules_file};
pub use resolved::{
    CloudNativePgBackup, DEFAULT_REPLICAS, DEFAULT_TARGET_CPU, LogicalBackup, Postgres, Redis, Resolved, Scale,
    Service, validate,
};

use crate::Result;
use crate::crd::ServiceName;

/// The label every object of a Shop carries (orphans are found by it).
pub const SHOP_LABEL: &str = "shopkeeper.dev/shop";
/// Annotation on migration Jobs: the image they migrate to.
pub const IMAGE_ANNOTATION: &str = "shopkeeper.dev/image";
/// Label on migration Jobs: the service they migrate.
pub const SERVICE_LABEL: &str = "shopkeeper.dev/service";
/// The user the service containers run as (the restricted profile needs a non-root uid).
pub const SERVICE_UID: i64 = 10001;
/// `SHUTDOWN_DELAY_SECS`: `/ready` fails this long before the listeners stop.
pub const SHUTDOWN_DELAY_SECS: i64 = 5;
/// Longer than the shutdown delay plus the services' 25 s drain timeout.
pub const TERMINATION_GRACE_SECS: i64 = 40;

/// What the builders need to know about the cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inputs {
    /// The per-service databases and roles exist (the bootstrap Job succeeded, or Postgres is
    /// external). Until then no migration Job is built.
    pub database_bootstrapped: bool,
    /// The image whose migrations all succeeded; the Deployments run it. `None` until the first
    /// migrations succeed: then no workload is built.
    pub migrated_image: Option<String>,
    /// The Prometheus Operator's CRDs are installed.
    pub prometheus_operator: bool,
    /// CloudNativePG's CRDs are installed (a Shop that asks for it gets its `Cluster` only then).
    pub cloudnative_pg: bool,
    /// The content hash of every Secret the Shop's pods may use, by name (absent: not there).
    pub secret_hashes: BTreeMap<String, String>,
    /// The Postgres image to keep instead of the spec's (a refused major-version change).
    pub postgres_image: Option<String>,
}

/// Where an object belongs in the reconcile order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Postgres, Redis, the database bootstrap Job, the default-deny policies.
    Data,
    /// One migration Job per database-owning service, for the target image.
    Migrations,
    /// Deployments, Services, HPAs, PDBs, NetworkPolicies, Ingress, monitoring.
    Workloads,
}

/// The kinds the operator writes, in apply order within a stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Secret,
    ConfigMap,
    NetworkPolicy,
    Service,
    StatefulSet,
    Job,
    Deployment,
    CronJob,
    PersistentVolumeClaim,
    HorizontalPodAutoscaler,
    PodDisruptionBudget,
    Ingress,
    ServiceMonitor,
    PrometheusRule,
    PostgresCluster,
    PostgresDatabase,
    ScheduledBackup,
}

impl Kind {
    /// Every kind the operator lists and cleans up (Secrets are never deleted by it).
    pub const OWNED: [Kind; 16] = [
        Kind::ConfigMap,
        Kind::NetworkPolicy,
        Kind::Service,
        Kind::StatefulSet,
        Kind::Job,
        Kind::Deployment,
        Kind::CronJob,
        Kind::PersistentVolumeClaim,
        Kind::HorizontalPodAutoscaler,
        Kind::PodDisruptionBudget,
        Kind::Ingress,
        Kind::ServiceMonitor,
        Kind::PrometheusRule,
        Kind::PostgresCluster,
        Kind::PostgresDatabase,
        Kind::ScheduledBackup,
    ];

    /// `(group, version, kind, plural)`.
    pub fn gvk(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Kind::Secret => ("", "v1", "Secret", "secrets"),
            Kind::ConfigMap => ("", "v1", "ConfigMap", "configmaps"),
            Kind::NetworkPolicy => ("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies"),
            Kind::Service => ("", "v1", "Service", "services"),
            Kind::StatefulSet => ("apps", "v1", "StatefulSet", "statefulsets"),
            Kind::Job => ("batch", "v1", "Job", "jobs"),
            Kind::Deployment => ("apps", "v1", "Deployment", "deployments"),
            Kind::CronJob => ("batch", "v1", "CronJob", "cronjobs"),
            Kind::PersistentVolumeClaim => ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
            Kind::HorizontalPodAutoscaler => (
                "autoscaling",
                "v2",
                "HorizontalPodAutoscaler",
                "horizontalpodautoscalers",
            ),
            Kind::PodDisruptionBudget => ("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets"),
            Kind::Ingress => ("networking.k8s.io", "v1", "Ingress", "ingresses"),
            Kind::ServiceMonitor => ("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors"),
            Kind::PrometheusRule => ("monitoring.coreos.com", "v1", "PrometheusRule", "prometheusrules"),
            Kind::PostgresCluster => ("postgresql.cnpg.io", "v1", "Cluster", "clusters"),
            Kind::PostgresDatabase => ("postgresql.cnpg.io", "v1", "Database", "databases"),
            Kind::ScheduledBackup => ("postgresql.cnpg.io", "v1", "ScheduledBackup", "scheduledbackups"),
        }
    }

    /// `apiVersion`.
    pub fn api_version(self) -> String {
        let (group, version, _, _) = self.gvk();
        if group.is_empty() {
            version.to_owned()
        } else {
            format!("{group}/{version}")
        }
    }

    /// The kube `ApiResource` for dynamic API calls.
    pub fn api_resource(self) -> kube::core::ApiResource {
        let (group, version, kind, plural) = self.gvk();
        kube::core::ApiResource {
            group: group.to_owned(),
            version: version.to_owned(),
            api_version: self.api_version(),
            kind: kind.to_owned(),
            plural: plural.to_owned(),
        }
    }

    /// Whether it needs the Prometheus Operator's CRDs.
    pub fn is_prometheus(self) -> bool {
        matches!(self, Kind::ServiceMonitor | Kind::PrometheusRule)
    }

    /// Whether it needs CloudNativePG's CRDs.
    pub fn is_cnpg(self) -> bool {
        matches!(
            self,
            Kind::PostgresCluster | Kind::PostgresDatabase | Kind::ScheduledBackup
        )
    }
}

/// A `k8s-openapi` type the builders make, and its [`Kind`].
pub(crate) trait Typed: k8s_openapi::Resource + k8s_openapi::Metadata<Ty = ObjectMeta> + Serialize {
    const OBJECT_KIND: Kind;
}

macro_rules! typed {
    ($($kind:ident => $ty:ty),* $(,)?) => {
        $(impl Typed for $ty {
            const OBJECT_KIND: Kind = Kind::$kind;
        })*
    };
}

typed! {
    Deployment => k8s_openapi::api::apps::v1::Deployment,
    Service => k8s_openapi::api::core::v1::Service,
    HorizontalPodAutoscaler => k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler,
    PodDisruptionBudget => k8s_openapi::api::policy::v1::PodDisruptionBudget,
    Ingress => k8s_openapi::api::networking::v1::Ingress,
    NetworkPolicy => k8s_openapi::api::networking::v1::NetworkPolicy,
    StatefulSet => k8s_openapi::api::apps::v1::StatefulSet,
    Job => k8s_openapi::api::batch::v1::Job,
    CronJob => k8s_openapi::api::batch::v1::CronJob,
    Secret => k8s_openapi::api::core::v1::Secret,
    PersistentVolumeClaim => k8s_openapi::api::core::v1::PersistentVolumeClaim,
}

/// One desired object.
#[derive(Clone, Debug, PartialEq)]
pub struct Object {
    pub stage: Stage,
    pub kind: Kind,
    pub name: String,
    /// The full object (`apiVersion`, `kind`, `metadata`, …) as it is applied.
    pub value: Value,
}

/// Naming, labels and ownership shared by every builder for one Shop.
pub(crate) struct Ctx<'a> {
    pub spec: &'a Resolved,
    pub name: String,
    pub namespace: String,
    owner: OwnerReference,
}

impl<'a> Ctx<'a> {
    pub fn new(spec: &'a Resolved) -> Self {
        Self {
            spec,
            name: spec.name.clone(),
            namespace: spec.namespace.clone(),
            owner: spec.owner.clone(),
        }
    }

    /// `<shop>-<suffix>`, shortened with a hash if it would not fit a DNS label.
    pub fn child(&self, suffix: &str) -> String {
        self.spec.child(suffix)
    }

    /// The labels selecting one component's pods.
    pub fn selector(&self, app: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("app.kubernetes.io/name".to_owned(), app.to_owned()),
            ("app.kubernetes.io/instance".to_owned(), self.name.clone()),
        ])
    }

    /// The recommended labels plus the Shop label.
    pub fn labels(&self, app: &str, component: &str) -> BTreeMap<String, String> {
        let mut labels = self.selector(app);
        labels.extend([
            ("app.kubernetes.io/component".to_owned(), component.to_owned()),
            ("app.kubernetes.io/part-of".to_owned(), "shopkeeper".to_owned()),
            ("app.kubernetes.io/managed-by".to_owned(), crate::MANAGER.to_owned()),
            (SHOP_LABEL.to_owned(), self.name.clone()),
        ]);
        labels
    }

    /// The labels every pod of this Shop carries (what its default-deny policy selects).
    pub fn shop_pods(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("app.kubernetes.io/instance".to_owned(), self.name.clone()),
            ("app.kubernetes.io/part-of".to_owned(), "shopkeeper".to_owned()),
        ])
    }

    /// A selector of one component's pods.
    pub fn label_selector(&self, app: &str) -> LabelSelector {
        LabelSelector {
            match_labels: Some(self.selector(app)),
            ..LabelSelector::default()
        }
    }

    /// `metadata` of a child object.
    pub fn metadata(&self, name: &str, app: &str, component: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(self.namespace.clone()),
            labels: Some(self.labels(app, component)),
            owner_references: Some(vec![self.owner.clone()]),
            ..ObjectMeta::default()
        }
    }

    /// `metadata` of a child object, as JSON.
    pub fn meta(&self, name: &str, app: &str, component: &str) -> Value {
        json!(self.metadata(name, app, component))
    }

    /// A typed object, serialized into the form the rest of the pipeline compares and applies.
    pub fn typed<K: Typed>(&self, stage: Stage, object: &K) -> Result<Object> {
        Ok(Object {
            stage,
            kind: K::OBJECT_KIND,
            name: object.metadata().name.clone().unwrap_or_default(),
            value: serde_json::to_value(object)?,
        })
    }

    /// A complete object of `kind`.
    pub fn object(&self, stage: Stage, kind: Kind, name: String, app: &str, component: &str, body: Value) -> Object {
        let mut value = json!({
            "apiVersion": kind.api_version(),
            "kind": kind.gvk().2,
            "metadata": self.meta(&name, app, component),
        });
        if let (Value::Object(target), Value::Object(body)) = (&mut value, body) {
            target.extend(body);
        }
        Object {
            stage,
            kind,
            name,
            value,
        }
    }

    /// The Secret holding a service's generated database credentials.
    pub fn db_secret(&self, service: ServiceName) -> String {
        self.spec.db_secret(service)
    }
}

/// The longest name a DNS label (a Service, a label value, a Job's `job-name`) may have.
pub const MAX_NAME: usize = 63;
/// The longest Shop name: every derived name then fits without shortening but the migration
/// Jobs', which [`fit`] shortens.
pub const MAX_SHOP_NAME: usize = 40;

/// `name` if it fits [`MAX_NAME`]; else its first 54 characters and 8 hex digits of its hash,
/// so distinct long names stay distinct and stable.
pub fn fit(name: String) -> String {
    if name.len() <= MAX_NAME {
        return name;
    }
    let hash = short_hash(&[&name], 8);
    let mut head: String = name.chars().take(MAX_NAME - 9).collect();
    while head.ends_with('-') {
        head.pop();
    }
    format!("{head}-{hash}")
}

/// Annotation on pod templates: a hash of the content of every Secret the pod uses, so a
/// changed Secret rolls the pods that read it.
pub const SECRETS_HASH_ANNOTATION: &str = "shopkeeper.dev/secrets-hash";

/// The names of the Secrets a pod template reads (`secretKeyRef`s and Secret volumes).
pub fn secrets_used(template: &Value) -> std::collections::BTreeSet<String> {
    fn walk(value: &Value, out: &mut std::collections::BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(name)) = map.get("secretKeyRef").map(|r| &r["name"]) {
                    out.insert(name.clone());
                }
                if let Some(Value::String(name)) = map.get("secret").map(|s| &s["secretName"]) {
                    out.insert(name.clone());
                }
                map.values().for_each(|v| walk(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = std::collections::BTreeSet::new();
    walk(template, &mut out);
    out
}

/// The hash of the Secrets `template` reads, as they are now.
pub fn secrets_hash(template: &Value, hashes: &BTreeMap<String, String>) -> String {
    let parts: Vec<String> = secrets_used(template)
        .into_iter()
        .map(|name| {
            let hash = hashes.get(&name).map_or("absent", String::as_str);
            format!("{name}={hash}")
        })
        .collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    short_hash(&parts, 16)
}

/// Adds [`SECRETS_HASH_ANNOTATION`] to the pod template of `object` (a Deployment or StatefulSet).
pub(crate) fn annotate_secrets(object: &mut Object, hashes: &BTreeMap<String, String>) {
    let template = &mut object.value["spec"]["template"];
    let hash = secrets_hash(template, hashes);
    template["metadata"]["annotations"][SECRETS_HASH_ANNOTATION] = json!(hash);
}

/// The first `len` hex digits of the SHA-256 of `parts` (joined by NUL).
pub fn short_hash(parts: &[&str], len: usize) -> String {
    let mut hasher = Sha256::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hasher.update([0]);
        }
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex.truncate(len);
    hex
}

/// The restricted Pod Security Standard, pod level.
pub(crate) fn pod_security(uid: i64) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(uid),
        run_as_group: Some(uid),
        fs_group: Some(uid),
        seccomp_profile: Some(runtime_default()),
        ..PodSecurityContext::default()
    }
}

/// The restricted Pod Security Standard, container level.
pub(crate) fn container_security() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            ..Capabilities::default()
        }),
        seccomp_profile: Some(runtime_default()),
        ..SecurityContext::default()
    }
}

fn runtime_default() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".to_owned(),
        ..SeccompProfile::default()
    }
}

/// An environment variable from a Secret key.
pub(crate) fn secret_env(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_owned(),
                key: key.to_owned(),
                ..SecretKeySelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

/// A plain environment variable (an empty one without `value`, as the API server stores it).
pub(crate) fn env(name: &str, value: impl Into<String>) -> EnvVar {
    let value = value.into();
    EnvVar {
        name: name.to_owned(),
        value: (!value.is_empty()).then_some(value),
        ..EnvVar::default()
    }
}

/// A volume mount.
pub(crate) fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.to_owned(),
        mount_path: path.to_owned(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    }
}

/// An `emptyDir` volume, bounded to `size` if given.
pub(crate) fn empty_dir(name: &str, size: Option<&str>) -> Volume {
    Volume {
        name: name.to_owned(),
        empty_dir: Some(EmptyDirVolumeSource {
            size_limit: size.map(|s| Quantity(s.to_owned())),
            ..EmptyDirVolumeSource::default()
        }),
        ..Volume::default()
    }
}

/// A named TCP port of a container.
pub(crate) fn container_port(name: &str, port: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.to_owned()),
        container_port: port,
        protocol: Some("TCP".to_owned()),
        ..ContainerPort::default()
    }
}

/// A TCP port of a Service, to the container port of the same name.
pub(crate) fn service_port(name: &str, port: i32) -> ServicePort {
    ServicePort {
        name: Some(name.to_owned()),
        port,
        target_port: Some(IntOrString::String(name.to_owned())),
        protocol: Some("TCP".to_owned()),
        ..ServicePort::default()
    }
}

/// `requests`/`limits` from `(resource, quantity)` pairs.
pub(crate) fn quantities<const N: usize>(pairs: [(&str, &str); N]) -> BTreeMap<String, Quantity> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Quantity(v.to_owned())))
        .collect()
}

/// The resources of a container: the user's, as the API server will store them (so that the
/// live object compares equal), else the defaults.
pub(crate) fn resources(
    given: Option<&ResourceRequirements>,
    cpu: &str,
    memory: &str,
    memory_limit: &str,
) -> ResourceRequirements {
    match given {
        Some(r) => {
            let mut r = r.clone();
            for q in r
                .requests
                .iter_mut()
                .chain(r.limits.iter_mut())
                .flat_map(|m| m.values_mut())
            {
                if let Some(canonical) = crate::quantity::canonical(&q.0) {
                    q.0 = canonical;
                }
            }
            r
        }
        None => ResourceRequirements {
            requests: Some(quantities([("cpu", cpu), ("memory", memory)])),
            limits: Some(quantities([("memory", memory_limit)])),
            ..ResourceRequirements::default()
        },
    }
}

/// Every object the operator wants to exist for a validated Shop at this point, in reconcile
/// order. Secrets are not included: they are generated once ([`crate::secrets`]).
pub fn build(spec: &Resolved, inputs: &Inputs) -> Result<Vec<Object>> {
    let ctx = Ctx::new(spec);
    let mut objects = Vec::new();
    objects.extend(network::data(&ctx)?);
    match &spec.postgres {
        Postgres::Single { image, .. } => {
            // A refused major-version change keeps the image that runs.
            let image = inputs.postgres_image.as_deref().unwrap_or(image);
            objects.extend(data::postgres(&ctx, image)?);
            objects.extend(jobs::backup(&ctx, image)?);
            objects.extend(data::redis(&ctx, &inputs.secret_hashes)?);
            objects.push(jobs::bootstrap(&ctx, image, &inputs.secret_hashes)?);
        }
        Postgres::CloudNativePg { .. } => {
            if inputs.cloudnative_pg {
                objects.extend(data::cloudnative_pg(&ctx));
            }
            objects.extend(data::redis(&ctx, &inputs.secret_hashes)?);
        }
        Postgres::External(_) => objects.extend(data::redis(&ctx, &inputs.secret_hashes)?),
    }
    if inputs.database_bootstrapped {
        objects.extend(jobs::migrations(&ctx, &spec.image)?);
    }
    if let Some(image) = &inputs.migrated_image {
        objects.extend(workloads::services(&ctx, image, &inputs.secret_hashes)?);
        objects.extend(network::services(&ctx)?);
        objects.extend(workloads::ingress(&ctx)?);
        objects.extend(monitoring::objects(&ctx, inputs.prometheus_operator));
    }
    Ok(objects)
}
