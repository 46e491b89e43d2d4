//! Traces over OTLP: one checkout through the gateway is one trace across the gateway, order,
//! cart and catalog, with the saga's steps and the database calls in it, exported by the real
//! OpenTelemetry exporter over OTLP/HTTP to a small receiver that decodes what it is sent.
//!
//! In its own test binary: the exporter is process-wide, set up before any service starts.

#![allow(clippy::unwrap_used)]

#[path = "../api/support.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message as _;

use crate::support::{client, spawn_gateway};

/// A span as the receiver got it.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    trace_id: String,
    span_id: String,
    parent: String,
    name: String,
    kind: SpanKind,
    attributes: BTreeMap<String, String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(value: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(AnyValue::IntValue(i)) => i.to_string(),
        Some(AnyValue::BoolValue(b)) => b.to_string(),
        Some(AnyValue::DoubleValue(d)) => d.to_string(),
        _ => String::new(),
    }
}

/// An OTLP/HTTP receiver (`POST /v1/traces`, protobuf), as a collector would be.
async fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    let spans: Arc<Mutex<Vec<Received>>> = Arc::default();
    async fn export(State(spans): State<Arc<Mutex<Vec<Received>>>>, body: Bytes) -> (axum::http::StatusCode, Vec<u8>) {
        let Ok(request) = ExportTraceServiceRequest::decode(body) else {
            return (axum::http::StatusCode::BAD_REQUEST, Vec::new());
        };
        let mut got = spans.lock().unwrap();
        for resource in request.resource_spans {
            let service = resource
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .map(|kv| text(kv.value.as_ref()))
                .unwrap_or_default();
            for span in resource.scope_spans.into_iter().flat_map(|s| s.spans) {
                got.push(Received {
                    service: service.clone(),
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent: hex(&span.parent_span_id),
                    kind: span.kind(),
                    name: span.name,
                    attributes: span
                        .attributes
                        .iter()
                        .map(|kv| (kv.key.clone(), text(kv.value.as_ref())))
                        .collect(),
                });
            }
        }
        (
            axum::http::StatusCode::OK,
            ExportTraceServiceResponse::default().encode_to_vec(),
        )
    }
    let app = axum::Router::new()
        .route("/v1/traces", axum::routing::post(export))
        .with_state(Arc::clone(&spans));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, spans)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_checkout_is_one_trace_across_gateway_order_cart_and_catalog() {
    let (collector, received) = receiver().await;
    shop_kit::telemetry::init_traced("shop", &format!("{collector}/v1/traces")).unwrap();
    assert!(shop_kit::trace::enabled(), "tracing should be on");

    let shop = support::spawn_shop().await;
    let gateway = spawn_gateway(shop.config()).await;
    let product = support::product(&shop, "Traced scarf", 5).await;
    let email = support::register(&shop).await;
    let token = support::api_login(&gateway, &email).await;
    // Every hop served a request in this trace; the saga's steps and the store calls are in it.
    let hops = [
        "POST /api/v1/{*path}",                // the gateway, proxying
        "POST /orders/checkout",               // order
        "POST /internal/carts/{user_id}/take", // cart, taken by order
        "POST /internal/products/batch",       // catalog, pricing
        "POST /internal/reservations",         // catalog, reserving
    ];
    let inner = [
        "checkout: take the cart",
        "checkout: price",
        "checkout: record the order",
        "checkout: reserve",
        "checkout: place",
        "db orders.insert",
        "db reservations.reserve",
        "redis cart.take",
    ];
    // The shopper's browser (or an edge proxy) starts the trace.
    let caller_span = "00f067aa0ba902b7";
    // Delivery is best effort by design (a batch the collector does not take is dropped, not
    // retried), so a checkout whose spans did not all arrive is tried again, twice at most; a
    // systematic break fails all three.
    let mut spans = Vec::new();
    let mut trace_id = String::new();
    let mut order_metrics = String::new();
    for attempt in 0..3 {
        support::add_one(&gateway, &token, &product).await;
        trace_id = format!("5bd66ef5095369c7b0d1f8f4bd33716{attempt}");
        let checkout = client()
            .post(gateway.url("/api/v1/orders/checkout"))
            .bearer_auth(&token)
            .header("idempotency-key", format!("traced-checkout-{attempt}"))
            .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
            .send()
            .await
            .unwrap();
        shop_testkit::expect(checkout, 201).await;
        // A probe and a scrape in between: never sampled, never exported.
        client().get(shop.order.admin_url("/ready")).send().await.unwrap();
        order_metrics = shop.order.metrics().await;
        // Export is batched on the SDK's thread: flush, and on a busy machine flush again.
        let mut complete = false;
        for round in 0..100 {
            if round % 20 == 0 {
                tokio::task::spawn_blocking(shop_kit::trace::flush).await.unwrap();
            }
            spans = received.lock().unwrap().clone();
            let names: BTreeSet<&str> = spans
                .iter()
                .filter(|s| s.trace_id == trace_id)
                .map(|s| s.name.as_str())
                .collect();
            complete = hops.iter().chain(&inner).all(|n| names.contains(n));
            if complete {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if complete {
            break;
        }
        eprintln!("attempt {attempt}: the spans of trace {trace_id} did not all arrive; trying again");
    }
    let trace_id = trace_id.as_str();
    let trace: Vec<&Received> = spans.iter().filter(|s| s.trace_id == trace_id).collect();
    let listing = trace
        .iter()
        .map(|s| format!("{:?} {} [{}] parent {}", s.kind, s.name, s.span_id, s.parent))
        .collect::<Vec<_>>()
        .join("\n");

    let served: BTreeSet<&str> = trace
        .iter()
        .filter(|s| s.kind == SpanKind::Server)
        .map(|s| s.name.as_str())
        .collect();
    for hop in hops {
        assert!(
            served.contains(hop),
            "no server span `{hop}` in the trace:\n{listing}\nall spans received:\n{}",
            spans
                .iter()
                .map(|s| format!("{} {:?} {} parent {}", s.trace_id, s.kind, s.name, s.parent))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    // One tree: the gateway's span hangs under the caller's, every other under a span of the
    // trace, and every server span but the gateway's under a client span (the call that made it).
    let ids: BTreeMap<&str, &Received> = trace.iter().map(|s| (s.span_id.as_str(), *s)).collect();
    let roots: Vec<&&Received> = trace.iter().filter(|s| s.parent == caller_span).collect();
    assert_eq!(roots.len(), 1, "one span continues the caller's:\n{listing}");
    assert_eq!(roots[0].name, "POST /api/v1/{*path}", "{listing}");
    for span in &trace {
        if span.parent == caller_span {
            continue;
        }
        let parent = ids
            .get(span.parent.as_str())
            .unwrap_or_else(|| panic!("`{}` has a parent outside the trace:\n{listing}", span.name));
        if span.kind == SpanKind::Server {
            assert_eq!(
                parent.kind,
                SpanKind::Client,
                "`{}` is called by a client span:\n{listing}",
                span.name
            );
        }
    }
    let names: BTreeSet<&str> = trace.iter().map(|s| s.name.as_str()).collect();
    for inner in inner {
        assert!(names.contains(inner), "no span `{inner}` in the trace:\n{listing}");
    }
    let insert = trace.iter().find(|s| s.name == "db orders.insert").unwrap();
    assert_eq!(insert.kind, SpanKind::Client);
    assert_eq!(
        insert.attributes.get("db.system.name").map(String::as_str),
        Some("postgresql")
    );
    let gateway_span = roots[0];
    assert_eq!(
        gateway_span
            .attributes
            .get("http.response.status_code")
            .map(String::as_str),
        Some("201"),
        "{:?}",
        gateway_span.attributes
    );
    assert!(
        trace.iter().all(|s| s.service == "shop-shop"),
        "the exporter names the service"
    );

    // Probes and scrapes are not traced.
    assert!(
        !spans
            .iter()
            .any(|s| s.name.ends_with("/ready") || s.name.ends_with("/metrics")),
        "a probe or scrape was exported"
    );
    // The latency bucket of order's checkout links to the trace.
    assert!(
        order_metrics
            .lines()
            .any(|line| line.starts_with("http_request_duration_seconds_bucket")
                && line.contains("route=\"/orders/checkout\"")
                && line.contains(&format!("# {{trace_id=\"{trace_id}\"}}"))),
        "no exemplar of the checkout's trace on order's latency histogram:\n{order_metrics}"
    );
}
