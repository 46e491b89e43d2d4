//! One answer for one mistake, whichever service gets it: input that is not UTF-8 (in a JSON
//! body, a form, a query or a path), prices in every form the money rules name
//! (docs/api/catalog.md#money), and a bearer token that does not verify, across auth, catalog,
//! cart, order and the gateway.

#![allow(clippy::unwrap_used)]

use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use crate::support::{self, Shop, client};

/// A request: service, method, path and query, content type, body.
type Case = (&'static str, Method, String, Option<&'static str>, Vec<u8>);

/// A customer's token (the user need not exist for catalog, cart and order).
fn customer(shop: &Shop) -> String {
    shop.token(&uuid::Uuid::new_v4().to_string(), "customer", "free")
}

#[tokio::test]
async fn input_that_is_not_utf8_is_the_same_400_in_every_service() {
    let shop = support::spawn_shop().await;
    let token = customer(&shop);
    let json_body = b"{\"email\": \"\xff@example.com\", \"password\": \"correct horse battery\"}".to_vec();
    let form_body = b"email=%FF%FE%40example.com&password=x".to_vec();
    let raw_form_body = b"email=\xff@example.com&password=x".to_vec();
    // (service, method, path and query, content type, body)
    let cases: Vec<Case> = vec![
        (
            "auth",
            Method::POST,
            "/auth/register".into(),
            Some("application/json"),
            json_body.clone(),
        ),
        (
            "auth",
            Method::POST,
            "/auth/login".into(),
            Some("application/x-www-form-urlencoded"),
            form_body.clone(),
        ),
        (
            "auth",
            Method::POST,
            "/auth/login".into(),
            Some("application/x-www-form-urlencoded"),
            raw_form_body,
        ),
        (
            "auth",
            Method::POST,
            "/auth/token".into(),
            Some("application/x-www-form-urlencoded"),
            form_body,
        ),
        ("auth", Method::GET, "/users?page=%FF".into(), None, Vec::new()),
        ("auth", Method::GET, "/users/%FF%FE".into(), None, Vec::new()),
        (
            "catalog",
            Method::POST,
            "/products/batch".into(),
            Some("application/json"),
            b"{\"ids\": [\"\xff\"]}".to_vec(),
        ),
        ("catalog", Method::GET, "/search?q=%FF".into(), None, Vec::new()),
        (
            "catalog",
            Method::GET,
            "/products?category=%C3".into(),
            None,
            Vec::new(),
        ),
        ("catalog", Method::GET, "/products/sku/%FF".into(), None, Vec::new()),
        ("catalog", Method::GET, "/products/%FF".into(), None, Vec::new()),
        (
            "cart",
            Method::POST,
            "/cart/add".into(),
            Some("application/json"),
            b"{\"product_id\": \"\xff\", \"qty\": 1}".to_vec(),
        ),
        (
            "cart",
            Method::PUT,
            "/me/preferences/theme".into(),
            Some("application/json"),
            b"\"\xff\"".to_vec(),
        ),
        ("cart", Method::GET, "/me/preferences/%FF".into(), None, Vec::new()),
        ("cart", Method::GET, "/cart?x=%FF".into(), None, Vec::new()),
        ("order", Method::GET, "/orders?page=%FF".into(), None, Vec::new()),
        ("order", Method::GET, "/orders/%FF".into(), None, Vec::new()),
        ("order", Method::POST, "/orders/checkout?%FF=1".into(), None, Vec::new()),
    ];
    let mut seen = Vec::new();
    for (service, method, path, content_type, body) in cases {
        let base = match service {
            "auth" => &shop.auth,
            "catalog" => &shop.catalog,
            "cart" => &shop.cart,
            _ => &shop.order,
        };
        let mut req: RequestBuilder = client()
            .request(method.clone(), base.url(&path))
            .bearer_auth(&token)
            .header("idempotency-key", "utf8-check");
        if let Some(content_type) = content_type {
            req = req.header("content-type", content_type).body(body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or_default().to_owned())
            .unwrap_or_default();
        let problem: Value = resp.json().await.unwrap_or(Value::Null);
        seen.push(format!(
            "{service} {method} {path}: {status} {content_type} {}",
            problem["type"]
        ));
    }
    let wrong: Vec<&String> = seen
        .iter()
        .filter(|line| {
            !line.ends_with(": 400 application/problem+json \"https://shopkeeper.dev/problems/bad-request\"")
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "not the one 400 bad-request:\n{}",
        wrong.iter().map(|l| l.as_str()).collect::<Vec<_>>().join("\n")
    );
}

/// Creates a product priced `price` (any JSON); the answer's status and body.
async fn create(shop: &Shop, admin: &str, sku: &str, price: Value) -> (u16, Value) {
    let resp = client()
        .post(shop.catalog.url("/products"))
        .bearer_auth(admin)
        .json(&json!({"sku": sku, "name": "A thing", "price": price, "stock": 10}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn a_price_reads_the_same_in_every_form_in_catalog_cart_and_order() {
    let shop = support::spawn_shop().await;
    let admin = shop.token(&uuid::Uuid::new_v4().to_string(), "admin", "free");

    // Accepted: a decimal string or a JSON number, plain or in exponent form.
    let accepted = [
        (json!("1000"), "1000.00"),
        (json!("1e3"), "1000.00"),
        (json!("1E3"), "1000.00"),
        (serde_json::from_str::<Value>("1e3").unwrap(), "1000.00"),
        (json!(1000), "1000.00"),
        (json!("19.9"), "19.90"),
        (json!(19.9), "19.90"),
        (json!("1.99e1"), "19.90"),
        (json!("19.900"), "19.90"),
    ];
    for (i, (price, shown)) in accepted.iter().enumerate() {
        let (status, product) = create(&shop, &admin, &format!("OK-{i}"), price.clone()).await;
        assert_eq!(
            (status, product["price"].as_str()),
            (201, Some(*shown)),
            "{price}: {product}"
        );
        let id = product["id"].as_str().unwrap();

        // The cart and the order read it from the catalog: the same price, to the cent.
        let me = customer(&shop);
        let resp = client()
            .post(shop.cart.url("/cart/add"))
            .bearer_auth(&me)
            .json(&json!({"product_id": id, "qty": 2}))
            .send()
            .await
            .unwrap();
        let cart = shop_testkit::expect(resp, 200).await;
        assert_eq!(cart["items"][0]["unit_price"], *shown, "{price}: {cart}");
        let resp = client()
            .post(shop.order.url("/orders/checkout"))
            .bearer_auth(&me)
            .header("idempotency-key", format!("money-{i}"))
            .send()
            .await
            .unwrap();
        let order = shop_testkit::expect(resp, 201).await;
        assert_eq!(order["items"][0]["unit_price"], *shown, "{price}: {order}");
    }

    // Refused, as 422 naming /price: more than two places (in any notation), negative, too big.
    let refused = [
        json!("1.999"),
        json!(1.999),
        json!("1e-3"),
        serde_json::from_str::<Value>("1e-3").unwrap(),
        json!("-1e1"),
        json!("1e10"),
        json!(1e10),
        json!("1e400"),
        json!("abc"),
    ];
    for (i, price) in refused.iter().enumerate() {
        let (status, problem) = create(&shop, &admin, &format!("NO-{i}"), price.clone()).await;
        assert_eq!(status, 422, "{price}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap_or_default().contains("price"),
            "{price}: {problem}"
        );
    }

    // A query's price reads as a body's does.
    for (query, same_as) in [
        ("price_min=1e3", "price_min=1000"),
        ("price_max=1.99e1", "price_max=19.90"),
    ] {
        let one = shop_testkit::expect(
            client()
                .get(shop.catalog.url(&format!("/products?{query}")))
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        let other = shop_testkit::expect(
            client()
                .get(shop.catalog.url(&format!("/products?{same_as}")))
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        assert_eq!(one["total"], other["total"], "{query}");
    }
    for query in ["price_min=1e-3", "price_max=abc", "price_min=-1e1"] {
        let resp = client()
            .get(shop.catalog.url(&format!("/products?{query}")))
            .send()
            .await
            .unwrap();
        shop_testkit::problem(resp, 422).await;
    }
}

#[tokio::test]
async fn a_garbage_bearer_token_is_the_same_401_on_every_public_route() {
    let shop = support::spawn_shop().await;
    let gateway = support::spawn_gateway(shop.config()).await;
    // Routes anyone may call without a token.
    let public = [
        shop.auth.url("/.well-known/jwks.json"),
        shop.auth.url("/openapi.json"),
        shop.catalog.url("/products"),
        shop.catalog.url("/categories"),
        shop.catalog.url("/templates"),
        shop.catalog.url("/search?q=sweater"),
        shop.cart.url("/openapi.json"),
        shop.order.url("/openapi.json"),
        gateway.url("/api/v1/products"),
        gateway.url("/api/v1/categories"),
    ];
    // A real token with one character of its signature changed.
    let mut tampered = shop
        .token(&uuid::Uuid::new_v4().to_string(), "customer", "free")
        .into_bytes();
    let at = tampered.len() - 20;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for url in &public {
        let anonymous = client().get(url).send().await.unwrap();
        assert_eq!(anonymous.status(), 200, "{url} without a token");
        for token in ["garbage", "a.b.c", tampered.as_str()] {
            let r = client().get(url).bearer_auth(token).send().await.unwrap();
            assert_eq!(
                r.headers().get("www-authenticate").map(|v| v.to_str().unwrap()),
                Some("Bearer error=\"invalid_token\""),
                "{url} with {token:.12}"
            );
            shop_testkit::problem(r, 401).await;
        }
    }
}
