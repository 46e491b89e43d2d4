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
    // Expired 29 s ago: still inside the 30 s leeway, for one more second.
    let claims = serde_json::json!({"sub": "u", "role": "customer", "iss": "iss", "aud": "aud",
                                    "iat": now - 100, "exp": now - 29, "jti": "j"});
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
