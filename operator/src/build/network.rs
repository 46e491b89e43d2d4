//! NetworkPolicies: default deny for the Shop's pods, then only the edges the design needs,
//! built as typed `k8s-openapi` objects.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::data::{POSTGRES_PORT, REDIS_PORT};
use super::workloads::{ADMIN_PORT, API_PORT};
use super::{Ctx, Object, Postgres, Redis, Stage};
use crate::Result;
use crate::crd::ServiceName;

fn port_of(protocol: &str, port: i32) -> NetworkPolicyPort {
    NetworkPolicyPort {
        protocol: Some(protocol.to_owned()),
        port: Some(IntOrString::Int(port)),
        ..NetworkPolicyPort::default()
    }
}

fn port(port: i32) -> NetworkPolicyPort {
    port_of("TCP", port)
}

fn selector(labels: BTreeMap<String, String>) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels),
        ..LabelSelector::default()
    }
}

fn pods(labels: BTreeMap<String, String>) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(selector(labels)),
        ..NetworkPolicyPeer::default()
    }
}

/// Pods labelled `key: value` in any namespace.
fn in_any_namespace(key: &str, value: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector::default()),
        pod_selector: Some(selector(BTreeMap::from([(key.to_owned(), value.to_owned())]))),
        ..NetworkPolicyPeer::default()
    }
}

/// Prometheus in any namespace (pods labelled `app.kubernetes.io/name: prometheus`).
fn prometheus() -> NetworkPolicyPeer {
    in_any_namespace("app.kubernetes.io/name", "prometheus")
}

/// Where Postgres answers: the single instance's pods, CloudNativePG's instances (by the label
/// it gives them; they are fenced by CloudNativePG, not by the Shop's policies), or anywhere.
fn postgres_peer(ctx: &Ctx) -> NetworkPolicyPeer {
    match ctx.spec.postgres {
        Postgres::Single { .. } => pods(ctx.selector("postgres")),
        Postgres::CloudNativePg { .. } => pods(BTreeMap::from([(
            "cnpg.io/cluster".to_owned(),
            super::data::cnpg_cluster_name(ctx),
        )])),
        Postgres::External(_) => anywhere(None),
    }
}

/// Anywhere (an external database, images for `/img`), but the `except`ed ranges.
fn anywhere(except: Option<Vec<String>>) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        ip_block: Some(IPBlock {
            cidr: "0.0.0.0/0".to_owned(),
            except,
        }),
        ..NetworkPolicyPeer::default()
    }
}

fn from(peers: Vec<NetworkPolicyPeer>, ports: Vec<NetworkPolicyPort>) -> NetworkPolicyIngressRule {
    NetworkPolicyIngressRule {
        from: Some(peers),
        ports: Some(ports),
    }
}

fn to(peers: Vec<NetworkPolicyPeer>, ports: Vec<NetworkPolicyPort>) -> NetworkPolicyEgressRule {
    NetworkPolicyEgressRule {
        to: Some(peers),
        ports: Some(ports),
    }
}

/// The rules that allow something: a rule whose peer list is empty would allow every peer
/// (the API server drops the empty list), so it is left out instead. A direction with no rule
/// left is written without the empty list, as the API server stores it.
fn allowing<R>(rules: Vec<R>, peers: impl Fn(&R) -> Option<&Vec<NetworkPolicyPeer>>) -> Option<Vec<R>> {
    let rules: Vec<R> = rules
        .into_iter()
        .filter(|rule| !peers(rule).is_some_and(Vec::is_empty))
        .collect();
    (!rules.is_empty()).then_some(rules)
}

/// A NetworkPolicy. `None` leaves a direction unfenced; a list of rules fences it (an empty
/// one: deny all).
fn policy(
    ctx: &Ctx,
    stage: Stage,
    name: String,
    app: &str,
    pod_selector: LabelSelector,
    ingress: Option<Vec<NetworkPolicyIngressRule>>,
    egress: Option<Vec<NetworkPolicyEgressRule>>,
) -> Result<Object> {
    let mut types = Vec::new();
    if ingress.is_some() {
        types.push("Ingress".to_owned());
    }
    if egress.is_some() {
        types.push("Egress".to_owned());
    }
    let policy = NetworkPolicy {
        metadata: ctx.metadata(&name, app, "network-policy"),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(pod_selector),
            ingress: ingress.and_then(|rules| allowing(rules, |r| r.from.as_ref())),
            egress: egress.and_then(|rules| allowing(rules, |r| r.to.as_ref())),
            policy_types: Some(types),
        }),
    };
    ctx.typed(stage, &policy)
}

/// Default deny (with DNS) for every pod of the Shop, and the data tier's own edges. Applied
/// with the data tier so no Shop pod ever runs unfenced.
pub fn data(ctx: &Ctx) -> Result<Vec<Object>> {
    let spec = ctx.spec;
    let dns = to(
        vec![in_any_namespace("k8s-app", "kube-dns")],
        vec![port_of("UDP", 53), port_of("TCP", 53)],
    );
    let mut objects = vec![policy(
        ctx,
        Stage::Data,
        ctx.child("default-deny"),
        "default-deny",
        selector(ctx.shop_pods()),
        Some(Vec::new()),
        Some(vec![dns]),
    )?];
    let postgres_peer = postgres_peer(ctx);
    if let Postgres::Single { backup, .. } = &spec.postgres {
        let mut peers: Vec<NetworkPolicyPeer> = spec
            .database_owners()
            .into_iter()
            .flat_map(|s| {
                [
                    pods(ctx.selector(s.as_str())),
                    pods(ctx.selector(&format!("migrate-{s}"))),
                ]
            })
            .collect();
        peers.push(pods(ctx.selector("db-bootstrap")));
        if backup.is_some() {
            peers.push(pods(ctx.selector("db-backup")));
            objects.push(policy(
                ctx,
                Stage::Data,
                ctx.child("db-backup"),
                "db-backup",
                ctx.label_selector("db-backup"),
                None,
                Some(vec![to(vec![postgres_peer.clone()], vec![port(POSTGRES_PORT)])]),
            )?);
        }
        objects.push(policy(
            ctx,
            Stage::Data,
            ctx.child("postgres"),
            "postgres",
            ctx.label_selector("postgres"),
            Some(vec![from(peers, vec![port(POSTGRES_PORT)])]),
            None,
        )?);
        objects.push(policy(
            ctx,
            Stage::Data,
            ctx.child("db-bootstrap"),
            "db-bootstrap",
            ctx.label_selector("db-bootstrap"),
            None,
            Some(vec![to(vec![postgres_peer.clone()], vec![port(POSTGRES_PORT)])]),
        )?);
    }
    if let Redis::Managed { .. } = spec.redis {
        let peers: Vec<NetworkPolicyPeer> = spec
            .enabled_services()
            .filter(|s| s.uses_redis())
            .map(|s| pods(ctx.selector(s.as_str())))
            .collect();
        objects.push(policy(
            ctx,
            Stage::Data,
            ctx.child("redis"),
            "redis",
            ctx.label_selector("redis"),
            Some(vec![from(peers, vec![port(REDIS_PORT)])]),
            None,
        )?);
    }
    let migrations = BTreeMap::from([
        ("app.kubernetes.io/instance".to_owned(), ctx.name.clone()),
        ("app.kubernetes.io/component".to_owned(), "migration".to_owned()),
    ]);
    objects.push(policy(
        ctx,
        Stage::Data,
        ctx.child("migrations"),
        "migrations",
        selector(migrations),
        None,
        Some(vec![to(vec![postgres_peer], vec![port(POSTGRES_PORT)])]),
    )?);
    Ok(objects)
}

/// The private ranges the gateway's image fetches must never reach.
const PRIVATE_RANGES: [&str; 5] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "100.64.0.0/10",
];

/// Per service: who may call it, whom it may call.
pub fn services(ctx: &Ctx) -> Result<Vec<Object>> {
    let spec = ctx.spec;
    let mut objects = Vec::new();
    for service in spec.enabled_services() {
        let app = service.as_str();
        let callers: Vec<NetworkPolicyPeer> = spec
            .enabled_services()
            .filter(|c| c.calls().contains(&service))
            .map(|c| pods(ctx.selector(c.as_str())))
            .collect();
        let mut ingress = vec![from(vec![prometheus()], vec![port(ADMIN_PORT)])];
        if service == ServiceName::Gateway {
            // The Ingress controller runs wherever the cluster put it.
            ingress.push(NetworkPolicyIngressRule {
                from: None,
                ports: Some(vec![port(API_PORT)]),
            });
        } else if !callers.is_empty() {
            ingress.push(from(callers, vec![port(API_PORT)]));
        }
        let mut egress = Vec::new();
        let callees: Vec<NetworkPolicyPeer> = service
            .calls()
            .iter()
            .filter(|c| spec.enabled(**c))
            .map(|c| pods(ctx.selector(c.as_str())))
            .collect();
        if !callees.is_empty() {
            egress.push(to(callees, vec![port(API_PORT)]));
        }
        if service.owns_database() {
            egress.push(to(vec![postgres_peer(ctx)], vec![port(POSTGRES_PORT)]));
        }
        if service.uses_redis() {
            let peer = match spec.redis {
                Redis::External { .. } => anywhere(None),
                Redis::Managed { .. } => pods(ctx.selector("redis")),
            };
            egress.push(to(vec![peer], vec![port(REDIS_PORT)]));
        }
        if let Some(collector) = spec.monitoring.traces.as_ref().and_then(|t| t.port()) {
            // The trace collector: wherever it runs, on its port only.
            egress.push(to(vec![anywhere(None)], vec![port(i32::from(collector))]));
        }
        if service == ServiceName::Gateway {
            // `/img` fetches allow-listed image hosts on the internet, never private addresses.
            let except = PRIVATE_RANGES.map(str::to_owned).to_vec();
            egress.push(to(vec![anywhere(Some(except))], vec![port(80), port(443)]));
        }
        objects.push(policy(
            ctx,
            Stage::Workloads,
            ctx.child(app),
            app,
            ctx.label_selector(app),
            Some(ingress),
            Some(egress),
        )?);
    }
    Ok(objects)
}
