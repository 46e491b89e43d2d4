//! The services: Deployments, Services, HPAs, PodDisruptionBudgets, and the Ingress.

use serde_json::{Value, json};

use super::jobs::{database_url, redis_url};
use super::{
    Ctx, Kind, Object, SERVICE_UID, SHUTDOWN_DELAY_SECS, Stage, TERMINATION_GRACE_SECS, container_security, env,
    pod_security, resources, secret_env,
};
use crate::Result;
use crate::crd::{SERVICES, ServiceName};

pub const API_PORT: i32 = 8080;
pub const ADMIN_PORT: i32 = 9090;
/// Where auth's private keys are mounted.
pub const SIGNING_KEYS_DIR: &str = "/etc/shopkeeper/jwt-signing";
/// Where the other services' public keys are mounted.
pub const PUBLIC_KEYS_DIR: &str = "/etc/shopkeeper/jwt-public";
/// Where auth's clients file is mounted.
pub const CLIENTS_DIR: &str = "/etc/shopkeeper/service-clients";
/// The audience of every token.
pub const AUDIENCE: &str = "shopkeeper";
/// Default replicas of a service without autoscaling.
pub const DEFAULT_REPLICAS: i32 = 2;

/// `http://<shop>-<service>:8080`.
pub(crate) fn service_url(ctx: &Ctx, service: ServiceName) -> String {
    format!("http://{}:{API_PORT}", ctx.child(service.as_str()))
}

/// The environment of a service, exactly the configuration contract (docs/configuration.md).
fn environment(ctx: &Ctx, service: ServiceName) -> Vec<Value> {
    let spec = &ctx.shop.spec;
    let mut vars = vec![
        env("LISTEN_ADDR", format!("0.0.0.0:{API_PORT}")),
        env("ADMIN_ADDR", format!("0.0.0.0:{ADMIN_PORT}")),
        env("LOG_FORMAT", "json"),
        env(
            "RUST_LOG",
            spec.services.get(service).log.unwrap_or_else(|| "info".to_owned()),
        ),
        env("SHUTDOWN_DELAY_SECS", SHUTDOWN_DELAY_SECS.to_string()),
        env("JWT_ISSUER", format!("http://{}", ctx.child("auth"))),
        env("JWT_AUDIENCE", AUDIENCE),
    ];
    for peer in [
        ServiceName::Auth,
        ServiceName::Catalog,
        ServiceName::Cart,
        ServiceName::Order,
    ] {
        if peer != service {
            vars.push(env(
                &format!("{}_URL", peer.as_str().to_uppercase()),
                service_url(ctx, peer),
            ));
        }
    }
    if service.owns_database() {
        vars.push(database_url(ctx, service));
    }
    if service.uses_redis() {
        vars.push(redis_url(ctx));
    }
    if service == ServiceName::Auth {
        vars.push(env("JWT_SIGNING_KEYS_DIR", SIGNING_KEYS_DIR));
        vars.push(env("SERVICE_CLIENTS_FILE", format!("{CLIENTS_DIR}/clients")));
        vars.push(env("ADMIN_EMAIL", spec.admin_email()));
        vars.push(secret_env("ADMIN_PASSWORD", &ctx.child("admin"), "password"));
        // Shoppers reach auth through the Ingress controller and the gateway.
        vars.push(env("TRUSTED_PROXY_HOPS", "2"));
        // A fixed glibc mmap threshold returns the 19 MiB argon2 buffers to the OS when the
        // hashing workers go idle (the adaptive one keeps them in the heap).
        vars.push(env("MALLOC_MMAP_THRESHOLD_", "131072"));
    } else {
        vars.push(env("JWT_PUBLIC_KEYS_DIR", PUBLIC_KEYS_DIR));
    }
    if service.is_service_client() {
        vars.push(env("SERVICE_CLIENT_ID", service.as_str()));
        vars.push(secret_env(
            "SERVICE_CLIENT_SECRET",
            &ctx.child("service-clients"),
            service.as_str(),
        ));
    }
    if service == ServiceName::Gateway {
        vars.push(env("CURRENCY", spec.currency.clone()));
    }
    vars
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
    service: ServiceName,
    image: &str,
    secret_hashes: &std::collections::BTreeMap<String, String>,
) -> Result<Object> {
    let spec = ctx.shop.spec.services.get(service);
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
    if spec.autoscaling_for(service).is_none() {
        body["spec"]["replicas"] = json!(spec.replicas.unwrap_or(DEFAULT_REPLICAS));
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
    for service in SERVICES.into_iter().filter(|s| ctx.shop.spec.enabled(*s)) {
        let app = service.as_str();
        let spec = ctx.shop.spec.services.get(service);
        objects.push(deployment(ctx, service, image, secret_hashes)?);
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
        if let Some(a) = &spec.autoscaling_for(service) {
            objects.push(ctx.object(
                Stage::Workloads,
                Kind::HorizontalPodAutoscaler,
                ctx.child(app),
                app,
                "service",
                json!({"spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": ctx.child(app)},
                    "minReplicas": a.min_replicas.unwrap_or(DEFAULT_REPLICAS),
                    "maxReplicas": a.max_replicas,
                    "metrics": [{"type": "Resource", "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": a.target_cpu.unwrap_or(70)},
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
    let spec = &ctx.shop.spec;
    if !spec.enabled(ServiceName::Gateway) {
        return Vec::new();
    }
    let ingress = spec.ingress.clone().unwrap_or_default();
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
