//! The cart API: lines, limits, pricing, ownership, the internal routes, and failing stores.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::*;

#[tokio::test]
async fn add_set_remove_clear_with_prices_from_the_catalog() {
    let app = spawn_app().await;
    let a = app.product("10.50", 20, true).await;
    let b = app.product("3.00", 1, true).await;
    let me = app.shopper();

    let cart = json(
        app.post(&me.token, "/cart/add", &json!({"product_id": a["id"], "qty": 2}))
            .await,
    )
    .await;
    assert_eq!(cart["items"][0]["qty"], 2);
    let cart = json(
        app.post(&me.token, "/cart/add", &json!({"product_id": a["id"], "qty": 3}))
            .await,
    )
    .await;
    assert_eq!(cart["items"][0]["qty"], 5, "add increments");
    let cart = json(
        app.post(&me.token, "/cart/add", &json!({"product_id": b["id"], "qty": 2}))
            .await,
    )
    .await;
    assert_eq!(cart["priced"], true);
    assert_eq!(cart["units"], 7);
    assert_eq!(cart["total"], "58.50");
    let line_b = cart["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["product_id"] == b["id"])
        .unwrap();
    assert_eq!(line_b["available"], false, "2 wanted, 1 in stock");
    assert_eq!(line_b["unit_price"], "3.00");
    assert_eq!(line_b["image"], b["images"][0]);

    let cart = json(
        app.post(&me.token, "/cart/set", &json!({"product_id": a["id"], "qty": 1}))
            .await,
    )
    .await;
    let line_a = cart["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["product_id"] == a["id"])
        .unwrap();
    assert_eq!(line_a["qty"], 1);
    let cart = json(
        app.post(&me.token, "/cart/set", &json!({"product_id": a["id"], "qty": 0}))
            .await,
    )
    .await;
    assert_eq!(cart["items"].as_array().unwrap().len(), 1, "0 removes the line");
    let cart = json(
        app.post(&me.token, "/cart/remove", &json!({"product_id": b["id"]}))
            .await,
    )
    .await;
    assert_eq!(cart["items"], json!([]));

    app.post(&me.token, "/cart/add", &json!({"product_id": a["id"], "qty": 1}))
        .await;
    assert_eq!(app.post(&me.token, "/cart/clear", &json!({})).await.status(), 204);
    assert_eq!(json(app.get(&me.token, "/cart").await).await["items"], json!([]));
}

#[tokio::test]
async fn limits_and_bad_input() {
    let app = spawn_app().await;
    let p = app.product("1.00", 500, true).await;
    let retired = app.product("1.00", 5, false).await;
    let me = app.shopper();
    for (body, status) in [
        (json!({"product_id": p["id"], "qty": 0}), 422),
        (json!({"product_id": p["id"], "qty": -1}), 422),
        (json!({"product_id": p["id"], "qty": 100}), 422),
        (json!({"product_id": p["id"], "qty": 1e12}), 422),
        (json!({"product_id": p["id"], "qty": "2"}), 422),
        (json!({"product_id": "not-a-uuid", "qty": 1}), 422),
        (json!({"product_id": Uuid::new_v4(), "qty": 1}), 422),
        (json!({"product_id": retired["id"], "qty": 1}), 422),
        (json!({"product_id": p["id"], "qty": 1, "price": "0.01"}), 422),
    ] {
        problem(app.post(&me.token, "/cart/add", &body).await, status).await;
    }
    let raw = app
        .http
        .post(app.cart.url("/cart/add"))
        .bearer_auth(&me.token)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    problem(raw, 400).await;

    app.post(&me.token, "/cart/add", &json!({"product_id": p["id"], "qty": 90}))
        .await;
    let b = problem(
        app.post(&me.token, "/cart/add", &json!({"product_id": p["id"], "qty": 10}))
            .await,
        409,
    )
    .await;
    assert_eq!(b["type"], "https://shopkeeper.dev/problems/line-limit");
    assert_eq!(
        json(app.get(&me.token, "/cart").await).await["items"][0]["qty"],
        90,
        "nothing changed"
    );

    // At most 5 lines in this test's configuration (50 by default).
    for _ in 0..4 {
        let q = app.product("1.00", 5, true).await;
        assert_eq!(
            app.post(&me.token, "/cart/add", &json!({"product_id": q["id"], "qty": 1}))
                .await
                .status(),
            200
        );
    }
    let sixth = app.product("1.00", 5, true).await;
    let b = problem(
        app.post(&me.token, "/cart/add", &json!({"product_id": sixth["id"], "qty": 1}))
            .await,
        409,
    )
    .await;
    assert_eq!(b["type"], "https://shopkeeper.dev/problems/cart-full");
    // An existing line can still grow.
    assert_eq!(
        app.post(&me.token, "/cart/add", &json!({"product_id": p["id"], "qty": 1}))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn concurrent_adds_are_atomic() {
    let app = spawn_app().await;
    let p = app.product("1.00", 500, true).await;
    let me = app.shopper();
    let mut tasks = Vec::new();
    for _ in 0..30 {
        let (http, url, token, id) = (
            app.http.clone(),
            app.cart.url("/cart/add"),
            me.token.clone(),
            p["id"].clone(),
        );
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .bearer_auth(token)
                .json(&json!({"product_id": id, "qty": 3}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            200 => ok += 1,
            409 => {}
            other => panic!("unexpected {other}"),
        }
    }
    let qty = json(app.get(&me.token, "/cart").await).await["items"][0]["qty"]
        .as_i64()
        .unwrap();
    assert_eq!(ok, 30, "30 × 3 = 90 fits under 99");
    assert_eq!(qty, 90, "no lost update");
}

#[tokio::test]
async fn carts_are_private_and_services_read_and_clear_them() {
    let app = spawn_app().await;
    let p = app.product("2.00", 10, true).await;
    let alice = app.shopper();
    let bob = app.shopper();
    app.post(&alice.token, "/cart/add", &json!({"product_id": p["id"], "qty": 2}))
        .await;
    assert_eq!(
        json(app.get(&bob.token, "/cart").await).await["items"],
        json!([]),
        "bob sees only his own cart"
    );
    problem(app.http.get(app.cart.url("/cart")).send().await.unwrap(), 401).await;
    problem(app.get(&app.service, "/cart").await, 403).await;

    let path = format!("/internal/carts/{}", alice.id);
    problem(app.get(&bob.token, &path).await, 403).await;
    problem(app.get(&app.admin, &path).await, 403).await;
    let seen = json(app.get(&app.service, &path).await).await;
    assert_eq!(seen["items"][0]["qty"], 2);
    assert_eq!(
        app.post(&app.service, &format!("{path}/clear"), &json!({}))
            .await
            .status(),
        204
    );
    assert_eq!(json(app.get(&alice.token, "/cart").await).await["items"], json!([]));
    problem(app.get(&app.service, "/internal/carts/not-a-uuid").await, 400).await;
}

#[tokio::test]
async fn catalog_down_still_returns_quantities_unpriced() {
    let app = spawn_app().await;
    let p = app.product("2.00", 10, true).await;
    let me = app.shopper();
    app.post(&me.token, "/cart/add", &json!({"product_id": p["id"], "qty": 4}))
        .await;

    // A second cart on the same Redis whose catalog URL answers nothing.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = cart_config(
        &app.keys,
        &shop_testkit::redis_url(),
        &format!("http://127.0.0.1:{closed}"),
    );
    let blind = shop_testkit::spawn(shop_cart::build(config).await.unwrap());
    let r = app
        .http
        .get(blind.url("/cart"))
        .bearer_auth(&me.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cart = json(r).await;
    assert_eq!(cart["priced"], false);
    assert_eq!(cart["items"][0]["qty"], 4);
    assert!(cart["items"][0]["unit_price"].is_null());
    assert!(cart["total"].is_null());
    // Adding needs the catalog to vouch for the product.
    let r = app
        .http
        .post(blind.url("/cart/add"))
        .bearer_auth(&me.token)
        .json(&json!({"product_id": p["id"], "qty": 1}))
        .send()
        .await
        .unwrap();
    problem(r, 503).await;
}

#[tokio::test]
async fn redis_down_is_503_and_not_ready() {
    let app = spawn_app().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = cart_config(&app.keys, &format!("redis://127.0.0.1:{closed}"), &app.catalog.url(""));
    let broken = shop_testkit::spawn(shop_cart::build(config).await.unwrap());
    let me = app.shopper();
    let r = app
        .http
        .get(broken.url("/cart"))
        .bearer_auth(&me.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["retry-after"], "1");
    problem(r, 503).await;
    let p = app.product("2.00", 10, true).await;
    let r = app
        .http
        .post(broken.url("/cart/add"))
        .bearer_auth(&me.token)
        .json(&json!({"product_id": p["id"], "qty": 1}))
        .send()
        .await
        .unwrap();
    problem(r, 503).await;
    let ready = app.http.get(broken.admin_url("/ready")).send().await.unwrap();
    let body = problem(ready, 503).await;
    assert_ne!(body["checks"]["redis"], "ok");
    assert_eq!(
        app.http.get(broken.admin_url("/health")).send().await.unwrap().status(),
        200
    );
    // The healthy one is ready.
    let ready = json(app.http.get(app.cart.admin_url("/ready")).send().await.unwrap()).await;
    assert_eq!(ready["checks"]["redis"], "ok");
}

#[tokio::test]
async fn carts_slide_their_expiry() {
    let app = spawn_app().await;
    let p = app.product("2.00", 10, true).await;
    let me = app.shopper();
    app.post(&me.token, "/cart/add", &json!({"product_id": p["id"], "qty": 1}))
        .await;
    let client = redis::Client::open(shop_testkit::redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("cart:{}", me.id);
    let _: () = redis::cmd("PEXPIRE")
        .arg(&key)
        .arg(60_000)
        .query_async(&mut conn)
        .await
        .unwrap();
    app.get(&me.token, "/cart").await;
    let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await.unwrap();
    assert!(ttl > 29 * 24 * 3600 * 1000, "reading the cart renews 30 days: {ttl}");
}

/// Requests the catalog has served on its batch route (its own `http_requests_total`).
async fn catalog_batches(app: &TestApp) -> f64 {
    app.catalog
        .sample_sum("http_requests_total", &["route=\"/products/batch\""])
        .await
}

#[tokio::test]
async fn an_add_asks_the_catalog_once_and_the_order_services_read_never() {
    let app = spawn_app().await;
    let first = app.product("2.00", 10, true).await;
    let second = app.product("3.50", 10, true).await;
    let me = app.shopper();
    app.post(&me.token, "/cart/add", &json!({"product_id": first["id"], "qty": 1}))
        .await;

    // Adding to a cart that already holds a product: one catalog call checks the new one and
    // prices the whole answer.
    let before = catalog_batches(&app).await;
    let cart = json(
        app.post(&me.token, "/cart/add", &json!({"product_id": second["id"], "qty": 2}))
            .await,
    )
    .await;
    assert_eq!(catalog_batches(&app).await - before, 1.0);
    assert_eq!(cart["priced"], true);
    assert_eq!(cart["total"], "9.00", "{cart}");
    assert_eq!(cart["items"].as_array().unwrap().len(), 2);

    // The order service's read: quantities only, no catalog call.
    let before = catalog_batches(&app).await;
    let seen = json(app.get(&app.service, &format!("/internal/carts/{}", me.id)).await).await;
    assert_eq!(catalog_batches(&app).await, before);
    assert_eq!(seen["priced"], false);
    assert_eq!(seen["units"], 3);
    let line = seen["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["product_id"] == second["id"])
        .unwrap_or_else(|| panic!("{seen}"));
    assert_eq!(line["qty"], 2);
    assert_eq!(line["unit_price"], Value::Null, "{seen}");
}

#[tokio::test]
async fn a_checkout_takes_the_cart_and_gives_back_what_it_did_not_order() {
    let app = spawn_app().await;
    let first = app.product("2.00", 10, true).await;
    let second = app.product("3.00", 10, true).await;
    let me = app.shopper();
    app.post(&me.token, "/cart/add", &json!({"product_id": first["id"], "qty": 2}))
        .await;
    let take = format!("/internal/carts/{}/take", me.id);
    let restore = format!("/internal/carts/{}/restore", me.id);

    let taken = json(app.post(&app.service, &take, &json!({"key": "k-1"})).await).await;
    assert_eq!(taken["items"][0]["qty"], 2, "{taken}");
    assert_eq!(taken["priced"], false);
    assert_eq!(
        json(app.get(&me.token, "/cart").await).await["items"],
        json!([]),
        "taken"
    );
    // A retry of the same checkout sees the same cart; another checkout sees the empty one.
    let again = json(app.post(&app.service, &take, &json!({"key": "k-1"})).await).await;
    assert_eq!(again["items"], taken["items"]);
    let other = json(app.post(&app.service, &take, &json!({"key": "k-2"})).await).await;
    assert_eq!(other["items"], json!([]));

    // The shopper adds meanwhile; the checkout places nothing and gives its lines back, once.
    app.post(&me.token, "/cart/add", &json!({"product_id": second["id"], "qty": 1}))
        .await;
    assert_eq!(
        app.post(&app.service, &restore, &json!({"key": "k-1"})).await.status(),
        204
    );
    assert_eq!(
        app.post(&app.service, &restore, &json!({"key": "k-1"})).await.status(),
        204
    );
    let cart = json(app.get(&me.token, "/cart").await).await;
    let qty = |id: &Value| {
        cart["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["product_id"] == *id)
            .map(|l| l["qty"].clone())
    };
    assert_eq!(qty(&first["id"]), Some(json!(2)), "{cart}");
    assert_eq!(qty(&second["id"]), Some(json!(1)), "{cart}");

    // What a clumsy or hostile caller sends.
    for bad in [
        json!({}),
        json!({"key": ""}),
        json!({"key": "x".repeat(129)}),
        json!({"key": "tab\there"}),
        json!({"key": "k", "extra": 1}),
        json!({"key": 7}),
    ] {
        for path in [&take, &restore] {
            problem(app.post(&app.service, path, &bad).await, 422).await;
        }
    }
    problem(
        app.post(&app.service, "/internal/carts/nobody/take", &json!({"key": "k"}))
            .await,
        400,
    )
    .await;
    assert_eq!(
        json(app.get(&me.token, "/cart").await).await,
        cart,
        "refused calls changed nothing"
    );
}
