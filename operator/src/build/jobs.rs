//! The database bootstrap Job and the per-service migration Jobs.

use serde_json::{Value, json};

use super::{
    Ctx, IMAGE_ANNOTATION, Kind, Object, SERVICE_LABEL, SERVICE_UID, Stage, container_security, env, pod_security,
    secret_env, short_hash,
};
use crate::crd::{SERVICES, ServiceName};

/// `DATABASE_URL` of a service: its generated Secret, or the external Secret's key.
pub(crate) fn database_url(ctx: &Ctx, service: ServiceName) -> Value {
    match &ctx.shop.spec.postgres.external {
        Some(external) => {
            let (name, key) = external.url_of(service);
            secret_env("DATABASE_URL", &name, &key)
        }
        None => secret_env("DATABASE_URL", &ctx.db_secret(service), "url"),
    }
}

/// The database-owning services that are switched on.
pub(crate) fn database_owners(ctx: &Ctx) -> Vec<ServiceName> {
    SERVICES
        .into_iter()
        .filter(|s| s.owns_database() && ctx.shop.spec.enabled(*s))
        .collect()
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

/// The bootstrap Job (managed Postgres only), named by a hash of what it creates so a change
/// runs a new one.
pub fn bootstrap(ctx: &Ctx, image: &str, secret_hashes: &std::collections::BTreeMap<String, String>) -> Vec<Object> {
    let pg = &ctx.shop.spec.postgres;
    if pg.external.is_some() {
        return Vec::new();
    }
    let owners = database_owners(ctx);
    let services: Vec<&str> = owners.iter().map(|s| s.as_str()).collect();
    // The roles' passwords are in the name too: a changed database Secret runs a new Job,
    // which sets the role's password to the Secret's.
    let passwords: Vec<&str> = owners
        .iter()
        .map(|s| secret_hashes.get(&ctx.db_secret(*s)).map_or("absent", String::as_str))
        .collect();
    let hash = short_hash(&[image, &services.join(" "), BOOTSTRAP_SCRIPT, &passwords.join(" ")], 8);
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
    vec![ctx.object(
        Stage::Data,
        Kind::Job,
        ctx.child(&format!("db-bootstrap-{hash}")),
        "db-bootstrap",
        "bootstrap",
        job_spec(ctx, "db-bootstrap", "bootstrap", 999, container),
    )]
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
    database_owners(ctx)
        .into_iter()
        .map(|service| {
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
                    env("RUST_LOG", ctx.shop.spec.services.get(service).log.unwrap_or_else(|| "info".to_owned())),
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
    let Some(backup) = &ctx.shop.spec.postgres.backup else {
        return Vec::new();
    };
    let storage = backup.storage.as_deref().unwrap_or("2Gi");
    let mut claim = json!({"spec": {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": crate::quantity::canonical(storage).unwrap_or_else(|| storage.to_owned())}},
    }});
    if let Some(class) = &backup.storage_class_name {
        claim["spec"]["storageClassName"] = json!(class);
    }
    let volume = ctx.child("backups");
    let databases: Vec<&str> = database_owners(ctx).iter().map(|s| s.as_str()).collect();
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
            env("KEEP", backup.keep.unwrap_or(7).to_string()),
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
        "schedule": backup.schedule.as_deref().unwrap_or("0 3 * * *"),
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
