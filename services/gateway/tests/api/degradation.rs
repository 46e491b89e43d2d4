//! One service down, the rest of the shop up: `/ready` lists each upstream.

#![allow(clippy::unwrap_used)]

use serde_json::json;
use shop_testkit::{expect, problem};

use crate::support::{self, browser_login, client, csrf, spawn_gateway};

#[tokio::test]
async fn catalog_down_browsing_fails_cleanly_while_cart_and_orders_work() {
    let shop = support::spawn_shop().await;
    let gateway = spawn_gateway(shop.config()).await;
    let ready = expect(client().get(gateway.admin_url("/ready")).send().await.unwrap(), 200).await;
    assert_eq!(ready["readiness"], "ready", "{ready}");
    for upstream in ["auth", "catalog", "cart", "order", "rate-limits"] {
        assert_eq!(ready["checks"][upstream], "ok", "{ready}");
    }
    let mut shop = shop;
    let token = shop.token(&uuid::Uuid::new_v4().to_string(), "customer", "free");
    support::stop(&mut shop.catalog).await;
    let resp = client().get(gateway.url("/api/v1/products")).send().await.unwrap();
    let status = resp.status().as_u16();
    assert!(status == 502 || status == 503, "{status}");
    problem(resp, status).await;
    let cart = client()
        .get(gateway.url("/api/v1/cart"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    expect(cart, 200).await;
    let orders = client()
        .get(gateway.url("/api/v1/orders"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    expect(orders, 200).await;
    let ready = expect(client().get(gateway.admin_url("/ready")).send().await.unwrap(), 200).await;
    assert_eq!(ready["readiness"], "degraded", "{ready}");
    assert_eq!(ready["degraded"], json!(["catalog"]), "{ready}");
}

#[tokio::test]
async fn cart_down_the_rest_works() {
    let mut shop = support::spawn_shop().await;
    let gateway = spawn_gateway(shop.config()).await;
    let token = shop.token(&uuid::Uuid::new_v4().to_string(), "customer", "free");
    support::stop(&mut shop.cart).await;
    let resp = client()
        .get(gateway.url("/api/v1/cart"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    problem(resp, 502).await;
    expect(client().get(gateway.url("/api/v1/products")).send().await.unwrap(), 200).await;
    expect(
        client()
            .get(gateway.url("/api/v1/orders"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
}

#[tokio::test]
async fn auth_down_sessions_go_on_and_login_says_it_is_unavailable() {
    let mut shop = support::spawn_shop().await;
    let email = support::register(&shop).await;
    let gateway = spawn_gateway(shop.config()).await;
    let mut jar = browser_login(&gateway, &email).await;
    let token = csrf(&gateway, &mut jar).await;
    support::stop(&mut shop.auth).await;
    // The session's access token still verifies (the gateway holds auth's public keys).
    let cart = client()
        .get(gateway.url("/api/v1/cart"))
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    expect(cart, 200).await;
    let resp = client()
        .post(gateway.url("/login"))
        .header("cookie", jar.header())
        .header("x-csrf-token", &token)
        .json(&json!({"email": email, "password": support::PASSWORD}))
        .send()
        .await
        .unwrap();
    // The token belongs to the session, not to an anonymous login form: refused before auth
    // is even asked. An anonymous browser gets the real answer.
    problem(resp, 403).await;
    let mut fresh = support::Jar::default();
    let anonymous = csrf(&gateway, &mut fresh).await;
    let resp = client()
        .post(gateway.url("/login"))
        .header("cookie", fresh.header())
        .header("x-csrf-token", &anonymous)
        .json(&json!({"email": email, "password": support::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["retry-after"], "5");
    let body = problem(resp, 503).await;
    assert!(body["detail"].as_str().unwrap().contains("unavailable"), "{body}");
}
