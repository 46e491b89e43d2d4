//! The kit's server on real ports: graceful drain, trace propagation, panics as problems.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use shop_kit::client::HttpClient;
use shop_kit::config::ServerConfig;
use shop_kit::server::{Metrics, Server, Service};

async fn start(api: Router, config: ServerConfig) -> shop_testkit::Spawned {
    let service = Service {
        name: "test",
        api,
        metrics: Metrics::new(),
        checks: vec![],
    };
    shop_testkit::spawn(Server::bind(&config, service).await.unwrap())
}

#[tokio::test]
async fn shutdown_turns_ready_503_first_then_drains_in_flight_requests() {
    let api = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(600)).await;
            "done"
        }),
    );
    let config = ServerConfig {
        shutdown_delay: Duration::from_millis(300),
        drain_timeout: Duration::from_secs(5),
        ..ServerConfig::for_tests()
    };
    let mut server = start(api, config).await;
    let http = shop_testkit::client();
    assert_eq!(http.get(server.admin_url("/ready")).send().await.unwrap().status(), 200);

    let slow = tokio::spawn({
        let (http, url) = (http.clone(), server.url("/slow"));
        async move { http.get(url).send().await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.begin_shutdown();
    tokio::time::sleep(Duration::from_millis(50)).await;

    // During the delay: still serving, but no longer ready.
    let ready = http.get(server.admin_url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["readiness"], "draining");

    // The in-flight request finishes normally.
    let slow = slow.await.unwrap().unwrap();
    assert_eq!(slow.status(), 200);
    assert_eq!(slow.text().await.unwrap(), "done");

    let api = server.api;
    server.stop().await.unwrap();
    assert!(
        tokio::net::TcpStream::connect(api).await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn traceparent_and_request_id_reach_outgoing_calls() {
    // The downstream service reports what it received.
    let downstream = start(
        Router::new().route(
            "/echo",
            get(|h: HeaderMap| async move {
                let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                axum::Json(serde_json::json!({"traceparent": get("traceparent"), "request_id": get("x-request-id")}))
            }),
        ),
        ServerConfig::for_tests(),
    )
    .await;
    let echo = downstream.url("/echo");
    let client = HttpClient::new(Duration::from_secs(5)).unwrap();
    let upstream = start(
        Router::new().route(
            "/call",
            get(move || {
                let (client, echo) = (client.clone(), echo.clone());
                async move {
                    let v: serde_json::Value = client.get(&echo).send().await.unwrap().json().await.unwrap();
                    axum::Json(v)
                }
            }),
        ),
        ServerConfig::for_tests(),
    )
    .await;

    let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let seen: serde_json::Value = shop_testkit::client()
        .get(upstream.url("/call"))
        .header("traceparent", incoming)
        .header("x-request-id", "req-42")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tp = seen["traceparent"].as_str().unwrap();
    let parts: Vec<&str> = tp.split('-').collect();
    assert_eq!(parts.len(), 4, "{tp}");
    assert_eq!(parts[1], "4bf92f3577b34da6a3ce929d0e0e4736", "same trace");
    assert_ne!(parts[2], "00f067aa0ba902b7", "our span is the new parent");
    assert_eq!(parts[3], "01");
    assert_eq!(seen["request_id"], "req-42");

    // Without an incoming trace, a new one is started and still forwarded.
    let seen: serde_json::Value = shop_testkit::client()
        .get(upstream.url("/call"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(shop_kit::observe::TraceContext::continue_from(seen["traceparent"].as_str().unwrap()).is_some());
}

#[tokio::test]
async fn a_panicking_handler_is_a_generic_500_problem() {
    let api = Router::new().route(
        "/boom",
        get(|| async {
            if std::hint::black_box(true) {
                panic!("secret detail in a panic");
            }
            "unreachable"
        }),
    );
    let server = start(api, ServerConfig::for_tests()).await;
    let r = shop_testkit::client().get(server.url("/boom")).send().await.unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let body = r.text().await.unwrap();
    assert!(!body.contains("secret detail"), "{body}");
    // The server survives.
    let again = shop_testkit::client().get(server.url("/health")).send().await.unwrap();
    assert_eq!(again.status(), 200);
}

#[tokio::test]
async fn cached_tokens_still_expire() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use shop_kit::auth::{TokenError, TokenVerifier};

    let keys = shop_testkit::temp_keys();
    let public = shop_kit::keys::load_public_keys(&keys.public_dir()).unwrap();
    let verifier = TokenVerifier::with_keys("iss", "aud", public);
    let pem = std::fs::read(keys.signing_dir().join(format!("{}.pem", keys.kid))).unwrap();
    let now = chrono::Utc::now().timestamp();
    // Expired a second less than the leeway ago: still accepted, for one more second.
    let leeway = i64::try_from(shop_kit::auth::LEEWAY_SECS).unwrap();
    let claims = serde_json::json!({"sub": "u", "role": "customer", "iss": "iss", "aud": "aud",
                                    "iat": now - 100, "exp": now - leeway + 1, "jti": "j"});
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(keys.kid.clone());
    let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_pem(&pem).unwrap()).unwrap();
    assert!(verifier.verify(&token).await.is_ok());
    assert!(verifier.verify(&token).await.is_ok(), "served from the cache");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        verifier.verify(&token).await,
        Err(TokenError::Expired),
        "the cache does not outlive exp"
    );
    // A token that differs in one byte of its payload is not served from the cache.
    let mut tampered = token.clone().into_bytes();
    let dot = tampered.iter().position(|b| *b == b'.').unwrap();
    tampered[dot + 5] = if tampered[dot + 5] == b'A' { b'B' } else { b'A' };
    assert!(verifier.verify(std::str::from_utf8(&tampered).unwrap()).await.is_err());
}

/// A route that takes JSON and a form and would hand their text to a database.
fn echo_routes() -> Router {
    use axum::routing::post;
    use shop_kit::extract::{Form, Json, Query};
    Router::new()
        .route(
            "/items/{name}",
            post(|Json(body): Json<serde_json::Value>| async move { axum::Json(body) }).get(
                |axum::extract::Path(name): axum::extract::Path<String>,
                 Query(q): Query<std::collections::HashMap<String, String>>| async move {
                    axum::Json(serde_json::json!({"name": name, "query": q}))
                },
            ),
        )
        .route(
            "/form",
            post(|Form(f): Form<std::collections::HashMap<String, String>>| async move { axum::Json(f) }),
        )
}

async fn problem(resp: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(resp.status(), status);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    resp.json().await.unwrap()
}

#[tokio::test]
async fn a_nul_anywhere_is_a_422_naming_where_and_a_huge_header_a_431() {
    let server = start(echo_routes(), ServerConfig::for_tests()).await;
    let http = shop_testkit::client();
    let pointers = |body: &serde_json::Value| -> Vec<String> {
        let mut p: Vec<String> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["pointer"].as_str().unwrap().to_owned())
            .collect();
        p.sort();
        p
    };
    let body = problem(http.get(server.url("/items/a%00b")).send().await.unwrap(), 422).await;
    assert_eq!(pointers(&body), ["path"]);
    let body = problem(
        http.get(server.url("/items/a?email=x%00y&ok=1")).send().await.unwrap(),
        422,
    )
    .await;
    assert_eq!(pointers(&body), ["/email"]);
    let body = problem(
        http.post(server.url("/items/a"))
            .header("content-type", "application/json")
            .body(r#"{"sku": "a\u0000", "attributes": {"k\u0000": "v", "list": ["ok", "b\u0000"]}}"#)
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(pointers(&body), ["/attributes/k\\0", "/attributes/list/1", "/sku"]);
    let body = problem(
        http.post(server.url("/form"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("email=a%00&password=x")
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(pointers(&body), ["/email"]);
    // Clean input still passes, and malformed input keeps its own answer.
    let ok = http
        .post(server.url("/items/a"))
        .json(&serde_json::json!({"sku": "a\\u0000 is text"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let bad = http
        .post(server.url("/items/a"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    problem(bad, 400).await;
    let untyped = http.post(server.url("/items/a")).body("{}").send().await.unwrap();
    problem(untyped, 415).await;

    let body = problem(
        http.get(server.url("/items/a"))
            .header("x-big", "a".repeat(shop_kit::guard::MAX_HEADER_BYTES))
            .send()
            .await
            .unwrap(),
        431,
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("x-big"), "{body}");
}

#[tokio::test]
async fn made_up_methods_and_paths_create_no_new_time_series() {
    let server = start(echo_routes(), ServerConfig::for_tests()).await;
    let http = shop_testkit::client();
    let series = || async {
        let text = http
            .get(server.admin_url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|l| l.starts_with("http_request"))
            .map(|l| l.rsplit_once(' ').map_or(l, |(series, _)| series).to_owned())
            .collect::<std::collections::BTreeSet<String>>()
    };
    // Warm up every label value the sweep can produce: `other` and `unmatched` with the
    // statuses they get.
    for method in ["BREW", "GET", "POST"] {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        http.request(m.clone(), server.url("/no-such-route"))
            .send()
            .await
            .unwrap();
        http.request(m, server.url("/form")).send().await.unwrap();
    }
    series().await; // the scrape counts itself from then on
    let before = series().await;
    for i in 0..1000_u32 {
        let method = format!("M{}X{}", i * 7919 % 100_003, i);
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let path = format!("/random/{i}/{}", i * 31);
        let resp = http.request(m, server.url(&path)).send().await.unwrap();
        assert!(resp.status().is_client_error(), "{method} {path}: {}", resp.status());
    }
    let after = series().await;
    let new: Vec<_> = after.difference(&before).collect();
    assert!(
        new.is_empty(),
        "the label values stay a closed set; new series: {new:?}"
    );
}
