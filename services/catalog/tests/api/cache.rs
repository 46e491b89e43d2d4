//! The listing cache: an unchanged page is served without a query, and a change made on one
//! replica reaches the pages of another within a second (`LISTEN/NOTIFY`).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shop_testkit::Spawned;

use crate::support::*;

/// `catalog_list_cache_requests_total{result=…}` of one process (the series must exist).
async fn lookups(server: &Spawned, result: &str) -> f64 {
    let text = server.metrics().await;
    let label = format!("result=\"{result}\"");
    assert!(
        text.contains(&format!("catalog_list_cache_requests_total{{{label}}}")),
        "no {label} lookups in:\n{text}"
    );
    shop_testkit::sample_sum(&text, "catalog_list_cache_requests_total", &[&label])
}

async fn page(app: &TestApp, server: &Spawned, path: &str) -> Value {
    json(app.http.get(server.url(path)).send().await.unwrap()).await
}

/// Until `check` holds for the page of `server` (at most `within`); how long it took.
async fn until(
    app: &TestApp,
    server: &Spawned,
    path: &str,
    within: Duration,
    check: impl Fn(&Value) -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        let body = page(app, server, path).await;
        if check(&body) {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "{path} still shows {body} after {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The cache turns on once the process listens (a moment after start).
async fn warm(app: &TestApp, server: &Spawned, path: &str) {
    let started = Instant::now();
    loop {
        page(app, server, path).await;
        let before = lookups(server, "hit").await;
        page(app, server, path).await;
        if lookups(server, "hit").await > before {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "the cache never turned on");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn pages_are_served_from_memory_until_a_change_on_any_replica() {
    let app = spawn_app().await;
    let other = app.replica().await;
    app.category("lamps").await;
    let lamp = app
        .product(json!({"sku": "L-1", "name": "Desk lamp", "price": "25.00", "stock": 4, "categories": ["lamps"]}))
        .await;
    let id = lamp["id"].as_str().unwrap().to_owned();
    let path = "/products?category=lamps";
    warm(&app, &app.server, path).await;
    warm(&app, &other, path).await;

    // An unchanged page: a hit, and no read (no miss) on either replica.
    for server in [&app.server, &other] {
        let (hits, misses) = (lookups(server, "hit").await, lookups(server, "miss").await);
        let body = page(&app, server, path).await;
        assert_eq!(body["items"][0]["price"], "25.00");
        assert_eq!(lookups(server, "hit").await, hits + 1.0);
        assert_eq!(
            lookups(server, "miss").await,
            misses,
            "an unchanged page was read again"
        );
    }

    // A batch lookup (a POST that writes nothing; every add to cart makes one) keeps the page.
    let batch = app
        .http
        .post(app.url("/products/batch"))
        .json(&json!({"ids": [id]}))
        .send()
        .await
        .unwrap();
    assert_eq!(batch.status(), 200);
    let hits = lookups(&app.server, "hit").await;
    page(&app, &app.server, path).await;
    assert_eq!(
        lookups(&app.server, "hit").await,
        hits + 1.0,
        "a lookup emptied the cache"
    );

    // A price change on the first replica: its own next read is fresh at once …
    let changed = app
        .patch_as(&app.admin, &format!("/products/{id}"), &json!({"price": "19.00"}))
        .await;
    assert_eq!(changed.status(), 200);
    assert_eq!(page(&app, &app.server, path).await["items"][0]["price"], "19.00");
    // … and the other replica's within a second.
    let took = until(&app, &other, path, Duration::from_secs(1), |b| {
        b["items"][0]["price"] == "19.00"
    })
    .await;
    eprintln!("the price reached the other replica in {took:?}");

    // Stock taken by a reservation on the other replica reaches the first one's page.
    let reserve = json!({"order_id": uuid::Uuid::new_v4(), "items": [{"product_id": id, "qty": 3}]});
    let r = app
        .http
        .post(other.url("/internal/reservations"))
        .bearer_auth(&app.service)
        .json(&reserve)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let took = until(&app, &app.server, path, Duration::from_secs(1), |b| {
        b["items"][0]["stock"] == 1
    })
    .await;
    eprintln!("the stock reached the first replica in {took:?}");

    // A deactivated product leaves the listing everywhere.
    let deactivated = app
        .patch_as(&app.admin, &format!("/products/{id}"), &json!({"is_active": false}))
        .await;
    assert_eq!(deactivated.status(), 200);
    until(&app, &other, path, Duration::from_secs(1), |b| b["total"] == 0).await;
}

#[tokio::test]
async fn admins_and_shoppers_do_not_share_pages() {
    let app = spawn_app().await;
    app.product(json!({"sku": "HID-1", "name": "Hidden", "is_active": false}))
        .await;
    app.product(json!({"sku": "VIS-1", "name": "Visible"})).await;
    let path = "/products?include_inactive=true";
    warm(&app, &app.server, path).await;
    let admin = json(app.get_as(&app.admin, path).await).await;
    assert_eq!(admin["total"], 2, "{admin}");
    let shopper = json(app.get_as(&app.customer, path).await).await;
    assert_eq!(shopper["total"], 1, "a shopper never sees the admin's page: {shopper}");
    let anonymous = page(&app, &app.server, path).await;
    assert_eq!(anonymous["total"], 1, "{anonymous}");
}
