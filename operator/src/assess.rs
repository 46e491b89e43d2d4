//! Pure assessment: from a Shop and its live objects to what the builders may do now
//! ([`Inputs`]) and what the status says. No I/O, so every decision is unit-tested here.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::build::{self, Inputs, Kind, Postgres, Redis, Resolved};
use crate::crd::{Phase, ServiceName, ServiceStatus, Shop, ShopStatus};
use crate::status::{self, Observed};

/// The live objects of one Shop, by kind and name, and the content hash of its Secrets (its
/// own and the external ones it names), by name.
#[derive(Debug, Default)]
pub struct Live {
    pub objects: BTreeMap<(Kind, String), Value>,
    pub secrets: BTreeMap<String, String>,
    /// Postgres' volume, when it exists while the superuser Secret does not (a Shop recreated
    /// over its kept volume, or the Secret deleted).
    pub orphaned_volume: Option<String>,
    /// The values of the service-clients Secret (decoded), read with the LIST: the `clients`
    /// file is brought up to the contract's format from the per-caller keys.
    pub service_clients: Option<BTreeMap<String, String>>,
}

impl Live {
    pub fn get(&self, kind: Kind, name: &str) -> Option<&Value> {
        self.objects.get(&(kind, name.to_owned()))
    }
}

/// Whether a Job finished: `Some(Ok(()))` succeeded, `Some(Err(why))` failed, `None` running.
pub fn job_outcome(job: &Value) -> Option<std::result::Result<(), String>> {
    let conditions = job["status"]["conditions"].as_array()?;
    for c in conditions {
        if c["status"] != "True" {
            continue;
        }
        match c["type"].as_str() {
            Some("Complete") => return Some(Ok(())),
            Some("Failed") => {
                let reason = c["reason"].as_str().unwrap_or("Failed");
                let message = c["message"].as_str().unwrap_or("");
                return Some(Err(format!("{reason}: {message}")
                    .trim_end_matches([':', ' '])
                    .to_owned()));
            }
            _ => {}
        }
    }
    None
}

/// The state of the target image's migrations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Migrations {
    /// The databases are not bootstrapped yet: no Job exists.
    Waiting,
    Running,
    Succeeded,
    Failed(String),
}

fn migrations(spec: &Resolved, live: &Live, bootstrapped: bool) -> Migrations {
    let owners = spec.database_owners();
    if owners.is_empty() {
        return Migrations::Succeeded;
    }
    if !bootstrapped {
        return Migrations::Waiting;
    }
    let mut all_done = true;
    for service in owners {
        let job = build::migration_job_name(&spec.name, &spec.image, service);
        match live.get(Kind::Job, &job).and_then(job_outcome) {
            Some(Ok(())) => {}
            Some(Err(why)) => return Migrations::Failed(format!("migration Job {job} failed: {why}")),
            None => all_done = false,
        }
    }
    if all_done {
        Migrations::Succeeded
    } else {
        Migrations::Running
    }
}

/// Where one Deployment's rollout of its current template stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rollout {
    /// Every replica runs the current template and is available; no old replica is left.
    Done,
    /// On its way; what it waits for.
    InProgress(String),
    /// The Deployment controller gave up (`Progressing=False`, `ProgressDeadlineExceeded`).
    Failed(String),
}

fn int(value: &Value) -> i64 {
    value.as_i64().unwrap_or(0)
}

/// The rollout of `deployment` as its controller reports it, the way `kubectl rollout status`
/// reads it: the status must describe the current generation before its counts mean anything.
pub fn rollout(deployment: &Value) -> Rollout {
    let generation = int(&deployment["metadata"]["generation"]);
    let status = &deployment["status"];
    if int(&status["observedGeneration"]) < generation {
        return Rollout::InProgress("waiting for the Deployment controller to see the new spec".to_owned());
    }
    let failed = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Progressing" && c["status"] == "False");
    if let Some(c) = failed {
        let reason = c["reason"].as_str().unwrap_or("ProgressDeadlineExceeded");
        let message = c["message"].as_str().unwrap_or_default();
        return Rollout::Failed(format!("{reason}: {message}").trim_end_matches([':', ' ']).to_owned());
    }
    let desired = deployment["spec"]["replicas"].as_i64().unwrap_or(1);
    let updated = int(&status["updatedReplicas"]);
    let replicas = int(&status["replicas"]);
    let available = int(&status["availableReplicas"]);
    if updated < desired {
        Rollout::InProgress(format!("{updated}/{desired} replicas updated"))
    } else if replicas > updated {
        Rollout::InProgress(format!("{} old replicas terminating", replicas - updated))
    } else if available < updated {
        Rollout::InProgress(format!("{available}/{updated} updated replicas available"))
    } else {
        Rollout::Done
    }
}

fn ready_replicas(object: Option<&Value>) -> i64 {
    object.and_then(|o| o["status"]["readyReplicas"].as_i64()).unwrap_or(0)
}

fn image_of(deployment: &Value) -> Option<&str> {
    deployment["spec"]["template"]["spec"]["containers"][0]["image"].as_str()
}

/// A change the operator will not make, with what to do instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// `DataWithoutSecrets`, `PostgresMajorChange`.
    pub reason: &'static str,
    pub message: String,
    /// Whether nothing at all may be written (else only the refused change is held back).
    pub blocks_writes: bool,
}

/// What the Shop looks like now, and what that lets the builders do.
#[derive(Debug)]
pub struct Assessment {
    /// A change refused (the first found).
    pub refusal: Option<Refusal>,
    pub inputs: Inputs,
    /// `DatabaseReady`, `CacheReady`, `Migrated`, `ServicesAvailable`.
    pub observed: Vec<Observed>,
    pub migrations: Migrations,
    pub services: BTreeMap<String, ServiceStatus>,
    /// Every Deployment runs `spec.image`, fully rolled out: `status.version` may say so.
    pub rolled_out: bool,
    /// Deployments still rolling out, with what each waits for.
    pub rolling: Vec<String>,
    /// Deployments whose rollout failed, with why.
    pub rollout_failed: Vec<String>,
}

/// Assesses `shop` (validated as `spec`) from its live objects.
pub fn assess(
    shop: &Shop,
    spec: &Resolved,
    live: &Live,
    prometheus_operator: bool,
    cloudnative_pg: bool,
) -> Assessment {
    let name = &spec.name;
    let mut observed = Vec::new();
    let (postgres_image, major_change) = postgres_image(spec, live);
    let kept_postgres_image = major_change.is_some().then(|| postgres_image.clone());

    // Postgres and the bootstrap Job.
    let bootstrapped = if let Postgres::External(_) = spec.postgres {
        observed.push(Observed::new(
            status::DATABASE_READY,
            true,
            "External",
            "an external Postgres",
        ));
        true
    } else if let Postgres::CloudNativePg { .. } = spec.postgres {
        let cluster = format!("{name}-pg");
        let ready = live.get(Kind::PostgresCluster, &cluster).is_some_and(|c| {
            c["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        });
        let owners = spec.database_owners();
        let databases = owners.iter().all(|s| {
            live.get(Kind::PostgresDatabase, &format!("{name}-db-{s}"))
                .is_some_and(|d| d["status"]["applied"] == true)
        });
        let migrations_exist = owners.iter().any(|s| {
            live.get(Kind::Job, &build::migration_job_name(name, &spec.image, *s))
                .is_some()
        });
        let (ok, reason, message) = match (cloudnative_pg, ready, databases) {
            (false, _, _) => (
                false,
                "CloudNativePGMissing",
                "spec.postgres.cloudNativePG needs the CloudNativePG operator, whose CRDs are not installed".to_owned(),
            ),
            (true, true, true) => (
                true,
                "Ready",
                format!("the CloudNativePG cluster {cluster} is ready; every service has its database"),
            ),
            (true, true, false) => (
                false,
                "CreatingDatabases",
                "creating the services' roles and databases".to_owned(),
            ),
            (true, false, _) => (
                false,
                "Starting",
                format!("the CloudNativePG cluster {cluster} is not ready"),
            ),
        };
        observed.push(Observed::new(status::DATABASE_READY, ok, reason, message));
        ok || migrations_exist
    } else {
        let pg_ready = ready_replicas(live.get(Kind::StatefulSet, &format!("{name}-postgres"))) >= 1;
        // The Job `build` makes for the Postgres image that runs (see `postgres_image`).
        let bootstrap = build::bootstrap_job_name(spec, &postgres_image, &live.secrets);
        let outcome = live.get(Kind::Job, &bootstrap).and_then(job_outcome);
        // Once the target image's migration Jobs exist they stay wanted, even while Postgres
        // restarts or a new bootstrap Job (a service switched on) runs.
        let migrations_exist = spec.database_owners().into_iter().any(|s| {
            live.get(Kind::Job, &build::migration_job_name(name, &spec.image, s))
                .is_some()
        });
        let (ok, reason, message) = match (pg_ready, &outcome) {
            (_, Some(Ok(()))) if pg_ready => (
                true,
                "Bootstrapped",
                "Postgres runs; every service has its database".to_owned(),
            ),
            (_, Some(Err(why))) => (
                false,
                "BootstrapFailed",
                format!("the database bootstrap Job failed: {why}"),
            ),
            // A database Secret changed: a new bootstrap Job sets the roles' passwords while
            // the databases serve.
            (true, None) if migrations_exist => (
                true,
                "UpdatingRoles",
                "applying changed database credentials to the roles".to_owned(),
            ),
            (true, _) => (
                false,
                "Bootstrapping",
                "creating the services' databases and roles".to_owned(),
            ),
            (false, _) => (false, "Starting", "Postgres is not ready".to_owned()),
        };
        observed.push(Observed::new(status::DATABASE_READY, ok, reason, message));
        outcome == Some(Ok(())) || migrations_exist
    };

    // Redis.
    if let Redis::External { .. } = spec.redis {
        observed.push(Observed::new(
            status::CACHE_READY,
            true,
            "External",
            "an external Redis",
        ));
    } else if ready_replicas(live.get(Kind::StatefulSet, &format!("{name}-redis"))) >= 1 {
        observed.push(Observed::new(status::CACHE_READY, true, "Running", "Redis is ready"));
    } else {
        observed.push(Observed::new(
            status::CACHE_READY,
            false,
            "Starting",
            "Redis is not ready",
        ));
    }

    // Migrations of the target image.
    let migrations = migrations(spec, live, bootstrapped);
    let previous = shop.status.as_ref().and_then(|s| s.migrated_image.clone());
    let migrated_image = match &migrations {
        Migrations::Succeeded => Some(spec.image.clone()),
        _ => previous,
    };
    observed.push(match &migrations {
        Migrations::Succeeded => Observed::new(
            status::MIGRATED,
            true,
            "Succeeded",
            format!("migrated to {}", spec.image),
        ),
        Migrations::Failed(why) => Observed::new(status::MIGRATED, false, status::MIGRATION_FAILED, why.clone()),
        Migrations::Running => Observed::new(
            status::MIGRATED,
            false,
            "Running",
            format!("migrating to {}", spec.image),
        ),
        Migrations::Waiting => Observed::new(status::MIGRATED, false, "Waiting", "waiting for the databases"),
    });

    // Deployments: available, and rolled out to the target image.
    let mut services = BTreeMap::new();
    let mut unavailable = Vec::new();
    let mut rolling = Vec::new();
    let mut rollout_failed = Vec::new();
    let mut rolled_out = migrated_image.as_deref() == Some(spec.image.as_str());
    for service in spec.enabled_services() {
        let deployment = live.get(Kind::Deployment, &format!("{name}-{service}"));
        let desired = deployment.and_then(|d| d["spec"]["replicas"].as_i64()).unwrap_or(0);
        let ready = ready_replicas(deployment);
        match deployment {
            None => rolled_out = false,
            Some(d) => {
                if image_of(d) != Some(spec.image.as_str()) {
                    rolled_out = false;
                }
                match rollout(d) {
                    Rollout::Done => {}
                    Rollout::InProgress(why) => {
                        rolled_out = false;
                        rolling.push(format!("{service}: {why}"));
                    }
                    Rollout::Failed(why) => {
                        rolled_out = false;
                        rollout_failed.push(format!("{service}: {why}"));
                    }
                }
            }
        }
        if deployment.is_none() || ready < desired.max(1) {
            unavailable.push(service.as_str());
        }
        services.insert(
            service.to_string(),
            ServiceStatus {
                ready: i32::try_from(ready).unwrap_or(i32::MAX),
                desired: i32::try_from(desired).unwrap_or(i32::MAX),
            },
        );
    }
    rolled_out &= unavailable.is_empty();
    observed.push(if unavailable.is_empty() {
        Observed::new(
            status::SERVICES_AVAILABLE,
            true,
            "Available",
            "every service has its ready replicas",
        )
    } else {
        Observed::new(
            status::SERVICES_AVAILABLE,
            false,
            "Unavailable",
            format!("not available: {}", unavailable.join(", ")),
        )
    });

    // Refusals: data the generated Secrets no longer open, a Postgres major-version jump.
    let orphaned = live.orphaned_volume.as_ref().map(|pvc| Refusal {
        reason: "DataWithoutSecrets",
        message: format!(
            "the volume {pvc} holds databases whose superuser password was in the Secret {name}-postgres, which is gone \
             (a Shop recreated over its kept volume, or the Secret deleted); new passwords cannot open them. Restore \
             {name}-postgres (and {name}-db-*) from a backup, or delete the PVC to start with empty databases"
        ),
        blocks_writes: true,
    });
    let refusal = orphaned.or(major_change);

    Assessment {
        refusal,
        inputs: Inputs {
            database_bootstrapped: bootstrapped,
            migrated_image,
            prometheus_operator,
            cloudnative_pg,
            secret_hashes: live.secrets.clone(),
            postgres_image: kept_postgres_image,
        },
        observed,
        migrations,
        services,
        rolled_out,
        rolling,
        rollout_failed,
    }
}

/// The image the single instance is to run: the spec's, unless it changes the major version of
/// the live data directory. That is refused: the live image stays, with the refusal.
fn postgres_image(spec: &Resolved, live: &Live) -> (String, Option<Refusal>) {
    let Postgres::Single { image: wanted, .. } = &spec.postgres else {
        return (String::new(), None);
    };
    let running = live
        .get(Kind::StatefulSet, &spec.child("postgres"))
        .and_then(|sts| sts["spec"]["template"]["spec"]["containers"][0]["image"].as_str());
    if let Some(running) = running
        && let (Some(from), Some(to)) = (build::postgres_major(running), build::postgres_major(wanted))
        && from != to
    {
        let refusal = Refusal {
            reason: "PostgresMajorChange",
            message: format!(
                "spec.postgres.image {wanted} is Postgres {to}, but the data directory is Postgres {from}: a major \
                 version cannot read it. Postgres keeps running {running}; upgrade with a dump and restore into \
                 a new Shop (docs/operator.md), or set the image back to a {from}.x tag"
            ),
            blocks_writes: false,
        };
        return (running.to_owned(), Some(refusal));
    }
    (wanted.clone(), None)
}

/// A step of the pass that failed (creating Secrets, applying, growing volumes): recorded in
/// `Degraded` and an Event before the error goes to the controller's backoff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepFailure {
    /// `SecretsFailed`, `ApplyFailed`, `VolumeGrowFailed`.
    pub reason: &'static str,
    pub message: String,
}

/// The status for this pass: the assessment, a step's failure if any, and the previous status
/// (whose `lastTransitionTime`s and `version` carry over).
pub fn status_of(
    shop: &Shop,
    a: &Assessment,
    failure: Option<&StepFailure>,
    anything_exists: bool,
    now: DateTime<Utc>,
) -> ShopStatus {
    let spec = &shop.spec;
    let previous = shop.status.as_ref();
    let serving = previous.and_then(|s| s.version.clone());
    let mut observed = a.observed.clone();
    let holds = |t: &str| observed.iter().any(|o| o.type_ == t && o.ok);

    // Progressing: moving towards the spec.
    let failing_required = observed.iter().find(|o| !o.ok && status::REQUIRED.contains(&o.type_));
    let progressing = match (&a.migrations, failing_required) {
        (Migrations::Failed(_), _) => Observed::new(status::PROGRESSING, false, status::MIGRATION_FAILED, "stopped"),
        _ if !a.rollout_failed.is_empty() => Observed::new(
            status::PROGRESSING,
            false,
            "ProgressDeadlineExceeded",
            a.rollout_failed.join("; "),
        ),
        (Migrations::Running | Migrations::Waiting, _) => Observed::new(
            status::PROGRESSING,
            true,
            "Migrating",
            format!("migrating to {}", spec.image),
        ),
        (_, Some(o)) => Observed::new(
            status::PROGRESSING,
            true,
            "Provisioning",
            format!("{}: {}", o.type_, o.message),
        ),
        _ if !a.rolled_out => {
            let what = if a.rolling.is_empty() {
                "Deployments not yet updated".to_owned()
            } else {
                a.rolling.join("; ")
            };
            Observed::new(
                status::PROGRESSING,
                true,
                "RollingOut",
                format!("rolling out {} ({what})", spec.image),
            )
        }
        _ => Observed::new(
            status::PROGRESSING,
            false,
            "Complete",
            format!("{} is rolled out", spec.image),
        ),
    };

    // Available: the shop serves, whatever its version.
    let down = [status::DATABASE_READY, status::CACHE_READY, status::SERVICES_AVAILABLE]
        .into_iter()
        .find(|t| !holds(t));
    let available = match down {
        None => Observed::new(
            status::AVAILABLE,
            true,
            "Serving",
            "the data tier and every service are up",
        ),
        Some(t) => Observed::new(status::AVAILABLE, false, "NotServing", format!("{t} is False")),
    };

    // Degraded: something needs a person. The first cause wins.
    let lost = observed
        .iter()
        .find(|o| !o.ok && o.type_ != status::MIGRATED && status::REQUIRED.contains(&o.type_));
    let degraded = if let Some(f) = failure {
        Observed::new(status::DEGRADED, true, f.reason, f.message.clone())
    } else if let Some(r) = &a.refusal {
        Observed::new(status::DEGRADED, true, r.reason, r.message.clone())
    } else if let Migrations::Failed(why) = &a.migrations {
        Observed::new(status::DEGRADED, true, status::MIGRATION_FAILED, why.clone())
    } else if !a.rollout_failed.is_empty() {
        Observed::new(
            status::DEGRADED,
            true,
            status::ROLLOUT_FAILED,
            format!("rollout of {} failed: {}", spec.image, a.rollout_failed.join("; ")),
        )
    } else if let (Some(_), Some(o)) = (&serving, lost) {
        Observed::new(
            status::DEGRADED,
            true,
            status::UNAVAILABLE,
            format!("{}: {}", o.type_, o.message),
        )
    } else {
        Observed::new(status::DEGRADED, false, "AsExpected", "nothing is wrong")
    };

    let paused = if spec.paused {
        Observed::new(status::PAUSED, true, "Paused", "spec.paused is set: nothing is applied")
    } else {
        Observed::new(status::PAUSED, false, "Reconciling", "changes are applied")
    };
    observed.extend([progressing, available, degraded, paused]);
    observed.push(status::ready(&observed));

    let conditions = status::conditions(
        previous.map(|s| s.conditions.as_slice()).unwrap_or_default(),
        &observed,
        shop.metadata.generation,
        now,
    );
    let (phase, mut reason) = status::phase(&observed, previous, anything_exists);
    if spec.paused {
        reason = format!("paused: nothing is applied ({reason})");
    }
    let ready = a
        .services
        .values()
        .filter(|s| s.ready >= s.desired && s.desired > 0)
        .count();
    ShopStatus {
        observed_generation: shop.metadata.generation,
        phase,
        phase_reason: Some(reason),
        version: if a.rolled_out {
            Some(spec.image.clone())
        } else {
            serving
        },
        migrated_image: a.inputs.migrated_image.clone(),
        url: spec.enabled(ServiceName::Gateway).then(|| spec.url()),
        ready_services: Some(format!("{ready}/{}", a.services.len())),
        conditions,
        services: a.services.clone(),
    }
}

/// The Warning Event to publish for `new`: when `Degraded` turned True or changed its reason
/// (so a lasting failure is announced once, not on every pass). `(reason, note)`.
pub fn degraded_event(previous: Option<&ShopStatus>, new: &ShopStatus) -> Option<(String, String)> {
    let degraded = |s: &ShopStatus| {
        s.conditions
            .iter()
            .find(|c| c.type_ == status::DEGRADED && c.status == "True")
            .map(|c| (c.reason.clone(), c.message.clone()))
    };
    let now = degraded(new)?;
    match previous.and_then(degraded) {
        Some((reason, _)) if reason == now.0 => None,
        _ => Some(now),
    }
}

/// Whether the Shop needs no quick look again (settled, or waiting for a person).
pub fn settled(new: &ShopStatus, paused: bool) -> bool {
    paused
        || matches!(new.phase, Phase::Ready | Phase::Failed)
        || new
            .conditions
            .iter()
            .any(|c| c.type_ == status::DEGRADED && c.status == "True" && c.reason == status::MIGRATION_FAILED)
}

/// The delay before retry `attempt` (1, 2, …) of a failing Shop: exponential from 2 s, capped
/// at 5 min, with "equal jitter" (`unit` in `[0, 1)` picks a point in the upper half) so many
/// failing Shops do not retry in lockstep.
pub fn backoff(attempt: u32, unit: f64) -> Duration {
    const BASE: f64 = 2.0;
    const CAP: f64 = 300.0;
    let exp = (BASE * 2f64.powi(i32::try_from(attempt.saturating_sub(1).min(20)).unwrap_or(20))).min(CAP);
    Duration::from_secs_f64(exp / 2.0 + exp / 2.0 * unit.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    fn deployment(generation: i64, status: Value) -> Value {
        json!({"metadata": {"generation": generation}, "spec": {"replicas": 2}, "status": status})
    }

    #[test]
    fn a_rollout_counts_only_once_the_controller_saw_the_generation() {
        // The status still describes generation 1 (everything updated) after the spec moved on.
        let stale = deployment(
            2,
            json!({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}),
        );
        assert!(matches!(rollout(&stale), Rollout::InProgress(_)));
        let done = deployment(
            2,
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}),
        );
        assert_eq!(rollout(&done), Rollout::Done);
    }

    #[test]
    fn a_crash_looping_new_replica_is_not_rolled_out() {
        // maxSurge 1, maxUnavailable 0: the old replicas stay ready, the new one never does.
        let stuck = deployment(
            2,
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1, "readyReplicas": 2, "availableReplicas": 2}),
        );
        assert_eq!(rollout(&stuck), Rollout::InProgress("1/2 replicas updated".to_owned()));
        let old_left = deployment(
            2,
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 2}),
        );
        assert!(matches!(rollout(&old_left), Rollout::InProgress(m) if m.contains("old replicas")));
        let not_available = deployment(
            2,
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1}),
        );
        assert!(matches!(rollout(&not_available), Rollout::InProgress(_)));
    }

    #[test]
    fn a_passed_progress_deadline_fails_the_rollout() {
        let failed = deployment(
            2,
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1, "availableReplicas": 2,
                   "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                                   "message": "ReplicaSet \"demo-catalog-7f\" has timed out progressing."}]}),
        );
        match rollout(&failed) {
            Rollout::Failed(why) => assert!(why.starts_with("ProgressDeadlineExceeded: ReplicaSet")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn job_outcomes() {
        assert_eq!(job_outcome(&json!({})), None);
        let ok = json!({"status": {"conditions": [{"type": "Complete", "status": "True"}]}});
        assert_eq!(job_outcome(&ok), Some(Ok(())));
        let failed =
            json!({"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}]}});
        assert_eq!(job_outcome(&failed), Some(Err("DeadlineExceeded".to_owned())));
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        assert_eq!(backoff(1, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(1, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(4, 0.999_999).as_secs(), 15);
        assert!(backoff(3, 0.5) > backoff(2, 0.5));
        assert_eq!(backoff(30, 1.0), Duration::from_secs(300));
        assert_eq!(backoff(30, 0.0), Duration::from_secs(150));
        assert_ne!(backoff(5, 0.1), backoff(5, 0.9), "jitter spreads retries");
    }

    fn shop_with(status: Option<ShopStatus>) -> Shop {
        let mut shop = Shop::new("demo", serde_json::from_value(json!({"image": "img:2"})).unwrap());
        shop.status = status;
        shop
    }

    fn assessment(rolled_out: bool, rolling: &[&str], failed: &[&str]) -> Assessment {
        Assessment {
            refusal: None,
            inputs: Inputs {
                database_bootstrapped: true,
                migrated_image: Some("img:2".to_owned()),
                ..Inputs::default()
            },
            observed: status::REQUIRED
                .iter()
                .map(|t| Observed::new(t, true, "Up", "up"))
                .collect(),
            migrations: Migrations::Succeeded,
            services: BTreeMap::new(),
            rolled_out,
            rolling: rolling.iter().map(|s| (*s).to_owned()).collect(),
            rollout_failed: failed.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn condition<'a>(s: &'a ShopStatus, t: &str) -> &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
        s.conditions.iter().find(|c| c.type_ == t).unwrap()
    }

    #[test]
    fn the_version_moves_only_with_a_finished_rollout() {
        let serving = ShopStatus {
            version: Some("img:1".to_owned()),
            ..ShopStatus::default()
        };
        let shop = shop_with(Some(serving));
        let rolling = status_of(
            &shop,
            &assessment(false, &["catalog: 1/2 replicas updated"], &[]),
            None,
            true,
            Utc::now(),
        );
        assert_eq!(rolling.version.as_deref(), Some("img:1"));
        assert_ne!(rolling.phase, Phase::Ready);
        assert_eq!(condition(&rolling, status::PROGRESSING).status, "True");
        assert_eq!(condition(&rolling, status::READY).status, "False");
        assert_eq!(
            condition(&rolling, status::AVAILABLE).status,
            "True",
            "the old version serves"
        );

        let failed = status_of(
            &shop,
            &assessment(false, &[], &["catalog: ProgressDeadlineExceeded"]),
            None,
            true,
            Utc::now(),
        );
        assert_eq!(failed.phase, Phase::Degraded);
        assert_eq!(failed.version.as_deref(), Some("img:1"));
        let degraded = condition(&failed, status::DEGRADED);
        assert_eq!(
            (degraded.status.as_str(), degraded.reason.as_str()),
            ("True", status::ROLLOUT_FAILED)
        );
        assert!(failed.phase_reason.unwrap().contains("img:1 keeps serving"));

        let done = status_of(&shop, &assessment(true, &[], &[]), None, true, Utc::now());
        assert_eq!(done.version.as_deref(), Some("img:2"));
        assert_eq!(done.phase, Phase::Ready);
        assert_eq!(condition(&done, status::DEGRADED).status, "False");
        assert_eq!(condition(&done, status::PAUSED).status, "False");
    }

    #[test]
    fn a_failed_step_is_degraded_and_announced_once() {
        let shop = shop_with(None);
        let failure = StepFailure {
            reason: "VolumeGrowFailed",
            message: "persistentvolumeclaims \"data-demo-postgres-0\" is forbidden".to_owned(),
        };
        let first = status_of(&shop, &assessment(true, &[], &[]), Some(&failure), true, Utc::now());
        assert_eq!(first.phase, Phase::Degraded);
        assert_eq!(condition(&first, status::DEGRADED).reason, "VolumeGrowFailed");
        let event = degraded_event(None, &first).unwrap();
        assert_eq!(event.0, "VolumeGrowFailed");
        assert_eq!(degraded_event(Some(&first), &first), None);
        let healed = status_of(
            &shop_with(Some(first.clone())),
            &assessment(true, &[], &[]),
            None,
            true,
            Utc::now(),
        );
        assert_eq!(healed.phase, Phase::Ready);
        assert_eq!(degraded_event(Some(&first), &healed), None);
    }
}
