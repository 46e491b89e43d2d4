//! Leader election against a scripted API server (`tower-test`, the kube-rs way): each test
//! lists the exact requests expected and the answers; a missing request times out, an extra
//! one finds no answer.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use http::{Request, Response};
use kube::client::Body;
use serde_json::{Value, json};
use shop_operator::leader::LeaderElector;

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

/// One expected request and its answer.
struct Step {
    method: &'static str,
    path: &'static str,
    status: u16,
    answer: Value,
    /// Checks on the request body.
    check: fn(&Value),
}

fn no_check(_: &Value) {}

async fn serve(mut handle: Handle, steps: Vec<Step>) {
    for step in steps {
        let (request, send) = handle.next_request().await.expect("a request was expected");
        assert_eq!(request.method().as_str(), step.method);
        assert_eq!(request.uri().path(), step.path);
        let body = request.into_body().collect_bytes().await.unwrap();
        if !body.is_empty() {
            (step.check)(&serde_json::from_slice(&body).unwrap());
        }
        let response = Response::builder()
            .status(step.status)
            .body(Body::from(serde_json::to_vec(&step.answer).unwrap()))
            .unwrap();
        send.send_response(response);
    }
}

async fn scenario(steps: Vec<Step>) -> bool {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(service, "default");
    let elector = LeaderElector::new(client, "ops", "shop-operator", "me", Duration::from_secs(15));
    let server = tokio::spawn(serve(handle, steps));
    let won = tokio::time::timeout(Duration::from_secs(5), elector.try_acquire())
        .await
        .expect("timed out")
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("a scripted request never came")
        .unwrap();
    won
}

const PATH: &str = "/apis/coordination.k8s.io/v1/namespaces/ops/leases/shop-operator";
const COLLECTION: &str = "/apis/coordination.k8s.io/v1/namespaces/ops/leases";

fn not_found() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "metadata": {}})
}

fn lease(holder: &str, renewed: &str) -> Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "shop-operator", "namespace": "ops", "resourceVersion": "7"},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15, "renewTime": renewed, "leaseTransitions": 3},
    })
}

#[tokio::test]
async fn the_first_candidate_creates_the_lease() {
    let won = scenario(vec![
        Step {
            method: "GET",
            path: PATH,
            status: 404,
            answer: not_found(),
            check: no_check,
        },
        Step {
            method: "POST",
            path: COLLECTION,
            status: 201,
            answer: lease("me", "2026-01-01T00:00:00.000000Z"),
            check: |body| assert_eq!(body["spec"]["holderIdentity"], "me"),
        },
    ])
    .await;
    assert!(won);
}

#[tokio::test]
async fn a_live_lease_of_another_is_respected() {
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let answer = lease("other", &now);
    let won = scenario(vec![Step {
        method: "GET",
        path: PATH,
        status: 200,
        answer,
        check: no_check,
    }])
    .await;
    assert!(!won, "no write may follow");
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_with_its_resource_version() {
    let won = scenario(vec![
        Step {
            method: "GET",
            path: PATH,
            status: 200,
            answer: lease("other", "2020-01-01T00:00:00.000000Z"),
            check: no_check,
        },
        Step {
            method: "PUT",
            path: PATH,
            status: 200,
            answer: lease("me", "2026-01-01T00:00:00.000000Z"),
            check: |body| {
                assert_eq!(body["spec"]["holderIdentity"], "me");
                assert_eq!(body["spec"]["leaseTransitions"], 4);
                assert_eq!(body["metadata"]["resourceVersion"], "7");
            },
        },
    ])
    .await;
    assert!(won);
}

#[tokio::test]
async fn losing_the_race_for_an_expired_lease_is_not_an_error() {
    let conflict = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Conflict", "code": 409, "metadata": {}});
    let won = scenario(vec![
        Step {
            method: "GET",
            path: PATH,
            status: 200,
            answer: lease("other", "2020-01-01T00:00:00.000000Z"),
            check: no_check,
        },
        Step {
            method: "PUT",
            path: PATH,
            status: 409,
            answer: conflict,
            check: no_check,
        },
    ])
    .await;
    assert!(!won);
}

#[tokio::test]
async fn the_holder_renews() {
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let won = scenario(vec![
        Step {
            method: "GET",
            path: PATH,
            status: 200,
            answer: lease("me", &now),
            check: no_check,
        },
        Step {
            method: "PUT",
            path: PATH,
            status: 200,
            answer: lease("me", &now),
            check: |body| assert_eq!(body["spec"]["leaseTransitions"], 3, "a renewal is no transition"),
        },
    ])
    .await;
    assert!(won);
}
