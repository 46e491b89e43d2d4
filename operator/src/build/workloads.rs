//! The services: Deployments, Services, HPAs, PodDisruptionBudgets, and the Ingress.

use serde_json::{Value, json};
use shop_contract::{Placement, Value as EnvValue};

use super::{
    Ctx, Kind, Object, Postgres, Redis, SERVICE_UID, SHUTDOWN_DELAY_SECS, Scale, Service, Stage,
    TERMINATION_GRACE_SECS, container_security, env, pod_security, resources, secret_env,
};
use crate::Result;
use crate::crd::ServiceName;

pub const API_PORT: i32 = 8080;
pub const ADMIN_PORT: i32 = 9090;
/// Where auth's private keys are mounted.
pub const SIGNING_KEYS_DIR: &str = "/etc/shopkeeper/jwt-signing";
/// Where the other services' public keys are mounted.
pub const PUBLIC_KEYS_DIR: &str = "/etc/shopkeeper/jwt-public";
/// Where auth's clients file is mounted.
pub const CLIENTS_DIR: &str = "/etc/shopkeeper/service-clients";

/// `http://<shop>-<service>:8080`.
pub(crate) fn service_url(ctx: &Ctx, service: ServiceName) -> String {
    format!("http://{}:{API_PORT}", ctx.child(service.as_str()))
}

/// Where the gateway's image proxy caches (an `emptyDir` of its own).
pub const IMAGE_CACHE_DIR: &str = "/var/cache/shop-gateway/images";
/// Proxies in front of auth (the Ingress controller, then the gateway) and of the gateway.
const AUTH_PROXY_HOPS: u32 = 2;
const GATEWAY_PROXY_HOPS: u32 = 1;

/// A Shop in its namespace: the operator's answers to the contract's questions.
struct InCluster<'a> {
    ctx: &'a Ctx<'a>,
}

impl Placement for InCluster<'_> {
    fn listen_addr(&self, _: ServiceName) -> String {
        format!("0.0.0.0:{API_PORT}")
    }
    fn admin_addr(&self, _: ServiceName) -> String {
        format!("0.0.0.0:{ADMIN_PORT}")
    }
    fn log_format(&self) -> String {
        "json".to_owned()
    }
    fn log_filter(&self, service: ServiceName) -> String {
        self.ctx
            .spec
            .service(service)
            .map_or_else(|| "info".to_owned(), |s| s.log.clone())
    }
    fn url(&self, service: ServiceName) -> String {
        service_url(self.ctx, service)
    }
    fn jwt_issuer(&self) -> String {
        format!("http://{}", self.ctx.child(ServiceName::Auth.as_str()))
    }
    fn database_url(&self, service: ServiceName) -> EnvValue {
        match &self.ctx.spec.postgres {
            Postgres::External(external) => {
                let (name, key) = external.url_of(service);
                EnvValue::secret(name, key)
            }
            _ => EnvValue::secret(self.ctx.db_secret(service), "url"),
        }
    }
    fn redis_url(&self) -> EnvValue {
        match &self.ctx.spec.redis {
            Redis::External { secret } => EnvValue::secret(secret, "url"),
            Redis::Managed { .. } => EnvValue::secret(self.ctx.child("redis"), "url"),
        }
    }
    fn signing_keys_dir(&self) -> String {
        SIGNING_KEYS_DIR.to_owned()
    }
    fn public_keys_dir(&self) -> String {
        PUBLIC_KEYS_DIR.to_owned()
    }
    fn clients_file(&self) -> String {
        format!("{CLIENTS_DIR}/clients")
    }
    fn admin_email(&self) -> String {
        self.ctx.spec.admin_email.clone()
    }
    fn admin_password(&self) -> EnvValue {
        EnvValue::secret(self.ctx.child("admin"), "password")
    }
    fn client_secret(&self, service: ServiceName) -> Option<EnvValue> {
        Some(EnvValue::secret(self.ctx.child("service-clients"), service.as_str()))
    }
    fn shutdown_delay_secs(&self) -> u32 {
        u32::try_from(SHUTDOWN_DELAY_SECS).unwrap_or(5)
    }
    fn trusted_proxy_hops(&self, service: ServiceName) -> u32 {
        // Shoppers reach auth through the Ingress controller and the gateway.
        if service == ServiceName::Auth {
            AUTH_PROXY_HOPS
        } else {
            GATEWAY_PROXY_HOPS
        }
    }
    fn currency(&self) -> String {
        self.ctx.spec.currency.clone()
    }
    fn public_url(&self) -> String {
        self.ctx.spec.url.clone()
    }
    fn secure_cookies(&self) -> bool {
        // Browsers drop `Secure` cookies over plain http (a dev cluster without TLS).
        self.ctx.spec.url.starts_with("https://")
    }
    fn session_secret(&self) -> EnvValue {
        EnvValue::secret(self.ctx.child("gateway"), "session-secret")
    }
    fn image_proxy(&self) -> bool {
        true
    }
    fn image_cache_dir(&self) -> String {
        IMAGE_CACHE_DIR.to_owned()
    }
    fn image_allowed_hosts(&self) -> String {
        String::new()
    }
}

/// The environment of a service: exactly what `shop-contract` says it reads.
fn environment(ctx: &Ctx, service: ServiceName) -> Vec<Value> {
    shop_contract::environment(service, &InCluster { ctx })
        .into_iter()
        .map(|var| match var.value {
            EnvValue::Plain(value) => env(var.name, value),
            EnvValue::Secret { name, key } => secret_env(var.name, &name, &key),
        })
        .collect()
}

fn http_probe(path: &str, period: i32, failures: i32) -> Value {
    json!({
        "httpGet": {"path": path, "port": "admin", "scheme": "HTTP"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    })
}

fn deployment(
    ctx: &Ctx,
    spec: &Service,
    image: &str,
    secret_hashes: &std::collections::BTreeMap<String, String>,
) -> Result<Object> {
    let service = spec.name;
    let app = service.as_str();
    let keys = if service == ServiceName::Auth {
        (ctx.child("jwt-signing"), SIGNING_KEYS_DIR)
    } else {
        (ctx.child("jwt-public"), PUBLIC_KEYS_DIR)
    };
    let mut mounts = vec![
        json!({"name": "tmp", "mountPath": "/tmp"}),
        json!({"name": "jwt-keys", "mountPath": keys.1, "readOnly": true}),
    ];
    let mut volumes = vec![
        json!({"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}),
        json!({"name": "jwt-keys", "secret": {"secretName": keys.0, "defaultMode": 0o440}}),
    ];
    if service == ServiceName::Gateway {
        // The image proxy's disk cache: its own volume, bounded, so it never fills /tmp.
        mounts.push(json!({"name": "image-cache", "mountPath": IMAGE_CACHE_DIR}));
        volumes.push(json!({"name": "image-cache", "emptyDir": {"sizeLimit": "512Mi"}}));
    }
    if service == ServiceName::Auth {
        mounts.push(json!({"name": "service-clients", "mountPath": CLIENTS_DIR, "readOnly": true}));
        volumes.push(json!({"name": "service-clients", "secret": {
            "secretName": ctx.child("service-clients"),
            "defaultMode": 0o440,
            "items": [{"key": "clients", "path": "clients"}],
        }}));
    }
    let container = json!({
        "name": app,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": [service.binary()],
        "args": ["serve"],
        "ports": [
            {"name": "http", "containerPort": API_PORT, "protocol": "TCP"},
            {"name": "admin", "containerPort": ADMIN_PORT, "protocol": "TCP"},
        ],
        "env": environment(ctx, service),
        "resources": resources(spec.resources.as_ref(), "50m", "64Mi", "256Mi")?,
        "securityContext": container_security(),
        "startupProbe": http_probe("/health", 2, 30),
        "livenessProbe": http_probe("/health", 10, 3),
        "readinessProbe": http_probe("/ready", 5, 2),
        "volumeMounts": mounts,
    });
    let mut body = json!({"spec": {
        "revisionHistoryLimit": 5,
        "selector": {"matchLabels": ctx.selector(app)},
        // Never below capacity: a new pod must be ready before an old one goes.
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "template": {
            "metadata": {"labels": ctx.labels(app, "service")},
            "spec": {
                "automountServiceAccountToken": false,
                "enableServiceLinks": false,
                "terminationGracePeriodSeconds": TERMINATION_GRACE_SECS,
                "securityContext": pod_security(SERVICE_UID),
                "topologySpreadConstraints": [{
                    "maxSkew": 1,
                    "topologyKey": "kubernetes.io/hostname",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": ctx.selector(app)},
                }],
                "containers": [container],
                "volumes": volumes,
            },
        },
    }});
    // With autoscaling the HPA owns `replicas`; leaving it out keeps the two from fighting.
    if let Scale::Fixed(replicas) = spec.scale {
        body["spec"]["replicas"] = json!(replicas);
    }
    let mut object = ctx.object(Stage::Workloads, Kind::Deployment, ctx.child(app), app, "service", body);
    super::annotate_secrets(&mut object, secret_hashes);
    Ok(object)
}

/// Deployment, Service, HPA and PDB of every enabled service, running `image`.
pub fn services(
    ctx: &Ctx,
    image: &str,
    secret_hashes: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<Object>> {
    let mut objects = Vec::new();
    for spec in &ctx.spec.services {
        let app = spec.name.as_str();
        objects.push(deployment(ctx, spec, image, secret_hashes)?);
        objects.push(ctx.object(
            Stage::Workloads,
            Kind::Service,
            ctx.child(app),
            app,
            "service",
            json!({"spec": {
                "type": "ClusterIP",
                "selector": ctx.selector(app),
                "ports": [
                    {"name": "http", "port": API_PORT, "targetPort": "http", "protocol": "TCP"},
                    {"name": "admin", "port": ADMIN_PORT, "targetPort": "admin", "protocol": "TCP"},
                ],
            }}),
        ));
        if let Scale::Auto { min, max, target_cpu } = spec.scale {
            objects.push(ctx.object(
                Stage::Workloads,
                Kind::HorizontalPodAutoscaler,
                ctx.child(app),
                app,
                "service",
                json!({"spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": ctx.child(app)},
                    "minReplicas": min,
                    "maxReplicas": max,
                    "metrics": [{"type": "Resource", "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": target_cpu},
                    }}],
                }}),
            ));
        }
        objects.push(ctx.object(
            Stage::Workloads,
            Kind::PodDisruptionBudget,
            ctx.child(app),
            app,
            "service",
            json!({"spec": {"maxUnavailable": 1, "selector": {"matchLabels": ctx.selector(app)}}}),
        ));
    }
    Ok(objects)
}

/// The Ingress to the gateway (none when the gateway is off).
pub fn ingress(ctx: &Ctx) -> Vec<Object> {
    let spec = ctx.spec;
    if !spec.enabled(ServiceName::Gateway) {
        return Vec::new();
    }
    let ingress = &spec.ingress;
    let mut body = json!({"spec": {"rules": [{
        "host": spec.host,
        "http": {"paths": [{
            "path": "/",
            "pathType": "Prefix",
            "backend": {"service": {"name": ctx.child("gateway"), "port": {"name": "http"}}},
        }]},
    }]}});
    if let Some(class) = &ingress.class_name {
        body["spec"]["ingressClassName"] = json!(class);
    }
    if let Some(tls) = &ingress.tls {
        body["spec"]["tls"] = json!([{"hosts": [spec.host], "secretName": tls.secret_name}]);
    }
    let mut object = ctx.object(
        Stage::Workloads,
        Kind::Ingress,
        ctx.name.clone(),
        "gateway",
        "ingress",
        body,
    );
    if !ingress.annotations.is_empty() {
        object.value["metadata"]["annotations"] = json!(ingress.annotations);
    }
    vec![object]
}
