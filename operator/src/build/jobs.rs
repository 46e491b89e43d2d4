//! The database bootstrap Job and the per-service migration Jobs.

use serde_json::{Value, json};

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::EnvVar;

use super::{
    Ctx, IMAGE_ANNOTATION, Kind, Object, Postgres, Resolved, SERVICE_LABEL, SERVICE_UID, Stage, container_security,
    env, pod_security, secret_env, short_hash,
};
use crate::crd::ServiceName;

/// `DATABASE_URL` of a service: its generated Secret, or the external Secret's key.
pub(crate) fn database_url(ctx: &Ctx, service: ServiceName) -> EnvVar {
    match &ctx.spec.postgres {
        Postgres::External(external) => {
            let (name, key) = external.url_of(service);
            secret_env("DATABASE_URL", &name, &key)
        }
        _ => secret_env("DATABASE_URL", &ctx.db_secret(service), "url"),
    }
}

/// Creates one role and one database per service, idempotently, and (re)sets the role's
/// password from its Secret. Variables are bound with psql's `:'var'` quoting.
const BOOTSTRAP_SCRIPT: &str = r#"set -eu
until pg_isready -q; do sleep 2; done
for svc in $SERVICES; do
  pw="$(printenv "PASSWORD_$svc")"
  psql -v ON_ERROR_STOP=1 -v role="$svc" -v pw="$pw" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role')\gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'role', :'pw')\gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'role', :'role') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'role')\gexec
SQL
  echo "database $svc ready"
done
"#;

fn job_spec(ctx: &Ctx, app: &str, component: &str, uid: i64, container: Value) -> Value {
    json!({"spec": {
        "backoffLimit": 4,
        "activeDeadlineSeconds": 900,
        "template": {
            "metadata": {"labels": ctx.labels(app, component)},
            "spec": {
                "restartPolicy": "Never",
                "automountServiceAccountToken": false,
                "enableServiceLinks": false,
                "securityContext": pod_security(uid),
                "containers": [container],
                "volumes": [{"name": "tmp", "emptyDir": {}}],
            },
        },
    }})
}

/// The name of the bootstrap Job for Postgres `image`: `<shop>-db-bootstrap-<hash>`, the hash
/// of what it creates, so a change runs a new one. The roles' passwords are in it too: a changed
/// database Secret runs a new Job, which sets the role's password to the Secret's.
pub fn bootstrap_job_name(spec: &Resolved, image: &str, secret_hashes: &BTreeMap<String, String>) -> String {
    let owners = spec.database_owners();
    let services: Vec<&str> = owners.iter().map(|s| s.as_str()).collect();
    let passwords: Vec<&str> = owners
        .iter()
        .map(|s| secret_hashes.get(&spec.db_secret(*s)).map_or("absent", String::as_str))
        .collect();
    let hash = short_hash(&[image, &services.join(" "), BOOTSTRAP_SCRIPT, &passwords.join(" ")], 8);
    spec.child(&format!("db-bootstrap-{hash}"))
}

/// The bootstrap Job of the single instance running `image`.
pub fn bootstrap(ctx: &Ctx, image: &str, secret_hashes: &BTreeMap<String, String>) -> Object {
    let owners = ctx.spec.database_owners();
    let services: Vec<&str> = owners.iter().map(|s| s.as_str()).collect();
    let mut envs = vec![
        env("PGHOST", ctx.child("postgres")),
        env("PGUSER", "postgres"),
        env("PGDATABASE", "postgres"),
        secret_env("PGPASSWORD", &ctx.child("postgres"), "password"),
        env("SERVICES", services.join(" ")),
        env("HOME", "/tmp"),
    ];
    for service in &owners {
        envs.push(secret_env(
            &format!("PASSWORD_{service}"),
            &ctx.db_secret(*service),
            "password",
        ));
    }
    let container = json!({
        "name": "bootstrap",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/sh", "-c", BOOTSTRAP_SCRIPT],
        "env": envs,
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
        "securityContext": container_security(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    });
    ctx.object(
        Stage::Data,
        Kind::Job,
        bootstrap_job_name(ctx.spec, image, secret_hashes),
        "db-bootstrap",
        "bootstrap",
        job_spec(ctx, "db-bootstrap", "bootstrap", 999, container),
    )
}

/// `<shop>-migrate-<service>-<hash of image and service>`.
/// Shortened (with a hash) to fit 63 characters when the Shop's name is long.
pub fn migration_job_name(shop: &str, image: &str, service: ServiceName) -> String {
    super::fit(format!(
        "{shop}-migrate-{service}-{}",
        short_hash(&[image, service.as_str()], 10)
    ))
}

/// One migration Job per database-owning service for `image`.
pub fn migrations(ctx: &Ctx, image: &str) -> Vec<Object> {
    ctx.spec
        .services
        .iter()
        .filter(|s| s.name.owns_database())
        .map(|s| {
            let service = s.name;
            let app = format!("migrate-{service}");
            let container = json!({
                "name": "migrate",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "command": [service.binary()],
                "args": ["migrate"],
                "env": [
                    database_url(ctx, service),
                    env("LOG_FORMAT", "json"),
                    env("RUST_LOG", s.log.clone()),
                ],
                "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
                "securityContext": container_security(),
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
            });
            let mut object = ctx.object(
                Stage::Migrations,
                Kind::Job,
                migration_job_name(&ctx.name, image, service),
                &app,
                "migration",
                job_spec(ctx, &app, "migration", SERVICE_UID, container),
            );
            let meta = &mut object.value["metadata"];
            meta["annotations"] = json!({ IMAGE_ANNOTATION: image });
            meta["labels"][SERVICE_LABEL] = json!(service.as_str());
            object
        })
        .collect()
}

/// `pg_dump` of every service's database into `/backups/<UTC time>/`, keeping the newest
/// `$KEEP`; a dump that fails leaves only a `.partial` directory, never counted as a backup.
const BACKUP_SCRIPT: &str = r#"set -eu
until pg_isready -q; do sleep 2; done
dir="/backups/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$dir.partial"
for db in $DATABASES; do
  pg_dump --format=custom --dbname="$db" --file="$dir.partial/$db.dump"
done
mv "$dir.partial" "$dir"
ls -1d /backups/2*Z | sort -r | tail -n "+$((KEEP + 1))" | xargs -r rm -rf --
echo "backed up $DATABASES to $dir"
"#;

/// The single instance's logical backup (when `postgres.backup` is set): its volume
/// `<shop>-backups` (never deleted by the operator) and a CronJob `<shop>-backup`.
pub fn backup(ctx: &Ctx, image: &str) -> Vec<Object> {
    let Postgres::Single {
        backup: Some(backup), ..
    } = &ctx.spec.postgres
    else {
        return Vec::new();
    };
    let storage = &backup.storage;
    let mut claim = json!({"spec": {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": crate::quantity::canonical(storage).unwrap_or_else(|| storage.clone())}},
    }});
    if let Some(class) = &backup.storage_class {
        claim["spec"]["storageClassName"] = json!(class);
    }
    let volume = ctx.child("backups");
    let databases: Vec<&str> = ctx.spec.database_owners().iter().map(|s| s.as_str()).collect();
    let container = json!({
        "name": "backup",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/sh", "-c", BACKUP_SCRIPT],
        "env": [
            env("PGHOST", ctx.child("postgres")),
            env("PGUSER", "postgres"),
            secret_env("PGPASSWORD", &ctx.child("postgres"), "password"),
            env("DATABASES", databases.join(" ")),
            env("KEEP", backup.keep.to_string()),
            env("HOME", "/tmp"),
        ],
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        "securityContext": container_security(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, {"name": "backups", "mountPath": "/backups"}],
    });
    let mut job = job_spec(ctx, "db-backup", "backup", 999, container);
    job["spec"]["backoffLimit"] = json!(2);
    if let Some(volumes) = job["spec"]["template"]["spec"]["volumes"].as_array_mut() {
        volumes.push(json!({"name": "backups", "persistentVolumeClaim": {"claimName": volume.clone()}}));
    }
    let cronjob = json!({"spec": {
        "schedule": backup.schedule,
        "concurrencyPolicy": "Forbid",
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 3,
        // No Shop labels on the Jobs it makes: they are the CronJob's, not the operator's, so
        // the operator neither lists them nor deletes them as orphans.
        "jobTemplate": job,
    }});
    let mut volume_object = ctx.object(
        Stage::Data,
        Kind::PersistentVolumeClaim,
        volume,
        "db-backup",
        "backup",
        claim,
    );
    // Not owned by the Shop: backups must outlive it (that is what they are for).
    if let Some(meta) = volume_object.value["metadata"].as_object_mut() {
        meta.remove("ownerReferences");
    }
    vec![
        volume_object,
        ctx.object(
            Stage::Data,
            Kind::CronJob,
            ctx.child("backup"),
            "db-backup",
            "backup",
            cronjob,
        ),
    ]
}
