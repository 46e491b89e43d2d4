//! Fault drills: the catalog unreachable during checkout, and a crash between reserving and
//! placing, both resolved by the sweeper without leaking stock.

use std::time::Duration;

use crate::support::*;

/// A product with 5 in stock, and a shopper with `qty` of it in the cart.
async fn cart_with(app: &TestApp, qty: i64) -> (uuid::Uuid, Shopper) {
    let p = app.product("10.00", 5).await;
    let me = app.shopper();
    app.add_to_cart(&me, p, qty).await;
    (p, me)
}

/// The sweeper's count of `action` so far.
async fn swept(app: &TestApp, action: &str) -> f64 {
    app.order
        .sample_sum("order_sweeper_actions_total", &[&format!(r#"action="{action}""#)])
        .await
}

fn sweeping() -> Knobs {
    Knobs {
        sweep_interval: Duration::from_millis(300),
        sweep_grace: Duration::from_secs(1),
        ..Knobs::default()
    }
}

#[tokio::test]
async fn catalog_unreachable_while_reserving_ends_rejected_without_stock_held() {
    let app = spawn_app_with(sweeping()).await;
    let (p, me) = cart_with(&app, 2).await;
    app.proxy.set(REFUSE);
    let order = expect(app.checkout(&me.token, "down").await, 202).await;
    assert_eq!(order["status"], "pending");
    app.proxy.set(PASS);
    let id = order["id"].as_str().unwrap();
    let done = app.wait_for(id, |o| o["status"] != "pending").await;
    assert_eq!(done["status"], "rejected");
    assert_eq!(done["reason"], "checkout interrupted");
    assert_eq!(app.stock(p).await, 5, "no stock leaked");
    assert_eq!(app.cart(&me).await["items"][0]["qty"], 2, "the cart stays");

    // The reservation the order gave up on arrives after all (a request delivered late): the
    // sweeper barred the order at the catalog, so it takes no stock and answers `released`.
    let late = app
        .http
        .post(app.catalog.url("/internal/reservations"))
        .bearer_auth(&app.service)
        .json(&serde_json::json!({"order_id": id, "items": [{"product_id": p, "qty": 2}]}))
        .send()
        .await
        .unwrap();
    let late = expect(late, 200).await;
    assert_eq!(late["status"], "released", "{late}");
    assert_eq!(late["items"], serde_json::json!([]), "{late}");
    assert_eq!(app.stock(p).await, 5, "a late reservation takes no stock");
    let status = app
        .http
        .get(app.catalog.url(&format!("/internal/reservations/{id}")))
        .bearer_auth(&app.service)
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), 404, "the order never had a reservation");
}

#[tokio::test]
async fn a_lost_reservation_reply_is_placed_by_the_sweeper() {
    let app = spawn_app_with(sweeping()).await;
    let (p, me) = cart_with(&app, 2).await;
    app.proxy.set(LOSE_REPLY);
    let order = expect(app.checkout(&me.token, "lost").await, 202).await;
    assert_eq!(order["status"], "pending");
    assert_eq!(app.stock(p).await, 3, "the catalog did reserve");
    app.proxy.set(PASS);
    let id = order["id"].as_str().unwrap();
    let done = app.wait_for(id, |o| o["status"] != "pending").await;
    assert_eq!(done["status"], "placed");
    assert_eq!(app.stock(p).await, 3);
    // Canceling gives the stock back once.
    expect(app.patch(&me.token, &format!("/orders/{id}/cancel")).await, 200).await;
    expect(app.patch(&me.token, &format!("/orders/{id}/cancel")).await, 200).await;
    assert_eq!(app.stock(p).await, 5);
}

#[tokio::test]
async fn catalog_unreachable_while_releasing_is_retried_by_the_sweeper() {
    // The first replica must not sweep: its sweeper outlives the stopped server in this test
    // process, and its pooled connection through the proxy would release the stock early.
    let app = spawn_app_with(Knobs::default()).await;
    let (p, me) = cart_with(&app, 1).await;
    let order = expect(app.checkout(&me.token, "x").await, 201).await;
    let id = order["id"].as_str().unwrap();
    // The catalog goes away entirely: point the order service at a dead port.
    app.proxy.set(REFUSE);
    let mut app = app;
    let dead = shop_order::build(order_config(
        &app.keys,
        &app.order_db,
        &app.auth.url(""),
        "http://127.0.0.1:9",
        &app.cart.url(""),
        Knobs::default(),
    ))
    .await
    .unwrap();
    let first = std::mem::replace(&mut app.order, shop_testkit::spawn(dead));
    first.stop().await.unwrap();
    let c = expect(app.patch(&me.token, &format!("/orders/{id}/cancel")).await, 200).await;
    assert_eq!(c["status"], "canceled");
    assert!(c["released_at"].is_null(), "{c}");
    assert_eq!(app.stock(p).await, 4);
    // A healthy replica's sweeper finishes the release.
    app.proxy.set(PASS);
    let healthy = shop_order::build(order_config(
        &app.keys,
        &app.order_db,
        &app.auth.url(""),
        &app.proxy.url,
        &app.cart.url(""),
        sweeping(),
    ))
    .await
    .unwrap();
    let _healthy = shop_testkit::spawn(healthy);
    app.wait_for(id, |o| o["released_at"].is_string()).await;
    assert_eq!(app.stock(p).await, 5);
}

/// `ORDER_FAULT_AFTER_RESERVE` stops the saga after the reservation, as a crash would; a fresh
/// process on the same database (the "restart") places the order through its sweeper.
#[tokio::test]
async fn a_crash_between_reserve_and_place_is_resolved_after_restart() {
    let app = spawn_app_with(Knobs {
        fault_after_reserve: true,
        ..Knobs::default()
    })
    .await;
    let (p, me) = cart_with(&app, 2).await;
    let order = expect(app.checkout(&me.token, "crash").await, 202).await;
    assert_eq!(order["status"], "pending");
    assert_eq!(app.stock(p).await, 3);
    let id = order["id"].as_str().unwrap().to_owned();
    let mut app = app;
    let restarted = shop_order::build(order_config(
        &app.keys,
        &app.order_db,
        &app.auth.url(""),
        &app.proxy.url,
        &app.cart.url(""),
        sweeping(),
    ))
    .await
    .unwrap();
    let crashed = std::mem::replace(&mut app.order, shop_testkit::spawn(restarted));
    crashed.stop().await.unwrap();
    let done = app.wait_for(&id, |o| o["status"] != "pending").await;
    assert_eq!(done["status"], "placed");
    assert_eq!(app.stock(p).await, 3, "reserved once, kept for the placed order");
    assert_eq!(
        app.cart(&me).await["items"],
        serde_json::json!([]),
        "the sweeper clears the cart"
    );
    // The retry with the same key now sees the placed order.
    let again = expect(app.checkout(&me.token, "crash").await, 200).await;
    assert_eq!(again["status"], "placed");
}

/// The cart service (or its Redis) is down: checkout says so with a 503 problem and writes
/// nothing, and the retry with the same key succeeds once it is back.
#[tokio::test]
async fn cart_unreachable_is_a_clear_503_and_writes_nothing() {
    let app = spawn_app().await;
    let (p, me) = cart_with(&app, 1).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let blind = shop_testkit::spawn(
        shop_order::build(order_config(
            &app.keys,
            &app.order_db,
            &app.auth.url(""),
            &app.proxy.url,
            &format!("http://127.0.0.1:{closed}"),
            Knobs::default(),
        ))
        .await
        .unwrap(),
    );
    let r = app
        .http
        .post(blind.url("/orders/checkout"))
        .bearer_auth(&me.token)
        .header("Idempotency-Key", "cart-down")
        .send()
        .await
        .unwrap();
    problem(r, 503).await;
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&app.order_db.pool)
        .await
        .unwrap();
    assert_eq!(orders, 0, "nothing written");
    assert_eq!(app.stock(p).await, 5, "nothing reserved");
    let placed = expect(app.checkout(&me.token, "cart-down").await, 201).await;
    assert_eq!(placed["status"], "placed");
}

/// The catalog's view of an order's reservation.
async fn reservation(app: &TestApp, order: &str) -> serde_json::Value {
    let r = app
        .http
        .get(app.catalog.url(&format!("/internal/reservations/{order}")))
        .bearer_auth(&app.service)
        .send()
        .await
        .unwrap();
    expect(r, 200).await
}

/// Polls the reservation of `order` until `done` holds, for at most 10 s.
async fn reservation_until(app: &TestApp, order: &str, done: impl Fn(&serde_json::Value) -> bool) {
    for _ in 0..100 {
        if done(&reservation(app, order).await) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the reservation of {order} never reached the expected state");
}

#[tokio::test]
async fn the_sweeper_confirms_placed_orders_so_their_stock_never_expires() {
    let ttl = Duration::from_secs(2);
    let app = spawn_app_with(Knobs {
        reservation_ttl: ttl,
        ..sweeping()
    })
    .await;
    let (p, me) = cart_with(&app, 2).await;
    let order = expect(app.checkout(&me.token, "kept").await, 201).await;
    let id = order["id"].as_str().unwrap();
    reservation_until(&app, id, |r| r["confirmed_at"].is_string()).await;
    tokio::time::sleep(ttl * 2).await;
    assert_eq!(reservation(&app, id).await["status"], "reserved");
    let now = app.wait_for(id, |_| true).await;
    assert_eq!(now["status"], "placed");
    assert_eq!(app.stock(p).await, 3);
    let confirmed = swept(&app, "confirmed").await;
    assert!(
        (confirmed - 1.0).abs() < f64::EPSILON,
        "confirmed once, counted {confirmed}"
    );
}

#[tokio::test]
async fn a_placed_order_whose_stock_hold_expired_is_canceled_without_restocking_twice() {
    let ttl = Duration::from_secs(1);
    let app = spawn_app_with(Knobs {
        reservation_ttl: ttl,
        ..sweeping()
    })
    .await;
    let (p, me) = cart_with(&app, 2).await;
    // The order service cannot reach the catalog's confirmation for longer than the TTL.
    app.proxy.set(REFUSE_CONFIRM);
    let order = expect(app.checkout(&me.token, "lapsed").await, 201).await;
    assert_eq!(order["status"], "placed");
    let id = order["id"].as_str().unwrap();
    // The catalog gives the stock back.
    reservation_until(&app, id, |r| r["status"] == "released").await;
    assert_eq!(app.stock(p).await, 5, "the catalog took its stock back");
    assert_eq!(
        app.wait_for(id, |_| true).await["status"],
        "placed",
        "nobody told the order yet"
    );

    app.proxy.set(PASS);
    let done = app.wait_for(id, |o| o["status"] != "placed").await;
    assert_eq!(done["status"], "canceled");
    assert_eq!(done["reason"], "the stock hold expired before the order was confirmed");
    // Nothing is given back a second time, now or by the sweeper's release retries.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(app.stock(p).await, 5);
    let lapsed = swept(&app, "lapsed").await;
    assert!((lapsed - 1.0).abs() < f64::EPSILON, "counted {lapsed}");
}
