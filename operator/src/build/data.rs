//! Postgres and Redis: StatefulSets with their headless and client Services.

use serde_json::{Value, json};

use super::{Ctx, Kind, Object, Postgres, Redis, Stage, container_security, env, pod_security, resources, secret_env};
use crate::Result;

/// The uid of the `postgres` and `redis` users in the official images.
const DATA_UID: i64 = 999;
pub const POSTGRES_IMAGE: &str = "postgres:17";
pub const REDIS_IMAGE: &str = "redis:7.4";
pub const POSTGRES_PORT: i32 = 5432;
pub const REDIS_PORT: i32 = 6379;

fn services(ctx: &Ctx, app: &str, component: &str, port: i32) -> Vec<Object> {
    let name = ctx.child(app);
    let headless = ctx.child(&format!("{app}-headless"));
    let ports = json!([{"name": app, "port": port, "targetPort": app, "protocol": "TCP"}]);
    vec![
        ctx.object(
            Stage::Data,
            Kind::Service,
            headless,
            app,
            component,
            json!({"spec": {
                "clusterIP": "None",
                "publishNotReadyAddresses": true,
                "selector": ctx.selector(app),
                "ports": ports,
            }}),
        ),
        ctx.object(
            Stage::Data,
            Kind::Service,
            name,
            app,
            component,
            json!({"spec": {"type": "ClusterIP", "selector": ctx.selector(app), "ports": ports}}),
        ),
    ]
}

fn claim(storage: &str, class: Option<&String>) -> Value {
    let storage = crate::quantity::canonical(storage).unwrap_or_else(|| storage.to_owned());
    let mut spec = json!({
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": storage}},
    });
    if let Some(class) = class {
        spec["storageClassName"] = json!(class);
    }
    json!({"metadata": {"name": "data"}, "spec": spec})
}

#[allow(clippy::too_many_arguments)]
fn statefulset(
    ctx: &Ctx,
    app: &str,
    component: &str,
    container: Value,
    volumes: Value,
    claims: Option<Value>,
) -> Object {
    let mut spec = json!({
        "serviceName": ctx.child(&format!("{app}-headless")),
        "replicas": 1,
        "podManagementPolicy": "OrderedReady",
        "updateStrategy": {"type": "RollingUpdate"},
        "selector": {"matchLabels": ctx.selector(app)},
        "template": {
            "metadata": {"labels": ctx.labels(app, component)},
            "spec": {
                "automountServiceAccountToken": false,
                "enableServiceLinks": false,
                "terminationGracePeriodSeconds": 30,
                "securityContext": pod_security(DATA_UID),
                "containers": [container],
                "volumes": volumes,
            },
        },
    });
    if let Some(claims) = claims {
        spec["volumeClaimTemplates"] = json!([claims]);
    }
    ctx.object(
        Stage::Data,
        Kind::StatefulSet,
        ctx.child(app),
        app,
        component,
        json!({"spec": spec}),
    )
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
    let container = json!({
        "name": "postgres",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "postgres", "containerPort": POSTGRES_PORT, "protocol": "TCP"}],
        "env": [
            secret_env("POSTGRES_PASSWORD", &ctx.child("postgres"), "password"),
            env("PGDATA", "/var/lib/postgresql/data/pgdata"),
        ],
        "resources": resources(given.as_ref(), "100m", "256Mi", "512Mi"),
        "securityContext": container_security(),
        "readinessProbe": {
            "exec": {"command": ["pg_isready", "-U", "postgres", "-h", "127.0.0.1"]},
            "periodSeconds": 5, "failureThreshold": 3,
        },
        "livenessProbe": {
            "exec": {"command": ["pg_isready", "-U", "postgres", "-h", "127.0.0.1"]},
            "initialDelaySeconds": 30, "periodSeconds": 10, "failureThreshold": 6,
        },
        "volumeMounts": [
            {"name": "data", "mountPath": "/var/lib/postgresql/data"},
            {"name": "run", "mountPath": "/var/run/postgresql"},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    });
    let volumes = json!([{"name": "run", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}]);
    let claims = claim(storage, storage_class.as_ref());
    let mut objects = services(ctx, "postgres", "database", POSTGRES_PORT);
    objects.push(statefulset(
        ctx,
        "postgres",
        "database",
        container,
        volumes,
        Some(claims),
    ));
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
    let persistent = storage.is_some();
    let container = json!({
        "name": "redis",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        // Through a shell so that the password stays out of the object and so that `yes`/`no`
        // never appear as bare YAML scalars (YAML 1.1 readers such as kubectl's take them as
        // booleans).
        "command": ["/bin/sh", "-c", format!(
            "exec redis-server --requirepass \"$REDIS_PASSWORD\" --appendonly {} --save '' --dir /data",
            if persistent { "yes" } else { "no" }
        )],
        "ports": [{"name": "redis", "containerPort": REDIS_PORT, "protocol": "TCP"}],
        "env": [secret_env("REDIS_PASSWORD", &ctx.child("redis"), "password")],
        "resources": resources(given.as_ref(), "50m", "64Mi", "256Mi"),
        "securityContext": container_security(),
        "readinessProbe": {"tcpSocket": {"port": "redis"}, "periodSeconds": 5},
        "livenessProbe": {"tcpSocket": {"port": "redis"}, "initialDelaySeconds": 15, "periodSeconds": 10},
        "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "tmp", "mountPath": "/tmp"}],
    });
    let (volumes, claims) = if let Some(storage) = storage {
        (
            json!([{"name": "tmp", "emptyDir": {}}]),
            Some(claim(storage, storage_class.as_ref())),
        )
    } else {
        (
            json!([{"name": "data", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}]),
            None,
        )
    };
    let mut objects = services(ctx, "redis", "cache", REDIS_PORT);
    let mut redis = statefulset(ctx, "redis", "cache", container, volumes, claims);
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
