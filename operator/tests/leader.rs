//! Leader election against a scripted API server (`tower-test`, the kube-rs way): each test
//! lists the exact requests expected and the answers; a missing request times out, an extra
//! one finds no answer.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use http::{Request, Response};
use kube::client::Body;
use serde_json::{Value, json};
use shop_operator::leader::{ElectionError, LeaderElector};

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

fn elector() -> (LeaderElector, Handle) {
    shop_kit::install_crypto_provider();
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(service, "default");
    let elector = LeaderElector::new(client, "ops", "shop-operator", "me", Duration::from_secs(15));
    (elector, handle)
}

/// One `try_acquire` of `elector` against the scripted `steps`; every step must be consumed.
async fn acquire(elector: &LeaderElector, handle: Handle, steps: Vec<Step>) -> (bool, Handle) {
    let server = tokio::spawn(async move {
        let mut handle = handle;
        serve_some(&mut handle, steps).await;
        handle
    });
    let won = tokio::time::timeout(Duration::from_secs(5), elector.try_acquire())
        .await
        .expect("timed out")
        .unwrap();
    let handle = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("a scripted request never came")
        .unwrap();
    (won, handle)
}

async fn serve_some(handle: &mut Handle, steps: Vec<Step>) {
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
    let (elector, handle) = elector();
    acquire(&elector, handle, steps).await.0
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

fn read(answer: Value) -> Step {
    Step {
        method: "GET",
        path: PATH,
        status: 200,
        answer,
        check: no_check,
    }
}

#[tokio::test(start_paused = true)]
async fn an_expired_lease_is_taken_over_with_its_resource_version() {
    let (elector, handle) = elector();
    // First sight: however old its renewTime looks (clocks skew), the record is timed from now.
    let (won, handle) = acquire(
        &elector,
        handle,
        vec![read(lease("other", "2020-01-01T00:00:00.000000Z"))],
    )
    .await;
    assert!(!won, "a lease is never taken at first sight");
    tokio::time::advance(Duration::from_secs(16)).await;
    let (won, _) = acquire(
        &elector,
        handle,
        vec![
            read(lease("other", "2020-01-01T00:00:00.000000Z")),
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
        ],
    )
    .await;
    assert!(won, "unchanged for its whole duration: expired");
}

#[tokio::test(start_paused = true)]
async fn a_holder_that_keeps_renewing_is_never_displaced_whatever_the_clocks_say() {
    let (elector, mut handle) = elector();
    // The holder's clock runs years behind ours: its renewTime always looks stale, but it changes.
    for (i, renewed) in [
        "2020-01-01T00:00:00.000000Z",
        "2020-01-01T00:00:05.000000Z",
        "2020-01-01T00:00:10.000000Z",
        "2020-01-01T00:00:15.000000Z",
    ]
    .into_iter()
    .enumerate()
    {
        if i > 0 {
            tokio::time::advance(Duration::from_secs(10)).await;
        }
        let (won, h) = acquire(&elector, handle, vec![read(lease("other", renewed))]).await;
        assert!(!won, "pass {i}");
        handle = h;
    }
}

#[tokio::test(start_paused = true)]
async fn a_hung_api_server_bounds_every_call() {
    let (elector, mut handle) = elector();
    let server = tokio::spawn(async move {
        // Take the request and never answer it.
        let (_request, send) = handle.next_request().await.unwrap();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        drop(send);
    });
    let started = tokio::time::Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(60), elector.try_acquire())
        .await
        .expect("the call was not bounded");
    assert!(matches!(result, Err(ElectionError::Timeout(_))), "{result:?}");
    assert!(started.elapsed() <= elector.call_timeout + Duration::from_millis(100));
    server.abort();
}

#[tokio::test(start_paused = true)]
async fn the_leader_stops_before_its_lease_could_expire_when_renewals_hang() {
    let (elector, mut handle) = elector();
    let server = tokio::spawn(async move {
        // The first renewal succeeds; from then on the API server accepts and never answers.
        serve_some(
            &mut handle,
            vec![
                Step {
                    method: "GET",
                    path: PATH,
                    status: 200,
                    answer: lease("me", "2026-01-01T00:00:00.000000Z"),
                    check: no_check,
                },
                Step {
                    method: "PUT",
                    path: PATH,
                    status: 200,
                    answer: lease("me", "2026-01-01T00:00:02.000000Z"),
                    check: no_check,
                },
            ],
        )
        .await;
        let mut held = Vec::new();
        while let Some((_request, send)) = handle.next_request().await {
            held.push(send);
        }
    });
    let started = tokio::time::Instant::now();
    let lease_duration = Duration::from_secs(15);
    let why = tokio::time::timeout(
        Duration::from_secs(120),
        elector.keep(Duration::from_secs(2), Duration::from_secs(10)),
    )
    .await
    .expect("the leader never noticed");
    assert!(why.contains("no renewal within"), "{why}");
    // Last renewal at 2 s: stopped by 12 s, before anyone may take over (2 s + 15 s).
    assert!(
        started.elapsed() <= Duration::from_secs(2) + Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(2) + lease_duration);
    server.abort();
}

#[tokio::test]
async fn losing_the_race_for_a_free_lease_is_not_an_error() {
    let conflict = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Conflict", "code": 409, "metadata": {}});
    let won = scenario(vec![
        Step {
            method: "GET",
            path: PATH,
            status: 200,
            // Released by its holder: free to take at once.
            answer: lease("", "2020-01-01T00:00:00.000000Z"),
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
