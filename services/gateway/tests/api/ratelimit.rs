//! Rate limits: shared by replicas, by plan, per address for login, answered as the
//! `RateLimit` headers say; page sizes by plan; Redis down means no limits, said out loud.

#![allow(clippy::unwrap_used)]

use serde_json::json;
use shop_testkit::{expect, problem};

use crate::support::{self, client, spawn_echo, spawn_gateway};

#[tokio::test]
async fn two_gateways_share_one_budget_and_premium_gets_more() {
    let shop = support::spawn_shop().await;
    let mut config = shop.config();
    config.limits.api_free = "4/1m".parse().unwrap();
    config.limits.api_premium = "8/1m".parse().unwrap();
    let one = spawn_gateway(config.clone()).await;
    let two = spawn_gateway(config).await;
    let user = uuid::Uuid::new_v4().to_string();
    let free = shop.token(&user, "customer", "free");
    for (i, gateway) in [&one, &two, &one, &two].into_iter().enumerate() {
        let resp = client()
            .get(gateway.url("/api/v1/products"))
            .bearer_auth(&free)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["ratelimit-policy"], "\"api-free\";q=4;w=60");
        let state = resp.headers()["ratelimit"].to_str().unwrap().to_owned();
        assert!(state.starts_with(&format!("\"api-free\";r={};t=", 3 - i)), "{state}");
        expect(resp, 200).await;
    }
    let resp = client()
        .get(two.url("/api/v1/products"))
        .bearer_auth(&free)
        .send()
        .await
        .unwrap();
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=15).contains(&retry), "{retry}");
    assert!(resp.headers()["ratelimit"].to_str().unwrap().contains(";r=0;"));
    let body = problem(resp, 429).await;
    assert_eq!(body["policy"], "api-free");
    // The same user on a premium token spends from the premium budget.
    let premium = shop.token(&user, "customer", "premium");
    let resp = client()
        .get(one.url("/api/v1/products"))
        .bearer_auth(&premium)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["ratelimit-policy"], "\"api-premium\";q=8;w=60");
    expect(resp, 200).await;
    // A premium plan that has ended counts as free, though the token still lives.
    let now = chrono::Utc::now().timestamp();
    let lapsed = support::mint_until(&shop.keys, &user, "customer", "premium", Some(now - 1));
    let resp = client()
        .get(one.url("/api/v1/products"))
        .bearer_auth(&lapsed)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["ratelimit-policy"], "\"api-free\";q=4;w=60");
    problem(resp, 429).await;
    let running = support::mint_until(&shop.keys, &user, "customer", "premium", Some(now + 3600));
    let resp = client()
        .get(one.url("/api/v1/products"))
        .bearer_auth(&running)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["ratelimit-policy"], "\"api-premium\";q=8;w=60");
    assert_eq!(
        support::metric(&two, "gateway_rate_limited_total{policy=\"api-free\"}").await,
        1.0
    );
    assert_eq!(
        support::metric(&one, "gateway_rate_limited_total{policy=\"api-free\"}").await,
        1.0
    );
}

#[tokio::test]
async fn login_and_register_are_limited_per_client_address() {
    let shop = support::spawn_shop().await;
    let mut config = shop.config();
    config.limits.login = "2/1m".parse().unwrap();
    config.trusted_proxy_hops = 1;
    let gateway = spawn_gateway(config).await;
    let attempt = |address: &'static str| {
        client()
            .post(gateway.url("/api/v1/auth/login"))
            .header("x-forwarded-for", address)
            .json(&json!({"email": "nobody@example.com", "password": "wrong password!"}))
            .send()
    };
    for _ in 0..2 {
        problem(attempt("198.51.100.1").await.unwrap(), 401).await;
    }
    let body = problem(attempt("198.51.100.1").await.unwrap(), 429).await;
    assert_eq!(body["policy"], "login");
    // Another address has its own budget.
    problem(attempt("198.51.100.2").await.unwrap(), 401).await;
}

#[tokio::test]
async fn plans_decide_the_page_size_of_searches_and_listings() {
    let shop = support::spawn_shop().await;
    let echo = spawn_echo().await;
    let mut urls = shop.urls();
    urls[1] = echo.url.clone();
    let mut config = support::config(&shop.keys, urls);
    config.limits.search_free = "100/1m".parse().unwrap();
    let gateway = spawn_gateway(config).await;
    let user = uuid::Uuid::new_v4().to_string();
    let premium = shop.token(&user, "customer", "premium");

    let resp = client()
        .get(gateway.url("/api/v1/search?query=tea&limit=500"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["ratelimit-policy"], "\"search-free\";q=100;w=60");
    expect(resp, 200).await;
    client()
        .get(gateway.url("/api/v1/search?query=green+tea&categories=tea"))
        .bearer_auth(&premium)
        .send()
        .await
        .unwrap();
    client()
        .get(gateway.url("/api/v1/products?per_page=100&page=2"))
        .send()
        .await
        .unwrap();
    client()
        .get(gateway.url("/api/v1/products?per_page=100"))
        .bearer_auth(&premium)
        .send()
        .await
        .unwrap();
    let seen: Vec<String> = echo.seen().into_iter().map(|s| s.path_and_query).collect();
    assert_eq!(
        seen,
        [
            "/search?query=tea&limit=20",
            "/search?query=green+tea&categories=tea&limit=100",
            "/products?per_page=20&page=2",
            "/products?per_page=100",
        ]
    );
}

#[tokio::test]
async fn without_redis_the_gateway_serves_unlimited_and_says_so() {
    let shop = support::spawn_shop().await;
    let mut config = shop.config();
    config.limits.api_free = "1/1m".parse().unwrap();
    let dead = support::dead_url().await.replace("http://", "redis://");
    config.redis_url = secrecy::SecretString::from(dead);
    let gateway = spawn_gateway(config).await;
    for _ in 0..3 {
        let resp = client().get(gateway.url("/api/v1/products")).send().await.unwrap();
        assert!(resp.headers().get("ratelimit").is_none());
        expect(resp, 200).await;
    }
    let ready = expect(client().get(gateway.admin_url("/ready")).send().await.unwrap(), 200).await;
    assert_eq!(ready["readiness"], "degraded", "{ready}");
    assert!(
        ready["checks"]["rate-limits"]
            .as_str()
            .unwrap()
            .contains("without rate limits"),
        "{ready}"
    );
    assert_eq!(ready["checks"]["catalog"], "ok", "{ready}");
    assert_eq!(
        support::metric(&gateway, "gateway_rate_limit_unavailable_total").await,
        3.0
    );
    assert_eq!(support::metric(&gateway, "gateway_rate_limit_store_up").await, 0.0);
}
