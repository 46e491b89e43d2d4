//! The services: Deployments, Services, HPAs, PodDisruptionBudgets, and the Ingress, built as
//! typed `k8s-openapi` objects (a misspelled field does not compile).

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec, MetricTarget,
    ResourceMetricSource,
};
use k8s_openapi::api::core::v1::{
    self as k8s, Container, EnvVar, HTTPGetAction, KeyToPath, PodSpec, PodTemplateSpec, Probe, SecretVolumeSource,
    ServiceSpec, TopologySpreadConstraint, Volume,
};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule, IngressServiceBackend, IngressSpec,
    IngressTLS, ServiceBackendPort,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use shop_contract::{Placement, Traces, Value as EnvValue};

use super::{
    Ctx, Object, Postgres, Redis, SERVICE_UID, SHUTDOWN_DELAY_SECS, Scale, Service, Stage, TERMINATION_GRACE_SECS,
    container_port, container_security, empty_dir, env, mount, pod_security, resources, secret_env, service_port,
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
    fn traces(&self) -> Option<Traces> {
        self.ctx.spec.monitoring.traces.as_ref().map(|t| Traces {
            endpoint: t.endpoint.clone(),
            sample_ratio: t.sample_ratio,
        })
    }
}

/// The environment of a service: exactly what `shop-contract` says it reads.
fn environment(ctx: &Ctx, service: ServiceName) -> Vec<EnvVar> {
    shop_contract::environment(service, &InCluster { ctx })
        .into_iter()
        .map(|var| match var.value {
            EnvValue::Plain(value) => env(var.name, value),
            EnvValue::Secret { name, key } => secret_env(var.name, &name, &key),
        })
        .collect()
}

fn http_probe(path: &str, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String("admin".to_owned()),
            scheme: Some("HTTP".to_owned()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        timeout_seconds: Some(2),
        failure_threshold: Some(failures),
        ..Probe::default()
    }
}

/// A Secret volume readable by the service's group only.
fn secret_volume(name: &str, secret: String, items: Option<Vec<KeyToPath>>) -> Volume {
    Volume {
        name: name.to_owned(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret),
            default_mode: Some(0o440),
            items,
            ..SecretVolumeSource::default()
        }),
        ..Volume::default()
    }
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
    let mut mounts = vec![mount("tmp", "/tmp", false), mount("jwt-keys", keys.1, true)];
    let mut volumes = vec![empty_dir("tmp", Some("256Mi")), secret_volume("jwt-keys", keys.0, None)];
    if service == ServiceName::Gateway {
        // The image proxy's disk cache: its own volume, bounded, so it never fills /tmp.
        mounts.push(mount("image-cache", IMAGE_CACHE_DIR, false));
        volumes.push(empty_dir("image-cache", Some("512Mi")));
    }
    if service == ServiceName::Auth {
        mounts.push(mount("service-clients", CLIENTS_DIR, true));
        let clients = KeyToPath {
            key: "clients".to_owned(),
            path: "clients".to_owned(),
            ..KeyToPath::default()
        };
        volumes.push(secret_volume(
            "service-clients",
            ctx.child("service-clients"),
            Some(vec![clients]),
        ));
    }
    let container = Container {
        name: app.to_owned(),
        image: Some(image.to_owned()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        command: Some(vec![service.binary().to_owned()]),
        args: Some(vec!["serve".to_owned()]),
        ports: Some(vec![
            container_port("http", API_PORT),
            container_port("admin", ADMIN_PORT),
        ]),
        env: Some(environment(ctx, service)),
        resources: Some(resources(spec.resources.as_ref(), "50m", "64Mi", "256Mi")),
        security_context: Some(container_security()),
        startup_probe: Some(http_probe("/health", 2, 30)),
        liveness_probe: Some(http_probe("/health", 10, 3)),
        readiness_probe: Some(http_probe("/ready", 5, 2)),
        volume_mounts: Some(mounts),
        ..Container::default()
    };
    let deployment = Deployment {
        metadata: ctx.metadata(&ctx.child(app), app, "service"),
        spec: DeploymentSpec {
            // With autoscaling the HPA owns `replicas`; leaving it out keeps the two from fighting.
            replicas: match spec.scale {
                Scale::Fixed(replicas) => Some(replicas),
                Scale::Auto { .. } => None,
            },
            revision_history_limit: Some(5),
            selector: ctx.label_selector(app),
            // Never below capacity: a new pod must be ready before an old one goes.
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".to_owned()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_unavailable: Some(IntOrString::Int(0)),
                    max_surge: Some(IntOrString::Int(1)),
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(ctx.labels(app, "service")),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    termination_grace_period_seconds: Some(TERMINATION_GRACE_SECS),
                    security_context: Some(pod_security(SERVICE_UID)),
                    topology_spread_constraints: Some(vec![TopologySpreadConstraint {
                        max_skew: 1,
                        topology_key: "kubernetes.io/hostname".to_owned(),
                        when_unsatisfiable: "ScheduleAnyway".to_owned(),
                        label_selector: Some(ctx.label_selector(app)),
                        ..TopologySpreadConstraint::default()
                    }]),
                    containers: vec![container],
                    volumes: Some(volumes),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        },
        ..Deployment::default()
    };
    let mut object = ctx.typed(Stage::Workloads, &deployment)?;
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
        let name = ctx.child(app);
        let metadata = ctx.metadata(&name, app, "service");
        objects.push(deployment(ctx, spec, image, secret_hashes)?);
        let service = k8s::Service {
            metadata: metadata.clone(),
            spec: Some(ServiceSpec {
                type_: Some("ClusterIP".to_owned()),
                selector: Some(ctx.selector(app)),
                ports: Some(vec![service_port("http", API_PORT), service_port("admin", ADMIN_PORT)]),
                ..ServiceSpec::default()
            }),
            ..k8s::Service::default()
        };
        objects.push(ctx.typed(Stage::Workloads, &service)?);
        if let Scale::Auto { min, max, target_cpu } = spec.scale {
            let hpa = HorizontalPodAutoscaler {
                metadata: metadata.clone(),
                spec: HorizontalPodAutoscalerSpec {
                    scale_target_ref: CrossVersionObjectReference {
                        api_version: Some("apps/v1".to_owned()),
                        kind: "Deployment".to_owned(),
                        name: name.clone(),
                    },
                    min_replicas: Some(min),
                    max_replicas: max,
                    metrics: Some(vec![MetricSpec {
                        type_: "Resource".to_owned(),
                        resource: Some(ResourceMetricSource {
                            name: "cpu".to_owned(),
                            target: MetricTarget {
                                type_: "Utilization".to_owned(),
                                average_utilization: Some(target_cpu),
                                ..MetricTarget::default()
                            },
                        }),
                        ..MetricSpec::default()
                    }]),
                    ..HorizontalPodAutoscalerSpec::default()
                },
                ..HorizontalPodAutoscaler::default()
            };
            objects.push(ctx.typed(Stage::Workloads, &hpa)?);
        }
        let pdb = PodDisruptionBudget {
            metadata,
            spec: Some(PodDisruptionBudgetSpec {
                max_unavailable: Some(IntOrString::Int(1)),
                selector: Some(ctx.label_selector(app)),
                ..PodDisruptionBudgetSpec::default()
            }),
            ..PodDisruptionBudget::default()
        };
        objects.push(ctx.typed(Stage::Workloads, &pdb)?);
    }
    Ok(objects)
}

/// The Ingress to the gateway (none when the gateway is off).
pub fn ingress(ctx: &Ctx) -> Result<Vec<Object>> {
    let spec = ctx.spec;
    if !spec.enabled(ServiceName::Gateway) {
        return Ok(Vec::new());
    }
    let options = &spec.ingress;
    let mut metadata = ctx.metadata(&ctx.name, "gateway", "ingress");
    if !options.annotations.is_empty() {
        metadata.annotations = Some(options.annotations.clone());
    }
    let backend = IngressBackend {
        service: Some(IngressServiceBackend {
            name: ctx.child("gateway"),
            port: Some(ServiceBackendPort {
                name: Some("http".to_owned()),
                number: None,
            }),
        }),
        ..IngressBackend::default()
    };
    let ingress = Ingress {
        metadata,
        spec: Some(IngressSpec {
            ingress_class_name: options.class_name.clone(),
            rules: Some(vec![IngressRule {
                host: Some(spec.host.clone()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some("/".to_owned()),
                        path_type: "Prefix".to_owned(),
                        backend,
                    }],
                }),
            }]),
            tls: options.tls.as_ref().map(|tls| {
                vec![IngressTLS {
                    hosts: Some(vec![spec.host.clone()]),
                    secret_name: Some(tls.secret_name.clone()),
                }]
            }),
            ..IngressSpec::default()
        }),
        ..Ingress::default()
    };
    Ok(vec![ctx.typed(Stage::Workloads, &ingress)?])
}
