//! NetworkPolicies: default deny for the Shop's pods, then only the edges the design needs.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::data::{POSTGRES_PORT, REDIS_PORT};
use super::workloads::{ADMIN_PORT, API_PORT};
use super::{Ctx, Kind, Object, Postgres, Redis, Stage};
use crate::crd::ServiceName;

fn port(port: i32) -> Value {
    json!({"protocol": "TCP", "port": port})
}

fn pods(labels: BTreeMap<String, String>) -> Value {
    json!({"podSelector": {"matchLabels": labels}})
}

/// Prometheus in any namespace (pods labelled `app.kubernetes.io/name: prometheus`).
fn prometheus() -> Value {
    json!({
        "namespaceSelector": {},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
    })
}

/// Where Postgres answers: the single instance's pods, CloudNativePG's instances (by the label
/// it gives them; they are fenced by CloudNativePG, not by the Shop's policies), or anywhere.
fn postgres_peer(ctx: &Ctx) -> Value {
    match ctx.spec.postgres {
        Postgres::Single { .. } => pods(ctx.selector("postgres")),
        Postgres::CloudNativePg { .. } => pods(BTreeMap::from([(
            "cnpg.io/cluster".to_owned(),
            super::data::cnpg_cluster_name(ctx),
        )])),
        Postgres::External(_) => anywhere(),
    }
}

/// Anywhere outside the cluster's private ranges (an external database, images for `/img`).
fn anywhere() -> Value {
    json!({"ipBlock": {"cidr": "0.0.0.0/0"}})
}

/// The rules that allow something: a rule whose `from`/`to` list is empty would allow every
/// peer (the API server drops the empty list), so it is left out instead.
fn rules(rules: Value, peers: &str) -> Vec<Value> {
    let Value::Array(rules) = rules else {
        return Vec::new();
    };
    rules
        .into_iter()
        .filter(|rule| !rule[peers].as_array().is_some_and(Vec::is_empty))
        .collect()
}

/// A NetworkPolicy. `Value::Null` leaves a direction unfenced; a list of rules fences it (none:
/// deny all, written without the empty list, as the API server stores it).
fn policy(ctx: &Ctx, stage: Stage, name: String, app: &str, selector: Value, ingress: Value, egress: Value) -> Object {
    let mut types = Vec::new();
    let mut spec = json!({"podSelector": selector});
    if !ingress.is_null() {
        types.push("Ingress");
        let ingress = rules(ingress, "from");
        if !ingress.is_empty() {
            spec["ingress"] = json!(ingress);
        }
    }
    if !egress.is_null() {
        types.push("Egress");
        let egress = rules(egress, "to");
        if !egress.is_empty() {
            spec["egress"] = json!(egress);
        }
    }
    spec["policyTypes"] = json!(types);
    ctx.object(
        stage,
        Kind::NetworkPolicy,
        name,
        app,
        "network-policy",
        json!({"spec": spec}),
    )
}

/// Default deny (with DNS) for every pod of the Shop, and the data tier's own edges. Applied
/// with the data tier so no Shop pod ever runs unfenced.
pub fn data(ctx: &Ctx) -> Vec<Object> {
    let spec = ctx.spec;
    let mut objects = vec![policy(
        ctx,
        Stage::Data,
        ctx.child("default-deny"),
        "default-deny",
        json!({"matchLabels": ctx.shop_pods()}),
        json!([]),
        json!([{
            "to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        }]),
    )];
    let postgres_peer = postgres_peer(ctx);
    if let Postgres::Single { backup, .. } = &spec.postgres {
        let mut from: Vec<Value> = spec
            .database_owners()
            .into_iter()
            .flat_map(|s| {
                [
                    pods(ctx.selector(s.as_str())),
                    pods(ctx.selector(&format!("migrate-{s}"))),
                ]
            })
            .collect();
        from.push(pods(ctx.selector("db-bootstrap")));
        if backup.is_some() {
            from.push(pods(ctx.selector("db-backup")));
            objects.push(policy(
                ctx,
                Stage::Data,
                ctx.child("db-backup"),
                "db-backup",
                json!({"matchLabels": ctx.selector("db-backup")}),
                Value::Null,
                json!([{"to": [postgres_peer.clone()], "ports": [port(POSTGRES_PORT)]}]),
            ));
        }
        objects.push(policy(
            ctx,
            Stage::Data,
            ctx.child("postgres"),
            "postgres",
            json!({"matchLabels": ctx.selector("postgres")}),
            json!([{"from": from, "ports": [port(POSTGRES_PORT)]}]),
            Value::Null,
        ));
        objects.push(policy(
            ctx,
            Stage::Data,
            ctx.child("db-bootstrap"),
            "db-bootstrap",
            json!({"matchLabels": ctx.selector("db-bootstrap")}),
            Value::Null,
            json!([{"to": [postgres_peer.clone()], "ports": [port(POSTGRES_PORT)]}]),
        ));
    }
    if let Redis::Managed { .. } = spec.redis {
        let from: Vec<Value> = spec
            .enabled_services()
            .filter(|s| s.uses_redis())
            .map(|s| pods(ctx.selector(s.as_str())))
            .collect();
        objects.push(policy(
            ctx,
            Stage::Data,
            ctx.child("redis"),
            "redis",
            json!({"matchLabels": ctx.selector("redis")}),
            json!([{"from": from, "ports": [port(REDIS_PORT)]}]),
            Value::Null,
        ));
    }
    objects.push(policy(
        ctx,
        Stage::Data,
        ctx.child("migrations"),
        "migrations",
        json!({"matchLabels": {
            "app.kubernetes.io/instance": ctx.name,
            "app.kubernetes.io/component": "migration",
        }}),
        Value::Null,
        json!([{"to": [postgres_peer], "ports": [port(POSTGRES_PORT)]}]),
    ));
    objects
}

/// Per service: who may call it, whom it may call.
pub fn services(ctx: &Ctx) -> Vec<Object> {
    let spec = ctx.spec;
    let mut objects = Vec::new();
    for service in spec.enabled_services() {
        let app = service.as_str();
        let callers: Vec<Value> = spec
            .enabled_services()
            .filter(|c| c.calls().contains(&service))
            .map(|c| pods(ctx.selector(c.as_str())))
            .collect();
        let mut ingress = vec![json!({"from": [prometheus()], "ports": [port(ADMIN_PORT)]})];
        if service == ServiceName::Gateway {
            // The Ingress controller runs wherever the cluster put it.
            ingress.push(json!({"ports": [port(API_PORT)]}));
        } else if !callers.is_empty() {
            ingress.push(json!({"from": callers, "ports": [port(API_PORT)]}));
        }
        let mut egress: Vec<Value> = Vec::new();
        let callees: Vec<Value> = service
            .calls()
            .iter()
            .filter(|c| spec.enabled(**c))
            .map(|c| pods(ctx.selector(c.as_str())))
            .collect();
        if !callees.is_empty() {
            egress.push(json!({"to": callees, "ports": [port(API_PORT)]}));
        }
        if service.owns_database() {
            egress.push(json!({"to": [postgres_peer(ctx)], "ports": [port(POSTGRES_PORT)]}));
        }
        if service.uses_redis() {
            let to = match spec.redis {
                Redis::External { .. } => anywhere(),
                Redis::Managed { .. } => pods(ctx.selector("redis")),
            };
            egress.push(json!({"to": [to], "ports": [port(REDIS_PORT)]}));
        }
        if service == ServiceName::Gateway {
            // `/img` fetches allow-listed image hosts on the internet, never private addresses.
            egress.push(json!({
                "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"]}}],
                "ports": [port(80), port(443)],
            }));
        }
        objects.push(policy(
            ctx,
            Stage::Workloads,
            ctx.child(app),
            app,
            json!({"matchLabels": ctx.selector(app)}),
            json!(ingress),
            json!(egress),
        ));
    }
    objects
}
