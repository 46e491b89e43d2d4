//! The reconciler: `reconcile(Arc<Shop>, Arc<Context>) -> Result<Action>` and `error_policy`.
//!
//! Each pass is a pipeline: validate → observe (one LIST per owned kind, by the Shop's label) →
//! create missing Secrets → build the desired objects for the stage reached → apply what
//! differs (server-side apply, one field manager) → delete orphans by label → update the status.
//! An unchanged Shop costs only reads: objects whose desired fields already hold are not
//! re-applied, and the status is written only when it changed.
//!
//! No finalizer: every child carries an owner reference to its Shop, so the garbage collector
//! removes them when the Shop goes, and nothing lives outside the cluster to clean up.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Client, Resource, ResourceExt};
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::build::{self, Inputs, Kind, SHOP_LABEL};
use crate::crd::{Phase, ServiceName, Shop, ShopStatus};
use crate::metrics::Metrics;
use crate::status::{self, Observed};
use crate::{Error, MANAGER, Result};

/// Annotation holding the hash of the last applied desired object.
pub const APPLIED_ANNOTATION: &str = "shopkeeper.dev/applied-hash";

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    /// Whether the Prometheus Operator's CRDs are installed (checked at start).
    pub prometheus_operator: bool,
}

/// Requeue while something is on its way (databases starting, migrations running).
pub const SHORT_REQUEUE: Duration = Duration::from_secs(10);
/// Requeue of a settled Shop, so drift is corrected even without a watch event.
pub const LONG_REQUEUE: Duration = Duration::from_secs(300);

/// The live objects of one Shop, by kind and name.
#[derive(Debug, Default)]
pub struct Live {
    pub objects: BTreeMap<(Kind, String), Value>,
    pub secrets: BTreeSet<String>,
}

impl Live {
    fn get(&self, kind: Kind, name: &str) -> Option<&Value> {
        self.objects.get(&(kind, name.to_owned()))
    }
}

fn dynamic_api(client: &Client, ns: &str, kind: Kind) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), ns, &kind.api_resource())
}

fn selector(shop: &str) -> ListParams {
    ListParams::default().labels(&format!("{SHOP_LABEL}={shop},app.kubernetes.io/managed-by={MANAGER}"))
}

/// The kinds this cluster can hold.
fn kinds(ctx: &Context) -> impl Iterator<Item = Kind> + '_ {
    Kind::OWNED
        .into_iter()
        .filter(|k| ctx.prometheus_operator || !k.is_prometheus())
}

/// One LIST per kind (Secrets: metadata only, so their values are never read).
async fn observe(ctx: &Context, ns: &str, name: &str) -> Result<Live> {
    let mut live = Live::default();
    let lp = selector(name);
    let secrets = dynamic_api(&ctx.client, ns, Kind::Secret).list_metadata(&lp).await?;
    live.secrets = secrets.items.into_iter().map(|s| s.name_any()).collect();
    for kind in kinds(ctx) {
        for object in dynamic_api(&ctx.client, ns, kind).list(&lp).await?.items {
            live.objects
                .insert((kind, object.name_any()), serde_json::to_value(&object)?);
        }
    }
    Ok(live)
}

/// Whether every field of `desired` holds in `live` (which has server defaults on top).
pub fn is_subset(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d
            .iter()
            .all(|(k, v)| l.get(k).is_some_and(|lv| is_subset(v, lv)) || (v.is_null() && !l.contains_key(k))),
        (Value::Array(d), Value::Array(l)) => d.len() == l.len() && d.iter().zip(l).all(|(a, b)| is_subset(a, b)),
        (Value::Number(d), Value::Number(l)) => d.as_f64() == l.as_f64(),
        (d, l) => d == l,
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
#[derive(Debug, PartialEq, Eq)]
enum Migrations {
    /// The databases are not bootstrapped yet: no Job exists.
    Waiting,
    Running,
    Succeeded,
    Failed(String),
}

fn migrations(shop: &Shop, live: &Live, bootstrapped: bool) -> Migrations {
    let name = shop.name_any();
    let owners: Vec<ServiceName> = shop.spec.enabled_services().filter(|s| s.owns_database()).collect();
    if owners.is_empty() {
        return Migrations::Succeeded;
    }
    if !bootstrapped {
        return Migrations::Waiting;
    }
    let mut all_done = true;
    for service in owners {
        let job = build::migration_job_name(&name, &shop.spec.image, service);
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

fn ready_replicas(object: Option<&Value>) -> i64 {
    object.and_then(|o| o["status"]["readyReplicas"].as_i64()).unwrap_or(0)
}

/// What the Shop looks like now, and what that lets the builders do.
struct Assessment {
    inputs: Inputs,
    observed: Vec<Observed>,
    migrations: Migrations,
    services: BTreeMap<String, crate::crd::ServiceStatus>,
    rolled_out: bool,
}

fn assess(shop: &Shop, live: &Live, prometheus_operator: bool) -> Result<Assessment> {
    let name = shop.name_any();
    let spec = &shop.spec;
    let mut observed = Vec::new();

    // Postgres and the bootstrap Job.
    let bootstrapped = if spec.postgres.external.is_some() {
        observed.push(Observed::new(
            status::DATABASE_READY,
            true,
            "External",
            "an external Postgres",
        ));
        true
    } else {
        let pg_ready = ready_replicas(live.get(Kind::StatefulSet, &format!("{name}-postgres"))) >= 1;
        let bootstrap = build::build(shop, &Inputs::default())?
            .into_iter()
            .find(|o| o.kind == Kind::Job)
            .map(|o| o.name);
        let outcome = bootstrap
            .as_deref()
            .and_then(|job| live.get(Kind::Job, job))
            .and_then(job_outcome);
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
            (true, _) => (
                false,
                "Bootstrapping",
                "creating the services' databases and roles".to_owned(),
            ),
            (false, _) => (false, "Starting", "Postgres is not ready".to_owned()),
        };
        observed.push(Observed::new(status::DATABASE_READY, ok, reason, message));
        // Once the target image's migration Jobs exist they stay wanted, even while Postgres
        // restarts or a new bootstrap Job (a service switched on) runs.
        let migrations_exist = spec.enabled_services().filter(|s| s.owns_database()).any(|s| {
            live.get(Kind::Job, &build::migration_job_name(&name, &spec.image, s))
                .is_some()
        });
        outcome == Some(Ok(())) || bootstrap.is_none() || migrations_exist
    };

    // Redis.
    if spec.redis.external.is_some() {
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
    let migrations = migrations(shop, live, bootstrapped);
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

    // Deployments.
    let mut services = BTreeMap::new();
    let mut unavailable = Vec::new();
    let mut rolled_out = migrated_image.as_deref() == Some(spec.image.as_str());
    for service in spec.enabled_services() {
        let deployment = live.get(Kind::Deployment, &format!("{name}-{service}"));
        let desired = deployment.and_then(|d| d["spec"]["replicas"].as_i64()).unwrap_or(0);
        let ready = ready_replicas(deployment);
        let updated = deployment
            .and_then(|d| d["status"]["updatedReplicas"].as_i64())
            .unwrap_or(0);
        let image = deployment.and_then(|d| d["spec"]["template"]["spec"]["containers"][0]["image"].as_str());
        if image != Some(spec.image.as_str()) || updated < desired {
            rolled_out = false;
        }
        if deployment.is_none() || ready < desired.max(1) {
            unavailable.push(service.as_str());
        }
        services.insert(
            service.to_string(),
            crate::crd::ServiceStatus {
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
    observed.push(status::ready(&observed));

    Ok(Assessment {
        inputs: Inputs {
            database_bootstrapped: bootstrapped,
            migrated_image,
            prometheus_operator,
        },
        observed,
        migrations,
        services,
        rolled_out,
    })
}

/// Creates the Secrets that do not exist yet. Existing ones are never touched.
async fn create_secrets(shop: &Shop, ctx: &Context, ns: &str, live: &Live) -> Result<usize> {
    let missing: Vec<String> = crate::secrets::wanted(shop)?
        .into_iter()
        .filter(|name| !live.secrets.contains(name))
        .collect();
    if missing.is_empty() {
        return Ok(0);
    }
    let secrets = crate::secrets::generate(shop, &missing, Utc::now(), &mut rand::rngs::OsRng)?;
    let api = dynamic_api(&ctx.client, ns, Kind::Secret);
    for secret in &secrets {
        let object: DynamicObject = serde_json::from_value(secret.value.clone())?;
        match api.create(&PostParams::default(), &object).await {
            Ok(_) => info!(secret = %secret.name, "created Secret"),
            // Made by a previous pass whose LIST did not see it yet: keep it as it is.
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(secrets.len())
}

/// Applies every desired object that differs from its live version; deletes orphans.
async fn apply(ctx: &Context, ns: &str, desired: &[build::Object], live: &Live) -> Result<()> {
    let params = PatchParams::apply(MANAGER).force();
    for object in desired {
        if object.kind.is_prometheus() && !ctx.prometheus_operator {
            continue;
        }
        // The hash of what we apply: a changed spec (a field removed included) re-applies even
        // when the live object still holds every desired field.
        let mut value = object.value.clone();
        let hash = build::short_hash(&[&object.value.to_string()], 16);
        value["metadata"]["annotations"][APPLIED_ANNOTATION] = json!(hash);
        let current = live.get(object.kind, &object.name);
        if object.kind == Kind::StatefulSet
            && let Some(current) = current
        {
            let claims = |v: &Value| v["spec"]["volumeClaimTemplates"].as_array().map_or(0, Vec::len);
            if claims(current) != claims(&value) {
                // Persistence switched on or off: claim templates are immutable, so the
                // StatefulSet is recreated (next pass) rather than updated.
                dynamic_api(&ctx.client, ns, object.kind)
                    .delete(&object.name, &DeleteParams::background())
                    .await?;
                info!(name = %object.name, "deleted StatefulSet to change its volume claims");
                continue;
            }
            // Claim templates are immutable: keep the live ones (a grown size is applied to
            // the PVCs themselves, see `grow_volumes`).
            value["spec"]["volumeClaimTemplates"] = live_claim_templates(current);
        }
        match current {
            // A Job's template is immutable, and its name already says what it runs.
            Some(_) if object.kind == Kind::Job => continue,
            // Drift (someone edited a field we set) fails the subset test and is re-applied.
            Some(current) if is_subset(&value, current) => continue,
            _ => {}
        }
        dynamic_api(&ctx.client, ns, object.kind)
            .patch(&object.name, &params, &Patch::Apply(&value))
            .await?;
        info!(kind = ?object.kind, name = %object.name, "applied");
    }
    let wanted: BTreeSet<(Kind, &str)> = desired.iter().map(|o| (o.kind, o.name.as_str())).collect();
    for (kind, name) in live.objects.keys() {
        if !wanted.contains(&(*kind, name.as_str())) {
            dynamic_api(&ctx.client, ns, *kind)
                .delete(name, &DeleteParams::background())
                .await?;
            info!(kind = ?kind, name = %name, "deleted orphan");
        }
    }
    Ok(())
}

/// The live claim templates of a StatefulSet, without their server-written status.
fn live_claim_templates(sts: &Value) -> Value {
    let mut claims = sts["spec"]["volumeClaimTemplates"].clone();
    if let Value::Array(items) = &mut claims {
        for item in items {
            if let Value::Object(map) = item {
                map.remove("status");
            }
        }
    }
    claims
}

/// Bytes of a Kubernetes quantity (`1Gi`, `500M`, `1073741824`); `None` when unparsable.
pub fn quantity_bytes(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let factor = match suffix {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "Ki" => 1024.0,
        "Mi" => 1024.0_f64.powi(2),
        "Gi" => 1024.0_f64.powi(3),
        "Ti" => 1024.0_f64.powi(4),
        "Pi" => 1024.0_f64.powi(5),
        _ => return None,
    };
    number.parse::<f64>().ok().map(|n| n * factor)
}

/// Grows the PVCs of the managed StatefulSets to the size the spec asks for. Only when the
/// spec differs from the StatefulSet's (immutable) claim template is a PVC read at all.
async fn grow_volumes(ctx: &Context, shop: &Shop, ns: &str, live: &Live) -> Result<()> {
    let spec = &shop.spec;
    let name = shop.name_any();
    let mut wanted = Vec::new();
    if spec.postgres.external.is_none() {
        wanted.push((format!("{name}-postgres"), spec.postgres.storage.clone()));
    }
    if spec.redis.external.is_none() && spec.redis.persistence.unwrap_or(false) {
        wanted.push((format!("{name}-redis"), spec.redis.storage.clone()));
    }
    let pvcs: Api<k8s_openapi::api::core::v1::PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), ns);
    for (sts, storage) in wanted {
        let storage = storage.unwrap_or_else(|| "1Gi".to_owned());
        let Some(current) = live.get(Kind::StatefulSet, &sts) else {
            continue;
        };
        let template = current["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]
            .as_str()
            .unwrap_or_default();
        if template.is_empty() || template == storage {
            continue;
        }
        let Some(want) = quantity_bytes(&storage) else {
            continue;
        };
        for ordinal in 0..current["spec"]["replicas"].as_i64().unwrap_or(1) {
            let pvc_name = format!("data-{sts}-{ordinal}");
            let Some(pvc) = pvcs.get_opt(&pvc_name).await? else {
                continue;
            };
            let has = pvc
                .spec
                .as_ref()
                .and_then(|s| s.resources.as_ref())
                .and_then(|r| r.requests.as_ref())
                .and_then(|r| r.get("storage"))
                .and_then(|q| quantity_bytes(&q.0));
            if has.is_some_and(|has| has < want) {
                let patch = json!({"spec": {"resources": {"requests": {"storage": storage}}}});
                pvcs.patch(&pvc_name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await?;
                info!(pvc = %pvc_name, %storage, "growing volume");
            }
        }
    }
    Ok(())
}

/// Writes the status (server-side apply of the status subresource) when it changed.
async fn update_status(ctx: &Context, shop: &Shop, ns: &str, new: ShopStatus) -> Result<()> {
    if shop.status.as_ref() == Some(&new) {
        return Ok(());
    }
    let patch = json!({
        "apiVersion": Shop::api_version(&()),
        "kind": Shop::kind(&()),
        "status": new,
    });
    Api::<Shop>::namespaced(ctx.client.clone(), ns)
        .patch_status(
            &shop.name_any(),
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
    Ok(())
}

fn status_from(shop: &Shop, a: &Assessment, anything_exists: bool, paused: bool) -> ShopStatus {
    let previous = shop.status.as_ref();
    let conditions = status::conditions(
        previous.map(|s| s.conditions.as_slice()).unwrap_or_default(),
        &a.observed,
        shop.metadata.generation,
        Utc::now(),
    );
    let (phase, mut reason) = status::phase(&a.observed, previous, anything_exists);
    if paused {
        reason = format!("paused: nothing is applied ({reason})");
    }
    let ready = a
        .services
        .values()
        .filter(|s| s.ready >= s.desired && s.desired > 0)
        .count();
    let version = if a.rolled_out {
        Some(shop.spec.image.clone())
    } else {
        previous.and_then(|s| s.version.clone())
    };
    ShopStatus {
        observed_generation: shop.metadata.generation,
        phase,
        phase_reason: Some(reason),
        version,
        migrated_image: a.inputs.migrated_image.clone(),
        url: shop.spec.enabled(ServiceName::Gateway).then(|| shop.spec.url()),
        ready_services: Some(format!("{ready}/{}", a.services.len())),
        conditions,
        services: a.services.clone(),
    }
}

/// Reconciles one Shop.
pub async fn reconcile(shop: Arc<Shop>, ctx: Arc<Context>) -> Result<Action> {
    let _timer = ctx.metrics.reconcile();
    let ns = shop
        .namespace()
        .ok_or_else(|| Error::InvalidSpec("the Shop has no namespace".to_owned()))?;
    if shop.metadata.deletion_timestamp.is_some() {
        // Owner references let the garbage collector remove every child.
        return Ok(Action::await_change());
    }
    if let Err(Error::InvalidSpec(why)) = build::validate(&shop) {
        let mut failed = shop.status.clone().unwrap_or_default();
        failed.phase = Phase::Failed;
        failed.phase_reason = Some(why);
        failed.observed_generation = shop.metadata.generation;
        update_status(&ctx, &shop, &ns, failed).await?;
        return Ok(Action::await_change());
    }

    let live = observe(&ctx, &ns, &shop.name_any()).await?;
    let anything_exists = !live.objects.is_empty() || !live.secrets.is_empty();
    let assessment = assess(&shop, &live, ctx.prometheus_operator)?;

    if !shop.spec.paused {
        create_secrets(&shop, &ctx, &ns, &live).await?;
        let desired = build::build(&shop, &assessment.inputs)?;
        apply(&ctx, &ns, &desired, &live).await?;
        grow_volumes(&ctx, &shop, &ns, &live).await?;
    }

    let new = status_from(&shop, &assessment, anything_exists, shop.spec.paused);
    let was_failed = shop
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == status::MIGRATED))
        .is_some_and(|c| c.reason == status::MIGRATION_FAILED);
    if let Migrations::Failed(why) = &assessment.migrations
        && !was_failed
    {
        warn!(shop = %shop.name_any(), "{why}");
        ctx.recorder
            .publish(
                &Event {
                    type_: EventType::Warning,
                    reason: status::MIGRATION_FAILED.to_owned(),
                    note: Some(why.clone()),
                    action: "Migrate".to_owned(),
                    secondary: None,
                },
                &shop.object_ref(&()),
            )
            .await?;
    }
    let settled = matches!(new.phase, Phase::Ready | Phase::Failed)
        || matches!(assessment.migrations, Migrations::Failed(_))
        || shop.spec.paused;
    update_status(&ctx, &shop, &ns, new).await?;
    Ok(Action::requeue(if settled { LONG_REQUEUE } else { SHORT_REQUEUE }))
}

/// Retries a failed reconcile after a pause, counting the failure.
pub fn error_policy(shop: Arc<Shop>, error: &Error, ctx: Arc<Context>) -> Action {
    warn!(shop = %shop.name_any(), error = %error, "reconcile failed");
    ctx.metrics.failure(error);
    Action::requeue(Duration::from_secs(15))
}
