//! `/api/v1` forwarding: routing, what crosses (and what does not), bodies, slow and dead
//! upstreams, and the older `/api` paths.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use serde_json::json;
use shop_testkit::{expect, problem};

use crate::support::{self, Mode, client, spawn_echo, spawn_gateway};

#[tokio::test]
async fn browsing_goes_to_the_catalog_and_the_request_id_comes_back() {
    let shop = support::spawn_shop().await;
    let id = support::product(&shop, "Green tea", 10).await;
    let gateway = spawn_gateway(shop.config()).await;
    let resp = client()
        .get(gateway.url(&format!("/api/v1/products/{id}")))
        .header("x-request-id", "req-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "req-123");
    let body = expect(resp, 200).await;
    assert_eq!(body["name"], "Green tea");
    let list = expect(client().get(gateway.url("/api/v1/products")).send().await.unwrap(), 200).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    // The search answer names the request it answered.
    let found = client()
        .get(gateway.url("/api/v1/search?query=green"))
        .header("x-request-id", "search-42")
        .send()
        .await
        .unwrap();
    let found = expect(found, 200).await;
    assert_eq!(found["request_id"], "search-42");
    assert_eq!(found["results"][0]["name"], "Green tea", "{found}");
}

#[tokio::test]
async fn an_unchanged_listing_through_the_gateway_is_a_304() {
    let shop = support::spawn_shop().await;
    support::product(&shop, "Oolong", 4).await;
    let gateway = spawn_gateway(shop.config()).await;
    let url = gateway.url("/api/v1/products?per_page=5");
    let first = client().get(&url).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let tag = first.headers()["etag"].to_str().unwrap().to_owned();
    let again = client().get(&url).header("if-none-match", &tag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), tag);
    assert!(again.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn headers_are_cleaned_tokens_and_trace_context_forwarded() {
    let shop = support::spawn_shop().await;
    let echo = spawn_echo().await;
    let mut urls = shop.urls();
    urls[3] = echo.url.clone();
    let gateway = spawn_gateway(support::config(&shop.keys, urls)).await;
    let token = shop.token(&uuid::Uuid::new_v4().to_string(), "customer", "free");
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let resp = client()
        .get(gateway.url("/api/v1/orders?page=2"))
        .bearer_auth(&token)
        .header("connection", "x-private-hop")
        .header("x-private-hop", "secret")
        .header("proxy-authorization", "Basic Zm9vOmJhcg==")
        .header("cookie", "sk_csrf=abc; other=1")
        .header("traceparent", traceparent)
        .header("x-request-id", "trace-me")
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    expect(resp, 200).await;
    let seen = echo.seen().pop().unwrap();
    assert_eq!(seen.path_and_query, "/orders?page=2");
    assert_eq!(seen.headers["authorization"], format!("Bearer {token}"));
    for gone in ["x-private-hop", "proxy-authorization", "cookie"] {
        assert!(
            !seen.headers.contains_key(gone),
            "{gone} reached the upstream: {:?}",
            seen.headers
        );
    }
    assert_eq!(seen.headers["x-request-id"], "trace-me");
    let forwarded_trace = &seen.headers["traceparent"];
    assert!(
        forwarded_trace.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{forwarded_trace}"
    );
    assert!(
        !forwarded_trace.contains("00f067aa0ba902b7"),
        "our own span id: {forwarded_trace}"
    );
    assert_eq!(seen.headers["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
}

#[tokio::test]
async fn internal_routes_are_never_reachable() {
    let shop = support::spawn_shop().await;
    let echo = spawn_echo().await;
    let urls = [echo.url.clone(), echo.url.clone(), echo.url.clone(), echo.url.clone()];
    let gateway = spawn_gateway(support::config(&shop.keys, urls)).await;
    for path in [
        "/api/v1/internal/reservations",
        "/api/v1/products/../internal/reservations",
        "/api/v1/products/%2e%2e/internal/reservations",
        "/api/v1/cart/internal/carts",
        "/api/v1/metrics",
        "/api/v1/nothing-here",
    ] {
        let resp = client().post(gateway.url(path)).json(&json!({})).send().await.unwrap();
        problem(resp, 404).await;
    }
    assert!(echo.seen().is_empty(), "{:?}", echo.seen());
}

#[tokio::test]
async fn the_older_api_paths_redirect_permanently() {
    let shop = support::spawn_shop().await;
    let gateway = spawn_gateway(shop.config()).await;
    let resp = client()
        .post(gateway.url("/api/products?category=tea&page=2"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 308);
    assert_eq!(resp.headers()["location"], "/api/v1/products?category=tea&page=2");
}

#[tokio::test]
async fn bodies_stream_both_ways_within_the_limit() {
    let shop = support::spawn_shop().await;
    let echo = spawn_echo().await;
    let mut urls = shop.urls();
    urls[2] = echo.url.clone();
    let gateway = spawn_gateway(support::config(&shop.keys, urls)).await;
    let token = shop.token(&uuid::Uuid::new_v4().to_string(), "customer", "free");

    // 60 KiB goes through (the limit is 64 KiB) …
    let resp = client()
        .post(gateway.url("/api/v1/cart/add"))
        .bearer_auth(&token)
        .body(vec![b'a'; 60 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(expect(resp, 200).await["body_len"], 60 * 1024);
    // … 100 KiB does not, whether its length is declared or streamed.
    let resp = client()
        .post(gateway.url("/api/v1/cart/add"))
        .bearer_auth(&token)
        .body(vec![b'a'; 100 * 1024])
        .send()
        .await
        .unwrap();
    problem(resp, 413).await;
    let chunks = futures::stream::iter((0..10).map(|_| Ok::<_, std::io::Error>(vec![b'b'; 10 * 1024])));
    let resp = client()
        .post(gateway.url("/api/v1/cart/add"))
        .bearer_auth(&token)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    problem(resp, 413).await;
    assert!(echo.seen().iter().all(|s| s.body_len <= 64 * 1024), "{:?}", echo.seen());

    // A 5 MiB answer arrives whole.
    echo.set(Mode::Big(5 * 1024 * 1024));
    let resp = client()
        .get(gateway.url("/api/v1/cart"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().len(), 5 * 1024 * 1024);
}

#[tokio::test]
async fn a_slow_upstream_is_a_504_and_a_dead_one_a_502_then_a_503_with_retry_after() {
    let shop = support::spawn_shop().await;
    let echo = spawn_echo().await;
    echo.set(Mode::Slow(Duration::from_secs(5)));
    let mut urls = shop.urls();
    urls[3] = echo.url.clone();
    urls[2] = support::dead_url().await;
    let mut config = support::config(&shop.keys, urls);
    config.upstreams[3].1.timeout = Duration::from_millis(300);
    config.breaker.failures = 2;
    let gateway = spawn_gateway(config).await;
    let token = shop.token(&uuid::Uuid::new_v4().to_string(), "customer", "free");

    let started = Instant::now();
    let resp = client()
        .get(gateway.url("/api/v1/orders"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let body = problem(resp, 504).await;
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert!(body["detail"].as_str().unwrap().contains("order"), "{body}");

    for _ in 0..2 {
        let resp = client()
            .get(gateway.url("/api/v1/cart"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        problem(resp, 502).await;
    }
    let resp = client()
        .get(gateway.url("/api/v1/cart"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=10).contains(&retry), "{retry}");
    problem(resp, 503).await;
    assert_eq!(
        support::metric(
            &gateway,
            "gateway_upstream_requests_total{upstream=\"cart\",outcome=\"circuit_open\"}"
        )
        .await,
        1.0
    );
    // The catalog, healthy, is unaffected by the cart's breaker.
    expect(client().get(gateway.url("/api/v1/products")).send().await.unwrap(), 200).await;
}

#[tokio::test]
async fn a_bad_bearer_token_is_refused_at_the_door() {
    let shop = support::spawn_shop().await;
    let gateway = spawn_gateway(shop.config()).await;
    for auth in ["Bearer nonsense", "Bearer ", "bearer a.b.c"] {
        let resp = client()
            .get(gateway.url("/api/v1/products"))
            .header("authorization", auth)
            .send()
            .await
            .unwrap();
        problem(resp, 401).await;
    }
    // Another scheme is auth's to judge: the client-credentials grant with HTTP Basic works.
    let resp = client()
        .post(gateway.url("/api/v1/auth/token"))
        .basic_auth(support::ORDER_CLIENT, Some(support::ORDER_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(expect(resp, 200).await["token_type"], "bearer");
    let resp = client()
        .post(gateway.url("/api/v1/auth/token"))
        .basic_auth(support::ORDER_CLIENT, Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    problem(resp, 401).await;
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let shop = support::spawn_shop().await;
    let gateway = spawn_gateway(shop.config()).await;
    for path in [
        "/",
        "/login",
        "/api/v1/products",
        "/api/v1/nothing",
        "/img?url=x",
        "/docs/",
    ] {
        let resp = client().get(gateway.url(path)).send().await.unwrap();
        let h = resp.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        let script = csp.split(';').find(|d| d.trim().starts_with("script-src")).unwrap();
        assert!(!script.contains("unsafe"), "{path}: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "strict-origin-when-cross-origin", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
    }
}
