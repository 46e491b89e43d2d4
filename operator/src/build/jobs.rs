//! The database bootstrap Job, the per-service migration Jobs and the single instance's backup
//! CronJob and volume, built as typed `k8s-openapi` objects.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, Job, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{
    Ctx, IMAGE_ANNOTATION, Object, Postgres, Resolved, SERVICE_LABEL, SERVICE_UID, Stage, container_security,
    empty_dir, env, mount, pod_security, resources, secret_env, short_hash,
};
use crate::Result;
use crate::crd::ServiceName;

/// The uid of the `postgres` user in the official image.
const POSTGRES_UID: i64 = 999;

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

/// A run-once pod of `container` (its `/tmp` an `emptyDir`), retried 4 times within 15 minutes.
fn job_spec(ctx: &Ctx, app: &str, component: &str, uid: i64, container: Container) -> JobSpec {
    JobSpec {
        backoff_limit: Some(4),
        active_deadline_seconds: Some(900),
        template: PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(ctx.labels(app, component)),
                ..ObjectMeta::default()
            }),
            spec: Some(PodSpec {
                restart_policy: Some("Never".to_owned()),
                automount_service_account_token: Some(false),
                enable_service_links: Some(false),
                security_context: Some(pod_security(uid)),
                containers: vec![container],
                volumes: Some(vec![empty_dir("tmp", None)]),
                ..PodSpec::default()
            }),
        },
        ..JobSpec::default()
    }
}

/// A container of a Job running `command` in `image`, with a writable `/tmp` only.
fn job_container(
    name: &str,
    image: &str,
    command: Vec<String>,
    env: Vec<EnvVar>,
    requests: (&str, &str, &str),
) -> Container {
    Container {
        name: name.to_owned(),
        image: Some(image.to_owned()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        command: Some(command),
        env: Some(env),
        resources: Some(resources(None, requests.0, requests.1, requests.2)),
        security_context: Some(container_security()),
        volume_mounts: Some(vec![mount("tmp", "/tmp", false)]),
        ..Container::default()
    }
}

fn shell(script: &str) -> Vec<String> {
    vec!["/bin/sh".to_owned(), "-c".to_owned(), script.to_owned()]
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
pub fn bootstrap(ctx: &Ctx, image: &str, secret_hashes: &BTreeMap<String, String>) -> Result<Object> {
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
    let container = job_container(
        "bootstrap",
        image,
        shell(BOOTSTRAP_SCRIPT),
        envs,
        ("10m", "32Mi", "128Mi"),
    );
    let job = Job {
        metadata: ctx.metadata(
            &bootstrap_job_name(ctx.spec, image, secret_hashes),
            "db-bootstrap",
            "bootstrap",
        ),
        spec: Some(job_spec(ctx, "db-bootstrap", "bootstrap", POSTGRES_UID, container)),
        ..Job::default()
    };
    ctx.typed(Stage::Data, &job)
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
pub fn migrations(ctx: &Ctx, image: &str) -> Result<Vec<Object>> {
    ctx.spec
        .services
        .iter()
        .filter(|s| s.name.owns_database())
        .map(|s| {
            let service = s.name;
            let app = format!("migrate-{service}");
            let container = Container {
                args: Some(vec!["migrate".to_owned()]),
                ..job_container(
                    "migrate",
                    image,
                    vec![service.binary().to_owned()],
                    vec![
                        database_url(ctx, service),
                        env("LOG_FORMAT", "json"),
                        env("RUST_LOG", s.log.clone()),
                    ],
                    ("50m", "64Mi", "256Mi"),
                )
            };
            let mut metadata = ctx.metadata(&migration_job_name(&ctx.name, image, service), &app, "migration");
            metadata.annotations = Some([(IMAGE_ANNOTATION.to_owned(), image.to_owned())].into());
            metadata
                .labels
                .get_or_insert_default()
                .insert(SERVICE_LABEL.to_owned(), service.as_str().to_owned());
            let job = Job {
                metadata,
                spec: Some(job_spec(ctx, &app, "migration", SERVICE_UID, container)),
                ..Job::default()
            };
            ctx.typed(Stage::Migrations, &job)
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
pub fn backup(ctx: &Ctx, image: &str) -> Result<Vec<Object>> {
    let Postgres::Single {
        backup: Some(backup), ..
    } = &ctx.spec.postgres
    else {
        return Ok(Vec::new());
    };
    let volume = ctx.child("backups");
    let mut metadata = ctx.metadata(&volume, "db-backup", "backup");
    // Not owned by the Shop: backups must outlive it (that is what they are for).
    metadata.owner_references = None;
    let claim = PersistentVolumeClaim {
        metadata,
        spec: Some(super::data::claim_spec(&backup.storage, backup.storage_class.as_ref())),
        ..PersistentVolumeClaim::default()
    };
    let databases: Vec<&str> = ctx.spec.database_owners().iter().map(|s| s.as_str()).collect();
    let mut container = job_container(
        "backup",
        image,
        shell(BACKUP_SCRIPT),
        vec![
            env("PGHOST", ctx.child("postgres")),
            env("PGUSER", "postgres"),
            secret_env("PGPASSWORD", &ctx.child("postgres"), "password"),
            env("DATABASES", databases.join(" ")),
            env("KEEP", backup.keep.to_string()),
            env("HOME", "/tmp"),
        ],
        ("50m", "64Mi", "256Mi"),
    );
    container
        .volume_mounts
        .get_or_insert_default()
        .push(mount("backups", "/backups", false));
    let mut job = job_spec(ctx, "db-backup", "backup", POSTGRES_UID, container);
    job.backoff_limit = Some(2);
    if let Some(pod) = job.template.spec.as_mut() {
        pod.volumes.get_or_insert_default().push(Volume {
            name: "backups".to_owned(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: volume,
                ..PersistentVolumeClaimVolumeSource::default()
            }),
            ..Volume::default()
        });
    }
    let cronjob = CronJob {
        metadata: ctx.metadata(&ctx.child("backup"), "db-backup", "backup"),
        spec: CronJobSpec {
            schedule: backup.schedule.clone(),
            concurrency_policy: Some("Forbid".to_owned()),
            successful_jobs_history_limit: Some(3),
            failed_jobs_history_limit: Some(3),
            // No Shop labels on the Jobs it makes: they are the CronJob's, not the operator's, so
            // the operator neither lists them nor deletes them as orphans.
            job_template: JobTemplateSpec {
                metadata: None,
                spec: Some(job),
            },
            ..CronJobSpec::default()
        },
        ..CronJob::default()
    };
    Ok(vec![ctx.typed(Stage::Data, &claim)?, ctx.typed(Stage::Data, &cronjob)?])
}
