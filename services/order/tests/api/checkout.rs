//! The checkout saga: the whole journey, idempotency, contention, cancellations, admin.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn the_whole_journey_across_auth_catalog_cart_and_order() {
    let app = spawn_app().await;
    let sweater = app.product("24990.00", 5).await;
    let socks = app.product("1500.50", 10).await;

    // A real account at auth.
    let r = app
        .http
        .post(app.auth.url("/auth/register"))
        .json(&json!({"email": "aigerim@shop.test", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    let user = expect(r, 201).await;
    let r = app
        .http
        .post(app.auth.url("/auth/login"))
        .json(&json!({"email": "aigerim@shop.test", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    let token = expect(r, 200).await["access_token"].as_str().unwrap().to_owned();
    let me = Shopper {
        id: user["id"].as_str().unwrap().parse().unwrap(),
        token,
    };

    app.add_to_cart(&me, sweater, 2).await;
    app.add_to_cart(&me, socks, 3).await;
    let order = expect(app.checkout(&me.token, "journey-1").await, 201).await;
    assert_eq!(order["status"], "placed", "{order}");
    assert_eq!(order["total"], "54481.50");
    assert_eq!(order["currency"], "KZT");
    assert_eq!(order["user_email"], "aigerim@shop.test");
    assert_eq!(order["items"].as_array().unwrap().len(), 2);
    let line = order["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["qty"] == 3)
        .unwrap();
    assert_eq!(line["unit_price"], "1500.50");
    assert_eq!(line["subtotal"], "4501.50");
    assert_eq!(app.stock(sweater).await, 3);
    assert_eq!(app.stock(socks).await, 7);
    assert_eq!(app.cart(&me).await["items"], json!([]), "the cart is cleared");

    let id = order["id"].as_str().unwrap();
    let list = expect(app.get(&me.token, "/orders").await, 200).await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["id"], id);
    let one = expect(app.get(&me.token, &format!("/orders/{id}")).await, 200).await;
    assert_eq!(one, order);

    // Cancel twice: the stock comes back once.
    let canceled = expect(app.patch(&me.token, &format!("/orders/{id}/cancel")).await, 200).await;
    assert_eq!(canceled["status"], "canceled");
    assert!(canceled["released_at"].is_string(), "{canceled}");
    assert_eq!(app.stock(sweater).await, 5);
    assert_eq!(app.stock(socks).await, 10);
    let again = expect(app.patch(&me.token, &format!("/orders/{id}/cancel")).await, 200).await;
    assert_eq!(again, canceled, "canceling again changes nothing");
    assert_eq!(app.stock(sweater).await, 5);
    assert_eq!(app.stock(socks).await, 10);

    // The metrics and the API description.
    let metrics = app
        .http
        .get(app.order.admin_url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains(r#"orders_total{status="placed"} 1"#), "{metrics}");
    assert!(metrics.contains(r#"orders_total{status="canceled"} 1"#), "{metrics}");
    assert!(metrics.contains("order_checkout_duration_seconds_count 1"), "{metrics}");
    assert!(
        metrics.contains(r#"order_revenue_total{currency="KZT"} 54481.5"#),
        "the placed order's total: {metrics}"
    );
    let doc = expect(app.http.get(app.order.url("/openapi.json")).send().await.unwrap(), 200).await;
    assert!(doc["paths"]["/orders/checkout"]["post"].is_object());
}

#[tokio::test]
async fn a_retry_with_the_same_key_returns_the_same_order() {
    let app = spawn_app().await;
    let p = app.product("100.00", 10).await;
    let me = app.shopper();
    app.add_to_cart(&me, p, 2).await;
    let first = expect(app.checkout(&me.token, "k-1").await, 201).await;
    assert_eq!(first["status"], "placed");
    // The cart is now empty: the retry is still recognised.
    let again = expect(app.checkout(&me.token, "k-1").await, 200).await;
    assert_eq!(again, first);
    assert_eq!(app.stock(p).await, 8, "nothing reserved twice");
    let list = expect(app.get(&me.token, "/orders").await, 200).await;
    assert_eq!(list["total"], 1);

    // The same key with another cart.
    app.add_to_cart(&me, p, 1).await;
    let body = problem(app.checkout(&me.token, "k-1").await, 409).await;
    assert_eq!(body["type"], "https://shopkeeper.dev/problems/idempotency-key-reused");
    assert_eq!(app.stock(p).await, 8);

    // Another user may use the same key.
    let other = app.shopper();
    app.add_to_cart(&other, p, 1).await;
    assert_eq!(
        expect(app.checkout(&other.token, "k-1").await, 201).await["status"],
        "placed"
    );
}

#[tokio::test]
async fn concurrent_retries_with_one_key_make_one_order() {
    let app = spawn_app().await;
    let p = app.product("5.00", 100).await;
    let me = app.shopper();
    app.add_to_cart(&me, p, 3).await;
    let results = futures::future::join_all((0..8).map(|_| app.checkout(&me.token, "same"))).await;
    let mut ids = Vec::new();
    for r in results {
        let status = r.status().as_u16();
        assert!(status == 201 || status == 200, "{status}");
        ids.push(json(r).await["id"].clone());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(app.stock(p).await, 97);
}

#[tokio::test]
async fn bad_checkouts() {
    let app = spawn_app().await;
    let me = app.shopper();
    // No key, a bad key, an empty cart.
    let r = app
        .http
        .post(app.order.url("/orders/checkout"))
        .bearer_auth(&me.token)
        .send()
        .await
        .unwrap();
    problem(r, 400).await;
    problem(app.checkout(&me.token, &"k".repeat(129)).await, 422).await;
    let body = problem(app.checkout(&me.token, "empty").await, 422).await;
    assert!(body["detail"].as_str().unwrap().contains("empty"), "{body}");

    // An item the catalog no longer sells.
    let p = app.product("10.00", 5).await;
    app.add_to_cart(&me, p, 1).await;
    let r = app
        .http
        .delete(app.catalog.url(&format!("/products/{p}")))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let body = problem(app.checkout(&me.token, "gone").await, 422).await;
    assert_eq!(body["errors"][0]["pointer"], "/items/0", "{body}");
    assert_eq!(expect(app.get(&me.token, "/orders").await, 200).await["total"], 0);
}

#[tokio::test]
async fn not_enough_stock_rejects_and_names_the_item() {
    let app = spawn_app().await;
    let p = app.product("10.00", 1).await;
    let me = app.shopper();
    app.add_to_cart(&me, p, 2).await;
    let order = expect(app.checkout(&me.token, "r-1").await, 201).await;
    assert_eq!(order["status"], "rejected");
    let reason = order["reason"].as_str().unwrap();
    assert!(
        reason.contains("O-") && reason.contains("requested 2, available 1"),
        "{reason}"
    );
    assert_eq!(app.stock(p).await, 1);
    assert_eq!(app.cart(&me).await["items"][0]["qty"], 2, "the cart stays");
    // Retrying the rejected checkout with the same key returns it.
    assert_eq!(expect(app.checkout(&me.token, "r-1").await, 200).await, order);
    // A rejected order cannot be canceled.
    let id = order["id"].as_str().unwrap();
    problem(app.patch(&me.token, &format!("/orders/{id}/cancel")).await, 409).await;
}

/// The issue's numbers: 200 users check out one product with 50 units, all at once.
#[tokio::test]
async fn concurrent_checkouts_never_oversell() {
    const USERS: usize = 200;
    const STOCK: i64 = 50;
    let app = spawn_app().await;
    let p = app.product("99.99", STOCK).await;
    let shoppers: Vec<Shopper> = (0..USERS).map(|_| app.shopper()).collect();
    for s in &shoppers {
        app.add_to_cart(s, p, 1).await;
    }
    let app = &app;
    let results = futures::future::join_all(shoppers.iter().map(|s| async move {
        let r = app.checkout(&s.token, "go").await;
        assert_eq!(r.status(), 201);
        json(r).await
    }))
    .await;
    let placed = results.iter().filter(|o| o["status"] == "placed").count();
    let rejected = results.iter().filter(|o| o["status"] == "rejected").count();
    assert_eq!(placed, STOCK as usize);
    assert_eq!(rejected, USERS - STOCK as usize);
    assert_eq!(app.stock(p).await, 0);
    for (s, o) in shoppers.iter().zip(&results) {
        let cart = app.cart(s).await;
        if o["status"] == "rejected" {
            assert_eq!(cart["items"][0]["qty"], 1, "a rejected user's cart is intact");
        } else {
            assert_eq!(cart["items"], json!([]));
        }
    }
}

#[tokio::test]
async fn admin_lists_cancels_and_counts() {
    let app = spawn_app().await;
    let a = app.product("10.00", 10).await;
    let b = app.product("3.00", 10).await;
    let scarce = app.product("1.00", 2).await;
    let alice = app.shopper();
    let bob = app.shopper();
    app.add_to_cart(&alice, a, 2).await;
    app.add_to_cart(&alice, b, 1).await;
    let oa = expect(app.checkout(&alice.token, "a").await, 201).await;
    app.add_to_cart(&bob, b, 5).await;
    let ob = expect(app.checkout(&bob.token, "b").await, 201).await;
    app.add_to_cart(&bob, a, 50).await;
    let rejected = expect(app.checkout(&bob.token, "c").await, 201).await;
    assert_eq!(rejected["status"], "rejected");

    let all = expect(app.get(&app.admin, "/admin/orders").await, 200).await;
    assert_eq!(all["total"], 3);
    assert_eq!(all["items"][0]["id"], rejected["id"], "newest first");
    let bobs = expect(
        app.get(&app.admin, &format!("/admin/orders?user_id={}", bob.id)).await,
        200,
    )
    .await;
    assert_eq!(bobs["total"], 2);
    let placed = expect(app.get(&app.admin, "/admin/orders?status=placed&per_page=1").await, 200).await;
    assert_eq!(placed["total"], 2);
    assert_eq!(placed["items"].as_array().unwrap().len(), 1);
    let today = chrono::Utc::now().date_naive();
    let q = format!("/admin/orders?from={today}&to={today}");
    assert_eq!(expect(app.get(&app.admin, &q).await, 200).await["total"], 3);
    let q = format!("/admin/orders?to={}", today - chrono::Duration::days(1));
    assert_eq!(expect(app.get(&app.admin, &q).await, 200).await["total"], 0);
    problem(app.get(&app.admin, "/admin/orders?status=lost").await, 422).await;
    problem(app.get(&app.admin, "/admin/orders?per_page=101").await, 422).await;

    let stats = expect(app.get(&app.admin, "/admin/stats").await, 200).await;
    let low = stats["low_stock"].as_array().unwrap();
    assert!(low.iter().any(|p| p["id"] == json!(scarce.to_string())), "{low:?}");
    assert!(
        low.iter().all(|p| p["stock"].as_i64().unwrap() < 5),
        "only products below 5 units: {low:?}"
    );
    let none = expect(app.get(&app.admin, "/admin/stats?low_stock_threshold=0").await, 200).await;
    assert_eq!(none["low_stock"], json!([]));
    assert_eq!(stats["orders"], 2);
    assert_eq!(stats["revenue"], "38.00");
    assert_eq!(stats["average_order_value"], "19.00");
    assert_eq!(stats["top_by_quantity"][0]["product_id"], b.to_string());
    assert_eq!(stats["top_by_quantity"][0]["qty"], 6);
    assert_eq!(stats["top_by_revenue"][0]["product_id"], a.to_string());
    assert_eq!(stats["top_by_revenue"][0]["revenue"], "20.00");
    assert_eq!(stats["top_by_revenue"][1]["revenue"], "18.00");
    let daily = stats["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 7);
    assert_eq!(daily[6]["date"], today.to_string());
    assert_eq!(daily[6]["orders"], 2);
    assert_eq!(daily[0]["orders"], 0);
    assert_eq!(daily[0]["revenue"], "0");

    // The admin cancels Alice's order: her stock comes back once.
    let id = oa["id"].as_str().unwrap();
    let c = expect(app.patch(&app.admin, &format!("/admin/orders/{id}/cancel")).await, 200).await;
    assert_eq!(c["status"], "canceled");
    assert_eq!(app.stock(a).await, 10);
    assert_eq!(app.stock(b).await, 5);
    expect(app.patch(&alice.token, &format!("/orders/{id}/cancel")).await, 200).await;
    assert_eq!(app.stock(a).await, 10);
    let stats = expect(app.get(&app.admin, "/admin/stats").await, 200).await;
    assert_eq!(stats["orders"], 1);
    assert_eq!(ob["status"], "placed");
}

#[tokio::test]
async fn an_add_and_a_checkout_make_four_internal_calls() {
    let app = spawn_app().await;
    let p = app.product("4.00", 10).await;
    let me = app.shopper();
    // Warm the service token, which order fetches from auth once and keeps.
    app.add_to_cart(&me, p, 1).await;
    expect(app.checkout(&me.token, "warm").await, 201).await;

    let calls = || async {
        (
            app.catalog
                .sample_sum("http_requests_total", &["route=\"/products/batch\""])
                .await,
            app.catalog
                .sample_sum("http_requests_total", &["route=\"/internal/"])
                .await,
            app.cart
                .sample_sum("http_requests_total", &["route=\"/internal/"])
                .await,
        )
    };
    let before = calls().await;
    app.add_to_cart(&me, p, 2).await;
    let order = expect(app.checkout(&me.token, "counted").await, 201).await;
    assert_eq!(order["status"], "placed");
    let after = calls().await;
    // The add: one catalog batch (cart → catalog). The checkout: take the cart (order → cart),
    // price and reserve (order → catalog); no call clears the cart.
    assert_eq!(after.0 - before.0, 1.0, "cart's add asks the catalog once");
    assert_eq!(after.2 - before.2, 1.0, "order takes the cart, and nothing more");
    assert_eq!(after.1 - before.1, 2.0, "order prices and reserves");
    assert_eq!(app.cart(&me).await["items"], json!([]), "the placed cart is gone");
}
