//! The reconciler: `reconcile(Arc<Shop>, Arc<Context>) -> Result<Action>` and `error_policy`.
//!
//! Each pass is a pipeline: validate (the spec resolved with its defaults, which every later step
//! reads) → observe (one LIST per owned kind, by the Shop's label) → assess → create missing
//! Secrets → build the desired objects for the stage reached (once) → apply what differs
//! (server-side apply, one field manager) → delete orphans by label → update the status.
//! An unchanged Shop costs only reads: objects whose desired fields already hold are not
//! re-applied, and the status is written only when it changed.
//!
//! No finalizer: every child carries an owner reference to its Shop, so the garbage collector
//! removes them when the Shop goes, and nothing lives outside the cluster to clean up.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Client, Resource, ResourceExt};
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::assess::{self, Assessment, Live, StepFailure};
use crate::build::{self, Kind, Postgres, Resolved, SHOP_LABEL};
use crate::crd::{Phase, Shop, ShopStatus};
use crate::metrics::Metrics;
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
    /// Whether CloudNativePG's CRDs are installed (checked at start).
    pub cloudnative_pg: bool,
    /// Consecutive failed reconciles per Shop (`namespace/name`), for the backoff.
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    pub fn new(client: Client, recorder: Recorder, metrics: Arc<Metrics>, prometheus_operator: bool) -> Self {
        Self {
            client,
            recorder,
            metrics,
            prometheus_operator,
            cloudnative_pg: false,
            failures: Mutex::default(),
        }
    }

    /// With CloudNativePG installed (or not).
    #[must_use]
    pub fn with_cloudnative_pg(mut self, installed: bool) -> Self {
        self.cloudnative_pg = installed;
        self
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn key(shop: &Shop) -> String {
        format!("{}/{}", shop.namespace().unwrap_or_default(), shop.name_any())
    }

    /// Counts a failed reconcile of `shop`; the number of failures in a row.
    pub fn count_failure(&self, shop: &Shop) -> u32 {
        let mut failures = self.failures();
        let count = failures.entry(Self::key(shop)).or_default();
        *count = count.saturating_add(1);
        let ns = shop.namespace().unwrap_or_default();
        self.metrics.shop_failures(&ns, &shop.name_any(), *count);
        *count
    }

    /// Failed reconciles of `shop` in a row.
    pub fn failures_of(&self, shop: &Shop) -> u32 {
        self.failures().get(&Self::key(shop)).copied().unwrap_or(0)
    }

    fn forget_failures(&self, shop: &Shop) {
        self.failures().remove(&Self::key(shop));
        let ns = shop.namespace().unwrap_or_default();
        self.metrics.shop_failures(&ns, &shop.name_any(), 0);
        self.metrics.shop_succeeded(&ns, &shop.name_any());
    }
}

/// Requeue while something is on its way (databases starting, migrations running).
pub const SHORT_REQUEUE: Duration = Duration::from_secs(10);
/// Requeue of a settled Shop, so drift is corrected even without a watch event.
pub const LONG_REQUEUE: Duration = Duration::from_secs(300);

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
        .filter(|k| ctx.cloudnative_pg || !k.is_cnpg())
}

/// One LIST per kind, and a GET per external Secret the Shop names. Of Secrets only a hash
/// of their content is kept (to roll the pods that use one when it changes).
async fn observe(ctx: &Context, spec: &Resolved, ns: &str) -> Result<Live> {
    let mut live = Live::default();
    let lp = selector(&spec.name);
    let secrets = dynamic_api(&ctx.client, ns, Kind::Secret);
    let clients = spec.child("service-clients");
    for secret in secrets.list(&lp).await?.items {
        let value = serde_json::to_value(&secret)?;
        let hash = crate::secrets::content_hash(&value);
        if secret.name_any() == clients {
            live.service_clients = Some(crate::secrets::decoded_data(&value));
        }
        live.secrets.insert(secret.name_any(), hash);
    }
    let superuser = spec.child("postgres");
    if let Postgres::Single { .. } = spec.postgres
        && !live.secrets.contains_key(&superuser)
    {
        // Only while the Secret is missing (a new Shop, or one recreated over kept data).
        let pvc = format!("data-{superuser}-0");
        let pvcs: Api<k8s_openapi::api::core::v1::PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), ns);
        if pvcs.get_opt(&pvc).await?.is_some() {
            live.orphaned_volume = Some(pvc);
        }
    }
    let mut external = match &spec.postgres {
        Postgres::External(e) => e.secrets(),
        _ => Vec::new(),
    };
    if let build::Redis::External { secret } = &spec.redis {
        external.push(secret.clone());
    }
    for name in &external {
        if let Some(secret) = secrets.get_opt(name).await? {
            let hash = crate::secrets::content_hash(&serde_json::to_value(&secret)?);
            live.secrets.insert(name.clone(), hash);
        }
    }
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

/// Creates the Secrets that do not exist yet. Existing ones are never touched. The content
/// hash of each one created, by name.
async fn create_secrets(spec: &Resolved, ctx: &Context, ns: &str, live: &Live) -> Result<Vec<(String, String)>> {
    let missing: Vec<String> = crate::secrets::wanted(spec)
        .into_iter()
        .filter(|name| !live.secrets.contains_key(name))
        .collect();
    let mut created = Vec::new();
    if missing.is_empty() {
        return Ok(created);
    }
    let secrets = crate::secrets::generate(spec, &missing, Utc::now(), &mut rand::rngs::OsRng)?;
    let api = dynamic_api(&ctx.client, ns, Kind::Secret);
    for secret in &secrets {
        let object: DynamicObject = serde_json::from_value(secret.value.clone())?;
        match api.create(&PostParams::default(), &object).await {
            Ok(_) => {
                info!(secret = %secret.name, "created Secret");
                created.push((secret.name.clone(), crate::secrets::content_hash(&secret.value)));
            }
            // Made by a previous pass whose LIST did not see it yet: keep it as it is.
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(created)
}

/// Brings an existing service-clients Secret's `clients` file up to the contract's format
/// (each line with the scopes its client is granted), from the per-caller secrets the same
/// Secret holds: a Shop made before service tokens had scopes would otherwise keep a file
/// whose tokens every internal route refuses. Only the `clients` key is rewritten, never a
/// secret; a Secret without every per-caller key (made by hand) is left alone. The new content
/// hash, when it changed, so the pods that read it roll in this pass.
async fn upgrade_clients_file(
    spec: &Resolved,
    ctx: &Context,
    ns: &str,
    live: &Live,
) -> Result<Option<(String, String)>> {
    use base64::Engine as _;
    let Some(data) = &live.service_clients else {
        return Ok(None);
    };
    let Some(wanted) = crate::secrets::current_clients_file(data) else {
        return Ok(None);
    };
    let name = spec.child("service-clients");
    let patched = dynamic_api(&ctx.client, ns, Kind::Secret)
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"clients": base64::engine::general_purpose::STANDARD.encode(wanted)}})),
        )
        .await?;
    info!(secret = %name, "rewrote the service clients file with the scopes each client is granted");
    Ok(Some((
        name,
        crate::secrets::content_hash(&serde_json::to_value(&patched)?),
    )))
}

/// Applies every desired object that differs from its live version; deletes orphans.
async fn apply(ctx: &Context, ns: &str, desired: &[build::Object], live: &Live) -> Result<()> {
    let params = PatchParams::apply(MANAGER).force();
    for object in desired {
        if (object.kind.is_prometheus() && !ctx.prometheus_operator) || (object.kind.is_cnpg() && !ctx.cloudnative_pg) {
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
        if object.kind == Kind::Deployment
            && let Some(current) = current
            && value["spec"].get("replicas").is_none()
            && owns_replicas(current)
        {
            // An HPA takes over: hand `spec.replicas` to another field manager first, or
            // dropping it from our apply would remove it and the Deployment would fall to 1.
            let handover = json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": object.name},
                "spec": {"replicas": current["spec"]["replicas"]},
            });
            dynamic_api(&ctx.client, ns, object.kind)
                .patch(
                    &object.name,
                    &PatchParams::apply(HANDOVER_MANAGER).force(),
                    &Patch::Apply(&handover),
                )
                .await?;
            info!(name = %object.name, "handed spec.replicas over to the HPA");
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
        if *kind == Kind::PersistentVolumeClaim {
            // Backups are data: a volume no longer wanted is kept for a person to delete.
            continue;
        }
        if !wanted.contains(&(*kind, name.as_str())) {
            dynamic_api(&ctx.client, ns, *kind)
                .delete(name, &DeleteParams::background())
                .await?;
            info!(kind = ?kind, name = %name, "deleted orphan");
        }
    }
    Ok(())
}

/// The field manager that keeps `spec.replicas` when an HPA takes a Deployment over.
pub const HANDOVER_MANAGER: &str = "shop-operator-hpa-handover";

/// Whether our apply owns the live Deployment's `spec.replicas`.
fn owns_replicas(deployment: &Value) -> bool {
    deployment["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|f| {
            f["manager"] == MANAGER && f["operation"] == "Apply" && !f["fieldsV1"]["f:spec"]["f:replicas"].is_null()
        })
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

/// Grows the PVCs of the managed StatefulSets to the size the spec asks for. Only when the
/// spec differs from the StatefulSet's (immutable) claim template is a PVC read at all.
async fn grow_volumes(ctx: &Context, spec: &Resolved, ns: &str, live: &Live) -> Result<()> {
    let pvcs: Api<k8s_openapi::api::core::v1::PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), ns);
    // CloudNativePG grows its own volumes when its storage size grows.
    for (sts, storage) in spec.volumes() {
        let Some(current) = live.get(Kind::StatefulSet, &sts) else {
            continue;
        };
        let template = current["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]
            .as_str()
            .unwrap_or_default();
        let bytes = crate::quantity::bytes;
        if template.is_empty() || bytes(template) == bytes(&storage) {
            continue;
        }
        let Some(want) = crate::quantity::bytes(&storage) else {
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
                .and_then(|q| crate::quantity::bytes(&q.0));
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
    // Recorded on every pass, written or not, so the metric follows the status.
    ctx.metrics.shop_phase(ns, &shop.name_any(), new.phase);
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

/// Creates Secrets, applies, grows volumes: the steps that write. The first failure stops
/// the pass; it is recorded in the status before the error reaches the backoff.
async fn write(
    spec: &Resolved,
    ctx: &Context,
    ns: &str,
    live: &Live,
    a: &Assessment,
) -> Result<(), (StepFailure, Error)> {
    let fail = |reason: &'static str| {
        move |err: Error| {
            (
                StepFailure {
                    reason,
                    message: err.to_string(),
                },
                err,
            )
        }
    };
    let created = create_secrets(spec, ctx, ns, live)
        .await
        .map_err(fail("SecretsFailed"))?;
    let upgraded = upgrade_clients_file(spec, ctx, ns, live)
        .await
        .map_err(fail("SecretsFailed"))?;
    let mut inputs = a.inputs.clone();
    inputs.secret_hashes.extend(created);
    inputs.secret_hashes.extend(upgraded);
    let desired = build::build(spec, &inputs).map_err(fail("BuildFailed"))?;
    apply(ctx, ns, &desired, live).await.map_err(fail("ApplyFailed"))?;
    grow_volumes(ctx, spec, ns, live)
        .await
        .map_err(fail("VolumeGrowFailed"))?;
    Ok(())
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
    let spec = match build::validate(&shop) {
        Ok(spec) => spec,
        Err(Error::InvalidSpec(why)) => {
            let mut failed = shop.status.clone().unwrap_or_default();
            failed.phase = Phase::Failed;
            failed.phase_reason = Some(why);
            failed.observed_generation = shop.metadata.generation;
            update_status(&ctx, &shop, &ns, failed).await?;
            ctx.forget_failures(&shop);
            return Ok(Action::await_change());
        }
        Err(err) => return Err(err),
    };

    let live = observe(&ctx, &spec, &ns).await?;
    let anything_exists = !live.objects.is_empty() || !live.secrets.is_empty();
    let assessment = assess::assess(&shop, &spec, &live, ctx.prometheus_operator, ctx.cloudnative_pg);
    let blocked = assessment.refusal.as_ref().is_some_and(|r| r.blocks_writes);
    let failed = if spec.paused || blocked {
        None
    } else {
        write(&spec, &ctx, &ns, &live, &assessment).await.err()
    };
    let new = assess::status_of(
        &shop,
        &assessment,
        failed.as_ref().map(|(f, _)| f),
        anything_exists,
        Utc::now(),
    );
    if let Some((reason, note)) = assess::degraded_event(shop.status.as_ref(), &new) {
        warn!(shop = %shop.name_any(), %reason, "{note}");
        let event = Event {
            type_: EventType::Warning,
            reason,
            note: Some(note),
            action: "Reconcile".to_owned(),
            secondary: None,
        };
        // An Event is for people; failing to publish one must not hide the status.
        if let Err(err) = ctx.recorder.publish(&event, &shop.object_ref(&())).await {
            warn!(error = %err, "publishing an Event");
        }
    }
    let settled = assess::settled(&new, shop.spec.paused);
    update_status(&ctx, &shop, &ns, new).await?;
    if let Some((_, err)) = failed {
        return Err(err);
    }
    ctx.forget_failures(&shop);
    Ok(Action::requeue(if settled { LONG_REQUEUE } else { SHORT_REQUEUE }))
}

/// Retries a failed reconcile with exponential backoff and jitter, counting the failure.
pub fn error_policy(shop: Arc<Shop>, error: &Error, ctx: Arc<Context>) -> Action {
    let attempt = ctx.count_failure(&shop);
    let delay = assess::backoff(attempt, rand::random::<f64>());
    warn!(shop = %shop.name_any(), error = %error, attempt, retry_in_ms = delay.as_millis() as u64, "reconcile failed");
    ctx.metrics.failure(error);
    Action::requeue(delay)
}
