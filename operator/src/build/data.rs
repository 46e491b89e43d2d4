//! Postgres and Redis: StatefulSets with their headless and client Services (typed
//! `k8s-openapi` objects), and the CloudNativePG objects (JSON: their CRDs have no typed crate).

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec, StatefulSetUpdateStrategy};
use k8s_openapi::api::core::v1::{
    Container, ExecAction, PersistentVolumeClaim, PersistentVolumeClaimSpec, PodSpec, PodTemplateSpec, Probe, Service,
    ServiceSpec, TCPSocketAction, Volume, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};

use super::{
    Ctx, Kind, Object, Postgres, Redis, Stage, container_port, container_security, empty_dir, env, mount, pod_security,
    resources, secret_env, service_port,
};
use crate::Result;

/// The uid of the `postgres` and `redis` users in the official images.
const DATA_UID: i64 = 999;
pub const POSTGRES_IMAGE: &str = "postgres:17";
pub const REDIS_IMAGE: &str = "redis:7.4";
pub const POSTGRES_PORT: i32 = 5432;
pub const REDIS_PORT: i32 = 6379;

/// The headless Service (the StatefulSet's pod DNS) and the client Service.
fn services(ctx: &Ctx, app: &str, component: &str, port: i32) -> Result<Vec<Object>> {
    let service = |name: String, spec: ServiceSpec| Service {
        metadata: ctx.metadata(&name, app, component),
        spec: Some(ServiceSpec {
            selector: Some(ctx.selector(app)),
            ports: Some(vec![service_port(app, port)]),
            ..spec
        }),
        ..Service::default()
    };
    let headless = service(
        ctx.child(&format!("{app}-headless")),
        ServiceSpec {
            cluster_ip: Some("None".to_owned()),
            publish_not_ready_addresses: Some(true),
            ..ServiceSpec::default()
        },
    );
    let client = service(
        ctx.child(app),
        ServiceSpec {
            type_: Some("ClusterIP".to_owned()),
            ..ServiceSpec::default()
        },
    );
    Ok(vec![
        ctx.typed(Stage::Data, &headless)?,
        ctx.typed(Stage::Data, &client)?,
    ])
}

/// A `ReadWriteOnce` claim of `storage` (in the API server's canonical form).
pub(crate) fn claim_spec(storage: &str, class: Option<&String>) -> PersistentVolumeClaimSpec {
    let storage = crate::quantity::canonical(storage).unwrap_or_else(|| storage.to_owned());
    PersistentVolumeClaimSpec {
        access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
        resources: Some(VolumeResourceRequirements {
            requests: Some([("storage".to_owned(), Quantity(storage))].into()),
            ..VolumeResourceRequirements::default()
        }),
        storage_class_name: class.cloned(),
        ..PersistentVolumeClaimSpec::default()
    }
}

/// The claim template `data`.
fn claim(storage: &str, class: Option<&String>) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some("data".to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(claim_spec(storage, class)),
        ..PersistentVolumeClaim::default()
    }
}

fn statefulset(
    ctx: &Ctx,
    app: &str,
    component: &str,
    container: Container,
    volumes: Vec<Volume>,
    claim: Option<PersistentVolumeClaim>,
) -> Result<Object> {
    let sts = StatefulSet {
        metadata: ctx.metadata(&ctx.child(app), app, component),
        spec: StatefulSetSpec {
            service_name: Some(ctx.child(&format!("{app}-headless"))),
            replicas: Some(1),
            pod_management_policy: Some("OrderedReady".to_owned()),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".to_owned()),
                ..StatefulSetUpdateStrategy::default()
            }),
            selector: ctx.label_selector(app),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(ctx.labels(app, component)),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    termination_grace_period_seconds: Some(30),
                    security_context: Some(pod_security(DATA_UID)),
                    containers: vec![container],
                    volumes: Some(volumes),
                    ..PodSpec::default()
                }),
            },
            volume_claim_templates: claim.map(|c| vec![c]),
            ..StatefulSetSpec::default()
        },
        ..StatefulSet::default()
    };
    let mut object = ctx.typed(Stage::Data, &sts)?;
    if let Some(Value::Array(claims)) = object.value["spec"].get_mut("volumeClaimTemplates") {
        // `k8s-openapi` writes `apiVersion` and `kind` into every PersistentVolumeClaim, the
        // embedded templates too; the templates never had them (and are immutable), so they
        // stay as they were.
        for claim in claims.iter_mut().filter_map(Value::as_object_mut) {
            claim.remove("apiVersion");
            claim.remove("kind");
        }
    }
    Ok(object)
}

fn exec_probe(command: &[&str]) -> Probe {
    Probe {
        exec: Some(ExecAction {
            command: Some(command.iter().map(|c| (*c).to_owned()).collect()),
        }),
        ..Probe::default()
    }
}

fn tcp_probe(port: &str) -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::String(port.to_owned()),
            ..TCPSocketAction::default()
        }),
        ..Probe::default()
    }
}

/// The CloudNativePG `Cluster` of a Shop: `<shop>-pg`.
pub(crate) fn cnpg_cluster_name(ctx: &Ctx) -> String {
    ctx.child("pg")
}

/// The Service of the cluster's primary (CloudNativePG names it `<cluster>-rw`).
pub(crate) fn cnpg_rw_service(ctx: &Ctx) -> String {
    format!("{}-rw", cnpg_cluster_name(ctx))
}

/// A CloudNativePG `Cluster` with one managed role per database-owning service (its password
/// from the service's generated Secret), a `Database` per service owned by its role, and, with
/// `backup`, WAL archiving and a `ScheduledBackup` to an object store.
pub fn cloudnative_pg(ctx: &Ctx) -> Vec<Object> {
    let Postgres::CloudNativePg {
        instances,
        storage,
        storage_class,
        image_name,
        backup,
    } = &ctx.spec.postgres
    else {
        return Vec::new();
    };
    let cluster = cnpg_cluster_name(ctx);
    let owners = ctx.spec.database_owners();
    let roles: Vec<Value> = owners
        .iter()
        .map(|s| {
            json!({"name": s.as_str(), "ensure": "present", "login": true,
                   "passwordSecret": {"name": ctx.db_secret(*s)}})
        })
        .collect();
    let mut storage = json!({"size": crate::quantity::canonical(storage).unwrap_or_else(|| storage.clone())});
    if let Some(class) = storage_class {
        storage["storageClass"] = json!(class);
    }
    let mut body = json!({"spec": {
        "instances": instances,
        "storage": storage,
        "enableSuperuserAccess": false,
        "managed": {"roles": roles},
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
    }});
    if let Some(image) = image_name {
        body["spec"]["imageName"] = json!(image);
    }
    if let Some(backup) = backup {
        let secret = &backup.secret;
        let mut store = json!({
            "destinationPath": backup.destination_path,
            "s3Credentials": {
                "accessKeyId": {"name": secret, "key": "ACCESS_KEY_ID"},
                "secretAccessKey": {"name": secret, "key": "ACCESS_SECRET_KEY"},
            },
        });
        if let Some(endpoint) = &backup.endpoint_url {
            store["endpointURL"] = json!(endpoint);
        }
        body["spec"]["backup"] = json!({
            "barmanObjectStore": store,
            "retentionPolicy": backup.retention,
        });
    }
    let mut objects = vec![ctx.object(
        Stage::Data,
        Kind::PostgresCluster,
        cluster.clone(),
        "postgres",
        "database",
        body,
    )];
    for service in owners {
        objects.push(ctx.object(
            Stage::Data,
            Kind::PostgresDatabase,
            ctx.child(&format!("db-{service}")),
            "postgres",
            "database",
            json!({"spec": {"name": service.as_str(), "owner": service.as_str(), "ensure": "present",
                            "cluster": {"name": cluster}}}),
        ));
    }
    if let Some(backup) = backup {
        objects.push(ctx.object(
            Stage::Data,
            Kind::ScheduledBackup,
            cluster.clone(),
            "postgres",
            "backup",
            json!({"spec": {
                "schedule": backup.schedule,
                "cluster": {"name": cluster},
                "backupOwnerReference": "self",
                "immediate": true,
            }}),
        ));
    }
    objects
}

/// The major version in a Postgres image's tag (`postgres:17.2-bookworm` → 17); `None` for a
/// digest or a tag that does not start with a number.
pub fn postgres_major(image: &str) -> Option<u32> {
    let name = image.split('@').next()?;
    let (_, tag) = name.rsplit_once(':').filter(|(_, tag)| !tag.contains('/'))?;
    let digits: String = tag.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The single instance, running `image`: its StatefulSet and Services.
pub fn postgres(ctx: &Ctx, image: &str) -> Result<Vec<Object>> {
    let Postgres::Single {
        storage,
        storage_class,
        resources: given,
        ..
    } = &ctx.spec.postgres
    else {
        return Ok(Vec::new());
    };
    let pg_isready = ["pg_isready", "-U", "postgres", "-h", "127.0.0.1"];
    let container = Container {
        name: "postgres".to_owned(),
        image: Some(image.to_owned()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        ports: Some(vec![container_port("postgres", POSTGRES_PORT)]),
        env: Some(vec![
            secret_env("POSTGRES_PASSWORD", &ctx.child("postgres"), "password"),
            env("PGDATA", "/var/lib/postgresql/data/pgdata"),
        ]),
        resources: Some(resources(given.as_ref(), "100m", "256Mi", "512Mi")),
        security_context: Some(container_security()),
        readiness_probe: Some(Probe {
            period_seconds: Some(5),
            failure_threshold: Some(3),
            ..exec_probe(&pg_isready)
        }),
        liveness_probe: Some(Probe {
            initial_delay_seconds: Some(30),
            period_seconds: Some(10),
            failure_threshold: Some(6),
            ..exec_probe(&pg_isready)
        }),
        volume_mounts: Some(vec![
            mount("data", "/var/lib/postgresql/data", false),
            mount("run", "/var/run/postgresql", false),
            mount("tmp", "/tmp", false),
        ]),
        ..Container::default()
    };
    let volumes = vec![empty_dir("run", None), empty_dir("tmp", None)];
    let claim = claim(storage, storage_class.as_ref());
    let mut objects = services(ctx, "postgres", "database", POSTGRES_PORT)?;
    objects.push(statefulset(
        ctx,
        "postgres",
        "database",
        container,
        volumes,
        Some(claim),
    )?);
    Ok(objects)
}

/// The managed Redis (nothing when it is external).
pub fn redis(ctx: &Ctx, secret_hashes: &std::collections::BTreeMap<String, String>) -> Result<Vec<Object>> {
    let Redis::Managed {
        image,
        storage,
        storage_class,
        resources: given,
    } = &ctx.spec.redis
    else {
        return Ok(Vec::new());
    };
    let appendonly = if storage.is_some() { "yes" } else { "no" };
    let container = Container {
        name: "redis".to_owned(),
        image: Some(image.clone()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        // Through a shell so that the password stays out of the object and so that `yes`/`no`
        // never appear as bare YAML scalars (YAML 1.1 readers such as kubectl's take them as
        // booleans).
        command: Some(vec![
            "/bin/sh".to_owned(),
            "-c".to_owned(),
            format!(
                "exec redis-server --requirepass \"$REDIS_PASSWORD\" --appendonly {appendonly} --save '' --dir /data"
            ),
        ]),
        ports: Some(vec![container_port("redis", REDIS_PORT)]),
        env: Some(vec![secret_env("REDIS_PASSWORD", &ctx.child("redis"), "password")]),
        resources: Some(resources(given.as_ref(), "50m", "64Mi", "256Mi")),
        security_context: Some(container_security()),
        readiness_probe: Some(Probe {
            period_seconds: Some(5),
            ..tcp_probe("redis")
        }),
        liveness_probe: Some(Probe {
            initial_delay_seconds: Some(15),
            period_seconds: Some(10),
            ..tcp_probe("redis")
        }),
        volume_mounts: Some(vec![mount("data", "/data", false), mount("tmp", "/tmp", false)]),
        ..Container::default()
    };
    let (volumes, claim) = match storage {
        Some(storage) => (
            vec![empty_dir("tmp", None)],
            Some(claim(storage, storage_class.as_ref())),
        ),
        None => (vec![empty_dir("data", None), empty_dir("tmp", None)], None),
    };
    let mut objects = services(ctx, "redis", "cache", REDIS_PORT)?;
    let mut redis = statefulset(ctx, "redis", "cache", container, volumes, claim)?;
    // Its password comes from a Secret: a new one restarts it (and its clients, likewise).
    super::annotate_secrets(&mut redis, secret_hashes);
    objects.push(redis);
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::postgres_major;

    #[test]
    fn postgres_majors_from_tags() {
        assert_eq!(postgres_major("postgres:17"), Some(17));
        assert_eq!(postgres_major("postgres:16.4-bookworm"), Some(16));
        assert_eq!(postgres_major("registry.local:5000/library/postgres:15"), Some(15));
        assert_eq!(postgres_major("registry.local:5000/postgres"), None);
        assert_eq!(postgres_major("postgres:latest"), None);
        assert_eq!(postgres_major("postgres@sha256:abc"), None);
    }
}
